package hcvault

import (
	"context"
	"fmt"
	"time"

	"github.com/credflow/credflow/internal/secretstore"
)

// The check's steps, in order. "read secret" runs only when a secret is
// named, and says "not tried" when an earlier step failed.
const (
	StepReach = "reach the server"
	StepAuth  = "authenticate"
	StepRead  = "read secret"
)

// checkTimeout bounds each network step of a check whose context has no
// deadline.
const checkTimeout = 20 * time.Second

// Check implements secretstore.Checker: it reaches the server over TLS
// (its unauthenticated health endpoint, which also says whether it is
// sealed), signs in afresh (a token's lookup of itself, or an AppRole
// login) and says as whom, and, when secretName (any reference ParseRef
// accepts) is given, reads that secret, dropping its value at once. Every
// failing step has a hint. It never returns a secret value, a token or a
// secret id.
func (s *Store) Check(ctx context.Context, secretName string) secretstore.Report {
	r := secretstore.Report{OK: true}
	add := func(st secretstore.Step) {
		r.Steps = append(r.Steps, st)
		r.OK = r.OK && st.OK
	}
	reached := s.checkReach(ctx, add)
	authed := reached && s.checkAuth(ctx, add)
	if !reached {
		add(secretstore.Step{Name: StepAuth, Detail: "not tried: the server cannot be reached"})
	}
	if secretName == "" {
		return r
	}
	if !authed {
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

func (s *Store) checkReach(ctx context.Context, add func(secretstore.Step)) bool {
	ctx, cancel := withTimeout(ctx)
	defer cancel()
	h, err := s.base.Sys().HealthWithContext(ctx)
	if err != nil {
		step := secretstore.Step{Name: StepReach, Detail: fmt.Sprintf("no answer from %s: %s", s.address, describeTransport(err)), Hint: transportHint(err)}
		if st := status(err); st != 0 {
			step.Detail = fmt.Sprintf("%s answered its health check with HTTP %d", s.address, st)
			step.Hint = "Check that the address is the Vault (or OpenBao) server's API address."
		}
		if step.Hint == "" {
			step.Hint = "Check the store's address and that credflow's network reaches it."
		}
		add(step)
		return false
	}
	switch {
	case !h.Initialized:
		add(secretstore.Step{Name: StepReach, Detail: fmt.Sprintf("%s answered over TLS but is not initialized", s.address), Hint: "Initialize the server (vault operator init)."})
		return false
	case h.Sealed:
		add(secretstore.Step{Name: StepReach, Detail: fmt.Sprintf("%s answered over TLS but is sealed", s.address), Hint: "Unseal the server (vault operator unseal) before credflow can read from it."})
		return false
	}
	detail := fmt.Sprintf("%s answered over TLS", s.address)
	if h.Version != "" {
		detail += " (version " + h.Version + ")"
	}
	add(secretstore.Step{Name: StepReach, OK: true, Detail: detail})
	return true
}

func (s *Store) checkAuth(ctx context.Context, add func(secretstore.Step)) bool {
	ctx, cancel := withTimeout(ctx)
	defer cancel()
	t, err := s.session.signIn(ctx)
	if err != nil {
		step := secretstore.Step{Name: StepAuth, Detail: err.Error()}
		if ae, ok := err.(*AuthError); ok {
			step.Detail, step.Hint = ae.Detail, ae.hint
		}
		add(step)
		return false
	}
	s.session.set(t)
	a := s.settings.Auth
	how := "with the token from " + a.source()
	if a.Kind == AuthAppRole {
		how = fmt.Sprintf("with AppRole at auth/%s (secret id from %s)", a.mount(), a.source())
	}
	if s.settings.Namespace != "" {
		how += " in namespace " + s.settings.Namespace
	}
	lease := "a token that does not expire"
	if t.ttl > 0 {
		lease = fmt.Sprintf("a token valid for %s", t.ttl)
		if t.renewable {
			lease += ", renewable"
		}
	}
	add(secretstore.Step{Name: StepAuth, OK: true, Detail: fmt.Sprintf("signed in %s as %s: %s", how, t.who, lease)})
	return true
}

func (s *Store) checkRead(ctx context.Context, secretName string, add func(secretstore.Step)) {
	ref, err := s.ParseRef(secretName)
	if err != nil {
		add(secretstore.Step{Name: StepRead, Detail: err.Error(), Hint: refRule, Secret: true})
		return
	}
	ctx, cancel := withTimeout(ctx)
	defer cancel()
	m, err := s.Stat(ctx, ref)
	if err != nil {
		step := secretstore.Step{Name: StepRead, Detail: fmt.Sprintf("%s: %s", s.DisplayRef(ref), secretstore.Describe(err)), Secret: true}
		if h, ok := err.(interface{ Hint() string }); ok {
			step.Hint = h.Hint()
		}
		add(step)
		return
	}
	add(secretstore.Step{Name: StepRead, OK: true, Detail: fmt.Sprintf("read %s (version %s)", s.DisplayRef(ref), m.Version), Secret: true})
}
