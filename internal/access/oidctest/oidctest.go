// Package oidctest is a fake OpenID Connect provider for tests only: an
// httptest TLS server that serves a discovery document and a key set the
// test controls (keys can be rotated, the provider taken down and brought
// back), with helpers that mint tokens, both valid ones and the forgeries a
// verifier must refuse.
//
// It speaks the parts of OpenID Connect a bearer-token verifier uses
// (discovery and the JWKS), and a minimal authorization code flow with PKCE
// (S256 only) for a browser's sign-in: the authorization endpoint signs in,
// without asking anything, whoever SignInAs names, and the token endpoint
// exchanges the code once for an ID token. Other tests sign tokens
// directly with a Key.
package oidctest

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"
)

// Audience is the aud of the tokens Claims mints.
const Audience = "credflow"

// Provider is a running fake OpenID Connect provider. Its methods are safe
// for concurrent use.
type Provider struct {
	srv *httptest.Server

	mu         sync.Mutex
	keys       []jose.JSONWebKey
	down       bool
	advertised string // the discovery document's issuer; "" means the real one

	discoveries atomic.Int32
	keyFetches  atomic.Int32

	// signIn is who the authorization endpoint signs in; codes are the
	// codes it gave and not yet exchanged.
	signInKey    *Key
	signInClaims Claims
	codes        map[string]grant
}

// grant is what an authorization code stands for.
type grant struct {
	clientID, redirectURI, challenge, nonce string
}

// SignInAs makes the authorization endpoint sign in the bearer of claims
// (their aud is replaced by the client's id; the request's nonce is added
// unless claims hold one, as a misbehaving provider's would), with ID
// tokens signed by key.
func (p *Provider) SignInAs(key *Key, claims Claims) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.signInKey, p.signInClaims = key, claims
}

func (p *Provider) authorize(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	redirect, err := url.Parse(q.Get("redirect_uri"))
	if err != nil || redirect.Scheme == "" || q.Get("client_id") == "" {
		http.Error(w, "bad redirect_uri or client_id", http.StatusBadRequest)
		return
	}
	back := redirect.Query()
	back.Set("state", q.Get("state"))
	p.mu.Lock()
	ready := p.signInKey != nil
	p.mu.Unlock()
	switch {
	case q.Get("response_type") != "code" || q.Get("code_challenge_method") != "S256" || q.Get("code_challenge") == "":
		back.Set("error", "invalid_request")
	case !ready:
		back.Set("error", "access_denied")
	default:
		var b [16]byte
		_, _ = rand.Read(b[:])
		code := base64.RawURLEncoding.EncodeToString(b[:])
		p.mu.Lock()
		p.codes[code] = grant{clientID: q.Get("client_id"), redirectURI: q.Get("redirect_uri"), challenge: q.Get("code_challenge"), nonce: q.Get("nonce")}
		p.mu.Unlock()
		back.Set("code", code)
	}
	redirect.RawQuery = back.Encode()
	http.Redirect(w, r, redirect.String(), http.StatusFound)
}

func (p *Provider) token(t testing.TB, w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil {
		http.Error(w, "bad form", http.StatusBadRequest)
		return
	}
	client := r.PostForm.Get("client_id")
	if id, _, ok := r.BasicAuth(); ok {
		client, _ = url.QueryUnescape(id)
	}
	p.mu.Lock()
	g, ok := p.codes[r.PostForm.Get("code")]
	delete(p.codes, r.PostForm.Get("code"))
	key, claims := p.signInKey, p.signInClaims
	p.mu.Unlock()
	sum := sha256.Sum256([]byte(r.PostForm.Get("code_verifier")))
	if r.PostForm.Get("grant_type") != "authorization_code" || !ok || g.clientID != client || g.redirectURI != r.PostForm.Get("redirect_uri") ||
		base64.RawURLEncoding.EncodeToString(sum[:]) != g.challenge {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusBadRequest)
		_, _ = w.Write([]byte(`{"error":"invalid_grant"}`))
		return
	}
	claims = claims.With("aud", g.clientID)
	if _, set := claims["nonce"]; !set && g.nonce != "" {
		claims = claims.With("nonce", g.nonce)
	}
	writeJSON(t, w, map[string]any{"access_token": "opaque", "token_type": "Bearer", "expires_in": 3600, "id_token": key.Sign(t, claims)})
}

