package access

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/hmac"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"
)

const idpAudience = "credflow"

// idpNow is the fixed time the verifiers under test believe it is.
var idpNow = time.Unix(1_750_000_000, 0).UTC()

// testIdP is a minimal OpenID Connect provider: a discovery document and a
// key set that the test can swap, and a switch that makes it answer 503.
type testIdP struct {
	srv    *httptest.Server
	issuer string

	mu               sync.Mutex
	keys             []jose.JSONWebKey
	down             bool
	discoveredIssuer string // "" means issuer

	discoveries atomic.Int32
	keyFetches  atomic.Int32
}

func newTestIdP(t *testing.T, keys ...idpKey) *testIdP {
	t.Helper()
	p := &testIdP{}
	p.setKeys(keys...)
	mux := http.NewServeMux()
	mux.HandleFunc("GET /.well-known/openid-configuration", func(w http.ResponseWriter, r *http.Request) {
		p.discoveries.Add(1)
		p.mu.Lock()
		down, iss := p.down, p.discoveredIssuer
		p.mu.Unlock()
		if down {
			http.Error(w, "down for maintenance", http.StatusServiceUnavailable)
			return
		}
		if iss == "" {
			iss = p.issuer
		}
		idpWriteJSON(t, w, map[string]any{
			"issuer":   iss,
			"jwks_uri": p.issuer + "/keys",
			// Advertising HS256 and none must not make the verifier accept them.
			"id_token_signing_alg_values_supported": []string{"RS256", "ES256", "EdDSA", "HS256", "none"},
		})
	})
	mux.HandleFunc("GET /keys", func(w http.ResponseWriter, r *http.Request) {
		p.keyFetches.Add(1)
		p.mu.Lock()
		set := jose.JSONWebKeySet{Keys: p.keys}
		p.mu.Unlock()
		idpWriteJSON(t, w, set)
	})
	p.srv = httptest.NewTLSServer(mux)
	t.Cleanup(p.srv.Close)
	p.issuer = p.srv.URL
	return p
}

func idpWriteJSON(t *testing.T, w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	if err := json.NewEncoder(w).Encode(v); err != nil {
		t.Errorf("idp: write response: %v", err)
	}
}

func (p *testIdP) setKeys(keys ...idpKey) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.keys = nil
	for _, k := range keys {
		p.keys = append(p.keys, k.public())
	}
}

func (p *testIdP) setDown(down bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.down = down
}

// claims returns valid claims for p, changed by edits.
func (p *testIdP) claims(edits ...func(map[string]any)) map[string]any {
	c := map[string]any{
		"iss":                p.issuer,
		"aud":                idpAudience,
		"sub":                "user-123",
		"preferred_username": "alice",
		"email":              "alice@example.com",
		"groups":             []string{"ops", "dev"},
		"iat":                idpNow.Unix(),
		"exp":                idpNow.Add(time.Hour).Unix(),
	}
	for _, e := range edits {
		e(c)
	}
	return c
}

func withClaim(k string, v any) func(map[string]any) { return func(c map[string]any) { c[k] = v } }
func withoutClaim(k string) func(map[string]any)     { return func(c map[string]any) { delete(c, k) } }

// idpKey is a signing key with its key id.
type idpKey struct {
	kid  string
	alg  jose.SignatureAlgorithm
	priv crypto.Signer
}

func newIdPRSAKey(t *testing.T, kid string) idpKey {
	t.Helper()
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	return idpKey{kid: kid, alg: jose.RS256, priv: k}
}

func newIdPECKey(t *testing.T, kid string) idpKey {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return idpKey{kid: kid, alg: jose.ES256, priv: k}
}

func newIdPEdKey(t *testing.T, kid string) idpKey {
	t.Helper()
	_, k, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return idpKey{kid: kid, alg: jose.EdDSA, priv: k}
}

func (k idpKey) public() jose.JSONWebKey {
	return jose.JSONWebKey{Key: k.priv.Public(), KeyID: k.kid, Algorithm: string(k.alg), Use: "sig"}
}

