// Package fakevault is a HashiCorp Vault server for tests: an HTTP handler
// speaking the parts of Vault's API that credflow uses, with the answers,
// error bodies and status codes Vault sends. It serves a KV version 2
// mount (versions, soft-deleted and destroyed versions), token
// authentication (tokens with a TTL that may be renewable, lookup-self,
// renew-self, revocation), AppRole login with secret ids that can be
// revoked, namespaces (X-Vault-Namespace), the health endpoint, and it has
// fault switches and call counters.
//
// It is not a Vault: there are no policies beyond a list of denied paths,
// no leases other than tokens', and no writes through the API.
package fakevault

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Endpoint names a group of requests, for fault switches and counters.
type Endpoint string

// The endpoints.
const (
	Read   Endpoint = "kv read"
	Login  Endpoint = "approle login"
	Lookup Endpoint = "token lookup-self"
	Renew  Endpoint = "token renew-self"
	Health Endpoint = "health"
)

// Options configure a fake server.
type Options struct {
	// Mount is the KV version 2 mount path (default secret).
	Mount string
	// AppRoleMount is the AppRole auth mount path (default approle).
	AppRoleMount string
	// Namespace, when set, is the only namespace the server has: requests
	// must name it in X-Vault-Namespace, and its tokens are valid only in
	// it.
	Namespace string
	// LoginTTL is the lease of tokens an AppRole login issues (default
	// 1h); they are renewable up to LoginMaxTTL (default: without limit).
	LoginTTL    time.Duration
	LoginMaxTTL time.Duration
	// Now is the clock (default time.Now).
	Now func() time.Time
}

// TokenSpec describes a token the test creates.
type TokenSpec struct {
	TTL         time.Duration // 0: the token does not expire
	MaxTTL      time.Duration // 0: renewals without limit
	Renewable   bool
	DisplayName string
	Policies    []string
}

type tokenInfo struct {
	spec      TokenSpec
	namespace string
	issued    time.Time
	expires   time.Time // zero: never
	accessor  string
	role      string
}

type version struct {
	data      map[string]any
	created   time.Time
	deleted   time.Time
	destroyed bool
}

type role struct {
	name      string
	policies  []string
	secretIDs map[string]bool // secret id -> revoked
}

// Server is the fake. It is safe for concurrent use.
type Server struct {
	opts Options

	mu      sync.Mutex
	secrets map[string][]*version
	tokens  map[string]*tokenInfo
	roles   map[string]*role // by role id
	denied  map[string]bool
	faults  map[Endpoint]int
	calls   map[Endpoint]int
	seen    map[string]bool // tokens presented
	nsSeen  map[string]bool // namespaces presented
	sealed  bool
}

// Seal seals (or unseals) the server: its health says so, and every other
// request answers 503 "Vault is sealed".
func (s *Server) Seal(sealed bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.sealed = sealed
}

// New returns a fake server.
func New(opts Options) *Server {
	if opts.Mount == "" {
		opts.Mount = "secret"
	}
	if opts.AppRoleMount == "" {
		opts.AppRoleMount = "approle"
	}
	if opts.LoginTTL == 0 {
		opts.LoginTTL = time.Hour
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	return &Server{opts: opts, secrets: map[string][]*version{}, tokens: map[string]*tokenInfo{}, roles: map[string]*role{},
		denied: map[string]bool{}, faults: map[Endpoint]int{}, calls: map[Endpoint]int{}, seen: map[string]bool{}, nsSeen: map[string]bool{}}
}

func random(prefix string) string {
	var b [12]byte
	_, _ = rand.Read(b[:])
	return prefix + hex.EncodeToString(b[:])
}

// Put stores a new version of the secret at path with data and returns
// its number.
func (s *Server) Put(path string, data map[string]string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	d := make(map[string]any, len(data))
	for k, v := range data {
		d[k] = v
	}
	s.secrets[path] = append(s.secrets[path], &version{data: d, created: s.opts.Now().UTC()})
	return len(s.secrets[path])
}

// PutRaw stores a new version whose data is any JSON object.
func (s *Server) PutRaw(path string, data map[string]any) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.secrets[path] = append(s.secrets[path], &version{data: data, created: s.opts.Now().UTC()})
	return len(s.secrets[path])
}

