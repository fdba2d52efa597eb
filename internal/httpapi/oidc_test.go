package httpapi_test

import (
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/credflow/credflow/internal/access/oidctest"
	"github.com/credflow/credflow/internal/config"
	"github.com/credflow/credflow/internal/metadb/metadbtest"
	"github.com/credflow/credflow/internal/server"
	"github.com/credflow/credflow/internal/server/servertest"
)

// oidcServer is a server that accepts JWTs from a fake OpenID Connect
// provider. It remembers every JWT sent so that, when the test ends, it can
// check that none reached the server log.
type oidcServer struct {
	inst  *servertest.Instance
	admin api
	idp   *oidctest.Provider
	key   *oidctest.Key // published by idp

	mu   sync.Mutex
	sent []string
}

func startOIDC(t *testing.T, e metadbtest.Engine, autoCreate bool) *oidcServer {
	t.Helper()
	key := oidctest.NewRSAKey(t, "rsa-1")
	idp := oidctest.New(t, key)
	cfg := config.Defaults()
	cfg.DataDir = t.TempDir()
	cfg.Database = e.DSN(t)
	cfg.OIDCIssuer = idp.Issuer()
	cfg.OIDCAudience = oidctest.Audience
	cfg.OIDCAutoCreate = autoCreate
	inst := servertest.StartConfig(t, cfg, server.WithOIDCClient(idp.Client()))
	s := &oidcServer{inst: inst, admin: api{t: t, base: inst.URL, token: inst.AdminToken}, idp: idp, key: key}
	t.Cleanup(func() { s.checkLog(t) })
	return s
}

// claims are valid claims, now, for user name with the given groups claim
// (nil: no groups claim).
func (s *oidcServer) claims(name string, groups []string) oidctest.Claims {
	c := s.idp.Claims(time.Now()).With("sub", "sub-"+name).With("preferred_username", name).Without("email")
	if groups == nil {
		return c.Without("groups")
	}
	return c.With("groups", groups)
}

// bearer returns an api that sends raw as its bearer token, for t.
func (s *oidcServer) bearer(t *testing.T, raw string) api {
	s.mu.Lock()
	s.sent = append(s.sent, raw)
	s.mu.Unlock()
	return api{t: t, base: s.inst.URL, token: raw}
}

// checkLog fails t if the server log holds any JWT sent, or any long part of
// one.
func (s *oidcServer) checkLog(t *testing.T) {
	log := s.inst.Log()
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, raw := range s.sent {
		if strings.Contains(log, raw) {
			t.Errorf("server log contains a raw JWT")
			continue
		}
		for _, seg := range strings.Split(raw, ".") {
			if len(seg) >= 16 && strings.Contains(log, seg) {
				t.Errorf("server log contains part of a JWT: %.40s...", seg)
			}
		}
	}
}

// userByName finds name in the admin's user list.
func userByName(admin api, name string) (map[string]any, int) {
	admin.t.Helper()
	var found map[string]any
	n := 0
	items, _ := admin.must(200, "GET", "/api/v1/users?limit=200", nil).body["items"].([]any)
	for _, it := range items {
		if u, _ := it.(map[string]any); u["name"] == name {
			found = u
			n++
		}
	}
	return found, n
}

func TestOIDCSignIn(t *testing.T) {
	eachEngine(t, func(t *testing.T, e metadbtest.Engine) {
		s := startOIDC(t, e, true)
		admin := s.admin
		admin.must(201, "POST", "/api/v1/groups", map[string]any{"name": "ops"})

		jwt := s.key.Sign(t, s.claims("alice", []string{"ops", "not-in-credflow"}))
		alice := s.bearer(t, jwt)
		me := alice.must(200, "GET", "/api/v1/me", nil)
		groups, _ := me.body["groups"].([]any)
		if me.str("name") != "alice" || me.str("role") != "maker" || len(groups) != 1 || groups[0] != "ops" {
			t.Errorf("me = %s, want alice, a maker, in groups [ops] only", me.raw)
		}
		// A second request finds the user made by the first.
		alice.must(200, "GET", "/api/v1/me", nil)
		u, n := userByName(admin, "alice")
		if n != 1 || u["source"] != "oidc" || u["role"] != "maker" || u["id"] != me.str("id") {
			t.Errorf("users list has %d alice(s), want one from oidc as a maker, with /me's id: %v", n, u)
		}

		// The token's groups give the rights of the group's shares.
		createText(admin, "Shared", "v")
		admin.must(200, "PUT", "/api/v1/environment-variables/cf_Shared/shares/group:ops", map[string]any{"role": "user"})
		if v := alice.must(200, "GET", "/api/v1/environment-variables/cf_Shared", nil); v.str("schemaName") != "cf_Shared" {
			t.Errorf("shared variable = %s", v.raw)
		}
		// A later token that no longer names the group ends the membership;
		// a user whose token never named it never had it.
		for name, groups := range map[string][]string{"alice": {"not-in-credflow"}, "bob": nil} {
			other := s.bearer(t, s.key.Sign(t, s.claims(name, groups)))
			wantProblem(t, other.do("GET", "/api/v1/environment-variables/cf_Shared", nil), http.StatusNotFound, "not_found", "")
		}

		// API tokens work beside OIDC: the admin's, and one an OIDC user makes.
		if r := admin.must(200, "GET", "/api/v1/me", nil); r.str("name") != "admin" || r.str("role") != "admin" {
			t.Errorf("admin's me = %s", r.raw)
		}
		tok := alice.must(201, "POST", "/api/v1/tokens", map[string]any{"name": "laptop"}).str("token")
		if !strings.HasPrefix(tok, "cft_") {
			t.Fatalf("token %q, want an API token", tok)
		}
		viaToken := api{t: t, base: s.inst.URL, token: tok}
		if r := viaToken.must(200, "GET", "/api/v1/me", nil); r.str("name") != "alice" {
			t.Errorf("me with alice's API token = %s", r.raw)
		}
	})
}

