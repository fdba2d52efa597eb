package httpapi_test

import (
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"

	"github.com/credflow/credflow/internal/config"
	"github.com/credflow/credflow/internal/metadb/metadbtest"
	"github.com/credflow/credflow/internal/secretstore/azurekv"
	"github.com/credflow/credflow/internal/secretstore/azurekv/fakekv"
	"github.com/credflow/credflow/internal/server"
	"github.com/credflow/credflow/internal/server/servertest"
)

// kvEnv is a server whose azure-keyvault kind reaches a Key Vault emulator
// through the real SDK, signing in with the real managed-identity credential
// against the emulator's App Service token endpoint.
type kvEnv struct {
	vault *fakekv.TestServer
	admin api
	inst  *servertest.Instance
}

func startKeyVault(t *testing.T, e metadbtest.Engine) kvEnv {
	t.Helper()
	// One identity for every emulator: the Azure SDK keeps managed-identity
	// tokens in a cache of the whole process.
	vault := fakekv.Start(t, fakekv.Options{VaultName: "myvault",
		Identity: fakekv.Identity{ClientID: "0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0", ObjectID: "7a6b5c4d-3e2f-1a0b-9c8d-7e6f5a4b3c2d"}})
	t.Setenv("IDENTITY_ENDPOINT", vault.IdentityEndpoint)
	t.Setenv("IDENTITY_HEADER", vault.IdentityHeader())
	cfg := config.Defaults()
	cfg.DataDir = t.TempDir()
	cfg.Database = e.DSN(t)
	kind := server.AzureKeyVault(azurekv.Options{Transport: vault.Client(),
		Retry: &policy.RetryOptions{MaxRetries: 2, RetryDelay: 10 * time.Millisecond, MaxRetryDelay: 3 * time.Second}})
	inst := servertest.StartConfig(t, cfg, server.WithKinds(kind))
	return kvEnv{vault: vault, admin: api{t: t, base: inst.URL, token: inst.AdminToken}, inst: inst}
}

// kvSettings are the settings of a store on the emulator.
func (k kvEnv) settings(edit func(map[string]any)) map[string]any {
	s := map[string]any{
		"tenantId": k.vault.TenantID(), "subscriptionId": fakekv.DefaultSubscriptionID, "resourceGroup": fakekv.DefaultResourceGroup,
		"vaultName": "myvault", "vaultUrl": k.vault.URL, "allowCustomVaultHost": true, "auth": map[string]any{"kind": "managed-identity"},
	}
	if edit != nil {
		edit(s)
	}
	return s
}

func kvPath(secret string) string {
	return fmt.Sprintf("/subscriptions/%s/resourceGroups/%s/providers/Microsoft.KeyVault/vaults/myvault/secrets/%s",
		fakekv.DefaultSubscriptionID, fakekv.DefaultResourceGroup, secret)
}

func stepOf(r resp, name string) map[string]any {
	check, _ := r.body["check"].(map[string]any)
	if check == nil {
		check = r.body
	}
	steps, _ := check["steps"].([]any)
	for _, s := range steps {
		if m := s.(map[string]any); m["name"] == name {
			return m
		}
	}
	return nil
}

