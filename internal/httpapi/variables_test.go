package httpapi_test

import (
	"fmt"
	"net/url"
	"strings"
	"testing"

	"github.com/credflow/credflow/internal/config"
	"github.com/credflow/credflow/internal/metadb/metadbtest"
)

func putSecret(a api, name, value string) {
	a.t.Helper()
	r := a.do("PUT", "/api/v1/stores/local/secrets/"+name, map[string]string{"value": value})
	if r.status != 200 && r.status != 201 {
		a.t.Fatalf("put secret %s: %d %s", name, r.status, r.raw)
	}
}

func createText(a api, display, value string) resp {
	a.t.Helper()
	return a.must(201, "POST", "/api/v1/environment-variables", map[string]any{"displayName": display, "type": "text", "value": value})
}

func createSecretVar(a api, display, ref string) resp {
	a.t.Helper()
	return a.must(201, "POST", "/api/v1/environment-variables", map[string]any{
		"displayName": display, "type": "secret", "secretRef": map[string]string{"store": "local", "ref": ref}})
}

func TestVariableSchemaNames(t *testing.T) {
	eachEngine(t, func(t *testing.T, e metadbtest.Engine) {
		_, a := start(t, e)
		var got []string
		for i := 0; i < 3; i++ {
			got = append(got, createText(a, "SQL Password!", "x").str("schemaName"))
		}
		if strings.Join(got, ",") != "cf_SQLPassword,cf_SQLPassword2,cf_SQLPassword3" {
			t.Fatalf("generated names %v", got)
		}
		// The smallest free suffix is reused after a delete.
		a.must(204, "DELETE", "/api/v1/environment-variables/cf_SQLPassword2", nil)
		if n := createText(a, "SQL Password", "x").str("schemaName"); n != "cf_SQLPassword2" {
			t.Errorf("after delete got %s, want cf_SQLPassword2", n)
		}
		// '_' in a name is literal, not a wildcard: cf_A_B does not take cf_AxB's place.
		a.must(201, "POST", "/api/v1/environment-variables", map[string]any{"schemaName": "cf_AxB", "displayName": "other", "type": "text", "value": ""})
		if n := createText(a, "A_B", "x").str("schemaName"); n != "cf_AB" {
			t.Errorf("got %s, want cf_AB", n)
		}
		// A name the user gave that is taken, in any case, is a conflict.
		r := a.do("POST", "/api/v1/environment-variables", map[string]any{"schemaName": "CF_SQLPASSWORD", "displayName": "x", "type": "text", "value": "v"})
		wantProblem(t, r, 409, "name_taken", "")
		// Very long display names are cut to fit, suffix included.
		long := strings.Repeat("N", 100)
		n1 := createText(a, long, "x").str("schemaName")
		n2 := createText(a, long, "x").str("schemaName")
		if len(n1) != 100 || len(n2) != 100 || !strings.HasSuffix(n2, "2") || n1 == n2 {
			t.Errorf("long names %q (%d) and %q (%d)", n1, len(n1), n2, len(n2))
		}
	})
}

func TestVariablePrefixIsConfigurable(t *testing.T) {
	eachEngine(t, func(t *testing.T, e metadbtest.Engine) {
		_, a := start(t, e, func(c *config.Config) { c.Prefix = "acme" })
		if n := createText(a, "Build user", "ci").str("schemaName"); n != "acme_Builduser" {
			t.Errorf("got %s", n)
		}
	})
}

