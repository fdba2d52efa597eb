package webui_test

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/credflow/credflow/internal/config"
	"github.com/credflow/credflow/internal/metadb/metadbtest"
	"github.com/credflow/credflow/internal/server"
	"github.com/credflow/credflow/internal/server/servertest"
	"github.com/credflow/credflow/internal/testclock"
	"github.com/credflow/credflow/internal/webui"
)

func TestSecurityHeadersOnEveryAnswer(t *testing.T) {
	inst := servertest.Start(t, metadbtest.Engines(t)[0])
	b := newBrowser(t, inst.URL, nil)
	csrf := b.signIn(inst.AdminToken)
	for _, p := range []page{b.get("/signin"), b.get("/credentials"), b.get("/static/style.css"), b.get("/nowhere"),
		b.post("/credentials/new", url.Values{"csrf": {csrf}, "step": {"1"}})} {
		h := p.header
		csp := h.Get("Content-Security-Policy")
		for _, want := range []string{"default-src 'none'", "script-src 'self'", "frame-ancestors 'none'", "form-action 'self'"} {
			if !strings.Contains(csp, want) {
				t.Errorf("CSP %q lacks %q", csp, want)
			}
		}
		if strings.Contains(csp, "unsafe-inline") || strings.Contains(csp, "unsafe-eval") {
			t.Errorf("CSP allows inline code: %q", csp)
		}
		if h.Get("X-Content-Type-Options") != "nosniff" || h.Get("X-Frame-Options") != "DENY" {
			t.Errorf("headers %v", h)
		}
	}
	if res, err := b.c.Head(inst.URL + "/credentials"); err != nil || res.StatusCode != 200 {
		t.Errorf("HEAD of a page: %v %v", res, err)
	} else {
		res.Body.Close()
	}
	if p := b.get("/credentials"); p.header.Get("Cache-Control") != "no-store" {
		t.Errorf("a page may be cached: %q", p.header.Get("Cache-Control"))
	}
	// No page holds inline script or style.
	for _, path := range []string{"/signin", "/credentials", "/credentials/new", "/variables", "/variables/new", "/connections", "/stores", "/audit"} {
		p := b.get(path)
		if strings.Contains(p.body, "<script>") || strings.Contains(p.body, "style=") || strings.Contains(p.body, "<style") {
			t.Errorf("%s holds inline script or style", path)
		}
	}
}

// sessionCookie returns the session cookie a sign-in sets.
func sessionCookie(t *testing.T, base string, client *http.Client, token string) *http.Cookie {
	t.Helper()
	b := newBrowser(t, base, client)
	form := b.get("/signin")
	res := b.post("/signin", url.Values{"csrf": {form.csrf(t)}, "token": {token}})
	if res.status != http.StatusSeeOther {
		t.Fatalf("sign-in: %d %s", res.status, res.body)
	}
	for _, c := range (&http.Response{Header: res.header}).Cookies() {
		if c.Name == "credflow_session" {
			return c
		}
	}
	t.Fatalf("no session cookie in %v", res.header)
	return nil
}

func TestSessionCookieAttributes(t *testing.T) {
	inst := servertest.Start(t, metadbtest.Engines(t)[0])
	t.Run("http", func(t *testing.T) {
		c := sessionCookie(t, inst.URL, nil, inst.AdminToken)
		if !c.HttpOnly || c.SameSite != http.SameSiteLaxMode || c.Path != "/" || c.Secure || len(c.Value) < 40 {
			t.Errorf("cookie %+v", c)
		}
	})
	t.Run("tls", func(t *testing.T) {
		ts := httptest.NewTLSServer(inst.Server.Handler())
		defer ts.Close()
		c := sessionCookie(t, ts.URL, ts.Client(), inst.AdminToken)
		if !c.HttpOnly || c.SameSite != http.SameSiteLaxMode || !c.Secure {
			t.Errorf("cookie %+v", c)
		}
	})
}

