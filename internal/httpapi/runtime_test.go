package httpapi_test

import (
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/credflow/credflow/internal/config"
	"github.com/credflow/credflow/internal/metadb/metadbtest"
	"github.com/credflow/credflow/internal/secretstore"
	"github.com/credflow/credflow/internal/secretstore/cache"
	"github.com/credflow/credflow/internal/secretstore/memstore"
	"github.com/credflow/credflow/internal/server"
	"github.com/credflow/credflow/internal/server/servertest"
)

// runtimeEnv is a server with a remote-like store "vault" (in memory, with
// fault switches), a maker who owns a credential on it, a connection bound
// to runner group "build", and runners in and out of that group.
type runtimeEnv struct {
	inst                 *servertest.Instance
	vault                *memstore.Store
	admin, maker, runner api
	otherRunner          api
}

func startRuntime(t testing.TB, e metadbtest.Engine, opts cache.Options, more ...server.Option) runtimeEnv {
	t.Helper()
	vault := memstore.New()
	cfg := config.Defaults()
	cfg.DataDir = t.TempDir()
	cfg.Database = e.DSN(t)
	inst := servertest.StartConfig(t, cfg, append([]server.Option{server.WithStore("vault", "memory", vault, opts)}, more...)...)
	admin := api{t: t, base: inst.URL, token: inst.AdminToken}
	env := runtimeEnv{inst: inst, vault: vault, admin: admin}
	env.maker = newUser(admin, "mona", "maker")
	admin.must(200, "PUT", "/api/v1/stores/vault/grants/user:mona", map[string]any{})
	admin.must(201, "POST", "/api/v1/runner-groups", map[string]any{"name": "build"})
	admin.must(201, "POST", "/api/v1/runner-groups", map[string]any{"name": "deploy"})
	env.runner = runnerIn(admin, "build-01", "build")
	env.otherRunner = runnerIn(admin, "deploy-01", "deploy")

	vault.Set("sql-pass", "first-password-value")
	m := env.maker
	m.must(201, "POST", "/api/v1/environment-variables", map[string]any{"schemaName": "cf_SqlUser", "displayName": "u", "type": "text", "value": "svc_build"})
	m.must(201, "POST", "/api/v1/environment-variables", map[string]any{"schemaName": "cf_SqlPass", "displayName": "p", "type": "secret",
		"secretRef": map[string]string{"store": "vault", "ref": "sql-pass"}})
	m.must(201, "POST", "/api/v1/credentials", map[string]any{"name": "SQL", "username": "cf_SqlUser", "password": "cf_SqlPass"})
	c := m.must(201, "POST", "/api/v1/connections", map[string]any{"name": "sql-build", "credential": "SQL", "runnerGroup": "build"})
	if c.str("status") != "unknown" || c.str("owner") != "mona" || c.str("credential") != "SQL" || c.str("runnerGroup") != "build" {
		t.Fatalf("connection %s", c.raw)
	}
	return env
}

func runnerIn(admin api, name, group string) api {
	admin.t.Helper()
	u := admin.must(201, "POST", "/api/v1/users", map[string]any{"name": name, "role": "runner", "runnerGroup": group})
	if u.str("runnerGroup") != group {
		admin.t.Fatalf("runner %s", u.raw)
	}
	tok := admin.must(201, "POST", "/api/v1/tokens", map[string]any{"name": "machine", "user": name})
	return api{t: admin.t, base: admin.base, token: tok.str("token")}
}