// sign returns a compact JWS of claims; kid "" leaves the header's kid out.
func (k idpKey) sign(t *testing.T, kid string, claims map[string]any) string {
	t.Helper()
	payload, err := json.Marshal(claims)
	if err != nil {
		t.Fatal(err)
	}
	opts := (&jose.SignerOptions{}).WithType("JWT")
	if kid != "" {
		opts = opts.WithHeader("kid", kid)
	}
	s, err := jose.NewSigner(jose.SigningKey{Algorithm: k.alg, Key: k.priv}, opts)
	if err != nil {
		t.Fatal(err)
	}
	jws, err := s.Sign(payload)
	if err != nil {
		t.Fatal(err)
	}
	raw, err := jws.CompactSerialize()
	if err != nil {
		t.Fatal(err)
	}
	return raw
}

// handBuiltJWT returns header.payload.signature with the signature made by
// sign over the signing input (nil: empty signature).
func handBuiltJWT(t *testing.T, header, claims map[string]any, sign func(input []byte) []byte) string {
	t.Helper()
	h, err := json.Marshal(header)
	if err != nil {
		t.Fatal(err)
	}
	c, err := json.Marshal(claims)
	if err != nil {
		t.Fatal(err)
	}
	b64 := base64.RawURLEncoding
	input := b64.EncodeToString(h) + "." + b64.EncodeToString(c)
	var sig []byte
	if sign != nil {
		sig = sign([]byte(input))
	}
	return input + "." + b64.EncodeToString(sig)
}

func hs256With(key []byte) func([]byte) []byte {
	return func(input []byte) []byte {
		m := hmac.New(sha256.New, key)
		m.Write(input)
		return m.Sum(nil)
	}
}

// oidcClock is a settable clock for the verifier.
type oidcClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *oidcClock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *oidcClock) advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

func newTestOIDC(t *testing.T, p *testIdP, edit func(*OIDCConfig)) (*OIDC, *oidcClock) {
	t.Helper()
	cfg := OIDCConfig{Issuer: p.issuer, Audience: idpAudience, HTTPClient: p.srv.Client()}
	if edit != nil {
		edit(&cfg)
	}
	o, err := NewOIDC(context.Background(), cfg)
	if err != nil {
		t.Fatalf("NewOIDC: %v", err)
	}
	clock := &oidcClock{t: idpNow}
	o.now = clock.now
	return o, clock
}

// checkRejected asserts that err is a 401 and that its text leaks no part of
// the token.
func checkRejected(t *testing.T, id Identity, err error, raw string) {
	t.Helper()
	if !errors.Is(err, ErrUnauthenticated) {
		t.Fatalf("err = %v, want one wrapping ErrUnauthenticated", err)
	}
	if !reflect.DeepEqual(id, Identity{}) {
		t.Errorf("identity = %+v, want zero", id)
	}
	for _, seg := range strings.Split(raw, ".") {
		if len(seg) >= 8 && strings.Contains(err.Error(), seg) {
			t.Errorf("error text %q contains part of the token", err)
		}
	}
}