func TestSignInRefusesABadTokenAndAForgedForm(t *testing.T) {
	inst := servertest.Start(t, metadbtest.Engines(t)[0])
	b := newBrowser(t, inst.URL, nil)
	form := b.get("/signin")
	res := b.post("/signin", url.Values{"csrf": {form.csrf(t)}, "token": {"cf_nope"}})
	if res.status != http.StatusUnauthorized {
		t.Fatalf("bad token: %d", res.status)
	}
	wantContains(t, res, "That token was not accepted")
	// A form posted from elsewhere has no matching cookie.
	other := newBrowser(t, inst.URL, nil)
	res = other.post("/signin", url.Values{"csrf": {form.csrf(t)}, "token": {inst.AdminToken}})
	if res.status != http.StatusForbidden || res.header.Get("Set-Cookie") == "" || strings.Contains(res.header.Get("Set-Cookie"), "credflow_session=") {
		t.Fatalf("forged sign-in: %d %v", res.status, res.header)
	}
	// Unsigned, a page sends the browser to sign in, and back after.
	res = other.get("/variables?q=x")
	if res.status != http.StatusSeeOther || res.header.Get("Location") != "/signin?next=%2Fvariables%3Fq%3Dx" {
		t.Fatalf("unsigned page: %d %q", res.status, res.header.Get("Location"))
	}
	// A destination elsewhere is not followed.
	form = b.get("/signin")
	res = b.post("/signin", url.Values{"csrf": {form.csrf(t)}, "token": {inst.AdminToken}, "next": {"//evil.example/"}})
	if res.header.Get("Location") != "/credentials" {
		t.Fatalf("next followed off-site: %q", res.header.Get("Location"))
	}
}

func TestFormsWithoutTheSessionsTokenAreRefused(t *testing.T) {
	eachEngine(t, func(t *testing.T, e metadbtest.Engine) {
		inst := servertest.Start(t, e)
		s := newScene(t, inst)
		b := newBrowser(t, inst.URL, nil)
		csrf := b.signIn(inst.AdminToken)
		cred := s.admin.must(200, "GET", "/api/v1/credentials/SQL%20reporting", nil)["id"].(string)
		other := newBrowser(t, inst.URL, nil)
		otherCSRF := other.signIn(inst.AdminToken)
		for name, token := range map[string]string{"none": "", "wrong": "x" + csrf[1:], "another session's": otherCSRF} {
			t.Run(name, func(t *testing.T) {
				form := url.Values{"name": {"Renamed"}}
				if token != "" {
					form.Set("csrf", token)
				}
				for _, path := range []string{"/credentials/" + cred + "/edit", "/credentials/" + cred + "/disable", "/signout"} {
					res := b.post(path, form)
					if res.status != http.StatusForbidden {
						t.Fatalf("%s: status %d", path, res.status)
					}
					wantContains(t, res, "security token")
				}
			})
		}
		got := s.admin.must(200, "GET", "/api/v1/credentials/"+cred, nil)
		if got["name"] != "SQL reporting" || got["enabled"] != true {
			t.Fatalf("a refused form changed the credential: %v", got)
		}
		// The right token goes through.
		if res := b.post("/credentials/"+cred+"/disable", url.Values{"csrf": {csrf}}); res.status != http.StatusSeeOther {
			t.Fatalf("disable: %d %s", res.status, res.body)
		}
		if got := s.admin.must(200, "GET", "/api/v1/credentials/"+cred, nil); got["enabled"] != false {
			t.Fatalf("not disabled: %v", got)
		}
	})
}

