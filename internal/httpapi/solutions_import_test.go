package httpapi_test

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/credflow/credflow/internal/metadb/metadbtest"
	"github.com/credflow/credflow/internal/secretstore/cache"
	"github.com/credflow/credflow/internal/server"
)

// pkgOf crafts a package by hand: a manifest for the components (each a
// map with kind and name, written as its file).
func pkgOf(t testing.TB, name, version string, comps ...map[string]any) []byte {
	t.Helper()
	type entry struct{ Kind, Name, File string }
	var listed []map[string]string
	entries := []zipEntry{}
	for i, c := range comps {
		kind := c["kind"].(string)
		body := map[string]any{}
		for k, v := range c {
			if k != "kind" {
				body[k] = v
			}
		}
		n := fmt.Sprint(c["schemaName"], c["name"])
		file := fmt.Sprintf("components/%03d-%s.json", i+1, kind)
		b, _ := json.Marshal(body)
		entries = append(entries, zipEntry{name: file, body: b})
		if kind == "variable" {
			n = c["schemaName"].(string)
		} else {
			n = c["name"].(string)
		}
		listed = append(listed, map[string]string{"kind": kind, "name": n, "file": file})
	}
	m, _ := json.Marshal(map[string]any{"formatVersion": 1, "name": name, "version": version, "publisher": "cf", "description": "",
		"components": listed, "requires": []any{}, "withoutValues": false})
	return craftZip(t, append([]zipEntry{{name: "solution.json", body: m}}, entries...)...)
}

// problemCodes maps each errors[].field of a problem to its code.
func problemCodes(r resp) map[string]string {
	out := map[string]string{}
	errs, _ := r.body["errors"].([]any)
	for _, e := range errs {
		m := e.(map[string]any)
		out[m["field"].(string)] += fmt.Sprint(m["code"]) + " "
	}
	return out
}

