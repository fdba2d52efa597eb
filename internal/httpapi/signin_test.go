package httpapi_test

import (
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/credflow/credflow/internal/access/oidctest"
	"github.com/credflow/credflow/internal/config"
	"github.com/credflow/credflow/internal/metadb/metadbtest"
	"github.com/credflow/credflow/internal/server"
	"github.com/credflow/credflow/internal/server/servertest"
)

// TestFailedSignInsAreLimitedAndAudited sends failing sign-ins of every
// sort from one address: past the limit they get 429 with Retry-After, a
// valid token from the same address still gets in at once, and the window
// is audited once, with its count, when it ends.
func TestFailedSignInsAreLimitedAndAudited(t *testing.T) {
	eachEngine(t, func(t *testing.T, e metadbtest.Engine) {
		key := oidctest.NewRSAKey(t, "rsa-1")
		idp := oidctest.New(t, key)
		cfg := config.Defaults()
		cfg.DataDir = t.TempDir()
		cfg.Database = e.DSN(t)
		cfg.OIDCIssuer, cfg.OIDCAudience = idp.Issuer(), oidctest.Audience
		cfg.MaxFailedSignIns = 5
		const window = 5 * time.Second
		inst := servertest.StartConfig(t, cfg, server.WithOIDCClient(idp.Client()), server.WithSignInWindow(window))
		admin := api{t: t, base: inst.URL, token: inst.AdminToken}
		bob := newUser(admin, "bob", "maker")
		admin.must(201, "POST", "/api/v1/users", map[string]any{"name": "carol", "role": "maker"})
		rt := admin.must(201, "POST", "/api/v1/tokens", map[string]any{"name": "gone", "user": "carol"})
		admin.must(204, "DELETE", "/api/v1/tokens/"+rt.str("id"), nil)
		revoked := api{t: t, base: inst.URL, token: rt.str("token")}
		expired := admin.must(201, "POST", "/api/v1/tokens", map[string]any{"name": "short", "user": "bob",
			"expiresAt": time.Now().Add(time.Second).UTC().Format(time.RFC3339Nano)}).str("token")
		time.Sleep(1100 * time.Millisecond)

		other := oidctest.NewRSAKey(t, "rsa-1")
		failing := []struct{ name, token string }{
			{"unknown", "cft_00000000000000000000000000000000_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"},
			{"malformed", "not-a-token"},
			{"revoked", revoked.token},
			{"expired", expired},
			{"bad OIDC signature", other.Sign(t, idp.Claims(time.Now()).With("preferred_username", "mallory"))},
		}
		start := time.Now()
		for _, f := range failing {
			wantProblem(t, (api{t: t, base: inst.URL, token: f.token}).do("GET", "/api/v1/environment-variables", nil), 401, "unauthenticated", "")
		}
		// The limit is reached: further failures are refused.
		for _, f := range append(failing, struct{ name, token string }{"none", ""}) {
			r := (api{t: t, base: inst.URL, token: f.token}).do("GET", "/api/v1/environment-variables", nil)
			wantProblem(t, r, 429, "signin_rate_limited", "")
			ra, err := strconv.Atoi(r.header.Get("Retry-After"))
			if err != nil || ra < 1 || ra > int(window.Seconds()) {
				t.Errorf("%s: Retry-After %q", f.name, r.header.Get("Retry-After"))
			}
		}
		// Valid tokens from the same address are not refused, nor delayed.
		for _, a := range []api{admin, bob, {t: t, base: inst.URL, token: key.Sign(t, idp.Claims(time.Now()).With("preferred_username", "alice"))}} {
			began := time.Now()
			a.must(200, "GET", "/api/v1/environment-variables", nil)
			if d := time.Since(began); d > time.Second {
				t.Errorf("a valid token took %s", d)
			}
		}
		if time.Since(start) > window {
			t.Fatalf("the test was too slow for its %s window", window)
		}

		// The window is audited once, when it ends.
		var items []any
		deadline := time.Now().Add(window + 5*time.Second)
		for len(items) == 0 && time.Now().Before(deadline) {
			time.Sleep(100 * time.Millisecond)
			items = admin.must(200, "GET", "/api/v1/audit?action=auth.signin.failed", nil).body["items"].([]any)
		}
		if len(items) != 1 {
			t.Fatalf("failed sign-in records: %v", items)
		}
		rec := items[0].(map[string]any)
		if rec["actor"] != "anonymous" || rec["resource"] != "client:127.0.0.1" || rec["client"] != "127.0.0.1" || rec["outcome"] != "denied" ||
			!regexp.MustCompile(`^11 failed sign-ins in the 5s from \S+; 6 refused with 429 after the limit of 5; last reason: unauthenticated$`).MatchString(rec["reason"].(string)) {
			t.Errorf("record %v", rec)
		}
		// A new window: the address is not refused any more.
		wantProblem(t, (api{t: t, base: inst.URL, token: "not-a-token"}).do("GET", "/api/v1/environment-variables", nil), 401, "unauthenticated", "")
		if v := admin.must(200, "GET", "/api/v1/audit/verify", nil); v.body["ok"] != true {
			t.Errorf("verify: %s", v.raw)
		}
		if strings.Contains(inst.Log(), revoked.token) || strings.Contains(inst.Log(), expired) {
			t.Error("a token reached the server log")
		}
	})
}
