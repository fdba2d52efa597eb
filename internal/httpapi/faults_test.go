package httpapi_test

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/credflow/credflow/internal/config"
	"github.com/credflow/credflow/internal/metadb/metadbtest"
)

// storeCallsRunning counts the goroutines of this process that are inside
// a store call made through a cache (the one path a resolve reads by).
func storeCallsRunning() int {
	buf := make([]byte, 8<<20)
	buf = buf[:runtime.Stack(buf, true)]
	n := 0
	for _, g := range strings.Split(string(buf), "\n\n") {
		if strings.Contains(g, "secretstore/cache.(*Store).fetch") {
			n++
		}
	}
	return n
}

// TestDisconnectedRunnerCancelsTheStoreCall: a runner that gives up on a
// resolve whose vault hangs takes the store call down with it, at once
// rather than at the call's timeout, and leaves no goroutine behind; the
// server keeps serving, and the abandoned resolve is audited.
func TestDisconnectedRunnerCancelsTheStoreCall(t *testing.T) {
	e := metadbtest.Engines(t)[0] // the cancellation does not depend on the database
	env := startRotation(t, e)
	env.setUp(t)
	before := storeCallsRunning()
	env.vault.SetLatency(time.Hour)

	ctx, cancel := context.WithCancel(t.Context())
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, env.inst.URL+"/api/v1/connections/sql-build/resolve", nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+env.runner.token)
	done := make(chan error, 1)
	go func() {
		resp, err := http.DefaultClient.Do(req)
		if err == nil {
			resp.Body.Close()
		}
		done <- err
	}()
	waitFor(t, func() bool { return storeCallsRunning() > before })
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Fatalf("the runner's request: %v", err)
	}
	waitFor(t, func() bool { return storeCallsRunning() <= before })

	env.vault.SetLatency(0)
	if got := env.runner.must(200, "POST", "/api/v1/connections/sql-build/resolve", nil).str("password"); got != "password-1" {
		t.Fatalf("resolve after the disconnect: %q", got)
	}
	waitFor(t, func() bool {
		l := env.admin.must(200, "GET", "/api/v1/audit?action=connection.resolve", nil)
		return strings.Contains(string(l.raw), "abandoned: the caller disconnected before the values were read")
	})
	// The connection and the variable do not blame the store for it.
	if c := env.admin.must(200, "GET", "/api/v1/connections/sql-build", nil); c.str("status") != "connected" {
		t.Errorf("connection after the disconnect: %s", c.raw)
	}
	if st := statusOf(env.admin, "/api/v1/environment-variables/cf_SqlPass"); st != "ok" {
		t.Errorf("variable status %q after the disconnect", st)
	}
}

// TestPostgresConnectionsKilledUnderLoad: while runners resolve, every
// database connection of the server is killed, twice (as a PostgreSQL
// restart does). Resolves during it fail cleanly (an answer, never a hang
// or a crash); afterwards the same server, not restarted, resolves again,
// and the audit chain still verifies: no record was half written.
func TestPostgresConnectionsKilledUnderLoad(t *testing.T) {
	var pg *metadbtest.Engine
	for _, e := range metadbtest.Engines(t) {
		if e.Name == "postgres" {
			pg = &e
		}
	}
	if pg == nil {
		t.Skip("needs PostgreSQL (CREDFLOW_TEST_POSTGRES_URL)")
	}
	vault := startVaultEmulator(t)
	cfg := config.Defaults()
	cfg.DataDir = t.TempDir()
	var appName string
	cfg.Database, appName = withAppName(t, pg.DSN(t), "credflow-killed")
	env := startRotationWith(t, cfg, vault)
	env.setUp(t)
	killer, err := sql.Open("pgx", cfg.Database)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { killer.Close() })
	kill := func() int {
		var n int
		if err := killer.QueryRow(`SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity
			WHERE application_name = $1 AND pid <> pg_backend_pid()`, appName).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}

	var mu sync.Mutex
	statuses := map[int]int{}
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			client := &http.Client{Timeout: 30 * time.Second}
			for {
				select {
				case <-stop:
					return
				default:
				}
				req, _ := http.NewRequest(http.MethodPost, env.inst.URL+"/api/v1/connections/sql-build/resolve", nil)
				req.Header.Set("Authorization", "Bearer "+env.runner.token)
				resp, err := client.Do(req)
				code := 0 // no answer at all
				if err == nil {
					code = resp.StatusCode
					if code != 200 && !strings.HasPrefix(resp.Header.Get("Content-Type"), "application/problem+json") {
						code = -code // an answer that is not a problem
					}
					resp.Body.Close()
				}
				mu.Lock()
				statuses[code]++
				mu.Unlock()
			}
		}()
	}
	time.Sleep(300 * time.Millisecond)
	killed := kill()
	time.Sleep(300 * time.Millisecond)
	killed += kill()
	time.Sleep(300 * time.Millisecond)
	close(stop)
	wg.Wait()
	t.Logf("killed %d connections; answers during the load: %v", killed, statuses)
	for _, line := range strings.Split(env.inst.Log(), "\n") {
		if strings.Contains(line, "request failed") {
			t.Log(line)
		}
	}
	if killed == 0 {
		t.Fatal("no connection of the server was found to kill")
	}
	for code, n := range statuses {
		if code != 200 && code != 503 {
			t.Errorf("%d answers with status %d during the kills, want 200 or 503 database_unavailable", n, code)
		}
	}
	if strings.Contains(env.inst.Log(), `"internal_error"`) || strings.Contains(env.inst.Log(), "request failed") {
		t.Error("a database failure was answered as an internal error")
	}
	// The same server recovers.
	waitFor(t, func() bool {
		return env.runner.do("POST", "/api/v1/connections/sql-build/resolve", nil).status == 200
	})
	for range 20 {
		env.runner.must(200, "POST", "/api/v1/connections/sql-build/resolve", nil)
	}
	env.admin.must(201, "POST", "/api/v1/environment-variables", map[string]any{"schemaName": "cf_After", "displayName": "after", "type": "text", "value": "x"})
	if v := env.admin.must(200, "GET", "/api/v1/audit/verify", nil); v.body["ok"] != true {
		t.Fatalf("audit verify after the kills: %s", v.raw)
	}
}

