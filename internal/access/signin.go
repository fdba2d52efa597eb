package access

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/credflow/credflow/internal/audit"
)

// SignInLimitError is a request refused because its client address failed
// to sign in too often in the current window. It is only ever the answer
// to a request whose own credentials failed too: a valid token is never
// refused.
type SignInLimitError struct {
	Limit      int
	RetryAfter time.Duration
}

func (e *SignInLimitError) Error() string {
	return fmt.Sprintf("more than %d failed sign-ins from this address in a minute: try again in %d seconds",
		e.Limit, int(e.RetryAfter.Seconds()+0.999))
}

// SignInGuard counts failed sign-ins per client address in windows of a
// minute (from an address's first failure). It audits each window once,
// with its count, when the window has ended: at the guard's next sweep, at
// the address's next failure, or when the guard stops. After Limit failures
// in a window, the address's further failing requests are refused until
// the window ends. The table of addresses is bounded: when it is full,
// failures from addresses not in it share one window.
type SignInGuard struct {
	rec    recorder
	log    *slog.Logger
	limit  int
	window time.Duration
	max    int
	now    func() time.Time

	mu    sync.Mutex
	addrs map[string]*signInWindow
	// other holds the failures of addresses that found the table full.
	other *signInWindow
}

// recorder writes audit records; the access Repository is one.
type recorder interface {
	Record(ctx context.Context, entries ...audit.Entry) error
}

type signInWindow struct {
	start     time.Time
	failures  int
	refused   int
	reason    string // the last failure's reason
	requestID string // the last failure's request
}

// SignInOptions configure a SignInGuard. Zero fields take the defaults.
type SignInOptions struct {
	// Limit is how many failures an address may make in a window before
	// its further failing requests are refused (default 20).
	Limit int
	// Window is the counting window (default a minute).
	Window time.Duration
	// MaxAddresses bounds the table of addresses (default 10,000).
	MaxAddresses int
	Log          *slog.Logger
}

// Defaults of SignInOptions.
const (
	DefaultSignInLimit        = 20
	DefaultSignInWindow       = time.Minute
	DefaultSignInMaxAddresses = 10000
)

// NewSignInGuard returns a guard that audits through the service's
// repository.
func (s *Service) NewSignInGuard(opts SignInOptions) *SignInGuard {
	return newSignInGuard(s.repo, opts, s.now)
}

func newSignInGuard(rec recorder, opts SignInOptions, now func() time.Time) *SignInGuard {
	if opts.Limit <= 0 {
		opts.Limit = DefaultSignInLimit
	}
	if opts.Window <= 0 {
		opts.Window = DefaultSignInWindow
	}
	if opts.MaxAddresses <= 0 {
		opts.MaxAddresses = DefaultSignInMaxAddresses
	}
	if opts.Log == nil {
		opts.Log = slog.Default()
	}
	return &SignInGuard{rec: rec, log: opts.Log, limit: opts.Limit, window: opts.Window, max: opts.MaxAddresses, now: now,
		addrs: map[string]*signInWindow{}}
}

// otherAddresses is the resource of the window shared by the addresses
// that found the table full.
const otherAddresses = "*"

// Failed counts a failed sign-in from client (the request's address) for
// the reason given (never a token), and reports whether the request is to
// be refused with a *SignInLimitError, because the address has already
// failed Limit times in its current window.
func (g *SignInGuard) Failed(ctx context.Context, client, reason string) error {
	now := g.now()
	var ended []endedWindow
	g.mu.Lock()
	w, ok := g.addrs[client]
	if ok && now.Sub(w.start) >= g.window {
		ended = append(ended, endedWindow{client, *w})
		delete(g.addrs, client)
		ok = false
	}
	if !ok {
		switch {
		case len(g.addrs) < g.max:
			w = &signInWindow{start: now}
			g.addrs[client] = w
		default:
			if g.other != nil && now.Sub(g.other.start) >= g.window {
				ended = append(ended, endedWindow{otherAddresses, *g.other})
				g.other = nil
			}
			if g.other == nil {
				g.other = &signInWindow{start: now}
			}
			w = g.other
		}
	}
	w.failures++
	w.reason, w.requestID = reason, audit.RequestFrom(ctx).RequestID
	var err error
	if w.failures > g.limit {
		w.refused++
		err = &SignInLimitError{Limit: g.limit, RetryAfter: w.start.Add(g.window).Sub(now)}
	}
	g.mu.Unlock()
	g.record(context.WithoutCancel(ctx), ended)
	return err
}

type endedWindow struct {
	client string
	w      signInWindow
}

// Run audits the windows that ended, a few times a window, until ctx ends;
// then it audits every window still open.
func (g *SignInGuard) Run(ctx context.Context) {
	t := time.NewTicker(g.window / 6)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			g.Flush(context.WithoutCancel(ctx), true)
			return
		case <-t.C:
			g.Flush(ctx, false)
		}
	}
}

// Flush audits the windows that ended (every window, when all is set) and
// forgets them.
func (g *SignInGuard) Flush(ctx context.Context, all bool) {
	now := g.now()
	var ended []endedWindow
	g.mu.Lock()
	for c, w := range g.addrs {
		if all || now.Sub(w.start) >= g.window {
			ended = append(ended, endedWindow{c, *w})
			delete(g.addrs, c)
		}
	}
	if g.other != nil && (all || now.Sub(g.other.start) >= g.window) {
		ended = append(ended, endedWindow{otherAddresses, *g.other})
		g.other = nil
	}
	g.mu.Unlock()
	g.record(ctx, ended)
}

func (g *SignInGuard) record(ctx context.Context, ended []endedWindow) {
	for _, e := range ended {
		var b strings.Builder
		if e.client == otherAddresses {
			fmt.Fprintf(&b, "%d failed sign-ins from addresses beyond the %d tracked one by one", e.w.failures, g.max)
		} else if e.w.failures == 1 {
			b.WriteString("1 failed sign-in")
		} else {
			fmt.Fprintf(&b, "%d failed sign-ins", e.w.failures)
		}
		fmt.Fprintf(&b, " in the %s from %s", g.window, e.w.start.UTC().Format(time.RFC3339))
		if e.w.refused > 0 {
			fmt.Fprintf(&b, "; %d refused with 429 after the limit of %d", e.w.refused, g.limit)
		}
		fmt.Fprintf(&b, "; last reason: %s", e.w.reason)
		rctx := audit.WithRequest(ctx, audit.Request{RequestID: e.w.requestID, Client: e.client})
		if err := g.rec.Record(rctx, audit.Entry{Actor: "anonymous", Action: "auth.signin.failed", Resource: "client:" + e.client,
			Outcome: audit.Denied, Reason: b.String()}); err != nil {
			g.log.Error("could not audit failed sign-ins", slog.String("client", e.client), slog.Int("failures", e.w.failures),
				slog.String("error", err.Error()))
		}
	}
}
