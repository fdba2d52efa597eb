package httpapi_test

import (
	"fmt"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/credflow/credflow/internal/metadb/metadbtest"
	"github.com/credflow/credflow/internal/server/servertest"
)

// populate makes a few audited changes of every sort and returns the
// secret value and token that must never reach the trail.
func populate(t *testing.T, admin api) (secret, token string) {
	secret = randomValue()
	bob := newUser(admin, "bob", "maker")
	token = bob.token
	putSecret(admin, "db", secret)
	admin.must(201, "POST", "/api/v1/environment-variables", map[string]any{"schemaName": "cf_U", "displayName": "u", "type": "text", "value": "sa"})
	admin.must(201, "POST", "/api/v1/environment-variables", map[string]any{"schemaName": "cf_P", "displayName": "p", "type": "secret",
		"secretRef": map[string]string{"store": "local", "ref": "db"}})
	admin.must(201, "POST", "/api/v1/credentials", map[string]any{"name": "DB", "username": "cf_U", "password": "cf_P"})
	admin.must(200, "PUT", "/api/v1/credentials/DB/shares/user:bob", map[string]any{"role": "user"})
	admin.must(200, "PATCH", "/api/v1/credentials/DB", map[string]any{"description": "prod"})
	wantProblem(t, bob.do("PATCH", "/api/v1/credentials/DB", map[string]any{"description": "mine"}), 403, "forbidden", "")
	admin.must(200, "DELETE", "/api/v1/credentials/DB/shares/user:bob", nil)
	return secret, token
}

func TestAuditTrail(t *testing.T) {
	eachEngine(t, func(t *testing.T, e metadbtest.Engine) {
		inst, admin := start(t, e)
		secret, token := populate(t, admin)

		all := admin.must(200, "GET", "/api/v1/audit?limit=200", nil)
		var actions []string
		for _, it := range all.body["items"].([]any) {
			m := it.(map[string]any)
			actions = append(actions, fmt.Sprintf("%s %s %s %s", m["actor"], m["action"], m["resource"], m["outcome"]))
			if m["time"] == "" || m["hash"] == "" {
				t.Errorf("record lacks time or hash: %v", m)
			}
			if m["actor"] != "system" && (m["requestId"] == nil || m["client"] != "127.0.0.1") {
				t.Errorf("record lacks its request id or client: %v", m)
			}
		}
		got := strings.Join(actions, "\n")
		for _, want := range []string{
			"system user.create user:admin success",
			"admin user.create user:bob success",
			"admin token.create",
			"admin store.secret.put store:local secret:db success",
			"admin variable.create variable:cf_U success",
			"admin variable.create variable:cf_P success",
			"admin credential.create credential:DB success",
			"admin credential.share credential:DB user:bob success",
			"admin credential.update credential:DB success",
			"bob credential.update credential:DB denied",
			"admin credential.unshare credential:DB user:bob success",
		} {
			if !strings.Contains(got, want) {
				t.Errorf("no audit record %q in:\n%s", want, got)
			}
		}
		// Filters.
		f := admin.must(200, "GET", "/api/v1/audit?actor=bob", nil)
		if items := f.body["items"].([]any); len(items) != 1 || items[0].(map[string]any)["reason"] == "" {
			t.Errorf("actor filter / denial reason: %s", f.raw)
		}
		f = admin.must(200, "GET", "/api/v1/audit?action=credential.share&resource="+url.QueryEscape("credential:DB user:bob"), nil)
		if items := f.body["items"].([]any); len(items) != 1 {
			t.Errorf("action+resource filter: %s", f.raw)
		}
		future := time.Now().Add(time.Hour).UTC().Format(time.RFC3339)
		if f = admin.must(200, "GET", "/api/v1/audit?from="+future, nil); len(f.body["items"].([]any)) != 0 {
			t.Errorf("from filter: %s", f.raw)
		}
		if f = admin.must(200, "GET", "/api/v1/audit?to="+future+"&limit=2", nil); len(f.body["items"].([]any)) != 2 || f.str("nextCursor") == "" {
			t.Errorf("to filter / paging: %s", f.raw)
		}
		next := admin.must(200, "GET", "/api/v1/audit?limit=2&cursor="+f.str("nextCursor"), nil)
		if first := next.body["items"].([]any)[0].(map[string]any)["seq"]; first != 3.0 {
			t.Errorf("second page starts at %v", first)
		}
		wantProblem(t, admin.do("GET", "/api/v1/audit?from=yesterday", nil), 400, "invalid_request", "from")
		wantProblem(t, admin.do("GET", "/api/v1/audit?order=random", nil), 400, "invalid_request", "order")
		newest := admin.must(200, "GET", "/api/v1/audit?order=newest&limit=2", nil)
		n1 := newest.body["items"].([]any)
		older := admin.must(200, "GET", "/api/v1/audit?order=newest&limit=2&cursor="+newest.str("nextCursor"), nil)
		n2 := older.body["items"].([]any)
		s := func(it any) float64 { return it.(map[string]any)["seq"].(float64) }
		if len(n1) != 2 || len(n2) != 2 || s(n1[0]) <= s(n1[1]) || s(n1[1]) <= s(n2[0]) || s(n2[0]) <= s(n2[1]) {
			t.Errorf("newest first: %s then %s", newest.raw, older.raw)
		}

		// Never a secret value or a token, anywhere in the table.
		rows, err := inst.Server.DB().SQL().Query(`SELECT actor, action, resource, outcome, reason, request_id, client FROM audit_log`)
		if err != nil {
			t.Fatal(err)
		}
		defer rows.Close()
		for rows.Next() {
			var cols [7]string
			if err := rows.Scan(&cols[0], &cols[1], &cols[2], &cols[3], &cols[4], &cols[5], &cols[6]); err != nil {
				t.Fatal(err)
			}
			row := strings.Join(cols[:], " ")
			if strings.Contains(row, secret) || strings.Contains(row, token[12:]) {
				t.Fatalf("audit record holds a secret or a token: %q", row)
			}
		}

		v := admin.must(200, "GET", "/api/v1/audit/verify", nil)
		if v.body["ok"] != true || v.body["records"].(float64) < 11 {
			t.Errorf("verify %s", v.raw)
		}
	})
}

