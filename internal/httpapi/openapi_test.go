package httpapi_test

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/credflow/credflow/internal/httpapi"
	"github.com/credflow/credflow/internal/metadb/metadbtest"
)

func TestOpenAPIDescribesEveryRoute(t *testing.T) {
	_, a := start(t, metadbtest.Engines(t)[0])
	a.token = "" // the document is public
	r := a.must(200, "GET", "/openapi.json", nil)
	var doc struct {
		OpenAPI    string                                `json:"openapi"`
		Paths      map[string]map[string]json.RawMessage `json:"paths"`
		Components struct {
			Schemas map[string]json.RawMessage `json:"schemas"`
		} `json:"components"`
	}
	if err := json.Unmarshal(r.raw, &doc); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(doc.OpenAPI, "3.") {
		t.Errorf("openapi %q", doc.OpenAPI)
	}
	keys := httpapi.RouteKeys()
	if len(keys) < 20 {
		t.Fatalf("only %d routes", len(keys))
	}
	n := 0
	for _, k := range keys {
		method, path, _ := strings.Cut(k, " ")
		op, ok := doc.Paths[path][strings.ToLower(method)]
		if !ok {
			t.Errorf("%s is missing from /openapi.json", k)
			continue
		}
		n++
		if !strings.Contains(string(op), `"responses"`) || !strings.Contains(string(op), `"summary"`) {
			t.Errorf("%s has no responses or summary: %s", k, op)
		}
	}
	for path, ops := range doc.Paths {
		for m := range ops {
			found := false
			for _, k := range keys {
				found = found || k == strings.ToUpper(m)+" "+path
			}
			if !found {
				t.Errorf("/openapi.json describes %s %s, which is not served", m, path)
			}
		}
	}
	// Every $ref points at a schema the document defines.
	for _, ref := range strings.Split(string(r.raw), `"$ref":"#/components/schemas/`)[1:] {
		name := ref[:strings.IndexByte(ref, '"')]
		if _, ok := doc.Components.Schemas[name]; !ok {
			t.Errorf("$ref to undefined schema %s", name)
		}
	}
	for _, name := range []string{"Problem", "Variable", "CreateVariableRequest", "Credential", "SecretRef"} {
		if _, ok := doc.Components.Schemas[name]; !ok {
			t.Errorf("schema %s missing", name)
		}
	}
	if !strings.Contains(string(doc.Components.Schemas["CreateVariableRequest"]), `"required":["displayName","type"]`) {
		t.Errorf("CreateVariableRequest required fields: %s", doc.Components.Schemas["CreateVariableRequest"])
	}
	if n != len(keys) {
		t.Errorf("%d of %d routes described", n, len(keys))
	}
}

func TestEveryRouteDeclaresWhoMayCallIt(t *testing.T) {
	if u := httpapi.UndeclaredRoutes(); len(u) > 0 {
		t.Errorf("routes without a permission or public declaration: %v", u)
	}
}