func TestOIDCRejections(t *testing.T) {
	eachEngine(t, func(t *testing.T, e metadbtest.Engine) {
		s := startOIDC(t, e, true)
		stranger := oidctest.NewRSAKey(t, "stranger") // never published
		now := time.Now()
		valid := s.claims("mallory", []string{"ops"})
		cases := []struct{ name, token string }{
			{"expired", s.key.Sign(t, valid.With("iat", now.Add(-2*time.Hour).Unix()).With("exp", now.Add(-time.Hour).Unix()))},
			{"wrong audience", s.key.Sign(t, valid.With("aud", "someone-else"))},
			{"wrong issuer", s.key.Sign(t, valid.With("iss", "https://evil.example"))},
			{"alg none", oidctest.AlgNone(t, valid)},
			{"HS256 keyed with the public key", s.key.HS256WithPublicKey(t, valid)},
			{"unknown kid", stranger.Sign(t, valid)},
			{"tampered signature", oidctest.TamperSignature(t, s.key.Sign(t, valid))},
			{"tampered payload", oidctest.TamperClaims(t, s.key.Sign(t, valid), valid.With("preferred_username", "admin"))},
			{"garbage", "garbage.garbage.garbage"},
			{"garbage, not even JWT-shaped", "not-a-token"}, // the API-token path answers the same
		}
		// The claims are good: only what each case changed is wrong.
		s.bearer(t, s.key.Sign(t, valid)).must(200, "GET", "/api/v1/me", nil)

		var want string
		for _, c := range cases {
			t.Run(c.name, func(t *testing.T) {
				r := s.bearer(t, c.token).do("GET", "/api/v1/me", nil)
				wantProblem(t, r, http.StatusUnauthorized, "unauthenticated", "")
				if r.header.Get("WWW-Authenticate") == "" {
					t.Error("401 without WWW-Authenticate")
				}
				body := strings.Join([]string{r.str("type"), r.str("title"), r.str("detail"), r.str("code")}, "|")
				if want == "" {
					want = body
				} else if body != want {
					t.Errorf("401 bodies differ by cause:\n%s\n%s", want, body)
				}
			})
		}
		// None made a user, and the forged admin is still the admin.
		if _, n := userByName(s.admin, "mallory"); n != 1 {
			t.Errorf("%d users named mallory, want the one the valid token made", n)
		}
		if r := s.admin.must(200, "GET", "/api/v1/me", nil); r.str("role") != "admin" {
			t.Errorf("admin's me = %s", r.raw)
		}
		if !strings.Contains(s.inst.Log(), "authentication failed") {
			t.Error("the failures were not logged, so the log check below proves nothing")
		}
	})
}

func TestOIDCWithoutAutoCreate(t *testing.T) {
	eachEngine(t, func(t *testing.T, e metadbtest.Engine) {
		s := startOIDC(t, e, false)
		carol := s.bearer(t, s.key.Sign(t, s.claims("carol", []string{"ops"})))
		wantProblem(t, carol.do("GET", "/api/v1/me", nil), http.StatusUnauthorized, "unauthenticated", "")
		if _, n := userByName(s.admin, "carol"); n != 0 {
			t.Fatalf("%d users named carol after a refused sign-in, want 0", n)
		}

		s.admin.must(201, "POST", "/api/v1/users", map[string]any{"name": "carol", "role": "runner"})
		me := carol.must(200, "GET", "/api/v1/me", nil)
		if me.str("name") != "carol" || me.str("role") != "runner" {
			t.Errorf("me = %s, want carol as a runner", me.raw)
		}
		if u, _ := userByName(s.admin, "carol"); u["source"] != "local" {
			t.Errorf("carol = %v, want the local user the admin made", u)
		}
	})
}

