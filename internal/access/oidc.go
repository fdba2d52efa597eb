package access

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync/atomic"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
)

// OIDCConfig configures trust in one OpenID Connect issuer.
type OIDCConfig struct {
	// Issuer is the issuer URL, compared byte for byte with the discovery
	// document's issuer and with each token's iss. It must be https; http is
	// allowed only for loopback hosts (tests and development).
	Issuer string
	// Audience is required: a token's aud must contain it.
	Audience string
	// UserClaim holds the credflow user name. Empty means
	// "preferred_username", falling back to "email" and then "sub" when the
	// claim before is absent. A claim named here explicitly has no fallback.
	UserClaim string
	// GroupsClaim holds group names, as an array of strings or one string.
	// Empty means "groups". An absent claim means no groups.
	GroupsClaim string
	// HTTPClient fetches the discovery document and the key set. Nil means a
	// client with a 10 s timeout; a client given here should have a timeout
	// too, since key-set fetches are not tied to any request.
	HTTPClient *http.Client
}

// Identity is what a verified token says about its bearer.
type Identity struct {
	Subject   string
	Name      string
	Groups    []string // nil when the token names none
	ExpiresAt time.Time
	// Nonce is the token's nonce claim ("" when absent): a browser's
	// sign-in checks it against the one it sent.
	Nonce string
}

// OIDC verifies bearer JWTs issued by one OpenID Connect provider. It is
// safe for concurrent use.
type OIDC struct {
	cfg        OIDCConfig
	userClaims []string // tried in order; the first present one is used
	now        func() time.Time

	verifier atomic.Pointer[oidc.IDTokenVerifier] // set once discovery succeeds
	// flow holds the endpoints of the authorization code flow, set with
	// verifier.
	flow atomic.Pointer[OIDCFlow]

	// discovering holds a single slot: whoever holds it may run discovery
	// and read or write failedAt and failure.
	discovering chan struct{}
	failedAt    time.Time
	failure     error
}

const (
	// oidcLeeway is the clock skew tolerated on exp and nbf. go-oidc's own
	// checks are off (it allows no skew on exp and five minutes on nbf) so
	// that both bounds get the same tolerance.
	oidcLeeway = 30 * time.Second
	// oidcRetryAfter is how long a failed discovery is remembered: requests in
	// that window fail at once instead of each calling a provider that is down.
	oidcRetryAfter = 5 * time.Second
	// oidcTimeout bounds discovery, and the key-set fetches of the default
	// HTTP client.
	oidcTimeout = 10 * time.Second
	// oidcMaxTokenLen bounds the bearer value handed to the JWT parser.
	oidcMaxTokenLen = 16 << 10
)

// oidcSigningAlgs are the only algorithms accepted: asymmetric ones, so that
// neither "none" nor an HMAC keyed with the provider's public key can pass.
// Set explicitly because go-oidc otherwise takes what the discovery document
// advertises.
var oidcSigningAlgs = []string{
	oidc.RS256, oidc.RS384, oidc.RS512,
	oidc.PS256, oidc.PS384, oidc.PS512,
	oidc.ES256, oidc.ES384, oidc.ES512,
	oidc.EdDSA,
}

// NewOIDC checks cfg and returns a verifier for its issuer. It does not
// contact the issuer: discovery runs on the first Verify and is retried on a
// later one if it fails, so that the server starts while the identity
// provider is down. ctx is unused for that reason; it is accepted so that
// callers need not change if start-up discovery is ever added.
func NewOIDC(ctx context.Context, cfg OIDCConfig) (*OIDC, error) {
	if err := checkOIDCIssuer(cfg.Issuer); err != nil {
		return nil, fmt.Errorf("oidc config: issuer: %w", err)
	}
	if strings.TrimSpace(cfg.Audience) == "" {
		return nil, errors.New("oidc config: audience is required")
	}
	userClaims := []string{cfg.UserClaim}
	if cfg.UserClaim == "" {
		userClaims = []string{"preferred_username", "email", "sub"}
	}
	if cfg.GroupsClaim == "" {
		cfg.GroupsClaim = "groups"
	}
	if cfg.HTTPClient == nil {
		cfg.HTTPClient = &http.Client{Timeout: oidcTimeout}
	}
	return &OIDC{
		cfg:         cfg,
		userClaims:  userClaims,
		now:         time.Now,
		discovering: make(chan struct{}, 1),
	}, nil
}

func checkOIDCIssuer(issuer string) error {
	if issuer == "" {
		return errors.New("required")
	}
	u, err := url.Parse(issuer)
	if err != nil {
		return err
	}
	switch {
	case u.Host == "" || u.Hostname() == "":
		return fmt.Errorf("%q has no host", issuer)
	case u.User != nil || u.RawQuery != "" || u.ForceQuery || u.Fragment != "":
		return fmt.Errorf("%q must not have user info, a query or a fragment", issuer)
	case u.Scheme == "https":
		return nil
	case u.Scheme == "http" && isLoopbackHost(u.Hostname()):
		return nil
	default:
		return fmt.Errorf("%q must be https (http only for loopback hosts)", issuer)
	}
}

