package conjur_test

import (
	"context"
	"errors"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/credflow/credflow/internal/secretstore"
	"github.com/credflow/credflow/internal/secretstore/conjur"
	"github.com/credflow/credflow/internal/secretstore/conjur/fakeconjur"
	"github.com/credflow/credflow/internal/secretstore/storetest"
)

const login = "host/credflow/app"

// fixture is one fake Conjur and a store reading from it.
type fixture struct {
	conjur *fakeconjur.TestServer
	store  *conjur.Store
	key    string
	env    map[string]string
}

// newFixture starts a fake Conjur with the host login and opens a store on
// it that reads the API key from a file; edit adjusts the settings and
// options first.
func newFixture(t *testing.T, opts fakeconjur.Options, edit func(*conjur.Settings, *conjur.Options)) *fixture {
	t.Helper()
	srv := fakeconjur.Start(t, opts)
	f := &fixture{conjur: srv, key: srv.AddHost(login), env: map[string]string{}}
	keyFile := filepath.Join(t.TempDir(), "api-key")
	if err := os.WriteFile(keyFile, []byte(f.key+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	s := conjur.Settings{URL: srv.URL, Account: srv.Account(), Login: login, APIKeyFile: keyFile, CAFile: srv.CAFile}
	o := conjur.Options{Name: "cj", LookupEnv: func(k string) (string, bool) { v, ok := f.env[k]; return v, ok }}
	if edit != nil {
		edit(&s, &o)
	}
	st, err := conjur.New(s, o)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	f.store = st
	return f
}

type harness struct{ f *fixture }

func (h harness) Store() secretstore.Store                     { return h.f.store }
func (h harness) Seed(_ *testing.T, name, value string) string { return h.f.conjur.Set(name, value) }
func (h harness) AbsentVersion(*testing.T, string) string      { return "999" }
func (h harness) Deny(_ *testing.T, name string)               { h.f.conjur.Deny(name) }

var _ storetest.Denier = harness{}

func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) storetest.Harness { return harness{newFixture(t, fakeconjur.Options{}, nil)} })
}

func get(t *testing.T, s secretstore.Store, raw string) (secretstore.Secret, error) {
	t.Helper()
	ref, err := s.ParseRef(raw)
	if err != nil {
		t.Fatalf("ParseRef(%q): %v", raw, err)
	}
	return s.Get(t.Context(), ref)
}

func TestReadsIDsWithSpacesSlashesAndVersions(t *testing.T) {
	f := newFixture(t, fakeconjur.Options{}, nil)
	const id = "apps/payroll db/pass & word?"
	v1 := f.conjur.Set(id, "first")
	v2 := f.conjur.Set(id, "second")
	exp := time.Now().Add(48 * time.Hour).UTC().Truncate(time.Second)
	f.conjur.SetExpiry(id, exp)
	sec, err := get(t, f.store, id)
	if err != nil || sec.Value.Reveal() != "second" || sec.Version != v2 || !sec.ExpiresAt.Equal(exp) {
		t.Fatalf("latest = %q %q %v, %v; want second %s %v", sec.Value.Reveal(), sec.Version, sec.ExpiresAt, err, v2, exp)
	}
	sec, err = get(t, f.store, id+"#"+v1)
	if err != nil || sec.Value.Reveal() != "first" || sec.Version != v1 {
		t.Fatalf("pinned = %q %q, %v", sec.Value.Reveal(), sec.Version, err)
	}
	if got := f.store.DisplayRef(secretstore.Ref{Name: id, Version: v1}); got != id+"#"+v1 {
		t.Errorf("DisplayRef = %q", got)
	}
}

func TestTokenReusedAndRenewed(t *testing.T) {
	f := newFixture(t, fakeconjur.Options{TokenTTL: 2 * time.Second}, nil)
	f.conjur.Set("app/pw", "v")
	for range 5 {
		if _, err := get(t, f.store, "app/pw"); err != nil {
			t.Fatal(err)
		}
	}
	if n := f.conjur.Calls(fakeconjur.RouteAuthn); n != 1 {
		t.Fatalf("%d authentications for 5 reads, want 1 (the token is reused)", n)
	}
	// Four fifths of the token's life: renewed before it expires, so no
	// request is refused.
	time.Sleep(1700 * time.Millisecond)
	if _, err := get(t, f.store, "app/pw"); err != nil {
		t.Fatal(err)
	}
	if n := f.conjur.Calls(fakeconjur.RouteAuthn); n != 2 {
		t.Fatalf("%d authentications, want 2 (renewed before expiry)", n)
	}
}

