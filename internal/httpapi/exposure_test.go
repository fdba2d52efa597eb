package httpapi_test

import (
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/credflow/credflow/internal/metadb/metadbtest"
	"github.com/credflow/credflow/internal/secretstore/cache"
)

// accessLines renders GET .../access as sorted "principal role | path" and
// "runnerGroup connection canResolve reason" lines.
func accessLines(r resp) (principals, groups []string) {
	for _, it := range r.body["principals"].([]any) {
		m := it.(map[string]any)
		line := strOf(m["principal"]) + " " + strOf(m["role"]) + " | " + strOf(m["path"])
		if m["expiresAt"] != nil {
			line += " (expires)"
		}
		principals = append(principals, line)
	}
	for _, it := range r.body["runnerGroups"].([]any) {
		m := it.(map[string]any)
		line := strOf(m["runnerGroup"]) + " " + strOf(m["connection"]) + " " + strOf(m["owner"])
		if m["canResolve"] == true {
			line += " can resolve"
		} else {
			line += " cannot: " + strOf(m["reason"])
		}
		groups = append(groups, line)
	}
	sort.Strings(principals)
	sort.Strings(groups)
	return principals, groups
}

func TestVariableAccess(t *testing.T) {
	eachEngine(t, func(t *testing.T, e metadbtest.Engine) {
		env := startRuntime(t, e, cache.Options{TTL: time.Hour})
		mona, admin := env.maker, env.admin
		nick := newUser(admin, "nick", "maker")
		carol := newUser(admin, "carol", "maker")
		ella := newUser(admin, "ella", "maker")
		stranger := newUser(admin, "stan", "maker")
		admin.must(201, "POST", "/api/v1/groups", map[string]any{"name": "dba"})
		admin.must(204, "PUT", "/api/v1/groups/dba/members/user:carol", nil)

		mona.must(200, "PUT", "/api/v1/credentials/SQL/shares/group:dba", map[string]any{"role": "user"})
		mona.must(200, "PUT", "/api/v1/credentials/SQL/shares/user:nick", map[string]any{"role": "user"})
		mona.must(200, "PUT", "/api/v1/environment-variables/cf_SqlPass/shares/user:nick", map[string]any{"role": "user",
			"expiresAt": time.Now().Add(time.Hour).UTC().Format(time.RFC3339)})
		mona.must(200, "PUT", "/api/v1/environment-variables/cf_SqlPass/shares/user:ella", map[string]any{"role": "co-owner"})
		nick.must(201, "POST", "/api/v1/connections", map[string]any{"name": "nick-deploy", "credential": "SQL", "runnerGroup": "deploy"})
		// ella's share has expired: she is not listed.
		if _, err := env.inst.Server.DB().SQL().Exec(rebind(env.inst, `UPDATE shares SET expires_at = $1 WHERE principal_id = (SELECT id FROM users WHERE name = 'ella')`),
			time.Now().Add(-time.Minute).UTC()); err != nil {
			t.Fatal(err)
		}

		r := mona.must(200, "GET", "/api/v1/environment-variables/cf_SqlPass/access", nil)
		if r.str("variable") != "cf_SqlPass" {
			t.Errorf("variable %s", r.raw)
		}
		principals, groups := accessLines(r)
		wantPrincipals := []string{
			"group:dba user | the share of credential:SQL",
			"user:admin owner | the admin instance role",
			"user:carol user | member of group:dba, which holds the share of credential:SQL",
			"user:mona owner | a direct share",
			"user:nick user | a direct share (expires)",
			"user:nick user | the share of credential:SQL",
		}
		if strings.Join(principals, "\n") != strings.Join(wantPrincipals, "\n") {
			t.Errorf("principals:\n%s\nwant:\n%s", strings.Join(principals, "\n"), strings.Join(wantPrincipals, "\n"))
		}
		wantGroups := []string{"build sql-build user:mona can resolve", "deploy nick-deploy user:nick can resolve"}
		if strings.Join(groups, "\n") != strings.Join(wantGroups, "\n") {
			t.Errorf("runner groups:\n%s\nwant:\n%s", strings.Join(groups, "\n"), strings.Join(wantGroups, "\n"))
		}

		// nick loses the password variable: his connection no longer reaches it.
		mona.must(204, "DELETE", "/api/v1/environment-variables/cf_SqlPass/shares/user:nick", nil)
		_, groups = accessLines(admin.must(200, "GET", "/api/v1/environment-variables/cf_SqlPass/access", nil))
		if want := "deploy nick-deploy user:nick cannot: the connection's owner may no longer use one of its credential's variables"; len(groups) != 2 || groups[1] != want {
			t.Errorf("after removing nick's share: %q", groups)
		}
		wantProblem(t, env.otherRunner.do("POST", "/api/v1/connections/nick-deploy/resolve", nil), 403, "owner_lost_access", "")

		// Only owners, co-owners and admins may ask.
		wantProblem(t, carol.do("GET", "/api/v1/environment-variables/cf_SqlPass/access", nil), 403, "forbidden", "")
		wantProblem(t, ella.do("GET", "/api/v1/environment-variables/cf_SqlPass/access", nil), 404, "not_found", "")
		wantProblem(t, stranger.do("GET", "/api/v1/environment-variables/cf_SqlPass/access", nil), 404, "not_found", "")
		wantProblem(t, env.runner.do("GET", "/api/v1/environment-variables/cf_SqlPass/access", nil), 403, "forbidden", "")
		wantProblem(t, mona.do("GET", "/api/v1/environment-variables/cf_Nope/access", nil), 404, "not_found", "")
		l := admin.must(200, "GET", "/api/v1/audit?action=variable.access&outcome=denied", nil)
		if !strings.Contains(string(l.raw), `"actor":"carol"`) {
			t.Errorf("carol's refusal is not audited: %s", l.raw)
		}
	})
}
