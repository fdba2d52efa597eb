// Package hcvault is the hashicorp-vault store kind: it reads secrets from
// a KV version 2 secrets engine of HashiCorp Vault or OpenBao (which speaks
// the same HTTP API) through the official client,
// github.com/hashicorp/vault/api.
//
// It provides the Settings of a store (strictly decoded and validated), the
// Store (secretstore.Store, Stater, Checker and RefDisplayer), its
// reference syntax path[#field][@version], the sign-in with a token or an
// AppRole (renewing the token while it is renewable, logging in again when
// it expires or is refused), the mapping of Vault's answers onto the
// secretstore sentinels, and a step-by-step check. It does not cache (the
// cache package wraps any store), write, list or delete secrets, and it
// knows nothing of variables, credentials or users.
//
// The official client reads VAULT_ADDR, VAULT_TOKEN, VAULT_NAMESPACE and
// other VAULT_* variables by itself; this package overrides everything it
// would take from them, so that every setting comes from the store's own
// settings. The fake server for tests is the fakevault sub-package.
package hcvault

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"strconv"
	"syscall"
	"time"

	"github.com/hashicorp/vault/api"

	"github.com/credflow/credflow/internal/secretstore"
	"github.com/credflow/credflow/internal/secretstore/budget"
)

// Kind is the store kind's name in the API.
const Kind = "hashicorp-vault"

// Options are what the composition root, or a test, adds to the settings.
// The zero value is right for production.
type Options struct {
	// Name is the store's registered name, used in messages.
	Name string
	// HTTPClient replaces the client built from the settings (tests: one
	// that trusts a fake's certificate when no caFile is at hand). Leave
	// it nil in production: the default honours HTTPS_PROXY, NO_PROXY and
	// caFile.
	HTTPClient *http.Client
	// MaxRetries is how often a read is retried after a 429 or a 502-504
	// (default 2; negative: never).
	MaxRetries int
	// LookupEnv reads environment variables (default os.LookupEnv).
	LookupEnv func(string) (string, bool)
	// Now is the clock (default time.Now).
	Now func() time.Time
	// Budget replaces Settings.ReadBudget (tests: a short window).
	Budget *budget.Budget
}

func (o Options) lookupEnv(name string) (string, bool) {
	if o.LookupEnv != nil {
		return o.LookupEnv(name)
	}
	return os.LookupEnv(name)
}

