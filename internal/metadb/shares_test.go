package metadb_test

import (
	"context"
	"database/sql"
	"io/fs"
	"log/slog"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/credflow/credflow/internal/access"
	"github.com/credflow/credflow/internal/metadb"
	"github.com/credflow/credflow/internal/metadb/metadbtest"
)

// TestShareOriginMigration builds a database as it was before variable
// shares knew their origin, with a share that a credential share gave and
// one given directly, and checks that the migration tells them apart and
// gives the first its credential share's expiry.
func TestShareOriginMigration(t *testing.T) {
	const originVersion = 8
	for _, e := range metadbtest.Engines(t) {
		t.Run(e.Name, func(t *testing.T) {
			ctx := context.Background()
			dsn, dir := e.DSN(t), t.TempDir()
			dialect := metadb.SQLite
			var (
				old *sql.DB
				err error
			)
			if dsn == "" {
				old, err = sql.Open("sqlite", "file:"+filepath.Join(dir, "credflow.db")+"?_pragma=foreign_keys(1)")
			} else {
				dialect = metadb.Postgres
				old, err = sql.Open("pgx", dsn)
			}
			if err != nil {
				t.Fatal(err)
			}
			mustExec := func(q string, args ...any) {
				t.Helper()
				if _, err := old.ExecContext(ctx, metadb.Rebind(dialect, q), args...); err != nil {
					t.Fatalf("%s: %v", q, err)
				}
			}
			mustExec(`CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL)`)
			dirName := "migrations/" + string(dialect)
			entries, err := fs.ReadDir(metadb.Migrations, dirName)
			if err != nil {
				t.Fatal(err)
			}
			sort.Slice(entries, func(i, j int) bool { return entries[i].Name() < entries[j].Name() })
			for _, m := range entries {
				v, _ := strconv.Atoi(strings.SplitN(m.Name(), "_", 2)[0])
				if v >= originVersion {
					continue
				}
				body, err := metadb.Migrations.ReadFile(dirName + "/" + m.Name())
				if err != nil {
					t.Fatal(err)
				}
				mustExec(string(body))
				mustExec(`INSERT INTO schema_migrations (version, name) VALUES ($1, $2)`, v, m.Name())
			}

			shared := time.Date(2026, 1, 2, 3, 4, 5, 600000000, time.UTC)
			direct := shared.Add(time.Minute)
			until := shared.Add(24 * time.Hour)
			for _, u := range []string{"alice", "bob", "carol"} {
				mustExec(`INSERT INTO users (id, name, role, created_at) VALUES ($1, $1, 'maker', $2)`, u, shared)
			}
			for _, v := range []string{"VU", "VP"} {
				mustExec(`INSERT INTO environment_variables (id, schema_name, display_name, type, value, owner_id, created_at, updated_at)
					VALUES ($1, $1, $1, 'text', 'x', 'alice', $2, $2)`, v, shared)
			}
			mustExec(`INSERT INTO credentials (id, name, username_var_id, password_var_id, owner_id, created_at, updated_at)
				VALUES ('C1', 'DB', 'VU', 'VP', 'alice', $1, $1)`, shared)
			share := func(kind, obj, who, role string, expires any, at time.Time) {
				mustExec(`INSERT INTO shares (object_kind, object_id, principal_kind, principal_id, role, expires_at, created_at)
					VALUES ($1, $2, 'user', $3, $4, $5, $6)`, kind, obj, who, role, expires, at)
			}
			for _, o := range []struct{ kind, id string }{{"credential", "C1"}, {"variable", "VU"}, {"variable", "VP"}} {
				share(o.kind, o.id, "alice", "owner", nil, shared)
			}
			// bob: the credential was shared (and later given an expiry the
			// variable shares never got); carol: the password was shared
			// directly, the credential at another time.
			share("credential", "C1", "bob", "user", until, shared)
			share("variable", "VU", "bob", "user", nil, shared)
			share("variable", "VP", "bob", "user", nil, shared)
			share("variable", "VP", "carol", "user", nil, direct)
			share("credential", "C1", "carol", "user", nil, direct.Add(time.Minute))
			old.Close()

			db, err := metadb.Open(ctx, dsn, dir, slog.New(slog.DiscardHandler))
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { db.Close() })
			got := map[string]access.Share{}
			for _, v := range []string{"VU", "VP"} {
				shares, err := db.Access().Shares(ctx, access.KindVariable, v)
				if err != nil {
					t.Fatal(err)
				}
				for _, s := range shares {
					got[v+" "+s.Principal.ID] = s
				}
			}
			for _, key := range []string{"VU bob", "VP bob"} {
				if s := got[key]; s.Via.ID != "C1" || s.Via.Name != "DB" || !s.ExpiresAt.Equal(until) {
					t.Errorf("%s: via %+v until %v, want credential C1 until %v", key, s.Via, s.ExpiresAt, until)
				}
			}
			if s := got["VP carol"]; !s.Direct() || !s.ExpiresAt.IsZero() {
				t.Errorf("carol's direct share became %+v", s)
			}
			if s := got["VP alice"]; !s.Direct() || s.Role != access.RoleOwner {
				t.Errorf("the owner's share became %+v", s)
			}
		})
	}
}
