// Package oidctest is a fake OpenID Connect provider for tests only: an
// httptest TLS server that serves a discovery document and a key set the
// test controls (keys can be rotated, the provider taken down and brought
// back), with helpers that mint tokens, both valid ones and the forgeries a
// verifier must refuse.
//
// It speaks only the parts of OpenID Connect a bearer-token verifier uses:
// discovery and the JWKS. It has no authorization endpoint and issues no
// tokens over HTTP; tests sign them directly with a Key.
package oidctest

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
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
}

// New starts a provider publishing keys until the test ends. Its issuer is
// its https URL; reach it with Client, which trusts its certificate.
func New(t testing.TB, keys ...*Key) *Provider {
	t.Helper()
	p := &Provider{}
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
			"issuer":   iss,
			"jwks_uri": p.Issuer() + "/keys",
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
