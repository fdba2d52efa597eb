package httpapi_test

import (
	"crypto/rand"
	"encoding/hex"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/credflow/credflow/internal/config"
	"github.com/credflow/credflow/internal/metadb/metadbtest"
	"github.com/credflow/credflow/internal/server"
	"github.com/credflow/credflow/internal/server/servertest"
)

func TestLocalStoreSecrets(t *testing.T) {
	eachEngine(t, func(t *testing.T, e metadbtest.Engine) {
		_, a := start(t, e)
		stores := a.must(200, "GET", "/api/v1/stores", nil)
		items := stores.body["items"].([]any)
		if len(items) != 1 {
			t.Fatalf("stores %s", stores.raw)
		}
		local := items[0].(map[string]any)
		if local["name"] != "local" || local["kind"] != "builtin" || local["status"] != "ready" || local["id"] == "" {
			t.Fatalf("local store %v", local)
		}
		if g := a.must(200, "GET", "/api/v1/stores/"+local["id"].(string), nil); g.str("name") != "local" {
			t.Errorf("get by id %s", g.raw)
		}
		a.must(200, "GET", "/api/v1/stores/LOCAL", nil)
		wantProblem(t, a.do("GET", "/api/v1/stores/vault", nil), 404, "not_found", "")

		p := a.must(201, "PUT", "/api/v1/stores/local/secrets/app.pass", map[string]string{"value": "v1-secret"})
		if p.str("version") != "1" || p.str("name") != "app.pass" || p.str("updatedAt") == "" {
			t.Errorf("first put %s", p.raw)
		}
		if p = a.must(200, "PUT", "/api/v1/stores/local/secrets/app.pass", map[string]string{"value": "v2-secret"}); p.str("version") != "2" {
			t.Errorf("second put %s", p.raw)
		}
		putSecret(a, "b-secret", "other")
		l := a.must(200, "GET", "/api/v1/stores/local/secrets?limit=1", nil)
		first := l.body["items"].([]any)[0].(map[string]any)
		if first["name"] != "app.pass" || first["version"] != "2" || first["versions"] != 2.0 || l.str("nextCursor") == "" {
			t.Errorf("list page 1 %s", l.raw)
		}
		l = a.must(200, "GET", "/api/v1/stores/local/secrets?cursor="+l.str("nextCursor"), nil)
		if items := l.body["items"].([]any); len(items) != 1 || items[0].(map[string]any)["name"] != "b-secret" {
			t.Errorf("list page 2 %s", l.raw)
		}

		for _, tc := range []struct {
			name, method, path string
			body               any
			status             int
			code, field        string
		}{
			{"empty value", "PUT", "/api/v1/stores/local/secrets/x", map[string]string{"value": ""}, 400, "invalid_request", "value"},
			{"no value", "PUT", "/api/v1/stores/local/secrets/x", map[string]string{}, 400, "invalid_request", "value"},
			{"value not a string", "PUT", "/api/v1/stores/local/secrets/x", map[string]any{"value": 42}, 400, "invalid_request", "value"},
			{"bad name", "PUT", "/api/v1/stores/local/secrets/-bad", map[string]string{"value": "v"}, 422, "validation_failed", "name"},
			{"long name", "PUT", "/api/v1/stores/local/secrets/" + strings.Repeat("a", 128), map[string]string{"value": "v"}, 422, "validation_failed", "name"},
			{"unknown store put", "PUT", "/api/v1/stores/nowhere/secrets/x", map[string]string{"value": "v"}, 404, "not_found", ""},
			{"unknown store list", "GET", "/api/v1/stores/nowhere/secrets", nil, 404, "not_found", ""},
			{"unknown store delete", "DELETE", "/api/v1/stores/nowhere/secrets/x", nil, 404, "not_found", ""},
			{"delete missing", "DELETE", "/api/v1/stores/local/secrets/missing", nil, 404, "not_found", ""},
			{"bad limit", "GET", "/api/v1/stores/local/secrets?limit=-1", nil, 400, "invalid_request", "limit"},
		} {
			t.Run(tc.name, func(t *testing.T) {
				wantProblem(t, a.do(tc.method, tc.path, tc.body), tc.status, tc.code, tc.field)
			})
		}

		a.must(204, "DELETE", "/api/v1/stores/local/secrets/app.pass", nil)
		l = a.must(200, "GET", "/api/v1/stores/local/secrets", nil)
		if items := l.body["items"].([]any); len(items) != 1 {
			t.Errorf("after delete %s", l.raw)
		}
		// A variable can no longer point at the deleted secret.
		r := a.do("POST", "/api/v1/environment-variables", map[string]any{"displayName": "x", "type": "secret", "secretRef": map[string]string{"store": "local", "ref": "app.pass"}})
		wantProblem(t, r, 422, "secret_not_found", "secretRef.ref")
		// Written again, it is created anew (201) and continues the
		// numbering: old pinned versions stay gone.
		if p := a.must(201, "PUT", "/api/v1/stores/local/secrets/app.pass", map[string]string{"value": "v3-secret"}); p.str("version") != "3" {
			t.Errorf("put after delete %s", p.raw)
		}
		r = a.do("POST", "/api/v1/environment-variables", map[string]any{"displayName": "x", "type": "secret", "secretRef": map[string]string{"store": "local", "ref": "app.pass/1"}})
		wantProblem(t, r, 422, "secret_not_found", "secretRef.ref")
	})
}