func TestVariableValidation(t *testing.T) {
	eachEngine(t, func(t *testing.T, e metadbtest.Engine) {
		_, a := start(t, e)
		putSecret(a, "present", "pw-1")
		ref := func(store, r string) map[string]string { return map[string]string{"store": store, "ref": r} }
		cases := []struct {
			name        string
			body        map[string]any
			status      int
			code, field string
		}{
			{"no display name", map[string]any{"type": "text", "value": "v"}, 422, "validation_failed", "displayName"},
			{"blank display name", map[string]any{"displayName": "  ", "type": "text", "value": "v"}, 422, "validation_failed", "displayName"},
			{"long display name", map[string]any{"displayName": strings.Repeat("x", 101), "type": "text", "value": "v"}, 422, "validation_failed", "displayName"},
			{"nothing to generate from", map[string]any{"displayName": "!!!", "type": "text", "value": "v"}, 422, "validation_failed", "displayName"},
			{"bad schema name", map[string]any{"schemaName": "1abc", "displayName": "x", "type": "text", "value": "v"}, 422, "validation_failed", "schemaName"},
			{"schema name with dash", map[string]any{"schemaName": "a-b", "displayName": "x", "type": "text", "value": "v"}, 422, "validation_failed", "schemaName"},
			{"long schema name", map[string]any{"schemaName": "a" + strings.Repeat("b", 100), "displayName": "x", "type": "text", "value": "v"}, 422, "validation_failed", "schemaName"},
			{"long description", map[string]any{"displayName": "x", "description": strings.Repeat("d", 2001), "type": "text", "value": "v"}, 422, "validation_failed", "description"},
			{"no type", map[string]any{"displayName": "x", "value": "v"}, 422, "validation_failed", "type"},
			{"bad type", map[string]any{"displayName": "x", "type": "number", "value": "v"}, 422, "validation_failed", "type"},
			{"text without value", map[string]any{"displayName": "x", "type": "text"}, 422, "validation_failed", "value"},
			{"long text value", map[string]any{"displayName": "x", "type": "text", "value": strings.Repeat("v", 4001)}, 422, "validation_failed", "value"},
			{"text with secretRef", map[string]any{"displayName": "x", "type": "text", "value": "v", "secretRef": ref("local", "present")}, 422, "validation_failed", "secretRef"},
			{"secret with value", map[string]any{"displayName": "x", "type": "secret", "value": "v", "secretRef": ref("local", "present")}, 422, "validation_failed", "value"},
			{"secret without ref", map[string]any{"displayName": "x", "type": "secret"}, 422, "validation_failed", "secretRef"},
			{"secret with empty store", map[string]any{"displayName": "x", "type": "secret", "secretRef": ref("", "present")}, 422, "validation_failed", "secretRef.store"},
			{"secret with empty ref", map[string]any{"displayName": "x", "type": "secret", "secretRef": ref("local", "")}, 422, "validation_failed", "secretRef.ref"},
			{"unknown store", map[string]any{"displayName": "x", "type": "secret", "secretRef": ref("vault9", "present")}, 422, "store_not_found", "secretRef.store"},
			{"missing secret", map[string]any{"displayName": "x", "type": "secret", "secretRef": ref("local", "absent")}, 422, "secret_not_found", "secretRef.ref"},
			{"missing version", map[string]any{"displayName": "x", "type": "secret", "secretRef": ref("local", "present/7")}, 422, "secret_not_found", "secretRef.ref"},
			{"bad reference", map[string]any{"displayName": "x", "type": "secret", "secretRef": ref("local", "no spaces allowed")}, 422, "validation_failed", "secretRef.ref"},
		}
		for _, c := range cases {
			t.Run(c.name, func(t *testing.T) {
				r := a.do("POST", "/api/v1/environment-variables", c.body)
				wantProblem(t, r, c.status, c.code, c.field)
			})
		}
		r := a.do("POST", "/api/v1/environment-variables", map[string]any{"displayName": "x", "type": "secret", "secretRef": ref("local", "absent")})
		if !strings.Contains(r.str("detail"), `"absent"`) {
			t.Errorf("secret_not_found detail does not name the reference: %s", r.raw)
		}
		if l := a.must(200, "GET", "/api/v1/environment-variables", nil); len(l.body["items"].([]any)) != 0 {
			t.Errorf("rejected creates left variables: %s", l.raw)
		}
	})
}