// DeleteVersion soft-deletes a version (vault kv delete -versions=N).
func (s *Server) DeleteVersion(path string, v int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.secrets[path][v-1].deleted = s.opts.Now().UTC()
}

// DestroyVersion destroys a version's data for good (vault kv destroy).
func (s *Server) DestroyVersion(path string, v int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.secrets[path][v-1].destroyed = true
	s.secrets[path][v-1].data = nil
}

// Deny makes every token's policies refuse reads of path.
func (s *Server) Deny(path string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.denied[path] = true
}

// CreateToken issues a token (in the server's namespace) and returns it.
func (s *Server) CreateToken(spec TokenSpec) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.issue(spec, "")
}

func (s *Server) issue(spec TokenSpec, roleName string) string {
	tok := random("hvs.")
	now := s.opts.Now()
	ti := &tokenInfo{spec: spec, namespace: s.opts.Namespace, issued: now, accessor: random(""), role: roleName}
	if spec.TTL > 0 {
		ti.expires = now.Add(spec.TTL)
	}
	s.tokens[tok] = ti
	return tok
}

// RevokeToken revokes a token.
func (s *Server) RevokeToken(tok string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.tokens, tok)
}

// ExpireTokens makes every token issued so far expire now.
func (s *Server) ExpireTokens() {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.opts.Now()
	for _, ti := range s.tokens {
		ti.expires = now
	}
}

// AddRole creates an AppRole role and returns its role id.
func (s *Server) AddRole(name string, policies ...string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	id := random("role-")
	s.roles[id] = &role{name: name, policies: policies, secretIDs: map[string]bool{}}
	return id
}

// NewSecretID generates a secret id for the role.
func (s *Server) NewSecretID(roleID string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	id := random("sid-")
	s.roles[roleID].secretIDs[id] = false
	return id
}

// RevokeSecretID revokes (destroys) a secret id: later logins with it
// fail; tokens it already gave stay valid.
func (s *Server) RevokeSecretID(roleID, secretID string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.roles[roleID].secretIDs[secretID] = true
}

// Fail makes every request to ep answer status (a 5xx, 429, ...) until
// Fail(ep, 0).
func (s *Server) Fail(ep Endpoint, status int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults[ep] = status
}

// Calls returns how many requests ep has served.
func (s *Server) Calls(ep Endpoint) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.calls[ep]
}

// SawToken reports whether any request presented tok.
func (s *Server) SawToken(tok string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.seen[tok]
}

// Namespaces returns the X-Vault-Namespace values requests carried ("" for
// none).
func (s *Server) Namespaces() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []string
	for ns := range s.nsSeen {
		out = append(out, ns)
	}
	return out
}

// ServeHTTP implements http.Handler.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	ns := strings.Trim(r.Header.Get("X-Vault-Namespace"), "/")
	s.nsSeen[ns] = true
	tok := r.Header.Get("X-Vault-Token")
	if tok == "" {
		tok, _ = strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	}
	if tok != "" {
		s.seen[tok] = true
	}
	path := strings.TrimPrefix(r.URL.Path, "/v1/")
	ep := s.endpoint(r.Method, path)
	if ep == "" {
		writeErrors(w, http.StatusNotFound, fmt.Sprintf("no handler for route %q. route entry not found.", path))
		return
	}
	s.calls[ep]++
	if st := s.faults[ep]; st != 0 {
		writeErrors(w, st, http.StatusText(st))
		return
	}
	if ep == Health {
		writeJSON(w, http.StatusOK, map[string]any{"initialized": true, "sealed": s.sealed, "standby": false,
			"performance_standby": false, "server_time_utc": s.opts.Now().Unix(), "version": "1.17.6", "cluster_name": "vault-cluster-fake"})
		return
	}
	if s.sealed {
		writeErrors(w, http.StatusServiceUnavailable, "Vault is sealed")
		return
	}
	if ns != s.opts.Namespace {
		// Another namespace has none of this one's mounts or tokens.
		if ep == Login {
			writeErrors(w, http.StatusNotFound, fmt.Sprintf("no handler for route %q. route entry not found.", path))
			return
		}
		writeErrors(w, http.StatusForbidden, "permission denied", "invalid token")
		return
	}
	switch ep {
	case Login:
		s.login(w, r)
		return
	}
	ti := s.valid(tok, ns)
	if ti == nil {
		writeErrors(w, http.StatusForbidden, "permission denied", "invalid token")
		return
	}
	switch ep {
	case Lookup:
		s.lookup(w, tok, ti)
	case Renew:
		s.renew(w, r, tok, ti)
	case Read:
		s.read(w, r, strings.TrimPrefix(path, s.opts.Mount+"/data/"))
	}
}

