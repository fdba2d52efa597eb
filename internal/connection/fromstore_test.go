package connection

import (
	"context"
	"errors"
	"testing"

	"github.com/credflow/credflow/internal/access"
	"github.com/credflow/credflow/internal/envvar"
	"github.com/credflow/credflow/internal/secretstore"
)

// accountStore answers every reference with one account: a password and
// its properties.
type accountStore struct {
	props map[string]string
	gets  int
}

func (s *accountStore) ParseRef(ref string) (secretstore.Ref, error) {
	return secretstore.Ref{Name: ref}, nil
}
func (s *accountStore) Get(context.Context, secretstore.Ref) (secretstore.Secret, error) {
	s.gets++
	return secretstore.Secret{Value: secretstore.NewValue("the-password"), Meta: secretstore.Meta{Enabled: true, Props: s.props}}, nil
}

type oneReader struct{ s secretstore.Store }

func (r oneReader) Reader(string) (secretstore.Store, secretstore.Info, error) {
	return r.s, secretstore.Info{}, nil
}

func TestResolveUsernameFromTheStore(t *testing.T) {
	use := grant{role: access.RoleUser}
	for _, tc := range []struct {
		name     string
		props    map[string]string
		field    string
		wantUser string
		wantErr  error
	}{
		{"the account's user name", map[string]string{"UserName": "svc_robot"}, "UserName", "svc_robot", nil},
		{"names compare without case", map[string]string{"UserName": "svc_robot"}, "username", "svc_robot", nil},
		{"the property is gone", map[string]string{"Address": "db1"}, "UserName", "", secretstore.ErrNotFound},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, repo, _, _ := newResolveFixture(map[string]grant{"C": {role: access.RoleOwner}, "VU": use, "VP": use})
			store := &accountStore{props: tc.props}
			s.readers = oneReader{store}
			repo.t.Username = envvar.Variable{ID: "VU", SchemaName: "cf_User", Type: envvar.TypeText,
				From: &envvar.StoreField{Store: "vault", Ref: "pw", Field: tc.field}}
			got, err := s.Resolve(context.Background(), runner, "conn")
			if tc.wantErr != nil {
				var se *StoreError
				if !errors.Is(err, tc.wantErr) || !errors.As(err, &se) || se.Store != "vault" {
					t.Fatalf("resolve: %v, want a store error matching %v", err, tc.wantErr)
				}
				return
			}
			if err != nil || got.Username.Reveal() != tc.wantUser || got.Password.Reveal() != "the-password" {
				t.Fatalf("resolve = %+v, %v", got, err)
			}
			if store.gets != 2 {
				t.Errorf("%d reads, want one for the user name and one for the password (a cache makes them one)", store.gets)
			}
		})
	}
}
