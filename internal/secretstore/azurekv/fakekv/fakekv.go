// Package fakekv emulates the secrets data plane of Azure Key Vault, for
// tests and for trying credflow without an Azure subscription. It speaks
// the documented wire protocol, so that the real Azure SDK for Go talks to
// it unchanged: the unauthenticated first request answered with a 401
// Bearer challenge naming the tenant and resource; get (latest or one
// version), list versions, set and update attributes; SecretBundle JSON;
// the 403s Key Vault sends (ForbiddenByRbac per secret, AccessDenied,
// ForbiddenByFirewall, SecretDisabled), 404 SecretNotFound and 429 with or
// without Retry-After. Latency and failures can be injected, every route
// is counted (calls and requests in flight), and an App Service–style
// managed-identity token endpoint (IDENTITY_ENDPOINT / IDENTITY_HEADER) can
// hand out tokens or be switched down.
//
// It accepts any bearer token: it checks no signature, only, when the token
// is a JWT, that its tenant and audience are the vault's, as Key Vault
// does. It keeps secrets in memory, has no deleted-secret lifecycle,
// certificates, keys, or control plane, and is not for production.
//
// Server is the emulator (an http.Handler for the vault, and
// IdentityHandler for the token endpoint); Start runs both on loopback for
// a test, over TLS with a generated certificate; cmd/kvemulator runs them
// as a development server.
package fakekv

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Defaults describing the emulated vault. The tenant is the one the 401
// challenge names; the rest appear in error messages and resource paths.
const (
	DefaultTenantID       = "11111111-2222-3333-4444-555555555555"
	DefaultSubscriptionID = "00000000-1111-2222-3333-444444444444"
	DefaultResourceGroup  = "credflow-dev"
	DefaultVaultName      = "emulator"
)

// Routes, for Calls and MaxInFlight. A request counts for its route
// whatever the answer, including the 401 challenge; RouteChallenge counts
// the challenges alone.
const (
	RouteGet       = "get"       // GET /secrets/{name}[/{version}]
	RouteVersions  = "versions"  // GET /secrets/{name}/versions
	RouteSet       = "set"       // PUT /secrets/{name}
	RouteUpdate    = "update"    // PATCH /secrets/{name}/{version}
	RouteChallenge = "challenge" // any request answered with the 401 challenge
	RouteToken     = "token"     // the managed-identity token endpoint
	RouteOther     = "other"     // operations the emulator does not implement
)

// MaxValueBytes is Key Vault's limit on a secret value.
const MaxValueBytes = 25 * 1024

// Options describe the emulated vault and identity. The zero value uses the
// defaults above.
type Options struct {
	// TenantID is the vault's tenant, named in the 401 challenge.
	TenantID string
	// AuthorityHost overrides the Entra ID host in the challenge (default:
	// the cloud's, from the request's host name, e.g.
	// https://login.microsoftonline.com).
	AuthorityHost string
	// SubscriptionID, ResourceGroup and VaultName describe the vault in
	// error messages, as Key Vault's 403s do.
	SubscriptionID, ResourceGroup, VaultName string
	// Identity is the managed identity the token endpoint issues tokens
	// for when the request names no client_id. Empty fields are generated.
	Identity Identity
	// IdentityHeader is the secret the token endpoint expects in
	// X-IDENTITY-HEADER (IDENTITY_HEADER). Empty: generated.
	IdentityHeader string
}

// Identity is a managed identity: its application (client) id and object
// id.
type Identity struct {
	ClientID string
	ObjectID string
}

// Spec describes a secret version to create.
type Spec struct {
	Value       string
	ContentType string
	Tags        map[string]string
	// Disabled creates the version disabled.
	Disabled bool
	// NotBefore and Expires are the nbf and exp attributes; zero: unset.
	NotBefore, Expires time.Time
	// Version pins the version identifier (32 hex digits); empty: random.
	Version string
}

// TokenInfo is what the vault learnt from a bearer token it accepted or
// refused: the claims of a JWT, empty for opaque tokens.
type TokenInfo struct {
	TenantID string
	Audience string
	AppID    string
	ObjectID string
}