func isLoopbackHost(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// Verify checks rawJWT's signature against the issuer's published keys, its
// iss, aud, exp and nbf (both with 30 s of leeway), and returns who it names.
// Every failure wraps ErrUnauthenticated; the error text gives the reason
// for the server log and never contains the token.
func (o *OIDC) Verify(ctx context.Context, rawJWT string) (Identity, error) {
	id, err := o.verify(ctx, rawJWT)
	if err != nil {
		return Identity{}, fmt.Errorf("verify oidc token: %w: %w", err, ErrUnauthenticated)
	}
	return id, nil
}

func (o *OIDC) verify(ctx context.Context, raw string) (Identity, error) {
	if len(raw) > oidcMaxTokenLen {
		return Identity{}, fmt.Errorf("token longer than %d bytes", oidcMaxTokenLen)
	}
	if !LooksLikeJWT(raw) {
		return Identity{}, errors.New("not a JWT")
	}
	v, err := o.idTokenVerifier(ctx)
	if err != nil {
		return Identity{}, err
	}
	tok, err := v.Verify(ctx, raw) // signature, alg, iss, aud
	if err != nil {
		return Identity{}, err
	}
	var claims map[string]json.RawMessage
	if err := tok.Claims(&claims); err != nil {
		return Identity{}, fmt.Errorf("decode claims: %w", err)
	}

	now := o.now()
	exp, ok, err := claimNumericDate(claims, "exp")
	if err != nil {
		return Identity{}, err
	}
	if !ok {
		return Identity{}, errors.New("token has no exp")
	}
	if !now.Before(exp.Add(oidcLeeway)) {
		return Identity{}, fmt.Errorf("token expired at %s", exp.Format(time.RFC3339))
	}
	nbf, ok, err := claimNumericDate(claims, "nbf")
	if err != nil {
		return Identity{}, err
	}
	if ok && now.Add(oidcLeeway).Before(nbf) {
		return Identity{}, fmt.Errorf("token not valid before %s", nbf.Format(time.RFC3339))
	}

	sub, ok, err := claimString(claims, "sub")
	if err != nil {
		return Identity{}, err
	}
	if !ok || sub == "" {
		return Identity{}, errors.New("token has no sub")
	}
	name, err := o.userName(claims)
	if err != nil {
		return Identity{}, err
	}
	groups, err := claimGroups(claims, o.cfg.GroupsClaim)
	if err != nil {
		return Identity{}, err
	}
	nonce, _, err := claimString(claims, "nonce")
	if err != nil {
		return Identity{}, err
	}
	return Identity{Subject: sub, Name: name, Groups: groups, ExpiresAt: exp, Nonce: nonce}, nil
}

// OIDCFlow is what a browser's sign-in with the authorization code flow
// needs of the issuer: its endpoints, the client id (the audience ID
// tokens are issued for) and the HTTP client that reaches it.
type OIDCFlow struct {
	AuthURL, TokenURL string
	ClientID          string
	HTTPClient        *http.Client
}

// Flow returns the issuer's authorization code flow, running discovery
// first if no earlier call succeeded.
func (o *OIDC) Flow(ctx context.Context) (OIDCFlow, error) {
	if _, err := o.idTokenVerifier(ctx); err != nil {
		return OIDCFlow{}, err
	}
	f := o.flow.Load()
	if f == nil || f.AuthURL == "" || f.TokenURL == "" {
		return OIDCFlow{}, fmt.Errorf("the discovery document of %s names no authorization_endpoint or token_endpoint", o.cfg.Issuer)
	}
	return *f, nil
}

// idTokenVerifier returns the verifier built from the discovery document,
// running discovery first if no earlier call succeeded. One discovery runs
// at a time; a failure is returned as is to every call in the next
// oidcRetryAfter.
func (o *OIDC) idTokenVerifier(ctx context.Context) (*oidc.IDTokenVerifier, error) {
	if v := o.verifier.Load(); v != nil {
		return v, nil
	}
	select {
	case o.discovering <- struct{}{}:
	case <-ctx.Done():
		return nil, fmt.Errorf("wait for discovery: %w", ctx.Err())
	}
	defer func() { <-o.discovering }()

	if v := o.verifier.Load(); v != nil {
		return v, nil
	}
	if o.failure != nil && o.now().Sub(o.failedAt) < oidcRetryAfter {
		return nil, o.failure
	}
	dctx, cancel := context.WithTimeout(oidc.ClientContext(ctx, o.cfg.HTTPClient), oidcTimeout)
	defer cancel()
	p, err := oidc.NewProvider(dctx, o.cfg.Issuer)
	if err != nil {
		err = fmt.Errorf("discover %s: %w", o.cfg.Issuer, err)
		if ctx.Err() == nil { // the caller giving up says nothing about the provider
			o.failedAt, o.failure = o.now(), err
		}
		return nil, err
	}
	var doc struct {
		JWKS string `json:"jwks_uri"`
	}
	if err := p.Claims(&doc); err != nil || doc.JWKS == "" {
		err = fmt.Errorf("discover %s: the discovery document names no jwks_uri", o.cfg.Issuer)
		o.failedAt, o.failure = o.now(), err
		return nil, err
	}
	// credflow's own key set, not go-oidc's: that one fetches the key set
	// again for every token no cached key verifies, forged ones included.
	keys := &keySet{url: doc.JWKS, client: o.cfg.HTTPClient, now: o.now}
	v := oidc.NewVerifier(o.cfg.Issuer, keys, &oidc.Config{
		ClientID:             o.cfg.Audience,
		SupportedSigningAlgs: oidcSigningAlgs,
		SkipExpiryCheck:      true, // checked in verify, with oidcLeeway
	})
	ep := p.Endpoint()
	o.flow.Store(&OIDCFlow{AuthURL: ep.AuthURL, TokenURL: ep.TokenURL, ClientID: o.cfg.Audience, HTTPClient: o.cfg.HTTPClient})
	o.verifier.Store(v)
	o.failure = nil
	return v, nil
}

// userName returns the first of o.userClaims present in claims. A present
// claim that is empty or not a string is an error, not a reason to fall back.
func (o *OIDC) userName(claims map[string]json.RawMessage) (string, error) {
	for _, c := range o.userClaims {
		s, ok, err := claimString(claims, c)
		if err != nil {
			return "", err
		}
		if !ok {
			continue
		}
		if s == "" {
			return "", fmt.Errorf("user claim %q is empty", c)
		}
		return s, nil
	}
	return "", fmt.Errorf("token has no user claim (%s)", strings.Join(o.userClaims, ", "))
}

// claimPresent reports whether claim c is in claims and not null.
func claimPresent(claims map[string]json.RawMessage, c string) (json.RawMessage, bool) {
	raw, ok := claims[c]
	if !ok || string(raw) == "null" {
		return nil, false
	}
	return raw, true
}

func claimString(claims map[string]json.RawMessage, c string) (string, bool, error) {
	raw, ok := claimPresent(claims, c)
	if !ok {
		return "", false, nil
	}
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		return "", false, fmt.Errorf("claim %q is not a string", c)
	}
	return s, true, nil
}

