package conjur

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptrace"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/credflow/credflow/internal/secretstore"
)

// The check's steps, in order. "read secret" runs only when a secret is
// named, and says "not tried" when an earlier step failed.
const (
	StepConnect = "reach Conjur over TLS"
	StepAuthn   = "authenticate"
	StepRead    = "read secret"
)

// checkTimeout bounds each network step of a check whose context has no
// deadline.
const checkTimeout = 20 * time.Second

// Check implements secretstore.Checker: it reaches the server (DNS, TCP,
// TLS against the system's roots or caFile, an HTTP answer), authenticates
// with the API key and says for how long the token lasts, and, when
// secretName (a variable id, optionally with '#version') is given, reads
// that variable, dropping its value at once. Every failing step has a
// hint. It never returns a secret value, the API key or a token.
func (s *Store) Check(ctx context.Context, secretName string) secretstore.Report {
	r := secretstore.Report{OK: true}
	add := func(st secretstore.Step) {
		r.Steps = append(r.Steps, st)
		r.OK = r.OK && st.OK
	}
	ok := s.checkConnect(ctx, add) && s.checkAuthn(ctx, add)
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

func checkContext(ctx context.Context) (context.Context, context.CancelFunc) {
	if _, ok := ctx.Deadline(); ok {
		return context.WithCancel(ctx)
	}
	return context.WithTimeout(ctx, checkTimeout)
}

// checkConnect asks for the server's root page, which needs no token.
func (s *Store) checkConnect(ctx context.Context, add func(secretstore.Step)) bool {
	ctx, cancel := checkContext(ctx)
	defer cancel()
	step := secretstore.Step{Name: StepConnect}
	host := hostOf(s.base)
	var (
		mu     sync.Mutex
		remote string
	)
	trace := &httptrace.ClientTrace{GotConn: func(i httptrace.GotConnInfo) {
		mu.Lock()
		defer mu.Unlock()
		remote = i.Conn.RemoteAddr().String()
	}}
	req, err := http.NewRequestWithContext(httptrace.WithClientTrace(ctx, trace), http.MethodGet, s.base+"/", nil)
	if err != nil {
		step.Detail = "cannot build a request for " + s.base
		step.Hint = "Check url."
		add(step)
		return false
	}
	resp, err := s.roundTrip(req)
	if err != nil {
		step.Detail, step.Hint = s.describeConnect(ctx, host, err)
		add(step)
		return false
	}
	drain(resp)
	mu.Lock()
	where := host
	if remote != "" && remote != host {
		where += " (" + remote + ")"
	}
	mu.Unlock()
	if resp.TLS == nil {
		step.Detail = where + " answered without TLS"
		step.Hint = "credflow sends the API key only over TLS: check url."
		add(step)
		return false
	}
	step.OK = true
	step.Detail = fmt.Sprintf("%s answers over %s (HTTP %d)", where, tls.VersionName(resp.TLS.Version), resp.StatusCode)
	add(step)
	return true
}

func (s *Store) describeConnect(ctx context.Context, host string, err error) (detail, hint string) {
	const network = "Check url and the network path to Conjur (firewalls, routes, HTTPS_PROXY and NO_PROXY in credflow's environment)."
	var te *secretstore.ThrottledError
	switch {
	case errors.Is(err, errCA):
		return err.Error(), "caFile must name a readable PEM file with the certificate of the CA that signs Conjur's certificate (on the appliance: conjur-<account>.pem)."
	case errors.As(err, &te):
		return "credflow's read budget for this server is spent", "Try again in a few seconds, or raise readBudget."
	case errors.Is(err, context.DeadlineExceeded) || ctx.Err() != nil:
		return host + " did not answer in time", network
	}
	d := describeDialError(err)
	if strings.Contains(d, "certificate") {
		if s.settings.CAFile != "" {
			return host + " answers but " + d + " by caFile " + s.settings.CAFile,
				"caFile must hold the CA that signs Conjur's certificate (on the appliance: conjur-<account>.pem), and the certificate must name the host in url."
		}
		return host + " answers but " + d,
			"Set caFile to the PEM file of the CA that signs Conjur's certificate (a self-hosted appliance's own CA is not among the system's roots)."
	}
	return host + ": " + d, network
}

// checkAuthn authenticates with the API key; the token is dropped.
func (s *Store) checkAuthn(ctx context.Context, add func(secretstore.Step)) bool {
	ctx, cancel := checkContext(ctx)
	defer cancel()
	step := secretstore.Step{Name: StepAuthn}
	t, err := s.authenticate(ctx)
	if err != nil {
		step.Detail = err.Error()
		var h secretstore.Hinter
		if errors.As(err, &h) {
			step.Hint = h.Hint()
		}
		add(step)
		return false
	}
	step.OK = true
	step.Detail = fmt.Sprintf("%s got an access token from account %s, valid for %s", s.settings.Login, s.settings.Account, t.life.Round(time.Second))
	add(step)
	return true
}

// checkRead reads the named variable and keeps only its version.
func (s *Store) checkRead(ctx context.Context, secretName string, add func(secretstore.Step)) {
	ctx, cancel := checkContext(ctx)
	defer cancel()
	step := secretstore.Step{Name: StepRead, Secret: true}
	ref, err := s.ParseRef(secretName)
	if err != nil {
		var re *secretstore.RefError
		step.Detail = err.Error()
		if errors.As(err, &re) {
			step.Detail = re.Rule
		}
		step.Hint = "Name the variable by its id in Conjur's policy, such as app/db/password, optionally with #version."
		add(step)
		return
	}
	m, err := s.Stat(ctx, ref)
	if err != nil {
		step.Detail = err.Error()
		var h secretstore.Hinter
		if errors.As(err, &h) {
			step.Hint = h.Hint()
		} else {
			step.Hint = "Try again; if it persists, check Conjur's health."
		}
		add(step)
		return
	}
	step.OK = true
	switch {
	case m.Version != "":
		step.Detail = fmt.Sprintf("read %s, version %s", ref.Name, m.Version)
	default:
		step.Detail = fmt.Sprintf("read %s (its versions are not visible to %s)", ref.Name, s.settings.Login)
	}
	if !m.ExpiresAt.IsZero() {
		step.Detail += fmt.Sprintf("; Conjur marks it to expire (for rotation) on %s", m.ExpiresAt.Format(time.RFC3339))
	}
	add(step)
}

func hostOf(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return raw
	}
	return u.Host
}