// IdentityRequest is one token request the managed-identity endpoint
// received.
type IdentityRequest struct {
	Resource string
	ClientID string
	OK       bool
}

// Server is the emulator. Its methods are safe for concurrent use.
type Server struct {
	opts Options

	mu         sync.Mutex
	secrets    map[string]*secret // by lower-case name
	denied     map[string]bool    // lower-case names refused with ForbiddenByRbac
	firewall   bool
	accessDeny bool
	throttle   struct {
		left       int // < 0: until cleared
		retryAfter time.Duration
		header     bool
	}
	fail struct {
		left   int
		status int
	}
	latency      time.Duration
	challenge    string // replaces the standard challenge when set
	identityDown bool
	calls        map[string]int64
	inflight     map[string]int
	maxInflight  map[string]int
	secretCalls  map[string]int64 // reads (RouteGet) by lower-case name
	secretIn     map[string]int
	secretMax    map[string]int
	tokens       []TokenInfo
	identityReqs []IdentityRequest
}

type secret struct {
	name     string
	versions []*version // oldest first; the last is the latest
}

type version struct {
	id          string
	value       string
	contentType string
	tags        map[string]string
	enabled     bool
	nbf, exp    *int64
	created     int64
	updated     int64
}

// New returns an empty emulator.
func New(opts Options) *Server {
	if opts.TenantID == "" {
		opts.TenantID = DefaultTenantID
	}
	if opts.SubscriptionID == "" {
		opts.SubscriptionID = DefaultSubscriptionID
	}
	if opts.ResourceGroup == "" {
		opts.ResourceGroup = DefaultResourceGroup
	}
	if opts.VaultName == "" {
		opts.VaultName = DefaultVaultName
	}
	if opts.Identity.ClientID == "" {
		opts.Identity.ClientID = newUUID()
	}
	if opts.Identity.ObjectID == "" {
		opts.Identity.ObjectID = newUUID()
	}
	if opts.IdentityHeader == "" {
		opts.IdentityHeader = randomHex(16)
	}
	return &Server{
		opts:        opts,
		secrets:     map[string]*secret{},
		denied:      map[string]bool{},
		calls:       map[string]int64{},
		inflight:    map[string]int{},
		maxInflight: map[string]int{},
		secretCalls: map[string]int64{},
		secretIn:    map[string]int{},
		secretMax:   map[string]int{},
	}
}

// TenantID is the vault's tenant.
func (s *Server) TenantID() string { return s.opts.TenantID }

// Identity is the system-assigned identity of the token endpoint.
func (s *Server) Identity() Identity { return s.opts.Identity }

// IdentityHeader is the value IDENTITY_HEADER must hold.
func (s *Server) IdentityHeader() string { return s.opts.IdentityHeader }

// Set adds a version holding value to the secret name, creating it, and
// returns the version. It panics on an invalid name or value: it is for
// seeding tests.
func (s *Server) Set(name, value string) string {
	v, err := s.Put(name, Spec{Value: value})
	if err != nil {
		panic(err)
	}
	return v
}

