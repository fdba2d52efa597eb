// Package fakeconjur emulates the parts of CyberArk Conjur's REST API that
// credflow uses, for tests: API-key authentication (POST
// /authn/{account}/{login}/authenticate, answering a signed access token
// in Conjur's JSON form), variable descriptions (GET
// /resources/{account}/variable/{id}) and secret reads (GET
// /secrets/{account}/variable/{id}[?version=N]), with Conjur's status codes
// and error bodies: 401 with no body for a refused API key or token, 404
// not_found both for a missing variable and for one the host has no
// privilege on, 403 with no body for a host that may see a variable but not
// execute it, and the last 20 versions kept.
//
// Tokens carry iat and exp, are checked on every request (signature and
// expiry), last 8 minutes unless SetTokenTTL shortens them, and can all be
// revoked at once (ExpireTokens), as when a token expires mid-run. Failures
// and latency can be injected per route, and every route is counted. It
// keeps everything in memory, knows no policies, users, other
// authenticators or batch reads, never logs, and is not for production.
package fakeconjur

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Routes, for Calls. A request counts for its route whatever the answer.
const (
	RouteStatus   = "status"   // GET /
	RouteAuthn    = "authn"    // POST /authn/{account}/{login}/authenticate
	RouteResource = "resource" // GET /resources/{account}/variable/{id}
	RouteSecret   = "secret"   // GET /secrets/{account}/variable/{id}
	RouteOther    = "other"    // anything else
)

// DefaultAccount is the account when Options names none.
const DefaultAccount = "conjur"

// maxVersions is how many versions of a variable Conjur keeps.
const maxVersions = 20

// Options describe the emulated server.
type Options struct {
	// Account is the Conjur account (default "conjur").
	Account string
	// TokenTTL is the access tokens' lifetime (default 8 minutes; whole
	// seconds, at least one).
	TokenTTL time.Duration
}

type variable struct {
	versions []string // values, oldest first; version i+1 is versions[i]
	first    int      // version number of versions[0]
	expires  *time.Time
}

type fault struct {
	remaining int // -1: until cleared
	status    int
}

// Server is the emulated Conjur. It is an http.Handler and safe for
// concurrent use.
type Server struct {
	account string
	key     []byte

	mu        sync.Mutex
	ttl       time.Duration
	hosts     map[string]string // login -> API key
	vars      map[string]*variable
	hidden    map[string]bool // variable ids no host has a privilege on
	noExecute map[string]bool // variable ids hosts may see but not fetch
	valid     map[string]bool // signatures of tokens not revoked
	calls     map[string]int
	faults    map[string]*fault
	latency   time.Duration
}

// New returns an emulated server.
func New(opts Options) *Server {
	acct := opts.Account
	if acct == "" {
		acct = DefaultAccount
	}
	ttl := opts.TokenTTL
	if ttl <= 0 {
		ttl = 8 * time.Minute
	}
	key := make([]byte, 32)
	_, _ = rand.Read(key)
	return &Server{account: acct, key: key, ttl: ttl,
		hosts: map[string]string{}, vars: map[string]*variable{}, hidden: map[string]bool{}, noExecute: map[string]bool{},
		valid: map[string]bool{}, calls: map[string]int{}, faults: map[string]*fault{}}
}

// Account is the emulated account.
func (s *Server) Account() string { return s.account }

// AddHost creates the role login (host/<id>, or a user id) and returns its
// new API key.
func (s *Server) AddHost(login string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	k := newAPIKey()
	s.hosts[login] = k
	return k
}

// RotateAPIKey gives login a new API key and returns it; the old one stops
// working at once, as in Conjur. Tokens already issued stay valid.
func (s *Server) RotateAPIKey(login string) string { return s.AddHost(login) }

// newAPIKey returns a key shaped like Conjur's (55 lowercase base32-ish
// characters).
func newAPIKey() string {
	b := make([]byte, 28)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)[:55]
}

// Set adds value as a new version of variable id, creating it, and returns
// the version.
func (s *Server) Set(id, value string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	v := s.vars[id]
	if v == nil {
		v = &variable{first: 1}
		s.vars[id] = v
	}
	v.versions = append(v.versions, value)
	if len(v.versions) > maxVersions {
		v.versions = v.versions[1:]
		v.first++
	}
	return strconv.Itoa(v.first + len(v.versions) - 1)
}

// Declare creates variable id with no value, as a policy does.
func (s *Server) Declare(id string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.vars[id] == nil {
		s.vars[id] = &variable{first: 1}
	}
}

// SetExpiry sets the variable's expiration, which its description shows.
func (s *Server) SetExpiry(id string, at time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if v := s.vars[id]; v != nil {
		at = at.UTC()
		v.expires = &at
	}
}

// Hide takes every privilege on variable id away from the hosts: Conjur
// then answers 404, as for a variable that does not exist.
func (s *Server) Hide(id string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.hidden[id] = true
}

