package cyberarkccp

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"syscall"

	"github.com/credflow/credflow/internal/secretstore"
)

// CCP's error codes that credflow tells apart.
const (
	CodeNotFound        = "APPAP004E" // no such account, or the Application may not use it
	CodeTooMany         = "APPAP227E" // the query matched more than one account
	CodeTooMany2        = "APPAP228E"
	CodeTooMany3        = "APPAP229E"
	CodeAuthFailed      = "APPAP306E" // the Application failed its authentication check
	CodeNotDefined      = "APPAP008E" // the Application (or the Provider's user) is not defined
	CodePasswordChange  = "APPAP282E" // the CPM is changing the password
	CodeVaultDown       = "APPAP007E" // CCP could not reach the Vault
	CodeBadQuery        = "AIMWS030E"
	CodeBadContent      = "APPAP081E"
	CodeBadCharacters   = "CASVL010E"
	CodeAppIDRequired   = "AIMWS031E"
	CodeNoClientDetails = "APPAP330E" // CCP could not read the client certificate's details
)

// ErrCertificateRejected: the web server in front of CCP (IIS) refused
// credflow's client certificate, or got none: it answers with an HTML 403
// before CCP sees the request. Errors matching it also match
// secretstore.ErrForbidden.
var ErrCertificateRejected = fmt.Errorf("client certificate rejected: %w", secretstore.ErrForbidden)

// Hints, for people.
const (
	notFoundHint = "CCP answers the same for both causes: either no account matches (check the safe, folder and object name as shown in the PVWA, and that the folder is Root unless the account is in a sub-folder), " +
		"or credflow's Application may not use it (add the Application as a member of the safe with the Retrieve accounts and List accounts permissions, and the Provider's user Prov_<host> with List accounts, Retrieve accounts and View Safe Members)."
	ambiguousHint = "Name exactly one account: give the safe and folder (Safe/Folder/Object), or a query with more properties (query:Safe=...;Folder=...;Object=...)."
	certHint      = "The web server in front of CCP refused credflow's client certificate before CCP saw the request: check that clientCertFile holds a certificate issued by a CA the CCP server trusts for client authentication (IIS: Require SSL and client certificates on the AIMWebService site), that it has not expired, and that clientKeyFile is its key."
	authHint      = "CCP refused credflow's Application: in the PVWA (Applications > the AppID > Authentication) allow credflow's client certificate (its serial number, or its subject, issuer or SAN), and check the Allowed Machines list names credflow's address."
	notDefHint    = "The AppID is not defined in the Vault (or the Provider cannot see it): check appId against the PVWA's Applications list, and that the Application is not disabled."
	changeHint    = "The CPM is changing this password (password change in progress): credflow asked again until its deadline. Try again in a minute; if it lasts, check the account's CPM status in the PVWA."
	vaultHint     = "CCP answered but could not reach the Vault: check the Vault's health and the network from the CCP server to the Vault (port 1858)."
	queryHint     = "CCP refused the request's format: check the reference for characters CCP does not accept in names."
	caHint        = "The file named by caFile must be a readable PEM bundle of the CA certificates CCP's server certificate chains to (leave it out to trust the system's roots)."
	keyHint       = "The files named by clientCertFile and clientKeyFile must be readable PEM files (credflow's service account must be able to read them) holding the client certificate and its unencrypted private key, which belong together."
	pathHint      = "Check url and path: they must lead to CCP's GetPassword service (by default https://host/AIMWebService/api/Accounts)."
	reachHint     = "Check url, the network path to CCP on its port (firewalls, proxies: HTTPS_PROXY and NO_PROXY), and that the CCP web server is running."
	trustHint     = "CCP's server certificate is not trusted: name the CA bundle it chains to in caFile (or add it to the system's roots, SSL_CERT_FILE)."
)

// Error is CCP's refusal of one read, or a failure to get an answer,
// reduced to its status and code: it never carries the response body. It
// matches the secretstore sentinel it maps to with errors.Is.
type Error struct {
	Op     string
	Ref    string
	Status int
	Code   string // CCP's ErrorCode, "" when there was none
	kind   error
	what   string
	hint   string
	// changing: the CPM is changing the password; worth asking again.
	changing bool
}

func (e *Error) Error() string {
	msg := fmt.Sprintf("cyberarkccp: %s %s: %v", e.Op, e.Ref, e.kind)
	if e.what != "" && !strings.EqualFold(e.what, fmt.Sprint(e.kind)) {
		msg += ": " + e.what
	}
	switch {
	case e.Status != 0 && e.Code != "":
		msg += fmt.Sprintf(" (HTTP %d %s)", e.Status, e.Code)
	case e.Status != 0:
		msg += fmt.Sprintf(" (HTTP %d)", e.Status)
	}
	return msg
}

// Unwrap returns the sentinel (or *secretstore.AmbiguousError).
func (e *Error) Unwrap() error { return e.kind }

// Hint says how to fix the failure, for people.
func (e *Error) Hint() string {
	if e.hint != "" {
		return e.hint
	}
	switch {
	case e.changing:
		return changeHint
	case errors.Is(e.kind, secretstore.ErrNotFound):
		return notFoundHint
	case errors.Is(e.kind, secretstore.ErrAmbiguous):
		return ambiguousHint
	}
	return "CCP could not serve the request; try again later, and check CCP's and the Vault's health."
}

// ccpError is CCP's error body.
type ccpError struct {
	ErrorCode string `json:"ErrorCode"`
	ErrorMsg  string `json:"ErrorMsg"`
}

