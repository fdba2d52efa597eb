// Package azurekv is the azure-keyvault store kind: it reads secrets from
// one Azure Key Vault through the official Azure SDK for Go (azsecrets,
// with azidentity credentials), never by speaking the protocol itself.
//
// It provides the Settings of a vault (strictly decoded and validated),
// the Store (secretstore.Store, Stater and Checker), its reference syntax
// (Power Platform's resource path, the secret URI, or name[/version]), the
// mapping of Key Vault's answers onto the secretstore sentinels (read from
// the inner error code, which the SDK does not expose), a per-vault read
// budget that keeps credflow under Key Vault's throttling limit, and a
// step-by-step check of the prerequisites. It does not cache (the cache
// package wraps any store), write, list or delete secrets, and it knows
// nothing of variables, credentials or users.
//
// Outbound calls honour HTTPS_PROXY and NO_PROXY, and trust the system's
// roots, which SSL_CERT_FILE and SSL_CERT_DIR replace, as Go programs do.
// The fake vault for tests and local work is the fakekv sub-package.
package azurekv

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"slices"
	"strings"
	"sync/atomic"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/runtime"
	"github.com/Azure/azure-sdk-for-go/sdk/security/keyvault/azsecrets"

	"github.com/credflow/credflow/internal/secretstore"
	"github.com/credflow/credflow/internal/secretstore/budget"
)

// Kind is the store kind's name in the API.
const Kind = "azure-keyvault"

// Options are what the composition root, or a test, adds to the settings.
// The zero value is right for production.
type Options struct {
	// Name is the store's registered name, used in messages.
	Name string
	// Credential replaces the credential Settings.Auth describes (tests:
	// a fake, as nothing can stand in for Entra ID itself).
	Credential azcore.TokenCredential
	// Transport replaces the HTTP client of the vault calls (tests: one
	// that trusts an emulator). Leave it nil in production: the default
	// honours HTTPS_PROXY, NO_PROXY and SSL_CERT_FILE, and a custom one
	// would have to do the same.
	Transport policy.Transporter
	// Retry replaces the retry options of the vault client and of the
	// credentials (tests: fewer, shorter retries). Unless it sets
	// ShouldRetry, the store's own still keeps retries within the call's
	// deadline.
	Retry *policy.RetryOptions
	// Budget replaces Settings.ReadBudget (tests: a short window).
	Budget *Budget
	// LookupEnv reads environment variables (default os.LookupEnv).
	LookupEnv func(string) (string, bool)
}

func (o Options) lookupEnv(name string) (string, bool) {
	if o.LookupEnv != nil {
		return o.LookupEnv(name)
	}
	return os.LookupEnv(name)
}

// defaultRetry: Key Vault's throttling guidance backs off from 1 s; the
// retries stop earlier when the next one would end after the caller's
// deadline.
var defaultRetry = policy.RetryOptions{
	MaxRetries:    3,
	RetryDelay:    time.Second,
	MaxRetryDelay: 30 * time.Second,
	TryTimeout:    30 * time.Second,
}

// Store reads secrets from one vault. It is safe for concurrent use.
type Store struct {
	settings  Settings
	name      string
	vaultURL  string
	client    *azsecrets.Client
	cred      *identity
	transport policy.Transporter
	budget    *budget.Limiter
}

var (
	_ secretstore.Store   = (*Store)(nil)
	_ secretstore.Stater  = (*Store)(nil)
	_ secretstore.Checker = (*Store)(nil)
)

// Open decodes raw settings strictly, validates them and returns the
// store: what a registry of kinds calls. Errors in the settings are
// *validation.Error.
func Open(raw json.RawMessage, opts Options) (*Store, error) {
	s, err := DecodeSettings(raw)
	if err != nil {
		return nil, err
	}
	return New(s, opts)
}

// PublicSettings decodes raw settings and returns them as the API shows
// them (Settings.Public).
func PublicSettings(raw json.RawMessage) (json.RawMessage, error) {
	s, err := DecodeSettings(raw)
	if err != nil {
		return nil, err
	}
	return json.Marshal(s.Public())
}

