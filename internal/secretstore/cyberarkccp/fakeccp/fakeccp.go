// Package fakeccp is a CyberArk Central Credential Provider for tests and
// local work: an http.Handler that speaks the GetPassword REST service
// (GET /AIMWebService/api/Accounts) with CCP's answers, error bodies
// ({"ErrorCode":...,"ErrorMsg":...}) and status codes, behind a web server
// that requires a client certificate and, like IIS, refuses a missing or
// untrusted one with an HTML 403 page before the service sees the request.
//
// It has fault switches (a password change in progress, an Application
// that fails authentication, a Vault that cannot be reached, safes the
// Application is not a member of) and counters. Start runs it over TLS
// with generated certificates written to files, as credflow reads them.
package fakeccp

import (
	"crypto/x509"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Options configure a fake CCP.
type Options struct {
	// AppID is the one Application defined (default "credflow").
	AppID string
	// Path is the virtual directory (default AIMWebService).
	Path string
}

// Account is one account in the fake Vault. Props are its other
// properties (UserName, Address, ...); Safe, Folder and Name are set from
// the fields.
type Account struct {
	Safe, Folder, Name string
	Content            string
	Props              map[string]string
}

// Server is the fake CCP. It is safe for concurrent use.
type Server struct {
	appID, path string
	clientCAs   *x509.CertPool

	mu         sync.Mutex
	accounts   []Account
	denied     map[string]bool // safes the Application is no member of
	changing   map[string]int  // Safe/Folder/Name -> answers left that say a change is in progress
	failChange bool            // answer a change in progress with APPAP282E, not a 200
	authFail   bool
	vaultDown  bool
	queries    []string

	calls       atomic.Int64
	inFlight    atomic.Int64
	maxInFlight atomic.Int64
	latency     atomic.Int64 // nanoseconds
}

// SetLatency makes every answer of the service wait d first.
func (s *Server) SetLatency(d time.Duration) { s.latency.Store(int64(d)) }

// MaxInFlight is the most requests the service had open at once.
func (s *Server) MaxInFlight() int64 { return s.maxInFlight.Load() }

// New returns a fake CCP that trusts client certificates issued by
// clientCAs (nil: it checks none, as when TLS is terminated before it).
func New(opts Options, clientCAs *x509.CertPool) *Server {
	if opts.AppID == "" {
		opts.AppID = "credflow"
	}
	if opts.Path == "" {
		opts.Path = "AIMWebService"
	}
	return &Server{appID: opts.AppID, path: "/" + strings.Trim(opts.Path, "/") + "/api/Accounts", clientCAs: clientCAs,
		denied: map[string]bool{}, changing: map[string]int{}}
}

func key(safe, folder, name string) string { return safe + "/" + folder + "/" + name }

// Set creates or replaces the account and its password; folder "" is Root.
func (s *Server) Set(safe, folder, name, content string, props map[string]string) {
	if folder == "" {
		folder = "Root"
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	a := Account{Safe: safe, Folder: folder, Name: name, Content: content, Props: map[string]string{}}
	for k, v := range props {
		a.Props[k] = v
	}
	for i, x := range s.accounts {
		if key(x.Safe, x.Folder, x.Name) == key(safe, folder, name) {
			s.accounts[i] = a
			return
		}
	}
	s.accounts = append(s.accounts, a)
}

// SetContent changes the password of an existing account (the CPM's
// work); false when there is no such account.
func (s *Server) SetContent(safe, folder, name, content string) bool {
	if folder == "" {
		folder = "Root"
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for i, x := range s.accounts {
		if key(x.Safe, x.Folder, x.Name) == key(safe, folder, name) {
			s.accounts[i].Content = content
			return true
		}
	}
	return false
}

// Deny takes the Application out of safe: its accounts then answer
// APPAP004E, as CCP does.
func (s *Server) Deny(safe string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.denied[safe] = true
}

// Changing makes the next n answers about the account say that the CPM is
// changing its password.
func (s *Server) Changing(safe, folder, name string, n int) {
	if folder == "" {
		folder = "Root"
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.changing[key(safe, folder, name)] = n
}

// FailOnChange makes a change in progress answer 500 APPAP282E (as with
// FailRequestOnPasswordChange=true) instead of 200 with
// PasswordChangeInProcess "True".
func (s *Server) FailOnChange(on bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.failChange = on
}

// FailAuthentication makes every request fail the Application's
// authentication check (APPAP306E), as when the PVWA does not list the
// client certificate's serial number.
func (s *Server) FailAuthentication(on bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.authFail = on
}

// VaultDown makes CCP answer that it cannot reach the Vault.
func (s *Server) VaultDown(on bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.vaultDown = on
}

// Calls is how many requests reached the service (past the certificate
// check).
func (s *Server) Calls() int64 { return s.calls.Load() }

// Queries returns the raw query strings the service received, in order.
func (s *Server) Queries() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.queries)
}

// iisForbidden is IIS's page for a refused client certificate.
func iisForbidden(w http.ResponseWriter, sub, title string) {
	w.Header().Set("Content-Type", "text/html")
	w.Header().Set("Server", "Microsoft-IIS/10.0")
	w.WriteHeader(http.StatusForbidden)
	fmt.Fprintf(w, `<!DOCTYPE html PUBLIC "-//W3C//DTD XHTML 1.0 Strict//EN" "http://www.w3.org/TR/xhtml1/DTD/xhtml1-strict.dtd">
<html xmlns="http://www.w3.org/1999/xhtml"><head><title>403 - Forbidden: Access is denied.</title></head>
<body><div id="header"><h1>Server Error</h1></div><div id="content"><div class="content-container"><fieldset>
<h2>403.%s - %s</h2></fieldset></div></div></body></html>
`, sub, title)
}

func fail(w http.ResponseWriter, status int, code, msg string) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]string{"ErrorCode": code, "ErrorMsg": msg})
}