// Put adds a version described by spec to the secret name and returns the
// version.
func (s *Server) Put(name string, spec Spec) (string, error) {
	if !validName(name) {
		return "", fmt.Errorf("fakekv: invalid secret name %q: 1-127 characters of 0-9, a-z, A-Z and '-'", name)
	}
	if len(spec.Value) > MaxValueBytes {
		return "", fmt.Errorf("fakekv: value of %s is %d bytes, over Key Vault's %d", name, len(spec.Value), MaxValueBytes)
	}
	id := strings.ToLower(spec.Version)
	if id == "" {
		id = randomHex(16)
	} else if !versionRule.MatchString(id) {
		return "", fmt.Errorf("fakekv: invalid version %q for %s: 32 hexadecimal digits", spec.Version, name)
	}
	now := time.Now().Unix()
	v := &version{id: id, value: spec.Value, contentType: spec.ContentType, tags: spec.Tags,
		enabled: !spec.Disabled, created: now, updated: now}
	if !spec.NotBefore.IsZero() {
		t := spec.NotBefore.Unix()
		v.nbf = &t
	}
	if !spec.Expires.IsZero() {
		t := spec.Expires.Unix()
		v.exp = &t
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	sec := s.secrets[strings.ToLower(name)]
	if sec == nil {
		sec = &secret{name: name}
		s.secrets[strings.ToLower(name)] = sec
	}
	for _, old := range sec.versions {
		if old.id == id {
			return "", fmt.Errorf("fakekv: %s already has version %s", name, id)
		}
	}
	sec.versions = append(sec.versions, v)
	return id, nil
}

// SetEnabled enables or disables one version of a secret ("" for the
// latest), as PATCH does. It reports whether the version exists.
func (s *Server) SetEnabled(name, ver string, enabled bool) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	v := s.lookup(name, ver)
	if v == nil {
		return false
	}
	v.enabled = enabled
	v.updated = time.Now().Unix()
	return true
}

// Disable disables one version of a secret; see SetEnabled.
func (s *Server) Disable(name, ver string) bool { return s.SetEnabled(name, ver, false) }

// Deny makes the vault refuse every request for the secret name with 403
// ForbiddenByRbac, as when credflow's identity has no role on it. Allow
// lifts it.
func (s *Server) Deny(name string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.denied[strings.ToLower(name)] = true
}

// Allow lifts Deny.
func (s *Server) Allow(name string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.denied, strings.ToLower(name))
}

// SetFirewallDenied makes the vault refuse every authenticated request with
// 403 ForbiddenByFirewall, as a vault whose network rules exclude the
// caller does.
func (s *Server) SetFirewallDenied(on bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.firewall = on
}

// SetAccessPolicyDenied makes the vault refuse every secret operation with
// 403 AccessDenied, as a vault on the access-policy model does for an
// identity without the Get permission.
func (s *Server) SetAccessPolicyDenied(on bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.accessDeny = on
}

// Throttle answers the next n requests (n < 0: every request until
// Throttle(0, 0)) with 429 Throttled. A positive retryAfter is sent as
// Retry-After in whole seconds, rounded up; zero sends no Retry-After, as
// Key Vault has been seen to do.
func (s *Server) Throttle(n int, retryAfter time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.throttle.left, s.throttle.retryAfter, s.throttle.header = n, retryAfter, retryAfter > 0
}

// Fail answers the next n requests (n < 0: all until Fail(0, 0)) with
// status, a 5xx for an outage.
func (s *Server) Fail(n, status int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.fail.left, s.fail.status = n, status
}

// SetLatency delays every vault request by d (less if the client gives up).
func (s *Server) SetLatency(d time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.latency = d
}

// SetChallenge replaces the WWW-Authenticate header of the 401 challenge
// with h ("" restores the standard one), to test clients against
// malformed challenges.
func (s *Server) SetChallenge(h string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.challenge = h
}

// SetIdentityDown makes the managed-identity endpoint drop every connection
// without an answer, as a dead endpoint does (or serve again).
func (s *Server) SetIdentityDown(down bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.identityDown = down
}

// Calls is the number of requests route received.
func (s *Server) Calls(route string) int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.calls[route]
}

// MaxInFlight is the largest number of requests of route served at once.
func (s *Server) MaxInFlight(route string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.maxInflight[route]
}

// SecretReads is the number of reads (RouteGet requests) of one secret.
func (s *Server) SecretReads(name string) int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.secretCalls[strings.ToLower(name)]
}

// SecretMaxInFlight is the largest number of reads of one secret served at
// once.
func (s *Server) SecretMaxInFlight(name string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.secretMax[strings.ToLower(name)]
}

// ResetCounters zeroes every counter.
func (s *Server) ResetCounters() {
	s.mu.Lock()
	defer s.mu.Unlock()
	clear(s.calls)
	clear(s.maxInflight)
	clear(s.secretCalls)
	clear(s.secretMax)
	for k, n := range s.inflight {
		s.maxInflight[k] = n
	}
	for k, n := range s.secretIn {
		s.secretMax[k] = n
	}
}

