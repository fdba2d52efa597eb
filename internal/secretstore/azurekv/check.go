package azurekv

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptrace"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/runtime"

	"github.com/credflow/credflow/internal/secretstore"
)

// The check's steps, in order. A Report lists the steps that ran; "read
// secret" and "expiry" run only when a secret is named, and "read secret"
// says "not tried" when an earlier step failed.
const (
	StepConnect = "reach the vault"
	StepToken   = "get a token"
	StepTenant  = "same tenant"
	StepRead    = "read secret"
	StepExpiry  = "expiry"
)

// checkTimeout bounds each network step of a check whose context has no
// deadline.
const checkTimeout = 20 * time.Second

// expirySoon is when an expiry date is worth a warning.
const expirySoon = 30 * 24 * time.Hour

// probeAPIVersion is any api-version Key Vault accepts: the probe is only
// answered with the challenge.
const probeAPIVersion = "7.5"

// challenge is what the vault's 401 said.
type challenge struct {
	found    bool
	status   int
	tenant   string
	resource string
	header   string
}

// Check implements secretstore.Checker: it reaches the vault (DNS, TCP,
// TLS, an HTTP answer), gets a token and says whose it is, compares the
// tenant in the vault's challenge with tenantId, and, when secretName (a
// name or any reference ParseRef accepts) is given, reads that secret
// (dropping its value at once) and reports its expiry. Every failing step
// has a hint. It never returns a secret value or a token.
func (s *Store) Check(ctx context.Context, secretName string) secretstore.Report {
	r := secretstore.Report{OK: true}
	add := func(st secretstore.Step) {
		r.Steps = append(r.Steps, st)
		r.OK = r.OK && st.OK
	}
	ch, reached := s.checkConnect(ctx, add)
	tokenOK := s.checkToken(ctx, ch, add)
	tenantOK := reached && s.checkTenant(ch, add)
	if secretName == "" {
		return r
	}
	if !reached || !tokenOK || !tenantOK {
		add(secretstore.Step{Name: StepRead, Detail: "not tried: an earlier step failed", Secret: true})
		return r
	}
	if m, ok := s.checkRead(ctx, secretName, add); ok {
		s.checkExpiry(m, add)
	}
	return r
}

func withTimeout(ctx context.Context) (context.Context, context.CancelFunc) {
	if _, ok := ctx.Deadline(); ok {
		return context.WithCancel(ctx)
	}
	return context.WithTimeout(ctx, checkTimeout)
}

// checkConnect sends the unauthenticated request every Key Vault client
// starts with, and keeps the challenge it draws.
func (s *Store) checkConnect(ctx context.Context, add func(secretstore.Step)) (challenge, bool) {
	ctx, cancel := withTimeout(ctx)
	defer cancel()
	host := hostOf(s.vaultURL)
	var (
		mu     sync.Mutex
		addrs  []string
		remote string
	)
	trace := &httptrace.ClientTrace{
		DNSDone: func(i httptrace.DNSDoneInfo) {
			mu.Lock()
			defer mu.Unlock()
			for _, a := range i.Addrs {
				addrs = append(addrs, a.IP.String())
			}
		},
		GotConn: func(i httptrace.GotConnInfo) {
			mu.Lock()
			defer mu.Unlock()
			remote = i.Conn.RemoteAddr().String()
		},
	}
	step := secretstore.Step{Name: StepConnect}
	if err := s.budget.Take(ctx); err != nil {
		step.Detail = "credflow's read budget for this vault is spent: " + err.Error()
		step.Hint = "Try again in a few seconds."
		add(step)
		return challenge{}, false
	}
	req, err := http.NewRequestWithContext(httptrace.WithClientTrace(ctx, trace), http.MethodGet,
		s.vaultURL+"secrets/credflow-check?api-version="+probeAPIVersion, nil)
	if err != nil {
		step.Detail = "cannot build a request for " + s.vaultURL + ": " + err.Error()
		add(step)
		return challenge{}, false
	}
	resp, err := s.transport.Do(req)
	if err != nil {
		step.Detail, step.Hint = describeDialError(host, err)
		add(step)
		return challenge{}, false
	}
	defer runtime.Drain(resp)
	mu.Lock()
	where := ""
	if len(addrs) > 0 {
		where = " resolves to " + strings.Join(addrs, ", ") + " and"
	}
	if remote != "" {
		where += " (connected to " + remote + ")"
	}
	mu.Unlock()
	tlsVersion := "without TLS"
	if resp.TLS != nil {
		tlsVersion = "over " + tls.VersionName(resp.TLS.Version)
	}
	step.OK = true
	step.Detail = fmt.Sprintf("%s%s answers %s", host, where, tlsVersion)
	add(step)
	return parseChallenge(resp), true
}

