package httpapi_test

import (
	"strings"
	"testing"

	"github.com/credflow/credflow/internal/metadb/metadbtest"
	"github.com/credflow/credflow/internal/secretstore/cache"
)

// TestCorruptSecret: a built-in secret whose stored ciphertext was swapped
// for another's fails its resolve with 500 secret_corrupt, an ERROR line in
// the log and an audit record that name the store and secret (never a
// value), and fails the read step of the store's check.
func TestCorruptSecret(t *testing.T) {
	eachEngine(t, func(t *testing.T, e metadbtest.Engine) {
		env := startRuntime(t, e, cache.Options{})
		admin := env.admin
		putSecret(admin, "local-pass", "the-real-password")
		putSecret(admin, "other-pass", "another-password")
		admin.must(201, "POST", "/api/v1/environment-variables", map[string]any{"schemaName": "cf_LocalPass", "displayName": "l", "type": "secret",
			"secretRef": map[string]string{"store": "local", "ref": "local-pass"}})
		admin.must(201, "POST", "/api/v1/credentials", map[string]any{"name": "Local", "username": "cf_SqlUser", "password": "cf_LocalPass"})
		admin.must(201, "POST", "/api/v1/connections", map[string]any{"name": "local-build", "credential": "Local", "runnerGroup": "build"})
		if c := admin.must(200, "POST", "/api/v1/stores/local/check", map[string]any{"secret": "local-pass"}); c.body["ok"] != true {
			t.Fatalf("check before tampering: %s", c.raw)
		}

		if _, err := env.inst.Server.DB().SQL().ExecContext(t.Context(), `UPDATE builtin_secrets
			SET ciphertext = (SELECT ciphertext FROM builtin_secrets WHERE name = 'other-pass' AND version = 1)
			WHERE name = 'local-pass' AND version = 1`); err != nil {
			t.Fatal(err)
		}

		r := env.runner.do("POST", "/api/v1/connections/local-build/resolve", nil)
		wantProblem(t, r, 500, "secret_corrupt", "")
		if !strings.Contains(r.str("detail"), `"local-pass"`) || !strings.Contains(r.str("detail"), `"local"`) {
			t.Errorf("detail does not name the secret and store: %s", r.raw)
		}

		log := env.inst.Log()
		var line string
		for l := range strings.SplitSeq(log, "\n") {
			if strings.Contains(l, "integrity check") && strings.Contains(l, `"level":"ERROR"`) {
				line = l
			}
		}
		if line == "" || !strings.Contains(line, `"store":"local"`) || !strings.Contains(line, `"secret":"local-pass"`) {
			t.Errorf("no ERROR line naming store and secret; log:\n%s", log)
		}

		l := admin.must(200, "GET", "/api/v1/audit?action=connection.resolve&order=newest&limit=1", nil)
		items, _ := l.body["items"].([]any)
		if len(items) != 1 {
			t.Fatalf("no resolve record: %s", l.raw)
		}
		rec := items[0].(map[string]any)
		if reason, _ := rec["reason"].(string); rec["outcome"] != "failure" || !strings.Contains(reason, "integrity check") ||
			!strings.Contains(reason, "local-pass") || !strings.Contains(reason, `"local"`) {
			t.Errorf("audit record %v does not say the secret failed its integrity check", rec)
		}

		c := admin.must(200, "POST", "/api/v1/stores/local/check", map[string]any{"secret": "local-pass"})
		if c.body["ok"] != false || !strings.Contains(string(c.raw), "integrity check") {
			t.Errorf("store check passed a corrupt secret: %s", c.raw)
		}

		for _, v := range []string{"the-real-password", "another-password"} {
			if strings.Contains(log+string(r.raw)+string(l.raw)+string(c.raw), v) {
				t.Errorf("a value reached the log, an answer or the trail")
			}
		}
	})
}