// Tokens lists the distinct bearer tokens' claims the vault has seen, in
// order of first use.
func (s *Server) Tokens() []TokenInfo {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]TokenInfo(nil), s.tokens...)
}

// IdentityRequests lists the token requests the managed-identity endpoint
// received.
func (s *Server) IdentityRequests() []IdentityRequest {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]IdentityRequest(nil), s.identityReqs...)
}

// lookup finds a version ("" for the latest); s.mu is held.
func (s *Server) lookup(name, ver string) *version {
	sec := s.secrets[strings.ToLower(name)]
	if sec == nil || len(sec.versions) == 0 {
		return nil
	}
	if ver == "" {
		return sec.versions[len(sec.versions)-1]
	}
	for _, v := range sec.versions {
		if strings.EqualFold(v.id, ver) {
			return v
		}
	}
	return nil
}

var (
	nameRule    = regexp.MustCompile(`^[0-9A-Za-z-]{1,127}$`)
	versionRule = regexp.MustCompile(`^[0-9a-f]{32}$`)
)

func validName(name string) bool { return nameRule.MatchString(name) }

// ServeHTTP serves the vault's data plane.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h.Set("Cache-Control", "no-cache")
	h.Set("Strict-Transport-Security", "max-age=31536000;includeSubDomains")
	h.Set("X-Ms-Request-Id", newUUID())
	h.Set("X-Ms-Keyvault-Region", "emulator")
	h.Set("X-Ms-Keyvault-Service-Version", "1.9.0.0-fakekv")
	h.Set("X-Ms-Keyvault-Network-Info", "conn_type=Ipv4;addr="+remoteIP(r)+";act_addr_fam=InterNetwork;")

	route, name, ver := classify(r)
	s.enter(route, name)
	defer s.leave(route, name)

	s.mu.Lock()
	latency := s.latency
	s.mu.Unlock()
	if latency > 0 {
		select {
		case <-time.After(latency):
		case <-r.Context().Done():
			return
		}
	}
	if s.injected(w) {
		return
	}
	if r.URL.Query().Get("api-version") == "" {
		writeError(w, http.StatusBadRequest, "BadParameter", "The request is missing the api-version query parameter.", "")
		return
	}
	tok, ok := bearer(r)
	if !ok {
		s.count(RouteChallenge)
		s.writeChallenge(w, r, "Unauthorized", "AKV10000: Request is missing a Bearer or PoP token.")
		return
	}
	info := parseToken(tok)
	s.recordToken(info)
	if info.TenantID != "" && !strings.EqualFold(info.TenantID, s.opts.TenantID) {
		s.writeChallenge(w, r, "Unauthorized", fmt.Sprintf("AKV10032: Invalid issuer. Expected one of https://sts.windows.net/%s/, found https://sts.windows.net/%s/.", s.opts.TenantID, info.TenantID))
		return
	}
	if aud := resource(r); info.Audience != "" && strings.TrimSuffix(info.Audience, "/") != aud {
		s.writeChallenge(w, r, "Unauthorized", "AKV10022: Invalid audience. Expected "+aud+", found: "+info.Audience+".")
		return
	}
	s.mu.Lock()
	firewall, accessDeny, denied := s.firewall, s.accessDeny, s.denied[strings.ToLower(name)]
	s.mu.Unlock()
	if firewall {
		writeError(w, http.StatusForbidden, "Forbidden", fmt.Sprintf("Client address is not authorized and caller is not a trusted service.\r\nClient address: %s\r\nCaller: %s\r\nVault: %s;location=emulator", remoteIP(r), caller(info), s.opts.VaultName), "ForbiddenByFirewall")
		return
	}
	if route == RouteOther {
		writeError(w, http.StatusNotImplemented, "NotImplemented", "The Key Vault emulator does not implement "+r.Method+" "+r.URL.Path+".", "")
		return
	}
	if !validName(name) || (ver != "" && route != RouteVersions && !versionRule.MatchString(strings.ToLower(ver))) {
		writeError(w, http.StatusBadRequest, "BadParameter", "The request URI contains an invalid name or version.", "")
		return
	}
	if accessDeny {
		writeError(w, http.StatusForbidden, "Forbidden", fmt.Sprintf("The user, group or application '%s' does not have secrets %s permission on key vault '%s;location=emulator'. For help resolving this issue, please see https://go.microsoft.com/fwlink/?linkid=2125287", caller(info), permission(route), s.opts.VaultName), "AccessDenied")
		return
	}
	if denied {
		writeError(w, http.StatusForbidden, "Forbidden", fmt.Sprintf("Caller is not authorized to perform action on resource.\r\nIf role assignments, deny assignments or role definitions were changed recently, please observe propagation time.\r\nCaller: %s\r\nAction: '%s'\r\nResource: '%s'\r\nAssignment: (not found)\r\nDenyAssignmentId: null\r\nDecisionReason: 'DeniedWithNoValidRBAC' \r\nVault: %s;location=emulator\r\n", caller(info), action(route), strings.ToLower(s.resourceID(name)), s.opts.VaultName), "ForbiddenByRbac")
		return
	}
	switch route {
	case RouteGet:
		s.get(w, r, name, ver)
	case RouteVersions:
		s.versions(w, r, name)
	case RouteSet:
		s.set(w, r, name)
	case RouteUpdate:
		s.update(w, r, name, ver)
	}
}

