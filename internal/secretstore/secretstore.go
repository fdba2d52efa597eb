// Package secretstore defines how credflow reads secrets from the stores that
// hold them: the Store contract every kind implements, the optional
// capabilities a kind may add (writing, listing, deleting, metadata look-ups,
// sealing), the redacting Value type, and the sentinel errors callers match
// with errors.Is.
//
// It knows secrets, never credentials, variables or users: the domain
// packages depend on it, not the other way round. The kinds themselves live in
// child packages (builtin, ...); the conformance suite every kind must pass is
// storetest.
package secretstore

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"runtime"
	"runtime/debug"
	"time"

	"github.com/credflow/credflow/internal/audit"
)

// Sentinel errors. Implementations wrap them with context (fmt.Errorf("...:
// %w", ErrNotFound)); callers check them with errors.Is. None of them, nor any
// error a store returns, may carry a secret value.
var (
	// ErrNotFound: the secret, or the pinned version of it, does not exist.
	ErrNotFound = errors.New("secret not found")
	// ErrForbidden: the store refused credflow's identity access to the secret.
	ErrForbidden = errors.New("access denied")
	// ErrDisabled: the secret exists but is disabled in the store.
	ErrDisabled = errors.New("secret disabled")
	// ErrNetworkDenied: the store's firewall refused credflow's network.
	ErrNetworkDenied = errors.New("network access to the store denied")
	// ErrSealed: the store cannot decrypt (its key is missing); it refuses to read.
	ErrSealed = errors.New("store is sealed")
	// ErrUnauthenticated: the store refused credflow's own credentials (a
	// token, an API key, a login), or they could not be read.
	ErrUnauthenticated = errors.New("the store refused credflow's credentials")
	// ErrUnavailable: the store could not be reached or answered with a failure.
	ErrUnavailable = errors.New("store unavailable")
	// ErrTimeout: the store did not answer within the call's deadline.
	ErrTimeout = errors.New("store timed out")
	// ErrThrottled: the store asked credflow to slow down. See ThrottledError.
	ErrThrottled = errors.New("store throttled")
	// ErrInvalidRef: a reference does not follow the kind's syntax. See RefError.
	ErrInvalidRef = errors.New("invalid secret reference")
	// ErrCorrupt: stored data failed its integrity check (for example a
	// ciphertext that does not belong to the row it was read from).
	ErrCorrupt = errors.New("stored secret failed its integrity check")
	// ErrStoreNotFound: no store of that name is registered.
	ErrStoreNotFound = errors.New("store not found")
	// ErrReadOnly: the store does not accept writes through credflow.
	ErrReadOnly = errors.New("store is read-only")
	// ErrAmbiguous: the reference matches more than one secret in the
	// store (a search the store answers with one secret only). See
	// AmbiguousError.
	ErrAmbiguous = errors.New("reference matches more than one secret")
)

// Describe says in a few words which of the sentinel errors err is, for
// status lines and check reports: never the store's own error text.
func Describe(err error) string {
	for _, c := range []struct {
		err  error
		text string
	}{
		{ErrNotFound, "secret not found"},
		{ErrForbidden, "access denied by the store"},
		{ErrNetworkDenied, "the store's firewall refused credflow's network"},
		{ErrDisabled, "secret disabled"},
		{ErrSealed, "store sealed"},
		{ErrUnauthenticated, "the store refused credflow's credentials"},
		{ErrInvalidRef, "not a valid secret reference for this store"},
		{ErrTimeout, "the store did not answer in time"},
		{ErrThrottled, "the store is throttling requests"},
		{ErrStoreNotFound, "store not registered"},
		{ErrCorrupt, "stored secret failed its integrity check"},
		{ErrAmbiguous, "the reference matches more than one secret"},
		{ErrUnavailable, "store unavailable"},
	} {
		if errors.Is(err, c.err) {
			return c.text
		}
	}
	return "the store could not be reached"
}

// ThrottledError carries how long the store asked credflow to wait. It
// matches ErrThrottled with errors.Is.
type ThrottledError struct {
	RetryAfter time.Duration
}