// TestOIDCNamesNeverReachUsersByID checks that a token whose user claim
// holds another user's id, or a name credflow would refuse, signs nobody in.
func TestOIDCNamesNeverReachUsersByID(t *testing.T) {
	eachEngine(t, func(t *testing.T, e metadbtest.Engine) {
		s := startOIDC(t, e, true)
		adminID := s.admin.must(200, "GET", "/api/v1/me", nil).str("id")
		for _, name := range []string{adminID, strings.ToUpper(adminID), strings.ReplaceAll(adminID, "-", ""), "has space/and:colon"} {
			r := s.bearer(t, s.key.Sign(t, s.claims(name, nil))).do("GET", "/api/v1/me", nil)
			wantProblem(t, r, http.StatusUnauthorized, "unauthenticated", "")
		}
		if l := s.admin.must(200, "GET", "/api/v1/users", nil); len(l.body["items"].([]any)) != 1 {
			t.Errorf("refused tokens created users: %s", l.raw)
		}
		if !strings.Contains(s.inst.Log(), "must not look like an id") {
			t.Error("the log does not say why the token was refused")
		}
	})
}

// The groups a token names outlive the request: they are the user's
// provider-asserted memberships until their next sign-in, so a connection
// whose owner may use the credential only through such a group resolves,
// and stops resolving once a sign-in no longer names the group.
func TestOIDCGroupsCountForConnectionOwners(t *testing.T) {
	eachEngine(t, func(t *testing.T, e metadbtest.Engine) {
		s := startOIDC(t, e, true)
		admin := s.admin
		admin.must(201, "POST", "/api/v1/groups", map[string]any{"name": "ops"})
		admin.must(201, "POST", "/api/v1/runner-groups", map[string]any{"name": "build"})
		runner := runnerIn(admin, "build-01", "build")
		putSecret(admin, "ops-pass", "ops-password-value")
		admin.must(201, "POST", "/api/v1/environment-variables", map[string]any{"schemaName": "cf_OpsUser", "displayName": "u", "type": "text", "value": "svc_ops"})
		createSecretVar(admin, "Ops pass", "ops-pass")
		admin.must(201, "POST", "/api/v1/credentials", map[string]any{"name": "Ops", "username": "cf_OpsUser", "password": "cf_Opspass"})
		admin.must(200, "PUT", "/api/v1/credentials/Ops/shares/group:ops", map[string]any{"role": "user"})

		alice := s.bearer(t, s.key.Sign(t, s.claims("alice", []string{"ops"})))
		alice.must(201, "POST", "/api/v1/connections", map[string]any{"name": "ops-build", "credential": "Ops", "runnerGroup": "build"})
		members := admin.must(200, "GET", "/api/v1/groups/ops/members", nil)
		if !strings.Contains(string(members.raw), `"alice"`) {
			t.Errorf("ops members %s, want alice (named by her token)", members.raw)
		}
		if r := runner.must(200, "POST", "/api/v1/connections/ops-build/resolve", nil); r.str("password") != "ops-password-value" {
			t.Fatalf("resolve %s", r.raw)
		}
		// Further requests naming the same groups write nothing more.
		alice.must(200, "GET", "/api/v1/me", nil)
		syncs := admin.must(200, "GET", "/api/v1/audit?action=group.member.oidc-sync", nil)
		if items, _ := syncs.body["items"].([]any); len(items) != 1 || !strings.Contains(string(syncs.raw), "groups named by the identity provider: ops") {
			t.Errorf("want one sync record naming ops: %s", syncs.raw)
		}

		// Alice signs in again, no longer in ops: the owner has lost access.
		s.bearer(t, s.key.Sign(t, s.claims("alice", []string{"not-in-credflow"}))).must(200, "GET", "/api/v1/me", nil)
		wantProblem(t, runner.do("POST", "/api/v1/connections/ops-build/resolve", nil), http.StatusForbidden, "owner_lost_access", "")
		if members := admin.must(200, "GET", "/api/v1/groups/ops/members", nil); strings.Contains(string(members.raw), `"alice"`) {
			t.Errorf("ops members %s, want alice gone", members.raw)
		}

		// An admin removing a provider-asserted membership ends it too.
		s.bearer(t, s.key.Sign(t, s.claims("alice", []string{"ops"}))).must(200, "GET", "/api/v1/me", nil)
		runner.must(200, "POST", "/api/v1/connections/ops-build/resolve", nil)
		admin.must(204, "DELETE", "/api/v1/groups/ops/members/alice", nil)
		wantProblem(t, runner.do("POST", "/api/v1/connections/ops-build/resolve", nil), http.StatusForbidden, "owner_lost_access", "")
	})
}