func TestOIDCVerify(t *testing.T) {
	rsaKey, ecKey, edKey := newIdPRSAKey(t, "rsa-1"), newIdPECKey(t, "ec-1"), newIdPEdKey(t, "ed-1")
	stranger := newIdPRSAKey(t, "stranger")
	p := newTestIdP(t, rsaKey, ecKey, edKey)

	pubDER, err := x509.MarshalPKIXPublicKey(rsaKey.priv.Public())
	if err != nil {
		t.Fatal(err)
	}
	pubPEM := pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pubDER})
	pkcs1DER := x509.MarshalPKCS1PublicKey(rsaKey.priv.Public().(*rsa.PublicKey))

	exp := idpNow.Add(time.Hour)
	alice := Identity{Subject: "user-123", Name: "alice", Groups: []string{"ops", "dev"}, ExpiresAt: exp}
	with := func(edit func(*Identity)) Identity {
		id := alice
		edit(&id)
		return id
	}

	tests := []struct {
		name  string
		cfg   func(*OIDCConfig)
		token func(t *testing.T) string
		want  *Identity // nil: rejected
	}{
		{name: "valid RS256", want: &alice,
			token: func(t *testing.T) string { return rsaKey.sign(t, "rsa-1", p.claims()) }},
		{name: "valid ES256", want: &alice,
			token: func(t *testing.T) string { return ecKey.sign(t, "ec-1", p.claims()) }},
		{name: "valid EdDSA", want: &alice,
			token: func(t *testing.T) string { return edKey.sign(t, "ed-1", p.claims()) }},
		{name: "valid without kid", want: &alice,
			token: func(t *testing.T) string { return rsaKey.sign(t, "", p.claims()) }},
		{name: "audience among several", want: &alice,
			token: func(t *testing.T) string {
				return rsaKey.sign(t, "rsa-1", p.claims(withClaim("aud", []string{"other", idpAudience})))
			}},
		{name: "expired",
			token: func(t *testing.T) string {
				return rsaKey.sign(t, "rsa-1", p.claims(withClaim("exp", idpNow.Add(-time.Minute).Unix())))
			}},
		{name: "expired at the leeway's end",
			token: func(t *testing.T) string {
				return rsaKey.sign(t, "rsa-1", p.claims(withClaim("exp", idpNow.Add(-oidcLeeway).Unix())))
			}},
		{name: "expired within leeway",
			want: oidcPtr(with(func(id *Identity) { id.ExpiresAt = idpNow.Add(-10 * time.Second) })),
			token: func(t *testing.T) string {
				return rsaKey.sign(t, "rsa-1", p.claims(withClaim("exp", idpNow.Add(-10*time.Second).Unix())))
			}},
		{name: "no exp",
			token: func(t *testing.T) string { return rsaKey.sign(t, "rsa-1", p.claims(withoutClaim("exp"))) }},
		{name: "exp not a number",
			token: func(t *testing.T) string { return rsaKey.sign(t, "rsa-1", p.claims(withClaim("exp", "tomorrow"))) }},
		{name: "not yet valid",
			token: func(t *testing.T) string {
				return rsaKey.sign(t, "rsa-1", p.claims(withClaim("nbf", idpNow.Add(5*time.Minute).Unix())))
			}},
		{name: "nbf within leeway", want: &alice,
			token: func(t *testing.T) string {
				return rsaKey.sign(t, "rsa-1", p.claims(withClaim("nbf", idpNow.Add(10*time.Second).Unix())))
			}},
		{name: "nbf far beyond range",
			token: func(t *testing.T) string { return rsaKey.sign(t, "rsa-1", p.claims(withClaim("nbf", 1e300))) }},
		{name: "wrong audience",
			token: func(t *testing.T) string { return rsaKey.sign(t, "rsa-1", p.claims(withClaim("aud", "someone-else"))) }},
		{name: "no audience",
			token: func(t *testing.T) string { return rsaKey.sign(t, "rsa-1", p.claims(withoutClaim("aud"))) }},
		{name: "wrong issuer",
			token: func(t *testing.T) string {
				return rsaKey.sign(t, "rsa-1", p.claims(withClaim("iss", "https://evil.example")))
			}},
		{name: "alg none",
			token: func(t *testing.T) string {
				return handBuiltJWT(t, map[string]any{"alg": "none", "typ": "JWT"}, p.claims(), nil)
			}},
		{name: "alg none with a signature",
			token: func(t *testing.T) string {
				return handBuiltJWT(t, map[string]any{"alg": "none", "kid": "rsa-1"}, p.claims(),
					func([]byte) []byte { return []byte("not-a-signature") })
			}},
		{name: "HS256 keyed with the public key PEM",
			token: func(t *testing.T) string {
				return handBuiltJWT(t, map[string]any{"alg": "HS256", "kid": "rsa-1"}, p.claims(), hs256With(pubPEM))
			}},
		{name: "HS256 keyed with the public key DER",
			token: func(t *testing.T) string {
				return handBuiltJWT(t, map[string]any{"alg": "HS256", "kid": "rsa-1"}, p.claims(), hs256With(pubDER))
			}},
		{name: "HS256 keyed with the PKCS#1 public key DER",
			token: func(t *testing.T) string {
				return handBuiltJWT(t, map[string]any{"alg": "HS256"}, p.claims(), hs256With(pkcs1DER))
			}},
		{name: "unknown kid",
			token: func(t *testing.T) string { return stranger.sign(t, "stranger", p.claims()) }},
		{name: "known kid, other key",
			token: func(t *testing.T) string { return stranger.sign(t, "rsa-1", p.claims()) }},
		{name: "tampered payload",
			token: func(t *testing.T) string {
				good := strings.Split(rsaKey.sign(t, "rsa-1", p.claims()), ".")
				forged, err := json.Marshal(p.claims(withClaim("preferred_username", "admin")))
				if err != nil {
					t.Fatal(err)
				}
				return good[0] + "." + base64.RawURLEncoding.EncodeToString(forged) + "." + good[2]
			}},
		{name: "no sub",
			token: func(t *testing.T) string { return rsaKey.sign(t, "rsa-1", p.claims(withoutClaim("sub"))) }},
		{name: "name falls back to email",
			want: oidcPtr(with(func(id *Identity) { id.Name = "alice@example.com" })),
			token: func(t *testing.T) string {
				return rsaKey.sign(t, "rsa-1", p.claims(withoutClaim("preferred_username")))
			}},
		{name: "name falls back to sub",
			want: oidcPtr(with(func(id *Identity) { id.Name = "user-123" })),
			token: func(t *testing.T) string {
				return rsaKey.sign(t, "rsa-1", p.claims(withoutClaim("preferred_username"), withClaim("email", nil)))
			}},
		{name: "name claim empty",
			token: func(t *testing.T) string {
				return rsaKey.sign(t, "rsa-1", p.claims(withClaim("preferred_username", "")))
			}},
		{name: "name claim not a string",
			token: func(t *testing.T) string {
				return rsaKey.sign(t, "rsa-1", p.claims(withClaim("preferred_username", 42)))
			}},
		{name: "custom user and groups claims",
			cfg:  func(c *OIDCConfig) { c.UserClaim, c.GroupsClaim = "upn", "roles" },
			want: oidcPtr(with(func(id *Identity) { id.Name, id.Groups = "alice@corp", []string{"reader"} })),
			token: func(t *testing.T) string {
				return rsaKey.sign(t, "rsa-1", p.claims(withClaim("upn", "alice@corp"), withClaim("roles", []string{"reader"})))
			}},
		{name: "custom user claim missing, no fallback",
			cfg: func(c *OIDCConfig) { c.UserClaim = "upn" },
			token: func(t *testing.T) string {
				return rsaKey.sign(t, "rsa-1", p.claims())
			}},
		{name: "custom groups claim absent",
			cfg:  func(c *OIDCConfig) { c.GroupsClaim = "roles" },
			want: oidcPtr(with(func(id *Identity) { id.Groups = nil })),
			token: func(t *testing.T) string {
				return rsaKey.sign(t, "rsa-1", p.claims())
			}},
		{name: "groups as a single string",
			want:  oidcPtr(with(func(id *Identity) { id.Groups = []string{"ops"} })),
			token: func(t *testing.T) string { return rsaKey.sign(t, "rsa-1", p.claims(withClaim("groups", "ops"))) }},
		{name: "groups with repeats and non-strings",
			want: oidcPtr(with(func(id *Identity) { id.Groups = []string{"ops", "dev"} })),
			token: func(t *testing.T) string {
				return rsaKey.sign(t, "rsa-1", p.claims(withClaim("groups", []any{"ops", 7, "dev", nil, "ops", "", map[string]any{"a": 1}})))
			}},
		{name: "groups null",
			want:  oidcPtr(with(func(id *Identity) { id.Groups = nil })),
			token: func(t *testing.T) string { return rsaKey.sign(t, "rsa-1", p.claims(withClaim("groups", nil))) }},
		{name: "groups neither string nor array",
			token: func(t *testing.T) string {
				return rsaKey.sign(t, "rsa-1", p.claims(withClaim("groups", map[string]any{"ops": true})))
			}},
		{name: "empty", token: func(*testing.T) string { return "" }},
		{name: "garbage", token: func(*testing.T) string { return "garbage-garbage-garbage" }},
		{name: "three dots of garbage", token: func(*testing.T) string { return "not!base64.at~all.really?" }},
		{name: "base64 but not JSON", token: func(*testing.T) string { return "Zm9vYmFyYmF6.Zm9vYmFyYmF6.Zm9vYmFyYmF6" }},
		{name: "API token", token: func(*testing.T) string { return "cft_" + strings.Repeat("a", 32) + "_" + strings.Repeat("b", 43) }},
		{name: "oversized", token: func(*testing.T) string {
			return strings.Repeat("a", oidcMaxTokenLen) + ".b.c"
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o, _ := newTestOIDC(t, p, tt.cfg)
			raw := tt.token(t)
			id, err := o.Verify(context.Background(), raw)
			if tt.want == nil {
				checkRejected(t, id, err, raw)
				t.Logf("rejected: %v", err)
				return
			}
			if err != nil {
				t.Fatalf("Verify: %v", err)
			}
			if !reflect.DeepEqual(id, *tt.want) {
				t.Errorf("identity = %+v, want %+v", id, *tt.want)
			}
		})
	}
}