func TestSolutionImportRules(t *testing.T) {
	eachEngine(t, func(t *testing.T, e metadbtest.Engine) {
		_, src := start(t, e)
		putSecret(src, "sql-pass", "src-canary-1")
		buildReporting(src, "local", "sql-pass")
		src.must(201, "POST", "/api/v1/environment-variables", map[string]any{"schemaName": "cf_FlowName", "displayName": "Flow", "type": "text", "value": "nightly"})
		src.must(201, "POST", "/api/v1/solutions", map[string]any{"name": "Flows", "version": "1.0.0.0", "publisher": "cf"})
		src.must(200, "POST", "/api/v1/solutions/Flows/components", map[string]any{"kind": "variable", "name": "cf_FlowName"})
		flows := src.must(200, "POST", "/api/v1/solutions/Flows/components", map[string]any{"kind": "credential", "name": "SQL reporting"})
		for _, c := range flows.body["components"].([]any) {
			if c := c.(map[string]any); c["name"] != "cf_FlowName" && c["required"] != true {
				t.Errorf("%v lives in Reporting and should be a required component of Flows", c)
			}
		}
		reportingV1 := exportZip(src, "Reporting", "")
		flowsZip := exportZip(src, "Flows", "")
		if f := unzip(t, flowsZip)["solution.json"]; !strings.Contains(f, `"requires": [`) || !strings.Contains(f, "SQL reporting") {
			t.Fatalf("Flows does not name what it requires: %s", f)
		}

		_, dst := start(t, e)
		putSecret(dst, "sql-pass", "dst-canary-1")

		t.Run("missing dependencies are each named", func(t *testing.T) {
			r := importZip(dst.as(t), flowsZip, nil, "")
			wantProblem(t, r, 422, "import_invalid", "")
			codes := problemCodes(r)
			for _, c := range []string{"variable cf_SQLUser", "variable cf_SQLPassword", "credential SQL reporting"} {
				if !strings.Contains(codes[c], "missing_dependency") || !strings.Contains(r.str("detail"), c) {
					t.Errorf("%s not named as missing: %s", c, r.raw)
				}
			}
			dst.as(t).must(404, "GET", "/api/v1/environment-variables/cf_FlowName", nil)
		})

		mia := newUser(dst, "mia", "maker")
		t.Run("an importer without the store grant", func(t *testing.T) {
			for _, q := range []string{"", "?deferValidation=true"} {
				r := importZip(mia.as(t), reportingV1, nil, q)
				wantProblem(t, r, 403, "import_invalid", "variable cf_SQLPassword")
				if codes := problemCodes(r); codes["variable cf_SQLPassword"] != "store_not_granted " || len(codes) != 1 {
					t.Errorf("problems %v", codes)
				}
				mia.as(t).must(404, "GET", "/api/v1/environment-variables/cf_SQLUser", nil)
				dst.as(t).must(404, "GET", "/api/v1/environment-variables/cf_SQLUser", nil)
			}
		})

		t.Run("every problem at once, nothing written", func(t *testing.T) {
			dst.must(200, "PUT", "/api/v1/stores/local/grants/user:mia", map[string]any{"prefix": "team-a-"})
			oscar := newUser(dst, "oscar", "maker")
			oscar.must(201, "POST", "/api/v1/environment-variables", map[string]any{"schemaName": "cf_Taken", "displayName": "t", "type": "text", "value": "o"})
			pkg := pkgOf(t, "Broken", "1.0.0.0",
				map[string]any{"kind": "variable", "schemaName": "1bad", "displayName": "b", "description": "", "type": "text", "value": "v"},
				map[string]any{"kind": "variable", "schemaName": "cf_Nowhere", "displayName": "n", "description": "", "type": "secret", "secretRef": map[string]string{"store": "nowhere", "ref": "x"}},
				map[string]any{"kind": "variable", "schemaName": "cf_Taken", "displayName": "t", "description": "", "type": "text", "value": "mine"},
				map[string]any{"kind": "variable", "schemaName": "cf_Leak", "displayName": "l", "description": "", "type": "secret", "secretRef": map[string]string{"store": "local", "ref": "team-a-x"}},
				map[string]any{"kind": "variable", "schemaName": "cf_NoGrant", "displayName": "g", "description": "", "type": "secret", "secretRef": map[string]string{"store": "local", "ref": "sql-pass"}},
				map[string]any{"kind": "variable", "schemaName": "cf_Fine", "displayName": "f", "description": "", "type": "text", "value": "ok"},
			)
			settings := map[string]any{"variables": map[string]any{"cf_Leak": map[string]any{"value": "hunter2"}, "cf_Ghost": map[string]any{"value": "x"}}}
			r := importZip(mia.as(t), pkg, settings, "")
			wantProblem(t, r, 422, "import_invalid", "")
			codes := problemCodes(r)
			for field, code := range map[string]string{
				"variable 1bad":       "validation_failed",
				"variable cf_Nowhere": "store_not_found",
				"variable cf_Taken":   "name_taken",
				"variable cf_Leak":    "validation_failed",
				"variable cf_NoGrant": "store_not_granted",
				"settings":            "validation_failed",
			} {
				if !strings.Contains(codes[field], code) {
					t.Errorf("%s: code %q, want %s", field, codes[field], code)
				}
			}
			if strings.Contains(string(r.raw), "hunter2") {
				t.Error("the answer repeats the value the settings gave a secret variable")
			}
			mia.as(t).must(404, "GET", "/api/v1/environment-variables/cf_Fine", nil)
			if got := oscar.as(t).must(200, "GET", "/api/v1/environment-variables/cf_Taken", nil).body["value"]; got != "o" {
				t.Errorf("someone else's variable was changed: %v", got)
			}
		})

		t.Run("upgrade in place and downgrade", func(t *testing.T) {
			a := dst.as(t)
			first := importZip(a, reportingV1, nil, "")
			if first.status != 200 {
				t.Fatalf("import 1.0: %d %s", first.status, first.raw)
			}
			id := a.must(200, "GET", "/api/v1/environment-variables/cf_SQLUser", nil).str("id")
			src.must(200, "PATCH", "/api/v1/environment-variables/cf_SQLUser", map[string]any{"displayName": "SQL User v2"})
			src.must(200, "PATCH", "/api/v1/solutions/Reporting", map[string]any{"version": "1.1.0.0"})
			v11 := exportZip(src, "Reporting", "")
			up := importZip(a, v11, nil, "")
			if up.status != 200 || up.body["previousVersion"] != "1.0.0.0" || fmt.Sprint(up.body["updated"]) != "[variable cf_SQLUser]" {
				t.Fatalf("upgrade: %d %s", up.status, up.raw)
			}
			v := a.must(200, "GET", "/api/v1/environment-variables/cf_SQLUser", nil)
			if v.str("id") != id || v.str("displayName") != "SQL User v2" {
				t.Errorf("not upgraded in place: %s", v.raw)
			}
			wantProblem(t, importZip(a, reportingV1, nil, ""), 409, "solution_downgrade", "")
			if v := a.must(200, "GET", "/api/v1/solutions/Reporting", nil); v.str("version") != "1.1.0.0" {
				t.Errorf("a refused downgrade changed the version: %s", v.raw)
			}
			down := importZip(a, reportingV1, nil, "?allowDowngrade=true")
			if down.status != 200 || a.must(200, "GET", "/api/v1/environment-variables/cf_SQLUser", nil).str("displayName") != "SQL User" {
				t.Fatalf("allowed downgrade: %d %s", down.status, down.raw)
			}
			// Flows' dependencies are there now.
			if r := importZip(a, flowsZip, nil, ""); r.status != 200 || fmt.Sprint(r.body["created"]) != "[variable cf_FlowName]" {
				t.Fatalf("Flows after Reporting: %d %s", r.status, r.raw)
			}
		})

		t.Run("deferred validation completes later", func(t *testing.T) {
			a := dst.as(t)
			putSecret(src, "later-pass", "src-later")
			src.must(201, "POST", "/api/v1/environment-variables", map[string]any{"schemaName": "cf_LaterPass", "displayName": "Later", "type": "secret",
				"secretRef": map[string]string{"store": "local", "ref": "later-pass"}})
			src.must(201, "POST", "/api/v1/solutions", map[string]any{"name": "Later", "version": "1.0.0.0", "publisher": "cf"})
			src.must(200, "POST", "/api/v1/solutions/Later/components", map[string]any{"kind": "variable", "name": "cf_LaterPass"})
			later := exportZip(src, "Later", "")

			r := importZip(a, later, nil, "")
			wantProblem(t, r, 422, "import_invalid", "variable cf_LaterPass")
			if codes := problemCodes(r); codes["variable cf_LaterPass"] != "secret_not_found " {
				t.Errorf("problems %v", codes)
			}
			r = importZip(a, later, nil, "?deferValidation=true")
			if r.status != 200 || fmt.Sprint(r.body["pendingValidation"]) != "[variable cf_LaterPass]" {
				t.Fatalf("deferred import: %d %s", r.status, r.raw)
			}
			if again := importZip(a, later, nil, "?deferValidation=true"); again.body["unchanged"] != true {
				t.Errorf("a second deferred import is not a no-op: %s", again.raw)
			}
			if st := a.must(200, "GET", "/api/v1/environment-variables/cf_LaterPass", nil).str("status"); st != "pending-validation" {
				t.Fatalf("status %q", st)
			}
			a.must(201, "POST", "/api/v1/credentials", map[string]any{"name": "later", "username": "cf_SQLUser", "password": "cf_LaterPass"})
			a.must(201, "POST", "/api/v1/runner-groups", map[string]any{"name": "agents"})
			a.must(201, "POST", "/api/v1/users", map[string]any{"name": "agent-1", "role": "runner", "runnerGroup": "agents"})
			runner := api{t: t, base: a.base, token: a.must(201, "POST", "/api/v1/tokens", map[string]any{"name": "t", "user": "agent-1"}).str("token")}
			a.must(201, "POST", "/api/v1/connections", map[string]any{"name": "later", "credential": "later", "runnerGroup": "agents"})
			wantProblem(t, runner.do("POST", "/api/v1/connections/later/resolve", nil), 409, "pending_validation", "")

			wantProblem(t, a.do("POST", "/api/v1/environment-variables/cf_LaterPass/validate", nil), 422, "secret_not_found", "")
			putSecret(a, "later-pass", "dst-later")
			if v := a.must(200, "POST", "/api/v1/environment-variables/cf_LaterPass/validate", nil); v.str("status") != "ok" {
				t.Fatalf("validated: %s", v.raw)
			}
			if got := runner.must(200, "POST", "/api/v1/connections/later/resolve", nil).str("password"); got != "dst-later" {
				t.Errorf("resolved %q", got)
			}
		})
	})
}

