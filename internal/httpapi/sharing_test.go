package httpapi_test

import (
	"strings"
	"testing"
	"time"

	"github.com/credflow/credflow/internal/metadb/metadbtest"
)

func TestSharingRulesAndCascade(t *testing.T) {
	eachEngine(t, func(t *testing.T, e metadbtest.Engine) {
		inst, admin := start(t, e)
		alice := newUser(admin, "alice", "maker")
		bob := newUser(admin, "bob", "maker")
		carol := newUser(admin, "carol", "maker")
		admin.must(200, "PUT", "/api/v1/stores/local/grants/user:alice", map[string]any{})
		putSecret(alice, "db", "cascade-secret")
		alice.must(201, "POST", "/api/v1/environment-variables", map[string]any{"schemaName": "cf_DbUser", "displayName": "u", "type": "text", "value": "sa"})
		alice.must(201, "POST", "/api/v1/environment-variables", map[string]any{"schemaName": "cf_DbPass", "displayName": "p", "type": "secret",
			"secretRef": map[string]string{"store": "local", "ref": "db"}})
		alice.must(201, "POST", "/api/v1/credentials", map[string]any{"name": "DB", "username": "cf_DbUser", "password": "cf_DbPass"})

		// Before sharing, bob sees nothing and cannot use the variables.
		wantProblem(t, bob.do("GET", "/api/v1/credentials/DB", nil), 404, "not_found", "")
		wantProblem(t, bob.do("GET", "/api/v1/environment-variables/cf_DbPass", nil), 404, "not_found", "")
		wantProblem(t, bob.do("POST", "/api/v1/credentials", map[string]any{"name": "mine", "username": "cf_DbUser", "password": "cf_DbPass"}),
			422, "validation_failed", "username")

		// Sharing the credential as user-share gives bob the use of both variables.
		s := alice.must(200, "PUT", "/api/v1/credentials/DB/shares/user:bob", map[string]any{"role": "user-share"})
		if s.str("principal") != "user:bob" || s.str("role") != "user-share" {
			t.Errorf("share %s", s.raw)
		}
		bob.must(200, "GET", "/api/v1/credentials/DB", nil)
		for _, v := range []string{"cf_DbUser", "cf_DbPass"} {
			shares := bob.must(200, "GET", "/api/v1/environment-variables/"+v+"/shares", nil)
			if !strings.Contains(string(shares.raw), `"principal":"user:bob","role":"user"`) {
				t.Errorf("%s shares %s", v, shares.raw)
			}
		}
		bob.must(201, "POST", "/api/v1/credentials", map[string]any{"name": "bob's copy", "username": "cf_DbUser", "password": "cf_DbPass"})
		// Using is not editing.
		wantProblem(t, bob.do("PATCH", "/api/v1/environment-variables/cf_DbUser", map[string]any{"value": "x"}), 403, "forbidden", "")

		// A user-share holder grants user or user-share, nothing more.
		wantProblem(t, bob.do("PUT", "/api/v1/credentials/DB/shares/user:carol", map[string]any{"role": "co-owner"}), 403, "forbidden", "")
		wantProblem(t, bob.do("PUT", "/api/v1/credentials/DB/shares/user:carol", map[string]any{"role": "owner"}), 403, "forbidden", "")
		bob.must(200, "PUT", "/api/v1/credentials/DB/shares/user:carol", map[string]any{"role": "user"})
		// ... and cannot touch the owner's share.
		wantProblem(t, bob.do("DELETE", "/api/v1/credentials/DB/shares/user:alice", nil), 403, "forbidden", "")
		wantProblem(t, bob.do("PUT", "/api/v1/credentials/DB/shares/user:alice", map[string]any{"role": "user"}), 403, "forbidden", "")

		// Bad share requests.
		wantProblem(t, alice.do("PUT", "/api/v1/credentials/DB/shares/user:carol", map[string]any{"role": "boss"}), 422, "validation_failed", "role")
		wantProblem(t, alice.do("PUT", "/api/v1/credentials/DB/shares/user:carol", map[string]any{"role": "user", "expiresAt": "2001-01-01T00:00:00Z"}), 422, "validation_failed", "expiresAt")
		wantProblem(t, alice.do("PUT", "/api/v1/credentials/DB/shares/user:nobody", map[string]any{"role": "user"}), 404, "not_found", "")
		wantProblem(t, alice.do("PUT", "/api/v1/credentials/DB/shares/team:x", map[string]any{"role": "user"}), 422, "validation_failed", "principal")
		wantProblem(t, alice.do("DELETE", "/api/v1/credentials/DB/shares/user:admin", nil), 404, "not_found", "")

		// The last owner or co-owner stays.
		wantProblem(t, alice.do("DELETE", "/api/v1/credentials/DB/shares/user:alice", nil), 409, "last_owner", "")
		wantProblem(t, alice.do("PUT", "/api/v1/credentials/DB/shares/user:alice", map[string]any{"role": "user"}), 409, "last_owner", "")
		alice.must(200, "PUT", "/api/v1/credentials/DB/shares/user:carol", map[string]any{"role": "co-owner"})
		alice.must(200, "DELETE", "/api/v1/credentials/DB/shares/user:alice", nil) // carol co-owns now
		wantProblem(t, carol.do("DELETE", "/api/v1/credentials/DB/shares/user:carol", nil), 409, "last_owner", "")

		// Removing bob's credential share leaves his variable shares.
		carol.must(200, "DELETE", "/api/v1/credentials/DB/shares/user:bob", nil)
		wantProblem(t, bob.do("GET", "/api/v1/credentials/DB", nil), 404, "not_found", "")
		bob.must(200, "GET", "/api/v1/environment-variables/cf_DbPass", nil)

		// A share that expires stops counting by itself.
		until := time.Now().Add(2 * time.Second).UTC().Format(time.RFC3339Nano)
		carol.must(200, "PUT", "/api/v1/credentials/DB/shares/user:bob", map[string]any{"role": "user", "expiresAt": until})
		bob.must(200, "GET", "/api/v1/credentials/DB", nil)
		if _, err := inst.Server.DB().SQL().Exec(rebind(inst, `UPDATE shares SET expires_at = $1 WHERE object_kind = 'credential' AND principal_id = (SELECT id FROM users WHERE name = 'bob')`),
			time.Now().Add(-time.Second).UTC()); err != nil {
			t.Fatal(err)
		}
		wantProblem(t, bob.do("GET", "/api/v1/credentials/DB", nil), 404, "not_found", "")
		if l := bob.must(200, "GET", "/api/v1/credentials", nil); strings.Contains(string(l.raw), `"name":"DB"`) {
			t.Errorf("expired share still lists the credential: %s", l.raw)
		}

		// A group share counts for its members, and stops when they leave.
		admin.must(201, "POST", "/api/v1/groups", map[string]any{"name": "dba"})
		admin.must(204, "PUT", "/api/v1/groups/dba/members/user:bob", nil)
		carol.must(200, "PUT", "/api/v1/credentials/DB/shares/group:dba", map[string]any{"role": "user"})
		bob.must(200, "GET", "/api/v1/credentials/DB", nil)
		admin.must(204, "DELETE", "/api/v1/groups/dba/members/bob", nil)
		wantProblem(t, bob.do("GET", "/api/v1/credentials/DB", nil), 404, "not_found", "")

		// Deleting the credential takes its shares with it.
		carol.must(204, "DELETE", "/api/v1/credentials/DB", nil)
		var n int
		if err := inst.Server.DB().SQL().QueryRow(`SELECT count(*) FROM shares WHERE object_kind = 'credential'
			AND object_id NOT IN (SELECT id FROM credentials)`).Scan(&n); err != nil || n != 0 {
			t.Errorf("%d orphan credential shares (%v)", n, err)
		}
	})
}

