package httpapi

import (
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"testing"
)

// FuzzDecodeJSON feeds one body to the decoder of every request body the
// API takes: the decoder never panics, and what it refuses is a problem the
// API knows (a 4xx naming the rule), never an error it would answer with
// 500.
func FuzzDecodeJSON(f *testing.F) {
	for _, seed := range []string{
		`{"schemaName":"cf_X","displayName":"x","type":"secret","secretRef":{"store":"kv","ref":"a"}}`,
		`{"name":"n","username":"cf_U","password":"cf_P"}`,
		`{"name":"kv","kind":"azure-keyvault","settings":{"vaultName":"v"},"cacheTTL":"1h"}`,
		`{"principal":{"kind":"user","name":"bob"},"role":"user","expiresAt":"2026-01-01T00:00:00Z"}`,
		`{"a":1}`, `{"name":"x","name":"y"}`, `{"name":"\u0000"}`, `[]`, `null`, `{"name":1e999}`, `{"name":"x"} {}`, "{\"name\":\"\xff\"}",
	} {
		f.Add([]byte(seed))
	}
	var bodies []reflect.Type
	seen := map[reflect.Type]bool{}
	for _, rt := range (&API{}).routes() {
		if rt.body == nil {
			continue
		}
		typ := reflect.TypeOf(rt.body)
		if !seen[typ] {
			seen[typ] = true
			bodies = append(bodies, typ)
		}
	}
	if len(bodies) < 10 {
		f.Fatalf("only %d request body types found in the route table", len(bodies))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		for _, typ := range bodies {
			r := httptest.NewRequest(http.MethodPost, "/", strings.NewReader(string(body)))
			r.Header.Set("Content-Type", "application/json")
			dst := reflect.New(typ).Interface()
			err := decodeJSON(r, dst)
			if err == nil {
				continue
			}
			p, known := problemFor(err)
			if !known || p.Status < 400 || p.Status >= 500 {
				t.Fatalf("decoding %q into %v: %v answered as %d (known %v)", body, typ, err, p.Status, known)
			}
		}
	})
}