func TestResolve(t *testing.T) {
	eachEngine(t, func(t *testing.T, e metadbtest.Engine) {
		env := startRuntime(t, e, cache.Options{TTL: time.Minute})
		r := env.runner.must(200, "POST", "/api/v1/connections/sql-build/resolve", nil)
		if r.str("username") != "svc_build" || r.str("password") != "first-password-value" || r.str("credential") != "SQL" ||
			r.str("secretVersion") != "1" || r.body["stale"] != false || r.str("resolvedAt") == "" {
			t.Fatalf("resolve %s", r.raw)
		}
		// Only runners of the connection's group; everyone else sees no connection.
		for name, who := range map[string]api{"other group's runner": env.otherRunner, "maker": env.maker, "admin": env.admin} {
			t.Run(name, func(t *testing.T) {
				wantProblem(t, who.as(t).do("POST", "/api/v1/connections/sql-build/resolve", nil), 404, "not_found", "")
			})
		}
		wantProblem(t, env.runner.do("POST", "/api/v1/connections/nope/resolve", nil), 404, "not_found", "")
		// Runners reach nothing else.
		wantProblem(t, env.runner.do("GET", "/api/v1/credentials", nil), 403, "forbidden", "")
		wantProblem(t, env.runner.do("GET", "/api/v1/connections", nil), 403, "forbidden", "")

		// Status and propagation.
		c := env.maker.must(200, "GET", "/api/v1/connections/sql-build", nil)
		if c.str("status") != "connected" || c.str("lastSecretVersion") != "1" || c.str("lastResolvedAt") == "" {
			t.Errorf("status after resolve %s", c.raw)
		}
		rs := env.maker.must(200, "GET", "/api/v1/connections/sql-build/runners", nil)
		if !strings.Contains(string(rs.raw), `"runner":"build-01","secretVersion":"1"`) {
			t.Errorf("runners %s", rs.raw)
		}
		// Dependencies both ways.
		if d := env.maker.must(200, "GET", "/api/v1/credentials/SQL/dependencies", nil); !strings.Contains(string(d.raw), `"name":"sql-build"`) {
			t.Errorf("credential deps %s", d.raw)
		}
		if d := env.maker.must(200, "GET", "/api/v1/environment-variables/cf_SqlPass/dependencies", nil); !strings.Contains(string(d.raw), `"connections":[{"id"`) {
			t.Errorf("variable deps %s", d.raw)
		}

		// Every resolve is audited, allowed or denied, without the value.
		l := env.admin.must(200, "GET", "/api/v1/audit?action=connection.resolve&limit=200", nil)
		var outcomes []string
		for _, it := range l.body["items"].([]any) {
			m := it.(map[string]any)
			outcomes = append(outcomes, fmt.Sprintf("%s %s %s", m["actor"], m["outcome"], m["resource"]))
			if m["actor"] == "build-01" && m["outcome"] == "success" && !strings.Contains(fmt.Sprint(m["reason"]), "secret version 1") {
				t.Errorf("success record without the secret version: %v", m)
			}
		}
		got := strings.Join(outcomes, "\n")
		for _, want := range []string{"build-01 success connection:sql-build credential:SQL", "deploy-01 denied connection:sql-build", "mona denied connection:sql-build"} {
			if !strings.Contains(got, want) {
				t.Errorf("no audit record %q in\n%s", want, got)
			}
		}
		if strings.Contains(string(l.raw), "first-password-value") || strings.Contains(env.inst.Log(), "first-password-value") {
			t.Error("a resolved value reached the audit trail or the log")
		}
	})
}