// classify names the route of a request and its secret name and version.
func classify(r *http.Request) (route, name, ver string) {
	rest, ok := strings.CutPrefix(r.URL.Path, "/secrets/")
	if !ok {
		return RouteOther, "", ""
	}
	parts := strings.Split(rest, "/")
	if len(parts) > 2 {
		return RouteOther, "", ""
	}
	name = parts[0]
	if len(parts) == 2 {
		ver = parts[1]
	}
	switch {
	case r.Method == http.MethodGet && ver == "versions":
		return RouteVersions, name, ver
	case r.Method == http.MethodGet:
		return RouteGet, name, ver
	case r.Method == http.MethodPut && ver == "":
		return RouteSet, name, ""
	case r.Method == http.MethodPatch:
		return RouteUpdate, name, ver
	}
	return RouteOther, name, ver
}

func (s *Server) enter(route, name string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.calls[route]++
	s.inflight[route]++
	s.maxInflight[route] = max(s.maxInflight[route], s.inflight[route])
	if route == RouteGet {
		n := strings.ToLower(name)
		s.secretCalls[n]++
		s.secretIn[n]++
		s.secretMax[n] = max(s.secretMax[n], s.secretIn[n])
	}
}

func (s *Server) leave(route, name string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.inflight[route]--
	if route == RouteGet {
		s.secretIn[strings.ToLower(name)]--
	}
}

func (s *Server) count(route string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.calls[route]++
}

// injected answers with an injected throttle or failure, if one is due.
func (s *Server) injected(w http.ResponseWriter) bool {
	s.mu.Lock()
	throttled := s.throttle.left != 0
	if s.throttle.left > 0 {
		s.throttle.left--
	}
	retryAfter, header := s.throttle.retryAfter, s.throttle.header
	failed := !throttled && s.fail.left != 0
	if failed && s.fail.left > 0 {
		s.fail.left--
	}
	status := s.fail.status
	s.mu.Unlock()
	switch {
	case throttled:
		if header {
			secs := int64((retryAfter + time.Second - 1) / time.Second)
			w.Header().Set("Retry-After", strconv.FormatInt(secs, 10))
		}
		writeError(w, http.StatusTooManyRequests, "Throttled", "Request was not processed because too many requests were received. Reason: VaultRequestTypeLimitReached", "")
	case failed:
		writeError(w, status, "ServiceUnavailable", "The service is temporarily unavailable (injected by the emulator).", "")
	}
	return throttled || failed
}

func (s *Server) recordToken(info TokenInfo) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, t := range s.tokens {
		if t == info {
			return
		}
	}
	s.tokens = append(s.tokens, info)
}