func (s *Server) endpoint(method, path string) Endpoint {
	post := method == http.MethodPost || method == http.MethodPut
	switch {
	case path == "sys/health" && (method == http.MethodGet || method == http.MethodHead):
		return Health
	case path == "auth/"+s.opts.AppRoleMount+"/login" && post:
		return Login
	case path == "auth/token/lookup-self" && method == http.MethodGet:
		return Lookup
	case path == "auth/token/renew-self" && post:
		return Renew
	case strings.HasPrefix(path, s.opts.Mount+"/data/") && method == http.MethodGet:
		return Read
	}
	return ""
}

func (s *Server) valid(tok, ns string) *tokenInfo {
	ti := s.tokens[tok]
	if ti == nil || ti.namespace != ns || (!ti.expires.IsZero() && !s.opts.Now().Before(ti.expires)) {
		return nil
	}
	return ti
}

func (s *Server) login(w http.ResponseWriter, r *http.Request) {
	var body struct {
		RoleID   string `json:"role_id"`
		SecretID string `json:"secret_id"`
	}
	if err := json.NewDecoder(r.Body).Decode(&body); err != nil {
		writeErrors(w, http.StatusBadRequest, "failed to parse JSON input")
		return
	}
	rl := s.roles[body.RoleID]
	if rl == nil {
		writeErrors(w, http.StatusBadRequest, "invalid role or secret ID")
		return
	}
	if revoked, ok := rl.secretIDs[body.SecretID]; !ok || revoked {
		writeErrors(w, http.StatusBadRequest, "invalid role or secret ID")
		return
	}
	spec := TokenSpec{TTL: s.opts.LoginTTL, MaxTTL: s.opts.LoginMaxTTL, Renewable: true, DisplayName: "approle", Policies: append([]string{"default"}, rl.policies...)}
	tok := s.issue(spec, rl.name)
	ti := s.tokens[tok]
	writeJSON(w, http.StatusOK, map[string]any{
		"request_id": random(""), "lease_id": "", "renewable": false, "lease_duration": 0, "data": nil, "wrap_info": nil, "warnings": nil,
		"auth": map[string]any{"client_token": tok, "accessor": ti.accessor, "policies": spec.Policies, "token_policies": spec.Policies,
			"metadata": map[string]string{"role_name": rl.name}, "lease_duration": int(spec.TTL.Seconds()), "renewable": true,
			"entity_id": "", "token_type": "service", "orphan": true, "mfa_requirement": nil, "num_uses": 0},
	})
}

func (s *Server) ttlOf(ti *tokenInfo) int {
	if ti.expires.IsZero() {
		return 0
	}
	return int(ti.expires.Sub(s.opts.Now()).Seconds())
}

func (s *Server) lookup(w http.ResponseWriter, tok string, ti *tokenInfo) {
	var expire any
	if !ti.expires.IsZero() {
		expire = ti.expires.UTC().Format(time.RFC3339Nano)
	}
	meta := map[string]string(nil)
	if ti.role != "" {
		meta = map[string]string{"role_name": ti.role}
	}
	writeJSON(w, http.StatusOK, map[string]any{
		"request_id": random(""), "lease_id": "", "renewable": false, "lease_duration": 0, "wrap_info": nil, "warnings": nil, "auth": nil,
		"data": map[string]any{"accessor": ti.accessor, "creation_time": ti.issued.Unix(), "creation_ttl": int(ti.spec.TTL.Seconds()),
			"display_name": "token-" + ti.spec.DisplayName, "entity_id": "", "expire_time": expire, "explicit_max_ttl": 0, "id": tok,
			"issue_time": ti.issued.UTC().Format(time.RFC3339Nano), "meta": meta, "num_uses": 0, "orphan": true, "path": "auth/token/create",
			"policies": ti.spec.Policies, "renewable": ti.spec.Renewable, "ttl": s.ttlOf(ti), "type": "service"},
	})
}

