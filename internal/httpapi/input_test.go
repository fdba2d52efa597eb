package httpapi_test

import (
	"encoding/base64"
	"reflect"
	"regexp"
	"strings"
	"testing"

	"github.com/credflow/credflow/internal/httpapi"
	"github.com/credflow/credflow/internal/metadb/metadbtest"
)

var pathParam = regexp.MustCompile(`\{([a-z]+)\}`)

// fill puts value into the path parameter named name and a harmless value
// into the others ("local" for a store, which must exist for some routes to
// reach their body).
func fill(path, name, value string) string {
	return pathParam.ReplaceAllStringFunc(path, func(m string) string {
		switch p := m[1 : len(m)-1]; {
		case p == name:
			return value
		case p == "store":
			return "local"
		case p == "principal":
			return "user:nobody"
		default:
			return "x"
		}
	})
}

// TestMalformedTextIsRefusedEverywhere sends a NUL and invalid UTF-8 in
// every path parameter, a query parameter and a string field of every body
// of every route: each is a 400 naming where it was, never a 500, on both
// engines.
func TestMalformedTextIsRefusedEverywhere(t *testing.T) {
	eachEngine(t, func(t *testing.T, e metadbtest.Engine) {
		_, a := start(t, e)
		for _, rb := range httpapi.RouteBodies() {
			for _, m := range pathParam.FindAllStringSubmatch(rb.Path, -1) {
				for _, bad := range []string{"a%00b", "a%FFb", "%C3"} {
					name := rb.Method + " " + rb.Path + " " + m[1] + "=" + bad
					t.Run(name, func(t *testing.T) {
						var body any
						if rb.Body != nil {
							body = map[string]any{}
						}
						wantProblem(t, a.do(rb.Method, fill(rb.Path, m[1], bad), body), 400, "invalid_request", m[1])
					})
				}
			}
			for _, bad := range []string{"%00", "%FF"} {
				t.Run(rb.Method+" "+rb.Path+" query "+bad, func(t *testing.T) {
					wantProblem(t, a.do(rb.Method, fill(rb.Path, "", "")+"?q="+bad, nil), 400, "invalid_request", "q")
				})
			}
			if rb.Body == nil {
				continue
			}
			field := stringField(reflect.TypeOf(rb.Body))
			if field == "" {
				t.Errorf("%s %s: no string field to test its body with", rb.Method, rb.Path)
				continue
			}
			for name, body := range map[string]string{
				"NUL":       `{"` + field + `":"a\u0000b"}`,
				"invalid":   "{\"" + field + "\":\"a\xffb\"}",
				"surrogate": `{"` + field + `":"a\udc00b"}`,
				"duplicate": `{"` + field + `":"a","` + field + `":"b"}`,
				"case":      `{"` + strings.ToUpper(field[:1]) + field[1:] + `":"a"}`,
			} {
				t.Run(rb.Method+" "+rb.Path+" body "+name, func(t *testing.T) {
					want := field
					if name == "case" {
						want = strings.ToUpper(field[:1]) + field[1:]
					}
					wantProblem(t, a.do(rb.Method, fill(rb.Path, "", ""), body), 400, "invalid_request", want)
				})
			}
		}
		// None of it reached the database: the lists are as they started.
		if l := a.must(200, "GET", "/api/v1/environment-variables", nil); len(l.body["items"].([]any)) != 0 {
			t.Errorf("refused requests left variables behind: %s", l.raw)
		}
	})
}

// stringField names a string field of a body type.
func stringField(t reflect.Type) string {
	for i := range t.NumField() {
		f := t.Field(i)
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		ft := f.Type
		if ft.Kind() == reflect.Pointer {
			ft = ft.Elem()
		}
		if ft.Kind() == reflect.String && name != "" && name != "-" {
			return name
		}
	}
	return ""
}

