package httpapi_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/credflow/credflow/internal/metadb/metadbtest"
	"github.com/credflow/credflow/internal/secretstore"
	"github.com/credflow/credflow/internal/secretstore/azurekv/fakekv"
	"github.com/credflow/credflow/internal/secretstore/cache"
	"github.com/credflow/credflow/internal/server"
)

// statusOf reads the status field of an object.
func statusOf(a api, path string) string {
	a.t.Helper()
	return a.must(200, "GET", path, nil).str("status")
}

// listedStatus finds an item by its name field in a list and returns its
// status.
func listedStatus(a api, path, nameField, name string) string {
	a.t.Helper()
	r := a.must(200, "GET", path, nil)
	items, _ := r.body["items"].([]any)
	for _, it := range items {
		if m := it.(map[string]any); m[nameField] == name {
			s, _ := m["status"].(string)
			return s
		}
	}
	a.t.Fatalf("%s lists no %s: %s", path, name, r.raw)
	return ""
}

// TestVariableAndCredentialStatus: a variable's status follows what reads
// of its secret said; a credential's is the worse of its two; listing
// says the same as reading one.
func TestVariableAndCredentialStatus(t *testing.T) {
	eachEngine(t, func(t *testing.T, e metadbtest.Engine) {
		env := startRuntime(t, e, cache.Options{})
		m := env.maker
		want := func(step, variable, cred string) {
			t.Helper()
			if got := statusOf(m, "/api/v1/environment-variables/cf_SqlPass"); got != variable {
				t.Errorf("%s: variable status %q, want %q", step, got, variable)
			}
			if got := listedStatus(m, "/api/v1/environment-variables", "schemaName", "cf_SqlPass"); got != variable {
				t.Errorf("%s: listed variable status %q, want %q", step, got, variable)
			}
			if got := statusOf(m, "/api/v1/credentials/SQL"); got != cred {
				t.Errorf("%s: credential status %q, want %q", step, got, cred)
			}
			if got := listedStatus(m, "/api/v1/credentials", "name", "SQL"); got != cred {
				t.Errorf("%s: listed credential status %q, want %q", step, got, cred)
			}
		}
		resolve := func(status int) {
			t.Helper()
			if r := env.runner.do("POST", "/api/v1/connections/sql-build/resolve", nil); r.status != status {
				t.Fatalf("resolve: %d %s, want %d", r.status, r.raw, status)
			}
		}
		if got := statusOf(m, "/api/v1/environment-variables/cf_SqlUser"); got != "ok" {
			t.Errorf("text variable status %q", got)
		}
		want("saved", "ok", "ok")

		env.vault.Disable("sql-pass", "1")
		resolve(422)
		want("disabled in the store", "secret_disabled", "secret_disabled")

		env.vault.Set("sql-pass", "second-password-value")
		resolve(200)
		want("a new enabled version", "ok", "ok")

		// A store that cannot be reached says nothing of the secret.
		env.vault.Fail(secretstore.ErrUnavailable)
		resolve(503)
		want("store unreachable", "ok", "ok")
		env.vault.Fail(nil)

		env.vault.Deny("sql-pass")
		resolve(403)
		want("access denied", "access_denied", "access_denied")

		// A variable never checked (saved before credflow checked secrets)
		// is pending.
		if _, err := env.inst.Server.DB().SQL().Exec(`UPDATE environment_variables SET secret_checked_at = NULL, secret_problem = '' WHERE schema_name = 'cf_SqlPass'`); err != nil {
			t.Fatal(err)
		}
		want("never checked", "pending", "pending")

		// Not found: the built-in store's secret is deleted.
		a := env.admin
		a.must(201, "PUT", "/api/v1/stores/local/secrets/local-pass", map[string]string{"value": "local-password-value"})
		a.must(201, "POST", "/api/v1/environment-variables", map[string]any{"schemaName": "cf_LocalPass", "displayName": "l", "type": "secret",
			"secretRef": map[string]string{"store": "local", "ref": "local-pass"}})
		a.must(201, "POST", "/api/v1/environment-variables", map[string]any{"schemaName": "cf_LocalUser", "displayName": "lu", "type": "text", "value": "svc"})
		a.must(201, "POST", "/api/v1/credentials", map[string]any{"name": "Local", "username": "cf_LocalUser", "password": "cf_LocalPass"})
		a.must(201, "POST", "/api/v1/connections", map[string]any{"name": "local-build", "credential": "Local", "runnerGroup": "build"})
		env.runner.must(200, "POST", "/api/v1/connections/local-build/resolve", nil)
		a.must(204, "DELETE", "/api/v1/stores/local/secrets/local-pass?force=true", nil)
		wantProblem(t, env.runner.do("POST", "/api/v1/connections/local-build/resolve", nil), 422, "secret_not_found", "")
		if got := statusOf(a, "/api/v1/environment-variables/cf_LocalPass"); got != "not_found" {
			t.Errorf("deleted secret: variable status %q", got)
		}
		if got := statusOf(a, "/api/v1/credentials/Local"); got != "not_found" {
			t.Errorf("deleted secret: credential status %q", got)
		}
	})
}

