// Package storetest is the conformance suite every secret store kind must
// pass, in the spirit of Vault's physical.ExerciseBackend: a kind's test
// builds a Harness around its store (over a real database, or a fake of the
// remote service) and calls Run.
//
// The suite checks behaviour through the secretstore contract only: missing
// secrets and versions, latest and pinned reads, reference parsing,
// metadata, concurrency, cancellation and redaction, and, for stores with
// the optional capabilities, writing (whether a write created the secret,
// and that its audit entry is kept with it), listing and deleting. Cases
// needing a capability the store or harness lacks are not run (never
// skipped), so a pass means every case that applies passed.
//
// It does not test what is particular to one kind (its own reference
// syntax in depth, its encryption, its wire format); those tests live with
// the kind.
package storetest

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"strings"
	"testing"

	"github.com/credflow/credflow/internal/audit"
	"github.com/credflow/credflow/internal/secretstore"
)

// Harness wraps the store under test. All cases share one harness, each on
// secret names of its own.
type Harness interface {
	// Store returns the store under test.
	Store() secretstore.Store
	// Seed stores value as a new version of the secret name, creating it if
	// needed, by whatever means the kind has, and returns the version.
	Seed(t *testing.T, name, value string) (version string)
	// AbsentVersion returns a version that is well formed for the kind but
	// names no version of the secret name.
	AbsentVersion(t *testing.T, name string) string
}

// Optional harness capabilities, found with a type assertion; the cases
// needing them run only when the harness has them.

// Disabler disables one version of a secret in the store.
type Disabler interface {
	Disable(t *testing.T, name, version string)
}

// Denier makes the store refuse credflow access to a secret.
type Denier interface {
	Deny(t *testing.T, name string)
}

// Sealer returns the same store, over the same data, sealed (unable to
// decrypt).
type Sealer interface {
	SealedStore(t *testing.T) secretstore.Store
}

// Auditor counts the audit records the store kept that equal e (actor,
// action, resource, outcome and reason), for stores that keep the audit
// entry of a write with the change.
type Auditor interface {
	Audited(t *testing.T, e audit.Entry) int
}

// Unversioned is a harness whose store keeps only the current value of a
// secret (CyberArk's Central Credential Provider, say): Seed replaces the
// value and returns "", and a Get or Stat of any pinned version answers
// ErrNotFound. The cases about older versions do not run for it.
type Unversioned interface {
	Unversioned()
}

// Run runs every applicable case against the harness newHarness builds.
//
// Names the suite uses are lowercase letters, digits and '-', starting with
// "st-", which every kind accepts. It requires of every kind that ParseRef
// accepts any reference it hands out, written as the kind writes it
// (DisplayRef, for a secretstore.RefDisplayer; otherwise Ref.String()), and
// returns the same Ref.
func Run(t *testing.T, newHarness func(t *testing.T) Harness) {
	h := newHarness(t)
	s := suite{h: h, store: h.Store()}

	t.Run("read", s.runRead)
	if _, ok := s.store.(secretstore.Writer); ok {
		t.Run("write", s.runWrite)
	}
	if _, ok := s.store.(secretstore.Lister); ok {
		t.Run("list", s.runList)
	}
	if _, ok := s.store.(secretstore.Deleter); ok {
		t.Run("delete", s.runDelete)
	}
	if _, ok := h.(Disabler); ok {
		t.Run("disabled", s.runDisabled)
	}
	if _, ok := h.(Denier); ok {
		t.Run("denied", s.runDenied)
	}
	if _, ok := h.(Sealer); ok {
		t.Run("sealed", s.runSealed)
	}
}

type suite struct {
	h     Harness
	store secretstore.Store
}

// note is the audit entry the suite hands a write of the secret name.
func note(action, name string) audit.Entry {
	return audit.Entry{Actor: "storetest", Action: "store.secret." + action, Resource: "secret:" + name, Outcome: audit.Success}
}

// wantAudited checks, when the harness can tell, that the store kept e
// exactly n times.
func (s suite) wantAudited(t *testing.T, e audit.Entry, n int) {
	t.Helper()
	if a, ok := s.h.(Auditor); ok {
		if got := a.Audited(t, e); got != n {
			t.Errorf("%d audit records of %s %s, want %d", got, e.Action, e.Resource, n)
		}
	}
}

// token returns a random lowercase hex string.
func token() string {
	var b [6]byte
	rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// name returns a secret name no other case uses.
func name(label string) string {
	return "st-" + label + "-" + token()
}

// value returns a distinctive value; leak checks look for it verbatim.
func value(label string) string {
	return "sv-" + label + "-" + token() + "-" + token()
}

// versioned reports whether the store keeps versions (see Unversioned).
func (s suite) versioned() bool {
	_, ok := s.h.(Unversioned)
	return !ok
}

// seedVersions seeds n versions of name and returns their versions and
// values, oldest first.
func (s suite) seedVersions(t *testing.T, name string, n int) (versions, values []string) {
	t.Helper()
	for i := range n {
		v := value("v" + string(rune('a'+i)))
		versions = append(versions, s.h.Seed(t, name, v))
		values = append(values, v)
	}
	return versions, values
}

// mustGet reads ref and checks its value and version.
func (s suite) mustGet(t *testing.T, ref secretstore.Ref, wantValue, wantVersion string) secretstore.Secret {
	t.Helper()
	sec, err := s.store.Get(t.Context(), ref)
	if err != nil {
		t.Fatalf("Get(%v): %v", ref, err)
	}
	if got := sec.Value.Reveal(); got != wantValue {
		t.Fatalf("Get(%v) value: got %d bytes, want the %d seeded bytes", ref, len(got), len(wantValue))
	}
	if sec.Version != wantVersion {
		t.Fatalf("Get(%v) version = %q, want %q", ref, sec.Version, wantVersion)
	}
	if !sec.Enabled {
		t.Fatalf("Get(%v): Enabled = false for an enabled secret", ref)
	}
	return sec
}

// wantErr checks that err matches target and shows none of the values.
func wantErr(t *testing.T, what string, err, target error, values ...string) {
	t.Helper()
	if !isErr(err, target) {
		t.Fatalf("%s: error = %v, want one matching %v", what, err, target)
	}
	noLeakErr(t, what, err, values...)
}

func isErr(err, target error) bool {
	return err != nil && errors.Is(err, target)
}

func contains(s string, values []string) (string, bool) {
	for _, v := range values {
		if v != "" && strings.Contains(s, v) {
			return v, true
		}
	}
	return "", false
}