func TestSessionsExpireAndSignOutEnds(t *testing.T) {
	clk := testclock.New(time.Now())
	cfg := config.Defaults()
	cfg.DataDir = t.TempDir()
	inst := servertest.StartConfig(t, cfg, server.WithSessions(webui.SessionOptions{IdleTimeout: 10 * time.Minute, MaxAge: time.Hour, Now: clk.Now}))
	signedIn := func(b *browser) bool {
		p := b.get("/credentials")
		return p.status == http.StatusOK
	}
	t.Run("idle", func(t *testing.T) {
		b := newBrowser(t, inst.URL, nil)
		b.signIn(inst.AdminToken)
		clk.Advance(9 * time.Minute)
		if !signedIn(b) {
			t.Fatal("signed out before the idle timeout")
		}
		clk.Advance(9 * time.Minute) // 9 minutes since the last request
		if !signedIn(b) {
			t.Fatal("a request did not renew the idle timeout")
		}
		clk.Advance(10 * time.Minute)
		p := b.get("/credentials")
		if p.status != http.StatusSeeOther || !strings.HasPrefix(p.header.Get("Location"), "/signin") {
			t.Fatalf("idle session still works: %d", p.status)
		}
	})
	t.Run("max age", func(t *testing.T) {
		b := newBrowser(t, inst.URL, nil)
		b.signIn(inst.AdminToken)
		for range 6 {
			clk.Advance(9 * time.Minute)
			if !signedIn(b) {
				t.Fatal("signed out early")
			}
		}
		clk.Advance(9 * time.Minute) // 63 minutes since sign-in
		if signedIn(b) {
			t.Fatal("session outlived its maximum age")
		}
	})
	t.Run("sign out", func(t *testing.T) {
		b := newBrowser(t, inst.URL, nil)
		csrf := b.signIn(inst.AdminToken)
		u, _ := url.Parse(inst.URL)
		cookie := b.c.Jar.Cookies(u)
		res := b.post("/signout", url.Values{"csrf": {csrf}})
		if res.status != http.StatusSeeOther || res.header.Get("Location") != "/signin?out=1" {
			t.Fatalf("sign out: %d %q", res.status, res.header.Get("Location"))
		}
		// The old cookie, replayed, is worth nothing.
		replay := newBrowser(t, inst.URL, nil)
		replay.c.Jar.SetCookies(u, cookie)
		if signedIn(replay) {
			t.Fatal("the session outlived sign-out")
		}
	})
	t.Run("deleted user", func(t *testing.T) {
		admin := apiClient{t: t, base: inst.URL, token: inst.AdminToken}
		tok := admin.newUser("carol", "maker")
		b := newBrowser(t, inst.URL, nil)
		b.signIn(tok)
		admin.must(204, "DELETE", "/api/v1/users/carol", nil)
		if signedIn(b) {
			t.Fatal("a deleted user's session still works")
		}
	})
}

func TestRunnersDoNotSignIn(t *testing.T) {
	inst := servertest.Start(t, metadbtest.Engines(t)[0])
	s := newScene(t, inst)
	b := newBrowser(t, inst.URL, nil)
	form := b.get("/signin")
	res := b.post("/signin", url.Values{"csrf": {form.csrf(t)}, "token": {s.runner.token}})
	if res.status != http.StatusUnauthorized {
		t.Fatalf("runner sign-in: %d", res.status)
	}
	wantContains(t, res, "runner")
}

func TestPagesKeepTheAPIsPermissions(t *testing.T) {
	eachEngine(t, func(t *testing.T, e metadbtest.Engine) {
		inst := servertest.Start(t, e)
		s := newScene(t, inst)
		bob := newBrowser(t, inst.URL, nil)
		csrf := bob.signIn(s.bob)
		for _, path := range []string{"/stores", "/stores/local", "/audit"} {
			if p := bob.get(path); p.status != http.StatusForbidden {
				t.Errorf("maker GET %s: %d", path, p.status)
			}
		}
		if p := bob.post("/stores/local/check", url.Values{"csrf": {csrf}}); p.status != http.StatusForbidden {
			t.Errorf("maker store check: %d", p.status)
		}
		list := bob.get("/credentials")
		if strings.Contains(list.body, "SQL reporting") {
			t.Error("bob sees a credential nobody shared with him")
		}
		cred := s.admin.must(200, "GET", "/api/v1/credentials/SQL%20reporting", nil)["id"].(string)
		if p := bob.get("/credentials/" + cred); p.status != http.StatusNotFound {
			t.Errorf("unshared credential page: %d", p.status)
		}
		if p := bob.post("/credentials/"+cred+"/delete", url.Values{"csrf": {csrf}, "force": {"true"}}); p.status != http.StatusNotFound {
			t.Errorf("unshared credential delete: %d", p.status)
		}
		s.admin.must(200, "PUT", "/api/v1/credentials/"+cred+"/shares/user:bob", map[string]any{"role": "user"})
		wantContains(t, bob.get("/credentials"), "SQL reporting")
		if p := bob.post("/credentials/"+cred+"/disable", url.Values{"csrf": {csrf}}); p.status != http.StatusForbidden {
			t.Errorf("a user disabled it: %d", p.status)
		}
		s.admin.must(200, "GET", "/api/v1/credentials/"+cred, nil)
	})
}

