package envvar_test

import (
	"errors"
	"testing"
	"time"

	"github.com/credflow/credflow/internal/access"
	"github.com/credflow/credflow/internal/envvar"
	"github.com/credflow/credflow/internal/secretstore"
	"github.com/credflow/credflow/internal/validation"
)

// TestPlan: an import's variables go through the rules of a save, and only
// the store's read may be deferred.
func TestPlan(t *testing.T) {
	stores := secretstore.NewRegistry()
	stores.Add(secretstore.Info{ID: "s1", Name: "ccp", Kind: "cyberark-ccp"}, propStore{props: map[string]map[string]string{
		"robot": {"UserName": "svc"}, "granted-not": {"UserName": "x"}}})
	svc := envvar.NewService(&memRepo{vars: map[string]envvar.Variable{}}, stores, grants{denied: map[string]bool{"granted-not": true}}, "cf")
	p := access.Principal{ID: "u1", Name: "mona"}
	secret := func(ref string) envvar.CreateInput {
		return envvar.CreateInput{SchemaName: "cf_Pass", DisplayName: "Pass", Type: envvar.TypeSecret, Secret: &envvar.SecretInput{Store: "ccp", Ref: ref}}
	}
	value := "v"
	existing := envvar.Variable{ID: "v1", SchemaName: "cf_Pass", DisplayName: "Pass", Type: envvar.TypeSecret,
		Secret: &envvar.SecretRef{StoreID: "s1", Store: "ccp", Ref: "robot", Enabled: true, CheckedAt: time.Now()}}
	for _, tc := range []struct {
		name     string
		in       envvar.CreateInput
		existing *envvar.Variable
		deferred bool
		wantErr  error // matched with errors.Is; nil: no error
		wantRule string
		created  bool
		changed  bool
		status   envvar.Status
	}{
		{name: "a new secret variable", in: secret("robot"), created: true, changed: true, status: envvar.StatusOK},
		{name: "a missing secret", in: secret("gone"), wantErr: secretstore.ErrNotFound},
		{name: "a missing secret, deferred", in: secret("gone"), deferred: true, created: true, changed: true, status: envvar.StatusPendingValidation},
		{name: "no grant, deferred", in: secret("granted-not"), deferred: true, wantErr: access.ErrStoreNotGranted},
		{name: "no such store, deferred", in: envvar.CreateInput{SchemaName: "cf_Pass", DisplayName: "P", Type: envvar.TypeSecret,
			Secret: &envvar.SecretInput{Store: "nowhere", Ref: "robot"}}, deferred: true, wantErr: secretstore.ErrStoreNotFound},
		{name: "a secret with a value", in: envvar.CreateInput{SchemaName: "cf_Pass", DisplayName: "P", Type: envvar.TypeSecret, Value: &value,
			Secret: &envvar.SecretInput{Store: "ccp", Ref: "robot"}}, wantRule: "value"},
		{name: "no schema name", in: envvar.CreateInput{DisplayName: "P", Type: envvar.TypeText, Value: &value}, wantRule: "schemaName"},
		{name: "an existing variable as it is", in: secret("robot"), existing: &existing, status: envvar.StatusOK},
		{name: "an existing variable, another display name", in: envvar.CreateInput{SchemaName: "cf_Pass", DisplayName: "New", Type: envvar.TypeSecret,
			Secret: &envvar.SecretInput{Store: "ccp", Ref: "robot"}}, existing: &existing, changed: true, status: envvar.StatusOK},
		{name: "an existing variable of another type", in: envvar.CreateInput{SchemaName: "cf_Pass", DisplayName: "P", Type: envvar.TypeText, Value: &value},
			existing: &existing, wantRule: "type"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			pl, err := svc.Plan(t.Context(), p, tc.in, tc.existing, envvar.PlanOptions{Defer: tc.deferred})
			switch {
			case tc.wantRule != "":
				var ie *validation.ImmutableError
				ve, ok := validation.As(err)
				if !(ok && ve.Fields[0].Field == tc.wantRule) && !(errors.As(err, &ie) && ie.Field == tc.wantRule) {
					t.Fatalf("Plan = %v, want a rule on %s", err, tc.wantRule)
				}
				return
			case tc.wantErr != nil:
				if !errors.Is(err, tc.wantErr) {
					t.Fatalf("Plan = %v, want %v", err, tc.wantErr)
				}
				return
			case err != nil:
				t.Fatal(err)
			}
			if pl.Created != tc.created || pl.Changed != tc.changed {
				t.Errorf("created %v changed %v, want %v %v", pl.Created, pl.Changed, tc.created, tc.changed)
			}
			if st := pl.Variable.Status(pl.Variable.UpdatedAt); st != tc.status {
				t.Errorf("status %q, want %q", st, tc.status)
			}
			if pl.Created && (pl.Owner.Role != access.RoleOwner || pl.Variable.OwnerID != p.ID || pl.Entry.Action != "variable.create") {
				t.Errorf("a new variable is not the importer's: %+v", pl)
			}
		})
	}
}
