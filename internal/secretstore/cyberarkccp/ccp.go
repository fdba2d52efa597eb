// Package cyberarkccp is the cyberark-ccp store kind: it reads passwords
// from CyberArk's Central Credential Provider through its GetPassword REST
// service (GET {url}/AIMWebService/api/Accounts), authenticating credflow's
// Application with a client certificate over mutual TLS.
//
// It provides the Settings of a CCP store (strictly decoded and validated),
// the Store (secretstore.Store, Stater and Checker), its reference syntax
// (Object, Safe/Object, Safe/Folder/Object or query:...), the mapping of
// CCP's error codes onto the secretstore sentinels, retries while the CPM
// is changing a password, and a step-by-step check. It does not cache (the
// cache package wraps any store), write or list, keeps no versions (CCP
// has none), and knows nothing of variables, credentials or users. The
// client certificate and its key are read from files, never stored.
//
// The fake CCP for tests and local work is the fakeccp sub-package.
package cyberarkccp

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
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/credflow/credflow/internal/secretstore"
)

// Kind is the store kind's name in the API.
const Kind = "cyberark-ccp"

// Options are what the composition root, or a test, adds to the settings.
// The zero value is right for production.
type Options struct {
	// Name is the store's registered name, used in messages.
	Name string
	// RetryDelay is the first wait before asking again while the CPM is
	// changing a password (default 500ms); each wait doubles, up to 5s.
	RetryDelay time.Duration
	// MaxInFlight bounds the requests open to CCP at once (default 16):
	// CCP serves each from the Vault, and a burst of resolves for many
	// accounts must not become a burst of Vault sessions. A request waits
	// for a free slot within its deadline.
	MaxInFlight int
}

// DefaultMaxInFlight is the default of Options.MaxInFlight.
const DefaultMaxInFlight = 16

const (
	defaultRetryDelay = 500 * time.Millisecond
	maxRetryDelay     = 5 * time.Second
	// maxAnswer bounds the body read from CCP.
	maxAnswer = 1 << 20
)

// Store reads passwords from one CCP. It is safe for concurrent use.
type Store struct {
	settings   Settings
	name       string
	endpoint   string
	client     *http.Client
	tlsConfig  *tls.Config
	keys       *keyPair
	caErr      error
	retryDelay time.Duration
	slots      chan struct{}
}

var (
	_ secretstore.Store   = (*Store)(nil)
	_ secretstore.Stater  = (*Store)(nil)
	_ secretstore.Checker = (*Store)(nil)
)

// Open decodes raw settings strictly, validates them and returns the
// store. Errors in the settings are *validation.Error.
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

