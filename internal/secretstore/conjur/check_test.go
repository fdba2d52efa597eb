package conjur_test

import (
	"strings"
	"testing"

	"github.com/credflow/credflow/internal/secretstore"
	"github.com/credflow/credflow/internal/secretstore/conjur"
	"github.com/credflow/credflow/internal/secretstore/conjur/fakeconjur"
)

func stepNamed(r secretstore.Report, name string) *secretstore.Step {
	for i := range r.Steps {
		if r.Steps[i].Name == name {
			return &r.Steps[i]
		}
	}
	return nil
}

func TestCheck(t *testing.T) {
	const canary = "canary-check-5d1c"
	f := newFixture(t, fakeconjur.Options{}, nil)
	v := f.conjur.Set("app/db/password", canary)

	r := f.store.Check(t.Context(), "app/db/password")
	if !r.OK || len(r.Steps) != 3 {
		t.Fatalf("check = %+v", r)
	}
	if d := stepNamed(r, conjur.StepConnect).Detail; !strings.Contains(d, "TLS") {
		t.Errorf("connect step %q does not name TLS", d)
	}
	if d := stepNamed(r, conjur.StepAuthn).Detail; !strings.Contains(d, login) || !strings.Contains(d, "8m0s") {
		t.Errorf("authn step %q names neither the login nor the token's lifetime", d)
	}
	if d := stepNamed(r, conjur.StepRead).Detail; !strings.Contains(d, "version "+v) {
		t.Errorf("read step %q", d)
	}

	// Without a secret, two steps.
	if r := f.store.Check(t.Context(), ""); !r.OK || len(r.Steps) != 2 {
		t.Fatalf("check without a secret = %+v", r)
	}

	// A missing variable fails the read step only, marked as about the
	// secret, with the hint naming both causes.
	r = f.store.Check(t.Context(), "app/nope")
	st := stepNamed(r, conjur.StepRead)
	if r.OK || st == nil || st.OK || !st.Secret || !strings.Contains(st.Hint, "no privilege") || !strings.Contains(st.Hint, "does not exist") {
		t.Fatalf("missing variable: %+v", r)
	}
	if st := stepNamed(r, conjur.StepAuthn); !st.OK {
		t.Fatalf("authn failed for a missing variable: %+v", r)
	}

	// A refused API key: the authn step fails with its hint, the read is
	// not tried.
	f.conjur.RotateAPIKey(login)
	r = f.store.Check(t.Context(), "app/db/password")
	st = stepNamed(r, conjur.StepAuthn)
	if r.OK || st == nil || st.OK || !strings.Contains(st.Hint, "API key") || stepNamed(r, conjur.StepRead).Detail != "not tried: an earlier step failed" {
		t.Fatalf("refused key: %+v", r)
	}
	for _, s := range r.Steps {
		if strings.Contains(s.Detail+s.Hint, canary) || strings.Contains(s.Detail+s.Hint, f.key) {
			t.Fatal("the check shows the value or the API key")
		}
	}

	// An unreachable server.
	g := newFixture(t, fakeconjur.Options{}, func(s *conjur.Settings, _ *conjur.Options) { s.URL = "https://127.0.0.1:1" })
	r = g.store.Check(t.Context(), "app/db/password")
	if st := stepNamed(r, conjur.StepConnect); r.OK || st.OK || !strings.Contains(st.Detail, "refused") || st.Hint == "" {
		t.Fatalf("unreachable: %+v", r)
	}
}