// TestAuditTamperingIsDetected edits, deletes and reorders records
// directly in the database, and expects verify to find each.
func TestAuditTamperingIsDetected(t *testing.T) {
	eachEngine(t, func(t *testing.T, e metadbtest.Engine) {
		cases := []struct {
			name    string
			tamper  []string
			firstAt float64
		}{
			{"edited actor", []string{`UPDATE audit_log SET actor = 'mallory' WHERE seq = 4`}, 4},
			{"edited outcome", []string{`UPDATE audit_log SET outcome = 'success' WHERE outcome = 'denied'`}, -1},
			{"deleted from the middle", []string{`DELETE FROM audit_log WHERE seq = 5`}, 6},
			{"deleted the last", []string{`DELETE FROM audit_log WHERE seq = (SELECT max(seq) FROM audit_log)`}, -2},
			{"reordered", []string{
				`UPDATE audit_log SET seq = 1000 WHERE seq = 3`,
				`UPDATE audit_log SET seq = 3 WHERE seq = 4`,
				`UPDATE audit_log SET seq = 4 WHERE seq = 1000`}, 3},
		}
		for _, c := range cases {
			t.Run(c.name, func(t *testing.T) {
				inst := servertest.Start(t, e)
				admin := api{t: t, base: inst.URL, token: inst.AdminToken}
				populate(t, admin)
				if v := admin.must(200, "GET", "/api/v1/audit/verify", nil); v.body["ok"] != true {
					t.Fatalf("untouched chain fails: %s", v.raw)
				}
				total := admin.must(200, "GET", "/api/v1/audit/verify", nil).body["records"].(float64)
				var denied float64
				if err := inst.Server.DB().SQL().QueryRow(`SELECT seq FROM audit_log WHERE outcome = 'denied'`).Scan(&denied); err != nil {
					t.Fatal(err)
				}
				for _, q := range c.tamper {
					if _, err := inst.Server.DB().SQL().Exec(q); err != nil {
						t.Fatal(err)
					}
				}
				v := admin.must(200, "GET", "/api/v1/audit/verify", nil)
				want := c.firstAt
				switch want {
				case -1:
					want = denied
				case -2:
					want = total // the record that should be there
				}
				if v.body["ok"] != false || v.body["firstBadRecord"] != want || v.str("problem") == "" {
					t.Errorf("verify after tampering: %s (want first bad %v)", v.raw, want)
				}
			})
		}
	})
}

// TestChangeFailsWhenItsAuditRecordCannotBeWritten makes appends to the
// audit table fail and checks that the change is not saved.
func TestChangeFailsWhenItsAuditRecordCannotBeWritten(t *testing.T) {
	eachEngine(t, func(t *testing.T, e metadbtest.Engine) {
		inst, admin := start(t, e)
		admin.must(201, "POST", "/api/v1/environment-variables", map[string]any{"schemaName": "cf_Before", "displayName": "b", "type": "text", "value": "v"})
		db := inst.Server.DB().SQL()
		var stmts []string
		if e.Name == "sqlite" {
			stmts = []string{`CREATE TRIGGER audit_down BEFORE INSERT ON audit_log BEGIN SELECT RAISE(ABORT, 'audit unavailable'); END`}
		} else {
			stmts = []string{
				`CREATE FUNCTION audit_down() RETURNS trigger AS $$ BEGIN RAISE EXCEPTION 'audit unavailable'; END $$ LANGUAGE plpgsql`,
				`CREATE TRIGGER audit_down BEFORE INSERT ON audit_log FOR EACH ROW EXECUTE FUNCTION audit_down()`,
			}
		}
		for _, s := range stmts {
			if _, err := db.Exec(s); err != nil {
				t.Fatal(err)
			}
		}
		for _, c := range []struct {
			method, path string
			body         any
		}{
			{"POST", "/api/v1/environment-variables", map[string]any{"schemaName": "cf_After", "displayName": "a", "type": "text", "value": "v"}},
			{"PATCH", "/api/v1/environment-variables/cf_Before", map[string]any{"value": "changed"}},
			{"DELETE", "/api/v1/environment-variables/cf_Before", nil},
			{"PUT", "/api/v1/stores/local/secrets/s", map[string]string{"value": "v"}},
			{"POST", "/api/v1/users", map[string]any{"name": "u", "role": "maker"}},
		} {
			wantProblem(t, admin.do(c.method, c.path, c.body), 500, "internal_error", "")
		}
		admin.must(404, "GET", "/api/v1/environment-variables/cf_After", nil)
		if g := admin.must(200, "GET", "/api/v1/environment-variables/cf_Before", nil); g.str("value") != "v" {
			t.Errorf("update without audit record was saved: %s", g.raw)
		}
		if l := admin.must(200, "GET", "/api/v1/stores/local/secrets", nil); len(l.body["items"].([]any)) != 0 {
			t.Errorf("secret written without audit record: %s", l.raw)
		}
		admin.must(404, "GET", "/api/v1/users/u", nil)
	})
}