// claimNumericDate reads a JWT NumericDate: seconds since the epoch, possibly
// fractional.
func claimNumericDate(claims map[string]json.RawMessage, c string) (time.Time, bool, error) {
	raw, ok := claimPresent(claims, c)
	if !ok {
		return time.Time{}, false, nil
	}
	var f float64
	if err := json.Unmarshal(raw, &f); err != nil {
		return time.Time{}, false, fmt.Errorf("claim %q is not a number", c)
	}
	if f < 0 || f >= 1<<40 { // beyond this the conversion below would overflow
		return time.Time{}, false, fmt.Errorf("claim %q is out of range", c)
	}
	sec := int64(f)
	return time.Unix(sec, int64((f-float64(sec))*1e9)).UTC(), true, nil
}

// claimGroups reads an array of strings or a single string, dropping
// members that are not non-empty strings and repeats.
func claimGroups(claims map[string]json.RawMessage, c string) ([]string, error) {
	raw, ok := claimPresent(claims, c)
	if !ok {
		return nil, nil
	}
	var one string
	if err := json.Unmarshal(raw, &one); err == nil {
		if one == "" {
			return nil, nil
		}
		return []string{one}, nil
	}
	var members []any
	if err := json.Unmarshal(raw, &members); err != nil {
		return nil, fmt.Errorf("groups claim %q is neither a string nor an array", c)
	}
	var groups []string
	seen := make(map[string]bool, len(members))
	for _, m := range members {
		s, ok := m.(string)
		if !ok || s == "" || seen[s] {
			continue
		}
		seen[s] = true
		groups = append(groups, s)
	}
	return groups, nil
}

// LooksLikeJWT reports whether bearer has the shape of a signed compact JWT:
// three non-empty base64url segments separated by dots. It does not decode
// or verify anything. API tokens (cft_...) never look like JWTs.
func LooksLikeJWT(bearer string) bool {
	if strings.HasPrefix(bearer, tokenPrefix) || len(bearer) > oidcMaxTokenLen {
		return false
	}
	segments := strings.Split(bearer, ".")
	if len(segments) != 3 {
		return false
	}
	for _, s := range segments {
		if s == "" || len(s)%4 == 1 {
			return false
		}
		for i := 0; i < len(s); i++ {
			c := s[i]
			if !('A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-' || c == '_') {
				return false
			}
		}
	}
	return true
}