// ServeHTTP implements http.Handler.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if s.clientCAs != nil {
		if r.TLS == nil || len(r.TLS.PeerCertificates) == 0 {
			iisForbidden(w, "7", "Client certificate required")
			return
		}
		inter := x509.NewCertPool()
		for _, c := range r.TLS.PeerCertificates[1:] {
			inter.AddCert(c)
		}
		if _, err := r.TLS.PeerCertificates[0].Verify(x509.VerifyOptions{Roots: s.clientCAs, Intermediates: inter,
			KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}); err != nil {
			iisForbidden(w, "16", "Client certificate is untrusted or invalid")
			return
		}
	}
	if r.URL.Path != s.path {
		w.Header().Set("Content-Type", "text/html")
		w.WriteHeader(http.StatusNotFound)
		fmt.Fprint(w, "<html><head><title>404 - File or directory not found.</title></head><body></body></html>")
		return
	}
	if r.Method != http.MethodGet {
		w.WriteHeader(http.StatusMethodNotAllowed)
		return
	}
	s.calls.Add(1)
	n := s.inFlight.Add(1)
	defer s.inFlight.Add(-1)
	for m := s.maxInFlight.Load(); n > m && !s.maxInFlight.CompareAndSwap(m, n); m = s.maxInFlight.Load() {
	}
	if d := time.Duration(s.latency.Load()); d > 0 {
		select {
		case <-time.After(d):
		case <-r.Context().Done():
			return
		}
	}
	q := r.URL.Query()
	s.mu.Lock()
	defer s.mu.Unlock()
	s.queries = append(s.queries, r.URL.RawQuery)
	appID := q.Get("AppID")
	switch {
	case appID == "":
		fail(w, http.StatusBadRequest, "AIMWS031E", "Invalid request. The AppID parameter is required")
		return
	case !strings.EqualFold(appID, s.appID):
		fail(w, http.StatusForbidden, "APPAP008E", fmt.Sprintf("Application [%s] is not defined", appID))
		return
	case s.authFail:
		serial := ""
		if r.TLS != nil && len(r.TLS.PeerCertificates) > 0 {
			serial = fmt.Sprintf("%X", r.TLS.PeerCertificates[0].SerialNumber)
		}
		fail(w, http.StatusForbidden, "APPAP306E", fmt.Sprintf(`Authentication error for App ID [%s]. Reason: APPAP133E Failed to verify application authentication data: CertificateSN "%s" is unauthorized`, appID, serial))
		return
	case s.vaultDown:
		fail(w, http.StatusBadRequest, "APPAP007E", "Connection to the Vault has failed")
		return
	}
	crit, text, ok := criteria(q)
	if !ok {
		fail(w, http.StatusBadRequest, "AIMWS030E", "Invalid query format")
		return
	}
	var found []Account
	for _, a := range s.accounts {
		if !s.denied[a.Safe] && matches(a, crit) {
			found = append(found, a)
		}
	}
	switch len(found) {
	case 0:
		fail(w, http.StatusNotFound, "APPAP004E", fmt.Sprintf("Password object matching query [%s] was not found (Diagnostic Info: 5). "+
			"Please check that there is a password object that answers your query in the Vault and that both the Provider and the application have the relevant permissions needed in order to access it.", text))
		return
	case 1:
	default:
		var list []string
		for _, a := range found {
			list = append(list, fmt.Sprintf("Safe=%s;Folder=%s;Object=%s", a.Safe, a.Folder, a.Name))
		}
		fail(w, http.StatusBadRequest, "APPAP227E", fmt.Sprintf("Too many password objects matching query [%s] were found: (%s) (Diagnostic Info: 41)", text, strings.Join(list, " and ")))
		return
	}
	a := found[0]
	k := key(a.Safe, a.Folder, a.Name)
	changing := s.changing[k] > 0
	if changing {
		s.changing[k]--
		if s.failChange || strings.EqualFold(q.Get("FailRequestOnPasswordChange"), "true") {
			fail(w, http.StatusInternalServerError, "APPAP282E", "Password object is being changed by the CPM. FailRequestOnPasswordChange parameter was set to True")
			return
		}
	}
	body := map[string]string{}
	for k, v := range a.Props {
		body[k] = v
	}
	body["Content"] = a.Content
	body["Safe"] = a.Safe
	body["Folder"] = a.Folder
	body["Name"] = a.Name
	body["PasswordChangeInProcess"] = "False"
	if changing {
		body["PasswordChangeInProcess"] = "True"
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	_ = json.NewEncoder(w).Encode(body)
}

