package webui_test

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/credflow/credflow/internal/metadb/metadbtest"
	"github.com/credflow/credflow/internal/server/servertest"
)

// apiClient sets the scene through the REST API, as an operator would.
type apiClient struct {
	t     testing.TB
	base  string
	token string
}

func (a apiClient) must(want int, method, path string, body any) map[string]any {
	a.t.Helper()
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			a.t.Fatal(err)
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, a.base+path, rd)
	if err != nil {
		a.t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+a.token)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		a.t.Fatal(err)
	}
	defer res.Body.Close()
	raw, _ := io.ReadAll(res.Body)
	if res.StatusCode != want {
		a.t.Fatalf("%s %s: status %d, want %d: %s", method, path, res.StatusCode, want, raw)
	}
	out := map[string]any{}
	_ = json.Unmarshal(raw, &out)
	return out
}

// newUser creates a user and returns a token of theirs.
func (a apiClient) newUser(name, role string, extra ...string) string {
	a.t.Helper()
	body := map[string]any{"name": name, "role": role}
	if len(extra) == 1 {
		body["runnerGroup"] = extra[0]
	}
	a.must(201, "POST", "/api/v1/users", body)
	tok := a.must(201, "POST", "/api/v1/tokens", map[string]any{"name": "t", "user": name})
	return tok["token"].(string)
}

// browser is an HTTP client with a cookie jar that does not follow
// redirects, so that tests see them.
type browser struct {
	t    testing.TB
	base string
	c    *http.Client
}

func newBrowser(t testing.TB, base string, client *http.Client) *browser {
	jar, _ := cookiejar.New(nil)
	c := &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	if client != nil {
		c.Transport = client.Transport
	}
	return &browser{t: t, base: base, c: c}
}

// page is an answer.
type page struct {
	status int
	header http.Header
	body   string
}

func (b *browser) get(path string) page {
	b.t.Helper()
	res, err := b.c.Get(b.base + path)
	if err != nil {
		b.t.Fatal(err)
	}
	return read(b.t, res)
}

// getURL follows a redirect elsewhere (to the identity provider).
func (b *browser) getURL(u string) page {
	b.t.Helper()
	res, err := b.c.Get(u)
	if err != nil {
		b.t.Fatal(err)
	}
	return read(b.t, res)
}

func (b *browser) post(path string, form url.Values) page {
	b.t.Helper()
	res, err := b.c.PostForm(b.base+path, form)
	if err != nil {
		b.t.Fatal(err)
	}
	return read(b.t, res)
}

func read(t testing.TB, res *http.Response) page {
	defer res.Body.Close()
	raw, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	return page{status: res.StatusCode, header: res.Header, body: string(raw)}
}

var csrfRule = regexp.MustCompile(`name="csrf" value="([^"]+)"`)

// csrf returns the CSRF token of a page's forms.
func (p page) csrf(t testing.TB) string {
	t.Helper()
	m := csrfRule.FindStringSubmatch(p.body)
	if m == nil {
		t.Fatalf("no CSRF token on the page: %s", p.body)
	}
	return m[1]
}

// signIn signs in with token and returns the session's CSRF token.
func (b *browser) signIn(token string) string {
	b.t.Helper()
	form := b.get("/signin")
	res := b.post("/signin", url.Values{"csrf": {form.csrf(b.t)}, "token": {token}, "next": {"/credentials"}})
	if res.status != http.StatusSeeOther || res.header.Get("Location") != "/credentials" {
		b.t.Fatalf("sign-in: status %d, location %q: %s", res.status, res.header.Get("Location"), res.body)
	}
	list := b.get("/credentials")
	if list.status != 200 {
		b.t.Fatalf("credentials after sign-in: %d %s", list.status, list.body)
	}
	return list.csrf(b.t)
}

// eachEngine runs fn on every database engine.
func eachEngine(t *testing.T, fn func(t *testing.T, e metadbtest.Engine)) {
	for _, e := range metadbtest.Engines(t) {
		t.Run(e.Name, func(t *testing.T) { fn(t, e) })
	}
}

// scene is a server with an admin, a maker and a runner, a secret in the
// built-in store, a credential over it and a connection.
type scene struct {
	inst   *servertest.Instance
	admin  apiClient
	bob    string // bob's token (a maker)
	runner apiClient
}

// secretValue is the password the scene stores; no page may ever hold it.
const secretValue = "Sup3r-S3cret-V4lue-Never-Shown"

func newScene(t *testing.T, inst *servertest.Instance) scene {
	t.Helper()
	admin := apiClient{t: t, base: inst.URL, token: inst.AdminToken}
	admin.must(201, "PUT", "/api/v1/stores/local/secrets/sql-password", map[string]any{"value": secretValue})
	admin.must(201, "POST", "/api/v1/runner-groups", map[string]any{"name": "build"})
	bob := admin.newUser("bob", "maker")
	runner := apiClient{t: t, base: inst.URL, token: admin.newUser("build-01", "runner", "build")}
	admin.must(201, "POST", "/api/v1/environment-variables", map[string]any{"displayName": "SQL User", "type": "text", "value": "svc_reports"})
	admin.must(201, "POST", "/api/v1/environment-variables", map[string]any{"displayName": "SQL Password", "type": "secret",
		"secretRef": map[string]any{"store": "local", "ref": "sql-password"}})
	admin.must(201, "POST", "/api/v1/credentials", map[string]any{"name": "SQL reporting", "description": "Reports database",
		"username": "cf_SQLUser", "password": "cf_SQLPassword"})
	admin.must(201, "POST", "/api/v1/connections", map[string]any{"name": "reports-db", "credential": "SQL reporting", "runnerGroup": "build"})
	return scene{inst: inst, admin: admin, bob: bob, runner: runner}
}

func wantContains(t *testing.T, p page, parts ...string) {
	t.Helper()
	for _, s := range parts {
		if !strings.Contains(p.body, s) {
			t.Errorf("page (status %d) lacks %q:\n%s", p.status, s, p.body)
		}
	}
}
