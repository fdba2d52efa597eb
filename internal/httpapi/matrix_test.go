package httpapi_test

import (
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/credflow/credflow/internal/metadb/metadbtest"
	"github.com/credflow/credflow/internal/server/servertest"
)

// newUser creates a user with an instance role and returns an api acting as them.
func newUser(admin api, name, role string) api {
	admin.t.Helper()
	admin.must(201, "POST", "/api/v1/users", map[string]any{"name": name, "role": role})
	tok := admin.must(201, "POST", "/api/v1/tokens", map[string]any{"name": "test", "user": name})
	return api{t: admin.t, base: admin.base, token: tok.str("token")}
}

// as returns a copy of a that acts for t.
func (a api) as(t *testing.T) api { a.t = t; return a }

type cast struct {
	admin, owner, user, userShare, coOwner, noRelation, otherMaker, runner, expired, groupMember, target, victim api
}

func newCast(t *testing.T, inst *servertest.Instance) cast {
	admin := api{t: t, base: inst.URL, token: inst.AdminToken}
	c := cast{admin: admin}
	c.owner = newUser(admin, "olivia", "maker")
	c.user = newUser(admin, "ursula", "maker")
	c.userShare = newUser(admin, "uma", "maker")
	c.coOwner = newUser(admin, "colin", "maker")
	c.noRelation = newUser(admin, "nora", "maker")
	c.otherMaker = newUser(admin, "oscar", "maker")
	c.runner = newUser(admin, "robot", "runner")
	c.expired = newUser(admin, "ed", "maker")
	c.groupMember = newUser(admin, "gina", "maker")
	c.target = newUser(admin, "tess", "maker")
	c.victim = newUser(admin, "vic", "maker")
	admin.must(201, "POST", "/api/v1/groups", map[string]any{"name": "ops"})
	admin.must(204, "PUT", "/api/v1/groups/ops/members/gina", nil)
	// Makers may reference local secrets (the grant is tested elsewhere).
	admin.must(200, "PUT", "/api/v1/stores/local/grants/user:olivia", map[string]any{"prefix": ""})
	admin.must(200, "PUT", "/api/v1/stores/local/grants/user:oscar", map[string]any{"prefix": ""})
	// The other maker owns objects of their own, so their lists are not empty.
	putSecret(c.otherMaker, "oscar-pass", "oscar-secret")
	c.otherMaker.must(201, "POST", "/api/v1/environment-variables", map[string]any{"schemaName": "cf_OscarUser", "displayName": "u", "type": "text", "value": "o"})
	c.otherMaker.must(201, "POST", "/api/v1/environment-variables", map[string]any{"schemaName": "cf_OscarPass", "displayName": "p", "type": "secret",
		"secretRef": map[string]string{"store": "local", "ref": "oscar-pass"}})
	c.otherMaker.must(201, "POST", "/api/v1/credentials", map[string]any{"name": "oscar-cred", "username": "cf_OscarUser", "password": "cf_OscarPass"})
	return c
}

var fixtureSeq atomic.Int64

// fixture is one object of the kind under test, owned by olivia and shared
// with the cast; path is its API path.
func fixture(t *testing.T, inst *servertest.Instance, c cast, kind string) (path, listPath, id string) {
	o := c.owner.as(t)
	n := fixtureSeq.Add(1)
	switch kind {
	case "text variable":
		r := o.must(201, "POST", "/api/v1/environment-variables", map[string]any{"schemaName": fmt.Sprintf("cf_Text%d", n), "displayName": "t", "type": "text", "value": "v"})
		id, path, listPath = r.str("id"), "/api/v1/environment-variables/"+r.str("id"), "/api/v1/environment-variables?limit=200"
	case "secret variable":
		putSecret(o, fmt.Sprintf("s%d", n), "fixture-secret")
		r := o.must(201, "POST", "/api/v1/environment-variables", map[string]any{"schemaName": fmt.Sprintf("cf_Secret%d", n), "displayName": "s", "type": "secret",
			"secretRef": map[string]string{"store": "local", "ref": fmt.Sprintf("s%d", n)}})
		id, path, listPath = r.str("id"), "/api/v1/environment-variables/"+r.str("id"), "/api/v1/environment-variables?limit=200"
	case "credential":
		putSecret(o, fmt.Sprintf("c%d", n), "fixture-secret")
		o.must(201, "POST", "/api/v1/environment-variables", map[string]any{"schemaName": fmt.Sprintf("cf_CU%d", n), "displayName": "u", "type": "text", "value": "v"})
		o.must(201, "POST", "/api/v1/environment-variables", map[string]any{"schemaName": fmt.Sprintf("cf_CP%d", n), "displayName": "p", "type": "secret",
			"secretRef": map[string]string{"store": "local", "ref": fmt.Sprintf("c%d", n)}})
		r := o.must(201, "POST", "/api/v1/credentials", map[string]any{"name": fmt.Sprintf("cred %d", n), "username": fmt.Sprintf("cf_CU%d", n), "password": fmt.Sprintf("cf_CP%d", n)})
		id, path, listPath = r.str("id"), "/api/v1/credentials/"+r.str("id"), "/api/v1/credentials?limit=200"
	}
	for _, s := range []struct{ principal, role string }{
		{"user:ursula", "user"}, {"user:uma", "user-share"}, {"user:colin", "co-owner"},
		{"user:ed", "co-owner"}, {"group:ops", "user-share"}, {"user:vic", "user"},
	} {
		o.must(200, "PUT", path+"/shares/"+s.principal, map[string]any{"role": s.role})
	}
	// Ed's share has expired.
	if _, err := inst.Server.DB().SQL().Exec(
		rebind(inst, `UPDATE shares SET expires_at = $1 WHERE object_id = $2 AND principal_id = (SELECT id FROM users WHERE name = 'ed')`),
		time.Now().Add(-time.Minute).UTC(), id); err != nil {
		t.Fatal(err)
	}
	return path, listPath, id
}

