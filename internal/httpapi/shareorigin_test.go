package httpapi_test

import (
	"strings"
	"testing"
	"time"

	"github.com/credflow/credflow/internal/metadb/metadbtest"
	"github.com/credflow/credflow/internal/secretstore/cache"
)

// variableShares returns a variable's shares held by principal, as
// "role via=<viaCredential> expires=<set|never>" strings.
func variableShares(t *testing.T, a api, variable, principal string) []string {
	t.Helper()
	var out []string
	l := a.must(200, "GET", "/api/v1/environment-variables/"+variable+"/shares", nil)
	for _, it := range l.body["items"].([]any) {
		m := it.(map[string]any)
		if m["principal"] != principal {
			continue
		}
		exp := "never"
		if m["expiresAt"] != nil {
			exp = "set"
		}
		out = append(out, m["role"].(string)+" via="+strOf(m["viaCredential"])+" expires="+exp)
	}
	return out
}

func strOf(v any) string {
	s, _ := v.(string)
	return s
}

// remaining renders a credential unshare's remainingVariableShares or
// removedVariableShares as "variable role via" strings.
func remaining(r resp, field string) string {
	var out []string
	for _, it := range r.body[field].([]any) {
		m := it.(map[string]any)
		out = append(out, strOf(m["variable"])+" "+strOf(m["role"])+" "+strOf(m["viaCredential"]))
	}
	return strings.Join(out, "; ")
}

// TestExShareeCannotResolveThroughOwnCredential: a maker given a credential
// builds a credential and a connection of their own from its variables.
// Their resolves stop as soon as their share of a variable is removed or
// expires, cached value or not.
func TestExShareeCannotResolveThroughOwnCredential(t *testing.T) {
	eachEngine(t, func(t *testing.T, e metadbtest.Engine) {
		env := startRuntime(t, e, cache.Options{TTL: time.Hour})
		mona, admin := env.maker, env.admin
		nick := newUser(admin, "nick", "maker")
		mona.must(200, "PUT", "/api/v1/credentials/SQL/shares/user:nick", map[string]any{"role": "user"})
		nick.must(201, "POST", "/api/v1/credentials", map[string]any{"name": "nick-sql", "username": "cf_SqlUser", "password": "cf_SqlPass"})
		nick.must(201, "POST", "/api/v1/connections", map[string]any{"name": "nick-own", "credential": "nick-sql", "runnerGroup": "build"})
		env.runner.must(200, "POST", "/api/v1/connections/nick-own/resolve", nil)

		// Removing the credential share says what remains, and leaves it.
		u := mona.must(200, "DELETE", "/api/v1/credentials/SQL/shares/user:nick", nil)
		if got, want := remaining(u, "remainingVariableShares"), "cf_SqlUser user credential:SQL; cf_SqlPass user credential:SQL"; got != want {
			t.Errorf("remaining %q, want %q (%s)", got, want, u.raw)
		}
		if got := remaining(u, "removedVariableShares"); got != "" {
			t.Errorf("removed %q without withVariables", got)
		}
		env.runner.must(200, "POST", "/api/v1/connections/nick-own/resolve", nil)
		gets := env.vault.Gets()

		// Removing the variable share stops the next resolve at once.
		mona.must(204, "DELETE", "/api/v1/environment-variables/cf_SqlPass/shares/user:nick", nil)
		r := env.runner.do("POST", "/api/v1/connections/nick-own/resolve", nil)
		wantProblem(t, r, 403, "owner_lost_access", "")
		if !strings.Contains(r.str("detail"), "cf_SqlPass") {
			t.Errorf("detail does not name the variable: %q", r.str("detail"))
		}
		if env.vault.Gets() != gets {
			t.Error("a refused resolve read the store")
		}
		if strings.Contains(string(r.raw), "first-password-value") {
			t.Fatal("the refusal carries the value")
		}
		env.runner.must(200, "POST", "/api/v1/connections/sql-build/resolve", nil)
	})
}