// TestNoEndpointReturnsASecretValue writes values, then reads every GET
// endpoint and the server log, and looks for them.
func TestNoEndpointReturnsASecretValue(t *testing.T) {
	eachEngine(t, func(t *testing.T, e metadbtest.Engine) {
		inst, a := start(t, e)
		values := []string{randomValue(), randomValue()}
		putSecret(a, "leak-check", values[0])
		putSecret(a, "leak-check", values[1])
		v := createSecretVar(a, "Leak check", "leak-check")
		createText(a, "Leak user", "someone")
		c := a.must(201, "POST", "/api/v1/credentials", map[string]any{"name": "Leak", "username": "cf_Leakuser", "password": "cf_Leakcheck"})
		var seen strings.Builder
		for _, path := range []string{
			"/api/v1/environment-variables", "/api/v1/environment-variables/" + v.str("id"),
			"/api/v1/environment-variables/" + v.str("id") + "/dependencies",
			"/api/v1/credentials", "/api/v1/credentials/" + c.str("id"), "/api/v1/credentials/" + c.str("id") + "/dependencies",
			"/api/v1/stores", "/api/v1/stores/local", "/api/v1/stores/local/secrets", "/openapi.json", "/readyz",
		} {
			seen.Write(a.must(200, "GET", path, nil).raw)
		}
		seen.Write(a.do("GET", "/api/v1/stores/local/secrets/leak-check", nil).raw)
		seen.WriteString(inst.Log())
		for _, val := range values {
			if strings.Contains(seen.String(), val) {
				t.Fatalf("a secret value appears in an API response or the log")
			}
		}
		// Nor is it stored in plaintext.
		rows, err := inst.Server.DB().SQL().Query(`SELECT ciphertext, wrapped_key FROM builtin_secrets`)
		if err != nil {
			t.Fatal(err)
		}
		defer rows.Close()
		for rows.Next() {
			var ct, wk []byte
			if err := rows.Scan(&ct, &wk); err != nil {
				t.Fatal(err)
			}
			for _, val := range values {
				if strings.Contains(string(ct), val) || strings.Contains(string(wk), val) {
					t.Fatal("a secret value is stored in plaintext")
				}
			}
		}
	})
}

func randomValue() string {
	var b [12]byte
	_, _ = rand.Read(b[:])
	return "value-" + hex.EncodeToString(b[:])
}

// TestSealedStore restarts a server without its master key: the store is
// sealed, says so, and refuses to read. With a different key the server
// refuses to start, naming the flag that fixes it.
func TestSealedStore(t *testing.T) {
	eachEngine(t, func(t *testing.T, e metadbtest.Engine) {
		first, a := start(t, e)
		putSecret(a, "db", "sealed-test-value")
		createSecretVar(a, "DB", "db")
		cfg := first.Config
		keyFile := filepath.Join(cfg.DataDir, "master.key")
		key, err := os.ReadFile(keyFile)
		if err != nil {
			t.Fatal(err)
		}

		for _, tc := range []struct {
			name  string
			setup func(t *testing.T, c *config.Config)
		}{
			{"key file missing", func(t *testing.T, c *config.Config) {
				if err := os.Remove(keyFile); err != nil {
					t.Fatal(err)
				}
			}},
		} {
			t.Run(tc.name, func(t *testing.T) {
				c := cfg
				tc.setup(t, &c)
				inst := servertest.StartConfig(t, c)
				if inst.AdminToken != "" {
					t.Error("a restart created another admin token")
				}
				b := api{t: t, base: inst.URL, token: a.token}
				r := b.do("GET", "/readyz", nil)
				if r.status != 503 || r.str("status") != "not_ready" || !strings.Contains(string(r.raw), `{"name":"local","status":"sealed"}`) {
					t.Errorf("readyz %d %s", r.status, r.raw)
				}
				if s := b.must(200, "GET", "/api/v1/stores/local", nil); s.str("status") != "sealed" {
					t.Errorf("store %s", s.raw)
				}
				wantProblem(t, b.do("PUT", "/api/v1/stores/local/secrets/db", map[string]string{"value": "x"}), 503, "store_sealed", "")
				wantProblem(t, b.do("POST", "/api/v1/environment-variables", map[string]any{"displayName": "again", "type": "secret",
					"secretRef": map[string]string{"store": "local", "ref": "db"}}), 503, "store_sealed", "")
				// Metadata stays readable.
				b.must(200, "GET", "/api/v1/environment-variables/cf_DB", nil)
				b.must(200, "GET", "/api/v1/stores/local/secrets", nil)
				if _, err := os.Stat(keyFile); tc.name == "key file missing" && err == nil {
					t.Error("a sealed start generated a new master key")
				}
			})
		}
		// A valid key of its own, made by a server on another data
		// directory: the server does not start.
		other := servertest.Start(t, metadbtest.Engines(t)[0])
		c := cfg
		c.MasterKeyFile = filepath.Join(other.Config.DataDir, "master.key")
		if err := os.WriteFile(keyFile, key, 0o600); err != nil {
			t.Fatal(err)
		}
		_, err = server.New(t.Context(), c, io.Discard)
		if err == nil || !strings.Contains(err.Error(), "is not the one this database was created with") || !strings.Contains(err.Error(), "--master-key-file") {
			t.Fatalf("start with another master key: %v", err)
		}
		// With the key back, the store opens again.
		if err := os.WriteFile(keyFile, key, 0o600); err != nil {
			t.Fatal(err)
		}
		inst := servertest.StartConfig(t, cfg)
		b := api{t: t, base: inst.URL, token: a.token}
		if r := b.must(200, "GET", "/readyz", nil); r.str("status") != "ready" {
			t.Errorf("readyz %s", r.raw)
		}
		b.must(200, "PUT", "/api/v1/stores/local/secrets/db", map[string]string{"value": "x"})
	})
}