func (s *Server) renew(w http.ResponseWriter, r *http.Request, tok string, ti *tokenInfo) {
	if !ti.spec.Renewable {
		writeErrors(w, http.StatusBadRequest, "lease is not renewable")
		return
	}
	var body struct {
		Increment json.Number `json:"increment"`
	}
	_ = json.NewDecoder(r.Body).Decode(&body)
	inc := ti.spec.TTL
	if n, err := body.Increment.Int64(); err == nil && n > 0 {
		inc = time.Duration(n) * time.Second
	}
	now := s.opts.Now()
	ti.expires = now.Add(inc)
	if ti.spec.MaxTTL > 0 && ti.expires.After(ti.issued.Add(ti.spec.MaxTTL)) {
		ti.expires = ti.issued.Add(ti.spec.MaxTTL)
	}
	writeJSON(w, http.StatusOK, map[string]any{
		"request_id": random(""), "lease_id": "", "renewable": false, "lease_duration": 0, "data": nil, "wrap_info": nil, "warnings": nil,
		"auth": map[string]any{"client_token": tok, "accessor": ti.accessor, "policies": ti.spec.Policies, "token_policies": ti.spec.Policies,
			"lease_duration": s.ttlOf(ti), "renewable": true, "token_type": "service"},
	})
}

func (s *Server) read(w http.ResponseWriter, r *http.Request, path string) {
	if s.denied[path] {
		writeErrors(w, http.StatusForbidden, "permission denied")
		return
	}
	versions := s.secrets[path]
	n := len(versions)
	if q := r.URL.Query().Get("version"); q != "" && q != "0" {
		v, err := strconv.Atoi(q)
		if err != nil {
			writeErrors(w, http.StatusBadRequest, "invalid version")
			return
		}
		n = v
	}
	if n < 1 || n > len(versions) {
		writeJSON(w, http.StatusNotFound, map[string]any{"errors": []string{}})
		return
	}
	v := versions[n-1]
	deletion := ""
	if !v.deleted.IsZero() {
		deletion = v.deleted.Format(time.RFC3339Nano)
	}
	meta := map[string]any{"created_time": v.created.Format(time.RFC3339Nano), "custom_metadata": nil,
		"deletion_time": deletion, "destroyed": v.destroyed, "version": n}
	body := map[string]any{"request_id": random(""), "lease_id": "", "renewable": false, "lease_duration": 0,
		"wrap_info": nil, "warnings": nil, "auth": nil, "mount_type": "kv"}
	if !v.deleted.IsZero() || v.destroyed {
		// Vault answers 404 with the metadata and null data.
		body["data"] = map[string]any{"data": nil, "metadata": meta}
		writeJSON(w, http.StatusNotFound, body)
		return
	}
	body["data"] = map[string]any{"data": v.data, "metadata": meta}
	writeJSON(w, http.StatusOK, body)
}

// writeErrors writes Vault's error body. Several messages are joined as
// Vault's multierror does: "2 errors occurred:\n\t* a\n\t* b\n\n".
func writeErrors(w http.ResponseWriter, status int, msgs ...string) {
	msg := msgs[0]
	if len(msgs) > 1 {
		msg = fmt.Sprintf("%d errors occurred:\n", len(msgs))
		for _, m := range msgs {
			msg += "\t* " + m + "\n"
		}
		msg += "\n"
	} else if status == http.StatusForbidden {
		msg = "1 error occurred:\n\t* " + msg + "\n\n"
	}
	writeJSON(w, status, map[string]any{"errors": []string{msg}})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}
