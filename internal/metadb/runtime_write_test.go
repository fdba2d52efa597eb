package metadb_test

import (
	"context"
	"testing"
	"time"

	"github.com/credflow/credflow/internal/connection"
	"github.com/credflow/credflow/internal/envvar"
	"github.com/credflow/credflow/internal/metadb"
	"github.com/credflow/credflow/internal/metadb/metadbtest"
)

// TestRuntimeWritesOutsideTransactions: the writes that run on their own,
// outside any transaction (a connection's status, a secret's checked
// state), write what they are given, the same again and again, on every
// engine.
func TestRuntimeWritesOutsideTransactions(t *testing.T) {
	for _, e := range metadbtest.Engines(t) {
		t.Run(e.Name, func(t *testing.T) {
			ctx := context.Background()
			db, err := metadb.Open(ctx, e.DSN(t), t.TempDir(), nil)
			if err != nil {
				t.Fatal(err)
			}
			defer db.Close()
			now := time.Date(2026, 3, 4, 5, 6, 7, 0, time.UTC)
			for _, q := range []string{
				`INSERT INTO users (id, name, role, created_at) VALUES ('u', 'u', 'admin', $1)`,
				`INSERT INTO stores (id, name, kind, created_at, updated_at) VALUES ('s', 's', 'builtin', $1, $1)`,
				`INSERT INTO runner_groups (id, name, created_at) VALUES ('rg', 'rg', $1)`,
				`INSERT INTO environment_variables (id, schema_name, display_name, type, value, owner_id, created_at, updated_at)
					VALUES ('vu', 'vu', 'vu', 'text', 'x', 'u', $1, $1)`,
				`INSERT INTO environment_variables (id, schema_name, display_name, type, store_id, secret_ref, owner_id, created_at, updated_at)
					VALUES ('vp', 'vp', 'vp', 'secret', 's', 'pw', 'u', $1, $1)`,
				`INSERT INTO credentials (id, name, username_var_id, password_var_id, owner_id, created_at, updated_at)
					VALUES ('c', 'c', 'vu', 'vp', 'u', $1, $1)`,
				`INSERT INTO connections (id, name, credential_id, runner_group_id, owner_id, created_at, updated_at)
					VALUES ('k', 'k', 'c', 'rg', 'u', $1, $1)`,
			} {
				if _, err := db.SQL().ExecContext(ctx, metadb.Rebind(db.Dialect(), q), now); err != nil {
					t.Fatalf("%s: %v", q, err)
				}
			}
			conns := metadb.NewConnections(db)
			for i := range 3 {
				at := now.Add(time.Duration(i) * time.Minute)
				version := []string{"1", "2", "3"}[i]
				if err := conns.SetStatus(ctx, "k", connection.StatusConnected, at, version, ""); err != nil {
					t.Fatal(err)
				}
				c, err := conns.Get(ctx, "k")
				if err != nil {
					t.Fatal(err)
				}
				if c.Status != connection.StatusConnected || !c.LastResolvedAt.Equal(at) || c.LastSecretVersion != version {
					t.Errorf("after status %d: %s at %v version %q", i, c.Status, c.LastResolvedAt, c.LastSecretVersion)
				}
				st := envvar.SecretRef{StoreID: "s", Ref: "pw", Enabled: i%2 == 0, CheckedAt: at, ExpiresAt: at.Add(time.Hour),
					Problem: []envvar.Status{"", envvar.StatusNotFound, ""}[i]}
				if err := db.Variables().RecordSecretState(ctx, "vp", st); err != nil {
					t.Fatal(err)
				}
				v, err := db.Variables().Get(ctx, "vp")
				if err != nil {
					t.Fatal(err)
				}
				if got := v.Secret; got.Enabled != st.Enabled || !got.CheckedAt.Equal(at) || !got.ExpiresAt.Equal(st.ExpiresAt) || got.Problem != st.Problem {
					t.Errorf("after state %d: %+v, want %+v", i, *got, st)
				}
			}
			if err := conns.SetStatus(ctx, "k", connection.StatusError, now, "", "store unreachable"); err != nil {
				t.Fatal(err)
			}
			if c, err := conns.Get(ctx, "k"); err != nil || c.Status != connection.StatusError || c.LastError != "store unreachable" {
				t.Errorf("after an error: %+v, %v", c, err)
			}
		})
	}
}
