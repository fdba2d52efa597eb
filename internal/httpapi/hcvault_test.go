package httpapi_test

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/credflow/credflow/internal/config"
	"github.com/credflow/credflow/internal/metadb/metadbtest"
	"github.com/credflow/credflow/internal/secretstore/hcvault"
	"github.com/credflow/credflow/internal/secretstore/hcvault/fakevault"
	"github.com/credflow/credflow/internal/server/servertest"
)

// vaultEnv is a server whose hashicorp-vault kind, as production builds it,
// reads from a fake Vault over TLS, trusting it through caFile.
type vaultEnv struct {
	vault    *fakevault.TestServer
	inst     *servertest.Instance
	admin    api
	roleID   string
	secretID string
	dir      string
}

func startVault(t *testing.T, e metadbtest.Engine, opts fakevault.Options) vaultEnv {
	t.Helper()
	v := fakevault.Start(t, opts)
	cfg := config.Defaults()
	cfg.DataDir = t.TempDir()
	cfg.Database = e.DSN(t)
	inst := servertest.StartConfig(t, cfg)
	env := vaultEnv{vault: v, inst: inst, admin: api{t: t, base: inst.URL, token: inst.AdminToken}, dir: t.TempDir()}
	env.roleID = v.AddRole("credflow", "credflow-read")
	env.secretID = v.NewSecretID(env.roleID)
	if err := os.WriteFile(filepath.Join(env.dir, "secret-id"), []byte(env.secretID+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return env
}

func (v vaultEnv) appRoleSettings() map[string]any {
	return map[string]any{"address": v.vault.URL, "namespace": "team-a", "mount": "kv", "caFile": v.vault.CAFile,
		"auth": map[string]any{"kind": "approle", "roleId": v.roleID, "secretIdFile": filepath.Join(v.dir, "secret-id")}}
}

func (v vaultEnv) tokenSettings(t *testing.T) map[string]any {
	file := filepath.Join(v.dir, "token")
	if err := os.WriteFile(file, []byte(v.vault.CreateToken(fakevault.TokenSpec{DisplayName: "credflow", Policies: []string{"credflow-read"}})), 0o600); err != nil {
		t.Fatal(err)
	}
	return map[string]any{"address": v.vault.URL, "namespace": "team-a", "mount": "kv", "caFile": v.vault.CAFile,
		"auth": map[string]any{"kind": "token", "tokenFile": file}}
}

func TestHashiCorpVaultStore(t *testing.T) {
	const canary = "canary-vault-7d41e0c2b9"
	eachEngine(t, func(t *testing.T, e metadbtest.Engine) {
		v := startVault(t, e, fakevault.Options{Namespace: "team-a", Mount: "kv"})
		a := v.admin
		var answers []resp
		keep := func(r resp) resp { answers = append(answers, r); return r }
		v.vault.Put("robots/sql", map[string]string{"username": "svc_reports", "password": canary})
		v.vault.Put("robots/locked", map[string]string{"password": "x"})
		v.vault.Deny("robots/locked")

		for _, tc := range []struct {
			name     string
			settings map[string]any
		}{{"vault", v.appRoleSettings()}, {"vault-token", v.tokenSettings(t)}} {
			c := keep(a.must(201, "POST", "/api/v1/stores", map[string]any{"name": tc.name, "kind": "hashicorp-vault", "settings": tc.settings, "cacheTTL": "0s"}))
			if c.str("status") != "ready" || c.body["check"].(map[string]any)["ok"] != true {
				t.Fatalf("register %s: %s", tc.name, c.raw)
			}
			if auth := stepOf(c, hcvault.StepAuth); auth == nil || !strings.Contains(fmt.Sprint(auth["detail"]), "credflow-read") {
				t.Errorf("the authenticate step does not say as whom: %v", auth)
			}
		}
		if c := keep(a.must(200, "POST", "/api/v1/stores/vault/check", map[string]any{"secret": "robots/sql#password"})); c.body["ok"] != true ||
			stepOf(c, hcvault.StepRead)["ok"] != true {
			t.Fatalf("check %s", c.raw)
		}

		// Variables: the password and the user name from the same secret.
		keep(a.must(201, "POST", "/api/v1/environment-variables", map[string]any{"schemaName": "cf_VaultPass", "displayName": "p", "type": "secret",
			"secretRef": map[string]string{"store": "vault", "ref": "robots/sql#password"}}))
		keep(a.must(201, "POST", "/api/v1/environment-variables", map[string]any{"schemaName": "cf_VaultPin", "displayName": "p1", "type": "secret",
			"secretRef": map[string]string{"store": "vault-token", "ref": "robots/sql@1"}}))
		keep(a.must(201, "POST", "/api/v1/environment-variables", map[string]any{"schemaName": "cf_VaultUser", "displayName": "u", "type": "text", "value": "svc_reports"}))
		for _, tc := range []struct {
			name, ref   string
			status      int
			code, field string
			detail      string
		}{
			{"bad ref", "robots/sql@latest", 422, "validation_failed", "secretRef.ref", "positive whole number"},
			{"missing path", "robots/none", 422, "secret_not_found", "secretRef.ref", `"robots/none#password"`},
			{"missing field", "robots/sql#apikey", 422, "secret_not_found", "secretRef.ref", `"robots/sql#apikey"`},
			{"missing version", "robots/sql@7", 422, "secret_not_found", "secretRef.ref", `"robots/sql#password@7"`},
			{"denied", "robots/locked", 403, "store_access_denied", "", "This variable didn't save properly. User is not authorized to read secrets from 'robots/locked#password'."},
		} {
			t.Run(tc.name, func(t *testing.T) {
				r := keep(a.do("POST", "/api/v1/environment-variables", map[string]any{"displayName": "x", "type": "secret",
					"secretRef": map[string]string{"store": "vault", "ref": tc.ref}}))
				wantProblem(t, r, tc.status, tc.code, tc.field)
				if !strings.Contains(r.str("detail")+" "+fmt.Sprint(r.body["errors"]), tc.detail) {
					t.Errorf("answer does not say %q: %s", tc.detail, r.raw)
				}
				if tc.code == "store_access_denied" && !strings.Contains(r.str("hint"), `path "kv/data/robots/locked" { capabilities = ["read"] }`) {
					t.Errorf("the refusal does not say which policy rule is missing: %s", r.raw)
				}
			})
		}

		keep(a.must(201, "POST", "/api/v1/credentials", map[string]any{"name": "Vault SQL", "username": "cf_VaultUser", "password": "cf_VaultPass"}))
		keep(a.must(201, "POST", "/api/v1/credentials", map[string]any{"name": "Vault pinned", "username": "cf_VaultUser", "password": "cf_VaultPin"}))
		keep(a.must(201, "POST", "/api/v1/runner-groups", map[string]any{"name": "g"}))
		runner := runnerIn(a, "r1", "g")
		keep(a.must(201, "POST", "/api/v1/connections", map[string]any{"name": "vault-sql", "credential": "Vault SQL", "runnerGroup": "g"}))
		keep(a.must(201, "POST", "/api/v1/connections", map[string]any{"name": "vault-pinned", "credential": "Vault pinned", "runnerGroup": "g"}))
		if r := runner.must(200, "POST", "/api/v1/connections/vault-sql/resolve", nil); r.str("password") != canary || r.str("secretVersion") != "1" || r.str("username") != "svc_reports" {
			t.Fatalf("resolve %s", r.raw)
		}

		// A new version in Vault: the next resolve has it (no cache); the
		// pinned one keeps version 1.
		v.vault.Put("robots/sql", map[string]string{"username": "svc_reports", "password": "rotated-1"})
		if r := runner.must(200, "POST", "/api/v1/connections/vault-sql/resolve", nil); r.str("password") != "rotated-1" || r.str("secretVersion") != "2" {
			t.Fatalf("after rotation %s", r.raw)
		}
		if r := runner.must(200, "POST", "/api/v1/connections/vault-pinned/resolve", nil); r.str("password") != canary || r.str("secretVersion") != "1" {
			t.Fatalf("pinned %s", r.raw)
		}
		// With a cache, the old value until the store is changed.
		keep(a.must(200, "PATCH", "/api/v1/stores/vault", map[string]any{"cacheTTL": "10m"}))
		runner.must(200, "POST", "/api/v1/connections/vault-sql/resolve", nil)
		v.vault.Put("robots/sql", map[string]string{"username": "svc_reports", "password": "rotated-2"})
		if r := runner.must(200, "POST", "/api/v1/connections/vault-sql/resolve", nil); r.str("password") != "rotated-1" {
			t.Fatalf("within the cache TTL %s", r.raw)
		}
		keep(a.must(200, "PATCH", "/api/v1/stores/vault", map[string]any{"cacheTTL": "0s"}))
		if r := runner.must(200, "POST", "/api/v1/connections/vault-sql/resolve", nil); r.str("password") != "rotated-2" || r.str("secretVersion") != "3" {
			t.Fatalf("after the cache was dropped %s", r.raw)
		}

		// A version deleted in Vault, and a denied secret, at run time.
		v.vault.DeleteVersion("robots/sql", 1)
		wantProblem(t, keep(runner.do("POST", "/api/v1/connections/vault-pinned/resolve", nil)), 422, "secret_not_found", "")
		v.vault.Deny("robots/sql")
		r := keep(runner.do("POST", "/api/v1/connections/vault-sql/resolve", nil))
		wantProblem(t, r, 403, "store_access_denied", "")
		if !strings.Contains(r.str("detail"), "credflow is not authorized to read secrets from 'robots/sql#password' in store \"vault\"") {
			t.Errorf("denied resolve: %s", r.raw)
		}

		// The AppRole's secret id is revoked: tokens already issued keep
		// working until they expire; then the resolve fails with a clear
		// error and the check names the failing step.
		v.vault.Put("robots/other", map[string]string{"password": "other-1"})
		keep(a.must(201, "POST", "/api/v1/environment-variables", map[string]any{"schemaName": "cf_Other", "displayName": "o", "type": "secret",
			"secretRef": map[string]string{"store": "vault", "ref": "robots/other"}}))
		keep(a.must(201, "POST", "/api/v1/credentials", map[string]any{"name": "Other", "username": "cf_VaultUser", "password": "cf_Other"}))
		keep(a.must(201, "POST", "/api/v1/connections", map[string]any{"name": "other", "credential": "Other", "runnerGroup": "g"}))
		v.vault.RevokeSecretID(v.roleID, v.secretID)
		runner.must(200, "POST", "/api/v1/connections/other/resolve", nil)
		v.vault.ExpireTokens()
		r = keep(runner.do("POST", "/api/v1/connections/other/resolve", nil))
		wantProblem(t, r, 503, "store_auth_failed", "")
		if !strings.Contains(r.str("detail"), `Store "vault" refused credflow's own credentials`) || !strings.Contains(r.str("hint"), "secret id") {
			t.Errorf("revoked secret id: %s", r.raw)
		}
		c := keep(a.must(200, "POST", "/api/v1/stores/vault/check", map[string]any{"secret": "robots/other"}))
		if step := stepOf(c, hcvault.StepAuth); c.body["ok"] != false || step == nil || step["ok"] != false ||
			!strings.Contains(fmt.Sprint(step["detail"]), "refused the AppRole login") || step["hint"] == "" {
			t.Errorf("check after the revocation: %s", c.raw)
		}
		if step := stepOf(c, hcvault.StepRead); step == nil || !strings.Contains(fmt.Sprint(step["detail"]), "not tried") {
			t.Errorf("the read step ran after a failed sign-in: %s", c.raw)
		}
		if reach := stepOf(c, hcvault.StepReach); reach == nil || reach["ok"] != true {
			t.Errorf("reach step: %s", c.raw)
		}

		// The canary is in no answer but the authorized resolve, and never in
		// the log or the database files; nor are the token and secret id.
		for _, path := range []string{"/api/v1/stores", "/api/v1/stores/vault", "/api/v1/environment-variables", "/api/v1/credentials",
			"/api/v1/connections", "/api/v1/audit", "/api/v1/environment-variables/cf_VaultPass"} {
			keep(a.must(200, "GET", path, nil))
		}
		secrets := []string{canary, v.secretID}
		for _, r := range answers {
			for _, s := range secrets {
				if strings.Contains(string(r.raw), s) {
					t.Errorf("an answer shows a secret: %s", r.raw)
				}
			}
		}
		for _, s := range secrets {
			if strings.Contains(v.inst.Log(), s) {
				t.Error("the server log shows a secret")
			}
		}
		_ = filepath.Walk(v.inst.Config.DataDir, func(path string, info os.FileInfo, err error) error {
			if err == nil && !info.IsDir() {
				b, _ := os.ReadFile(path)
				for _, s := range secrets {
					if strings.Contains(string(b), s) {
						t.Errorf("%s holds a secret", filepath.Base(path))
					}
				}
			}
			return nil
		})
	})
}

func TestHashiCorpVaultSettings(t *testing.T) {
	eachEngine(t, func(t *testing.T, e metadbtest.Engine) {
		v := startVault(t, e, fakevault.Options{Namespace: "team-a", Mount: "kv"})
		a := v.admin
		for _, tc := range []struct {
			name  string
			edit  func(map[string]any)
			field string
		}{
			{"http", func(s map[string]any) { s["address"] = strings.Replace(v.vault.URL, "https", "http", 1) }, "settings.address"},
			{"unknown field", func(s map[string]any) { s["region"] = "eu" }, "settings.region"},
			{"inline secret id", func(s map[string]any) {
				s["auth"] = map[string]any{"kind": "approle", "roleId": v.roleID, "secretId": "hunter2"}
			}, "settings.auth.secretId"},
			{"bad auth kind", func(s map[string]any) { s["auth"] = map[string]any{"kind": "userpass"} }, "settings.auth.kind"},
		} {
			t.Run(tc.name, func(t *testing.T) {
				s := v.appRoleSettings()
				tc.edit(s)
				r := a.do("POST", "/api/v1/stores", map[string]any{"name": "x", "kind": "hashicorp-vault", "settings": s})
				wantProblem(t, r, 422, "validation_failed", tc.field)
				if strings.Contains(string(r.raw), "hunter2") {
					t.Error("the refusal repeats an inline secret")
				}
			})
		}
		// An untrusted server: saved, with the failing step named.
		s := v.appRoleSettings()
		delete(s, "caFile")
		c := a.must(201, "POST", "/api/v1/stores", map[string]any{"name": "untrusted", "kind": "hashicorp-vault", "settings": s})
		if step := stepOf(c, hcvault.StepReach); step == nil || step["ok"] != false || !strings.Contains(fmt.Sprint(step["detail"]), "certificate") {
			t.Errorf("untrusted server: %s", c.raw)
		}
		g := a.must(200, "GET", "/api/v1/stores/untrusted", nil)
		if set := g.body["settings"].(map[string]any); set["mount"] != "kv" || set["auth"].(map[string]any)["mount"] != "approle" {
			t.Errorf("public settings %s", g.raw)
		}
	})
}