func TestKeyVaultStore(t *testing.T) {
	eachEngine(t, func(t *testing.T, e metadbtest.Engine) {
		k := startKeyVault(t, e)
		a := k.admin
		exp := time.Now().Add(30 * 24 * time.Hour).UTC().Truncate(time.Second)
		v1, _ := k.vault.Put("sql-pass", fakekv.Spec{Value: "kv-secret-1", Expires: exp})

		c := a.must(201, "POST", "/api/v1/stores", map[string]any{"name": "kv", "kind": "azure-keyvault", "settings": k.settings(nil), "cacheTTL": "0s"})
		if c.str("status") != "ready" || c.body["check"] == nil || c.body["check"].(map[string]any)["ok"] != true {
			t.Fatalf("register %s", c.raw)
		}
		if tok := stepOf(c, azurekv.StepToken); tok == nil || !strings.Contains(fmt.Sprint(tok["detail"]), k.vault.Identity().ObjectID) {
			t.Errorf("the token step does not name the identity: %v", tok)
		}
		if strings.Contains(string(c.raw), k.vault.IdentityHeader()) {
			t.Error("the store's answer holds the identity header")
		}

		// A secret variable by path, by URI and by its parts.
		byPath := a.must(201, "POST", "/api/v1/environment-variables", map[string]any{"schemaName": "cf_ByPath", "displayName": "p", "type": "secret",
			"secretRef": map[string]string{"store": "kv", "ref": kvPath("sql-pass")}})
		ref := byPath.body["secretRef"].(map[string]any)
		if ref["enabled"] != true || ref["expiresAt"] != exp.Format(time.RFC3339) {
			t.Errorf("the variable does not show the secret's state: %v", ref)
		}
		a.must(201, "POST", "/api/v1/environment-variables", map[string]any{"schemaName": "cf_ByURI", "displayName": "u", "type": "secret",
			"secretRef": map[string]string{"store": "kv", "ref": "https://myvault.vault.azure.net/secrets/sql-pass/" + v1}})
		a.must(201, "POST", "/api/v1/environment-variables", map[string]any{"schemaName": "cf_ByParts", "displayName": "f", "type": "secret",
			"secretRef": map[string]string{"store": "kv", "subscriptionId": fakekv.DefaultSubscriptionID, "resourceGroup": fakekv.DefaultResourceGroup,
				"vaultName": "myvault", "secretName": "sql-pass"}})

		k.vault.Deny("locked")
		k.vault.Set("locked", "x")
		offVersion, _ := k.vault.Put("off", fakekv.Spec{Value: "x", Disabled: true})
		_ = offVersion
		secretVar := func(ref map[string]string) map[string]any {
			ref["store"] = "kv"
			return map[string]any{"displayName": "x", "type": "secret", "secretRef": ref}
		}
		for _, tc := range []struct {
			name        string
			ref         map[string]string
			status      int
			code, field string
			detail      string
		}{
			{"other vault", map[string]string{"ref": strings.Replace(kvPath("sql-pass"), "/myvault/", "/othervault/", 1)}, 422, "validation_failed", "secretRef.ref", `"othervault"`},
			{"other subscription", map[string]string{"ref": strings.Replace(kvPath("sql-pass"), fakekv.DefaultSubscriptionID, "00000000-0000-0000-0000-000000000001", 1)}, 422, "validation_failed", "secretRef.ref", "00000000-0000-0000-0000-000000000001"},
			{"other resource group", map[string]string{"ref": strings.Replace(kvPath("sql-pass"), fakekv.DefaultResourceGroup, "other-rg", 1)}, 422, "validation_failed", "secretRef.ref", `"other-rg"`},
			{"bad secret name", map[string]string{"ref": kvPath("bad_name")}, 422, "validation_failed", "secretRef.ref", ""},
			{"parts and ref", map[string]string{"ref": kvPath("sql-pass"), "secretName": "sql-pass"}, 422, "validation_failed", "secretRef", ""},
			{"missing", map[string]string{"ref": kvPath("nope")}, 422, "secret_not_found", "secretRef.ref", "nope"},
			{"RBAC denied", map[string]string{"ref": kvPath("locked")}, 403, "store_access_denied", "", "This variable didn't save properly. User is not authorized to read secrets from '" + kvPath("locked") + "'."},
			{"disabled", map[string]string{"ref": kvPath("off")}, 422, "secret_disabled", "secretRef.ref", ""},
		} {
			t.Run(tc.name, func(t *testing.T) {
				r := a.do("POST", "/api/v1/environment-variables", secretVar(tc.ref))
				wantProblem(t, r, tc.status, tc.code, tc.field)
				if !strings.Contains(r.str("detail")+" "+fmt.Sprint(r.body["errors"]), tc.detail) {
					t.Errorf("answer does not say %q: %s", tc.detail, r.raw)
				}
				if tc.code == "store_access_denied" && (!strings.Contains(r.str("hint"), "Key Vault Secrets User") || !strings.Contains(r.str("detail"), k.vault.Identity().ObjectID)) {
					t.Errorf("the refusal names neither the role nor the identity: %s", r.raw)
				}
			})
		}
		k.vault.SetFirewallDenied(true)
		wantProblem(t, a.do("POST", "/api/v1/environment-variables", secretVar(map[string]string{"ref": kvPath("sql-pass")})), 403, "store_network_denied", "")
		k.vault.SetFirewallDenied(false)

		// Run time: the latest version at every resolve; a pinned version
		// that is then disabled stops resolving.
		a.must(201, "POST", "/api/v1/environment-variables", map[string]any{"schemaName": "cf_User", "displayName": "user", "type": "text", "value": "svc"})
		a.must(201, "POST", "/api/v1/credentials", map[string]any{"name": "Latest", "username": "cf_User", "password": "cf_ByPath"})
		a.must(201, "POST", "/api/v1/credentials", map[string]any{"name": "Pinned", "username": "cf_User", "password": "cf_ByURI"})
		a.must(201, "POST", "/api/v1/runner-groups", map[string]any{"name": "g"})
		runner := runnerIn(a, "r1", "g")
		a.must(201, "POST", "/api/v1/connections", map[string]any{"name": "latest", "credential": "Latest", "runnerGroup": "g"})
		a.must(201, "POST", "/api/v1/connections", map[string]any{"name": "pinned", "credential": "Pinned", "runnerGroup": "g"})
		if r := runner.must(200, "POST", "/api/v1/connections/latest/resolve", nil); r.str("password") != "kv-secret-1" || r.str("secretVersion") != v1 {
			t.Fatalf("resolve %s", r.raw)
		}
		v2 := k.vault.Set("sql-pass", "kv-secret-2")
		if r := runner.must(200, "POST", "/api/v1/connections/latest/resolve", nil); r.str("password") != "kv-secret-2" || r.str("secretVersion") != v2 {
			t.Fatalf("after rotation %s", r.raw)
		}
		if r := runner.must(200, "POST", "/api/v1/connections/pinned/resolve", nil); r.str("password") != "kv-secret-1" {
			t.Fatalf("pinned %s", r.raw)
		}
		k.vault.Disable("sql-pass", v1)
		wantProblem(t, runner.do("POST", "/api/v1/connections/pinned/resolve", nil), 422, "secret_disabled", "")
		runner.must(200, "POST", "/api/v1/connections/latest/resolve", nil)

		// A throttled vault: 50 runners at once make one read in flight.
		a.must(200, "PATCH", "/api/v1/stores/kv", map[string]any{"cacheTTL": "1m"})
		k.vault.ResetCounters()
		k.vault.Throttle(2, 50*time.Millisecond)
		k.vault.SetLatency(20 * time.Millisecond)
		var wg sync.WaitGroup
		codes := make(chan int, 50)
		for i := 0; i < 50; i++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				codes <- runner.do("POST", "/api/v1/connections/latest/resolve", nil).status
			}()
		}
		wg.Wait()
		close(codes)
		for code := range codes {
			if code != http.StatusOK {
				t.Errorf("a resolve during throttling answered %d", code)
			}
		}
		if n := k.vault.SecretMaxInFlight("sql-pass"); n > 1 {
			t.Errorf("%d reads of one secret were in flight at once", n)
		}
		k.vault.SetLatency(0)
	})
}