// refusal maps a non-200 answer.
func (s *Store) refusal(op, ref string, resp *http.Response, body []byte) *Error {
	e := &Error{Op: op, Ref: ref, Status: resp.StatusCode}
	var ce ccpError
	if json.Unmarshal(body, &ce) != nil || ce.ErrorCode == "" {
		if resp.StatusCode == http.StatusForbidden {
			// IIS, not CCP: an HTML page saying the certificate is
			// missing (403.7) or not trusted (403.16).
			e.kind = ErrCertificateRejected
			e.what = "the web server refused the client certificate (or got none)"
			e.hint = certHint
			return e
		}
		e.kind = secretstore.ErrUnavailable
		e.what = "the answer is not CCP's"
		e.hint = pathHint
		return e
	}
	e.Code = ce.ErrorCode
	switch ce.ErrorCode {
	case CodeNotFound:
		e.kind = secretstore.ErrNotFound
		e.what = "no account matches, or credflow's Application may not use it"
	case CodeTooMany, CodeTooMany2, CodeTooMany3:
		e.kind = &secretstore.AmbiguousError{Count: countMatches(ce.ErrorMsg)}
	case CodeAuthFailed, CodeNoClientDetails:
		e.kind = secretstore.ErrForbidden
		e.what = "credflow's Application failed CCP's authentication check"
		e.hint = authHint
	case CodeNotDefined:
		e.kind = secretstore.ErrForbidden
		e.what = "the Application " + s.settings.AppID + " is not defined"
		e.hint = notDefHint
	case CodePasswordChange:
		e.kind = secretstore.ErrUnavailable
		e.what = "password change in progress"
		e.changing = true
	case CodeVaultDown:
		e.kind = secretstore.ErrUnavailable
		e.what = "CCP could not reach the Vault"
		e.hint = vaultHint
	case CodeBadQuery, CodeBadContent, CodeBadCharacters, CodeAppIDRequired:
		e.kind = &secretstore.RefError{Ref: ref, Rule: "CCP refused the request (" + ce.ErrorCode + ")"}
		e.hint = queryHint
	default:
		e.kind = secretstore.ErrUnavailable
		e.what = "CCP refused the request"
	}
	return e
}

// tooManyList finds the accounts APPAP227E lists: "... were found: (A and
// B and C) (Diagnostic Info: 41)".
var tooManyList = regexp.MustCompile(`were found:\s*\((.*)\)\s*\(Diagnostic`)

// countMatches reads how many accounts CCP listed; 0 when it did not.
func countMatches(msg string) int {
	m := tooManyList.FindStringSubmatch(msg)
	if m == nil {
		return 0
	}
	return len(strings.Split(m[1], " and "))
}

// transportError maps a failure to get an answer at all.
func (s *Store) transportError(ctx context.Context, op, ref string, err error) error {
	if ctx.Err() != nil {
		return s.contextError(op, ref, ctx.Err())
	}
	e := &Error{Op: op, Ref: ref, kind: secretstore.ErrUnavailable}
	e.what, e.hint = describeDialError(err)
	if ce := secretstore.Connect(s.host(), err); ce != nil {
		e.kind, e.what = ce, ""
	}
	if errors.Is(err, context.DeadlineExceeded) {
		e.kind = secretstore.ErrTimeout
	}
	return e
}

// contextError keeps the context's error in the chain: a cancelled call
// matches context.Canceled, one past its deadline secretstore.ErrTimeout.
func (s *Store) contextError(op, ref string, err error) error {
	if errors.Is(err, context.DeadlineExceeded) {
		return fmt.Errorf("cyberarkccp: %s %s: %w: %w", op, ref, secretstore.ErrTimeout, err)
	}
	return fmt.Errorf("cyberarkccp: %s %s: %w", op, ref, err)
}

// describeDialError explains why CCP could not be reached.
func describeDialError(err error) (detail, hint string) {
	var (
		dnsErr  *net.DNSError
		opErr   *net.OpError
		certErr *tls.CertificateVerificationError
		unknown x509.UnknownAuthorityError
		hostErr x509.HostnameError
		alert   tls.AlertError
	)
	switch {
	case errors.As(err, &opErr) && opErr.Op == "proxyconnect":
		return "the HTTP proxy could not be reached", "Check HTTPS_PROXY (and NO_PROXY) in credflow's environment."
	case errors.As(err, &dnsErr):
		return fmt.Sprintf("%s does not resolve", dnsErr.Name), "Check url: the CCP host name must resolve from credflow's network."
	case errors.As(err, &certErr), errors.As(err, &unknown), errors.As(err, &hostErr):
		return "CCP's TLS certificate is not trusted: " + firstLine(err), trustHint
	case errors.As(err, &alert):
		// A server that requires a certificate at the TLS layer says so
		// with an alert (certificate_required, bad_certificate).
		return "the TLS handshake was refused: " + alert.Error(), certHint
	case errors.Is(err, syscall.ECONNREFUSED):
		return "the connection was refused", reachHint
	case errors.Is(err, context.DeadlineExceeded):
		return "CCP did not answer in time", reachHint
	}
	return "CCP cannot be reached: " + firstLine(err), reachHint
}

func firstLine(err error) string {
	s := err.Error()
	if i := strings.IndexAny(s, "\r\n"); i >= 0 {
		s = s[:i]
	}
	if len(s) > 300 {
		s = s[:300] + "..."
	}
	return s
}

// host is CCP's host[:port], for messages.
func (s *Store) host() string {
	if u, err := url.Parse(s.settings.URL); err == nil && u.Host != "" {
		return u.Host
	}
	return s.settings.URL
}