// Deny leaves the hosts read but not execute on variable id: they see it,
// but fetching its value answers 403.
func (s *Server) Deny(id string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.noExecute[id] = true
}

// SetTokenTTL changes the lifetime of tokens issued from now on.
func (s *Server) SetTokenTTL(d time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.ttl = d
}

// ExpireTokens makes every token issued so far invalid: the next request
// with one is answered 401.
func (s *Server) ExpireTokens() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.valid = map[string]bool{}
}

// Fail answers the next n requests of route (-1: all, until cleared with
// n = 0) with status, and Conjur's body for it.
func (s *Server) Fail(route string, n, status int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if n == 0 {
		delete(s.faults, route)
		return
	}
	s.faults[route] = &fault{remaining: n, status: status}
}

// SetLatency delays every answer by d.
func (s *Server) SetLatency(d time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.latency = d
}

// Calls is how many requests route has had.
func (s *Server) Calls(route string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.calls[route]
}

// ResetCounters sets every route's count to zero.
func (s *Server) ResetCounters() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.calls = map[string]int{}
}

// ServeHTTP implements http.Handler.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	route, parts := s.route(r)
	s.mu.Lock()
	s.calls[route]++
	latency := s.latency
	var injected int
	if f := s.faults[route]; f != nil {
		injected = f.status
		if f.remaining > 0 {
			if f.remaining--; f.remaining == 0 {
				delete(s.faults, route)
			}
		}
	}
	s.mu.Unlock()
	if latency > 0 {
		select {
		case <-time.After(latency):
		case <-r.Context().Done():
			return
		}
	}
	if injected != 0 {
		s.writeStatus(w, injected, "injected failure")
		return
	}
	switch route {
	case RouteStatus:
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		_, _ = io.WriteString(w, "<!DOCTYPE html><html><head><title>Conjur Status</title></head><body><h1>Your Conjur server is running!</h1></body></html>\n")
	case RouteAuthn:
		s.authenticate(w, r, parts[0], parts[1])
	case RouteResource:
		s.resource(w, r, parts[0], parts[1])
	case RouteSecret:
		s.secret(w, r, parts[0], parts[1])
	default:
		s.writeStatus(w, http.StatusNotFound, "route not emulated")
	}
}

// route reads the escaped path: logins and ids arrive with '/' as %2F.
func (s *Server) route(r *http.Request) (string, []string) {
	p := strings.Split(strings.TrimPrefix(r.URL.EscapedPath(), "/"), "/")
	unescape := func(x string) (string, bool) {
		u, err := url.PathUnescape(x)
		return u, err == nil
	}
	switch {
	case r.Method == http.MethodGet && r.URL.EscapedPath() == "/":
		return RouteStatus, nil
	case r.Method == http.MethodPost && len(p) == 4 && p[0] == "authn" && p[3] == "authenticate":
		acct, ok1 := unescape(p[1])
		login, ok2 := unescape(p[2])
		if ok1 && ok2 {
			return RouteAuthn, []string{acct, login}
		}
	case r.Method == http.MethodGet && len(p) >= 4 && (p[0] == "resources" || p[0] == "secrets") && p[2] == "variable":
		acct, ok1 := unescape(p[1])
		id, ok2 := unescape(strings.Join(p[3:], "/"))
		if ok1 && ok2 {
			if p[0] == "resources" {
				return RouteResource, []string{acct, id}
			}
			return RouteSecret, []string{acct, id}
		}
	}
	return RouteOther, nil
}

func (s *Server) authenticate(w http.ResponseWriter, r *http.Request, acct, login string) {
	body, err := io.ReadAll(io.LimitReader(r.Body, 4096))
	if err != nil {
		s.writeStatus(w, http.StatusBadRequest, "")
		return
	}
	s.mu.Lock()
	want, ok := s.hosts[login]
	ttl := s.ttl
	s.mu.Unlock()
	if acct != s.account || !ok || !hmac.Equal([]byte(want), []byte(strings.TrimSpace(string(body)))) {
		// Conjur answers a wrong login, key or account alike.
		w.WriteHeader(http.StatusUnauthorized)
		return
	}
	tok := s.issue(login, ttl)
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write(tok)
}

// issue signs a token for login.
func (s *Server) issue(login string, ttl time.Duration) []byte {
	now := time.Now().Unix()
	secs := int64((ttl + time.Second - 1) / time.Second)
	secs = max(secs, 1)
	kid := make([]byte, 16)
	_, _ = rand.Read(kid)
	enc := base64.RawURLEncoding
	protected := enc.EncodeToString(fmt.Appendf(nil, `{"alg":"conjur.org/slosilo/v2","kid":"%s"}`, hex.EncodeToString(kid)))
	claims, _ := json.Marshal(map[string]any{"sub": login, "iat": now, "exp": now + secs})
	payload := enc.EncodeToString(claims)
	sig := s.sign(protected + "." + payload)
	s.mu.Lock()
	s.valid[sig] = true
	s.mu.Unlock()
	out, _ := json.Marshal(map[string]string{"protected": protected, "payload": payload, "signature": sig})
	return out
}