// New returns a store for the CCP the settings describe. It fails only on
// invalid settings: files it cannot read (the client certificate, its key
// or the CA bundle) fail each read instead, and show in Check, so that the
// store can be registered and fixed.
func New(s Settings, opts Options) (*Store, error) {
	if err := s.Validate(); err != nil {
		return nil, err
	}
	st := &Store{
		settings:   s,
		name:       opts.Name,
		endpoint:   s.Endpoint(),
		keys:       &keyPair{certFile: s.ClientCertFile, keyFile: s.ClientKeyFile},
		retryDelay: opts.RetryDelay,
	}
	if opts.MaxInFlight <= 0 {
		opts.MaxInFlight = DefaultMaxInFlight
	}
	st.slots = make(chan struct{}, opts.MaxInFlight)
	if st.retryDelay <= 0 {
		st.retryDelay = defaultRetryDelay
	}
	st.tlsConfig = &tls.Config{
		MinVersion: tls.VersionTLS12,
		// The key pair is read when a server asks for it, so that a
		// renewed certificate on disk is used without a restart.
		GetClientCertificate: func(*tls.CertificateRequestInfo) (*tls.Certificate, error) {
			return st.keys.load()
		},
	}
	if s.CAFile != "" {
		pool, err := loadCA(s.CAFile)
		if err != nil {
			st.caErr = err
		}
		st.tlsConfig.RootCAs = pool
	}
	d := &net.Dialer{Timeout: 30 * time.Second, KeepAlive: 30 * time.Second}
	st.client = &http.Client{
		Transport: &http.Transport{
			Proxy:                 http.ProxyFromEnvironment,
			DialContext:           d.DialContext,
			TLSClientConfig:       st.tlsConfig,
			ForceAttemptHTTP2:     false, // CCP is served by IIS over HTTP/1.1
			MaxIdleConns:          32,
			MaxIdleConnsPerHost:   16,
			IdleConnTimeout:       90 * time.Second,
			TLSHandshakeTimeout:   10 * time.Second,
			ExpectContinueTimeout: time.Second,
		},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	st.keys.renewed = st.client.CloseIdleConnections
	return st, nil
}

// Settings returns the store's settings as the API shows them.
func (s *Store) Settings() Settings { return s.settings.Public() }

// Get implements secretstore.Store: the account's Content.
func (s *Store) Get(ctx context.Context, ref secretstore.Ref) (secretstore.Secret, error) {
	acc, err := s.account(ctx, "get", ref)
	if err != nil {
		return secretstore.Secret{}, err
	}
	return secretstore.Secret{Value: secretstore.NewValue(acc.content), Meta: acc.meta()}, nil
}

// Stat implements secretstore.Stater. CCP has no value-free read, so Stat
// reads the account and drops the password at once.
func (s *Store) Stat(ctx context.Context, ref secretstore.Ref) (secretstore.Meta, error) {
	acc, err := s.account(ctx, "stat", ref)
	if err != nil {
		return secretstore.Meta{}, err
	}
	return acc.meta(), nil
}

// Field reads one property of the account (UserName, Address, ...) as
// CCP returns it. Content, the password, is not a field.
func (s *Store) Field(ctx context.Context, ref secretstore.Ref, field string) (string, error) {
	if strings.EqualFold(field, "Content") {
		return "", &secretstore.RefError{Ref: ref.Name, Rule: "Content is the password: read it as a secret"}
	}
	acc, err := s.account(ctx, "get "+field+" of", ref)
	if err != nil {
		return "", err
	}
	for k, v := range acc.props {
		if strings.EqualFold(k, field) {
			return v, nil
		}
	}
	return "", &Error{Op: "get " + field + " of", Ref: ref.Name, Status: http.StatusOK, kind: secretstore.ErrNotFound,
		what: "the account has no property " + field}
}

// account is one GetPassword answer: the password and the other
// properties, all strings.
type account struct {
	content string
	props   map[string]string
}

func (a account) meta() secretstore.Meta {
	m := secretstore.Meta{Enabled: true, Props: a.props}
	if secs, err := strconv.ParseInt(a.props["LastSuccessChange"], 10, 64); err == nil && secs > 0 {
		m.UpdatedAt = time.Unix(secs, 0).UTC()
	}
	return m
}

// account reads the account ref names, asking again with back-off while
// the CPM is changing its password, as long as the next try can start
// before the deadline: the caller's, or the settings' timeout.
func (s *Store) account(ctx context.Context, op string, ref secretstore.Ref) (account, error) {
	if ref.Version != "" {
		return account{}, &Error{Op: op, Ref: ref.String(), kind: secretstore.ErrNotFound, what: "CCP keeps no versions of a password"}
	}
	l, err := s.locate(ref.Name)
	if err != nil {
		return account{}, err
	}
	if err := ctx.Err(); err != nil {
		return account{}, fmt.Errorf("cyberarkccp: %s %s: %w", op, ref.Name, err)
	}
	if s.caErr != nil {
		return account{}, &Error{Op: op, Ref: ref.Name, kind: secretstore.ErrUnavailable, what: s.caErr.Error(), hint: caHint}
	}
	if _, err := s.keys.load(); err != nil {
		return account{}, &Error{Op: op, Ref: ref.Name, kind: secretstore.ErrUnavailable, what: err.Error(), hint: keyHint}
	}
	deadline, ok := ctx.Deadline()
	if !ok {
		deadline = time.Now().Add(s.settings.timeout())
	}
	query := encode(s.values(l))
	delay := s.retryDelay
	for {
		acc, err := s.try(ctx, op, ref.Name, query)
		var ce *Error
		if !errors.As(err, &ce) || !ce.changing {
			return acc, err
		}
		if time.Until(deadline) <= delay {
			return account{}, err
		}
		t := time.NewTimer(delay)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return account{}, s.contextError(op, ref.Name, ctx.Err())
		}
		delay = min(2*delay, maxRetryDelay)
	}
}

