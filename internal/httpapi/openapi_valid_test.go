package httpapi_test

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"

	"github.com/credflow/credflow/internal/metadb/metadbtest"
)

// loadOpenAPI fetches /openapi.json and loads it with an OpenAPI library,
// which validates it against the specification.
func loadOpenAPI(t *testing.T, a api) *openapi3.T {
	t.Helper()
	anon := a
	anon.token = "" // the document is public
	r := anon.must(200, "GET", "/openapi.json", nil)
	loader := openapi3.NewLoader()
	loader.IsExternalRefsAllowed = false
	doc, err := loader.LoadFromData(r.raw)
	if err != nil {
		t.Fatalf("load /openapi.json: %v", err)
	}
	opts := []openapi3.ValidationOption{openapi3.EnableSchemaFormatValidation(), openapi3.EnableSchemaPatternValidation()}
	if err := doc.Validate(openapi3.WithValidationOptions(context.Background(), openapi3.EnableMultiError()), opts...); err != nil {
		t.Fatalf("/openapi.json is not valid OpenAPI: %v", err)
	}
	return doc
}

func TestOpenAPIDocumentIsValid(t *testing.T) {
	_, a := start(t, metadbtest.Engines(t)[0])
	doc := loadOpenAPI(t, a)
	if !doc.IsOpenAPI31OrLater() {
		t.Errorf("openapi %q, want 3.1", doc.OpenAPI)
	}
	problem := doc.Components.Schemas["Problem"]
	if problem == nil || problem.Value == nil || problem.Ref != "" {
		t.Fatalf("Problem schema is missing or only a reference: %+v", problem)
	}
	for _, f := range []string{"type", "title", "status", "detail", "code", "requestId", "errors"} {
		if problem.Value.Properties[f] == nil {
			t.Errorf("Problem schema lacks %s", f)
		}
	}
	// Every schema the document defines is a schema, not a reference to
	// itself or to nothing.
	for name, s := range doc.Components.Schemas {
		if s.Ref != "" || s.Value == nil {
			t.Errorf("component %s is %q, not a schema", name, s.Ref)
		}
	}
}