func TestResolveRevocationAndKillSwitch(t *testing.T) {
	eachEngine(t, func(t *testing.T, e metadbtest.Engine) {
		env := startRuntime(t, e, cache.Options{TTL: time.Hour})
		admin := env.admin
		// A second maker's connection to a credential shared with them.
		nick := newUser(admin, "nick", "maker")
		env.maker.must(200, "PUT", "/api/v1/credentials/SQL/shares/user:nick", map[string]any{"role": "user"})
		nick.must(201, "POST", "/api/v1/connections", map[string]any{"name": "nick-build", "credential": "SQL", "runnerGroup": "build"})
		env.runner.must(200, "POST", "/api/v1/connections/nick-build/resolve", nil) // now cached
		gets := env.vault.Gets()

		// Removing the share stops the next resolve, cached value or not.
		env.maker.must(200, "DELETE", "/api/v1/credentials/SQL/shares/user:nick", nil)
		wantProblem(t, env.runner.do("POST", "/api/v1/connections/nick-build/resolve", nil), 403, "owner_lost_access", "")
		env.runner.must(200, "POST", "/api/v1/connections/sql-build/resolve", nil)

		// The kill switch: co-owners and admins only, effective at once.
		wantProblem(t, nick.do("POST", "/api/v1/credentials/SQL/disable", nil), 404, "not_found", "")
		d := env.maker.must(200, "POST", "/api/v1/credentials/SQL/disable", nil)
		if d.body["enabled"] != false {
			t.Fatalf("disable %s", d.raw)
		}
		wantProblem(t, env.runner.do("POST", "/api/v1/connections/sql-build/resolve", nil), 423, "credential_disabled", "")
		admin.must(200, "POST", "/api/v1/credentials/SQL/enable", nil)
		env.runner.must(200, "POST", "/api/v1/connections/sql-build/resolve", nil)
		if env.vault.Gets() != gets {
			t.Errorf("cached resolves called the store %d times", env.vault.Gets()-gets)
		}

		// Deleting the credential: refused while connections use it, or
		// forced, which breaks them.
		r := env.maker.do("DELETE", "/api/v1/credentials/SQL", nil)
		wantProblem(t, r, 409, "in_use", "")
		if !strings.Contains(r.str("detail"), "sql-build") || !strings.Contains(r.str("detail"), "nick-build") {
			t.Errorf("in_use detail %q", r.str("detail"))
		}
		wantProblem(t, env.maker.do("DELETE", "/api/v1/credentials/SQL?force=maybe", nil), 400, "invalid_request", "force")
		env.maker.must(204, "DELETE", "/api/v1/credentials/SQL?force=true", nil)
		if c := env.maker.must(200, "GET", "/api/v1/connections/sql-build", nil); c.str("status") != "broken" {
			t.Errorf("after forced delete %s", c.raw)
		}
		wantProblem(t, env.runner.do("POST", "/api/v1/connections/sql-build/resolve", nil), 409, "connection_broken", "")
	})
}

func TestResolveCachingAndRotation(t *testing.T) {
	eachEngine(t, func(t *testing.T, e metadbtest.Engine) {
		env := startRuntime(t, e, cache.Options{TTL: time.Hour})
		env.vault.SetLatency(100 * time.Millisecond)
		before := env.vault.Gets()
		var wg sync.WaitGroup
		statuses := make(chan int, 100)
		for i := 0; i < 100; i++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				statuses <- env.runner.do("POST", "/api/v1/connections/sql-build/resolve", nil).status
			}()
		}
		wg.Wait()
		close(statuses)
		for s := range statuses {
			if s != 200 {
				t.Fatalf("a concurrent resolve answered %d", s)
			}
		}
		if n := env.vault.Gets() - before; n != 1 {
			t.Fatalf("100 concurrent cold resolves made %d store calls, want 1", n)
		}
		env.vault.SetLatency(0)

		// The built-in store: a new version reaches the next resolve at once.
		admin := env.admin
		putSecret(admin, "local-pass", "local-v1")
		admin.must(201, "POST", "/api/v1/environment-variables", map[string]any{"schemaName": "cf_LocalPass", "displayName": "l", "type": "secret",
			"secretRef": map[string]string{"store": "local", "ref": "local-pass"}})
		admin.must(201, "POST", "/api/v1/credentials", map[string]any{"name": "Local", "username": "cf_SqlUser", "password": "cf_LocalPass"})
		admin.must(201, "POST", "/api/v1/connections", map[string]any{"name": "local-build", "credential": "Local", "runnerGroup": "build"})
		if r := env.runner.must(200, "POST", "/api/v1/connections/local-build/resolve", nil); r.str("password") != "local-v1" {
			t.Fatalf("first %s", r.raw)
		}
		putSecret(admin, "local-pass", "local-v2")
		if r := env.runner.must(200, "POST", "/api/v1/connections/local-build/resolve", nil); r.str("password") != "local-v2" || r.str("secretVersion") != "2" {
			t.Fatalf("after rotation %s", r.raw)
		}
		rs := admin.must(200, "GET", "/api/v1/connections/local-build/runners", nil)
		if !strings.Contains(string(rs.raw), `"secretVersion":"2"`) {
			t.Errorf("propagation %s", rs.raw)
		}
	})
}