// try sends one GetPassword request.
func (s *Store) try(ctx context.Context, op, ref, query string) (account, error) {
	select {
	case s.slots <- struct{}{}:
		defer func() { <-s.slots }()
	case <-ctx.Done():
		return account{}, s.contextError(op, ref, ctx.Err())
	}
	ctx, cancel := context.WithTimeout(ctx, s.settings.timeout())
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, s.endpoint+"?"+query, nil)
	if err != nil {
		return account{}, &Error{Op: op, Ref: ref, kind: secretstore.ErrUnavailable, what: "cannot build the request"}
	}
	req.Header.Set("Accept", "application/json")
	resp, err := s.client.Do(req)
	if err != nil {
		return account{}, s.transportError(ctx, op, ref, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxAnswer))
	if err != nil {
		return account{}, s.transportError(ctx, op, ref, err)
	}
	if resp.StatusCode == http.StatusOK {
		return s.answer(op, ref, body)
	}
	return account{}, s.refusal(op, ref, resp, body)
}

// answer decodes a 200: a JSON object whose values are strings.
func (s *Store) answer(op, ref string, body []byte) (account, error) {
	var raw map[string]any
	if err := json.Unmarshal(body, &raw); err != nil {
		return account{}, &Error{Op: op, Ref: ref, Status: http.StatusOK, kind: secretstore.ErrUnavailable,
			what: "CCP's answer is not a JSON object", hint: pathHint}
	}
	acc := account{props: make(map[string]string, len(raw))}
	content, found := raw["Content"].(string)
	for k, v := range raw {
		if k == "Content" {
			continue
		}
		if str, ok := v.(string); ok {
			acc.props[k] = str
		}
	}
	if strings.EqualFold(acc.props["PasswordChangeInProcess"], "true") {
		return account{}, &Error{Op: op, Ref: ref, Status: http.StatusOK, kind: secretstore.ErrUnavailable,
			what: "password change in progress", changing: true}
	}
	if !found {
		return account{}, &Error{Op: op, Ref: ref, Status: http.StatusOK, kind: secretstore.ErrUnavailable,
			what: "CCP's answer has no Content", hint: pathHint}
	}
	acc.content = content
	return acc, nil
}

// keyPair reads the client certificate and key, again when either file
// changes.
type keyPair struct {
	certFile, keyFile string
	// renewed runs when a changed key pair was loaded, so that open
	// connections made with the old one are not reused.
	renewed func()

	mu    sync.Mutex
	stamp string
	cert  *tls.Certificate
	err   error
}

func (k *keyPair) load() (*tls.Certificate, error) {
	stamp := fileStamp(k.certFile) + "|" + fileStamp(k.keyFile)
	k.mu.Lock()
	defer k.mu.Unlock()
	if stamp == k.stamp && (k.cert != nil || k.err != nil) {
		return k.cert, k.err
	}
	if k.stamp != "" && k.renewed != nil {
		defer k.renewed()
	}
	k.stamp = stamp
	c, err := tls.LoadX509KeyPair(k.certFile, k.keyFile)
	if err != nil {
		k.cert, k.err = nil, fmt.Errorf("cannot load the client certificate (%s) and key (%s): %s", k.certFile, k.keyFile, describeFileError(err))
		return nil, k.err
	}
	k.cert, k.err = &c, nil
	return k.cert, nil
}

func fileStamp(path string) string {
	fi, err := os.Stat(path)
	if err != nil {
		return "missing"
	}
	return fi.ModTime().String() + "/" + strconv.FormatInt(fi.Size(), 10)
}

// describeFileError says what went wrong with a file without quoting its
// content.
func describeFileError(err error) string {
	var pe *os.PathError
	if errors.As(err, &pe) {
		return pe.Op + " " + pe.Path + ": " + pe.Err.Error()
	}
	s := err.Error()
	if i := strings.IndexAny(s, "\r\n"); i >= 0 {
		s = s[:i]
	}
	if len(s) > 200 {
		s = s[:200] + "..."
	}
	return s
}

func loadCA(path string) (*x509.CertPool, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("cannot read caFile: %s", describeFileError(err))
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(b) {
		return nil, fmt.Errorf("caFile %s holds no PEM certificate", path)
	}
	return pool, nil
}