func (e *ThrottledError) Error() string {
	return fmt.Sprintf("%v (retry after %s)", ErrThrottled, e.RetryAfter)
}

// Is reports whether target is ErrThrottled.
func (e *ThrottledError) Is(target error) bool { return target == ErrThrottled }

// RefError explains why a reference string is not valid for a store. It
// matches ErrInvalidRef with errors.Is. Rule is written for people and never
// contains a secret value.
type RefError struct {
	Ref  string
	Rule string
}

func (e *RefError) Error() string {
	return fmt.Sprintf("secretstore: invalid secret reference %q: %s", e.Ref, e.Rule)
}

// Is reports whether target is ErrInvalidRef.
func (e *RefError) Is(target error) bool { return target == ErrInvalidRef }

// AmbiguousError says how many secrets a reference matched. It matches
// ErrAmbiguous with errors.Is. Count is 0 when the store did not say.
type AmbiguousError struct {
	Count int
}

func (e *AmbiguousError) Error() string {
	if e.Count > 1 {
		return fmt.Sprintf("%v (%d matches)", ErrAmbiguous, e.Count)
	}
	return ErrAmbiguous.Error()
}

// Is reports whether target is ErrAmbiguous.
func (e *AmbiguousError) Is(target error) bool { return target == ErrAmbiguous }

// Ref names one secret inside one store. Version "" means the latest version
// at the time of each read.
type Ref struct {
	Name    string
	Version string
}

// String renders the reference for messages; it never holds a value.
func (r Ref) String() string {
	if r.Version == "" {
		return r.Name
	}
	return r.Name + "/" + r.Version
}

// Meta is what a store knows about a secret without its value.
type Meta struct {
	Version   string
	Enabled   bool
	ExpiresAt time.Time // zero when the secret does not expire
	NotBefore time.Time // zero when not set
	UpdatedAt time.Time
	// Props are the properties a store keeps with a secret besides its
	// value, by name (CyberArk CCP: an account's UserName, Address): never
	// the value itself. Nil for stores that keep none.
	Props map[string]string
}

// Secret is one version of a secret with its value.
type Secret struct {
	Value Value
	Meta
	// Stale is set by a cache that served the last good value because the
	// store failed.
	Stale bool
}

// Store reads secrets. Every kind implements it.
type Store interface {
	// ParseRef checks a reference string in the kind's own syntax and returns
	// the parsed Ref, or an error matching ErrInvalidRef.
	ParseRef(ref string) (Ref, error)
	// Get reads the secret's value: the pinned version, or the latest.
	Get(ctx context.Context, ref Ref) (Secret, error)
}

// Optional capabilities, found with a type assertion.

// Stater looks a secret up without reading its value, where the store can.
type Stater interface {
	Stat(ctx context.Context, ref Ref) (Meta, error)
}

// Writer stores a new version of a secret. e is the audit record of the
// write, which the store keeps with the change (in the same transaction,
// for a store in credflow's own database), so that neither exists without
// the other.
type Writer interface {
	Put(ctx context.Context, name string, v Value, e audit.Entry) (Written, error)
}

// Written is what a write stored: the new version's metadata, and whether
// the write created the secret (it had no version, or only deleted ones)
// rather than adding a version to it.
type Written struct {
	Meta
	Created bool
}

// Entry describes a stored secret in a listing: never its value.
type Entry struct {
	Name      string
	Version   string // latest version
	Versions  int    // number of versions kept
	CreatedAt time.Time
	UpdatedAt time.Time
}

// Lister lists the secrets a store holds, ordered by name, starting after the
// given name, at most limit entries.
type Lister interface {
	List(ctx context.Context, after string, limit int) ([]Entry, error)
}

// Deleter removes a secret with all its versions. e is the audit record of
// the deletion, kept with the change as Writer's is.
type Deleter interface {
	Delete(ctx context.Context, name string, e audit.Entry) error
}

// Sealable is implemented by stores that can be sealed (unable to decrypt).
type Sealable interface {
	Sealed() bool
}