func TestStoreGrants(t *testing.T) {
	eachEngine(t, func(t *testing.T, e metadbtest.Engine) {
		_, admin := start(t, e)
		mia := newUser(admin, "mia", "maker")
		newUser(admin, "max", "maker")
		putSecret(admin, "team-a.db", "a-secret")
		putSecret(admin, "team-b.db", "b-secret")
		secretVar := func(ref string) map[string]any {
			return map[string]any{"displayName": "v " + ref, "type": "secret", "secretRef": map[string]string{"store": "local", "ref": ref}}
		}

		// No grant: refused, nothing saved, and the refusal is audited.
		wantProblem(t, mia.do("POST", "/api/v1/environment-variables", secretVar("team-a.db")), 403, "store_not_granted", "")
		wantProblem(t, mia.do("PUT", "/api/v1/stores/local/secrets/team-a.db", map[string]string{"value": "overwrite"}), 403, "store_not_granted", "")
		wantProblem(t, mia.do("DELETE", "/api/v1/stores/local/secrets/team-a.db", nil), 403, "store_not_granted", "")
		if l := admin.must(200, "GET", "/api/v1/environment-variables", nil); len(l.body["items"].([]any)) != 0 {
			t.Fatalf("refused create saved a variable: %s", l.raw)
		}
		// A missing secret outside the grant is refused the same way: the
		// grant is checked before the store is asked.
		wantProblem(t, mia.do("POST", "/api/v1/environment-variables", secretVar("team-a.none")), 403, "store_not_granted", "")

		// A prefix grant covers only its prefix.
		g := admin.must(200, "PUT", "/api/v1/stores/local/grants/user:mia", map[string]any{"prefix": "team-a."})
		if g.str("principal") != "user:mia" || g.str("prefix") != "team-a." || g.str("store") != "local" {
			t.Errorf("grant %s", g.raw)
		}
		v := mia.must(201, "POST", "/api/v1/environment-variables", secretVar("team-a.db"))
		wantProblem(t, mia.do("POST", "/api/v1/environment-variables", secretVar("team-b.db")), 403, "store_not_granted", "")
		wantProblem(t, mia.do("PATCH", "/api/v1/environment-variables/"+v.str("id"), map[string]any{"secretRef": map[string]string{"store": "local", "ref": "team-b.db"}}),
			403, "store_not_granted", "")
		if g := mia.must(200, "GET", "/api/v1/environment-variables/"+v.str("id"), nil); g.body["secretRef"].(map[string]any)["ref"] != "team-a.db" {
			t.Errorf("refused update changed the reference: %s", g.raw)
		}
		mia.must(200, "PUT", "/api/v1/stores/local/secrets/team-a.db", map[string]string{"value": "rotated"})

		// A group grant counts for members.
		admin.must(201, "POST", "/api/v1/groups", map[string]any{"name": "team-b"})
		admin.must(204, "PUT", "/api/v1/groups/team-b/members/mia", nil)
		admin.must(200, "PUT", "/api/v1/stores/local/grants/group:team-b", map[string]any{"prefix": "team-b."})
		mia.must(201, "POST", "/api/v1/environment-variables", secretVar("team-b.db"))

		l := admin.must(200, "GET", "/api/v1/stores/local/grants", nil)
		if items := l.body["items"].([]any); len(items) != 2 {
			t.Errorf("grants %s", l.raw)
		}
		// Only admins manage grants.
		wantProblem(t, mia.do("PUT", "/api/v1/stores/local/grants/user:mia", map[string]any{"prefix": ""}), 403, "forbidden", "")
		wantProblem(t, mia.do("GET", "/api/v1/stores/local/grants", nil), 403, "forbidden", "")
		wantProblem(t, admin.do("PUT", "/api/v1/stores/local/grants/user:ghost", map[string]any{}), 404, "not_found", "")
		wantProblem(t, admin.do("PUT", "/api/v1/stores/nowhere/grants/user:mia", map[string]any{}), 404, "not_found", "")
		wantProblem(t, admin.do("DELETE", "/api/v1/stores/local/grants/user:max", nil), 404, "not_found", "")

		admin.must(204, "DELETE", "/api/v1/stores/local/grants/user:mia", nil)
		wantProblem(t, mia.do("POST", "/api/v1/environment-variables", secretVar("team-a.db")), 403, "store_not_granted", "")

		denied := admin.must(200, "GET", "/api/v1/audit?actor=mia&action=store.reference", nil)
		if items := denied.body["items"].([]any); len(items) == 0 || items[0].(map[string]any)["outcome"] != "denied" {
			t.Errorf("grant refusals not audited: %s", denied.raw)
		}
	})
}