// writeChallenge answers 401 with the Bearer challenge.
func (s *Server) writeChallenge(w http.ResponseWriter, r *http.Request, code, msg string) {
	s.mu.Lock()
	h := s.challenge
	s.mu.Unlock()
	if h == "" {
		authority := s.opts.AuthorityHost
		if authority == "" {
			authority = cloudOf(r).authority
		}
		h = fmt.Sprintf(`Bearer authorization="%s/%s", resource="%s"`, strings.TrimSuffix(authority, "/"), s.opts.TenantID, resource(r))
	}
	w.Header().Set("WWW-Authenticate", h)
	writeError(w, http.StatusUnauthorized, code, msg, "")
}

func (s *Server) get(w http.ResponseWriter, r *http.Request, name, ver string) {
	s.mu.Lock()
	v := s.lookup(name, ver)
	var b bundle
	if v != nil {
		b = s.bundle(r, name, v, true)
	}
	s.mu.Unlock()
	switch {
	case v == nil:
		notFound(w, name, ver)
	case !v.enabled:
		writeError(w, http.StatusForbidden, "Forbidden", "Operation get is not allowed on a disabled secret.", "SecretDisabled")
	default:
		writeJSON(w, http.StatusOK, b)
	}
}

func (s *Server) versions(w http.ResponseWriter, r *http.Request, name string) {
	q := r.URL.Query()
	size := 25
	if m, err := strconv.Atoi(q.Get("maxresults")); err == nil && m >= 1 && m <= 25 {
		size = m
	}
	skip, _ := strconv.Atoi(q.Get("$skiptoken"))
	s.mu.Lock()
	sec := s.secrets[strings.ToLower(name)]
	var items []item
	total := 0
	if sec != nil {
		total = len(sec.versions)
		for i := skip; i < total && len(items) < size; i++ {
			b := s.bundle(r, name, sec.versions[i], false)
			items = append(items, item{ID: b.ID, Attributes: b.Attributes, ContentType: b.ContentType, Tags: b.Tags})
		}
	}
	s.mu.Unlock()
	if sec == nil {
		notFound(w, name, "")
		return
	}
	page := struct {
		Value    []item  `json:"value"`
		NextLink *string `json:"nextLink"`
	}{Value: items}
	if page.Value == nil {
		page.Value = []item{}
	}
	if next := skip + len(items); next < total {
		link := fmt.Sprintf("https://%s/secrets/%s/versions?api-version=%s&$skiptoken=%d&maxresults=%d",
			r.Host, sec.name, q.Get("api-version"), next, size)
		page.NextLink = &link
	}
	writeJSON(w, http.StatusOK, page)
}

type setBody struct {
	Value       *string           `json:"value"`
	ContentType string            `json:"contentType"`
	Tags        map[string]string `json:"tags"`
	Attributes  struct {
		Enabled   *bool  `json:"enabled"`
		NotBefore *int64 `json:"nbf"`
		Expires   *int64 `json:"exp"`
	} `json:"attributes"`
}

func (s *Server) set(w http.ResponseWriter, r *http.Request, name string) {
	var body setBody
	if err := json.NewDecoder(io.LimitReader(r.Body, 4*MaxValueBytes)).Decode(&body); err != nil || body.Value == nil {
		writeError(w, http.StatusBadRequest, "BadParameter", "The request body must be a JSON object with a value.", "")
		return
	}
	spec := Spec{Value: *body.Value, ContentType: body.ContentType, Tags: body.Tags}
	if body.Attributes.Enabled != nil {
		spec.Disabled = !*body.Attributes.Enabled
	}
	if body.Attributes.NotBefore != nil {
		spec.NotBefore = time.Unix(*body.Attributes.NotBefore, 0)
	}
	if body.Attributes.Expires != nil {
		spec.Expires = time.Unix(*body.Attributes.Expires, 0)
	}
	if len(spec.Value) > MaxValueBytes {
		writeError(w, http.StatusBadRequest, "BadParameter", fmt.Sprintf("The secret value exceeds the maximum of %d bytes.", MaxValueBytes), "")
		return
	}
	ver, err := s.Put(name, spec)
	if err != nil {
		writeError(w, http.StatusBadRequest, "BadParameter", "The secret could not be set.", "")
		return
	}
	s.mu.Lock()
	b := s.bundle(r, name, s.lookup(name, ver), true)
	s.mu.Unlock()
	writeJSON(w, http.StatusOK, b)
}

