package webui_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/credflow/credflow/internal/access/oidctest"
	"github.com/credflow/credflow/internal/config"
	"github.com/credflow/credflow/internal/metadb/metadbtest"
	"github.com/credflow/credflow/internal/server"
	"github.com/credflow/credflow/internal/server/servertest"
)

func startOIDC(t *testing.T, e metadbtest.Engine, autoCreate bool) (*servertest.Instance, *oidctest.Provider, *oidctest.Key) {
	t.Helper()
	key := oidctest.NewRSAKey(t, "k1")
	idp := oidctest.New(t, key)
	cfg := config.Defaults()
	cfg.DataDir = t.TempDir()
	cfg.Database = e.DSN(t)
	cfg.OIDCIssuer, cfg.OIDCAudience, cfg.OIDCAutoCreate = idp.Issuer(), oidctest.Audience, autoCreate
	return servertest.StartConfig(t, cfg, server.WithOIDCClient(idp.Client())), idp, key
}

// oidcSignIn walks the redirects of a single sign-on and returns the last
// answer: credflow's after the callback.
func oidcSignIn(t *testing.T, b *browser, idp *oidctest.Provider, next string) page {
	t.Helper()
	start := b.get("/signin/oidc?next=" + url.QueryEscape(next))
	to := start.header.Get("Location")
	if start.status != http.StatusSeeOther || !strings.HasPrefix(to, idp.Issuer()+"/authorize?") {
		t.Fatalf("start: %d %q %s", start.status, to, start.body)
	}
	u, _ := url.Parse(to)
	q := u.Query()
	if q.Get("code_challenge_method") != "S256" || q.Get("code_challenge") == "" || q.Get("nonce") == "" || q.Get("state") == "" ||
		q.Get("client_id") != oidctest.Audience || q.Get("redirect_uri") != b.base+"/signin/oidc/callback" || !strings.Contains(q.Get("scope"), "openid") {
		t.Fatalf("authorization request %s", to)
	}
	back := b.getURL(to)
	cb := back.header.Get("Location")
	if back.status != http.StatusFound || !strings.HasPrefix(cb, b.base+"/signin/oidc/callback?") {
		t.Fatalf("provider: %d %q", back.status, cb)
	}
	return b.getURL(cb)
}

func TestOIDCSignIn(t *testing.T) {
	eachEngine(t, func(t *testing.T, e metadbtest.Engine) {
		inst, idp, key := startOIDC(t, e, true)
		idp.SignInAs(key, idp.Claims(time.Now()))
		b := newBrowser(t, inst.URL, idp.Client())
		wantContains(t, b.get("/signin"), "Sign in with your organisation")
		res := oidcSignIn(t, b, idp, "/variables")
		if res.status != http.StatusSeeOther || res.header.Get("Location") != "/variables" {
			t.Fatalf("callback: %d %q %s", res.status, res.header.Get("Location"), res.body)
		}
		wantContains(t, b.get("/variables"), "alice (maker)")

		// The callback, replayed, signs nobody in.
		other := newBrowser(t, inst.URL, idp.Client())
		start := other.get("/signin/oidc")
		back := other.getURL(start.header.Get("Location"))
		cb := back.header.Get("Location")
		if res := other.getURL(cb); res.status != http.StatusSeeOther {
			t.Fatalf("first callback: %d", res.status)
		}
		if res := other.getURL(cb); res.status != http.StatusForbidden {
			t.Fatalf("replayed callback: %d", res.status)
		}
		// A callback meant for another browser is refused (login CSRF).
		victim := newBrowser(t, inst.URL, idp.Client())
		attacker := newBrowser(t, inst.URL, idp.Client())
		start = attacker.get("/signin/oidc")
		cb = attacker.getURL(start.header.Get("Location")).header.Get("Location")
		if res := victim.getURL(cb); res.status != http.StatusForbidden {
			t.Fatalf("another browser's callback: %d", res.status)
		}
		if p := victim.get("/credentials"); p.status != http.StatusSeeOther {
			t.Fatal("the victim was signed in")
		}
	})
}

func TestOIDCSignInRefusals(t *testing.T) {
	e := metadbtest.Engines(t)[0]
	t.Run("provider refuses", func(t *testing.T) {
		inst, idp, _ := startOIDC(t, e, true)
		res := oidcSignIn(t, newBrowser(t, inst.URL, idp.Client()), idp, "/")
		if res.status != http.StatusUnauthorized {
			t.Fatalf("status %d", res.status)
		}
		wantContains(t, res, "did not sign you in (access_denied)")
	})
	t.Run("wrong nonce", func(t *testing.T) {
		inst, idp, key := startOIDC(t, e, true)
		idp.SignInAs(key, idp.Claims(time.Now()).With("nonce", "replayed"))
		res := oidcSignIn(t, newBrowser(t, inst.URL, idp.Client()), idp, "/")
		if res.status != http.StatusUnauthorized || strings.Contains(res.header.Get("Set-Cookie"), "credflow_session=") &&
			!strings.Contains(res.header.Get("Set-Cookie"), "credflow_session=;") {
			t.Fatalf("status %d, cookies %q", res.status, res.header.Values("Set-Cookie"))
		}
	})
	t.Run("unknown user without auto-create", func(t *testing.T) {
		inst, idp, key := startOIDC(t, e, false)
		idp.SignInAs(key, idp.Claims(time.Now()))
		res := oidcSignIn(t, newBrowser(t, inst.URL, idp.Client()), idp, "/")
		if res.status != http.StatusUnauthorized {
			t.Fatalf("status %d", res.status)
		}
		wantContains(t, res, "unknown to credflow")
	})
	t.Run("token issued for another client", func(t *testing.T) {
		inst, idp, key := startOIDC(t, e, true)
		idp.SignInAs(key, idp.Claims(time.Now()))
		b := newBrowser(t, inst.URL, idp.Client())
		start := b.get("/signin/oidc")
		u, _ := url.Parse(start.header.Get("Location"))
		q := u.Query()
		q.Set("client_id", "someone-else")
		u.RawQuery = q.Encode()
		cb := b.getURL(u.String()).header.Get("Location")
		if res := b.getURL(cb); res.status != http.StatusUnauthorized {
			t.Fatalf("status %d", res.status)
		}
	})
	t.Run("not configured", func(t *testing.T) {
		inst := servertest.Start(t, e)
		b := newBrowser(t, inst.URL, nil)
		if strings.Contains(b.get("/signin").body, "/signin/oidc") {
			t.Error("single sign-on offered without an issuer")
		}
		if res := b.get("/signin/oidc"); res.status != http.StatusNotFound {
			t.Fatalf("status %d", res.status)
		}
	})
}
