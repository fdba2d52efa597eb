package httpapi_test

import (
	"database/sql"
	"path/filepath"
	"testing"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // the "pgx" driver

	"github.com/credflow/credflow/internal/metadb/metadbtest"
)

// TestReplicasFollowEvents runs two servers on one PostgreSQL database: an
// event delivered to A reaches B's next resolve, although B's cache held
// the old value for an hour. Then B's change listener is killed and an event
// delivered to A while B is away; B, which missed the announcement, drops
// every cached value when its listener is back, and converges too.
func TestReplicasFollowEvents(t *testing.T) {
	for _, e := range metadbtest.Engines(t) {
		if e.Name != "postgres" {
			continue // one SQLite file has one server
		}
		t.Run(e.Name, func(t *testing.T) {
			envA := startRotation(t, e)
			envA.setUp(t)
			viaB, appName, db := startReplica(t, envA)

			if got := viaB.must(200, "POST", "/api/v1/connections/sql-build/resolve", nil).str("password"); got != "password-1" {
				t.Fatalf("first resolve through B: %q", got)
			}
			envA.vault.Set("sql-pass", "password-2")
			if got := viaB.must(200, "POST", "/api/v1/connections/sql-build/resolve", nil).str("password"); got != "password-1" {
				t.Fatalf("B's cache did not hold the value: %q", got)
			}
			if r := envA.deliver(eventGridDelivery("Microsoft.KeyVault.SecretNewVersionCreated", []string{"r-1"}, "sql-pass")); r.status != 200 {
				t.Fatalf("delivery to A: %d %s", r.status, r.raw)
			}
			took := waitPassword(t, viaB, "password-2", 5*time.Second)
			t.Logf("B resolved the new version %v after the event reached A", took)
			// The figure of that change, measured from A's delivery to B's
			// run, is the same through either replica.
			var figure map[string]any
			waitFor(t, func() bool {
				figure = propagationOf(envA.admin, "kv", "sql-pass")
				return figure != nil && figure["reachedAt"] != nil
			})
			ms, _ := figure["latencyMs"].(float64)
			if figure["source"] != "eventgrid" || ms <= 0 || ms > float64(took.Microseconds())/1000+1000 {
				t.Errorf("propagation across replicas: %v (B took %v)", figure, took)
			}

			// Kill B's listener; rotate and tell A while B cannot hear.
			var killed int
			if err := db.QueryRow(`SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity
				WHERE application_name = $1 AND query LIKE 'LISTEN%' AND pid <> pg_backend_pid()`, appName).Scan(&killed); err != nil {
				t.Fatal(err)
			}
			if killed != 1 {
				t.Fatalf("killed %d listeners of B, want 1", killed)
			}
			envA.vault.Set("sql-pass", "password-3")
			envA.deliver(eventGridDelivery("Microsoft.KeyVault.SecretNewVersionCreated", []string{"r-2"}, "sql-pass"))
			took = waitPassword(t, viaB, "password-3", 10*time.Second)
			t.Logf("B, whose listener was killed, resolved the new version %v after the event reached A", took)
		})
	}
}

// startReplica starts a second server B on envA's PostgreSQL database and
// returns envA's runner talking to B, the name B's connections carry (so
// that a test can find B's listener among every test's), and a database
// handle. It returns once B's listener is up: B drops every cached value
// when it connects, and must not do so after it cached something.
func startReplica(t testing.TB, envA rotationEnv) (api, string, *sql.DB) {
	t.Helper()
	cfg := envA.inst.Config
	cfg.DataDir = t.TempDir()
	cfg.MasterKeyFile = filepath.Join(envA.inst.Config.DataDir, "master.key")
	// B's connections carry a name of their own, so that the test
	// can find B's listener among every test's.
	var appName string
	cfg.Database, appName = withAppName(t, cfg.Database, "credflow-replica-b")
	envB := startRotationConfig(t, cfg, envA.vault)
	viaB := envA.withRunner(envB.inst.URL)
	db, err := sql.Open("pgx", cfg.Database)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	listeners := func() int {
		var n int
		if err := db.QueryRow(`SELECT count(*) FROM pg_stat_activity WHERE application_name = $1 AND query LIKE 'LISTEN%' AND pid <> pg_backend_pid()`,
			appName).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	// B drops every cached value when its listener connects: let
	// that happen before B caches anything.
	waitFor(t, func() bool { return listeners() == 1 })
	time.Sleep(50 * time.Millisecond)

	return viaB, appName, db
}
