package httpapi_test

import (
	"strings"
	"testing"
	"time"

	"github.com/credflow/credflow/internal/metadb/metadbtest"
)

func TestUsersAndGroups(t *testing.T) {
	eachEngine(t, func(t *testing.T, e metadbtest.Engine) {
		_, admin := start(t, e)
		u := admin.must(201, "POST", "/api/v1/users", map[string]any{"name": "dana", "displayName": "Dana S", "role": "maker"})
		if u.str("role") != "maker" || u.str("source") != "local" || u.str("displayName") != "Dana S" {
			t.Errorf("user %s", u.raw)
		}
		dana := api{t: t, base: admin.base, token: admin.must(201, "POST", "/api/v1/tokens", map[string]any{"name": "t", "user": "dana"}).str("token")}
		for _, c := range []struct {
			name        string
			body        map[string]any
			status      int
			code, field string
		}{
			{"taken", map[string]any{"name": "DANA", "role": "maker"}, 409, "name_taken", ""},
			{"bad role", map[string]any{"name": "x", "role": "root"}, 422, "validation_failed", "role"},
			{"no role", map[string]any{"name": "x"}, 422, "validation_failed", "role"},
			{"bad name", map[string]any{"name": "has space", "role": "maker"}, 422, "validation_failed", "name"},
			{"empty name", map[string]any{"name": "", "role": "maker"}, 422, "validation_failed", "name"},
		} {
			t.Run("create "+c.name, func(t *testing.T) {
				wantProblem(t, admin.do("POST", "/api/v1/users", c.body), c.status, c.code, c.field)
			})
		}
		if g := admin.must(200, "GET", "/api/v1/users/DANA", nil); g.str("id") != u.str("id") {
			t.Errorf("get by name %s", g.raw)
		}
		admin.must(200, "GET", "/api/v1/users/"+u.str("id"), nil)
		wantProblem(t, admin.do("GET", "/api/v1/users/ghost", nil), 404, "not_found", "")
		if p := admin.must(200, "PATCH", "/api/v1/users/dana", map[string]any{"role": "runner"}); p.str("role") != "runner" {
			t.Errorf("patch %s", p.raw)
		}
		// The new role applies to the next request of the same token.
		wantProblem(t, dana.do("GET", "/api/v1/credentials", nil), 403, "forbidden", "")
		admin.must(200, "PATCH", "/api/v1/users/dana", map[string]any{"role": "maker"})
		dana.must(200, "GET", "/api/v1/credentials", nil)
		wantProblem(t, admin.do("PATCH", "/api/v1/users/admin", map[string]any{"role": "maker"}), 422, "validation_failed", "role")
		wantProblem(t, admin.do("DELETE", "/api/v1/users/admin", nil), 422, "validation_failed", "user")
		l := admin.must(200, "GET", "/api/v1/users?limit=1", nil)
		if len(l.body["items"].([]any)) != 1 || l.str("nextCursor") == "" {
			t.Errorf("users page %s", l.raw)
		}

		// Makers manage none of it.
		for _, c := range []struct{ method, path string }{
			{"GET", "/api/v1/users"}, {"POST", "/api/v1/users"}, {"GET", "/api/v1/groups"}, {"POST", "/api/v1/groups"},
			{"PUT", "/api/v1/groups/x/members/dana"}, {"GET", "/api/v1/audit"}, {"GET", "/api/v1/audit/verify"},
		} {
			var body any
			if c.method != "GET" {
				body = map[string]any{}
			}
			wantProblem(t, dana.do(c.method, c.path, body), 403, "forbidden", "")
		}
		me := dana.must(200, "GET", "/api/v1/me", nil)
		if me.str("name") != "dana" || me.str("role") != "maker" {
			t.Errorf("me %s", me.raw)
		}

		g := admin.must(201, "POST", "/api/v1/groups", map[string]any{"name": "finance"})
		wantProblem(t, admin.do("POST", "/api/v1/groups", map[string]any{"name": "Finance"}), 409, "name_taken", "")
		wantProblem(t, admin.do("POST", "/api/v1/groups", map[string]any{"name": ""}), 422, "validation_failed", "name")
		admin.must(204, "PUT", "/api/v1/groups/finance/members/dana", nil)
		admin.must(204, "PUT", "/api/v1/groups/"+g.str("id")+"/members/dana", nil) // idempotent
		wantProblem(t, admin.do("PUT", "/api/v1/groups/finance/members/ghost", nil), 404, "not_found", "")
		wantProblem(t, admin.do("PUT", "/api/v1/groups/nope/members/dana", nil), 404, "not_found", "")
		m := admin.must(200, "GET", "/api/v1/groups/finance/members", nil)
		if items := m.body["items"].([]any); len(items) != 1 || items[0].(map[string]any)["name"] != "dana" {
			t.Errorf("members %s", m.raw)
		}
		if me := dana.must(200, "GET", "/api/v1/me", nil); !strings.Contains(string(me.raw), `"groups":["finance"]`) {
			t.Errorf("me %s", me.raw)
		}
		admin.must(204, "DELETE", "/api/v1/groups/finance/members/dana", nil)
		wantProblem(t, admin.do("DELETE", "/api/v1/groups/finance/members/dana", nil), 404, "not_found", "")
		admin.must(204, "DELETE", "/api/v1/groups/finance", nil)
		wantProblem(t, admin.do("GET", "/api/v1/groups/finance", nil), 404, "not_found", "")

		// A user who owns objects is not deleted; one who owns nothing is,
		// with their tokens.
		admin.must(200, "PUT", "/api/v1/stores/local/grants/user:dana", map[string]any{})
		dana.must(201, "POST", "/api/v1/environment-variables", map[string]any{"displayName": "Dana var", "type": "text", "value": "x"})
		wantProblem(t, admin.do("DELETE", "/api/v1/users/dana", nil), 409, "in_use", "")
		admin.must(204, "DELETE", "/api/v1/environment-variables/cf_Danavar", nil)
		admin.must(204, "DELETE", "/api/v1/users/dana", nil)
		wantProblem(t, dana.do("GET", "/api/v1/me", nil), 401, "unauthenticated", "")
	})
}