func TestVariableLifecycle(t *testing.T) {
	eachEngine(t, func(t *testing.T, e metadbtest.Engine) {
		_, a := start(t, e)
		putSecret(a, "db-pass", "first-secret-value")
		putSecret(a, "db-pass", "second-secret-value")
		text := createText(a, "DB User", "svc_robot")
		if text.str("value") != "svc_robot" || text.str("type") != "text" || text.str("owner") != "admin" || text.body["secretRef"] != nil {
			t.Fatalf("text variable %s", text.raw)
		}
		pinned := a.must(201, "POST", "/api/v1/environment-variables", map[string]any{
			"schemaName": "cf_PinnedPass", "displayName": "Pinned", "description": "version 1",
			"type": "secret", "secretRef": map[string]string{"store": "local", "ref": "db-pass/1"}})
		sec := createSecretVar(a, "DB Password", "db-pass")
		if _, has := sec.body["value"]; has {
			t.Fatalf("secret variable has a value field: %s", sec.raw)
		}
		if ref := sec.body["secretRef"].(map[string]any); ref["store"] != "local" || ref["ref"] != "db-pass" {
			t.Fatalf("secretRef %v", ref)
		}
		id := sec.str("id")

		// Get by id, by schema name in any case; a missing one is 404.
		for _, key := range []string{id, "cf_DBPassword", "CF_dbpassword"} {
			if g := a.must(200, "GET", "/api/v1/environment-variables/"+key, nil); g.str("id") != id {
				t.Errorf("get %s returned %s", key, g.str("id"))
			}
		}
		wantProblem(t, a.do("GET", "/api/v1/environment-variables/cf_Nope", nil), 404, "not_found", "")
		wantProblem(t, a.do("PATCH", "/api/v1/environment-variables/cf_Nope", map[string]any{"displayName": "x"}), 404, "not_found", "")
		wantProblem(t, a.do("DELETE", "/api/v1/environment-variables/cf_Nope", nil), 404, "not_found", "")
		wantProblem(t, a.do("GET", "/api/v1/environment-variables/cf_Nope/dependencies", nil), 404, "not_found", "")

		// Updates.
		u := a.must(200, "PATCH", "/api/v1/environment-variables/cf_DBUser", map[string]any{"value": "svc_robot2", "description": "robot account"})
		if u.str("value") != "svc_robot2" || u.str("description") != "robot account" || u.str("displayName") != "DB User" {
			t.Errorf("update %s", u.raw)
		}
		u = a.must(200, "PATCH", "/api/v1/environment-variables/"+id, map[string]any{"displayName": "Database password", "schemaName": "cf_dbpassword", "type": "secret"})
		if u.str("displayName") != "Database password" || u.str("schemaName") != "cf_DBPassword" {
			t.Errorf("update with unchanged schemaName/type %s", u.raw)
		}
		putSecret(a, "other-pass", "third-secret-value")
		u = a.must(200, "PATCH", "/api/v1/environment-variables/"+pinned.str("id"), map[string]any{"secretRef": map[string]string{"store": "local", "ref": "other-pass"}})
		if u.body["secretRef"].(map[string]any)["ref"] != "other-pass" {
			t.Errorf("secretRef not updated: %s", u.raw)
		}
		for _, c := range []struct {
			name        string
			path        string
			body        map[string]any
			status      int
			code, field string
		}{
			{"rename schema", "cf_DBUser", map[string]any{"schemaName": "cf_Other"}, 409, "immutable_field", "schemaName"},
			{"change type", "cf_DBUser", map[string]any{"type": "secret"}, 409, "immutable_field", "type"},
			{"value on secret", id, map[string]any{"value": "x"}, 422, "validation_failed", "value"},
			{"secretRef on text", "cf_DBUser", map[string]any{"secretRef": map[string]string{"store": "local", "ref": "db-pass"}}, 422, "validation_failed", "secretRef"},
			{"blank display name", id, map[string]any{"displayName": ""}, 422, "validation_failed", "displayName"},
			{"missing secret", id, map[string]any{"secretRef": map[string]string{"store": "local", "ref": "gone"}}, 422, "secret_not_found", "secretRef.ref"},
			{"unknown store", id, map[string]any{"secretRef": map[string]string{"store": "nowhere", "ref": "db-pass"}}, 422, "store_not_found", "secretRef.store"},
			{"unknown field", id, map[string]any{"owner": "mallory"}, 400, "invalid_request", "owner"},
		} {
			t.Run(c.name, func(t *testing.T) {
				wantProblem(t, a.do("PATCH", "/api/v1/environment-variables/"+c.path, c.body), c.status, c.code, c.field)
			})
		}
		// Failed updates changed nothing.
		if g := a.must(200, "GET", "/api/v1/environment-variables/"+id, nil); g.body["secretRef"].(map[string]any)["ref"] != "db-pass" || g.str("displayName") != "Database password" {
			t.Errorf("failed update changed the variable: %s", g.raw)
		}

		deps := a.must(200, "GET", "/api/v1/environment-variables/"+id+"/dependencies", nil)
		if string(deps.raw) != "{\"credentials\":[],\"connections\":[]}\n" {
			t.Errorf("dependencies %s", deps.raw)
		}
		a.must(204, "DELETE", "/api/v1/environment-variables/"+id, nil)
		wantProblem(t, a.do("GET", "/api/v1/environment-variables/"+id, nil), 404, "not_found", "")
	})
}