// TestBackgroundCheckRefreshesStatus: the periodic check learns of a
// disabled secret without any resolve.
func TestBackgroundCheckRefreshesStatus(t *testing.T) {
	eachEngine(t, func(t *testing.T, e metadbtest.Engine) {
		env := startRuntime(t, e, cache.Options{}, server.WithCheckInterval(20*time.Millisecond))
		env.vault.Disable("sql-pass", "1")
		deadline := time.Now().Add(20 * time.Second)
		for statusOf(env.maker, "/api/v1/environment-variables/cf_SqlPass") != "secret_disabled" {
			if time.Now().After(deadline) {
				t.Fatal("the background check did not record the disabled secret")
			}
			time.Sleep(20 * time.Millisecond)
		}
		if got := statusOf(env.maker, "/api/v1/credentials/SQL"); got != "secret_disabled" {
			t.Errorf("credential status %q", got)
		}
	})
}

func TestExpiredSecretStatus(t *testing.T) {
	eachEngine(t, func(t *testing.T, e metadbtest.Engine) {
		k := startKeyVault(t, e)
		a := k.admin
		a.must(201, "POST", "/api/v1/stores", map[string]any{"name": "kv", "kind": "azure-keyvault", "settings": k.settings(nil)})
		if _, err := k.vault.Put("old-pass", fakekv.Spec{Value: "x", Expires: time.Now().Add(-time.Hour)}); err != nil {
			t.Fatal(err)
		}
		if _, err := k.vault.Put("new-pass", fakekv.Spec{Value: "y", Expires: time.Now().Add(time.Hour)}); err != nil {
			t.Fatal(err)
		}
		for name, want := range map[string]string{"old-pass": "expired", "new-pass": "ok"} {
			v := a.must(201, "POST", "/api/v1/environment-variables", map[string]any{"displayName": name, "type": "secret",
				"secretRef": map[string]string{"store": "kv", "ref": kvPath(name)}})
			if v.str("status") != want {
				t.Errorf("%s: status %q, want %q: %s", name, v.str("status"), want, v.raw)
			}
		}
	})
}

// TestDisabledCredentialConnectionStatus: a connection whose credential is
// disabled says disabled, in a read and in a list, until it is enabled.
func TestDisabledCredentialConnectionStatus(t *testing.T) {
	eachEngine(t, func(t *testing.T, e metadbtest.Engine) {
		env := startRuntime(t, e, cache.Options{})
		m := env.maker
		env.runner.must(200, "POST", "/api/v1/connections/sql-build/resolve", nil)
		if got := statusOf(m, "/api/v1/connections/sql-build"); got != "connected" {
			t.Fatalf("status %q before disable", got)
		}
		m.must(200, "POST", "/api/v1/credentials/SQL/disable", nil)
		if got := statusOf(m, "/api/v1/connections/sql-build"); got != "disabled" {
			t.Errorf("status %q after disable, want disabled", got)
		}
		if got := listedStatus(m, "/api/v1/connections", "name", "sql-build"); got != "disabled" {
			t.Errorf("listed status %q after disable, want disabled", got)
		}
		if got := listedStatus(env.admin, "/api/v1/connections", "name", "sql-build"); got != "disabled" {
			t.Errorf("admin's list: status %q after disable, want disabled", got)
		}
		m.must(200, "POST", "/api/v1/credentials/SQL/enable", nil)
		if got := statusOf(m, "/api/v1/connections/sql-build"); got != "connected" {
			t.Errorf("status %q after enable, want connected", got)
		}
	})
}

