package cyberarkccp

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/url"
	"time"

	"github.com/credflow/credflow/internal/secretstore"
)

// The check's steps, in order. "read secret" runs only when a secret is
// named, and says "not tried" when an earlier step failed.
const (
	StepFiles        = "client certificate"
	StepConnect      = "reach CCP over TLS"
	StepAuthenticate = "authenticate"
	StepRead         = "read secret"
)

// checkTimeout bounds each network step of a check whose context has no
// deadline.
const checkTimeout = 20 * time.Second

// probeObject names an account no one has: asking for it shows whether
// CCP lets credflow's Application in, without reading any password.
const probeObject = "credflow-check-probe"

// Check implements secretstore.Checker: it loads the client certificate,
// reaches CCP over TLS (and says which certificate it presented), asks
// CCP for an account that does not exist (an "object not found" answer
// proves the certificate and the Application were accepted), and, when
// secretName is given, reads that account, dropping its password at once.
// It never returns a secret value.
func (s *Store) Check(ctx context.Context, secretName string) secretstore.Report {
	r := secretstore.Report{OK: true}
	add := func(st secretstore.Step) {
		r.Steps = append(r.Steps, st)
		r.OK = r.OK && st.OK
	}
	ok := s.checkFiles(add) && s.checkConnect(ctx, add) && s.checkAuthenticate(ctx, add)
	if secretName == "" {
		return r
	}
	if !ok {
		add(secretstore.Step{Name: StepRead, Detail: "not tried: an earlier step failed", Secret: true})
		return r
	}
	s.checkRead(ctx, secretName, add)
	return r
}

func withTimeout(ctx context.Context) (context.Context, context.CancelFunc) {
	if _, ok := ctx.Deadline(); ok {
		return context.WithCancel(ctx)
	}
	return context.WithTimeout(ctx, checkTimeout)
}

func (s *Store) checkFiles(add func(secretstore.Step)) bool {
	step := secretstore.Step{Name: StepFiles}
	if s.caErr != nil {
		step.Detail, step.Hint = s.caErr.Error(), caHint
		add(step)
		return false
	}
	c, err := s.keys.load()
	if err != nil {
		step.Detail, step.Hint = err.Error(), keyHint
		add(step)
		return false
	}
	step.OK = true
	step.Detail = "loaded " + s.settings.ClientCertFile
	if c.Leaf != nil {
		step.Detail += fmt.Sprintf(": subject %q, serial number %X, issued by %q, valid until %s",
			c.Leaf.Subject.String(), c.Leaf.SerialNumber, c.Leaf.Issuer.String(), c.Leaf.NotAfter.UTC().Format(time.RFC3339))
		if time.Now().After(c.Leaf.NotAfter) {
			step.OK = false
			step.Detail += " (expired)"
			step.Hint = "The client certificate has expired: issue a new one and update the Application's authentication in the PVWA if it names the serial number."
		}
	}
	add(step)
	return step.OK
}

func (s *Store) checkConnect(ctx context.Context, add func(secretstore.Step)) bool {
	ctx, cancel := withTimeout(ctx)
	defer cancel()
	step := secretstore.Step{Name: StepConnect}
	u, err := url.Parse(s.settings.URL)
	if err != nil {
		step.Detail = "url cannot be parsed"
		add(step)
		return false
	}
	host := u.Host
	if u.Port() == "" {
		host = net.JoinHostPort(u.Hostname(), "443")
	}
	cfg := s.tlsConfig.Clone()
	cfg.ServerName = u.Hostname()
	d := &tls.Dialer{NetDialer: &net.Dialer{}, Config: cfg}
	conn, err := d.DialContext(ctx, "tcp", host)
	if err != nil {
		step.Detail, step.Hint = describeDialError(err)
		add(step)
		return false
	}
	defer conn.Close()
	cs := conn.(*tls.Conn).ConnectionState()
	step.OK = true
	step.Detail = fmt.Sprintf("%s (%s) answers over %s", u.Host, conn.RemoteAddr(), tls.VersionName(cs.Version))
	if len(cs.PeerCertificates) > 0 {
		step.Detail += fmt.Sprintf(", server certificate %q", cs.PeerCertificates[0].Subject.String())
	}
	add(step)
	return true
}

// checkAuthenticate asks for the probe account: CCP answers "not found"
// only after it accepted the certificate and the Application.
func (s *Store) checkAuthenticate(ctx context.Context, add func(secretstore.Step)) bool {
	ctx, cancel := withTimeout(ctx)
	defer cancel()
	step := secretstore.Step{Name: StepAuthenticate}
	v := s.values(locator{query: "Object=" + probeObject})
	_, err := s.try(ctx, "check", "the probe account", encode(v))
	var h secretstore.Hinter
	switch {
	case err == nil, errors.Is(err, secretstore.ErrNotFound), errors.Is(err, secretstore.ErrAmbiguous):
		step.OK = true
		step.Detail = fmt.Sprintf("CCP accepted the client certificate and the Application %s", s.settings.AppID)
	case errors.As(err, &h):
		step.Detail, step.Hint = err.Error(), h.Hint()
	default:
		step.Detail = err.Error()
	}
	add(step)
	return step.OK
}

func (s *Store) checkRead(ctx context.Context, secretName string, add func(secretstore.Step)) {
	ctx, cancel := withTimeout(ctx)
	defer cancel()
	step := secretstore.Step{Name: StepRead, Secret: true}
	ref, err := s.ParseRef(secretName)
	if err == nil {
		_, err = s.Stat(ctx, ref)
	}
	var (
		re *secretstore.RefError
		h  secretstore.Hinter
	)
	switch {
	case err == nil:
		step.OK = true
		step.Detail = "read " + secretName + " (its password was not kept)"
	case errors.As(err, &re) && re.Ref == secretName:
		step.Detail = re.Rule
		step.Hint = "Write Object, Safe/Object, Safe/Folder/Object or query:Safe=...;Object=..."
	case errors.As(err, &h):
		step.Detail, step.Hint = err.Error(), h.Hint()
	default:
		step.Detail = err.Error()
	}
	add(step)
}
