package access_test

import (
	"context"
	"errors"
	"slices"
	"testing"

	"github.com/credflow/credflow/internal/access"
	"github.com/credflow/credflow/internal/audit"
)

// grantRepo holds grants; every other repository method is unused here
// (and would panic through the nil embedded interface).
type grantRepo struct {
	access.Repository
	grants []access.Grant
}

func (r grantRepo) Grants(_ context.Context, storeID string) ([]access.Grant, error) {
	var out []access.Grant
	for _, g := range r.grants {
		if g.StoreID == storeID {
			out = append(out, g)
		}
	}
	return out, nil
}

func (grantRepo) Record(context.Context, ...audit.Entry) error { return nil }

func TestGrantedPrefixes(t *testing.T) {
	user := func(id string) access.PrincipalRef { return access.PrincipalRef{Kind: access.PrincipalUser, ID: id} }
	group := func(id string) access.PrincipalRef { return access.PrincipalRef{Kind: access.PrincipalGroup, ID: id} }
	repo := grantRepo{grants: []access.Grant{
		{StoreID: "local", Principal: user("u1"), Prefix: "team-a-"},
		{StoreID: "local", Principal: group("g1"), Prefix: "shared-"},
		{StoreID: "local", Principal: user("u2"), Prefix: ""},
		{StoreID: "kv", Principal: user("u1"), Prefix: "kv-"},
	}}
	svc := access.NewService(repo, access.Options{})
	for _, tc := range []struct {
		name  string
		p     access.Principal
		store string
		want  []string
	}{
		{"admin covers everything", access.Principal{ID: "a", Role: access.RoleAdmin}, "local", []string{""}},
		{"own grant", access.Principal{ID: "u1", Role: access.RoleMaker}, "local", []string{"team-a-"}},
		{"own and group grants", access.Principal{ID: "u1", Role: access.RoleMaker, Groups: []string{"g1"}}, "local", []string{"team-a-", "shared-"}},
		{"whole store", access.Principal{ID: "u2", Role: access.RoleMaker}, "local", []string{""}},
		{"other store's grants do not count", access.Principal{ID: "u1", Role: access.RoleMaker}, "kv", []string{"kv-"}},
		{"no grant", access.Principal{ID: "u3", Role: access.RoleMaker, Groups: []string{"g2"}}, "local", nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := svc.GrantedPrefixes(t.Context(), tc.p, tc.store)
			if err != nil || !slices.Equal(got, tc.want) {
				t.Fatalf("GrantedPrefixes = %q, %v; want %q", got, err, tc.want)
			}
			// CheckGrant agrees: a name is allowed exactly when a prefix covers it.
			for _, name := range []string{"team-a-db", "shared-db", "kv-db", "other"} {
				covered := slices.ContainsFunc(got, func(pre string) bool { return len(name) >= len(pre) && name[:len(pre)] == pre })
				err := svc.CheckGrant(t.Context(), tc.p, tc.store, tc.store, name)
				if covered != (err == nil) || err != nil && !errors.Is(err, access.ErrStoreNotGranted) {
					t.Errorf("CheckGrant(%s) = %v, but the prefixes %q cover it: %v", name, err, got, covered)
				}
			}
		})
	}
}