// Value is a secret value. It redacts itself wherever it could be printed,
// logged or marshalled; the raw string comes out only through Reveal, which
// is called at the few places that hand a value to its rightful user.
type Value struct {
	s string
}

// NewValue wraps a raw secret.
func NewValue(s string) Value { return Value{s: s} }

const redacted = "[redacted]"

// Reveal returns the raw secret.
func (v Value) Reveal() string { return v.s }

// Len is the value's length in bytes.
func (v Value) Len() int { return len(v.s) }

// IsZero reports whether the value is empty.
func (v Value) IsZero() bool { return v.s == "" }

// String implements fmt.Stringer.
func (Value) String() string { return redacted }

// GoString implements fmt.GoStringer.
func (Value) GoString() string { return redacted }

// Format implements fmt.Formatter, so that every verb prints the redaction.
func (Value) Format(f fmt.State, _ rune) { _, _ = f.Write([]byte(redacted)) }

// MarshalJSON implements json.Marshaler.
func (Value) MarshalJSON() ([]byte, error) { return []byte(`"` + redacted + `"`), nil }

// MarshalText implements encoding.TextMarshaler.
func (Value) MarshalText() ([]byte, error) { return []byte(redacted), nil }

// LogValue implements slog.LogValuer.
func (Value) LogValue() slog.Value { return slog.StringValue(redacted) }

// Checker runs a store's step-by-step prerequisites check: can the store be
// reached, can credflow authenticate, is it the expected tenant, can it
// read a given secret. It never returns a secret value.
type Checker interface {
	Check(ctx context.Context, secretName string) Report
}

// Report is the outcome of a check, step by step.
type Report struct {
	OK    bool
	Steps []Step
}

// Step is one step of a check. Hint says how to fix a failing step.
// Secret marks a step about the secret the check was asked to read rather
// than about the store: its failure says nothing of the store's health.
type Step struct {
	Name   string
	OK     bool
	Detail string
	Hint   string
	Secret bool
}

// FieldRefs is implemented by stores whose references can also be given as
// named parts (Key Vault: subscriptionId, resourceGroup, vaultName,
// secretName, secretVersion). It returns the reference string they make.
type FieldRefs interface {
	RefFromFields(fields map[string]string) (string, error)
}

// RefDisplayer is implemented by stores with a canonical way to show a
// reference to people (Key Vault: the secret's resource path).
type RefDisplayer interface {
	DisplayRef(ref Ref) string
}

// Hinter is implemented by errors that say how to fix what they report.
// A hint never holds a secret value.
type Hinter interface {
	Hint() string
}

// Unopened is implemented by a stand-in for a registered store that could
// not be opened (its settings name a file that is gone, or a kind this
// build does not know); OpenError says why.
type Unopened interface {
	OpenError() error
}

// ContainPanic, deferred by a caller of a store client, turns the client's
// panic into *err: a PanicError, which is an unavailable store for
// errors.Is. Store calls made on a goroutine of their own (a cache's
// shared read, a background poll or check) defer it, because a panic
// there would end the process. what says which call it was.
func ContainPanic(what string, err *error) {
	v := recover()
	if v == nil {
		return
	}
	pe := &PanicError{What: what, Panic: fmt.Sprintf("value of type %T", v), Stack: string(debug.Stack())}
	if re, ok := v.(runtime.Error); ok {
		pe.Panic = re.Error() // a runtime error's own text holds no data
	}
	*err = pe
}

// PanicError is a store call that panicked. Its text names the call, the
// panic's type (or a runtime error's own text) and the stack; never the
// panic's value, which could hold what the client was reading.
type PanicError struct {
	What, Panic, Stack string
}

func (e *PanicError) Error() string {
	return fmt.Sprintf("%s: %v: the store client panicked (%s)\n%s", e.What, ErrUnavailable, e.Panic, e.Stack)
}

// Unwrap makes a panicked call an unavailable store for errors.Is.
func (e *PanicError) Unwrap() error { return ErrUnavailable }