// TestResponsesMatchOpenAPI checks real answers of the server against the
// document: what the server sends is what the document promises.
func TestResponsesMatchOpenAPI(t *testing.T) {
	_, a := start(t, metadbtest.Engines(t)[0])
	doc := loadOpenAPI(t, a)
	a.must(201, "POST", "/api/v1/users", map[string]any{"name": "carol", "role": "maker"})

	a.must(201, "POST", "/api/v1/runner-groups", map[string]any{"name": "agents"})
	a.must(201, "POST", "/api/v1/users", map[string]any{"name": "agent-1", "role": "runner", "runnerGroup": "agents"})
	runner := a
	runner.token = a.must(201, "POST", "/api/v1/tokens", map[string]any{"name": "t", "user": "agent-1"}).str("token")

	check := func(t *testing.T, as api, method, path string, body any, want int) resp {
		t.Helper()
		r := as.do(method, path, body)
		if r.status != want {
			t.Fatalf("%s %s: status %d, want %d: %s", method, path, r.status, want, r.raw)
		}
		validateResponse(t, doc, method, path, r)
		return r
	}
	cases := []struct {
		name, method, path string
		body               any
		status             int
	}{
		{"created secret", "PUT", "/api/v1/stores/local/secrets/db-pass", map[string]any{"value": "s3cret"}, 201},
		{"new secret version", "PUT", "/api/v1/stores/local/secrets/db-pass", map[string]any{"value": "s3cret2"}, 200},
		{"created text variable", "POST", "/api/v1/environment-variables",
			map[string]any{"displayName": "DB User", "type": "text", "value": "svc"}, 201},
		{"created secret variable", "POST", "/api/v1/environment-variables",
			map[string]any{"displayName": "DB Pass", "type": "secret", "secretRef": map[string]any{"store": "local", "ref": "db-pass"}}, 201},
		{"variable list", "GET", "/api/v1/environment-variables", nil, 200},
		{"created credential", "POST", "/api/v1/credentials",
			map[string]any{"name": "db", "username": "cf_DBUser", "password": "cf_DBPass"}, 201},
		{"credential list", "GET", "/api/v1/credentials?limit=1", nil, 200},
		{"share", "PUT", "/api/v1/credentials/db/shares/user:carol", map[string]any{"role": "user"}, 200},
		{"share list", "GET", "/api/v1/credentials/db/shares", nil, 200},
		{"dependencies", "GET", "/api/v1/environment-variables/cf_DBPass/dependencies", nil, 200},
		{"store list", "GET", "/api/v1/stores", nil, 200},
		{"user list", "GET", "/api/v1/users", nil, 200},
		{"audit page", "GET", "/api/v1/audit?limit=5", nil, 200},
		{"malformed body is a problem", "POST", "/api/v1/environment-variables", `{"displayName":`, 400},
		{"unknown field is a problem", "POST", "/api/v1/credentials", map[string]any{"nmae": "x"}, 400},
		{"validation problem", "POST", "/api/v1/environment-variables", map[string]any{"displayName": "", "type": "text"}, 422},
		{"missing object", "GET", "/api/v1/credentials/ghost", nil, 404},
		{"credential dependencies", "GET", "/api/v1/credentials/db/dependencies", nil, 200},
		{"created connection", "POST", "/api/v1/connections", map[string]any{"name": "db-agents", "credential": "db", "runnerGroup": "agents"}, 201},
		{"resolve", "POST", "/api/v1/connections/db-agents/resolve", nil, 200},
		{"connection list", "GET", "/api/v1/connections", nil, 200},
		{"connection runners", "GET", "/api/v1/connections/db-agents/runners", nil, 200},
		{"transferred variable", "POST", "/api/v1/environment-variables/cf_DBUser/owner", map[string]any{"principal": "user:carol"}, 200},
		{"transferred connection", "POST", "/api/v1/connections/db-agents/owner", map[string]any{"principal": "user:carol"}, 200},
		{"transfer to a runner", "POST", "/api/v1/credentials/db/owner", map[string]any{"principal": "user:agent-1"}, 422},
		{"transferred credential", "POST", "/api/v1/credentials/db/owner", map[string]any{"principal": "user:carol"}, 200},
		{"disabled credential", "POST", "/api/v1/credentials/db/disable", nil, 200},
		{"resolve of a disabled credential", "POST", "/api/v1/connections/db-agents/resolve", nil, 423},
		{"runner group list", "GET", "/api/v1/runner-groups", nil, 200},
		{"created token", "POST", "/api/v1/tokens", map[string]any{"name": "laptop"}, 201},
		{"token list", "GET", "/api/v1/tokens", nil, 200},
		{"me", "GET", "/api/v1/me", nil, 200},
		{"created group", "POST", "/api/v1/groups", map[string]any{"name": "ops"}, 201},
		{"user deleted, what they own handed over", "DELETE", "/api/v1/users/carol?transferTo=admin", nil, 204},
		{"group members", "GET", "/api/v1/groups/ops/members", nil, 200},
		{"grant", "PUT", "/api/v1/stores/local/grants/group:ops", map[string]any{"prefix": "ops-"}, 200},
		{"grant list", "GET", "/api/v1/stores/local/grants", nil, 200},
		{"secret list", "GET", "/api/v1/stores/local/secrets", nil, 200},
		{"store check", "POST", "/api/v1/stores/local/check", map[string]any{"secret": "db-pass"}, 200},
		{"created solution", "POST", "/api/v1/solutions", map[string]any{"name": "Reporting", "version": "1.0.0.0", "publisher": "cf"}, 201},
		{"solution component added", "POST", "/api/v1/solutions/Reporting/components", map[string]any{"kind": "credential", "name": "db"}, 200},
		{"solution updated", "PATCH", "/api/v1/solutions/Reporting", map[string]any{"version": "1.0.1.0"}, 200},
		{"solution list", "GET", "/api/v1/solutions", nil, 200},
		{"solution", "GET", "/api/v1/solutions/Reporting", nil, 200},
		{"solution settings", "GET", "/api/v1/solutions/Reporting/settings", nil, 200},
		{"solution export", "GET", "/api/v1/solutions/Reporting/export", nil, 200},
		{"solution component removed", "DELETE", "/api/v1/solutions/Reporting/components/credential/db", nil, 200},
		{"solution version refused", "PATCH", "/api/v1/solutions/Reporting", map[string]any{"version": "1.0"}, 422},
		{"variable validated", "POST", "/api/v1/environment-variables/cf_DBPass/validate", nil, 200},
		{"audit verify", "GET", "/api/v1/audit/verify", nil, 200},
		{"health", "GET", "/healthz", nil, 200},
		{"readiness", "GET", "/readyz", nil, 200},
	}
	for _, c := range cases {
		as := a
		if strings.HasSuffix(c.path, "/resolve") {
			as = runner
		}
		t.Run(c.name, func(t *testing.T) { check(t, as, c.method, c.path, c.body, c.status) })
	}
	t.Run("solution import", func(t *testing.T) {
		pkg := exportZip(a.as(t), "Reporting", "")
		for _, want := range []int{200, 400} {
			r := importZip(a.as(t), pkg, nil, "")
			if want == 400 {
				r = importZip(a.as(t), []byte("not a zip"), nil, "")
			}
			if r.status != want {
				t.Fatalf("import: %d %s", r.status, r.raw)
			}
			validateResponse(t, doc, "POST", "/api/v1/solutions/import", r)
		}
	})
}

// validateResponse checks r, the answer to method path, against doc.
func validateResponse(t *testing.T, doc *openapi3.T, method, path string, r resp) {
	t.Helper()
	u, err := url.Parse("http://credflow.test" + path)
	if err != nil {
		t.Fatal(err)
	}
	route := findRoute(t, doc, method, u.Path)
	req, err := http.NewRequest(method, u.String(), nil)
	if err != nil {
		t.Fatal(err)
	}
	in := &openapi3filter.ResponseValidationInput{
		RequestValidationInput: &openapi3filter.RequestValidationInput{Request: req, Route: route,
			Options: &openapi3filter.Options{AuthenticationFunc: openapi3filter.NoopAuthenticationFunc}},
		Status:  r.status,
		Header:  r.header,
		Options: &openapi3filter.Options{IncludeResponseStatus: true, MultiError: true},
	}
	in.SetBodyBytes(r.raw)
	if err := openapi3filter.ValidateResponse(context.Background(), in); err != nil {
		t.Errorf("%s %s (%d) does not match /openapi.json: %v\nbody: %s", method, path, r.status, err, r.raw)
	}
}

// findRoute finds the operation whose path template matches path.
func findRoute(t *testing.T, doc *openapi3.T, method, path string) *routers.Route {
	t.Helper()
	segs := strings.Split(path, "/")
	for tmpl, item := range doc.Paths.Map() {
		tsegs := strings.Split(tmpl, "/")
		if len(tsegs) != len(segs) {
			continue
		}
		match := true
		for i := range tsegs {
			if !strings.HasPrefix(tsegs[i], "{") && tsegs[i] != segs[i] {
				match = false
				break
			}
		}
		if op := item.GetOperation(method); match && op != nil {
			return &routers.Route{Spec: doc, Path: tmpl, PathItem: item, Method: method, Operation: op}
		}
	}
	t.Fatalf("no operation in /openapi.json for %s %s", method, path)
	return nil
}
