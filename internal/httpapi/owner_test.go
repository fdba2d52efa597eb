package httpapi_test

import (
	"fmt"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/credflow/credflow/internal/metadb/metadbtest"
	"github.com/credflow/credflow/internal/secretstore/cache"
)

// sharesOf returns an object's shares as principal -> role.
func sharesOf(a api, path string) map[string]string {
	a.t.Helper()
	r := a.must(200, "GET", path+"/shares", nil)
	out := map[string]string{}
	for _, it := range r.body["items"].([]any) {
		m := it.(map[string]any)
		out[m["principal"].(string)] = m["role"].(string)
	}
	return out
}

// auditOf returns the successful audit records of one action on one
// resource (refusals are audited too).
func auditOf(admin api, action, resource string) []map[string]any {
	admin.t.Helper()
	r := admin.must(200, "GET", "/api/v1/audit?action="+url.QueryEscape(action)+"&resource="+url.QueryEscape(resource), nil)
	var out []map[string]any
	for _, it := range r.body["items"].([]any) {
		if m := it.(map[string]any); m["outcome"] == "success" {
			out = append(out, m)
		}
	}
	return out
}

func TestTransferOwnership(t *testing.T) {
	eachEngine(t, func(t *testing.T, e metadbtest.Engine) {
		env := startRuntime(t, e, cache.Options{TTL: time.Minute})
		admin, mona := env.admin, env.maker
		carol := newUser(admin, "carol", "maker")
		dave := newUser(admin, "dave", "maker")
		erin := newUser(admin, "erin", "maker")
		admin.must(201, "POST", "/api/v1/groups", map[string]any{"name": "ops"})

		// Who may become an owner, and how a request is checked.
		for _, c := range []struct {
			name   string
			body   any
			status int
			code   string
			field  string
		}{
			{"a group", map[string]any{"principal": "group:ops"}, 422, "validation_failed", "principal"},
			{"a runner", map[string]any{"principal": "user:build-01"}, 422, "validation_failed", "principal"},
			{"nobody", map[string]any{"principal": "user:ghost"}, 422, "validation_failed", "principal"},
			{"no principal", map[string]any{}, 422, "validation_failed", "principal"},
			{"a bad reference", map[string]any{"principal": "team:x"}, 422, "validation_failed", "principal"},
			{"an unknown field", map[string]any{"owner": "user:carol"}, 400, "invalid_request", ""},
		} {
			t.Run("to "+c.name, func(t *testing.T) {
				for _, path := range []string{"/api/v1/credentials/SQL/owner", "/api/v1/environment-variables/cf_SqlPass/owner", "/api/v1/connections/sql-build/owner"} {
					wantProblem(t, mona.as(t).do("POST", path, c.body), c.status, c.code, c.field)
				}
			})
		}

		// Only holders of the owner role (and admins) transfer: a co-owner
		// may not, and someone without a role sees no such object.
		wantProblem(t, carol.do("POST", "/api/v1/credentials/SQL/owner", map[string]any{"principal": "user:carol"}), 404, "not_found", "")
		mona.must(200, "PUT", "/api/v1/credentials/SQL/shares/user:carol", map[string]any{"role": "co-owner"})
		wantProblem(t, carol.do("POST", "/api/v1/credentials/SQL/owner", map[string]any{"principal": "user:carol"}), 403, "forbidden", "")

		// The owner gives the credential to dave: dave owns it and may use
		// its variables; mona keeps it as co-owner; carol's share stays.
		r := mona.must(200, "POST", "/api/v1/credentials/SQL/owner", map[string]any{"principal": "user:dave"})
		if r.str("owner") != "dave" || r.str("name") != "SQL" {
			t.Errorf("transferred credential %s", r.raw)
		}
		want := map[string]string{"user:dave": "owner", "user:mona": "co-owner", "user:carol": "co-owner"}
		if got := sharesOf(dave, "/api/v1/credentials/SQL"); fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("credential shares %v, want %v", got, want)
		}
		for _, v := range []string{"cf_SqlUser", "cf_SqlPass"} {
			if got := sharesOf(dave, "/api/v1/environment-variables/"+v); got["user:dave"] != "user" || got["user:mona"] != "owner" {
				t.Errorf("%s shares %v: dave gets the use, mona keeps it", v, got)
			}
		}
		if recs := auditOf(admin, "credential.owner.transfer", "credential:SQL"); len(recs) != 1 ||
			recs[0]["actor"] != "mona" || !strings.Contains(recs[0]["reason"].(string), "from user:mona to user:dave") {
			t.Errorf("audit %v", recs)
		}
		// mona is a co-owner now: she may edit, not transfer.
		mona.must(200, "PATCH", "/api/v1/credentials/SQL", map[string]any{"description": "still editable"})
		wantProblem(t, mona.do("POST", "/api/v1/credentials/SQL/owner", map[string]any{"principal": "user:mona"}), 403, "forbidden", "")
		// Giving it to its owner changes nothing and records nothing.
		dave.must(200, "POST", "/api/v1/credentials/SQL/owner", map[string]any{"principal": "dave"})
		if n := len(auditOf(admin, "credential.owner.transfer", "credential:SQL")); n != 1 {
			t.Errorf("%d transfer records after a no-op transfer, want 1", n)
		}

		// A variable, by its owner, and by an admin.
		if r := mona.must(200, "POST", "/api/v1/environment-variables/cf_SqlPass/owner", map[string]any{"principal": "user:carol"}); r.str("owner") != "carol" {
			t.Errorf("transferred variable %s", r.raw)
		}
		if got := sharesOf(carol, "/api/v1/environment-variables/cf_SqlPass"); got["user:carol"] != "owner" || got["user:mona"] != "co-owner" {
			t.Errorf("variable shares %v", got)
		}
		if r := admin.must(200, "POST", "/api/v1/environment-variables/cf_SqlUser/owner", map[string]any{"principal": "user:carol"}); r.str("owner") != "carol" {
			t.Errorf("variable transferred by an admin %s", r.raw)
		}
		if len(auditOf(admin, "variable.owner.transfer", "variable:cf_SqlPass")) != 1 {
			t.Error("variable transfer not audited under the variable")
		}

		// A connection goes only to someone who may use its credential and
		// both its variables.
		env.runner.must(200, "POST", "/api/v1/connections/sql-build/resolve", nil)
		r = mona.do("POST", "/api/v1/connections/sql-build/owner", map[string]any{"principal": "user:erin"})
		wantProblem(t, r, 409, "new_owner_lacks_access", "")
		if d := r.str("detail"); !strings.Contains(d, `credential "SQL"`) || !strings.Contains(d, "share it with them first") {
			t.Errorf("detail %q", d)
		}
		dave.must(200, "PUT", "/api/v1/credentials/SQL/shares/user:erin", map[string]any{"role": "user"})
		carol.must(204, "DELETE", "/api/v1/environment-variables/cf_SqlPass/shares/user:erin", nil)
		r = mona.do("POST", "/api/v1/connections/sql-build/owner", map[string]any{"principal": "user:erin"})
		wantProblem(t, r, 409, "new_owner_lacks_access", "")
		if d := r.str("detail"); !strings.Contains(d, `environment variable "cf_SqlPass"`) {
			t.Errorf("detail %q does not name the variable", d)
		}
		carol.must(200, "PUT", "/api/v1/environment-variables/cf_SqlPass/shares/user:erin", map[string]any{"role": "user"})
		wantProblem(t, carol.do("POST", "/api/v1/connections/sql-build/owner", map[string]any{"principal": "user:erin"}), 404, "not_found", "")
		if r := mona.must(200, "POST", "/api/v1/connections/sql-build/owner", map[string]any{"principal": "user:erin"}); r.str("owner") != "erin" {
			t.Errorf("transferred connection %s", r.raw)
		}
		erin.must(200, "GET", "/api/v1/connections/sql-build", nil)
		wantProblem(t, mona.do("GET", "/api/v1/connections/sql-build", nil), 404, "not_found", "")
		if len(auditOf(admin, "connection.owner.transfer", "connection:sql-build")) != 1 {
			t.Error("connection transfer not audited under the connection")
		}
		// Resolves now rest on erin's access.
		env.runner.must(200, "POST", "/api/v1/connections/sql-build/resolve", nil)
		dave.must(200, "DELETE", "/api/v1/credentials/SQL/shares/user:erin", nil)
		wantProblem(t, env.runner.do("POST", "/api/v1/connections/sql-build/resolve", nil), 403, "owner_lost_access", "")
	})
}

