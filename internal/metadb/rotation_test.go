package metadb_test

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/credflow/credflow/internal/access"
	"github.com/credflow/credflow/internal/audit"
	"github.com/credflow/credflow/internal/envvar"
	"github.com/credflow/credflow/internal/metadb/metadbtest"
	"github.com/credflow/credflow/internal/rotation"
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

// TestPropagationRows: one row per secret (names without case); the first
// resolve after a change is kept, later ones and ones of an older change
// are not; a resolve recorded before its change's row (by the replica that
// ran it, ahead of the one that learnt of the change) is kept when that row
// comes; a newer change starts over.
func TestPropagationRows(t *testing.T) {
	for _, e := range metadbtest.Engines(t) {
		t.Run(e.Name, func(t *testing.T) {
			ctx := t.Context()
			p := metadbtest.Open(t, e).Propagation()
			t0 := time.Date(2026, 3, 4, 5, 6, 7, 123456000, time.UTC)
			at := func(ms int) time.Time { return t0.Add(time.Duration(ms) * time.Millisecond) }
			reached := func(secret string, changed, resolved int, runner string) rotation.Reached {
				return rotation.Reached{Store: "kv", Secret: secret, ChangedAt: at(changed), At: at(resolved), Version: "v" + runner, Runner: runner, Connection: "c"}
			}
			for _, step := range []struct {
				name string
				do   func() error
				want string // the row of kv/db-pass: "changed source reached runner", reached -1 when unset
			}{
				{"a change", func() error { return p.RecordChange(ctx, "kv", "db-pass", at(0), rotation.SourceEventGrid) }, "0 eventgrid -1 "},
				{"the first resolve", func() error { return p.RecordReached(ctx, reached("DB-PASS", 0, 40, "r1")) }, "0 eventgrid 40 r1"},
				{"a later resolve", func() error { return p.RecordReached(ctx, reached("db-pass", 0, 90, "r2")) }, "0 eventgrid 40 r1"},
				{"the same change again", func() error { return p.RecordChange(ctx, "kv", "db-pass", at(0), rotation.SourceEventGrid) }, "0 eventgrid 40 r1"},
				{"a resolve of an older change", func() error { return p.RecordReached(ctx, reached("db-pass", -10, 95, "r3")) }, "0 eventgrid 40 r1"},
				{"an older change", func() error { return p.RecordChange(ctx, "kv", "db-pass", at(-10), rotation.SourcePoll) }, "0 eventgrid 40 r1"},
				{"a resolve ahead of its change's row", func() error { return p.RecordReached(ctx, reached("db-pass", 100, 130, "r4")) }, "100  130 r4"},
				{"that change's row", func() error { return p.RecordChange(ctx, "kv", "db-pass", at(100), rotation.SourceNotification) }, "100 notification 130 r4"},
				{"a newer change", func() error { return p.RecordChange(ctx, "kv", "Db-Pass", at(200), rotation.SourcePoll) }, "200 poll -1 "},
			} {
				if err := step.do(); err != nil {
					t.Fatalf("%s: %v", step.name, err)
				}
				list, err := p.Propagations(ctx, 10)
				if err != nil {
					t.Fatal(err)
				}
				if len(list) != 1 {
					t.Fatalf("%s: %d rows, want 1", step.name, len(list))
				}
				row := list[0]
				got := fmt.Sprintf("%d %s -1 ", row.ChangedAt.Sub(t0).Milliseconds(), row.Source)
				if row.Reached != nil {
					got = fmt.Sprintf("%d %s %d %s", row.ChangedAt.Sub(t0).Milliseconds(), row.Source, row.Reached.At.Sub(t0).Milliseconds(), row.Reached.Runner)
					if row.Reached.Latency() != row.Reached.At.Sub(row.ChangedAt) || row.Reached.Version != "v"+row.Reached.Runner {
						t.Errorf("%s: reached %+v", step.name, row.Reached)
					}
				}
				if got != step.want {
					t.Errorf("%s: row %q, want %q", step.name, got, step.want)
				}
			}
			// The list is newest first and bounded.
			if err := p.RecordChange(ctx, "kv", "api-key", at(300), rotation.SourcePoll); err != nil {
				t.Fatal(err)
			}
			list, err := p.Propagations(ctx, 1)
			if err != nil || len(list) != 1 || list[0].Secret != "api-key" || !list[0].ChangedAt.Equal(at(300)) {
				t.Fatalf("newest first: %+v %v", list, err)
			}
		})
	}
}
