package httpapi_test

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/credflow/credflow/internal/metadb/metadbtest"
	"github.com/credflow/credflow/internal/server/servertest"
)

// api calls a running server the way any HTTP client would.
type api struct {
	t     testing.TB
	base  string
	token string
	// seen, when set, keeps every answer this api receives.
	seen *answers
}

// answers keeps the answers of requests, for tests that search them all.
type answers struct {
	mu   sync.Mutex
	list []answer
}

type answer struct {
	what string // method and path
	raw  []byte
}

// resp is a decoded response.
type resp struct {
	status int
	header http.Header
	raw    []byte
	body   map[string]any
}

// field returns a top-level string field of the body.
func (r resp) str(name string) string {
	s, _ := r.body[name].(string)
	return s
}

func start(t testing.TB, e metadbtest.Engine, opts ...servertest.Option) (*servertest.Instance, api) {
	t.Helper()
	inst := servertest.Start(t, e, opts...)
	return inst, api{t: t, base: inst.URL, token: inst.AdminToken}
}

// eachEngine runs fn on every database engine.
func eachEngine(t *testing.T, fn func(t *testing.T, e metadbtest.Engine)) {
	for _, e := range metadbtest.Engines(t) {
		t.Run(e.Name, func(t *testing.T) { fn(t, e) })
	}
}

// do sends body (a string is sent as is, anything else as JSON) and decodes
// a JSON answer.
func (a api) do(method, path string, body any, headers ...string) resp {
	a.t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	case []byte:
		rd = bytes.NewReader(b)
	default:
		j, err := json.Marshal(b)
		if err != nil {
			a.t.Fatal(err)
		}
		rd = bytes.NewReader(j)
	}
	req, err := http.NewRequest(method, a.base+path, rd)
	if err != nil {
		a.t.Fatal(err)
	}
	if a.token != "" {
		req.Header.Set("Authorization", "Bearer "+a.token)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	for i := 0; i+1 < len(headers); i += 2 {
		if headers[i+1] == "" {
			req.Header.Del(headers[i])
		} else {
			req.Header.Set(headers[i], headers[i+1])
		}
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		a.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer res.Body.Close()
	raw, err := io.ReadAll(res.Body)
	if err != nil {
		a.t.Fatal(err)
	}
	out := resp{status: res.StatusCode, header: res.Header, raw: raw}
	if a.seen != nil {
		a.seen.mu.Lock()
		a.seen.list = append(a.seen.list, answer{what: method + " " + path, raw: raw})
		a.seen.mu.Unlock()
	}
	if len(raw) > 0 {
		_ = json.Unmarshal(raw, &out.body)
	}
	return out
}

// must calls do and fails the test unless the status is want.
func (a api) must(want int, method, path string, body any) resp {
	a.t.Helper()
	r := a.do(method, path, body)
	if r.status != want {
		a.t.Fatalf("%s %s: status %d, want %d; body %s", method, path, r.status, want, r.raw)
	}
	return r
}

// wantProblem checks that r is a problem+json with the given status and
// code, and, when field is not empty, that its errors name field.
func wantProblem(t *testing.T, r resp, status int, code, field string) {
	t.Helper()
	if r.status != status {
		t.Fatalf("status %d, want %d; body %s", r.status, status, r.raw)
	}
	if ct := r.header.Get("Content-Type"); ct != "application/problem+json" {
		t.Errorf("Content-Type %q, want application/problem+json", ct)
	}
	if got := r.str("code"); got != code {
		t.Errorf("code %q, want %q; body %s", got, code, r.raw)
	}
	if r.str("type") != "urn:credflow:problem:"+code || r.str("title") == "" || r.str("detail") == "" || r.str("requestId") == "" {
		t.Errorf("problem lacks type/title/detail/requestId: %s", r.raw)
	}
	if n, _ := r.body["status"].(float64); int(n) != status {
		t.Errorf("problem status %v, want %d", r.body["status"], status)
	}
	if field == "" {
		return
	}
	errs, _ := r.body["errors"].([]any)
	for _, e := range errs {
		if m, _ := e.(map[string]any); m["field"] == field && m["message"] != "" {
			return
		}
	}
	t.Errorf("errors do not name field %q: %s", field, r.raw)
}