// TestConcurrentTransfersOneWinner gives one credential to two users at
// once, many times: exactly one transfer wins each time, and the loser
// leaves no trace.
func TestConcurrentTransfersOneWinner(t *testing.T) {
	eachEngine(t, func(t *testing.T, e metadbtest.Engine) {
		_, admin := start(t, e)
		mona := newUser(admin, "mona", "maker")
		newUser(admin, "carol", "maker")
		newUser(admin, "dave", "maker")
		const n = 20
		for i := range n {
			mona.must(201, "POST", "/api/v1/environment-variables", map[string]any{"schemaName": fmt.Sprintf("cf_V%d", i), "displayName": "v", "type": "text", "value": "x"})
		}
		for i := range n {
			path := fmt.Sprintf("/api/v1/environment-variables/cf_V%d", i)
			var (
				wg       sync.WaitGroup
				statuses [2]int
			)
			for j, to := range []string{"user:carol", "user:dave"} {
				wg.Add(1)
				go func() {
					defer wg.Done()
					statuses[j] = mona.do("POST", path+"/owner", map[string]any{"principal": to}).status
				}()
			}
			wg.Wait()
			won := 0
			for _, s := range statuses {
				switch s {
				case 200:
					won++
				case 409, 403: // the owner changed meanwhile, or mona is no longer the owner
				default:
					t.Fatalf("%s: status %d", path, s)
				}
			}
			if won != 1 {
				t.Fatalf("%s: %d transfers won (%v), want exactly 1", path, won, statuses)
			}
			owner := admin.must(200, "GET", path, nil).str("owner")
			shares := sharesOf(admin, path)
			want := map[string]string{"user:" + owner: "owner", "user:mona": "co-owner"}
			if fmt.Sprint(shares) != fmt.Sprint(want) {
				t.Fatalf("%s: owner %s, shares %v, want %v", path, owner, shares, want)
			}
		}
	})
}

