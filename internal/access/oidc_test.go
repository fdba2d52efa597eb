package access

import (
	"context"
	"crypto/rsa"
	"crypto/x509"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/credflow/credflow/internal/access/oidctest"
	"github.com/credflow/credflow/internal/testclock"
)

// idpNow is the fixed time the verifiers under test believe it is.
var idpNow = time.Unix(1_750_000_000, 0).UTC()

func newTestOIDC(t *testing.T, p *oidctest.Provider, edit func(*OIDCConfig)) (*OIDC, *testclock.Clock) {
	t.Helper()
	cfg := OIDCConfig{Issuer: p.Issuer(), Audience: oidctest.Audience, HTTPClient: p.Client()}
	if edit != nil {
		edit(&cfg)
	}
	o, err := NewOIDC(context.Background(), cfg)
	if err != nil {
		t.Fatalf("NewOIDC: %v", err)
	}
	clock := testclock.New(idpNow)
	o.now = clock.Now
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
	rsaKey, ecKey, edKey := oidctest.NewRSAKey(t, "rsa-1"), oidctest.NewECKey(t, "ec-1"), oidctest.NewEdKey(t, "ed-1")
	stranger := oidctest.NewRSAKey(t, "stranger")
	p := oidctest.New(t, rsaKey, ecKey, edKey)
	claims := p.Claims(idpNow)

	pkcs1DER := x509.MarshalPKCS1PublicKey(rsaKey.Public().(*rsa.PublicKey))

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
			token: func(t *testing.T) string { return rsaKey.Sign(t, claims) }},
		{name: "valid ES256", want: &alice,
			token: func(t *testing.T) string { return ecKey.Sign(t, claims) }},
		{name: "valid EdDSA", want: &alice,
			token: func(t *testing.T) string { return edKey.Sign(t, claims) }},
		{name: "valid without kid", want: &alice,
			token: func(t *testing.T) string { return rsaKey.WithID("").Sign(t, claims) }},
		{name: "audience among several", want: &alice,
			token: func(t *testing.T) string {
				return rsaKey.Sign(t, claims.With("aud", []string{"other", oidctest.Audience}))
			}},
		{name: "expired",
			token: func(t *testing.T) string {
				return rsaKey.Sign(t, claims.With("exp", idpNow.Add(-time.Minute).Unix()))
			}},
		{name: "expired at the leeway's end",
			token: func(t *testing.T) string {
				return rsaKey.Sign(t, claims.With("exp", idpNow.Add(-oidcLeeway).Unix()))
			}},
		{name: "expired within leeway",
			want: oidcPtr(with(func(id *Identity) { id.ExpiresAt = idpNow.Add(-10 * time.Second) })),
			token: func(t *testing.T) string {
				return rsaKey.Sign(t, claims.With("exp", idpNow.Add(-10*time.Second).Unix()))
			}},
		{name: "no exp",
			token: func(t *testing.T) string { return rsaKey.Sign(t, claims.Without("exp")) }},
		{name: "exp not a number",
			token: func(t *testing.T) string { return rsaKey.Sign(t, claims.With("exp", "tomorrow")) }},
		{name: "not yet valid",
			token: func(t *testing.T) string {
				return rsaKey.Sign(t, claims.With("nbf", idpNow.Add(5*time.Minute).Unix()))
			}},
		{name: "nbf within leeway", want: &alice,
			token: func(t *testing.T) string {
				return rsaKey.Sign(t, claims.With("nbf", idpNow.Add(10*time.Second).Unix()))
			}},
		{name: "nbf far beyond range",
			token: func(t *testing.T) string { return rsaKey.Sign(t, claims.With("nbf", 1e300)) }},
		{name: "wrong audience",
			token: func(t *testing.T) string { return rsaKey.Sign(t, claims.With("aud", "someone-else")) }},
		{name: "no audience",
			token: func(t *testing.T) string { return rsaKey.Sign(t, claims.Without("aud")) }},
		{name: "wrong issuer",
			token: func(t *testing.T) string {
				return rsaKey.Sign(t, claims.With("iss", "https://evil.example"))
			}},
		{name: "alg none",
			token: func(t *testing.T) string {
				return oidctest.AlgNone(t, claims)
			}},
		{name: "alg none with a signature",
			token: func(t *testing.T) string {
				return oidctest.Forge(t, map[string]any{"alg": "none", "kid": "rsa-1"}, claims,
					func([]byte) []byte { return []byte("not-a-signature") })
			}},
		{name: "HS256 keyed with the public key PEM",
			token: func(t *testing.T) string {
				return rsaKey.HS256WithPublicKey(t, claims)
			}},
		{name: "HS256 keyed with the public key DER",
			token: func(t *testing.T) string {
				return oidctest.Forge(t, map[string]any{"alg": "HS256", "kid": "rsa-1"}, claims, oidctest.HS256(rsaKey.PublicDER(t)))
			}},
		{name: "HS256 keyed with the PKCS#1 public key DER",
			token: func(t *testing.T) string {
				return oidctest.Forge(t, map[string]any{"alg": "HS256"}, claims, oidctest.HS256(pkcs1DER))
			}},
		{name: "unknown kid",
			token: func(t *testing.T) string { return stranger.Sign(t, claims) }},
		{name: "known kid, other key",
			token: func(t *testing.T) string { return stranger.WithID("rsa-1").Sign(t, claims) }},
		{name: "tampered payload",
			token: func(t *testing.T) string {
				return oidctest.TamperClaims(t, rsaKey.Sign(t, claims), claims.With("preferred_username", "admin"))
			}},
		{name: "tampered signature",
			token: func(t *testing.T) string { return oidctest.TamperSignature(t, rsaKey.Sign(t, claims)) }},
		{name: "no sub",
			token: func(t *testing.T) string { return rsaKey.Sign(t, claims.Without("sub")) }},
		{name: "name falls back to email",
			want: oidcPtr(with(func(id *Identity) { id.Name = "alice@example.com" })),
			token: func(t *testing.T) string {
				return rsaKey.Sign(t, claims.Without("preferred_username"))
			}},
		{name: "name falls back to sub",
			want: oidcPtr(with(func(id *Identity) { id.Name = "user-123" })),
			token: func(t *testing.T) string {
				return rsaKey.Sign(t, claims.Without("preferred_username").With("email", nil))
			}},
		{name: "name claim empty",
			token: func(t *testing.T) string {
				return rsaKey.Sign(t, claims.With("preferred_username", ""))
			}},
		{name: "name claim not a string",
			token: func(t *testing.T) string {
				return rsaKey.Sign(t, claims.With("preferred_username", 42))
			}},
		{name: "custom user and groups claims",
			cfg:  func(c *OIDCConfig) { c.UserClaim, c.GroupsClaim = "upn", "roles" },
			want: oidcPtr(with(func(id *Identity) { id.Name, id.Groups = "alice@corp", []string{"reader"} })),
			token: func(t *testing.T) string {
				return rsaKey.Sign(t, claims.With("upn", "alice@corp").With("roles", []string{"reader"}))
			}},
		{name: "custom user claim missing, no fallback",
			cfg: func(c *OIDCConfig) { c.UserClaim = "upn" },
			token: func(t *testing.T) string {
				return rsaKey.Sign(t, claims)
			}},
		{name: "custom groups claim absent",
			cfg:  func(c *OIDCConfig) { c.GroupsClaim = "roles" },
			want: oidcPtr(with(func(id *Identity) { id.Groups = nil })),
			token: func(t *testing.T) string {
				return rsaKey.Sign(t, claims)
			}},
		{name: "groups as a single string",
			want:  oidcPtr(with(func(id *Identity) { id.Groups = []string{"ops"} })),
			token: func(t *testing.T) string { return rsaKey.Sign(t, claims.With("groups", "ops")) }},
		{name: "groups with repeats and non-strings",
			want: oidcPtr(with(func(id *Identity) { id.Groups = []string{"ops", "dev"} })),
			token: func(t *testing.T) string {
				return rsaKey.Sign(t, claims.With("groups", []any{"ops", 7, "dev", nil, "ops", "", map[string]any{"a": 1}}))
			}},
		{name: "groups null",
			want:  oidcPtr(with(func(id *Identity) { id.Groups = nil })),
			token: func(t *testing.T) string { return rsaKey.Sign(t, claims.With("groups", nil)) }},
		{name: "groups neither string nor array",
			token: func(t *testing.T) string {
				return rsaKey.Sign(t, claims.With("groups", map[string]any{"ops": true}))
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
	oldKey, newKey := oidctest.NewRSAKey(t, "2024"), oidctest.NewECKey(t, "2025")
	p := oidctest.New(t, oldKey)
	o, clock := newTestOIDC(t, p, nil)
	ctx := context.Background()

	oldToken := oldKey.Sign(t, p.Claims(idpNow))
	for range 2 {
		if _, err := o.Verify(ctx, oldToken); err != nil {
			t.Fatalf("Verify before rotation: %v", err)
		}
	}
	if n := p.KeyFetches(); n != 1 {
		t.Fatalf("key set fetched %d times before rotation, want 1 (then cached)", n)
	}

	p.SetKeys(newKey)
	newToken := newKey.Sign(t, p.Claims(idpNow))
	// Within oidcKeyRefetch of the last fetch, an unknown kid is refused
	// without asking the provider again.
	if _, err := o.Verify(ctx, newToken); err == nil {
		t.Fatal("a kid unknown at the last fetch was accepted without a fetch")
	}
	if n := p.KeyFetches(); n != 1 {
		t.Fatalf("key set fetched %d times within the refetch interval, want 1", n)
	}
	clock.Advance(oidcKeyRefetch)
	id, err := o.Verify(ctx, newToken)
	if err != nil {
		t.Fatalf("Verify with the rotated key: %v", err)
	}
	if id.Name != "alice" {
		t.Errorf("name = %q, want alice", id.Name)
	}
	if n := p.KeyFetches(); n != 2 {
		t.Errorf("key set fetched %d times, want one refetch for the unknown kid", n)
	}

	_, err = o.Verify(ctx, oldToken)
	checkRejected(t, Identity{}, err, oldToken)
}

// Tokens no cached key verifies (made-up kids, or a known kid with another
// key) must not make credflow fetch the provider's key set each time.
func TestOIDCForgedTokensDoNotFloodTheProvider(t *testing.T) {
	key := oidctest.NewRSAKey(t, "real")
	p := oidctest.New(t, key)
	o, clock := newTestOIDC(t, p, nil)
	ctx := context.Background()
	if _, err := o.Verify(ctx, key.Sign(t, p.Claims(idpNow))); err != nil {
		t.Fatalf("valid token: %v", err)
	}
	const n = 40
	raws := make([]string, n)
	for i := range raws {
		forger := oidctest.NewECKey(t, fmt.Sprintf("made-up-%d", i))
		if i%2 == 0 {
			forger = forger.WithID("real") // the real kid, another key
		}
		raws[i] = forger.Sign(t, p.Claims(idpNow))
	}
	ids, errs := make([]Identity, n), make([]error, n)
	var wg sync.WaitGroup
	for i := range raws {
		wg.Add(1)
		go func() { defer wg.Done(); ids[i], errs[i] = o.Verify(ctx, raws[i]) }()
	}
	wg.Wait()
	for i := range raws {
		checkRejected(t, ids[i], errs[i], raws[i])
	}
	if n := p.KeyFetches(); n != 1 {
		t.Fatalf("key set fetched %d times for 40 forged tokens, want 1 (the first valid token's)", n)
	}
	// After the interval, one forged token may cause one fetch, no more.
	clock.Advance(oidcKeyRefetch)
	for i := range 5 {
		raw := oidctest.NewECKey(t, fmt.Sprintf("later-%d", i)).Sign(t, p.Claims(idpNow))
		_, err := o.Verify(ctx, raw)
		checkRejected(t, Identity{}, err, raw)
	}
	if n := p.KeyFetches(); n != 2 {
		t.Fatalf("key set fetched %d times, want 2", n)
	}
	// Valid tokens go on working from the cached keys.
	if _, err := o.Verify(ctx, key.Sign(t, p.Claims(idpNow))); err != nil {
		t.Fatalf("valid token after the flood: %v", err)
	}
}

func TestOIDCProviderDownAtStart(t *testing.T) {
	key := oidctest.NewRSAKey(t, "k")
	p := oidctest.New(t, key)
	p.SetDown(true)
	o, clock := newTestOIDC(t, p, nil) // must not need the provider
	ctx := context.Background()
	raw := key.Sign(t, p.Claims(idpNow))

	_, err := o.Verify(ctx, raw)
	checkRejected(t, Identity{}, err, raw)
	if !strings.Contains(err.Error(), "503") {
		t.Errorf("err = %v, want the discovery failure in its text", err)
	}

	p.SetDown(false)
	_, err = o.Verify(ctx, raw)
	checkRejected(t, Identity{}, err, raw)
	if n := p.Discoveries(); n != 1 {
		t.Errorf("discovery tried %d times, want 1: a failure is remembered for %s", n, oidcRetryAfter)
	}

	clock.Advance(oidcRetryAfter)
	id, err := o.Verify(ctx, raw)
	if err != nil {
		t.Fatalf("Verify once the provider is up: %v", err)
	}
	if id.Subject != "user-123" {
		t.Errorf("subject = %q, want user-123", id.Subject)
	}
}

func TestOIDCCallerCancelIsNotAProviderFailure(t *testing.T) {
	key := oidctest.NewRSAKey(t, "k")
	p := oidctest.New(t, key)
	o, _ := newTestOIDC(t, p, nil)
	raw := key.Sign(t, p.Claims(idpNow))

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := o.Verify(ctx, raw)
	checkRejected(t, Identity{}, err, raw)

	if _, err := o.Verify(context.Background(), raw); err != nil {
		t.Fatalf("Verify after a cancelled call: %v", err)
	}
}

func TestOIDCDiscoveryIssuerMismatch(t *testing.T) {
	key := oidctest.NewRSAKey(t, "k")
	p := oidctest.New(t, key)
	p.SetAdvertisedIssuer("https://evil.example")
	o, _ := newTestOIDC(t, p, nil)
	raw := key.Sign(t, p.Claims(idpNow))

	_, err := o.Verify(context.Background(), raw)
	checkRejected(t, Identity{}, err, raw)
}

func TestOIDCConcurrentFirstUse(t *testing.T) {
	key := oidctest.NewECKey(t, "k")
	p := oidctest.New(t, key)
	o, _ := newTestOIDC(t, p, nil)
	raw := key.Sign(t, p.Claims(idpNow))

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
	if n := p.Discoveries(); n != 1 {
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