func TestTokenRefusedMidRunRenewedOnce(t *testing.T) {
	f := newFixture(t, fakeconjur.Options{}, nil)
	f.conjur.Set("app/pw", "v1")
	if _, err := get(t, f.store, "app/pw"); err != nil {
		t.Fatal(err)
	}
	f.conjur.ExpireTokens()
	f.conjur.ResetCounters()
	sec, err := get(t, f.store, "app/pw")
	if err != nil || sec.Value.Reveal() != "v1" {
		t.Fatalf("read after the token expired: %v", err)
	}
	if n := f.conjur.Calls(fakeconjur.RouteAuthn); n != 1 {
		t.Fatalf("%d authentications after a 401, want 1", n)
	}
	// A server that refuses every token: one renewal, then a clear error.
	f.conjur.ResetCounters()
	f.conjur.Fail(fakeconjur.RouteResource, -1, http.StatusUnauthorized)
	_, err = get(t, f.store, "app/pw")
	if !errors.Is(err, conjur.ErrAuthentication) || !errors.Is(err, secretstore.ErrUnauthenticated) {
		t.Fatalf("read with every token refused: %v, want ErrAuthentication and ErrUnauthenticated", err)
	}
	if n := f.conjur.Calls(fakeconjur.RouteResource); n != 2 {
		t.Fatalf("%d reads with every token refused, want 2 (one renewal)", n)
	}
}