func TestKeyVaultChecks(t *testing.T) {
	eachEngine(t, func(t *testing.T, e metadbtest.Engine) {
		k := startKeyVault(t, e)
		a := k.admin
		k.vault.Set("probe", "x")
		// The wrong tenant: saved anyway, with the failing step named.
		wrong := a.must(201, "POST", "/api/v1/stores", map[string]any{"name": "wrong-tenant", "kind": "azure-keyvault",
			"settings": k.settings(func(s map[string]any) { s["tenantId"] = "99999999-9999-9999-9999-999999999999" })})
		st := stepOf(wrong, azurekv.StepTenant)
		if wrong.body["check"].(map[string]any)["ok"] != false || st == nil || st["ok"] != false ||
			!strings.Contains(strings.ToLower(fmt.Sprint(st["detail"])), "wrong tenant") || st["hint"] == "" {
			t.Errorf("wrong tenant not reported: %s", wrong.raw)
		}
		a.must(200, "GET", "/api/v1/stores/wrong-tenant", nil)

		a.must(201, "POST", "/api/v1/stores", map[string]any{"name": "kv", "kind": "azure-keyvault", "settings": k.settings(nil)})
		ok := a.must(200, "POST", "/api/v1/stores/kv/check", map[string]any{"secret": "probe"})
		if ok.body["ok"] != true || stepOf(ok, azurekv.StepRead)["ok"] != true {
			t.Errorf("check %s", ok.raw)
		}
		// The managed-identity token endpoint is down. A user-assigned
		// identity of its own keeps the SDK's process-wide token cache from
		// answering instead of the endpoint.
		k.vault.SetIdentityDown(true)
		a.must(201, "POST", "/api/v1/stores", map[string]any{"name": "kv-down", "kind": "azure-keyvault",
			"settings": k.settings(func(s map[string]any) {
				s["auth"] = map[string]any{"kind": "managed-identity", "clientId": "5e4d3c2b-1a09-4f8e-9d7c-6b5a4f3e2d1c"}
			})})
		down := a.must(200, "POST", "/api/v1/stores/kv-down/check", map[string]any{"secret": "probe"})
		if tok := stepOf(down, azurekv.StepToken); down.body["ok"] != false || tok == nil || tok["ok"] != false || tok["hint"] == "" {
			t.Errorf("identity endpoint down not reported: %s", down.raw)
		}
		k.vault.SetIdentityDown(false)

		// Settings are checked strictly, and nothing sensitive comes back.
		for _, tc := range []struct {
			name  string
			edit  func(map[string]any)
			field string
		}{
			{"bad vault name", func(s map[string]any) { s["vaultName"] = "a_b" }, "settings.vaultName"},
			{"bad tenant", func(s map[string]any) { s["tenantId"] = "not-a-guid" }, "settings.tenantId"},
			{"unknown field", func(s map[string]any) { s["colour"] = "blue" }, ""},
			{"inline secret", func(s map[string]any) {
				s["auth"] = map[string]any{"kind": "client-secret", "clientId": "00000000-0000-0000-0000-000000000002", "clientSecret": "hunter2"}
			}, ""},
			{"bad auth kind", func(s map[string]any) { s["auth"] = map[string]any{"kind": "password"} }, ""},
		} {
			t.Run(tc.name, func(t *testing.T) {
				r := a.do("POST", "/api/v1/stores", map[string]any{"name": "x", "kind": "azure-keyvault", "settings": k.settings(tc.edit)})
				wantProblem(t, r, 422, "validation_failed", tc.field)
				if strings.Contains(string(r.raw), "hunter2") {
					t.Error("the refusal repeats an inline secret")
				}
			})
		}
		l := a.must(200, "GET", "/api/v1/stores/kv", nil)
		if set := l.body["settings"].(map[string]any); set["vaultName"] != "myvault" || set["cloud"] != "public" {
			t.Errorf("public settings %s", l.raw)
		}
	})
}

