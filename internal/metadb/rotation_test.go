package metadb_test

import (
	"slices"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/credflow/credflow/internal/access"
	"github.com/credflow/credflow/internal/audit"
	"github.com/credflow/credflow/internal/envvar"
	"github.com/credflow/credflow/internal/metadb/metadbtest"
)

// TestVariablesReferencingSecret finds the variables of one store whose
// reference mentions a secret, without case, with LIKE's wildcards taken
// literally, and keeps an expiry notice until it is cleared.
func TestVariablesReferencingSecret(t *testing.T) {
	for _, e := range metadbtest.Engines(t) {
		t.Run(e.Name, func(t *testing.T) {
			ctx := t.Context()
			db := metadbtest.Open(t, e)
			now := time.Now().UTC().Truncate(time.Millisecond)
			owner := access.User{ID: uuid.NewString(), Name: "mona", Role: access.RoleMaker, Source: access.SourceLocal, CreatedAt: now}
			if err := db.Access().CreateUser(ctx, owner, audit.Entry{Actor: "t", Action: "user.create", Resource: "user:mona", Outcome: audit.Success}); err != nil {
				t.Fatal(err)
			}
			kv, err := db.Stores().Ensure(ctx, "kv", "memory")
			if err != nil {
				t.Fatal(err)
			}
			other, err := db.Stores().Ensure(ctx, "other", "memory")
			if err != nil {
				t.Fatal(err)
			}
			add := func(name, storeID, ref string) {
				v := envvar.Variable{ID: uuid.NewString(), SchemaName: name, DisplayName: name, Type: envvar.TypeSecret,
					Secret: &envvar.SecretRef{StoreID: storeID, Ref: ref, Enabled: true}, OwnerID: owner.ID, CreatedAt: now, UpdatedAt: now}
				share := access.Share{Object: envvar.Object(v), Principal: access.PrincipalRef{Kind: access.PrincipalUser, ID: owner.ID, Name: "mona"},
					Role: access.RoleOwner, CreatedAt: now}
				if err := db.Variables().Create(ctx, v, share, audit.Entry{Actor: "mona", Action: "variable.create", Resource: "variable:" + name, Outcome: audit.Success}); err != nil {
					t.Fatal(err)
				}
			}
			add("cf_Path", kv.ID, "/subscriptions/s/resourceGroups/rg/providers/Microsoft.KeyVault/vaults/v/secrets/DB-Pass")
			add("cf_Pinned", kv.ID, "db-pass/3")
			add("cf_Wild", kv.ID, "dbxpass")
			add("cf_Elsewhere", other.ID, "db-pass")
			add("cf_Under", kv.ID, "a_b")
			add("cf_NotUnder", kv.ID, "axb")
			names := func(secret string) []string {
				vars, err := db.Variables().ReferencingSecret(ctx, kv.ID, secret)
				if err != nil {
					t.Fatal(err)
				}
				var out []string
				for _, v := range vars {
					out = append(out, v.SchemaName)
				}
				slices.Sort(out)
				return out
			}
			if got := names("db-pass"); !slices.Equal(got, []string{"cf_Path", "cf_Pinned"}) {
				t.Errorf("db-pass: %v", got)
			}
			if got := names("a_b"); !slices.Equal(got, []string{"cf_Under"}) {
				t.Errorf("a_b (an escaped wildcard): %v", got)
			}
			if got := names("db%pass"); len(got) != 0 {
				t.Errorf("db%%pass (an escaped wildcard): %v", got)
			}

			vars, err := db.Variables().ReferencingSecret(ctx, kv.ID, "db-pass")
			if err != nil {
				t.Fatal(err)
			}
			ids := []string{vars[0].ID, vars[1].ID}
			if err := db.Variables().SetSecretNotice(ctx, ids, envvar.StatusExpiring); err != nil {
				t.Fatal(err)
			}
			got, err := db.Variables().Get(ctx, vars[0].ID)
			if err != nil {
				t.Fatal(err)
			}
			if got.Secret.Notice != envvar.StatusExpiring {
				t.Errorf("notice %q after it was set", got.Secret.Notice)
			}
			if err := db.Variables().SetSecretNotice(ctx, ids, ""); err != nil {
				t.Fatal(err)
			}
			if got, _ := db.Variables().Get(ctx, vars[0].ID); got.Secret.Notice != "" {
				t.Errorf("notice %q after it was cleared", got.Secret.Notice)
			}
		})
	}
}