func oidcPtr[T any](v T) *T { return &v }

func TestOIDCKeyRotation(t *testing.T) {
	oldKey, newKey := newIdPRSAKey(t, "2024"), newIdPECKey(t, "2025")
	p := newTestIdP(t, oldKey)
	o, _ := newTestOIDC(t, p, nil)
	ctx := context.Background()

	oldToken := oldKey.sign(t, "2024", p.claims())
	for range 2 {
		if _, err := o.Verify(ctx, oldToken); err != nil {
			t.Fatalf("Verify before rotation: %v", err)
		}
	}
	if n := p.keyFetches.Load(); n != 1 {
		t.Fatalf("key set fetched %d times before rotation, want 1 (then cached)", n)
	}

	p.setKeys(newKey)
	newToken := newKey.sign(t, "2025", p.claims())
	// go-oidc hands out a fetch's keys a moment before it forgets the fetch,
	// and a refetch asked for in that moment gets the same keys: a token with
	// a new kid can then fail once, so allow a few tries.
	var id Identity
	var err error
	for range 50 {
		if id, err = o.Verify(ctx, newToken); err == nil {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err != nil {
		t.Fatalf("Verify with the rotated key: %v", err)
	}
	if id.Name != "alice" {
		t.Errorf("name = %q, want alice", id.Name)
	}
	if n := p.keyFetches.Load(); n < 2 {
		t.Errorf("key set fetched %d times, want a refetch for the unknown kid", n)
	}

	_, err = o.Verify(ctx, oldToken)
	checkRejected(t, Identity{}, err, oldToken)
}

func TestOIDCProviderDownAtStart(t *testing.T) {
	key := newIdPRSAKey(t, "k")
	p := newTestIdP(t, key)
	p.setDown(true)
	o, clock := newTestOIDC(t, p, nil) // must not need the provider
	ctx := context.Background()
	raw := key.sign(t, "k", p.claims())

	_, err := o.Verify(ctx, raw)
	checkRejected(t, Identity{}, err, raw)
	if !strings.Contains(err.Error(), "503") {
		t.Errorf("err = %v, want the discovery failure in its text", err)
	}

	p.setDown(false)
	_, err = o.Verify(ctx, raw)
	checkRejected(t, Identity{}, err, raw)
	if n := p.discoveries.Load(); n != 1 {
		t.Errorf("discovery tried %d times, want 1: a failure is remembered for %s", n, oidcRetryAfter)
	}

	clock.advance(oidcRetryAfter)
	id, err := o.Verify(ctx, raw)
	if err != nil {
		t.Fatalf("Verify once the provider is up: %v", err)
	}
	if id.Subject != "user-123" {
		t.Errorf("subject = %q, want user-123", id.Subject)
	}
}

func TestOIDCCallerCancelIsNotAProviderFailure(t *testing.T) {
	key := newIdPRSAKey(t, "k")
	p := newTestIdP(t, key)
	o, _ := newTestOIDC(t, p, nil)
	raw := key.sign(t, "k", p.claims())

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := o.Verify(ctx, raw)
	checkRejected(t, Identity{}, err, raw)

	if _, err := o.Verify(context.Background(), raw); err != nil {
		t.Fatalf("Verify after a cancelled call: %v", err)
	}
}

func TestOIDCDiscoveryIssuerMismatch(t *testing.T) {
	key := newIdPRSAKey(t, "k")
	p := newTestIdP(t, key)
	p.discoveredIssuer = "https://evil.example"
	o, _ := newTestOIDC(t, p, nil)
	raw := key.sign(t, "k", p.claims())

	_, err := o.Verify(context.Background(), raw)
	checkRejected(t, Identity{}, err, raw)
}

func TestOIDCConcurrentFirstUse(t *testing.T) {
	key := newIdPECKey(t, "k")
	p := newTestIdP(t, key)
	o, _ := newTestOIDC(t, p, nil)
	raw := key.sign(t, "k", p.claims())

	var wg sync.WaitGroup
	errs := make(chan error, 16)
	for range cap(errs) {
		wg.Go(func() {
			_, err := o.Verify(context.Background(), raw)
			errs <- err
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Errorf("Verify: %v", err)
		}
	}
	if n := p.discoveries.Load(); n != 1 {
		t.Errorf("discovery ran %d times, want 1", n)
	}
}

func TestNewOIDCConfig(t *testing.T) {
	tests := []struct {
		name     string
		issuer   string
		audience string
		ok       bool
	}{
		{"https", "https://idp.example.com/realms/main", "credflow", true},
		{"http on 127.0.0.1", "http://127.0.0.1:8080", "credflow", true},
		{"http on localhost", "http://localhost:8080/realms/dev", "credflow", true},
		{"http on ::1", "http://[::1]:8080", "credflow", true},
		{"empty issuer", "", "credflow", false},
		{"http elsewhere", "http://idp.example.com", "credflow", false},
		{"http on a public IP", "http://192.0.2.10", "credflow", false},
		{"other scheme", "ftp://idp.example.com", "credflow", false},
		{"no scheme", "idp.example.com", "credflow", false},
		{"no host", "https:///realms/main", "credflow", false},
		{"query", "https://idp.example.com?tenant=a", "credflow", false},
		{"fragment", "https://idp.example.com#x", "credflow", false},
		{"user info", "https://user:pass@idp.example.com", "credflow", false},
		{"empty audience", "https://idp.example.com", "", false},
		{"blank audience", "https://idp.example.com", "  ", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o, err := NewOIDC(context.Background(), OIDCConfig{Issuer: tt.issuer, Audience: tt.audience})
			if tt.ok && (err != nil || o == nil) {
				t.Fatalf("NewOIDC: %v, want success", err)
			}
			if !tt.ok && (err == nil || o != nil) {
				t.Fatalf("NewOIDC = %v, %v; want an error", o, err)
			}
		})
	}
}

func TestLooksLikeJWT(t *testing.T) {
	tests := []struct {
		in   string
		want bool
	}{
		{"eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ4In0.c2lnbmF0dXJl", true},
		{"aGVs-_.bG8.d29ybGQ", true},
		{"", false},
		{"a.b", false},
		{"a.b.c.d", false},
		{"eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0.", false}, // unsigned
		{"eyJ=.eyJ.sig", false},
		{"eyJ+.eyJ/.sig", false},
		{"eyJ .eyJ.sig", false},
		{"abcde.eyJ.sig", false}, // 5 characters cannot be base64
		{"cft_" + strings.Repeat("a", 32) + "_" + strings.Repeat("b", 43), false},
		{"cft_a.b.c", false},
	}
	for _, tt := range tests {
		if got := LooksLikeJWT(tt.in); got != tt.want {
			t.Errorf("LooksLikeJWT(%q) = %v, want %v", tt.in, got, tt.want)
		}
	}
}