func TestAPITokens(t *testing.T) {
	eachEngine(t, func(t *testing.T, e metadbtest.Engine) {
		inst, admin := start(t, e)
		rita := newUser(admin, "rita", "maker")
		newUser(admin, "sam", "maker")

		c := rita.must(201, "POST", "/api/v1/tokens", map[string]any{"name": "laptop", "expiresAt": time.Now().Add(time.Hour).UTC().Format(time.RFC3339)})
		value := c.str("token")
		if !strings.HasPrefix(value, "cft_") || c.str("user") != "rita" || !strings.HasPrefix(value, c.str("prefix")) || c.body["expiresAt"] == nil {
			t.Fatalf("created %s", c.raw)
		}
		laptop := api{t: t, base: admin.base, token: value}
		laptop.must(200, "GET", "/api/v1/me", nil)

		l := rita.must(200, "GET", "/api/v1/tokens", nil)
		if strings.Contains(string(l.raw), value) || strings.Contains(string(l.raw), value[len(value)-43:]) {
			t.Fatal("token list shows a token's value")
		}
		items := l.body["items"].([]any)
		if len(items) != 2 || items[0].(map[string]any)["prefix"] == items[1].(map[string]any)["prefix"] {
			t.Fatalf("rita's tokens %s", l.raw)
		}
		for _, it := range items {
			m := it.(map[string]any)
			if m["user"] != "rita" || m["prefix"] == "" || m["id"] == "" {
				t.Errorf("token %v", m)
			}
			if m["name"] == "test" && m["lastUsedAt"] == nil {
				t.Errorf("used token has no lastUsedAt: %v", m)
			}
		}

		// Only admins create or list tokens of others.
		wantProblem(t, rita.do("POST", "/api/v1/tokens", map[string]any{"name": "x", "user": "sam"}), 403, "forbidden", "")
		wantProblem(t, rita.do("GET", "/api/v1/tokens?all=true", nil), 403, "forbidden", "")
		wantProblem(t, rita.do("GET", "/api/v1/tokens?user=sam", nil), 403, "forbidden", "")
		if a := admin.must(200, "GET", "/api/v1/tokens?all=true", nil); len(a.body["items"].([]any)) != 4 { // admin's, rita's two, sam's
			t.Errorf("all tokens %s", a.raw)
		}
		if a := admin.must(200, "GET", "/api/v1/tokens?user=rita", nil); len(a.body["items"].([]any)) != 2 {
			t.Errorf("rita's tokens for admin %s", a.raw)
		}
		wantProblem(t, rita.do("POST", "/api/v1/tokens", map[string]any{"name": ""}), 422, "validation_failed", "name")
		wantProblem(t, rita.do("POST", "/api/v1/tokens", map[string]any{"name": "old", "expiresAt": "2020-01-01T00:00:00Z"}), 422, "validation_failed", "expiresAt")
		wantProblem(t, rita.do("POST", "/api/v1/tokens", map[string]any{"name": "bad", "expiresAt": "tomorrow"}), 400, "invalid_request", "")

		// Another user's token id is not found for a maker.
		samTok := admin.must(200, "GET", "/api/v1/tokens?user=sam", nil).body["items"].([]any)[0].(map[string]any)["id"].(string)
		wantProblem(t, rita.do("DELETE", "/api/v1/tokens/"+samTok, nil), 404, "not_found", "")

		// Revoked and expired tokens fail exactly like unknown ones.
		unknown := admin.do("GET", "/api/v1/me", nil, "Authorization", "Bearer cft_"+strings.Repeat("a", 32)+"_"+strings.Repeat("b", 43))
		rita.must(204, "DELETE", "/api/v1/tokens/"+c.str("id"), nil)
		revoked := laptop.do("GET", "/api/v1/me", nil)
		wantProblem(t, rita.do("DELETE", "/api/v1/tokens/"+c.str("id"), nil), 404, "not_found", "")

		e2 := rita.must(201, "POST", "/api/v1/tokens", map[string]any{"name": "short", "expiresAt": time.Now().Add(time.Hour).UTC().Format(time.RFC3339)})
		if _, err := inst.Server.DB().SQL().Exec(rebind(inst, `UPDATE api_tokens SET expires_at = $1 WHERE id = $2`), time.Now().Add(-time.Second).UTC(), e2.str("id")); err != nil {
			t.Fatal(err)
		}
		expired := api{t: t, base: admin.base, token: e2.str("token")}.do("GET", "/api/v1/me", nil)
		for name, r := range map[string]resp{"unknown": unknown, "revoked": revoked, "expired": expired} {
			wantProblem(t, r, 401, "unauthenticated", "")
			if r.str("detail") != unknown.str("detail") || r.str("title") != unknown.str("title") {
				t.Errorf("%s token's 401 differs: %s", name, r.raw)
			}
		}
		// Runners manage their own tokens too.
		robot := newUser(admin, "robot", "runner")
		robot.must(201, "POST", "/api/v1/tokens", map[string]any{"name": "second"})
	})
}