func TestVariableListPaging(t *testing.T) {
	eachEngine(t, func(t *testing.T, e metadbtest.Engine) {
		_, a := start(t, e)
		putSecret(a, "s", "pw")
		want := map[string]bool{}
		for i := 0; i < 7; i++ {
			want[createText(a, fmt.Sprintf("Text %d", i), "v").str("schemaName")] = true
		}
		for i := 0; i < 3; i++ {
			want[createSecretVar(a, fmt.Sprintf("Secret %d", i), "s").str("schemaName")] = true
		}
		seen := map[string]bool{}
		cursor, pages := "", 0
		for {
			q := url.Values{"limit": {"3"}}
			if cursor != "" {
				q.Set("cursor", cursor)
			}
			r := a.must(200, "GET", "/api/v1/environment-variables?"+q.Encode(), nil)
			pages++
			items := r.body["items"].([]any)
			if len(items) > 3 {
				t.Fatalf("page of %d items with limit 3", len(items))
			}
			for _, it := range items {
				n := it.(map[string]any)["schemaName"].(string)
				if seen[n] {
					t.Errorf("%s on two pages", n)
				}
				seen[n] = true
			}
			cursor = r.str("nextCursor")
			if cursor == "" {
				break
			}
		}
		if len(seen) != len(want) || pages != 4 {
			t.Errorf("saw %d of %d variables in %d pages", len(seen), len(want), pages)
		}
		r := a.must(200, "GET", "/api/v1/environment-variables?type=secret", nil)
		if items := r.body["items"].([]any); len(items) != 3 {
			t.Errorf("type=secret gave %d items", len(items))
		}
		r = a.must(200, "GET", "/api/v1/environment-variables?type=text&limit=200", nil)
		if items := r.body["items"].([]any); len(items) != 7 || r.str("nextCursor") != "" {
			t.Errorf("type=text gave %d items, cursor %q", len(items), r.str("nextCursor"))
		}
		for _, c := range []struct{ query, code, field string }{
			{"limit=0", "invalid_request", "limit"},
			{"limit=201", "invalid_request", "limit"},
			{"limit=ten", "invalid_request", "limit"},
			{"cursor=!!", "invalid_request", "cursor"},
			{"cursor=***", "invalid_request", "cursor"},
			{"type=number", "validation_failed", "type"},
		} {
			r := a.do("GET", "/api/v1/environment-variables?"+c.query, nil)
			status := 400
			if c.code == "validation_failed" {
				status = 422
			}
			wantProblem(t, r, status, c.code, c.field)
		}
	})
}