type updateBody struct {
	ContentType *string            `json:"contentType"`
	Tags        *map[string]string `json:"tags"`
	Attributes  *struct {
		Enabled   *bool  `json:"enabled"`
		NotBefore *int64 `json:"nbf"`
		Expires   *int64 `json:"exp"`
	} `json:"attributes"`
}

func (s *Server) update(w http.ResponseWriter, r *http.Request, name, ver string) {
	var body updateBody
	if err := json.NewDecoder(io.LimitReader(r.Body, 64*1024)).Decode(&body); err != nil {
		writeError(w, http.StatusBadRequest, "BadParameter", "The request body must be a JSON object.", "")
		return
	}
	s.mu.Lock()
	v := s.lookup(name, ver)
	var b bundle
	if v != nil {
		if body.ContentType != nil {
			v.contentType = *body.ContentType
		}
		if body.Tags != nil {
			v.tags = *body.Tags
		}
		if a := body.Attributes; a != nil {
			if a.Enabled != nil {
				v.enabled = *a.Enabled
			}
			if a.NotBefore != nil {
				v.nbf = a.NotBefore
			}
			if a.Expires != nil {
				v.exp = a.Expires
			}
		}
		v.updated = time.Now().Unix()
		b = s.bundle(r, name, v, false)
	}
	s.mu.Unlock()
	if v == nil {
		notFound(w, name, ver)
		return
	}
	writeJSON(w, http.StatusOK, b)
}

type attributes struct {
	Enabled         bool   `json:"enabled"`
	NotBefore       *int64 `json:"nbf,omitempty"`
	Expires         *int64 `json:"exp,omitempty"`
	Created         int64  `json:"created"`
	Updated         int64  `json:"updated"`
	RecoveryLevel   string `json:"recoveryLevel"`
	RecoverableDays int    `json:"recoverableDays"`
}

type bundle struct {
	Value       *string           `json:"value,omitempty"`
	ID          string            `json:"id"`
	ContentType string            `json:"contentType,omitempty"`
	Attributes  attributes        `json:"attributes"`
	Tags        map[string]string `json:"tags,omitempty"`
}

type item struct {
	ID          string            `json:"id"`
	Attributes  attributes        `json:"attributes"`
	ContentType string            `json:"contentType,omitempty"`
	Tags        map[string]string `json:"tags,omitempty"`
}

// bundle renders a version as Key Vault does, its id on the request's
// host; s.mu is held.
func (s *Server) bundle(r *http.Request, name string, v *version, withValue bool) bundle {
	b := bundle{
		ID:          "https://" + r.Host + "/secrets/" + s.secrets[strings.ToLower(name)].name + "/" + v.id,
		ContentType: v.contentType,
		Tags:        v.tags,
		Attributes: attributes{Enabled: v.enabled, NotBefore: v.nbf, Expires: v.exp, Created: v.created,
			Updated: v.updated, RecoveryLevel: "Recoverable+Purgeable", RecoverableDays: 90},
	}
	if withValue {
		val := v.value
		b.Value = &val
	}
	return b
}

func (s *Server) resourceID(name string) string {
	return fmt.Sprintf("/subscriptions/%s/resourceGroups/%s/providers/Microsoft.KeyVault/vaults/%s/secrets/%s",
		s.opts.SubscriptionID, s.opts.ResourceGroup, s.opts.VaultName, name)
}

func notFound(w http.ResponseWriter, name, ver string) {
	id := name
	if ver != "" {
		id += "/" + ver
	}
	writeError(w, http.StatusNotFound, "SecretNotFound", fmt.Sprintf("A secret with (name/id) %s was not found in this key vault. If you recently deleted this secret you may be able to recover it using the correct recovery command. For help resolving this issue, please see https://go.microsoft.com/fwlink/?linkid=2125182", id), "")
}