// New returns a store for the vault the settings describe. It fails only
// on invalid settings (a *validation.Error): a credential it cannot build
// (a missing secret file, say) fails each read instead, and shows in
// Check, so that the store can be registered and fixed.
func New(s Settings, opts Options) (*Store, error) {
	if err := s.Validate(); err != nil {
		return nil, err
	}
	transport := opts.Transport
	if transport == nil {
		transport = defaultTransport()
	}
	inner := opts.Credential
	if inner == nil {
		inner = newCredential(s, opts)
	}
	cred := &identity{inner: inner, kind: s.Auth.Kind, tenant: s.TenantID}
	b := Budget{Reads: s.ReadBudget, Per: 10 * time.Second}
	if b.Reads == 0 {
		b.Reads = DefaultReadBudget
	}
	if opts.Budget != nil {
		b = *opts.Budget
	}
	st := &Store{settings: s, name: opts.Name, vaultURL: s.VaultURL(), cred: cred, transport: transport, budget: budget.New(b)}
	client, err := azsecrets.NewClient(st.vaultURL, cred, &azsecrets.ClientOptions{
		ClientOptions: azcore.ClientOptions{
			Transport:        transport,
			Retry:            retryOptions(opts.Retry),
			Telemetry:        policy.TelemetryOptions{ApplicationID: "credflow"},
			PerRetryPolicies: []policy.Policy{challengeGuard{}, budgetPolicy{st.budget}},
		},
		DisableChallengeResourceVerification: s.AllowCustomVaultHost,
	})
	if err != nil {
		return nil, fmt.Errorf("azurekv: create the Key Vault client: %w", err)
	}
	st.client = client
	return st, nil
}

// Settings returns the store's settings as the API shows them.
func (s *Store) Settings() Settings { return s.settings.Public() }

// VaultURL is the address the store reads from.
func (s *Store) VaultURL() string { return s.vaultURL }

// Get implements secretstore.Store: one GetSecret of the pinned version or
// the latest.
func (s *Store) Get(ctx context.Context, ref secretstore.Ref) (secretstore.Secret, error) {
	sec, err := s.read(ctx, "get", ref)
	if err != nil {
		return secretstore.Secret{}, err
	}
	v := ""
	if sec.Value != nil {
		v = *sec.Value
	}
	return secretstore.Secret{Value: secretstore.NewValue(v), Meta: meta(sec)}, nil
}

// Stat implements secretstore.Stater. Key Vault has no value-free read
// that proves the value can be read (listing versions needs only the
// metadata permission), so Stat reads the secret and drops the value at
// once.
func (s *Store) Stat(ctx context.Context, ref secretstore.Ref) (secretstore.Meta, error) {
	sec, err := s.read(ctx, "stat", ref)
	sec.Value = nil
	if err != nil {
		return secretstore.Meta{}, err
	}
	return meta(sec), nil
}

func (s *Store) read(ctx context.Context, op string, ref secretstore.Ref) (azsecrets.Secret, error) {
	if err := checkRef(ref); err != nil {
		return azsecrets.Secret{}, err
	}
	resp, err := s.client.GetSecret(withCall(ctx), ref.Name, ref.Version, nil)
	if err != nil {
		return azsecrets.Secret{}, s.mapError(ctx, op, ref, err)
	}
	sec := resp.Secret
	if got := versionOf(sec.ID); ref.Version != "" && !strings.EqualFold(got, ref.Version) {
		sec.Value = nil
		return azsecrets.Secret{}, fmt.Errorf("azurekv: %s %s: %w: the vault answered with version %q", op, ref, secretstore.ErrUnavailable, got)
	}
	return sec, nil
}

func meta(sec azsecrets.Secret) secretstore.Meta {
	m := secretstore.Meta{Version: versionOf(sec.ID), Enabled: true}
	if a := sec.Attributes; a != nil {
		if a.Enabled != nil {
			m.Enabled = *a.Enabled
		}
		m.ExpiresAt = utc(a.Expires)
		m.NotBefore = utc(a.NotBefore)
		m.UpdatedAt = utc(a.Updated)
	}
	return m
}

func utc(t *time.Time) time.Time {
	if t == nil {
		return time.Time{}
	}
	return t.UTC()
}

// versionOf reads the version from a secret id,
// https://{vault}/secrets/{name}/{version}.
func versionOf(id *azsecrets.ID) string {
	if id == nil {
		return ""
	}
	u, err := url.Parse(string(*id))
	if err != nil {
		return ""
	}
	p := strings.Split(strings.Trim(u.Path, "/"), "/")
	if len(p) == 3 && p[0] == "secrets" {
		return p[2]
	}
	return ""
}