func TestResolveStoreFailures(t *testing.T) {
	cases := []struct {
		name   string
		opts   cache.Options
		setup  func(v *memstore.Store)
		status int
		code   string
	}{
		{"unavailable", cache.Options{}, func(v *memstore.Store) { v.Fail(secretstore.ErrUnavailable) }, 503, "store_unavailable"},
		{"throttled", cache.Options{}, func(v *memstore.Store) { v.Fail(&secretstore.ThrottledError{RetryAfter: 3 * time.Second}) }, 503, "store_throttled"},
		{"timeout", cache.Options{CallTimeout: 30 * time.Millisecond}, func(v *memstore.Store) { v.SetLatency(time.Second) }, 504, "store_timeout"},
		{"secret gone", cache.Options{}, func(v *memstore.Store) { v.Disable("sql-pass", "1") }, 422, "secret_disabled"},
		{"denied", cache.Options{}, func(v *memstore.Store) { v.Deny("sql-pass") }, 403, "store_access_denied"},
		{"firewall", cache.Options{}, func(v *memstore.Store) { v.Fail(secretstore.ErrNetworkDenied) }, 403, "store_network_denied"},
	}
	eachEngine(t, func(t *testing.T, e metadbtest.Engine) {
		for _, c := range cases {
			t.Run(c.name, func(t *testing.T) {
				env := startRuntime(t, e, c.opts)
				c.setup(env.vault)
				r := env.runner.do("POST", "/api/v1/connections/sql-build/resolve", nil)
				wantProblem(t, r, c.status, c.code, "")
				if c.code == "store_throttled" && (r.body["retryAfter"] != 3.0 || r.header.Get("Retry-After") != "3") {
					t.Errorf("throttled without retryAfter: %s", r.raw)
				}
				if strings.Contains(string(r.raw), "memstore") {
					t.Errorf("the store's own error reached the client: %s", r.raw)
				}
				conn := env.maker.must(200, "GET", "/api/v1/connections/sql-build", nil)
				if strings.Contains(string(conn.raw), "memstore") || !strings.Contains(conn.str("lastError"), `"sql-pass"`) {
					t.Errorf("lastError should name the secret but not repeat the store's text: %s", conn.raw)
				}
				if conn.str("status") != "error" || conn.str("lastError") == "" || conn.str("lastErrorAt") == "" {
					t.Errorf("status after failure %s", conn.raw)
				}
				l := env.admin.must(200, "GET", "/api/v1/audit?action=connection.resolve&order=newest&limit=1", nil)
				if strings.Contains(string(l.raw), "memstore") || !strings.Contains(string(l.raw), `\"sql-pass\"`) || !strings.Contains(string(l.raw), `"outcome":"failure"`) {
					t.Errorf("the audit record should say what failed in credflow's words, not the store's: %s", l.raw)
				}
			})
		}
		t.Run("stale if error", func(t *testing.T) {
			env := startRuntime(t, e, cache.Options{TTL: time.Millisecond, StaleIfError: time.Hour})
			env.runner.must(200, "POST", "/api/v1/connections/sql-build/resolve", nil)
			time.Sleep(5 * time.Millisecond)
			env.vault.Fail(secretstore.ErrUnavailable)
			r := env.runner.must(200, "POST", "/api/v1/connections/sql-build/resolve", nil)
			if r.body["stale"] != true || r.str("password") != "first-password-value" {
				t.Fatalf("stale resolve %s", r.raw)
			}
			l := env.admin.must(200, "GET", "/api/v1/audit?action=connection.resolve&actor=build-01", nil)
			if !strings.Contains(string(l.raw), "stale") {
				t.Errorf("stale resolve not flagged in the audit trail: %s", l.raw)
			}
		})
	})
}