func TestConcurrentReadsAuthenticateOnce(t *testing.T) {
	f := newFixture(t, fakeconjur.Options{}, nil)
	f.conjur.Set("app/pw", "v")
	f.conjur.SetLatency(20 * time.Millisecond)
	var wg sync.WaitGroup
	for range 20 {
		wg.Go(func() {
			if _, err := get(t, f.store, "app/pw"); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	if n := f.conjur.Calls(fakeconjur.RouteAuthn); n != 1 {
		t.Fatalf("%d authentications for 20 concurrent reads, want 1", n)
	}
}

func TestErrorMapping(t *testing.T) {
	const canary = "canary-Conjur-7f3a9e"
	for _, tc := range []struct {
		label string
		setup func(f *fixture)
		want  error
		hint  []string
	}{
		{"missing variable", func(f *fixture) {}, secretstore.ErrNotFound, []string{"does not exist", "no privilege", login, "execute"}},
		{"no privilege", func(f *fixture) { f.conjur.Hide("app/pw") }, secretstore.ErrNotFound, []string{"does not exist", "no privilege"}},
		{"declared without a value", func(f *fixture) { f.conjur.Declare("app/pw") }, secretstore.ErrNotFound, []string{"no value"}},
		{"read without execute", func(f *fixture) { f.conjur.Deny("app/pw") }, secretstore.ErrForbidden, []string{"execute"}},
		{"outage", func(f *fixture) { f.conjur.Fail(fakeconjur.RouteSecret, -1, http.StatusServiceUnavailable) }, secretstore.ErrUnavailable, []string{"try again"}},
		{"throttled", func(f *fixture) { f.conjur.Fail(fakeconjur.RouteSecret, -1, http.StatusTooManyRequests) }, secretstore.ErrThrottled, []string{"readBudget"}},
		{"wrong API key", func(f *fixture) { f.conjur.RotateAPIKey(login) }, conjur.ErrAuthentication, []string{"API key", "file"}},
	} {
		t.Run(tc.label, func(t *testing.T) {
			f := newFixture(t, fakeconjur.Options{}, nil)
			if tc.label != "missing variable" && tc.label != "declared without a value" {
				f.conjur.Set("app/pw", canary)
			}
			tc.setup(f)
			_, err := get(t, f.store, "app/pw")
			if !errors.Is(err, tc.want) {
				t.Fatalf("error = %v, want %v", err, tc.want)
			}
			var h secretstore.Hinter
			if !errors.As(err, &h) {
				t.Fatalf("error %v has no hint", err)
			}
			for _, part := range tc.hint {
				if !strings.Contains(h.Hint()+" "+err.Error(), part) {
					t.Errorf("hint %q (error %q) does not say %q", h.Hint(), err, part)
				}
			}
			if strings.Contains(err.Error()+h.Hint(), canary) || strings.Contains(err.Error()+h.Hint(), f.key) {
				t.Error("the error shows the value or the API key")
			}
			_, err = f.store.Stat(t.Context(), secretstore.Ref{Name: "app/pw"})
			if !errors.Is(err, tc.want) {
				t.Fatalf("Stat error = %v, want %v", err, tc.want)
			}
		})
	}
}

func TestAPIKeyFromEnvironmentAndRotation(t *testing.T) {
	var f *fixture
	f = newFixture(t, fakeconjur.Options{}, func(s *conjur.Settings, o *conjur.Options) {
		s.APIKeyFile, s.APIKeyEnv = "", "CONJUR_TEST_KEY"
	})
	f.env["CONJUR_TEST_KEY"] = f.key
	f.conjur.Set("app/pw", "v")
	if _, err := get(t, f.store, "app/pw"); err != nil {
		t.Fatal(err)
	}
	// The key is rotated in Conjur and in the environment: the next
	// authentication reads the new one.
	f.env["CONJUR_TEST_KEY"] = f.conjur.RotateAPIKey(login)
	f.conjur.ExpireTokens()
	if _, err := get(t, f.store, "app/pw"); err != nil {
		t.Fatalf("after rotation: %v", err)
	}
	delete(f.env, "CONJUR_TEST_KEY")
	f.conjur.ExpireTokens()
	_, err := get(t, f.store, "app/pw")
	var ae *conjur.AuthError
	if !errors.As(err, &ae) || !strings.Contains(err.Error(), "CONJUR_TEST_KEY") || !strings.Contains(ae.Hint(), "CONJUR_TEST_KEY") {
		t.Fatalf("unset key variable: %v", err)
	}
}

func TestUntrustedCertificate(t *testing.T) {
	for _, tc := range []struct {
		label string
		ca    func(f *fakeconjur.TestServer) string
	}{
		{"system roots", func(*fakeconjur.TestServer) string { return "" }},
		{"another CA", func(f *fakeconjur.TestServer) string { return f.OtherCAFile }},
	} {
		t.Run(tc.label, func(t *testing.T) {
			f := newFixture(t, fakeconjur.Options{}, func(s *conjur.Settings, o *conjur.Options) {})
			st, err := conjur.New(conjur.Settings{URL: f.conjur.URL, Account: f.conjur.Account(), Login: login,
				APIKeyEnv: "K", CAFile: tc.ca(f.conjur)}, conjur.Options{LookupEnv: func(string) (string, bool) { return f.key, true }})
			if err != nil {
				t.Fatal(err)
			}
			f.conjur.Set("app/pw", "v")
			_, err = get(t, st, "app/pw")
			if !errors.Is(err, secretstore.ErrUnavailable) || !strings.Contains(err.Error(), "not trusted") {
				t.Fatalf("error = %v, want unavailable: certificate not trusted", err)
			}
			if n := f.conjur.Calls(fakeconjur.RouteAuthn); n != 0 {
				t.Fatalf("the API key reached an untrusted server (%d authentications)", n)
			}
			r := st.Check(t.Context(), "app/pw")
			if r.OK || len(r.Steps) != 2 || r.Steps[0].Name != conjur.StepConnect || r.Steps[0].OK || !strings.Contains(r.Steps[0].Hint, "caFile") {
				t.Fatalf("check = %+v", r)
			}
		})
	}
}

func TestCancelledAndDeadline(t *testing.T) {
	f := newFixture(t, fakeconjur.Options{}, nil)
	f.conjur.Set("app/pw", "v")
	f.conjur.SetLatency(time.Second)
	ctx, cancel := context.WithTimeout(t.Context(), 50*time.Millisecond)
	defer cancel()
	_, err := f.store.Get(ctx, secretstore.Ref{Name: "app/pw"})
	if !errors.Is(err, secretstore.ErrTimeout) {
		t.Fatalf("slow server: %v, want ErrTimeout", err)
	}
}

func TestReadBudget(t *testing.T) {
	f := newFixture(t, fakeconjur.Options{}, func(s *conjur.Settings, o *conjur.Options) {
		s.ReadBudget = 3
		o.BudgetWindow = time.Minute
	})
	f.conjur.Set("app/pw", "v")
	// authenticate + resource + secret: the budget of 3 is spent.
	if _, err := get(t, f.store, "app/pw"); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), time.Second)
	defer cancel()
	_, err := f.store.Get(ctx, secretstore.Ref{Name: "app/pw"})
	var te *secretstore.ThrottledError
	if !errors.As(err, &te) || te.RetryAfter <= time.Second {
		t.Fatalf("read over budget: %v, want throttled with a wait", err)
	}
	if n := f.conjur.Calls(fakeconjur.RouteResource) + f.conjur.Calls(fakeconjur.RouteSecret) + f.conjur.Calls(fakeconjur.RouteAuthn); n != 3 {
		t.Fatalf("%d requests reached Conjur, want 3", n)
	}
}

func TestRenewalFailureKeepsValidToken(t *testing.T) {
	f := newFixture(t, fakeconjur.Options{TokenTTL: 3 * time.Second}, nil)
	f.conjur.Set("app/pw", "v")
	if _, err := get(t, f.store, "app/pw"); err != nil {
		t.Fatal(err)
	}
	time.Sleep(2500 * time.Millisecond) // due for renewal, not expired
	f.conjur.Fail(fakeconjur.RouteAuthn, 1, http.StatusServiceUnavailable)
	if _, err := get(t, f.store, "app/pw"); err != nil {
		t.Fatalf("read while the renewal fails and the token is still valid: %v", err)
	}
	// The first request of the read tried to renew and kept the old
	// token; the second renewed it.
	if n := f.conjur.Calls(fakeconjur.RouteAuthn); n != 3 {
		t.Fatalf("%d authentications, want 3 (the first, a failed renewal, a renewal)", n)
	}
}

func TestLatestWithoutReadPrivilege(t *testing.T) {
	f := newFixture(t, fakeconjur.Options{}, nil)
	f.conjur.Set("app/pw", "one")
	f.conjur.Set("app/pw", "two")
	// Execute without read: the versions cannot be listed, the latest
	// value can still be fetched.
	f.conjur.Fail(fakeconjur.RouteResource, -1, http.StatusForbidden)
	sec, err := get(t, f.store, "app/pw")
	if err != nil || sec.Value.Reveal() != "two" || sec.Version != "" {
		t.Fatalf("latest = %q version %q, %v; want two with no version", sec.Value.Reveal(), sec.Version, err)
	}
}
