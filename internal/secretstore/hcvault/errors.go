package hcvault

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/hashicorp/vault/api"

	"github.com/credflow/credflow/internal/secretstore"
)

// Error is Vault's refusal of one read, reduced to its status: it never
// carries the response body. It matches the secretstore sentinel it maps
// to with errors.Is (ErrForbidden, ErrNotFound, ErrUnavailable, ErrTimeout),
// and a 429 also gives a *secretstore.ThrottledError with errors.As.
type Error struct {
	Op      string // "read" or "stat"
	Ref     string // path#field[@version]
	Address string
	Status  int // 0: no answer
	kind    error
	hint    string
}

func (e *Error) Error() string {
	msg := fmt.Sprintf("hcvault: %s %s at %s: %v", e.Op, e.Ref, e.Address, e.kind)
	if e.Status != 0 {
		msg += fmt.Sprintf(" (HTTP %d)", e.Status)
	}
	return msg
}

// Unwrap returns the sentinel (or *secretstore.ThrottledError).
func (e *Error) Unwrap() error { return e.kind }

// Hint says how to fix the refusal, for people.
func (e *Error) Hint() string { return e.hint }

// AuthError: credflow could not sign in to Vault. It matches
// secretstore.ErrUnauthenticated when Vault refused credflow's credentials
// (or they could not be read), and ErrUnavailable or ErrTimeout when Vault
// could not be asked. It never holds a token or secret id.
type AuthError struct {
	Step   string
	Detail string
	kind   error
	hint   string
}

func (e *AuthError) Error() string { return "hcvault: " + e.Detail }

// Unwrap returns the sentinel.
func (e *AuthError) Unwrap() error { return e.kind }

// Hint says what went wrong with the sign-in and how to fix it, for people.
func (e *AuthError) Hint() string {
	msg := strings.ToUpper(e.Detail[:1]) + e.Detail[1:] + "."
	if e.hint != "" {
		msg += " " + e.hint
	}
	return msg
}

// mapError turns a failed read into an *Error (or returns the
// *AuthError of a failed sign-in, or the context's error).
func (s *Store) mapError(ctx context.Context, op, display string, err error) error {
	var ae *AuthError
	if errors.As(err, &ae) {
		return err
	}
	e := &Error{Op: op, Ref: display, Address: s.address, Status: status(err)}
	if ctxErr := ctx.Err(); ctxErr != nil {
		e.kind = ctxError(ctxErr)
		return e
	}
	var re *api.ResponseError
	if !errors.As(err, &re) {
		e.kind = fmt.Errorf("%w: %s", secretstore.ErrUnavailable, describeTransport(err))
		if ce := s.connectError(err); ce != nil {
			e.kind = ce
		}
		e.hint = transportHint(err)
		return e
	}
	switch re.StatusCode {
	case http.StatusForbidden:
		who := "credflow's token"
		var de *deniedError
		if errors.As(err, &de) {
			who = de.who
		}
		e.kind = secretstore.ErrForbidden
		e.hint = fmt.Sprintf("Vault denied %s the read of %s/data/%s: add to one of its policies path %q { capabilities = [\"read\"] } (a namespace's policies apply inside it).",
			who, s.settings.mount(), pathOf(display), s.settings.mount()+"/data/"+pathOf(display))
	case http.StatusNotFound:
		e.kind = secretstore.ErrNotFound
		e.hint = fmt.Sprintf("Check the path and version, and that the store's mount %q is a KV version 2 secrets engine.", s.settings.mount())
	case http.StatusTooManyRequests:
		e.kind = &secretstore.ThrottledError{RetryAfter: time.Second}
		e.hint = "Vault's rate limit quota refused the read: raise the quota for credflow's path, or raise the store's cache TTL."
	case http.StatusServiceUnavailable:
		e.kind = secretstore.ErrUnavailable
		e.hint = "Vault answered 503: it may be sealed, in maintenance, or a standby without an active node."
	default:
		e.kind = fmt.Errorf("%w: Vault answered HTTP %d", secretstore.ErrUnavailable, re.StatusCode)
	}
	return e
}

// pathOf is the path part of path#field[@version].
func pathOf(display string) string {
	for i, c := range display {
		if c == '#' || c == '@' {
			return display[:i]
		}
	}
	return display
}

// ctxError maps a finished context onto the sentinels: a deadline is a
// timeout; a cancellation stays context.Canceled.
func ctxError(err error) error {
	if errors.Is(err, context.DeadlineExceeded) {
		return fmt.Errorf("%w: %w", secretstore.ErrTimeout, err)
	}
	return err
}

// transportAuthError is a sign-in that got no answer from Vault.
func (s *Store) transportAuthError(ctx context.Context, what string, err error) error {
	ae := &AuthError{Step: StepAuth, Detail: fmt.Sprintf("cannot %s at %s: ", what, s.address)}
	switch {
	case ctx.Err() != nil:
		ae.kind = ctxError(ctx.Err())
		ae.Detail += ctx.Err().Error()
	case status(err) != 0:
		ae.kind = secretstore.ErrUnavailable
		ae.Detail += "Vault answered HTTP " + strconv.Itoa(status(err))
	default:
		ae.kind = secretstore.ErrUnavailable
		ae.Detail += describeTransport(err)
		if ce := s.connectError(err); ce != nil {
			ae.kind = ce
		}
		ae.hint = transportHint(err)
	}
	return ae
}

// connectError classifies a failure to reach the server (nil: another
// failure).
func (s *Store) connectError(err error) *secretstore.ConnectError {
	host := s.address
	if u, perr := url.Parse(s.address); perr == nil && u.Host != "" {
		host = u.Host
	}
	return secretstore.Connect(host, err)
}

// describeTransport says in a few words why no answer came, without the
// request URL (which the client puts in its errors).
func describeTransport(err error) string {
	switch {
	case errors.As(err, new(*caFileError)):
		var ce *caFileError
		errors.As(err, &ce)
		return ce.Error()
	}
	if ce := secretstore.Connect("the server", err); ce != nil {
		return ce.Detail()
	}
	if permanent(err) {
		return "the server cannot be reached (" + rootCause(err) + ")"
	}
	return "no answer from the server (" + rootCause(err) + ")"
}

func transportHint(err error) string {
	if permanent(err) {
		return "Check the store's address, that credflow's network reaches it, and that caFile holds the authority that signed the server's certificate."
	}
	return ""
}

// rootCause is the innermost error's text: the dial, DNS or TLS failure.
func rootCause(err error) string {
	for {
		u := errors.Unwrap(err)
		if u == nil {
			return err.Error()
		}
		err = u
	}
}
