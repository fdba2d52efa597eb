// Package conjur is the cyberark-conjur store kind: it reads variables from
// CyberArk Conjur (Conjur Open Source, Secrets Manager Self-Hosted and its
// followers) over Conjur's REST API, authenticating as a host with its API
// key.
//
// It provides the Settings of a server (strictly decoded and validated),
// the Store (secretstore.Store, Stater, Checker and RefDisplayer), its
// reference syntax (a variable id, optionally '#' and a version), the
// mapping of Conjur's answers onto the secretstore sentinels with hints, a
// read budget, and a step-by-step check. It does not cache (the cache
// package wraps any store), write, list or delete variables, and it knows
// nothing of credflow's variables, credentials or users.
//
// It speaks the protocol with net/http rather than through
// github.com/cyberark/conjur-api-go: that client's calls take no
// context.Context (so a resolve's deadline and cancellation could not
// reach Conjur), it refreshes its token without a lock (a data race under
// concurrent resolves) and never retries a refused token, and its
// constructors read CONJUR_* environment variables, ~/.conjurrc and
// ~/.netrc or the OS keyring unless each is carefully avoided. Every
// setting here comes from the store's settings alone.
//
// The wire protocol: POST {url}/authn/{account}/{login}/authenticate with
// the API key as the body returns an access token (JSON, about 8 minutes
// long), sent as Authorization: Token token="<base64 of the token>". The
// token is kept, renewed when four fifths of its life have passed, and
// renewed once more when Conjur answers 401 to it. A read of the latest
// version first asks GET {url}/resources/{account}/variable/{id} for the
// variable's versions, then reads GET
// {url}/secrets/{account}/variable/{id}?version=N, so that the value and
// the version reported with it always belong together. Outbound calls
// honour HTTPS_PROXY and NO_PROXY; caFile, when set, replaces the system's
// roots. The fake server for tests is the fakeconjur sub-package.
package conjur

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/credflow/credflow/internal/secretstore"
	"github.com/credflow/credflow/internal/secretstore/budget"
)

// Kind is the store kind's name in the API.
const Kind = "cyberark-conjur"

// maxValueBytes bounds a secret value credflow accepts.
const maxValueBytes = 4 << 20

// tryTimeout bounds one request whose context has no deadline.
const tryTimeout = 30 * time.Second

// Options are what the composition root, or a test, adds to the settings.
// The zero value is right for production.
type Options struct {
	// Name is the store's registered name, used in messages.
	Name string
	// LookupEnv reads environment variables (default os.LookupEnv).
	LookupEnv func(string) (string, bool)
	// BudgetWindow replaces the read budget's 10-second window (tests).
	BudgetWindow time.Duration
	// Now replaces the clock (tests).
	Now func() time.Time
}

// Store reads variables from one Conjur server. It is safe for concurrent
// use.
type Store struct {
	settings  Settings
	name      string
	base      string
	lookupEnv func(string) (string, bool)
	now       func() time.Time
	budget    *budget.Limiter
	auth      *authenticator

	mu     sync.Mutex
	client *http.Client // built at first use, from caFile
}