func TestConnectionRules(t *testing.T) {
	eachEngine(t, func(t *testing.T, e metadbtest.Engine) {
		env := startRuntime(t, e, cache.Options{TTL: time.Minute})
		other := newUser(env.admin, "otto", "maker")
		for _, c := range []struct {
			name        string
			who         api
			body        map[string]any
			status      int
			code, field string
		}{
			{"taken", env.maker, map[string]any{"name": "SQL-BUILD", "credential": "SQL", "runnerGroup": "build"}, 409, "name_taken", ""},
			{"credential not visible", other, map[string]any{"name": "x", "credential": "SQL", "runnerGroup": "build"}, 422, "validation_failed", "credential"},
			{"no runner group", env.maker, map[string]any{"name": "x", "credential": "SQL", "runnerGroup": "nope"}, 422, "validation_failed", "runnerGroup"},
			{"missing fields", env.maker, map[string]any{}, 422, "validation_failed", "name"},
			{"runner", env.runner, map[string]any{"name": "x", "credential": "SQL", "runnerGroup": "build"}, 403, "forbidden", ""},
		} {
			t.Run(c.name, func(t *testing.T) {
				wantProblem(t, c.who.as(t).do("POST", "/api/v1/connections", c.body), c.status, c.code, c.field)
			})
		}
		// Connections are their owner's (and admins').
		wantProblem(t, other.do("GET", "/api/v1/connections/sql-build", nil), 404, "not_found", "")
		wantProblem(t, other.do("DELETE", "/api/v1/connections/sql-build", nil), 404, "not_found", "")
		if l := other.must(200, "GET", "/api/v1/connections", nil); len(l.body["items"].([]any)) != 0 {
			t.Errorf("other maker lists %s", l.raw)
		}
		if l := env.admin.must(200, "GET", "/api/v1/connections", nil); len(l.body["items"].([]any)) != 1 {
			t.Errorf("admin lists %s", l.raw)
		}
		wantProblem(t, env.admin.do("DELETE", "/api/v1/runner-groups/build", nil), 409, "in_use", "")
		env.maker.must(204, "DELETE", "/api/v1/connections/sql-build", nil)
		wantProblem(t, env.maker.do("GET", "/api/v1/connections/sql-build", nil), 404, "not_found", "")
	})
}

// TestBackgroundConnectionCheck lets the periodic check find a failing
// store and, later, a healthy one, with no resolve in between.
func TestBackgroundConnectionCheck(t *testing.T) {
	eachEngine(t, func(t *testing.T, e metadbtest.Engine) {
		env := startRuntime(t, e, cache.Options{}, server.WithCheckInterval(50*time.Millisecond))
		waitStatus := func(want string) resp {
			t.Helper()
			deadline := time.Now().Add(5 * time.Second)
			for {
				c := env.maker.must(200, "GET", "/api/v1/connections/sql-build", nil)
				if c.str("status") == want || time.Now().After(deadline) {
					return c
				}
				time.Sleep(20 * time.Millisecond)
			}
		}
		if c := waitStatus("connected"); c.str("status") != "connected" || c.str("lastSecretVersion") != "1" {
			t.Fatalf("check did not connect: %s", c.raw)
		}
		env.vault.Fail(secretstore.ErrUnavailable)
		if c := waitStatus("error"); c.str("status") != "error" || !strings.Contains(c.str("lastError"), "unavailable") {
			t.Fatalf("check did not see the failure: %s", c.raw)
		}
		env.vault.Fail(nil)
		env.vault.Set("sql-pass", "rotated")
		if c := waitStatus("connected"); c.str("status") != "connected" || c.str("lastSecretVersion") != "2" {
			t.Fatalf("check did not see the recovery: %s", c.raw)
		}
		if strings.Contains(env.inst.Log(), "rotated") {
			t.Error("a value reached the log")
		}
	})
}