// TestKeyVaultThrottledManySecrets resolves 20 connections on 20 secrets of
// a throttled vault, 50 clients at once: every resolve succeeds and no
// secret ever has more than one read in flight.
func TestKeyVaultThrottledManySecrets(t *testing.T) {
	eachEngine(t, func(t *testing.T, e metadbtest.Engine) {
		k := startKeyVault(t, e)
		a := k.admin
		a.must(201, "POST", "/api/v1/stores", map[string]any{"name": "kv", "kind": "azure-keyvault", "settings": k.settings(nil), "cacheTTL": "1m"})
		a.must(201, "POST", "/api/v1/environment-variables", map[string]any{"schemaName": "cf_User", "displayName": "user", "type": "text", "value": "svc"})
		a.must(201, "POST", "/api/v1/runner-groups", map[string]any{"name": "g"})
		runner := runnerIn(a, "r1", "g")
		const n = 20
		for i := 0; i < n; i++ {
			name := fmt.Sprintf("s%02d", i)
			k.vault.Set(name, "value-"+name)
			a.must(201, "POST", "/api/v1/environment-variables", map[string]any{"schemaName": "cf_" + name, "displayName": name, "type": "secret",
				"secretRef": map[string]string{"store": "kv", "secretName": name}})
			a.must(201, "POST", "/api/v1/credentials", map[string]any{"name": "C" + name, "username": "cf_User", "password": "cf_" + name})
			a.must(201, "POST", "/api/v1/connections", map[string]any{"name": "c" + name, "credential": "C" + name, "runnerGroup": "g"})
		}
		k.vault.ResetCounters()
		k.vault.Throttle(5, 50*time.Millisecond)
		k.vault.SetLatency(20 * time.Millisecond)
		var wg sync.WaitGroup
		errs := make(chan string, 50)
		for i := 0; i < 50; i++ {
			wg.Add(1)
			go func(i int) {
				defer wg.Done()
				name := fmt.Sprintf("s%02d", i%n)
				r := runner.do("POST", "/api/v1/connections/c"+name+"/resolve", nil)
				if r.status != 200 || r.str("password") != "value-"+name {
					errs <- fmt.Sprintf("%s: %d %s", name, r.status, r.raw)
				}
			}(i)
		}
		wg.Wait()
		close(errs)
		for e := range errs {
			t.Error(e)
		}
		for i := 0; i < n; i++ {
			if m := k.vault.SecretMaxInFlight(fmt.Sprintf("s%02d", i)); m > 1 {
				t.Errorf("secret s%02d had %d reads in flight at once", i, m)
			}
		}
	})
}