// TestCredentialShareExpiryReachesVariables: sharing a credential again with
// an expiry puts it on the variable shares it gave, and once it passes the
// ex-sharee's own connection stops resolving.
func TestCredentialShareExpiryReachesVariables(t *testing.T) {
	eachEngine(t, func(t *testing.T, e metadbtest.Engine) {
		env := startRuntime(t, e, cache.Options{TTL: time.Hour})
		mona, admin := env.maker, env.admin
		nick := newUser(admin, "nick", "maker")
		mona.must(200, "PUT", "/api/v1/credentials/SQL/shares/user:nick", map[string]any{"role": "user-share"})
		for _, v := range []string{"cf_SqlUser", "cf_SqlPass"} {
			if got := variableShares(t, mona, v, "user:nick"); strings.Join(got, ",") != "user via=credential:SQL expires=never" {
				t.Errorf("%s: %q", v, got)
			}
		}
		nick.must(201, "POST", "/api/v1/credentials", map[string]any{"name": "nick-sql", "username": "cf_SqlUser", "password": "cf_SqlPass"})
		nick.must(201, "POST", "/api/v1/connections", map[string]any{"name": "nick-own", "credential": "nick-sql", "runnerGroup": "build"})

		until := time.Now().Add(3 * time.Second)
		mona.must(200, "PUT", "/api/v1/credentials/SQL/shares/user:nick", map[string]any{"role": "user", "expiresAt": until.UTC().Format(time.RFC3339Nano)})
		for _, v := range []string{"cf_SqlUser", "cf_SqlPass"} {
			if got := variableShares(t, mona, v, "user:nick"); strings.Join(got, ",") != "user via=credential:SQL expires=set" {
				t.Errorf("%s after a share with an expiry: %q", v, got)
			}
		}
		env.runner.must(200, "POST", "/api/v1/connections/nick-own/resolve", nil) // the plan is cached now
		time.Sleep(time.Until(until) + 200*time.Millisecond)
		wantProblem(t, env.runner.do("POST", "/api/v1/connections/nick-own/resolve", nil), 403, "owner_lost_access", "")
		wantProblem(t, nick.do("GET", "/api/v1/environment-variables/cf_SqlPass", nil), 404, "not_found", "")
	})
}

// TestUnshareCredentialWithVariables: ?withVariables=true removes the
// variable shares this credential share gave, and only those.
func TestUnshareCredentialWithVariables(t *testing.T) {
	eachEngine(t, func(t *testing.T, e metadbtest.Engine) {
		env := startRuntime(t, e, cache.Options{TTL: time.Hour})
		mona, admin := env.maker, env.admin
		nick := newUser(admin, "nick", "maker")
		mona.must(201, "POST", "/api/v1/credentials", map[string]any{"name": "SQL2", "username": "cf_SqlUser", "password": "cf_SqlPass"})
		// nick holds cf_SqlUser directly as co-owner, and both variables through SQL and SQL2.
		mona.must(200, "PUT", "/api/v1/environment-variables/cf_SqlUser/shares/user:nick", map[string]any{"role": "co-owner"})
		mona.must(200, "PUT", "/api/v1/credentials/SQL/shares/user:nick", map[string]any{"role": "user"})
		mona.must(200, "PUT", "/api/v1/credentials/SQL2/shares/user:nick", map[string]any{"role": "user"})
		if got := variableShares(t, mona, "cf_SqlUser", "user:nick"); strings.Join(got, ",") !=
			"co-owner via= expires=never,user via=credential:SQL expires=never,user via=credential:SQL2 expires=never" {
			t.Errorf("cf_SqlUser: %q", got)
		}
		nick.must(201, "POST", "/api/v1/connections", map[string]any{"name": "nick-build", "credential": "SQL", "runnerGroup": "build"})
		nick.must(201, "POST", "/api/v1/credentials", map[string]any{"name": "nick-sql", "username": "cf_SqlUser", "password": "cf_SqlPass"})
		nick.must(201, "POST", "/api/v1/connections", map[string]any{"name": "nick-own", "credential": "nick-sql", "runnerGroup": "build"})

		wantProblem(t, mona.do("DELETE", "/api/v1/credentials/SQL/shares/user:nick?withVariables=maybe", nil), 400, "invalid_request", "withVariables")
		u := mona.must(200, "DELETE", "/api/v1/credentials/SQL/shares/user:nick?withVariables=true", nil)
		if got, want := remaining(u, "removedVariableShares"), "cf_SqlUser user credential:SQL; cf_SqlPass user credential:SQL"; got != want {
			t.Errorf("removed %q, want %q", got, want)
		}
		// The direct share is untouched, and SQL2's shares remain.
		if got, want := remaining(u, "remainingVariableShares"), "cf_SqlUser co-owner ; cf_SqlUser user credential:SQL2; cf_SqlPass user credential:SQL2"; got != want {
			t.Errorf("remaining %q, want %q", got, want)
		}
		wantProblem(t, env.runner.do("POST", "/api/v1/connections/nick-build/resolve", nil), 403, "owner_lost_access", "")
		env.runner.must(200, "POST", "/api/v1/connections/nick-own/resolve", nil)

		// Removing SQL2's with its variables leaves only the direct share: the password is gone.
		u = mona.must(200, "DELETE", "/api/v1/credentials/SQL2/shares/user:nick?withVariables=true", nil)
		if got, want := remaining(u, "remainingVariableShares"), "cf_SqlUser co-owner "; got != want {
			t.Errorf("remaining %q, want %q", got, want)
		}
		wantProblem(t, env.runner.do("POST", "/api/v1/connections/nick-own/resolve", nil), 403, "owner_lost_access", "")
		if got := variableShares(t, mona, "cf_SqlPass", "user:nick"); len(got) != 0 {
			t.Errorf("cf_SqlPass still shared with nick: %q", got)
		}

		// Both removals are audited with what went with them.
		l := admin.must(200, "GET", "/api/v1/audit?action=credential.unshare", nil)
		if !strings.Contains(string(l.raw), "removed its share of variable:cf_SqlPass") {
			t.Errorf("audit %s", l.raw)
		}
	})
}