func rebind(inst *servertest.Instance, q string) string {
	if inst.Server.DB().Dialect() == "sqlite" {
		return strings.ReplaceAll(q, "$", "?")
	}
	return q
}

// TestAuthorizationMatrix walks {kind} x {operation} x {caller} and asserts
// the exact status of each cell.
func TestAuthorizationMatrix(t *testing.T) {
	type want struct{ read, list, update, del, share, unshare int }
	// list: 200 visible, 299 answered but hidden, 403 refused.
	const hidden = 299
	actors := []struct {
		name string
		pick func(cast) api
		want want
	}{
		{"no relation", func(c cast) api { return c.noRelation }, want{404, hidden, 404, 404, 404, 404}},
		{"user", func(c cast) api { return c.user }, want{200, 200, 403, 403, 403, 403}},
		{"user-share", func(c cast) api { return c.userShare }, want{200, 200, 403, 403, 200, 204}},
		{"co-owner", func(c cast) api { return c.coOwner }, want{200, 200, 200, 204, 200, 204}},
		{"owner", func(c cast) api { return c.owner }, want{200, 200, 200, 204, 200, 204}},
		{"other maker", func(c cast) api { return c.otherMaker }, want{404, hidden, 404, 404, 404, 404}},
		{"admin", func(c cast) api { return c.admin }, want{200, 200, 200, 204, 200, 204}},
		{"runner", func(c cast) api { return c.runner }, want{403, 403, 403, 403, 403, 403}},
		{"expired share", func(c cast) api { return c.expired }, want{404, hidden, 404, 404, 404, 404}},
		{"group member", func(c cast) api { return c.groupMember }, want{200, 200, 403, 403, 200, 204}},
	}
	eachEngine(t, func(t *testing.T, e metadbtest.Engine) {
		inst := servertest.Start(t, e)
		c := newCast(t, inst)
		for _, kind := range []string{"text variable", "secret variable", "credential"} {
			for _, op := range []string{"read", "list", "update", "delete", "share", "unshare"} {
				for _, ac := range actors {
					t.Run(kind+"/"+op+"/"+ac.name, func(t *testing.T) {
						path, listPath, id := fixture(t, inst, c, kind)
						a := ac.pick(c).as(t)
						var r resp
						var expect int
						switch op {
						case "read":
							r, expect = a.do("GET", path, nil), ac.want.read
						case "list":
							r, expect = a.do("GET", listPath, nil), ac.want.list
							if r.status == 200 && !strings.Contains(string(r.raw), id) {
								r.status = hidden
							}
						case "update":
							r, expect = a.do("PATCH", path, map[string]any{"description": "changed"}), ac.want.update
						case "delete":
							r, expect = a.do("DELETE", path, nil), ac.want.del
						case "share":
							r, expect = a.do("PUT", path+"/shares/user:tess", map[string]any{"role": "user"}), ac.want.share
						case "unshare":
							r, expect = a.do("DELETE", path+"/shares/user:vic", nil), ac.want.unshare
							if kind == "credential" && expect == 204 {
								expect = 200 // it answers with the variable shares that remain
							}
						}
						if r.status != expect {
							t.Fatalf("%s %s by %s: status %d, want %d; body %s", op, kind, ac.name, r.status, expect, r.raw)
						}
						if expect == 404 {
							// Exactly like a missing object.
							missing := a.do("GET", strings.TrimSuffix(path, id)+"00000000-0000-7000-8000-000000000000", nil)
							if r.str("title") != missing.str("title") || r.str("code") != "not_found" {
								t.Errorf("hidden object's 404 differs from a missing one's: %s vs %s", r.raw, missing.raw)
							}
						}
						// The object's state agrees with the answer.
						after := c.admin.as(t).do("GET", path, nil)
						switch {
						case op == "delete" && expect == 204 && after.status != 404:
							t.Errorf("deleted, yet still there")
						case op == "delete" && expect != 204 && after.status != 200:
							t.Errorf("refused delete removed the object")
						case op == "update" && (after.str("description") == "changed") != (expect == 200):
							t.Errorf("update answered %d but description is %q", expect, after.str("description"))
						}
					})
				}
			}
		}
	})
}