func writeError(w http.ResponseWriter, status int, code, msg, inner string) {
	type innerErr struct {
		Code string `json:"code"`
	}
	body := struct {
		Error struct {
			Code       string    `json:"code"`
			Message    string    `json:"message"`
			InnerError *innerErr `json:"innererror,omitempty"`
		} `json:"error"`
	}{}
	body.Error.Code, body.Error.Message = code, msg
	if inner != "" {
		body.Error.InnerError = &innerErr{Code: inner}
	}
	writeJSON(w, status, body)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		http.Error(w, "fakekv: "+err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("Content-Length", strconv.Itoa(len(b)))
	w.WriteHeader(status)
	_, _ = w.Write(b)
}

func bearer(r *http.Request) (string, bool) {
	scheme, tok, ok := strings.Cut(r.Header.Get("Authorization"), " ")
	tok = strings.TrimSpace(tok)
	return tok, ok && strings.EqualFold(scheme, "Bearer") && tok != ""
}

// parseToken reads a JWT's claims without verifying it; an opaque token
// yields nothing.
func parseToken(tok string) TokenInfo {
	parts := strings.Split(tok, ".")
	if len(parts) != 3 {
		return TokenInfo{}
	}
	payload, err := base64.RawURLEncoding.DecodeString(strings.TrimRight(parts[1], "="))
	if err != nil {
		return TokenInfo{}
	}
	var c struct {
		TID   string `json:"tid"`
		Aud   any    `json:"aud"`
		AppID string `json:"appid"`
		AZP   string `json:"azp"`
		OID   string `json:"oid"`
	}
	if json.Unmarshal(payload, &c) != nil {
		return TokenInfo{}
	}
	info := TokenInfo{TenantID: c.TID, AppID: c.AppID, ObjectID: c.OID}
	if info.AppID == "" {
		info.AppID = c.AZP
	}
	if aud, ok := c.Aud.(string); ok {
		info.Audience = aud
	}
	return info
}

func caller(t TokenInfo) string {
	return fmt.Sprintf("appid=%s;oid=%s;iss=https://sts.windows.net/%s/", orUnknown(t.AppID), orUnknown(t.ObjectID), orUnknown(t.TenantID))
}

func orUnknown(s string) string {
	if s == "" {
		return "unknown"
	}
	return s
}

func action(route string) string {
	switch route {
	case RouteSet:
		return "Microsoft.KeyVault/vaults/secrets/setSecret/action"
	case RouteVersions, RouteUpdate:
		return "Microsoft.KeyVault/vaults/secrets/readMetadata/action"
	}
	return "Microsoft.KeyVault/vaults/secrets/getSecret/action"
}

func permission(route string) string {
	switch route {
	case RouteSet, RouteUpdate:
		return "set"
	case RouteVersions:
		return "list"
	}
	return "get"
}

type cloud struct{ suffix, resource, authority string }

var clouds = []cloud{
	{".vault.azure.cn", "https://vault.azure.cn", "https://login.chinacloudapi.cn"},
	{".vault.usgovcloudapi.net", "https://vault.usgovcloudapi.net", "https://login.microsoftonline.us"},
	{".vault.azure.net", "https://vault.azure.net", "https://login.microsoftonline.com"},
}

// cloudOf picks the cloud from the request's host name; any other host
// (an IP address, localhost) is treated as Azure public.
func cloudOf(r *http.Request) cloud {
	host := strings.ToLower(r.Host)
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	for _, c := range clouds {
		if strings.HasSuffix(host, c.suffix) {
			return c
		}
	}
	return clouds[len(clouds)-1]
}

func resource(r *http.Request) string { return cloudOf(r).resource }

func remoteIP(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

func newUUID() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	h := hex.EncodeToString(b)
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
}

// Names lists the secrets the emulator holds, sorted.
func (s *Server) Names() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]string, 0, len(s.secrets))
	for _, sec := range s.secrets {
		out = append(out, sec.name)
	}
	sort.Strings(out)
	return out
}