// TestReplicasSeeChangesAtOnce runs two servers on one PostgreSQL database:
// a share removed through one stops resolves through the other, whose
// caches hold the old answer, as soon as the change is announced.
func TestReplicasSeeChangesAtOnce(t *testing.T) {
	for _, e := range metadbtest.Engines(t) {
		if e.Name != "postgres" {
			continue // one SQLite file has one server
		}
		t.Run(e.Name, func(t *testing.T) {
			env := startRuntime(t, e, cache.Options{TTL: time.Hour})
			cfg := env.inst.Config
			cfg.DataDir = t.TempDir()
			cfg.MasterKeyFile = filepath.Join(env.inst.Config.DataDir, "master.key")
			vault2 := memstore.New()
			vault2.Set("sql-pass", "first-password-value")
			replica := servertest.StartConfig(t, cfg, server.WithStore("vault", "memory", vault2, cache.Options{TTL: time.Hour}))
			viaReplica := env.runner
			viaReplica.base = replica.URL

			nick := newUser(env.admin, "nick", "maker")
			env.maker.must(200, "PUT", "/api/v1/credentials/SQL/shares/user:nick", map[string]any{"role": "user"})
			nick.must(201, "POST", "/api/v1/connections", map[string]any{"name": "nick-build", "credential": "SQL", "runnerGroup": "build"})
			viaReplica.must(200, "POST", "/api/v1/connections/nick-build/resolve", nil) // the replica caches its plan

			env.maker.must(200, "DELETE", "/api/v1/credentials/SQL/shares/user:nick", nil)
			start := time.Now()
			for {
				r := viaReplica.do("POST", "/api/v1/connections/nick-build/resolve", nil)
				if r.status == 403 {
					wantProblem(t, r, 403, "owner_lost_access", "")
					break
				}
				if time.Since(start) > 2*time.Second {
					t.Fatalf("the replica still resolves %v after the share was removed: %d", time.Since(start), r.status)
				}
				time.Sleep(5 * time.Millisecond)
			}
			t.Logf("the replica stopped resolving %v after the share was removed", time.Since(start))
		})
	}
}

// TestReplicasDropRotatedLocalSecrets writes a new version of a built-in
// store secret through one replica and resolves it through another, whose
// cache held the old version.
func TestReplicasDropRotatedLocalSecrets(t *testing.T) {
	for _, e := range metadbtest.Engines(t) {
		if e.Name != "postgres" {
			continue // one SQLite file has one server
		}
		t.Run(e.Name, func(t *testing.T) {
			env := startRuntime(t, e, cache.Options{TTL: time.Hour})
			cfg := env.inst.Config
			cfg.DataDir = t.TempDir()
			cfg.MasterKeyFile = filepath.Join(env.inst.Config.DataDir, "master.key")
			replica := servertest.StartConfig(t, cfg, server.WithStore("vault", "memory", memstore.New(), cache.Options{}))
			viaReplica := env.runner
			viaReplica.base = replica.URL

			admin := env.admin
			putSecret(admin, "local-pass", "local-v1")
			admin.must(201, "POST", "/api/v1/environment-variables", map[string]any{"schemaName": "cf_LocalPass", "displayName": "l", "type": "secret",
				"secretRef": map[string]string{"store": "local", "ref": "local-pass"}})
			admin.must(201, "POST", "/api/v1/credentials", map[string]any{"name": "Local", "username": "cf_SqlUser", "password": "cf_LocalPass"})
			admin.must(201, "POST", "/api/v1/connections", map[string]any{"name": "local-build", "credential": "Local", "runnerGroup": "build"})
			if r := viaReplica.must(200, "POST", "/api/v1/connections/local-build/resolve", nil); r.str("password") != "local-v1" {
				t.Fatalf("first %s", r.raw)
			}
			putSecret(admin, "local-pass", "local-v2") // through the first server
			start := time.Now()
			for {
				r := viaReplica.must(200, "POST", "/api/v1/connections/local-build/resolve", nil)
				if r.str("password") == "local-v2" {
					break
				}
				if time.Since(start) > 2*time.Second {
					t.Fatalf("the replica still serves the old version %v after the rotation", time.Since(start))
				}
				time.Sleep(5 * time.Millisecond)
			}
			t.Logf("the replica served the new version %v after the rotation", time.Since(start))
		})
	}
}