// TestDegradedStore: a Key Vault store whose last check failed is degraded,
// with the failing step, in the store list, the store, and /readyz (which
// stays ready: other stores still work); a passing check makes it ready
// again, and a check that fails only at the named secret does not degrade
// it.
func TestDegradedStore(t *testing.T) {
	eachEngine(t, func(t *testing.T, e metadbtest.Engine) {
		k := startKeyVault(t, e)
		a := k.admin
		wrongTenant := func(s map[string]any) { s["tenantId"] = "99999999-9999-9999-9999-999999999999" }
		c := a.must(201, "POST", "/api/v1/stores", map[string]any{"name": "kv", "kind": "azure-keyvault", "settings": k.settings(wrongTenant)})
		check, _ := c.body["check"].(map[string]any)
		if check == nil || check["ok"] != false {
			t.Fatalf("the check of a wrong tenant passed: %s", c.raw)
		}
		var failing string
		for _, s := range check["steps"].([]any) {
			if st := s.(map[string]any); st["ok"] == false && failing == "" {
				failing = st["name"].(string)
			}
		}
		wantDegraded := func(step string) {
			t.Helper()
			if c.str("status") != "degraded" {
				t.Errorf("created store status %q", c.str("status"))
			}
			r := a.must(200, "GET", "/api/v1/stores", nil)
			var found bool
			for _, it := range r.body["items"].([]any) {
				st := it.(map[string]any)
				if st["name"] != "kv" {
					continue
				}
				found = true
				lc, _ := st["lastCheck"].(map[string]any)
				if st["status"] != "degraded" || lc == nil || lc["step"] != step || lc["ok"] != false || lc["detail"] == "" || lc["checkedAt"] == nil {
					t.Errorf("store list: %v", st)
				}
			}
			if !found {
				t.Fatalf("no kv in %s", r.raw)
			}
			ready := a.must(200, "GET", "/readyz", nil)
			if ready.str("status") != "ready" || !strings.Contains(string(ready.raw), fmt.Sprintf(`{"name":"kv","status":"degraded","step":%q}`, step)) {
				t.Errorf("readyz: %s", ready.raw)
			}
		}
		wantDegraded(failing)

		// Fixed: the update's check passes and the store is ready.
		u := a.must(200, "PATCH", "/api/v1/stores/kv", map[string]any{"settings": k.settings(nil)})
		if u.str("status") != "ready" || u.body["check"] == nil || u.body["check"].(map[string]any)["ok"] != true {
			t.Fatalf("update: %s", u.raw)
		}
		if st := a.must(200, "GET", "/api/v1/stores/kv", nil); st.str("status") != "ready" {
			t.Errorf("after the fix: %s", st.raw)
		}
		if ready := a.must(200, "GET", "/readyz", nil); !strings.Contains(string(ready.raw), `{"name":"kv","status":"ready"}`) {
			t.Errorf("readyz after the fix: %s", ready.raw)
		}

		// A missing secret is not a sick store.
		r := a.must(200, "POST", "/api/v1/stores/kv/check", map[string]string{"secret": "missing"})
		if r.body["ok"] != false {
			t.Fatalf("check of a missing secret: %s", r.raw)
		}
		if st := a.must(200, "GET", "/api/v1/stores/kv", nil); st.str("status") != "ready" {
			t.Errorf("after a check of a missing secret: %s", st.raw)
		}

		// Unreachable: degraded at the first step, after an explicit check.
		refused := closedAddr(t)
		a.must(200, "PATCH", "/api/v1/stores/kv", map[string]any{"settings": k.settings(func(s map[string]any) { s["vaultUrl"] = "https://" + refused + "/" })})
		a.must(200, "POST", "/api/v1/stores/kv/check", nil)
		c = a.must(200, "GET", "/api/v1/stores/kv", nil)
		wantDegraded("reach the vault")
	})
}
