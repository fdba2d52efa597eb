package metadb_test

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/credflow/credflow/internal/access"
	"github.com/credflow/credflow/internal/envvar"
	"github.com/credflow/credflow/internal/metadb"
	"github.com/credflow/credflow/internal/metadb/metadbtest"
)

// TestListPagesVisible pages through the credentials, variables and
// connections that viewers may see, at several page sizes, on every engine:
// each page holds exactly the objects a share that has not expired lets the
// viewer see (their own, a group's, several of each), in id order, every
// page but the last full, whatever the share of visible objects and
// whether a share names an object that no longer exists.
func TestListPagesVisible(t *testing.T) {
	for _, e := range metadbtest.Engines(t) {
		t.Run(e.Name, func(t *testing.T) {
			ctx := context.Background()
			db, err := metadb.Open(ctx, e.DSN(t), t.TempDir(), nil)
			if err != nil {
				t.Fatal(err)
			}
			defer db.Close()
			now := time.Date(2026, 3, 4, 5, 6, 7, 0, time.UTC)
			mustExec := func(q string, args ...any) {
				t.Helper()
				if _, err := db.SQL().ExecContext(ctx, metadb.Rebind(db.Dialect(), q), args...); err != nil {
					t.Fatalf("%s: %v", q, err)
				}
			}
			for _, u := range []string{"admin", "maker", "other", "nobody"} {
				role := "maker"
				if u == "admin" {
					role = "admin"
				}
				mustExec(`INSERT INTO users (id, name, role, created_at) VALUES ($1, $1, $2, $3)`, u, role, now)
			}
			for _, g := range []string{"g1", "g2"} {
				mustExec(`INSERT INTO groups (id, name, created_at) VALUES ($1, $1, $2)`, g, now)
			}
			mustExec(`INSERT INTO runner_groups (id, name, created_at) VALUES ('rg', 'rg', $1)`, now)

			// who holds a share of object i, and until when (zero: never).
			type grant struct {
				kind, id string
				until    time.Time
			}
			past, future := now.Add(-time.Hour), now.Add(time.Hour)
			sharesOf := func(i int) []grant {
				var out []grant
				if i%3 == 0 {
					out = append(out, grant{"user", "maker", time.Time{}})
				}
				if i%5 == 0 {
					out = append(out, grant{"group", "g1", time.Time{}})
				}
				if i%7 == 0 {
					out = append(out, grant{"group", "g2", future})
				}
				if i%11 == 0 && i%3 != 0 {
					out = append(out, grant{"user", "maker", past}) // expired: sees it only with another share
				}
				if i%2 == 1 {
					out = append(out, grant{"user", "other", time.Time{}})
				}
				return out
			}
			// A share of the same principal through a credential and directly
			// must not show the object twice.
			const n = 61
			var credIDs, varIDs, connIDs []string
			for i := range n {
				cid, uv, pv, conn := fmt.Sprintf("c%03d", i), fmt.Sprintf("v%03du", i), fmt.Sprintf("v%03dp", i), fmt.Sprintf("k%03d", i)
				owner := "admin"
				if i%4 == 0 {
					owner = "maker"
				}
				for _, v := range []string{uv, pv} {
					mustExec(`INSERT INTO environment_variables (id, schema_name, display_name, type, value, owner_id, created_at, updated_at)
						VALUES ($1, $1, $1, 'text', 'x', $2, $3, $3)`, v, owner, now)
				}
				mustExec(`INSERT INTO credentials (id, name, username_var_id, password_var_id, owner_id, created_at, updated_at)
					VALUES ($1, $1, $2, $3, $4, $5, $5)`, cid, uv, pv, owner, now)
				mustExec(`INSERT INTO connections (id, name, credential_id, runner_group_id, owner_id, created_at, updated_at)
					VALUES ($1, $1, $2, 'rg', $3, $4, $4)`, conn, cid, owner, now)
				credIDs, varIDs, connIDs = append(credIDs, cid), append(varIDs, uv, pv), append(connIDs, conn)
				for _, g := range sharesOf(i) {
					var until any
					if !g.until.IsZero() {
						until = g.until
					}
					mustExec(`INSERT INTO shares (object_kind, object_id, principal_kind, principal_id, role, expires_at, created_at)
						VALUES ('credential', $1, $2, $3, 'user', $4, $5)`, cid, g.kind, g.id, until, now)
					for _, v := range []string{uv, pv} {
						mustExec(`INSERT INTO shares (object_kind, object_id, principal_kind, principal_id, role, expires_at, created_at, via_credential)
							VALUES ('variable', $1, $2, $3, 'user', $4, $5, $6)`, v, g.kind, g.id, until, now, cid)
					}
				}
				if i%6 == 0 {
					// A direct share of the same variable besides the one the credential gave.
					mustExec(`INSERT INTO shares (object_kind, object_id, principal_kind, principal_id, role, created_at)
						VALUES ('variable', $1, 'user', 'maker', 'user', $2)`, uv, now)
				}
			}
			// Shares naming objects that are gone, among the visible ones.
			for _, id := range []string{"c0305", "c0001", "c999"} {
				mustExec(`INSERT INTO shares (object_kind, object_id, principal_kind, principal_id, role, created_at)
					VALUES ('credential', $1, 'user', 'maker', 'user', $2)`, id, now)
			}

			// want lists the ids of kind a viewer sees, computed from the
			// rules rather than from SQL.
			sees := func(v access.Viewer, i int) bool {
				if v.All {
					return true
				}
				for _, g := range sharesOf(i) {
					if !g.until.IsZero() && !g.until.After(v.Now) {
						continue
					}
					if (g.kind == "user" && g.id == v.UserID) || (g.kind == "group" && slices.Contains(v.Groups, g.id)) {
						return true
					}
				}
				return false
			}
			wantCreds := func(v access.Viewer) []string {
				out := []string{}
				for i, id := range credIDs {
					if sees(v, i) {
						out = append(out, id)
					}
				}
				return out
			}
			wantVars := func(v access.Viewer) []string {
				out := []string{}
				for i := range n {
					switch {
					case sees(v, i):
						out = append(out, varIDs[2*i], varIDs[2*i+1])
					case v.UserID == "maker" && i%6 == 0:
						out = append(out, varIDs[2*i]) // the direct share
					}
				}
				slices.Sort(out)
				return out
			}
			wantConns := func(v access.Viewer) []string {
				out := []string{}
				for i, id := range connIDs {
					if v.All || (v.UserID == "maker" && i%4 == 0) {
						out = append(out, id)
					}
				}
				return out
			}

			// pages reads every page of size limit and checks that only the
			// last is short.
			pages := func(t *testing.T, limit int, list func(after string, limit int) ([]string, error)) []string {
				t.Helper()
				all, after := []string{}, ""
				for range 1000 {
					page, err := list(after, limit)
					if err != nil {
						t.Fatal(err)
					}
					all = append(all, page...)
					if len(page) < limit {
						return all
					}
					after = page[len(page)-1]
				}
				t.Fatal("no end of the list")
				return nil
			}
			viewers := map[string]access.Viewer{
				"admin":             {All: true, UserID: "admin", Now: now},
				"maker":             {UserID: "maker", Now: now},
				"maker in g1":       {UserID: "maker", Groups: []string{"g1"}, Now: now},
				"maker in g1 and 2": {UserID: "maker", Groups: []string{"g1", "g2"}, Now: now},
				"maker, g2 expired": {UserID: "maker", Groups: []string{"g2"}, Now: future.Add(time.Second)},
				"other":             {UserID: "other", Now: now},
				"nobody":            {UserID: "nobody", Groups: []string{"g-none"}, Now: now},
			}
			for name, v := range viewers {
				for _, limit := range []int{1, 2, 3, 7, 50, 200} {
					t.Run(fmt.Sprintf("%s/limit %d", name, limit), func(t *testing.T) {
						got := pages(t, limit, func(after string, limit int) ([]string, error) {
							cs, err := db.Credentials().List(ctx, v, after, limit)
							ids := []string{}
							for _, c := range cs {
								ids = append(ids, c.ID)
							}
							return ids, err
						})
						if want := wantCreds(v); !slices.Equal(got, want) {
							t.Errorf("credentials:\n got %v\nwant %v", got, want)
						}
						got = pages(t, limit, func(after string, limit int) ([]string, error) {
							vs, err := db.Variables().List(ctx, envvar.ListQuery{Viewer: v, After: after, Limit: limit})
							ids := []string{}
							for _, x := range vs {
								ids = append(ids, x.ID)
							}
							return ids, err
						})
						if want := wantVars(v); !slices.Equal(got, want) {
							t.Errorf("variables:\n got %v\nwant %v", got, want)
						}
						got = pages(t, limit, func(after string, limit int) ([]string, error) {
							vs, err := db.Variables().List(ctx, envvar.ListQuery{Viewer: v, After: after, Limit: limit, Type: envvar.TypeText})
							ids := []string{}
							for _, x := range vs {
								ids = append(ids, x.ID)
							}
							return ids, err
						})
						if want := wantVars(v); !slices.Equal(got, want) {
							t.Errorf("text variables:\n got %v\nwant %v", got, want)
						}
						got = pages(t, limit, func(after string, limit int) ([]string, error) {
							cs, err := metadb.NewConnections(db).List(ctx, v, after, limit)
							ids := []string{}
							for _, c := range cs {
								ids = append(ids, c.ID)
							}
							return ids, err
						})
						if want := wantConns(v); !slices.Equal(got, want) {
							t.Errorf("connections:\n got %v\nwant %v", got, want)
						}
					})
				}
			}
		})
	}
}