// criteria are the search's property conditions: from Query (then every
// other search parameter is ignored), or from Safe, Folder (default Root),
// Object, UserName, Address and Database. text is the query as CCP
// repeats it in its messages.
func criteria(q map[string][]string) (crit [][2]string, text string, ok bool) {
	get := func(k string) string {
		for name, v := range q {
			if strings.EqualFold(name, k) && len(v) > 0 {
				return v[0]
			}
		}
		return ""
	}
	if query := get("Query"); query != "" {
		for _, pair := range strings.Split(query, ";") {
			k, v, found := strings.Cut(pair, "=")
			if !found || k == "" {
				return nil, "", false
			}
			crit = append(crit, [2]string{k, v})
		}
		return crit, query, true
	}
	for _, k := range []string{"Safe", "Folder", "Object", "UserName", "Address", "Database"} {
		v := get(k)
		if k == "Folder" && v == "" {
			v = "Root"
		}
		if v != "" {
			crit = append(crit, [2]string{k, v})
		}
	}
	if len(crit) == 1 && crit[0][0] == "Folder" {
		return nil, "", false
	}
	var parts []string
	for _, c := range crit {
		parts = append(parts, c[0]+"="+c[1])
	}
	return crit, strings.Join(parts, ";"), true
}

func matches(a Account, crit [][2]string) bool {
	for _, c := range crit {
		var have string
		switch strings.ToLower(c[0]) {
		case "safe":
			have = a.Safe
		case "folder":
			have = a.Folder
		case "object", "name":
			have = a.Name
		default:
			for k, v := range a.Props {
				if strings.EqualFold(k, c[0]) {
					have = v
				}
			}
		}
		if !strings.EqualFold(have, c[1]) {
			return false
		}
	}
	return true
}