// defaultTransport is a fresh client like Go's default one: proxies from
// HTTPS_PROXY/NO_PROXY, the system's roots (SSL_CERT_FILE, SSL_CERT_DIR),
// TLS 1.2 at least, HTTP/2, and no redirects, which Key Vault never sends.
func defaultTransport() *http.Client {
	d := &net.Dialer{Timeout: 30 * time.Second, KeepAlive: 30 * time.Second}
	return &http.Client{
		Transport: &http.Transport{
			Proxy:                 http.ProxyFromEnvironment,
			DialContext:           d.DialContext,
			ForceAttemptHTTP2:     true,
			MaxIdleConns:          100,
			MaxIdleConnsPerHost:   16,
			IdleConnTimeout:       90 * time.Second,
			TLSHandshakeTimeout:   10 * time.Second,
			ExpectContinueTimeout: time.Second,
			TLSClientConfig:       &tls.Config{MinVersion: tls.VersionTLS12},
		},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}

// call is what the retry decision needs to know of one store call: the
// caller's deadline (the per-try one is shorter) and the tries so far.
type call struct {
	deadline time.Time
	tries    atomic.Int32
}

type callKey struct{}

func withCall(ctx context.Context) context.Context {
	c := &call{}
	c.deadline, _ = ctx.Deadline()
	return context.WithValue(ctx, callKey{}, c)
}

// retryOptions completes the retry options with a ShouldRetry that keeps
// the azcore retry policy's own rules (the status codes, Retry-After, the
// MaxRetryDelay cap) and gives up at once when the next try could not
// start before the caller's deadline, so that a throttled vault answers
// "throttled, retry after N" rather than a timeout.
func retryOptions(o *policy.RetryOptions) policy.RetryOptions {
	r := defaultRetry
	if o != nil {
		r = *o
	}
	if r.ShouldRetry != nil {
		return r
	}
	statuses := r.StatusCodes
	if statuses == nil {
		statuses = []int{http.StatusRequestTimeout, http.StatusTooManyRequests, http.StatusInternalServerError,
			http.StatusBadGateway, http.StatusServiceUnavailable, http.StatusGatewayTimeout}
	}
	base, maxDelay := r.RetryDelay, r.MaxRetryDelay
	switch {
	case base == 0:
		base = 800 * time.Millisecond
	case base < 0:
		base = 0
	}
	switch {
	case maxDelay == 0:
		maxDelay = 60 * time.Second
	case maxDelay < 0:
		maxDelay = time.Duration(1<<63 - 1)
	}
	r.ShouldRetry = func(resp *http.Response, err error) bool {
		if err != nil {
			// A transport failure; the policy has already stopped for a
			// finished context or an error marked not retriable. A refused
			// connection or a name that does not resolve is an answer, not
			// a hiccup: retrying it only turns "unavailable" into a
			// timeout.
			return !unreachable(err)
		}
		if !slices.Contains(statuses, resp.StatusCode) {
			return false
		}
		if resp.Request == nil {
			return true
		}
		c, _ := resp.Request.Context().Value(callKey{}).(*call)
		if c == nil || c.deadline.IsZero() {
			return true
		}
		delay := retryAfter(resp, 0)
		if delay == 0 {
			// The policy's own backoff after try n is at least
			// 0.8 * (2^n - 1) * RetryDelay.
			n := min(c.tries.Add(1), 30)
			delay = min(time.Duration(0.8*float64(int64(1)<<n-1)*float64(base)), maxDelay)
		}
		return time.Until(c.deadline) > delay
	}
	return r
}

// unreachable reports whether a transport error says the vault cannot be
// reached at all from here: the connection was refused (nothing listens
// on that address, or a firewall rejects it), the host name does not
// resolve, or the TLS handshake failed (a certificate that is not trusted
// now is not trusted a second later either).
func unreachable(err error) bool {
	ce := secretstore.Connect("", err)
	return ce != nil && ce.Permanent()
}

// challengeError: the vault's 401 challenge is malformed.
type challengeError struct{ msg string }

func (e *challengeError) Error() string { return e.msg }

// challengeGuard turns a malformed challenge into an error before the SDK
// parses it: the SDK indexes the fourth '/'-separated part of the
// challenge's authorization URL (the tenant) and panics when there is none.
type challengeGuard struct{}

func (challengeGuard) Do(req *policy.Request) (*http.Response, error) {
	resp, err := req.Next()
	if err != nil || resp.StatusCode != http.StatusUnauthorized {
		return resp, err
	}
	h := resp.Header.Get("WWW-Authenticate")
	if h == "" {
		return resp, nil
	}
	if authz := challengeParams(h)["authorization"]; authz != "" && len(strings.Split(authz, "/")) < 4 {
		runtime.Drain(resp)
		return nil, nonRetriable{&challengeError{msg: fmt.Sprintf("the vault's authentication challenge names no tenant (authorization=%q)", authz)}}
	}
	return resp, nil
}

// challengeParams parses a Bearer challenge the way the SDK does (so that
// the guard sees what the SDK will see).
func challengeParams(h string) map[string]string {
	vals := map[string]string{}
	for _, part := range strings.Split(strings.ReplaceAll(h, "Bearer ", ""), " ") {
		kv := strings.Split(part, "=")
		if len(kv) == 2 {
			vals[kv[0]] = strings.TrimSuffix(strings.ReplaceAll(kv[1], `"`, ""), ",")
		}
	}
	return vals
}

// Vault returns the vault's name and URL, so that change events and
// notifications naming the vault find the store.
func (s *Store) Vault() (name, url string) { return s.settings.VaultName, s.vaultURL }