// tinyDisk mounts a filesystem of size bytes for the test (as root), or
// skips where mounting is not allowed (required under CI=true).
func tinyDisk(t *testing.T, size int) string {
	t.Helper()
	dir := t.TempDir()
	out, err := exec.Command("mount", "-t", "tmpfs", "-o", fmt.Sprintf("size=%d", size), "tmpfs", dir).CombinedOutput()
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("mount a small filesystem: %v %s", err, out)
		}
		t.Skipf("cannot mount a small filesystem here (%v %s): the full-disk test needs root", err, strings.TrimSpace(string(out)))
	}
	t.Cleanup(func() {
		if out, err := exec.Command("umount", "-l", dir).CombinedOutput(); err != nil {
			t.Errorf("umount: %v %s", err, out)
		}
	})
	return dir
}

// fillDisk writes into dir until the filesystem is full, and returns the file
// to remove to free the space.
func fillDisk(t *testing.T, dir string) string {
	t.Helper()
	f, err := os.Create(filepath.Join(dir, "filler"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	block := make([]byte, 4096)
	for {
		if _, err := f.Write(block); err != nil {
			if errors.Is(err, syscall.ENOSPC) {
				return f.Name()
			}
			t.Fatal(err)
		}
	}
}

// TestSQLiteFullDisk: when the SQLite volume fills up, writes and resolves
// (whose audit record cannot be made durable) fail cleanly with
// database_full, reads keep working, nothing half-made is left; once space
// is freed the same server writes and resolves again and the audit chain
// verifies.
func TestSQLiteFullDisk(t *testing.T) {
	data := tinyDisk(t, 8<<20)
	vault := startVaultEmulator(t)
	cfg := config.Defaults()
	cfg.DataDir = data
	env := startRotationWith(t, cfg, vault)
	env.setUp(t)
	env.runner.must(200, "POST", "/api/v1/connections/sql-build/resolve", nil)

	filler := fillDisk(t, data)
	var refused []resp
	for i := range 20 {
		r := env.admin.do("POST", "/api/v1/environment-variables", map[string]any{"schemaName": fmt.Sprintf("cf_Full%d", i), "displayName": "x",
			"type": "text", "value": strings.Repeat("v", 2000)})
		if r.status != 201 {
			refused = append(refused, r)
		}
	}
	if len(refused) == 0 {
		t.Fatal("every write succeeded on a full disk")
	}
	for _, r := range refused {
		if r.status != 507 || r.body["code"] != "database_full" {
			t.Fatalf("a write on a full disk: %d %s\n%s", r.status, r.raw, env.inst.Log())
		}
	}
	res := env.runner.do("POST", "/api/v1/connections/sql-build/resolve", nil)
	for i := 0; res.status == 200 && i < 200; i++ {
		res = env.runner.do("POST", "/api/v1/connections/sql-build/resolve", nil)
	}
	if res.status != 507 || res.body["password"] != nil {
		t.Fatalf("a resolve whose record cannot be written: %d %s", res.status, res.raw)
	}
	env.admin.must(200, "GET", "/api/v1/environment-variables/cf_SqlPass", nil)

	if err := os.Remove(filler); err != nil {
		t.Fatal(err)
	}
	waitFor(t, func() bool {
		return env.runner.do("POST", "/api/v1/connections/sql-build/resolve", nil).status == 200
	})
	env.admin.must(201, "POST", "/api/v1/environment-variables", map[string]any{"schemaName": "cf_AfterFull", "displayName": "x", "type": "text", "value": "v"})
	if v := env.admin.must(200, "GET", "/api/v1/audit/verify", nil); v.body["ok"] != true {
		t.Fatalf("audit verify after the full disk: %s", v.raw)
	}
	if strings.Contains(env.inst.Log(), "request failed") {
		t.Error("a full disk was answered as an internal error")
	}
}

// TestHungStoreLeavesOthersServing: while every read of one store hangs
// (runners waiting on it, several secrets at once), the connections of
// another store resolve as before: nothing is shared that one store's
// trouble can exhaust. How long those resolves took is logged, not judged:
// speed belongs to the benchmarks.
func TestHungStoreLeavesOthersServing(t *testing.T) {
	e := metadbtest.Engines(t)[0] // the isolation does not depend on the database
	env := startRotation(t, e)
	env.setUp(t)
	a := env.admin
	// A second connection, on the built-in store, for the same runners.
	a.must(201, "PUT", "/api/v1/stores/local/secrets/local-pass", map[string]string{"value": "local-password"})
	a.must(201, "POST", "/api/v1/environment-variables", map[string]any{"schemaName": "cf_LocalPass", "displayName": "lp", "type": "secret",
		"secretRef": map[string]string{"store": "local", "ref": "local-pass"}})
	a.must(201, "POST", "/api/v1/credentials", map[string]any{"name": "Local", "username": "cf_SqlUser", "password": "cf_LocalPass"})
	a.must(201, "POST", "/api/v1/connections", map[string]any{"name": "local-build", "credential": "Local", "runnerGroup": "build"})
	// Eight more connections on the hanging vault, each its own secret.
	for i := range 8 {
		name := fmt.Sprintf("slow-%d", i)
		env.vault.Set(name, "v")
		a.must(201, "POST", "/api/v1/environment-variables", map[string]any{"schemaName": "cf_Slow" + fmt.Sprint(i), "displayName": name, "type": "secret",
			"secretRef": map[string]string{"store": "kv", "ref": kvPath(name)}})
		a.must(201, "POST", "/api/v1/credentials", map[string]any{"name": name, "username": "cf_SqlUser", "password": "cf_Slow" + fmt.Sprint(i)})
		a.must(201, "POST", "/api/v1/connections", map[string]any{"name": name, "credential": name, "runnerGroup": "build"})
	}
	env.vault.SetLatency(time.Hour)

	ctx, cancel := context.WithCancel(t.Context())
	var hung sync.WaitGroup
	for i := range 8 {
		for range 4 {
			hung.Add(1)
			go func() {
				defer hung.Done()
				req, _ := http.NewRequestWithContext(ctx, http.MethodPost, env.inst.URL+fmt.Sprintf("/api/v1/connections/slow-%d/resolve", i), nil)
				req.Header.Set("Authorization", "Bearer "+env.runner.token)
				if resp, err := http.DefaultClient.Do(req); err == nil {
					resp.Body.Close()
				}
			}()
		}
	}
	waitFor(t, func() bool { return storeCallsRunning() >= 8 })
	var slowest time.Duration
	for range 100 {
		start := time.Now()
		if got := env.runner.must(200, "POST", "/api/v1/connections/local-build/resolve", nil).str("password"); got != "local-password" {
			t.Fatalf("resolve on the healthy store: %q", got)
		}
		slowest = max(slowest, time.Since(start))
	}
	if n := storeCallsRunning(); n < 8 {
		t.Fatalf("the hung reads ended early (%d left): the test did not hold the store hung", n)
	}
	t.Logf("100 resolves on the healthy store while 32 runners waited on the hung one: slowest %v", slowest)
	cancel()
	hung.Wait()
}