func parseChallenge(resp *http.Response) challenge {
	c := challenge{status: resp.StatusCode}
	if resp.StatusCode != http.StatusUnauthorized {
		return c
	}
	for _, h := range resp.Header.Values("WWW-Authenticate") {
		if !strings.HasPrefix(strings.ToLower(strings.TrimSpace(h)), "bearer") {
			continue
		}
		c.found, c.header = true, h
		params := challengeParams(h)
		c.resource = params["scope"]
		if c.resource == "" {
			c.resource = params["resource"]
		}
		c.resource = strings.TrimSuffix(c.resource, "/.default")
		if u, err := url.Parse(params["authorization"]); err == nil {
			c.tenant, _, _ = strings.Cut(strings.TrimPrefix(u.Path, "/"), "/")
		}
		return c
	}
	return c
}

// describeDialError explains why the vault could not be reached.
func describeDialError(host string, err error) (detail, hint string) {
	var (
		dnsErr  *net.DNSError
		opErr   *net.OpError
		certErr *tls.CertificateVerificationError
		unknown x509.UnknownAuthorityError
		hostErr x509.HostnameError
	)
	switch {
	case errors.As(err, &opErr) && opErr.Op == "proxyconnect":
		return fmt.Sprintf("the HTTP proxy could not be reached: %v", opErr.Err),
			"Check HTTPS_PROXY (and NO_PROXY) in credflow's environment."
	case errors.As(err, &dnsErr):
		return fmt.Sprintf("%s does not resolve: %s", host, dnsErr.Err),
			"Check vaultName and cloud (or vaultUrl). With a private endpoint, credflow's DNS must resolve the vault's name to the endpoint's private address: link the privatelink.vaultcore.azure.net private DNS zone to credflow's virtual network, or forward to a resolver that has it."
	case errors.As(err, &certErr), errors.As(err, &unknown), errors.As(err, &hostErr):
		return fmt.Sprintf("%s answers but its TLS certificate is not trusted: %v", host, summary(err)),
			"If a TLS-inspecting proxy or a private CA sits on the way, add its root certificate to the file named by SSL_CERT_FILE (or a directory in SSL_CERT_DIR) in credflow's environment; for the emulator, point SSL_CERT_FILE at its certificate."
	case errors.Is(err, context.DeadlineExceeded):
		return fmt.Sprintf("%s did not answer in time", host),
			"Check the network path to the vault on port 443: firewalls, network security groups, routes to a private endpoint, and HTTPS_PROXY if outbound traffic must go through a proxy."
	}
	return fmt.Sprintf("%s cannot be reached: %s", host, summary(err)),
		"Check the network path to the vault on port 443: firewalls, network security groups, routes to a private endpoint, and HTTPS_PROXY if outbound traffic must go through a proxy."
}

// checkToken asks the credential for a token for the vault and names its
// principal from the token's claims. The token is dropped at once.
func (s *Store) checkToken(ctx context.Context, ch challenge, add func(secretstore.Step)) bool {
	ctx, cancel := withTimeout(ctx)
	defer cancel()
	resource := ch.resource
	if resource == "" {
		resource = clouds[s.settings.cloud()].resource
	}
	step := secretstore.Step{Name: StepToken}
	tok, err := s.cred.GetToken(ctx, policy.TokenRequestOptions{Scopes: []string{resource + "/.default"},
		TenantID: s.settings.TenantID, EnableCAE: true})
	if err != nil {
		step.Detail = fmt.Sprintf("no token for %s with auth %s: %s", resource, s.settings.Auth.Kind, summary(unwrapAuth(err)))
		step.Hint = authHint(s.settings.Auth.Kind)
		add(step)
		return false
	}
	p, ok := claims(tok.Token)
	tok.Token = ""
	switch {
	case !ok:
		step.OK = true
		step.Detail = fmt.Sprintf("got a token for %s with auth %s (not a JWT: its principal is unknown)", resource, s.settings.Auth.Kind)
	case p.TenantID != "" && !strings.EqualFold(p.TenantID, s.settings.TenantID):
		step.Detail = fmt.Sprintf("got a token for %s, but from tenant %s, not %s", p, p.TenantID, s.settings.TenantID)
		step.Hint = fmt.Sprintf("The identity belongs to another tenant: use an identity of tenant %s (a managed identity always belongs to its Azure resource's tenant), or check tenantId.", s.settings.TenantID)
	default:
		step.OK = true
		step.Detail = fmt.Sprintf("got a token for %s with auth %s: %s, tenant %s", resource, s.settings.Auth.Kind, p, p.TenantID)
	}
	add(step)
	return step.OK
}