// New starts a provider publishing keys until the test ends. Its issuer is
// its https URL; reach it with Client, which trusts its certificate.
func New(t testing.TB, keys ...*Key) *Provider {
	t.Helper()
	p := &Provider{codes: map[string]grant{}}
	p.SetKeys(keys...)
	mux := http.NewServeMux()
	mux.HandleFunc("GET /.well-known/openid-configuration", func(w http.ResponseWriter, r *http.Request) {
		p.discoveries.Add(1)
		p.mu.Lock()
		down, iss := p.down, p.advertised
		p.mu.Unlock()
		if down {
			http.Error(w, "down for maintenance", http.StatusServiceUnavailable)
			return
		}
		if iss == "" {
			iss = p.Issuer()
		}
		writeJSON(t, w, map[string]any{
			"issuer":                 iss,
			"jwks_uri":               p.Issuer() + "/keys",
			"authorization_endpoint": p.Issuer() + "/authorize",
			"token_endpoint":         p.Issuer() + "/token",
			// Advertising HS256 and none must not make a verifier accept them.
			"id_token_signing_alg_values_supported": []string{"RS256", "ES256", "EdDSA", "HS256", "none"},
		})
	})
	mux.HandleFunc("GET /keys", func(w http.ResponseWriter, r *http.Request) {
		p.keyFetches.Add(1)
		p.mu.Lock()
		down, set := p.down, jose.JSONWebKeySet{Keys: p.keys}
		p.mu.Unlock()
		if down {
			http.Error(w, "down for maintenance", http.StatusServiceUnavailable)
			return
		}
		writeJSON(t, w, set)
	})
	mux.HandleFunc("GET /authorize", p.authorize)
	mux.HandleFunc("POST /token", func(w http.ResponseWriter, r *http.Request) { p.token(t, w, r) })
	p.srv = httptest.NewTLSServer(mux)
	t.Cleanup(p.srv.Close)
	return p
}

func writeJSON(t testing.TB, w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	if err := json.NewEncoder(w).Encode(v); err != nil {
		t.Errorf("oidctest: write response: %v", err)
	}
}

// Issuer is the provider's issuer URL (https, on a loopback address).
func (p *Provider) Issuer() string { return p.srv.URL }

// Client returns an HTTP client that trusts the provider's certificate.
func (p *Provider) Client() *http.Client { return p.srv.Client() }

// SetKeys replaces the published key set: a key rotation. Tokens signed by a
// key no longer published must then be refused.
func (p *Provider) SetKeys(keys ...*Key) {
	jwks := make([]jose.JSONWebKey, 0, len(keys))
	for _, k := range keys {
		jwks = append(jwks, k.jwk())
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.keys = jwks
}

// SetDown makes the provider answer 503 to everything (true) or serve again
// (false).
func (p *Provider) SetDown(down bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.down = down
}

// SetAdvertisedIssuer makes the discovery document name iss as the issuer
// instead of the provider's own URL ("" restores it), as a misconfigured or
// hostile provider would.
func (p *Provider) SetAdvertisedIssuer(iss string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.advertised = iss
}

// Discoveries counts the requests for the discovery document so far.
func (p *Provider) Discoveries() int { return int(p.discoveries.Load()) }

// KeyFetches counts the requests for the key set so far.
func (p *Provider) KeyFetches() int { return int(p.keyFetches.Load()) }

// Claims returns the claims of a token valid at now: issued by p for
// Audience to user "alice" (sub "user-123", email "alice@example.com") in
// groups "ops" and "dev", issued at now and expiring an hour later. Change
// them with Claims.With and Claims.Without.
func (p *Provider) Claims(now time.Time) Claims {
	return Claims{
		"iss":                p.Issuer(),
		"aud":                Audience,
		"sub":                "user-123",
		"preferred_username": "alice",
		"email":              "alice@example.com",
		"groups":             []string{"ops", "dev"},
		"iat":                now.Unix(),
		"exp":                now.Add(time.Hour).Unix(),
	}
}

// Claims is a JWT claims set, marshalled to JSON as is.
type Claims map[string]any

// With returns a copy of c with claim name set to v (nil gives a JSON null).
func (c Claims) With(name string, v any) Claims {
	out := c.clone()
	out[name] = v
	return out
}

// Without returns a copy of c without the named claims.
func (c Claims) Without(names ...string) Claims {
	out := c.clone()
	for _, n := range names {
		delete(out, n)
	}
	return out
}

func (c Claims) clone() Claims {
	out := make(Claims, len(c)+1)
	for k, v := range c {
		out[k] = v
	}
	return out
}