// TestNoSecretValueReachesTheBrowser visits every page, as the admin and
// as a user the credential is shared with, after the secret has been
// written, referenced, checked and resolved: its value is on none.
func TestNoSecretValueReachesTheBrowser(t *testing.T) {
	eachEngine(t, func(t *testing.T, e metadbtest.Engine) {
		inst := servertest.Start(t, e)
		s := newScene(t, inst)
		res := s.runner.must(200, "POST", "/api/v1/connections/reports-db/resolve", nil)
		if res["password"] != secretValue {
			t.Fatalf("resolve: %v", res["password"] != nil)
		}
		cred := s.admin.must(200, "GET", "/api/v1/credentials/SQL%20reporting", nil)["id"].(string)
		s.admin.must(200, "PUT", "/api/v1/credentials/"+cred+"/shares/user:bob", map[string]any{"role": "user"})
		pw := s.admin.must(200, "GET", "/api/v1/environment-variables/cf_SQLPassword", nil)["id"].(string)
		conn := s.admin.must(200, "GET", "/api/v1/connections/reports-db", nil)["id"].(string)
		admin := newBrowser(t, inst.URL, nil)
		csrf := admin.signIn(inst.AdminToken)
		pages := []page{
			admin.post("/stores/local/check", url.Values{"csrf": {csrf}, "secret": {"sql-password"}}),
			admin.post("/variables/"+pw+"/edit", url.Values{"csrf": {csrf}, "displayName": {"SQL Password"}, "ref": {"no-such-secret"}}),
		}
		for _, path := range []string{"/credentials", "/credentials/" + cred, "/credentials/" + cred + "/delete", "/variables",
			"/variables/" + pw, "/connections", "/connections/" + conn, "/stores", "/stores/local", "/audit", "/audit?verify=checkpoint",
			"/credentials/new", "/variables/new"} {
			pages = append(pages, admin.get(path))
		}
		bob := newBrowser(t, inst.URL, nil)
		bob.signIn(s.bob)
		for _, path := range []string{"/credentials", "/credentials/" + cred, "/variables", "/variables/" + pw} {
			pages = append(pages, bob.get(path))
		}
		for i, p := range pages {
			if p.status >= 500 {
				t.Errorf("page %d: status %d", i, p.status)
			}
			if strings.Contains(p.body, secretValue) {
				t.Errorf("page %d holds the secret's value", i)
			}
		}
		if strings.Contains(inst.Log(), secretValue) {
			t.Error("the server log holds the secret's value")
		}
		if !strings.Contains(inst.Log(), `"msg":"page"`) {
			t.Error("the pages are not logged")
		}
		wantContains(t, pages[0], "Every step passed", "sql-password")
		wantContains(t, pages[1], `The secret &#34;no-such-secret&#34; was not found in store &#34;local&#34;.`)
	})
}

func TestStaticAssetsAreEmbedded(t *testing.T) {
	inst := servertest.Start(t, metadbtest.Engines(t)[0])
	b := newBrowser(t, inst.URL, nil)
	for path, ctype := range map[string]string{"/static/style.css": "text/css", "/static/app.js": "javascript"} {
		p := b.get(path)
		if p.status != 200 || !strings.Contains(p.header.Get("Content-Type"), ctype) || len(p.body) < 100 {
			t.Errorf("%s: %d %q", path, p.status, p.header.Get("Content-Type"))
		}
	}
	if p := b.get("/static/"); p.status != 404 {
		t.Errorf("the static directory is listed: %d", p.status)
	}
	// The API keeps its own answers.
	if p := b.get("/api/v1/nope"); p.status != 404 || p.header.Get("Content-Type") != "application/problem+json" {
		t.Errorf("API 404: %d %q", p.status, p.header.Get("Content-Type"))
	}
	if p := b.get("/healthz"); p.status != 200 {
		t.Errorf("healthz: %d", p.status)
	}
}
