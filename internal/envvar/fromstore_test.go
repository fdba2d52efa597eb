package envvar_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/credflow/credflow/internal/access"
	"github.com/credflow/credflow/internal/audit"
	"github.com/credflow/credflow/internal/envvar"
	"github.com/credflow/credflow/internal/secretstore"
	"github.com/credflow/credflow/internal/validation"
)

// memRepo keeps created variables in memory, as a database would after
// storing them at microsecond precision, and counts reads; the methods the
// rules under test do not use are left to the embedded nil interface.
type memRepo struct {
	envvar.Repository
	vars  map[string]envvar.Variable
	owner string // the owner's name, as the repository fills it on reads
	reads int
}

func (r *memRepo) Create(_ context.Context, v envvar.Variable, _ access.Share, _ audit.Entry) error {
	for _, have := range r.vars {
		if strings.EqualFold(have.SchemaName, v.SchemaName) {
			return fmt.Errorf("%w: %s", envvar.ErrNameTaken, v.SchemaName)
		}
	}
	v.CreatedAt, v.UpdatedAt = v.CreatedAt.Truncate(time.Microsecond), v.UpdatedAt.Truncate(time.Microsecond)
	r.vars[v.ID] = v
	return nil
}

func (r *memRepo) Get(_ context.Context, idOrName string) (envvar.Variable, error) {
	r.reads++
	for _, v := range r.vars {
		if v.ID == idOrName || strings.EqualFold(v.SchemaName, idOrName) {
			v.Owner = r.owner
			return v, nil
		}
	}
	return envvar.Variable{}, envvar.ErrNotFound
}

func (r *memRepo) SchemaNamesWithPrefix(_ context.Context, prefix string) ([]string, error) {
	var out []string
	for _, v := range r.vars {
		if strings.HasPrefix(strings.ToLower(v.SchemaName), strings.ToLower(prefix)) {
			out = append(out, v.SchemaName)
		}
	}
	return out, nil
}

// propStore is a store whose secrets carry properties, as CyberArk
// accounts do.
type propStore struct{ props map[string]map[string]string }

func (s propStore) ParseRef(ref string) (secretstore.Ref, error) {
	return secretstore.Ref{Name: ref}, nil
}
func (s propStore) Get(ctx context.Context, ref secretstore.Ref) (secretstore.Secret, error) {
	m, err := s.Stat(ctx, ref)
	return secretstore.Secret{Value: secretstore.NewValue("pw"), Meta: m}, err
}
func (s propStore) Stat(_ context.Context, ref secretstore.Ref) (secretstore.Meta, error) {
	p, ok := s.props[ref.Name]
	if !ok {
		return secretstore.Meta{}, secretstore.ErrNotFound
	}
	return secretstore.Meta{Enabled: true, Props: p}, nil
}

// grants refuses the store grant for secrets named in denied.
type grants struct {
	envvar.Access
	denied map[string]bool
}

// Require lets everyone be the owner: the rules under test are not about
// roles.
func (g grants) Require(context.Context, access.Principal, access.Object, string, func(access.ObjectRole) bool) (access.ObjectRole, error) {
	return access.RoleOwner, nil
}

func (g grants) CheckGrant(_ context.Context, _ access.Principal, _, _, secret string) error {
	if g.denied[secret] {
		return access.ErrStoreNotGranted
	}
	return nil
}

func TestTextFromStore(t *testing.T) {
	stores := secretstore.NewRegistry()
	stores.Add(secretstore.Info{ID: "s1", Name: "ccp", Kind: "cyberark-ccp"}, propStore{props: map[string]map[string]string{
		"robot": {"UserName": "svc_robot", "Address": "db1"}, "granted-not": {"UserName": "x"}, "bare": {}}})
	repo := &memRepo{vars: map[string]envvar.Variable{}}
	svc := envvar.NewService(repo, stores, grants{denied: map[string]bool{"granted-not": true}}, "cf")
	p := access.Principal{ID: "u1", Name: "mona"}
	value := "v"
	from := func(store, ref, field string) *envvar.FieldInput {
		return &envvar.FieldInput{Store: store, Ref: ref, Field: field}
	}
	for _, tc := range []struct {
		name      string
		in        envvar.CreateInput
		wantField string // a validation error on this field
		wantErr   error  // or an error matching this
		says      string
	}{
		{"follows UserName", envvar.CreateInput{Type: envvar.TypeText, FromStore: from("ccp", "robot", "username")}, "", nil, ""},
		{"no such property", envvar.CreateInput{Type: envvar.TypeText, FromStore: from("ccp", "robot", "Database")}, "fromStore.field", nil, "Address, UserName"},
		{"the password", envvar.CreateInput{Type: envvar.TypeText, FromStore: from("ccp", "robot", "Content")}, "fromStore.field", nil, "password"},
		{"bad field name", envvar.CreateInput{Type: envvar.TypeText, FromStore: from("ccp", "robot", "User Name")}, "fromStore.field", nil, ""},
		{"no ref", envvar.CreateInput{Type: envvar.TypeText, FromStore: from("ccp", "", "UserName")}, "fromStore.ref", nil, ""},
		{"and a value", envvar.CreateInput{Type: envvar.TypeText, Value: &value, FromStore: from("ccp", "robot", "UserName")}, "value", nil, ""},
		{"on a secret variable", envvar.CreateInput{Type: envvar.TypeSecret, Secret: &envvar.SecretInput{Store: "ccp", Ref: "robot"}, FromStore: from("ccp", "robot", "UserName")}, "fromStore", nil, ""},
		{"a secret without properties", envvar.CreateInput{Type: envvar.TypeText, FromStore: from("ccp", "bare", "UserName")}, "fromStore.store", nil, ""},
		{"no grant", envvar.CreateInput{Type: envvar.TypeText, FromStore: from("ccp", "granted-not", "UserName")}, "", access.ErrStoreNotGranted, ""},
		{"missing secret", envvar.CreateInput{Type: envvar.TypeText, FromStore: from("ccp", "gone", "UserName")}, "", secretstore.ErrNotFound, ""},
		{"no such store", envvar.CreateInput{Type: envvar.TypeText, FromStore: from("nowhere", "robot", "UserName")}, "", secretstore.ErrStoreNotFound, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tc.in.DisplayName = "Robot"
			v, err := svc.Create(t.Context(), p, tc.in)
			switch {
			case tc.wantField != "":
				ve, ok := validation.As(err)
				if !ok || len(ve.Fields) == 0 || ve.Fields[0].Field != tc.wantField || !strings.Contains(ve.Fields[0].Message, tc.says) {
					t.Fatalf("Create = %v, want a rule on %s saying %q", err, tc.wantField, tc.says)
				}
			case tc.wantErr != nil:
				if !errors.Is(err, tc.wantErr) {
					t.Fatalf("Create = %v, want %v", err, tc.wantErr)
				}
			default:
				if err != nil {
					t.Fatal(err)
				}
				if v.From == nil || v.From.Field != "UserName" || v.From.StoreID != "s1" || v.Value != "" {
					t.Fatalf("created %+v (from %+v)", v, v.From)
				}
				newValue := "someone"
				_, err := svc.Update(t.Context(), p, v.ID, envvar.UpdateInput{Value: &newValue})
				if ve, ok := validation.As(err); !ok || ve.Fields[0].Field != "value" {
					t.Fatalf("Update of the value = %v, want a rule on value", err)
				}
			}
		})
	}
}
