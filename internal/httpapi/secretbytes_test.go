package httpapi_test

import (
	"encoding/base64"
	"testing"

	"github.com/credflow/credflow/internal/metadb/metadbtest"
	"github.com/credflow/credflow/internal/secretstore/cache"
)

// TestSecretValuesAreStoredExactly: a value is text (valid UTF-8, no NUL)
// in value or any bytes in valueBase64, never silently changed; a resolve
// hands back a value that is not text base64-encoded.
func TestSecretValuesAreStoredExactly(t *testing.T) {
	eachEngine(t, func(t *testing.T, e metadbtest.Engine) {
		env := startRuntime(t, e, cache.Options{})
		admin := env.admin
		const path = "/api/v1/stores/local/secrets/bin"
		for _, c := range []struct {
			name, body, field string
		}{
			{"invalid UTF-8 in value", "{\"value\":\"pa\xffss\"}", "value"},
			{"NUL in value", `{"value":"a\u0000b"}`, "value"},
			{"unpaired surrogate in value", `{"value":"a\udc00b"}`, "value"},
			{"both", `{"value":"a","valueBase64":"YQ=="}`, "valueBase64"},
			{"not base64", `{"valueBase64":"***"}`, "valueBase64"},
			{"unpadded base64", `{"valueBase64":"YQ"}`, "valueBase64"},
			{"empty base64", `{"valueBase64":""}`, "valueBase64"},
			{"neither", `{}`, "value"},
			{"wrong case", `{"Value":"a"}`, "Value"},
		} {
			t.Run(c.name, func(t *testing.T) {
				wantProblem(t, admin.do("PUT", path, c.body), 400, "invalid_request", c.field)
			})
		}
		if l := admin.must(200, "GET", "/api/v1/stores/local/secrets", nil); len(l.body["items"].([]any)) != 0 {
			t.Fatalf("a refused write stored something: %s", l.raw)
		}

		value := []byte("pa\xffss\x00w\xc3ord")
		admin.must(201, "PUT", path, map[string]any{"valueBase64": base64.StdEncoding.EncodeToString(value)})
		admin.must(201, "POST", "/api/v1/environment-variables", map[string]any{"schemaName": "cf_Bin", "displayName": "b", "type": "secret",
			"secretRef": map[string]string{"store": "local", "ref": "bin"}})
		admin.must(201, "POST", "/api/v1/credentials", map[string]any{"name": "Bin", "username": "cf_SqlUser", "password": "cf_Bin"})
		admin.must(201, "POST", "/api/v1/connections", map[string]any{"name": "bin-build", "credential": "Bin", "runnerGroup": "build"})
		r := env.runner.must(200, "POST", "/api/v1/connections/bin-build/resolve", nil)
		if r.str("passwordBase64") != base64.StdEncoding.EncodeToString(value) || r.str("password") != "" {
			t.Errorf("resolve of a binary value: %s", r.raw)
		}
		if r.str("username") != "svc_build" || r.body["usernameBase64"] != nil {
			t.Errorf("a text username came otherwise: %s", r.raw)
		}

		// Text, NUL and all, stays in value; base64 text comes back as text.
		admin.must(200, "PUT", path, map[string]any{"valueBase64": base64.StdEncoding.EncodeToString([]byte("tëxt\x00 ok"))})
		r = env.runner.must(200, "POST", "/api/v1/connections/bin-build/resolve", nil)
		if r.str("password") != "tëxt\x00 ok" || r.body["passwordBase64"] != nil {
			t.Errorf("resolve of a text value: %s", r.raw)
		}
	})
}