func (s *Server) sign(data string) string {
	m := hmac.New(sha256.New, s.key)
	m.Write([]byte(data))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

// authorized checks the request's Token header: a token this server
// signed, not revoked, not expired. It returns the token's login.
func (s *Server) authorized(r *http.Request) (string, bool) {
	h := r.Header.Get("Authorization")
	rest, ok := strings.CutPrefix(h, `Token token="`)
	if !ok || !strings.HasSuffix(rest, `"`) {
		return "", false
	}
	raw, err := base64.StdEncoding.DecodeString(strings.TrimSuffix(rest, `"`))
	if err != nil {
		return "", false
	}
	var t struct{ Protected, Payload, Signature string }
	if json.Unmarshal(raw, &t) != nil || !hmac.Equal([]byte(s.sign(t.Protected+"."+t.Payload)), []byte(t.Signature)) {
		return "", false
	}
	p, err := base64.RawURLEncoding.DecodeString(t.Payload)
	var c struct {
		Sub string `json:"sub"`
		Exp int64  `json:"exp"`
	}
	if err != nil || json.Unmarshal(p, &c) != nil || time.Now().Unix() >= c.Exp {
		return "", false
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return c.Sub, s.valid[t.Signature]
}

func (s *Server) resource(w http.ResponseWriter, r *http.Request, acct, id string) {
	if _, ok := s.authorized(r); !ok {
		w.WriteHeader(http.StatusUnauthorized)
		return
	}
	s.mu.Lock()
	v := s.vars[id]
	hidden := s.hidden[id]
	type secret struct {
		Version   int        `json:"version"`
		ExpiresAt *time.Time `json:"expires_at"`
	}
	var secrets []secret
	if v != nil {
		for i := range v.versions {
			sec := secret{Version: v.first + i}
			if i == len(v.versions)-1 {
				sec.ExpiresAt = v.expires
			}
			secrets = append(secrets, sec)
		}
	}
	s.mu.Unlock()
	full := s.account + ":variable:" + id
	if acct != s.account || v == nil || hidden {
		s.writeJSON(w, http.StatusNotFound, map[string]any{"error": map[string]any{
			"code": "not_found", "message": fmt.Sprintf("Variable '%s' not found in account '%s'", id, acct), "target": "variable",
			"details": map[string]string{"code": "not_found", "target": "id", "message": full}}})
		return
	}
	if secrets == nil {
		secrets = []secret{}
	}
	s.writeJSON(w, http.StatusOK, map[string]any{
		"created_at": time.Now().UTC().Format(time.RFC3339Nano), "id": full,
		"owner": s.account + ":policy:root", "policy": s.account + ":policy:root",
		"permissions": []any{}, "annotations": []any{}, "secrets": secrets})
}

func (s *Server) secret(w http.ResponseWriter, r *http.Request, acct, id string) {
	if _, ok := s.authorized(r); !ok {
		w.WriteHeader(http.StatusUnauthorized)
		return
	}
	full := s.account + ":variable:" + id
	missing := func() {
		s.writeJSON(w, http.StatusNotFound, map[string]any{"error": map[string]any{
			"code": "not_found", "message": fmt.Sprintf("CONJ00076E Variable %s is empty or not found.", full)}})
	}
	s.mu.Lock()
	v := s.vars[id]
	hidden, denied := s.hidden[id], s.noExecute[id]
	var value string
	found := false
	q := r.URL.Query().Get("version")
	if v != nil && len(v.versions) > 0 {
		n := v.first + len(v.versions) - 1
		if q != "" {
			var err error
			if n, err = strconv.Atoi(q); err != nil {
				s.mu.Unlock()
				s.writeJSON(w, http.StatusUnprocessableEntity, map[string]any{"error": map[string]any{
					"code": "argument_error", "message": "invalid value for Integer(): " + strconv.Quote(q)}})
				return
			}
		}
		if i := n - v.first; i >= 0 && i < len(v.versions) {
			value, found = v.versions[i], true
		}
	}
	s.mu.Unlock()
	switch {
	case acct != s.account || v == nil || hidden:
		missing()
	case denied:
		w.WriteHeader(http.StatusForbidden)
	case !found:
		missing()
	default:
		w.Header().Set("Content-Type", "application/octet-stream")
		_, _ = io.WriteString(w, value)
	}
}

// writeStatus answers status the way Conjur does: 401 and 403 with no
// body, others with its error JSON.
func (s *Server) writeStatus(w http.ResponseWriter, status int, msg string) {
	switch status {
	case http.StatusUnauthorized, http.StatusForbidden:
		w.WriteHeader(status)
		return
	case http.StatusTooManyRequests:
		w.Header().Set("Retry-After", "1")
	}
	s.writeJSON(w, status, map[string]any{"error": map[string]any{"code": strings.ReplaceAll(strings.ToLower(http.StatusText(status)), " ", "_"), "message": msg}})
}

func (s *Server) writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}