var (
	_ secretstore.Store        = (*Store)(nil)
	_ secretstore.Stater       = (*Store)(nil)
	_ secretstore.Checker      = (*Store)(nil)
	_ secretstore.RefDisplayer = (*Store)(nil)
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

// New returns a store for the server the settings describe. It fails only
// on invalid settings (a *validation.Error): an API key or CA file it
// cannot read fails each read instead, and shows in Check, so that the
// store can be registered and fixed.
func New(s Settings, opts Options) (*Store, error) {
	if err := s.Validate(); err != nil {
		return nil, err
	}
	st := &Store{settings: s, name: opts.Name, base: s.BaseURL(), lookupEnv: opts.LookupEnv, now: opts.Now}
	if st.lookupEnv == nil {
		st.lookupEnv = os.LookupEnv
	}
	if st.now == nil {
		st.now = time.Now
	}
	n := s.ReadBudget
	if n == 0 {
		n = DefaultReadBudget
	}
	window := 10 * time.Second
	if opts.BudgetWindow > 0 {
		window = opts.BudgetWindow
	}
	st.budget = budget.New(budget.Budget{Reads: n, Per: window})
	st.auth = newAuthenticator(st)
	return st, nil
}

// Settings returns the store's settings as the API shows them.
func (s *Store) Settings() Settings { return s.settings.Public() }

// Get implements secretstore.Store: the pinned version, or the latest.
func (s *Store) Get(ctx context.Context, ref secretstore.Ref) (secretstore.Secret, error) {
	v, m, err := s.read(ctx, "get", ref)
	if err != nil {
		return secretstore.Secret{}, err
	}
	return secretstore.Secret{Value: v, Meta: m}, nil
}

// Stat implements secretstore.Stater. Conjur lets a host see a variable
// (read) without letting it fetch the value (execute); only a read of the
// value proves the second, so Stat reads it and drops it at once.
func (s *Store) Stat(ctx context.Context, ref secretstore.Ref) (secretstore.Meta, error) {
	_, m, err := s.read(ctx, "stat", ref)
	if err != nil {
		return secretstore.Meta{}, err
	}
	return m, nil
}

func (s *Store) read(ctx context.Context, op string, ref secretstore.Ref) (secretstore.Value, secretstore.Meta, error) {
	if err := checkRef(ref); err != nil {
		return secretstore.Value{}, secretstore.Meta{}, err
	}
	ctx, cancel := withTryTimeout(ctx)
	defer cancel()
	m := secretstore.Meta{Version: ref.Version, Enabled: true}
	if ref.Version == "" {
		vm, err := s.latest(ctx, op, ref)
		switch {
		case errors.Is(err, secretstore.ErrForbidden):
			// The host may fetch values but not see the variable's
			// versions: read the latest value, its version unknown.
		case err != nil:
			return secretstore.Value{}, secretstore.Meta{}, err
		default:
			m = vm
		}
	}
	q := ""
	if m.Version != "" {
		q = "?version=" + m.Version
	}
	resp, err := s.call(ctx, op, ref, s.variableURL("secrets", ref.Name)+q)
	if err != nil {
		return secretstore.Value{}, secretstore.Meta{}, err
	}
	defer drain(resp)
	b, err := io.ReadAll(io.LimitReader(resp.Body, maxValueBytes+1))
	if err != nil {
		return secretstore.Value{}, secretstore.Meta{}, s.transportFailure(ctx, op, ref, err)
	}
	if len(b) > maxValueBytes {
		clear(b)
		return secretstore.Value{}, secretstore.Meta{}, fmt.Errorf("conjur: %s variable %q: %w: the value is larger than %d bytes", op, display(ref), secretstore.ErrUnavailable, maxValueBytes)
	}
	return secretstore.NewValue(string(b)), m, nil
}

// resource is the part of Conjur's resource JSON credflow reads.
type resource struct {
	Secrets []struct {
		Version   int        `json:"version"`
		ExpiresAt *time.Time `json:"expires_at"`
	} `json:"secrets"`
}

// latest asks Conjur for the variable's versions and returns the latest.
func (s *Store) latest(ctx context.Context, op string, ref secretstore.Ref) (secretstore.Meta, error) {
	resp, err := s.call(ctx, op, ref, s.variableURL("resources", ref.Name))
	if err != nil {
		return secretstore.Meta{}, err
	}
	defer drain(resp)
	var r resource
	if err := json.NewDecoder(io.LimitReader(resp.Body, maxValueBytes)).Decode(&r); err != nil {
		return secretstore.Meta{}, s.transportFailure(ctx, op, ref, fmt.Errorf("the variable's description cannot be read"))
	}
	m := secretstore.Meta{Enabled: true}
	top := 0
	for _, sec := range r.Secrets {
		if sec.Version > top {
			top = sec.Version
			m.ExpiresAt = time.Time{}
			if sec.ExpiresAt != nil {
				m.ExpiresAt = sec.ExpiresAt.UTC()
			}
		}
	}
	if top == 0 {
		return secretstore.Meta{}, &Error{Op: op, Variable: display(ref), Account: s.settings.Account, Login: s.settings.Login,
			Status: resp.StatusCode, Code: "no value", kind: secretstore.ErrNotFound}
	}
	m.Version = strconv.Itoa(top)
	return m, nil
}

// variableURL is {url}/{what}/{account}/variable/{id}, the id escaped
// whole ('/' too), as Conjur's documentation writes it.
func (s *Store) variableURL(what, id string) string {
	return s.base + "/" + what + "/" + url.PathEscape(s.settings.Account) + "/variable/" + escapeID(id)
}

func escapeID(id string) string {
	return strings.ReplaceAll(url.PathEscape(id), "/", "%2F")
}

// call sends an authenticated GET and returns a 200 answer, or the error
// the answer maps to. A 401 renews the token once and tries again.
func (s *Store) call(ctx context.Context, op string, ref secretstore.Ref, u string) (*http.Response, error) {
	for attempt := 0; ; attempt++ {
		tok, err := s.auth.get(ctx)
		if err != nil {
			return nil, err
		}
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
		if err != nil {
			return nil, fmt.Errorf("conjur: %s variable %q: %w: cannot build the request", op, display(ref), secretstore.ErrUnavailable)
		}
		req.Header.Set("Authorization", tok.header)
		resp, err := s.roundTrip(req)
		if err != nil {
			return nil, s.transportFailure(ctx, op, ref, err)
		}
		if resp.StatusCode == http.StatusOK {
			return resp, nil
		}
		body, _ := io.ReadAll(io.LimitReader(resp.Body, 16<<10))
		drain(resp)
		if resp.StatusCode == http.StatusUnauthorized && attempt == 0 {
			s.auth.refused(ctx, tok)
			continue
		}
		return nil, s.responseError(op, ref, resp, body)
	}
}

func (s *Store) responseError(op string, ref secretstore.Ref, resp *http.Response, body []byte) error {
	e := &Error{Op: op, Variable: display(ref), Account: s.settings.Account, Login: s.settings.Login,
		Status: resp.StatusCode, Code: errorCode(body)}
	switch resp.StatusCode {
	case http.StatusNotFound:
		e.kind = secretstore.ErrNotFound
	case http.StatusForbidden:
		e.kind = secretstore.ErrForbidden
	case http.StatusUnauthorized:
		// A fresh token refused too: the host was deleted or disabled
		// after it authenticated.
		return &AuthError{Login: s.settings.Login, Account: s.settings.Account, Status: resp.StatusCode, Source: s.apiKeySource(),
			Err: errors.New("Conjur refused a fresh access token")}
	case http.StatusTooManyRequests:
		e.kind = &secretstore.ThrottledError{RetryAfter: retryAfter(resp)}
	default:
		e.kind = secretstore.ErrUnavailable
	}
	return e
}

func retryAfter(resp *http.Response) time.Duration {
	if secs, err := strconv.Atoi(strings.TrimSpace(resp.Header.Get("Retry-After"))); err == nil && secs >= 0 {
		return time.Duration(secs) * time.Second
	}
	return time.Second
}

// transportFailure maps an error of the transport (or a cancelled
// context) for a read.
func (s *Store) transportFailure(ctx context.Context, op string, ref secretstore.Ref, err error) error {
	return fmt.Errorf("conjur: %s variable %q: %w", op, display(ref), transportError(ctx, hostOf(s.base), err))
}

// transportError maps a failure to send a request onto the sentinels:
// the caller's cancellation stays context.Canceled, a deadline is
// ErrTimeout, a spent budget stays a *secretstore.ThrottledError, the rest
// is ErrUnavailable. It keeps only a short description of the cause.
func transportError(ctx context.Context, host string, err error) error {
	var te *secretstore.ThrottledError
	switch {
	case errors.As(err, &te):
		return fmt.Errorf("credflow's read budget for this server is spent: %w", te)
	case errors.Is(err, context.DeadlineExceeded) || errors.Is(ctx.Err(), context.DeadlineExceeded):
		return fmt.Errorf("%w: %w", secretstore.ErrTimeout, context.DeadlineExceeded)
	case errors.Is(err, context.Canceled) || ctx.Err() != nil:
		return context.Canceled
	case errors.Is(err, errCA):
		return fmt.Errorf("%w: %w", secretstore.ErrUnavailable, err)
	}
	if ce := secretstore.Connect(host, err); ce != nil {
		return ce
	}
	return fmt.Errorf("%w: %s", secretstore.ErrUnavailable, describeDialError(err))
}

// describeDialError says in a few words why a request was not answered.
func describeDialError(err error) string {
	var (
		dnsErr  *net.DNSError
		certErr *tls.CertificateVerificationError
		unknown x509.UnknownAuthorityError
		hostErr x509.HostnameError
		opErr   *net.OpError
	)
	switch {
	case errors.As(err, &opErr) && opErr.Op == "proxyconnect":
		return "the HTTP proxy could not be reached"
	case errors.As(err, &dnsErr):
		return fmt.Sprintf("%s does not resolve", dnsErr.Name)
	case errors.As(err, &certErr), errors.As(err, &unknown):
		return "Conjur's TLS certificate is not trusted (the TLS handshake failed its certificate verification)"
	case errors.As(err, &hostErr):
		return "Conjur's TLS certificate does not name its host"
	case errors.Is(err, syscall.ECONNREFUSED):
		return "the connection was refused"
	}
	return "no answer from Conjur"
}

// roundTrip spends the budget and sends req.
func (s *Store) roundTrip(req *http.Request) (*http.Response, error) {
	if err := s.budget.Take(req.Context()); err != nil {
		return nil, err
	}
	c, err := s.httpClient()
	if err != nil {
		return nil, err
	}
	return c.Do(req)
}

// errCA: the CA file could not be used.
var errCA = errors.New("caFile cannot be used")

// httpClient builds the client at first use: a missing or bad CA file
// fails the reads (and the check says why) until it is fixed.
func (s *Store) httpClient() (*http.Client, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.client != nil {
		return s.client, nil
	}
	tc := &tls.Config{MinVersion: tls.VersionTLS12}
	if s.settings.CAFile != "" {
		pem, err := os.ReadFile(s.settings.CAFile)
		if err != nil {
			return nil, fmt.Errorf("%w: %s", errCA, describeFileError(s.settings.CAFile, err))
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("%w: %s holds no PEM certificate", errCA, s.settings.CAFile)
		}
		tc.RootCAs = pool
	}
	d := &net.Dialer{Timeout: 30 * time.Second, KeepAlive: 30 * time.Second}
	s.client = &http.Client{
		Transport: &http.Transport{
			Proxy:                 http.ProxyFromEnvironment,
			DialContext:           d.DialContext,
			ForceAttemptHTTP2:     true,
			MaxIdleConns:          100,
			MaxIdleConnsPerHost:   16,
			IdleConnTimeout:       90 * time.Second,
			TLSHandshakeTimeout:   10 * time.Second,
			ExpectContinueTimeout: time.Second,
			TLSClientConfig:       tc,
		},
		// Conjur does not redirect its API; following a redirect could
		// carry the token elsewhere.
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	return s.client, nil
}

func withTryTimeout(ctx context.Context) (context.Context, context.CancelFunc) {
	if _, ok := ctx.Deadline(); ok {
		return context.WithCancel(ctx)
	}
	return context.WithTimeout(ctx, tryTimeout)
}

func drain(resp *http.Response) {
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	_ = resp.Body.Close()
}