// Store reads secrets from one KV version 2 mount. It is safe for
// concurrent use.
type Store struct {
	settings Settings
	name     string
	address  string
	opts     Options
	// base is the client without a token; session hands out copies of it
	// that carry one.
	base    *api.Client
	session *session
	budget  *budget.Limiter // nil: no limit
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
// on invalid settings (a *validation.Error) or a client it cannot build: a
// token, secret id or CA file it cannot read fails each read instead, and
// shows in Check, so that the store can be registered and fixed.
func New(s Settings, opts Options) (*Store, error) {
	if err := s.Validate(); err != nil {
		return nil, err
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	st := &Store{settings: s, name: opts.Name, address: s.Public().Address, opts: opts}
	hc := opts.HTTPClient
	if hc == nil {
		hc = defaultHTTPClient(s.CAFile)
	}
	retries := 2
	if opts.MaxRetries != 0 {
		retries = max(opts.MaxRetries, 0)
	}
	// Every field NewClient would otherwise fill from DefaultConfig (which
	// reads VAULT_* variables) is set here.
	cfg := &api.Config{
		Address:      st.address,
		HttpClient:   hc,
		Timeout:      30 * time.Second,
		MinRetryWait: 200 * time.Millisecond,
		MaxRetryWait: 2 * time.Second,
		MaxRetries:   retries,
		CheckRetry:   checkRetry,
	}
	client, err := api.NewClient(cfg)
	if err != nil {
		return nil, fmt.Errorf("hcvault: create the Vault client: %w", err)
	}
	// NewClient takes VAULT_TOKEN, VAULT_NAMESPACE and VAULT_HEADERS from
	// the environment: drop all three.
	client.ClearToken()
	client.SetHeaders(http.Header{api.RequestHeaderName: []string{"true"}})
	if s.Namespace != "" {
		client.SetNamespace(s.Namespace)
	}
	st.base = client
	st.session = newSession(st)
	if s.ReadBudget > 0 {
		st.budget = budget.New(budget.Budget{Reads: s.ReadBudget, Per: 10 * time.Second})
	}
	if opts.Budget != nil {
		st.budget = budget.New(*opts.Budget)
	}
	return st, nil
}

// Settings returns the store's settings as the API shows them.
func (s *Store) Settings() Settings { return s.settings.Public() }

// Address is the server the store reads from.
func (s *Store) Address() string { return s.address }

// Get implements secretstore.Store: one read of the pinned version or the
// latest.
func (s *Store) Get(ctx context.Context, ref secretstore.Ref) (secretstore.Secret, error) {
	v, m, err := s.read(ctx, "read", ref)
	if err != nil {
		return secretstore.Secret{}, err
	}
	return secretstore.Secret{Value: v, Meta: m}, nil
}

// Stat implements secretstore.Stater. Reading a secret's metadata needs
// another capability (on the metadata/ path) than reading its value, and
// only a read proves that credflow may read the value, so Stat reads the
// secret and drops the value at once.
func (s *Store) Stat(ctx context.Context, ref secretstore.Ref) (secretstore.Meta, error) {
	_, m, err := s.read(ctx, "stat", ref)
	return m, err
}

func (s *Store) read(ctx context.Context, op string, ref secretstore.Ref) (secretstore.Value, secretstore.Meta, error) {
	path, field, version, err := parts(ref)
	if err != nil {
		return secretstore.Value{}, secretstore.Meta{}, err
	}
	var params map[string][]string
	if version > 0 {
		params = map[string][]string{"version": {strconv.Itoa(version)}}
	}
	display := s.DisplayRef(ref)
	if err := s.takeBudget(ctx); err != nil {
		return secretstore.Value{}, secretstore.Meta{}, &Error{Op: op, Ref: display, Address: s.address, kind: ctxError(err),
			hint: "credflow holds back its reads of this store to stay within the store's readBudget: raise it, or raise the cache TTL."}
	}
	apiPath := s.settings.mount() + "/data/" + path
	var sec *api.Secret
	err = s.session.do(ctx, func(c *api.Client) error {
		var err error
		sec, err = c.Logical().ReadWithDataWithContext(ctx, apiPath, params)
		return err
	})
	if err != nil {
		return secretstore.Value{}, secretstore.Meta{}, s.mapError(ctx, op, display, err)
	}
	return s.extract(op, display, sec, field, version)
}

// extract finds the field's value and the version's metadata in a KV
// version 2 answer: {"data": {"data": {...}, "metadata": {...}}}.
func (s *Store) extract(op, display string, sec *api.Secret, field string, version int) (secretstore.Value, secretstore.Meta, error) {
	fail := func(kind error, hint string) (secretstore.Value, secretstore.Meta, error) {
		return secretstore.Value{}, secretstore.Meta{}, &Error{Op: op, Ref: display, Address: s.address, Status: http.StatusNotFound, kind: kind, hint: hint}
	}
	if sec == nil || sec.Data == nil {
		return fail(secretstore.ErrNotFound, fmt.Sprintf("Check the path (inside the mount) and the version, and that the store's mount %q is a KV version 2 secrets engine: it holds no secret at this path, or not this version.", s.settings.mount()))
	}
	md, _ := sec.Data["metadata"].(map[string]any)
	m := secretstore.Meta{Enabled: true}
	if md != nil {
		if n, ok := md["version"].(json.Number); ok {
			m.Version = n.String()
		}
		if t, err := time.Parse(time.RFC3339Nano, fmt.Sprint(md["created_time"])); err == nil {
			m.UpdatedAt = t.UTC()
		}
	}
	data, _ := sec.Data["data"].(map[string]any)
	if data == nil {
		what := "deleted"
		if md != nil && md["destroyed"] == true {
			what = "destroyed"
		}
		if md == nil {
			return fail(secretstore.ErrNotFound, "The answer holds no KV version 2 secret: check that the store's mount is a KV version 2 secrets engine.")
		}
		return fail(secretstore.ErrNotFound, fmt.Sprintf("Version %s of this secret was %s in Vault: undelete it (vault kv undelete), write a new version, or reference another version.", m.Version, what))
	}
	if version > 0 && m.Version != strconv.Itoa(version) {
		return secretstore.Value{}, secretstore.Meta{}, &Error{Op: op, Ref: display, Address: s.address, Status: http.StatusOK,
			kind: fmt.Errorf("%w: the server answered with version %q", secretstore.ErrUnavailable, m.Version)}
	}
	raw, ok := data[field]
	if !ok {
		return fail(secretstore.ErrNotFound, fmt.Sprintf("The secret has no field %q: name the field that holds the value after '#' (path#field).", field))
	}
	var v string
	switch x := raw.(type) {
	case string:
		v = x
	case nil:
		v = ""
	default:
		// Numbers, booleans and nested objects come back as their JSON text.
		b, err := json.Marshal(x)
		if err != nil {
			return fail(secretstore.ErrNotFound, fmt.Sprintf("The field %q does not hold a text value.", field))
		}
		v = string(b)
	}
	return secretstore.NewValue(v), m, nil
}

// defaultHTTPClient is a client like Go's default one: proxies from
// HTTPS_PROXY/NO_PROXY, the CA file's roots (or the system's), TLS 1.2 at
// least, and no redirects, which the Vault client handles itself. A CA
// file that cannot be read fails every call, with the reason.
func defaultHTTPClient(caFile string) *http.Client {
	d := &net.Dialer{Timeout: 30 * time.Second, KeepAlive: 30 * time.Second}
	tr := &http.Transport{
		Proxy:                 http.ProxyFromEnvironment,
		DialContext:           d.DialContext,
		ForceAttemptHTTP2:     true,
		MaxIdleConns:          100,
		MaxIdleConnsPerHost:   16,
		IdleConnTimeout:       90 * time.Second,
		TLSHandshakeTimeout:   10 * time.Second,
		ExpectContinueTimeout: time.Second,
		TLSClientConfig:       &tls.Config{MinVersion: tls.VersionTLS12},
	}
	var rt http.RoundTripper = tr
	if caFile != "" {
		pool, err := loadCA(caFile)
		if err != nil {
			rt = failing{err}
		} else {
			tr.TLSClientConfig.RootCAs = pool
		}
	}
	return &http.Client{
		Transport:     rt,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}

// ErrCAFile: the caFile cannot be used.
var ErrCAFile = errors.New("cannot use the CA file")

func loadCA(path string) (*x509.CertPool, error) {
	pem, err := os.ReadFile(path)
	if err != nil {
		return nil, &caFileError{path: path, reason: unwrapPathError(err).Error()}
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		return nil, &caFileError{path: path, reason: "it holds no PEM certificate"}
	}
	return pool, nil
}

// caFileError says why the CA file cannot be used. It matches ErrCAFile.
type caFileError struct{ path, reason string }

func (e *caFileError) Error() string { return fmt.Sprintf("%v %s: %s", ErrCAFile, e.path, e.reason) }

// Is reports whether target is ErrCAFile.
func (e *caFileError) Is(target error) bool { return target == ErrCAFile }

func unwrapPathError(err error) error {
	var pe *os.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

// failing is a transport that fails every request with its error.
type failing struct{ err error }

func (f failing) RoundTrip(*http.Request) (*http.Response, error) { return nil, f.err }

// checkRetry retries a throttled or overloaded server's answer (429,
// 502-504) while the caller's deadline allows, and a transport failure
// other than a refused connection, an unknown host, a certificate problem
// or a CA file that cannot be used: those are answers, and retrying them
// only turns "unavailable" into a timeout.
func checkRetry(ctx context.Context, resp *http.Response, err error) (bool, error) {
	if ctx.Err() != nil {
		return false, ctx.Err()
	}
	if dl, ok := ctx.Deadline(); ok && time.Until(dl) < 2*time.Second {
		return false, nil
	}
	if err != nil {
		return !permanent(err), nil
	}
	switch resp.StatusCode {
	case http.StatusTooManyRequests, http.StatusBadGateway, http.StatusServiceUnavailable, http.StatusGatewayTimeout:
		return true, nil
	}
	return false, nil
}

func permanent(err error) bool {
	var dns *net.DNSError
	var cert *tls.CertificateVerificationError
	var unknown x509.UnknownAuthorityError
	var host x509.HostnameError
	return errors.Is(err, syscall.ECONNREFUSED) || errors.As(err, &dns) && dns.IsNotFound ||
		errors.As(err, &cert) || errors.As(err, &unknown) || errors.As(err, &host) || errors.Is(err, ErrCAFile)
}

// takeBudget waits for a turn of the store's read budget, if it has one.
func (s *Store) takeBudget(ctx context.Context) error {
	if s.budget == nil {
		return ctx.Err()
	}
	return s.budget.Take(ctx)
}
