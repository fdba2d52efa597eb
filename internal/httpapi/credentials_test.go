package httpapi_test

import (
	"strings"
	"testing"

	"github.com/credflow/credflow/internal/metadb/metadbtest"
)

func TestCredentialLifecycle(t *testing.T) {
	eachEngine(t, func(t *testing.T, e metadbtest.Engine) {
		_, a := start(t, e)
		putSecret(a, "sql-pass", "pw-value-1")
		user := createText(a, "SQL User", "sa")
		pass := createSecretVar(a, "SQL Password", "sql-pass")
		createSecretVar(a, "Other Password", "sql-pass")
		createText(a, "Plain", "not a secret")

		// username by id, password by schema name: both come back as schema names.
		c := a.must(201, "POST", "/api/v1/credentials", map[string]any{
			"name": "SQL Server (prod)", "description": "reporting", "username": user.str("id"), "password": "cf_sqlpassword"})
		if c.str("username") != "cf_SQLUser" || c.str("password") != "cf_SQLPassword" || c.str("store") != "local" ||
			c.str("owner") != "admin" || c.body["enabled"] != true || c.str("description") != "reporting" {
			t.Fatalf("created %s", c.raw)
		}
		id := c.str("id")
		if c.header.Get("Location") != "/api/v1/credentials/"+id {
			t.Errorf("Location %q", c.header.Get("Location"))
		}
		// A secret variable may be the username too.
		a.must(201, "POST", "/api/v1/credentials", map[string]any{"name": "Both secret", "username": "cf_OtherPassword", "password": "cf_SQLPassword"})

		for _, key := range []string{id, "SQL Server (prod)", "sql server (PROD)"} {
			if g := a.must(200, "GET", "/api/v1/credentials/"+escapePath(key), nil); g.str("id") != id {
				t.Errorf("get %q gave %s", key, g.raw)
			}
		}

		for _, tc := range []struct {
			name        string
			body        map[string]any
			status      int
			code, field string
		}{
			{"name taken in other case", map[string]any{"name": "sql server (PROD)", "username": "cf_SQLUser", "password": "cf_SQLPassword"}, 409, "name_taken", ""},
			{"password is text", map[string]any{"name": "x", "username": "cf_SQLUser", "password": "cf_Plain"}, 422, "password_must_be_secret", ""},
			{"unknown username", map[string]any{"name": "x", "username": "cf_Nobody", "password": "cf_SQLPassword"}, 422, "validation_failed", "username"},
			{"unknown password", map[string]any{"name": "x", "username": "cf_SQLUser", "password": "cf_Nothing"}, 422, "validation_failed", "password"},
			{"no name", map[string]any{"username": "cf_SQLUser", "password": "cf_SQLPassword"}, 422, "validation_failed", "name"},
			{"padded name", map[string]any{"name": " x ", "username": "cf_SQLUser", "password": "cf_SQLPassword"}, 422, "validation_failed", "name"},
			{"long name", map[string]any{"name": strings.Repeat("n", 101), "username": "cf_SQLUser", "password": "cf_SQLPassword"}, 422, "validation_failed", "name"},
			{"long description", map[string]any{"name": "x", "description": strings.Repeat("d", 2001), "username": "cf_SQLUser", "password": "cf_SQLPassword"}, 422, "validation_failed", "description"},
			{"no username", map[string]any{"name": "x", "password": "cf_SQLPassword"}, 422, "validation_failed", "username"},
			{"no password", map[string]any{"name": "x", "username": "cf_SQLUser"}, 422, "validation_failed", "password"},
			{"unknown field", map[string]any{"name": "x", "username": "cf_SQLUser", "password": "cf_SQLPassword", "enabled": false}, 400, "invalid_request", "enabled"},
		} {
			t.Run("create "+tc.name, func(t *testing.T) {
				wantProblem(t, a.do("POST", "/api/v1/credentials", tc.body), tc.status, tc.code, tc.field)
			})
		}

		u := a.must(200, "PATCH", "/api/v1/credentials/"+id, map[string]any{"name": "SQL prod", "description": "", "username": "cf_SQLUser", "password": pass.str("id")})
		if u.str("name") != "SQL prod" || u.str("description") != "" {
			t.Errorf("update %s", u.raw)
		}
		for _, tc := range []struct {
			name        string
			body        map[string]any
			status      int
			code, field string
		}{
			{"change username", map[string]any{"username": "cf_Plain"}, 409, "immutable_field", "username"},
			{"change password", map[string]any{"password": "cf_OtherPassword"}, 409, "immutable_field", "password"},
			{"unknown password", map[string]any{"password": "cf_Missing"}, 409, "immutable_field", "password"},
			{"name taken", map[string]any{"name": "BOTH SECRET"}, 409, "name_taken", ""},
			{"blank name", map[string]any{"name": ""}, 422, "validation_failed", "name"},
		} {
			t.Run("update "+tc.name, func(t *testing.T) {
				wantProblem(t, a.do("PATCH", "/api/v1/credentials/"+id, tc.body), tc.status, tc.code, tc.field)
			})
		}
		r := a.do("PATCH", "/api/v1/credentials/"+id, map[string]any{"password": "cf_OtherPassword"})
		if d := r.str("detail"); !strings.Contains(d, "update the environment variable cf_SQLPassword") || !strings.Contains(d, "secret") {
			t.Errorf("immutable detail does not tell the user what to do: %q", d)
		}
		if g := a.must(200, "GET", "/api/v1/credentials/"+id, nil); g.str("name") != "SQL prod" || g.str("password") != "cf_SQLPassword" {
			t.Errorf("refused updates changed the credential: %s", g.raw)
		}

		// Dependencies both ways, and the in-use rule.
		if d := a.must(200, "GET", "/api/v1/credentials/"+id+"/dependencies", nil); string(d.raw) != "{\"connections\":[]}\n" {
			t.Errorf("credential dependencies %s", d.raw)
		}
		d := a.must(200, "GET", "/api/v1/environment-variables/cf_SQLPassword/dependencies", nil)
		creds := d.body["credentials"].([]any)
		if len(creds) != 2 || d.body["connections"] == nil {
			t.Fatalf("variable dependencies %s", d.raw)
		}
		r = a.do("DELETE", "/api/v1/environment-variables/cf_SQLPassword", nil)
		wantProblem(t, r, 409, "in_use", "")
		if det := r.str("detail"); !strings.Contains(det, "SQL prod") || !strings.Contains(det, "Both secret") {
			t.Errorf("in_use detail does not list the credentials: %q", det)
		}

		list := a.must(200, "GET", "/api/v1/credentials?limit=1", nil)
		if len(list.body["items"].([]any)) != 1 || list.str("nextCursor") == "" {
			t.Errorf("page 1 %s", list.raw)
		}
		list = a.must(200, "GET", "/api/v1/credentials?limit=1&cursor="+list.str("nextCursor"), nil)
		if len(list.body["items"].([]any)) != 1 || list.str("nextCursor") != "" {
			t.Errorf("page 2 %s", list.raw)
		}

		a.must(204, "DELETE", "/api/v1/credentials/"+id, nil)
		a.must(204, "DELETE", "/api/v1/credentials/Both%20secret", nil)
		wantProblem(t, a.do("GET", "/api/v1/credentials/"+id, nil), 404, "not_found", "")
		wantProblem(t, a.do("DELETE", "/api/v1/credentials/"+id, nil), 404, "not_found", "")
		wantProblem(t, a.do("PATCH", "/api/v1/credentials/"+id, map[string]any{"name": "x"}), 404, "not_found", "")
		wantProblem(t, a.do("GET", "/api/v1/credentials/"+id+"/dependencies", nil), 404, "not_found", "")
		// The variables stay, and are free to delete now.
		a.must(200, "GET", "/api/v1/environment-variables/cf_SQLUser", nil)
		a.must(204, "DELETE", "/api/v1/environment-variables/cf_SQLPassword", nil)
	})
}

func escapePath(s string) string {
	return strings.NewReplacer(" ", "%20", "(", "%28", ")", "%29").Replace(s)
}