func TestDeleteUserTransfersEverything(t *testing.T) {
	eachEngine(t, func(t *testing.T, e metadbtest.Engine) {
		env := startRuntime(t, e, cache.Options{TTL: time.Minute})
		admin, mona := env.admin, env.maker
		newUser(admin, "carol", "maker")
		zed := newUser(admin, "zed", "maker")
		admin.must(201, "POST", "/api/v1/groups", map[string]any{"name": "ops"})

		// zed's credential, shared with mona, under a connection of hers.
		admin.must(200, "PUT", "/api/v1/stores/vault/grants/user:zed", map[string]any{})
		env.vault.Set("z-pass", "z-password-value")
		zed.must(201, "POST", "/api/v1/environment-variables", map[string]any{"schemaName": "cf_ZUser", "displayName": "u", "type": "text", "value": "z"})
		zed.must(201, "POST", "/api/v1/environment-variables", map[string]any{"schemaName": "cf_ZPass", "displayName": "p", "type": "secret",
			"secretRef": map[string]string{"store": "vault", "ref": "z-pass"}})
		zed.must(201, "POST", "/api/v1/credentials", map[string]any{"name": "Z", "username": "cf_ZUser", "password": "cf_ZPass"})
		zed.must(200, "PUT", "/api/v1/credentials/Z/shares/user:mona", map[string]any{"role": "user"})
		mona.must(201, "POST", "/api/v1/connections", map[string]any{"name": "z-build", "credential": "Z", "runnerGroup": "build"})
		// ... and a variable zed gave her the owner role on.
		zed.must(201, "POST", "/api/v1/environment-variables", map[string]any{"schemaName": "cf_Shared", "displayName": "s", "type": "text", "value": "s"})
		zed.must(200, "PUT", "/api/v1/environment-variables/cf_Shared/shares/user:mona", map[string]any{"role": "owner"})

		r := admin.do("DELETE", "/api/v1/users/mona", nil)
		wantProblem(t, r, 409, "in_use", "")
		if d := r.str("detail"); !strings.Contains(d, "owns 1 credential, 3 environment variables and 2 connections") || !strings.Contains(d, "transferTo") {
			t.Errorf("the refusal does not say what she owns and how to proceed: %s", r.raw)
		}
		// Holding the owner role is owning: deleting its only holder
		// would leave no one to manage the object.
		yan := newUser(admin, "yan", "maker")
		zed.must(201, "POST", "/api/v1/environment-variables", map[string]any{"schemaName": "cf_Yans", "displayName": "y", "type": "text", "value": "y"})
		zed.must(200, "PUT", "/api/v1/environment-variables/cf_Yans/shares/user:yan", map[string]any{"role": "owner"})
		yan.must(204, "DELETE", "/api/v1/environment-variables/cf_Yans/shares/user:zed", nil)
		wantProblem(t, admin.do("DELETE", "/api/v1/users/yan", nil), 409, "in_use", "")
		admin.must(204, "DELETE", "/api/v1/users/yan?transferTo=zed", nil)
		if got := sharesOf(admin, "/api/v1/environment-variables/cf_Yans"); fmt.Sprint(got) != fmt.Sprint(map[string]string{"user:zed": "owner"}) {
			t.Errorf("cf_Yans shares %v", got)
		}
		for _, c := range []struct{ name, to string }{
			{"a runner", "build-01"}, {"a group", "group:ops"}, {"the user", "mona"}, {"nobody", "ghost"}, {"empty", ""},
		} {
			t.Run("to "+c.name, func(t *testing.T) {
				wantProblem(t, admin.as(t).do("DELETE", "/api/v1/users/mona?transferTo="+url.QueryEscape(c.to), nil), 422, "validation_failed", "transferTo")
			})
		}

		// carol may not use Z, which z-build needs: nothing changes.
		r = admin.do("DELETE", "/api/v1/users/mona?transferTo=carol", nil)
		wantProblem(t, r, 409, "new_owner_lacks_access", "")
		if !strings.Contains(r.str("detail"), `credential "Z"`) || !strings.Contains(r.str("detail"), `connection "z-build"`) {
			t.Errorf("detail %q", r.str("detail"))
		}
		mona.must(200, "GET", "/api/v1/connections/z-build", nil)
		if got := admin.must(200, "GET", "/api/v1/credentials/SQL", nil).str("owner"); got != "mona" {
			t.Errorf("a refused deletion moved the credential to %s", got)
		}

		zed.must(200, "PUT", "/api/v1/credentials/Z/shares/user:carol", map[string]any{"role": "user"})
		admin.must(204, "DELETE", "/api/v1/users/mona?transferTo=user:carol", nil)

		wantProblem(t, admin.do("GET", "/api/v1/users/mona", nil), 404, "not_found", "")
		wantProblem(t, mona.do("GET", "/api/v1/me", nil), 401, "unauthenticated", "")
		for _, path := range []string{"/api/v1/credentials/SQL", "/api/v1/environment-variables/cf_SqlUser",
			"/api/v1/environment-variables/cf_SqlPass", "/api/v1/connections/sql-build", "/api/v1/connections/z-build"} {
			if got := admin.must(200, "GET", path, nil).str("owner"); got != "carol" {
				t.Errorf("%s owner %q, want carol", path, got)
			}
		}
		if got := sharesOf(admin, "/api/v1/credentials/SQL"); fmt.Sprint(got) != fmt.Sprint(map[string]string{"user:carol": "owner"}) {
			t.Errorf("SQL shares %v", got)
		}
		// The variable mona held the owner role on: carol holds it now; zed
		// stays its owner of record.
		if got := sharesOf(admin, "/api/v1/environment-variables/cf_Shared"); fmt.Sprint(got) != fmt.Sprint(map[string]string{"user:carol": "owner", "user:zed": "owner"}) {
			t.Errorf("cf_Shared shares %v", got)
		}
		if got := admin.must(200, "GET", "/api/v1/environment-variables/cf_Shared", nil).str("owner"); got != "zed" {
			t.Errorf("cf_Shared owner %q, want zed", got)
		}
		// The runners keep working, now on carol's access.
		env.runner.must(200, "POST", "/api/v1/connections/sql-build/resolve", nil)
		env.runner.must(200, "POST", "/api/v1/connections/z-build/resolve", nil)

		// Each move is audited under its object, and the deletion under the user.
		for _, c := range []struct{ action, resource string }{
			{"credential.owner.transfer", "credential:SQL"}, {"variable.owner.transfer", "variable:cf_SqlPass"},
			{"variable.owner.transfer", "variable:cf_Shared"}, {"connection.owner.transfer", "connection:z-build"},
		} {
			recs := auditOf(admin, c.action, c.resource)
			if len(recs) != 1 || !strings.Contains(recs[0]["reason"].(string), "from user:mona to user:carol; user:mona deleted") {
				t.Errorf("%s %s: %v", c.action, c.resource, recs)
			}
		}
		recs := auditOf(admin, "user.delete", "user:mona")
		if len(recs) != 1 || recs[0]["reason"] != "handed over to user:carol: 1 credential, 3 environment variables, 2 connections" {
			t.Errorf("user.delete %v", recs)
		}
	})
}
