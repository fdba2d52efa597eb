package httpapi_test

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/credflow/credflow/internal/config"
	"github.com/credflow/credflow/internal/metadb/metadbtest"
	"github.com/credflow/credflow/internal/secretstore/cyberarkccp"
	"github.com/credflow/credflow/internal/secretstore/cyberarkccp/fakeccp"
	"github.com/credflow/credflow/internal/server"
	"github.com/credflow/credflow/internal/server/servertest"
)

// ccpEnv is a server whose cyberark-ccp kind reaches a fake CCP over mutual
// TLS, with the certificate files the fake generated.
type ccpEnv struct {
	ccp   *fakeccp.TestServer
	inst  *servertest.Instance
	admin api
}

func startCCP(t *testing.T, e metadbtest.Engine) ccpEnv {
	t.Helper()
	ccp := fakeccp.Start(t, fakeccp.Options{AppID: "credflow-robots"})
	cfg := config.Defaults()
	cfg.DataDir = t.TempDir()
	cfg.Database = e.DSN(t)
	inst := servertest.StartConfig(t, cfg, server.WithKinds(server.CyberArkCCP(cyberarkccp.Options{RetryDelay: 10 * time.Millisecond})))
	return ccpEnv{ccp: ccp, inst: inst, admin: api{t: t, base: inst.URL, token: inst.AdminToken}}
}

func (c ccpEnv) settings(edit func(map[string]any)) map[string]any {
	s := map[string]any{"url": c.ccp.URL, "appId": "credflow-robots", "safe": "Robots", "clientCertFile": c.ccp.ClientCertFile,
		"clientKeyFile": c.ccp.ClientKeyFile, "caFile": c.ccp.CAFile, "timeout": "1s"}
	if edit != nil {
		edit(s)
	}
	return s
}