// TestCursorsAreCheckedOnEveryList sends a malformed cursor to every list:
// a paged list refuses one it did not make, a list that is not paged
// refuses any cursor or limit rather than ignore it.
func TestCursorsAreCheckedOnEveryList(t *testing.T) {
	eachEngine(t, func(t *testing.T, e metadbtest.Engine) {
		_, a := start(t, e)
		// Objects for the lists' paths to name.
		a.must(201, "POST", "/api/v1/groups", map[string]any{"name": "ops"})
		a.must(201, "POST", "/api/v1/runner-groups", map[string]any{"name": "build"})
		a.must(201, "POST", "/api/v1/environment-variables", map[string]any{"displayName": "U", "type": "text", "value": "u"})
		a.must(201, "PUT", "/api/v1/stores/local/secrets/pw", map[string]any{"value": "p"})
		a.must(201, "POST", "/api/v1/environment-variables", map[string]any{"displayName": "P", "type": "secret",
			"secretRef": map[string]any{"store": "local", "ref": "pw"}})
		a.must(201, "POST", "/api/v1/credentials", map[string]any{"name": "c1", "username": "cf_U", "password": "cf_P"})
		a.must(201, "POST", "/api/v1/connections", map[string]any{"name": "k1", "credential": "c1", "runnerGroup": "build"})
		nulCursor := base64.RawURLEncoding.EncodeToString([]byte("a\x00"))
		badUTF8Cursor := base64.RawURLEncoding.EncodeToString([]byte("a\xff"))
		lists := 0
		for _, rb := range httpapi.RouteBodies() {
			if rb.Method != "GET" || !rb.List {
				continue
			}
			lists++
			id := "cf_U"
			switch {
			case strings.HasPrefix(rb.Path, "/api/v1/credentials/"):
				id = "c1"
			case strings.HasPrefix(rb.Path, "/api/v1/connections/"):
				id = "k1"
			}
			path := strings.NewReplacer("{store}", "local", "{group}", "ops", "{id}", id).Replace(rb.Path)
			checkCursors(t, a, path, rb.Paged, nulCursor, badUTF8Cursor)
		}
		if lists < 15 {
			t.Errorf("only %d list routes found", lists)
		}
	})
}

func checkCursors(t *testing.T, a api, path string, paged bool, nulCursor, badUTF8Cursor string) {
	t.Run(path, func(t *testing.T) {
		a.must(200, "GET", path, nil)
		for _, c := range []string{"!!not-base64!!", nulCursor, badUTF8Cursor, "%00", strings.Repeat("QUFB", 100)} {
			wantProblem(t, a.do("GET", path+"?cursor="+c, nil), 400, "invalid_request", "cursor")
		}
		if !paged {
			wantProblem(t, a.do("GET", path+"?cursor="+base64.RawURLEncoding.EncodeToString([]byte("x")), nil), 400, "invalid_request", "cursor")
			wantProblem(t, a.do("GET", path+"?limit=5", nil), 400, "invalid_request", "limit")
		}
	})
}

// TestControlCharactersInNames: names and display names that could drive a
// terminal are refused, naming the field; tab and newline stay allowed in
// descriptions.
func TestControlCharactersInNames(t *testing.T) {
	eachEngine(t, func(t *testing.T, e metadbtest.Engine) {
		_, a := start(t, e)
		a.must(201, "POST", "/api/v1/environment-variables", map[string]any{"displayName": "U", "type": "text", "value": "u",
			"description": "line one\n\tline two"})
		a.must(201, "PUT", "/api/v1/stores/local/secrets/pw", map[string]any{"value": "p"})
		a.must(201, "POST", "/api/v1/environment-variables", map[string]any{"displayName": "P", "type": "secret",
			"secretRef": map[string]any{"store": "local", "ref": "pw"}})
		a.must(201, "POST", "/api/v1/credentials", map[string]any{"name": "c1", "username": "cf_U", "password": "cf_P"})
		a.must(201, "POST", "/api/v1/runner-groups", map[string]any{"name": "build"})
		cases := []struct {
			name, method, path, field string
			body                      map[string]any
		}{
			{"variable display name ESC", "POST", "/api/v1/environment-variables", "displayName",
				map[string]any{"displayName": "red\x1b[31m", "type": "text", "value": "v"}},
			{"variable display name C1", "PATCH", "/api/v1/environment-variables/cf_U", "displayName",
				map[string]any{"displayName": "csi\u009b2J"}},
			{"variable description BEL", "PATCH", "/api/v1/environment-variables/cf_U", "description",
				map[string]any{"description": "ring\a"}},
			{"credential name DEL", "POST", "/api/v1/credentials", "name",
				map[string]any{"name": "del\x7f", "username": "cf_U", "password": "cf_P"}},
			{"credential rename CR", "PATCH", "/api/v1/credentials/c1", "name", map[string]any{"name": "over\rwrite"}},
			{"connection name", "POST", "/api/v1/connections", "name",
				map[string]any{"name": "k\x1b]0;title\a", "credential": "c1", "runnerGroup": "build"}},
			{"user display name", "POST", "/api/v1/users", "displayName",
				map[string]any{"name": "bob", "displayName": "Bob\x1b[2J", "role": "maker"}},
			{"token name", "POST", "/api/v1/tokens", "name", map[string]any{"name": "laptop\x08\x08"}},
		}
		for _, c := range cases {
			t.Run(c.name, func(t *testing.T) {
				wantProblem(t, a.do(c.method, c.path, c.body), 422, "validation_failed", c.field)
			})
		}
		a.must(201, "POST", "/api/v1/users", map[string]any{"name": "bob", "role": "maker"})
		wantProblem(t, a.do("PATCH", "/api/v1/users/bob", map[string]any{"displayName": "\u0085"}), 422, "validation_failed", "displayName")
	})
}

