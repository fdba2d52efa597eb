package httpapi_test

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/credflow/credflow/internal/config"
	"github.com/credflow/credflow/internal/metadb/metadbtest"
	"github.com/credflow/credflow/internal/secretstore/conjur"
	"github.com/credflow/credflow/internal/secretstore/conjur/fakeconjur"
	"github.com/credflow/credflow/internal/server/servertest"
)

const conjurLogin = "host/credflow/robots"

// conjurEnv is a server with the built-in cyberark-conjur kind and a fake
// Conjur that trusts its host by an API key in a file.
type conjurEnv struct {
	conjur  *fakeconjur.TestServer
	inst    *servertest.Instance
	admin   api
	key     string
	keyFile string
	// answers keeps every answer's body, to look for values that must
	// not be there.
	answers []string
}

func startConjur(t *testing.T, e metadbtest.Engine) *conjurEnv {
	t.Helper()
	cj := fakeconjur.Start(t, fakeconjur.Options{Account: "acme"})
	key := cj.AddHost(conjurLogin)
	keyFile := filepath.Join(t.TempDir(), "conjur-api-key")
	if err := os.WriteFile(keyFile, []byte(key+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg := config.Defaults()
	cfg.DataDir = t.TempDir()
	cfg.Database = e.DSN(t)
	inst := servertest.StartConfig(t, cfg)
	return &conjurEnv{conjur: cj, inst: inst, admin: api{t: t, base: inst.URL, token: inst.AdminToken}, key: key, keyFile: keyFile}
}

func (c *conjurEnv) settings(edit func(map[string]any)) map[string]any {
	s := map[string]any{"url": c.conjur.URL, "account": "acme", "login": conjurLogin, "apiKeyFile": c.keyFile, "caFile": c.conjur.CAFile}
	if edit != nil {
		edit(s)
	}
	return s
}

// keep records an answer for the leak check.
func (c *conjurEnv) keep(r resp) resp {
	c.answers = append(c.answers, string(r.raw))
	return r
}

func TestConjurStore(t *testing.T) {
	eachEngine(t, func(t *testing.T, e metadbtest.Engine) {
		const (
			canary  = "canary-conjur-Zq81-value"
			rotated = "canary-conjur-rotated-7Hk2"
			id      = "robots/payroll db/password"
		)
		c := startConjur(t, e)
		a := c.admin
		v1 := c.conjur.Set(id, canary)

		// Register: the check runs, step by step.
		reg := c.keep(a.must(201, "POST", "/api/v1/stores", map[string]any{"name": "cj", "kind": "cyberark-conjur", "settings": c.settings(nil), "cacheTTL": "0s", "staleIfError": "0s"}))
		if reg.str("status") != "ready" || reg.body["check"].(map[string]any)["ok"] != true {
			t.Fatalf("register %s", reg.raw)
		}
		for _, step := range []string{conjur.StepConnect, conjur.StepAuthn} {
			if s := stepOf(reg, step); s == nil || s["ok"] != true {
				t.Errorf("step %q: %v", step, s)
			}
		}
		got := c.keep(a.must(200, "GET", "/api/v1/stores/cj", nil))
		if set := got.body["settings"].(map[string]any); set["apiKeyFile"] != c.keyFile || set["login"] != conjurLogin {
			t.Errorf("public settings %s", got.raw)
		}
		chk := c.keep(a.must(200, "POST", "/api/v1/stores/cj/check", map[string]any{"secret": id}))
		if rd := stepOf(chk, conjur.StepRead); chk.body["ok"] != true || rd == nil || !strings.Contains(fmt.Sprint(rd["detail"]), "version "+v1) {
			t.Errorf("check %s", chk.raw)
		}

		// A secret variable, a credential, a connection; resolve.
		c.keep(a.must(201, "POST", "/api/v1/environment-variables", map[string]any{"schemaName": "cf_User", "displayName": "u", "type": "text", "value": "svc_payroll"}))
		c.keep(a.must(201, "POST", "/api/v1/environment-variables", map[string]any{"schemaName": "cf_CjPass", "displayName": "p", "type": "secret",
			"secretRef": map[string]string{"store": "cj", "ref": id}}))
		c.keep(a.must(201, "POST", "/api/v1/environment-variables", map[string]any{"schemaName": "cf_CjPinned", "displayName": "p1", "type": "secret",
			"secretRef": map[string]string{"store": "cj", "ref": id + "#" + v1}}))
		c.keep(a.must(201, "POST", "/api/v1/credentials", map[string]any{"name": "Payroll", "username": "cf_User", "password": "cf_CjPass"}))
		c.keep(a.must(201, "POST", "/api/v1/credentials", map[string]any{"name": "Payroll pinned", "username": "cf_User", "password": "cf_CjPinned"}))
		c.keep(a.must(201, "POST", "/api/v1/runner-groups", map[string]any{"name": "robots"}))
		runner := runnerIn(a, "robot-01", "robots")
		c.keep(a.must(201, "POST", "/api/v1/connections", map[string]any{"name": "payroll", "credential": "Payroll", "runnerGroup": "robots"}))
		c.keep(a.must(201, "POST", "/api/v1/connections", map[string]any{"name": "payroll-pinned", "credential": "Payroll pinned", "runnerGroup": "robots"}))
		if r := runner.must(200, "POST", "/api/v1/connections/payroll/resolve", nil); r.str("password") != canary || r.str("username") != "svc_payroll" || r.str("secretVersion") != v1 {
			t.Fatalf("resolve %s", r.raw)
		}

		// The value changes in Conjur: with no cache, the next resolve
		// has it; the pinned connection keeps its version.
		v2 := c.conjur.Set(id, rotated)
		if r := runner.must(200, "POST", "/api/v1/connections/payroll/resolve", nil); r.str("password") != rotated || r.str("secretVersion") != v2 {
			t.Fatalf("after the change %s", r.raw)
		}
		if r := runner.must(200, "POST", "/api/v1/connections/payroll-pinned/resolve", nil); r.str("password") != canary {
			t.Fatalf("pinned %s", r.raw)
		}
		// With a cache, the change shows after the TTL.
		c.keep(a.must(200, "PATCH", "/api/v1/stores/cj", map[string]any{"cacheTTL": "1s"}))
		runner.must(200, "POST", "/api/v1/connections/payroll/resolve", nil)
		v3 := c.conjur.Set(id, canary)
		if r := runner.must(200, "POST", "/api/v1/connections/payroll/resolve", nil); r.str("password") != rotated {
			t.Fatalf("within the TTL %s", r.raw)
		}
		time.Sleep(1100 * time.Millisecond)
		if r := runner.must(200, "POST", "/api/v1/connections/payroll/resolve", nil); r.str("password") != canary || r.str("secretVersion") != v3 {
			t.Fatalf("after the TTL %s", r.raw)
		}
		c.keep(a.must(200, "PATCH", "/api/v1/stores/cj", map[string]any{"cacheTTL": "0s"}))

		// The token expires mid-run: renewed, the resolve succeeds. (The
		// change of cache opened the store anew: a first resolve gets it
		// a token.)
		runner.must(200, "POST", "/api/v1/connections/payroll/resolve", nil)
		c.conjur.ExpireTokens()
		c.conjur.ResetCounters()
		if r := runner.must(200, "POST", "/api/v1/connections/payroll/resolve", nil); r.str("password") != canary || r.body["stale"] != false {
			t.Fatalf("after the token expired %s", r.raw)
		}
		if n := c.conjur.Calls(fakeconjur.RouteResource); n != 2 {
			t.Errorf("%d reads of the variable's versions after the token expired, want 2 (refused, then with the new token)", n)
		}
		if n := c.conjur.Calls(fakeconjur.RouteAuthn); n != 1 {
			t.Errorf("%d authentications after the token expired, want 1", n)
		}

		// Saving a variable: a missing and a denied variable.
		c.conjur.Set("robots/locked", canary)
		c.conjur.Deny("robots/locked")
		c.conjur.Set("robots/hidden", canary)
		c.conjur.Hide("robots/hidden")
		for _, tc := range []struct {
			name, ref   string
			status      int
			code, field string
			parts       []string
		}{
			{"missing", "robots/nope", 422, "secret_not_found", "secretRef.ref", []string{`"robots/nope"`, "does not exist", "no privilege", conjurLogin}},
			{"no privilege", "robots/hidden", 422, "secret_not_found", "secretRef.ref", []string{"does not exist", "no privilege"}},
			{"read without execute", "robots/locked", 403, "store_access_denied", "",
				[]string{"This variable didn't save properly. User is not authorized to read secrets from 'robots/locked'.", "execute"}},
			{"bad version", "robots/locked#0", 422, "validation_failed", "secretRef.ref", []string{"version"}},
		} {
			t.Run(tc.name, func(t *testing.T) {
				r := c.keep(a.do("POST", "/api/v1/environment-variables", map[string]any{"displayName": "x", "type": "secret",
					"secretRef": map[string]string{"store": "cj", "ref": tc.ref}}))
				wantProblem(t, r, tc.status, tc.code, tc.field)
				for _, p := range tc.parts {
					if !strings.Contains(r.str("detail")+" "+r.str("hint")+" "+fmt.Sprint(r.body["errors"]), p) {
						t.Errorf("answer does not say %q: %s", p, r.raw)
					}
				}
			})
		}

		// At run time: denied, then missing, each with its own problem.
		c.conjur.Deny(id)
		r := c.keep(runner.do("POST", "/api/v1/connections/payroll/resolve", nil))
		wantProblem(t, r, 403, "store_access_denied", "")
		if !strings.Contains(r.str("detail"), "not authorized to read secrets from '"+id+"'") || !strings.Contains(r.str("hint"), "execute") {
			t.Errorf("denied resolve %s", r.raw)
		}
		c.conjur.Hide(id)
		r = c.keep(runner.do("POST", "/api/v1/connections/payroll/resolve", nil))
		wantProblem(t, r, 422, "secret_not_found", "")
		if !strings.Contains(r.str("hint"), "no privilege") {
			t.Errorf("missing resolve %s", r.raw)
		}

		// A rotated API key credflow does not have: the resolve fails with
		// the store refusing credflow's credentials, and the check names the
		// failing step.
		c.conjur.RotateAPIKey(conjurLogin)
		c.conjur.ExpireTokens()
		r = c.keep(runner.do("POST", "/api/v1/connections/payroll-pinned/resolve", nil))
		wantProblem(t, r, 503, "store_auth_failed", "")
		if !strings.Contains(r.str("hint"), "API key") {
			t.Errorf("a refused API key is not named: %s", r.raw)
		}
		bad := c.keep(a.must(200, "POST", "/api/v1/stores/cj/check", map[string]any{"secret": id}))
		if st := stepOf(bad, conjur.StepAuthn); bad.body["ok"] != false || st == nil || st["ok"] != false || !strings.Contains(fmt.Sprint(st["hint"]), "API key") {
			t.Errorf("check with a refused key %s", bad.raw)
		}
		if st := c.keep(a.must(200, "GET", "/api/v1/stores/cj", nil)); st.str("status") != "degraded" {
			t.Errorf("store after a failed check %s", st.raw)
		}

		// Settings are strict, and an inline key is neither kept nor
		// repeated.
		for _, tc := range []struct {
			name  string
			edit  func(map[string]any)
			field string
		}{
			{"inline key", func(s map[string]any) { delete(s, "apiKeyFile"); s["apiKey"] = c.key }, "settings.apiKey"},
			{"plain http", func(s map[string]any) { s["url"] = strings.Replace(c.conjur.URL, "https:", "http:", 1) }, "settings.url"},
			{"no key", func(s map[string]any) { delete(s, "apiKeyFile") }, "settings.apiKeyFile"},
		} {
			t.Run(tc.name, func(t *testing.T) {
				r := c.keep(a.do("POST", "/api/v1/stores", map[string]any{"name": "cj2", "kind": "cyberark-conjur", "settings": c.settings(tc.edit)}))
				wantProblem(t, r, 422, "validation_failed", tc.field)
			})
		}

		// Neither the values nor the API key are in any answer but the
		// authorized resolves, in the server's log or in its files.
		secrets := []string{canary, rotated, c.key}
		for _, ans := range c.answers {
			for _, s := range secrets {
				if strings.Contains(ans, s) {
					t.Errorf("an answer holds a secret: %s", ans)
				}
			}
		}
		for _, s := range secrets {
			if strings.Contains(c.inst.Log(), s) {
				t.Errorf("the server log holds a secret")
			}
		}
		_ = filepath.WalkDir(c.inst.Config.DataDir, func(path string, d os.DirEntry, err error) error {
			if err != nil || d.IsDir() {
				return err
			}
			b, err := os.ReadFile(path)
			if err != nil {
				return err
			}
			for _, s := range secrets {
				if strings.Contains(string(b), s) {
					t.Errorf("%s holds a secret", filepath.Base(path))
				}
			}
			return nil
		})
	})
}