func TestCyberArkCCPStore(t *testing.T) {
	eachEngine(t, func(t *testing.T, e metadbtest.Engine) {
		c := startCCP(t, e)
		a := c.admin
		b := make([]byte, 8)
		rand.Read(b)
		canary := "ccp-canary-" + hex.EncodeToString(b)
		rotated := canary + "-rotated"
		c.ccp.Set("Robots", "", `sql robot\reports & co`, canary, map[string]string{"UserName": "svc_sql"})
		c.ccp.Set("Robots", "", "twin", "t1", nil)
		c.ccp.Set("Robots", `Root\Other`, "twin", "t2", nil)
		c.ccp.Set("Locked", "", "hidden", "h", nil)
		c.ccp.Deny("Locked")
		var answers []resp
		keep := func(r resp) resp { answers = append(answers, r); return r }

		// Registering runs the check: TLS, the certificate, the Application.
		reg := keep(a.must(201, "POST", "/api/v1/stores", map[string]any{"name": "ccp", "kind": "cyberark-ccp", "settings": c.settings(nil), "cacheTTL": "1m"}))
		if reg.str("status") != "ready" || reg.body["check"].(map[string]any)["ok"] != true {
			t.Fatalf("register %s", reg.raw)
		}
		if st := stepOf(reg, cyberarkccp.StepAuthenticate); st == nil || st["ok"] != true || !strings.Contains(fmt.Sprint(st["detail"]), "credflow-robots") {
			t.Errorf("authenticate step %v", st)
		}
		if set := keep(a.must(200, "GET", "/api/v1/stores/ccp", nil)).body["settings"].(map[string]any); set["folder"] != "Root" || set["path"] != "AIMWebService" {
			t.Errorf("public settings %v", set)
		}
		chk := keep(a.must(200, "POST", "/api/v1/stores/ccp/check", map[string]any{"secret": `sql robot\reports & co`}))
		if chk.body["ok"] != true || stepOf(chk, cyberarkccp.StepRead)["ok"] != true {
			t.Errorf("check %s", chk.raw)
		}

		// A secret variable, a credential and a connection.
		keep(a.must(201, "POST", "/api/v1/environment-variables", map[string]any{"schemaName": "cf_RobotPass", "displayName": "p", "type": "secret",
			"secretRef": map[string]string{"store": "ccp", "ref": `sql robot\reports & co`}}))
		keep(a.must(201, "POST", "/api/v1/environment-variables", map[string]any{"schemaName": "cf_RobotUser", "displayName": "u", "type": "text", "value": "svc_sql"}))
		keep(a.must(201, "POST", "/api/v1/credentials", map[string]any{"name": "Robot", "username": "cf_RobotUser", "password": "cf_RobotPass"}))
		keep(a.must(201, "POST", "/api/v1/runner-groups", map[string]any{"name": "g"}))
		runner := runnerIn(a, "r1", "g")
		keep(a.must(201, "POST", "/api/v1/connections", map[string]any{"name": "robot", "credential": "Robot", "runnerGroup": "g"}))
		if r := runner.must(200, "POST", "/api/v1/connections/robot/resolve", nil); r.str("password") != canary || r.str("username") != "svc_sql" {
			t.Fatalf("resolve %s", r.raw)
		}

		// The CPM changes the password: the cache answers until it is
		// invalidated (here by changing the store's cache).
		c.ccp.SetContent("Robots", "", `sql robot\reports & co`, rotated)
		calls := c.ccp.Calls()
		if r := runner.must(200, "POST", "/api/v1/connections/robot/resolve", nil); r.str("password") != canary || c.ccp.Calls() != calls {
			t.Fatalf("a cached resolve asked CCP again, or changed: %d calls", c.ccp.Calls()-calls)
		}
		keep(a.must(200, "PATCH", "/api/v1/stores/ccp", map[string]any{"cacheTTL": "0s"}))
		if r := runner.must(200, "POST", "/api/v1/connections/robot/resolve", nil); r.str("password") != rotated {
			t.Fatalf("after invalidation the old password is still served")
		}

		// The user name from the same account: a text variable that
		// follows the account's UserName, resolved with the password.
		login := keep(a.must(201, "POST", "/api/v1/environment-variables", map[string]any{"schemaName": "cf_RobotLogin", "displayName": "l", "type": "text",
			"fromStore": map[string]string{"store": "ccp", "ref": `sql robot\reports & co`, "field": "username"}}))
		if fs, _ := login.body["fromStore"].(map[string]any); fs["field"] != "UserName" || login.body["value"] != nil {
			t.Errorf("text variable from the store %s", login.raw)
		}
		keep(a.must(201, "POST", "/api/v1/credentials", map[string]any{"name": "Robot from CyberArk", "username": "cf_RobotLogin", "password": "cf_RobotPass"}))
		keep(a.must(201, "POST", "/api/v1/connections", map[string]any{"name": "robot-ca", "credential": "Robot from CyberArk", "runnerGroup": "g"}))
		if r := runner.must(200, "POST", "/api/v1/connections/robot-ca/resolve", nil); r.str("username") != "svc_sql" || r.str("password") != rotated {
			t.Fatalf("resolve with the user name from the account: %s", r.raw)
		}
		c.ccp.Set("Robots", "", `sql robot\reports & co`, rotated, map[string]string{"UserName": "svc_sql_v2"})
		if r := runner.must(200, "POST", "/api/v1/connections/robot-ca/resolve", nil); r.str("username") != "svc_sql_v2" {
			t.Fatalf("a user name changed in CyberArk did not follow: %s", r.raw)
		}
		for _, tc := range []struct {
			name   string
			body   map[string]any
			status int
			code   string
			field  string
		}{
			{"no such property", map[string]any{"fromStore": map[string]string{"store": "ccp", "ref": "twin", "field": "Database"}}, 422, "validation_failed", "fromStore.field"},
			{"the password", map[string]any{"fromStore": map[string]string{"store": "ccp", "ref": "twin", "field": "Content"}}, 422, "validation_failed", "fromStore.field"},
			{"and a value", map[string]any{"value": "x", "fromStore": map[string]string{"store": "ccp", "ref": "twin", "field": "UserName"}}, 422, "validation_failed", "value"},
			{"missing account", map[string]any{"fromStore": map[string]string{"store": "ccp", "ref": "Robots/nope", "field": "UserName"}}, 422, "secret_not_found", "fromStore.ref"},
			{"a store without properties", map[string]any{"fromStore": map[string]string{"store": "local", "ref": "nope", "field": "UserName"}}, 422, "secret_not_found", "fromStore.ref"},
			{"no such store", map[string]any{"fromStore": map[string]string{"store": "nowhere", "ref": "x", "field": "UserName"}}, 422, "store_not_found", "fromStore.store"},
		} {
			t.Run("fromStore "+tc.name, func(t *testing.T) {
				tc.body["displayName"], tc.body["type"] = "x", "text"
				wantProblem(t, keep(a.do("POST", "/api/v1/environment-variables", tc.body)), tc.status, tc.code, tc.field)
			})
		}
		r := keep(a.do("PATCH", "/api/v1/environment-variables/cf_RobotLogin", map[string]any{"value": "someone"}))
		wantProblem(t, r, 422, "validation_failed", "value")

		secretVar := func(store, ref string) map[string]any {
			return map[string]any{"displayName": "x", "type": "secret", "secretRef": map[string]string{"store": store, "ref": ref}}
		}
		for _, tc := range []struct {
			name, ref   string
			status      int
			code, field string
			says        []string
		}{
			{"missing object", "Robots/nope", 422, "secret_not_found", "secretRef.ref", []string{"Robots/nope", "no account matches", "member of the safe"}},
			{"denied object", "Locked/hidden", 422, "secret_not_found", "secretRef.ref", []string{"Locked/hidden", "no account matches", "member of the safe"}},
			{"ambiguous query", "query:Safe=Robots;Object=twin", 422, "ambiguous_reference", "secretRef.ref", []string{"matches 2 secrets"}},
			{"bad reference", "a/b/c/d", 422, "validation_failed", "secretRef.ref", []string{"three"}},
		} {
			t.Run(tc.name, func(t *testing.T) {
				r := keep(a.do("POST", "/api/v1/environment-variables", secretVar("ccp", tc.ref)))
				wantProblem(t, r, tc.status, tc.code, tc.field)
				for _, s := range tc.says {
					if !strings.Contains(r.str("detail")+" "+fmt.Sprint(r.body["errors"]), s) {
						t.Errorf("answer does not say %q: %s", s, r.raw)
					}
				}
			})
		}

		// The Application fails CCP's authentication check: saving and
		// resolving are refused, each with its message.
		c.ccp.FailAuthentication(true)
		r = keep(a.do("POST", "/api/v1/environment-variables", secretVar("ccp", "twin")))
		wantProblem(t, r, 403, "store_access_denied", "")
		if !strings.Contains(r.str("detail"), "This variable didn't save properly. User is not authorized to read secrets from 'twin'.") ||
			!strings.Contains(r.str("hint"), "Applications") {
			t.Errorf("authentication refusal %s", r.raw)
		}
		r = keep(runner.do("POST", "/api/v1/connections/robot/resolve", nil))
		wantProblem(t, r, 403, "store_access_denied", "")
		c.ccp.FailAuthentication(false)

		// A password change that outlasts the request.
		c.ccp.Changing("Robots", "", `sql robot\reports & co`, 1000)
		r = keep(runner.do("POST", "/api/v1/connections/robot/resolve", nil))
		wantProblem(t, r, 503, "store_unavailable", "")
		if !strings.Contains(r.str("detail"), "password change in progress") {
			t.Errorf("password change %s", r.raw)
		}
		c.ccp.Changing("Robots", "", `sql robot\reports & co`, 2)
		if r := runner.must(200, "POST", "/api/v1/connections/robot/resolve", nil); r.str("password") != rotated {
			t.Fatalf("a short change was not waited out")
		}

		// An untrusted client certificate: the store is saved, its check
		// names the step, and reads are refused as the web server refused.
		bad := keep(a.must(201, "POST", "/api/v1/stores", map[string]any{"name": "ccp-untrusted", "kind": "cyberark-ccp",
			"settings": c.settings(func(s map[string]any) {
				s["clientCertFile"], s["clientKeyFile"] = c.ccp.UntrustedCertFile, c.ccp.UntrustedKeyFile
			})}))
		if st := stepOf(bad, cyberarkccp.StepAuthenticate); st == nil || st["ok"] != false || !strings.Contains(fmt.Sprint(st["hint"]), "client certificate") {
			t.Errorf("untrusted certificate check %s", bad.raw)
		}
		r = keep(a.do("POST", "/api/v1/environment-variables", secretVar("ccp-untrusted", "twin")))
		wantProblem(t, r, 403, "store_access_denied", "")
		if !strings.Contains(r.str("detail"), "refused credflow's client certificate") {
			t.Errorf("untrusted certificate %s", r.raw)
		}

		// A missing client certificate file: nothing is sent, the check
		// names the file and the answer the setting.
		gone := filepath.Join(t.TempDir(), "gone.pem")
		miss := keep(a.must(201, "POST", "/api/v1/stores", map[string]any{"name": "ccp-nocert", "kind": "cyberark-ccp",
			"settings": c.settings(func(s map[string]any) { s["clientCertFile"] = gone })}))
		if st := stepOf(miss, cyberarkccp.StepFiles); st == nil || st["ok"] != false || !strings.Contains(fmt.Sprint(st["detail"]), gone) {
			t.Errorf("missing certificate check %s", miss.raw)
		}
		r = keep(a.do("POST", "/api/v1/environment-variables", secretVar("ccp-nocert", "twin")))
		wantProblem(t, r, 503, "store_unavailable", "")
		if !strings.Contains(r.str("detail"), "clientCertFile") {
			t.Errorf("missing certificate %s", r.raw)
		}

		// Settings are strict; the key is never taken inline.
		r = keep(a.do("POST", "/api/v1/stores", map[string]any{"name": "x", "kind": "cyberark-ccp",
			"settings": c.settings(func(s map[string]any) { s["clientKey"] = canary })}))
		wantProblem(t, r, 422, "validation_failed", "settings.clientKey")

		keep(a.must(200, "GET", "/api/v1/audit", nil))
		keep(a.must(200, "GET", "/api/v1/environment-variables/cf_RobotPass", nil))
		for _, r := range answers {
			if strings.Contains(string(r.raw), canary) {
				t.Errorf("an answer other than a resolve holds the password: %s", r.raw)
			}
		}
		if strings.Contains(c.inst.Log(), canary) {
			t.Error("the server log holds the password")
		}
	})
}