// TestMalformedResolveIsAudited: a resolve refused for a malformed
// connection id is an audit record like every other refused resolve, and
// the id reaches the trail quoted, never raw.
func TestMalformedResolveIsAudited(t *testing.T) {
	eachEngine(t, func(t *testing.T, e metadbtest.Engine) {
		_, a := start(t, e)
		for _, id := range []string{"a%00b", "a%FFb"} {
			wantProblem(t, a.do("POST", "/api/v1/connections/"+id+"/resolve", nil), 400, "invalid_request", "id")
		}
		wantProblem(t, a.do("POST", "/api/v1/connections/k/resolve?x=%00", nil), 400, "invalid_request", "x")
		l := a.must(200, "GET", "/api/v1/audit?action=connection.resolve", nil)
		items, _ := l.body["items"].([]any)
		want := []string{`connection:"a\x00b"`, `connection:"a\xffb"`, `connection:"k"`}
		if len(items) != len(want) {
			t.Fatalf("%d resolve records, want %d: %s", len(items), len(want), l.raw)
		}
		for i, it := range items {
			rec := it.(map[string]any)
			if rec["resource"] != want[i] || rec["outcome"] != "denied" || !strings.HasPrefix(rec["reason"].(string), "malformed request: ") {
				t.Errorf("record %d: %v, want resource %s, denied, malformed request", i, rec, want[i])
			}
		}
		if v := a.must(200, "GET", "/api/v1/audit/verify", nil); v.body["ok"] != true {
			t.Errorf("audit verify after refused resolves: %s", v.raw)
		}
	})
}

// TestBooleanQueryParameters: a boolean query parameter is true, false or
// absent; anything else is a 400 naming it, and nothing changes.
func TestBooleanQueryParameters(t *testing.T) {
	eachEngine(t, func(t *testing.T, e metadbtest.Engine) {
		_, a := start(t, e)
		a.must(201, "POST", "/api/v1/users", map[string]any{"name": "bob", "role": "maker"})
		a.must(201, "PUT", "/api/v1/stores/local/secrets/pw", map[string]any{"value": "p"})
		a.must(201, "POST", "/api/v1/environment-variables", map[string]any{"displayName": "U", "type": "text", "value": "u"})
		a.must(201, "POST", "/api/v1/environment-variables", map[string]any{"displayName": "P", "type": "secret",
			"secretRef": map[string]any{"store": "local", "ref": "pw"}})
		a.must(201, "POST", "/api/v1/credentials", map[string]any{"name": "c1", "username": "cf_U", "password": "cf_P"})
		a.must(200, "PUT", "/api/v1/credentials/c1/shares/user:bob", map[string]any{"role": "user"})
		for _, c := range []struct{ method, path, param string }{
			{"GET", "/api/v1/tokens?all=yes", "all"},
			{"GET", "/api/v1/audit/verify?full=1", "full"},
			{"DELETE", "/api/v1/credentials/c1?force=TRUE", "force"},
			{"DELETE", "/api/v1/credentials/c1/shares/user:bob?withVariables=on", "withVariables"},
			{"DELETE", "/api/v1/stores/local/secrets/pw?force=y", "force"},
		} {
			wantProblem(t, a.do(c.method, c.path, nil), 400, "invalid_request", c.param)
		}
		// Nothing was deleted by the refused requests.
		a.must(200, "GET", "/api/v1/credentials/c1", nil)
		a.must(200, "GET", "/api/v1/credentials/c1/shares", nil)
		a.must(200, "GET", "/api/v1/tokens?all=true", nil)
	})
}