// TestDeferredValidationCompletedInTheBackground: a variable imported
// pending validation stays pending while the periodic check of a
// connection fails to read its secret, and the first read that succeeds
// completes it, with no one running env validate.
func TestDeferredValidationCompletedInTheBackground(t *testing.T) {
	eachEngine(t, func(t *testing.T, e metadbtest.Engine) {
		env := startRuntime(t, e, cache.Options{}, server.WithCheckInterval(30*time.Millisecond))
		m := env.maker
		pkg := pkgOf(t, "Later", "1.0.0.0", map[string]any{"kind": "variable", "schemaName": "cf_LaterPass", "displayName": "Later",
			"description": "", "type": "secret", "secretRef": map[string]string{"store": "vault", "ref": "later-pass"}})
		if r := importZip(m, pkg, nil, "?deferValidation=true"); r.status != 200 {
			t.Fatalf("import: %d %s", r.status, r.raw)
		}
		m.must(201, "POST", "/api/v1/credentials", map[string]any{"name": "later", "username": "cf_SqlUser", "password": "cf_LaterPass"})
		m.must(201, "POST", "/api/v1/connections", map[string]any{"name": "later-build", "credential": "later", "runnerGroup": "build"})
		time.Sleep(150 * time.Millisecond) // a few checks that fail to read the secret
		if st := statusOf(m, "/api/v1/environment-variables/cf_LaterPass"); st != "pending-validation" {
			t.Fatalf("a failed background read changed the state to %q", st)
		}
		wantProblem(t, env.runner.do("POST", "/api/v1/connections/later-build/resolve", nil), 409, "pending_validation", "")
		env.vault.Set("later-pass", "later-value")
		deadline := time.Now().Add(10 * time.Second)
		for statusOf(m, "/api/v1/environment-variables/cf_LaterPass") != "ok" {
			if time.Now().After(deadline) {
				t.Fatal("the background check did not complete the validation")
			}
			time.Sleep(20 * time.Millisecond)
		}
		if got := env.runner.must(200, "POST", "/api/v1/connections/later-build/resolve", nil).str("password"); got != "later-value" {
			t.Errorf("resolved %q", got)
		}
	})
}

// TestDeletingTheOwnerOfASolution: a user who owns a solution is deleted
// only with transferTo, which hands the solution over with the rest.
func TestDeletingTheOwnerOfASolution(t *testing.T) {
	eachEngine(t, func(t *testing.T, e metadbtest.Engine) {
		_, a := start(t, e)
		mia := newUser(a, "mia", "maker")
		mia.must(201, "POST", "/api/v1/solutions", map[string]any{"name": "Mine", "version": "1.0.0.0", "publisher": "cf"})
		r := a.do("DELETE", "/api/v1/users/mia", nil)
		wantProblem(t, r, 409, "in_use", "")
		if !strings.Contains(r.str("detail"), "1 solution") {
			t.Errorf("the refusal does not count the solution: %s", r.raw)
		}
		a.must(204, "DELETE", "/api/v1/users/mia?transferTo=admin", nil)
		if got := a.must(200, "GET", "/api/v1/solutions/Mine", nil).str("owner"); got != "admin" {
			t.Errorf("owner %q after the hand-over", got)
		}
		if items := a.must(200, "GET", "/api/v1/audit?action=solution.owner.transfer", nil).body["items"].([]any); len(items) != 1 {
			t.Errorf("hand-over audit records: %v", items)
		}
	})
}