func unwrapAuth(err error) error {
	var ae *AuthError
	if errors.As(err, &ae) {
		return ae.Err
	}
	return err
}

// checkTenant compares the tenant the vault's challenge names with
// tenantId, and the challenge's resource with the vault's host.
func (s *Store) checkTenant(ch challenge, add func(secretstore.Step)) bool {
	step := secretstore.Step{Name: StepTenant}
	switch {
	case !ch.found:
		step.Detail = fmt.Sprintf("the vault answered an unauthenticated request with HTTP %d instead of a Bearer challenge", ch.status)
		step.Hint = "Check vaultUrl: it must point at the Key Vault itself (a proxy in between must pass its 401 answers through)."
	case ch.tenant == "":
		step.Detail = "the vault's challenge names no tenant: " + ch.header
		step.Hint = "Check vaultUrl: a Key Vault's challenge names its tenant."
	case !strings.EqualFold(ch.tenant, s.settings.TenantID):
		te := &TenantError{Configured: s.settings.TenantID, Vault: ch.tenant}
		step.Detail = te.Error()
		step.Hint = te.Hint()
	case !s.settings.AllowCustomVaultHost && !strings.HasSuffix(strings.ToLower(hostOf(s.vaultURL)), "."+strings.ToLower(hostOf(ch.resource))):
		step.Detail = fmt.Sprintf("the vault's tenant is %s as configured, but its challenge names the resource %s, outside %s's domain: the Azure SDK will not send it a token", ch.tenant, ch.resource, hostOf(s.vaultURL))
		step.Hint = "Check vaultUrl and cloud; for an emulator or a proxy that you trust, set allowCustomVaultHost."
	default:
		step.OK = true
		step.Detail = fmt.Sprintf("the vault's challenge names tenant %s, as configured", ch.tenant)
	}
	add(step)
	return step.OK
}

// hinter is an error that says how to fix it.
type hinter interface{ Hint() string }

// checkRead reads the test secret and keeps only its attributes.
func (s *Store) checkRead(ctx context.Context, secretName string, add func(secretstore.Step)) (secretstore.Meta, bool) {
	ctx, cancel := withTimeout(ctx)
	defer cancel()
	step := secretstore.Step{Name: StepRead, Secret: true}
	ref, err := s.ParseRef(secretName)
	if err != nil {
		var re *secretstore.RefError
		step.Detail = err.Error()
		if errors.As(err, &re) {
			step.Detail = re.Rule
		}
		step.Hint = "Name the secret as it appears in the vault (letters, digits and '-'), or paste its resource path or URI."
		add(step)
		return secretstore.Meta{}, false
	}
	m, err := s.Stat(ctx, ref)
	if err != nil {
		step.Detail = err.Error()
		var h hinter
		if errors.As(err, &h) {
			step.Hint = h.Hint()
		} else {
			step.Hint = "Try again; if it persists, check the vault's health in the Azure portal."
		}
		add(step)
		return secretstore.Meta{}, false
	}
	step.OK = true
	step.Detail = fmt.Sprintf("read %s, version %s", ref.Name, m.Version)
	if !m.NotBefore.IsZero() && m.NotBefore.After(time.Now()) {
		step.Detail += fmt.Sprintf("; it is not valid before %s (Key Vault returns it anyway)", m.NotBefore.Format(time.RFC3339))
	}
	add(step)
	return m, true
}

func (s *Store) checkExpiry(m secretstore.Meta, add func(secretstore.Step)) {
	step := secretstore.Step{Name: StepExpiry, OK: true, Secret: true}
	now := time.Now()
	switch left := m.ExpiresAt.Sub(now); {
	case m.ExpiresAt.IsZero():
		step.Detail = "the secret has no expiry date"
	case left <= 0:
		step.OK = false
		step.Detail = fmt.Sprintf("the secret expired on %s", m.ExpiresAt.Format(time.RFC3339))
		step.Hint = "Key Vault still returns an expired secret, but the password it holds has likely been retired: set a new version with a new expiry date."
	case left < expirySoon:
		step.Detail = fmt.Sprintf("the secret expires on %s, in %d days: rotate it soon", m.ExpiresAt.Format(time.RFC3339), int(left.Hours()/24))
	default:
		step.Detail = fmt.Sprintf("the secret expires on %s, in %d days", m.ExpiresAt.Format(time.RFC3339), int(left.Hours()/24))
	}
	add(step)
}

func hostOf(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return raw
	}
	return u.Hostname()
}
