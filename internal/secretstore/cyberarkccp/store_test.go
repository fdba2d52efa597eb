package cyberarkccp_test

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/credflow/credflow/internal/secretstore"
	"github.com/credflow/credflow/internal/secretstore/cyberarkccp"
	"github.com/credflow/credflow/internal/secretstore/cyberarkccp/fakeccp"
	"github.com/credflow/credflow/internal/secretstore/storetest"
)

const defaultSafe = "Robots"

type fixture struct {
	ccp   *fakeccp.TestServer
	store *cyberarkccp.Store
}

func settingsFor(ccp *fakeccp.TestServer) cyberarkccp.Settings {
	return cyberarkccp.Settings{URL: ccp.URL, AppID: "credflow", Safe: defaultSafe, ClientCertFile: ccp.ClientCertFile,
		ClientKeyFile: ccp.ClientKeyFile, CAFile: ccp.CAFile, Timeout: "5s"}
}

func newFixture(t *testing.T, edit func(*cyberarkccp.Settings)) *fixture {
	t.Helper()
	ccp := fakeccp.Start(t, fakeccp.Options{})
	s := settingsFor(ccp)
	if edit != nil {
		edit(&s)
	}
	store, err := cyberarkccp.New(s, cyberarkccp.Options{Name: "ccp", RetryDelay: 5 * time.Millisecond})
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return &fixture{ccp: ccp, store: store}
}

// harness adapts a fixture to the conformance suite: every name is an
// object in the default safe.
type harness struct{ f *fixture }

func (h harness) Store() secretstore.Store { return h.f.store }
func (h harness) Seed(_ *testing.T, name, value string) string {
	h.f.ccp.Set(defaultSafe, "", name, value, map[string]string{"UserName": "svc-" + name})
	return ""
}
func (h harness) AbsentVersion(*testing.T, string) string { return "1" }
func (h harness) Unversioned()                            {}

var _ storetest.Unversioned = harness{}

func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) storetest.Harness { return harness{newFixture(t, nil)} })
}

func TestReferencesAndQueryEncoding(t *testing.T) {
	f := newFixture(t, nil)
	f.ccp.Set(defaultSafe, "", "db admin", "p-default", nil)
	f.ccp.Set("Ops Safe", "", `svc\reports & co`, "p-safe", nil)
	f.ccp.Set("Ops Safe", `Root\Windows`, "local admin", "p-folder", nil)
	f.ccp.Set("Ops Safe", "Other", "by query", "p-query", map[string]string{"UserName": "svc_q", "Address": "db1.example.com"})
	for _, tc := range []struct {
		ref, want string
		query     url.Values
	}{
		{"db admin", "p-default", url.Values{"AppID": {"credflow"}, "Safe": {defaultSafe}, "Folder": {"Root"}, "Object": {"db admin"}}},
		{`Ops Safe/svc\reports & co`, "p-safe", url.Values{"AppID": {"credflow"}, "Safe": {"Ops Safe"}, "Folder": {"Root"}, "Object": {`svc\reports & co`}}},
		{`Ops Safe/Root\Windows/local admin`, "p-folder", url.Values{"AppID": {"credflow"}, "Safe": {"Ops Safe"}, "Folder": {`Root\Windows`}, "Object": {"local admin"}}},
		{"query:Safe=Ops Safe;UserName=svc_q;Address=db1.example.com", "p-query", url.Values{"AppID": {"credflow"}, "Query": {"Safe=Ops Safe;UserName=svc_q;Address=db1.example.com"}}},
	} {
		t.Run(tc.ref, func(t *testing.T) {
			ref, err := f.store.ParseRef(tc.ref)
			if err != nil {
				t.Fatalf("ParseRef: %v", err)
			}
			sec, err := f.store.Get(t.Context(), ref)
			if err != nil {
				t.Fatalf("Get: %v", err)
			}
			if sec.Value.Reveal() != tc.want {
				t.Fatalf("Get returned another account's password")
			}
			qs := f.ccp.Queries()
			raw := qs[len(qs)-1]
			got, err := url.ParseQuery(raw)
			if err != nil || fmt.Sprint(got) != fmt.Sprint(tc.query) {
				t.Errorf("query = %v (raw %q), want %v", got, raw, tc.query)
			}
			if strings.ContainsAny(raw, " +\\") || strings.Count(raw, "&") != len(tc.query)-1 {
				t.Errorf("raw query %q is not properly encoded", raw)
			}
		})
	}
}

func TestParseRefRejects(t *testing.T) {
	f := newFixture(t, nil)
	noSafe := newFixture(t, func(s *cyberarkccp.Settings) { s.Safe = "" })
	for _, tc := range []struct {
		store *cyberarkccp.Store
		ref   string
		rule  string
	}{
		{f.store, "a/b/c/d", "more than three"},
		{f.store, "safe//obj", "empty part"},
		{f.store, "obj;Safe=x", "';'"},
		{f.store, "query:", "empty query"},
		{f.store, "query:Safe", "Property=Value"},
		{f.store, "query:Safe=", "no value"},
		{f.store, "query:Sa fe=x", "property names"},
		{noSafe.store, "obj", "no default safe"},
	} {
		t.Run(tc.ref, func(t *testing.T) {
			_, err := tc.store.ParseRef(tc.ref)
			var re *secretstore.RefError
			if !errors.As(err, &re) || !strings.Contains(re.Rule, tc.rule) {
				t.Fatalf("ParseRef(%q) = %v, want a rule saying %q", tc.ref, err, tc.rule)
			}
		})
	}
	if _, err := noSafe.store.ParseRef("Safe/obj"); err != nil {
		t.Errorf("Safe/Object without a default safe: %v", err)
	}
}

func TestErrorMapping(t *testing.T) {
	const canary = "canary-8d1f-Pa55"
	f := newFixture(t, nil)
	f.ccp.Set(defaultSafe, "", "dup", canary, nil)
	f.ccp.Set(defaultSafe, "Other", "dup", canary, nil)
	f.ccp.Set("Locked", "", "hidden", canary, nil)
	f.ccp.Deny("Locked")
	get := func(s *cyberarkccp.Store, ref string) error {
		_, err := s.Get(t.Context(), secretstore.Ref{Name: ref})
		if err != nil && strings.Contains(err.Error(), canary) {
			t.Errorf("error for %s shows the password", ref)
		}
		return err
	}
	hint := func(err error) string {
		var h secretstore.Hinter
		if errors.As(err, &h) {
			return h.Hint()
		}
		return ""
	}

	t.Run("missing and denied look alike", func(t *testing.T) {
		for _, ref := range []string{"nope", "Locked/hidden"} {
			err := get(f.store, ref)
			if !errors.Is(err, secretstore.ErrNotFound) || !strings.Contains(err.Error(), "APPAP004E") {
				t.Fatalf("%s: %v", ref, err)
			}
			if h := hint(err); !strings.Contains(h, "no account matches") || !strings.Contains(h, "member of the safe") {
				t.Errorf("the hint does not name both causes: %s", h)
			}
		}
	})
	t.Run("ambiguous", func(t *testing.T) {
		err := get(f.store, "query:Safe="+defaultSafe+";Object=dup")
		var ae *secretstore.AmbiguousError
		if !errors.As(err, &ae) || ae.Count != 2 || !errors.Is(err, secretstore.ErrAmbiguous) {
			t.Fatalf("%v", err)
		}
	})
	t.Run("application fails authentication", func(t *testing.T) {
		f.ccp.FailAuthentication(true)
		defer f.ccp.FailAuthentication(false)
		err := get(f.store, "dup")
		if !errors.Is(err, secretstore.ErrForbidden) || errors.Is(err, cyberarkccp.ErrCertificateRejected) || !strings.Contains(hint(err), "Applications") {
			t.Fatalf("%v / %s", err, hint(err))
		}
	})
	t.Run("application not defined", func(t *testing.T) {
		other := newFixture(t, func(s *cyberarkccp.Settings) { s.AppID = "someone-else" })
		err := get(other.store, "x")
		if !errors.Is(err, secretstore.ErrForbidden) || !strings.Contains(err.Error(), "APPAP008E") {
			t.Fatalf("%v", err)
		}
	})
	t.Run("no client certificate", func(t *testing.T) {
		// An empty key pair file is read as no certificate at all by the
		// fake's TLS layer only if the client offers none: a store whose
		// files hold a key pair the server does not trust shows the
		// "untrusted" page; the "missing" page is checked on the fake.
		untrusted := newFixture(t, nil)
		s := settingsFor(untrusted.ccp)
		s.ClientCertFile, s.ClientKeyFile = untrusted.ccp.UntrustedCertFile, untrusted.ccp.UntrustedKeyFile
		st, err := cyberarkccp.New(s, cyberarkccp.Options{})
		if err != nil {
			t.Fatal(err)
		}
		err = get(st, "x")
		if !errors.Is(err, cyberarkccp.ErrCertificateRejected) || !errors.Is(err, secretstore.ErrForbidden) || !strings.Contains(hint(err), "client certificate") {
			t.Fatalf("%v", err)
		}
		if untrusted.ccp.Calls() != 0 {
			t.Errorf("the service saw a request with an untrusted certificate")
		}
	})
	t.Run("vault down", func(t *testing.T) {
		f.ccp.VaultDown(true)
		defer f.ccp.VaultDown(false)
		if err := get(f.store, "dup"); !errors.Is(err, secretstore.ErrUnavailable) || !strings.Contains(err.Error(), "APPAP007E") {
			t.Fatalf("%v", err)
		}
	})
	t.Run("unreadable key file", func(t *testing.T) {
		bad := newFixture(t, func(s *cyberarkccp.Settings) { s.ClientKeyFile = filepath.Join(t.TempDir(), "gone.pem") })
		err := get(bad.store, "x")
		if !errors.Is(err, secretstore.ErrUnavailable) || !strings.Contains(err.Error(), "gone.pem") || bad.ccp.Calls() != 0 {
			t.Fatalf("%v", err)
		}
	})
	t.Run("untrusted server", func(t *testing.T) {
		other := fakeccp.Start(t, fakeccp.Options{})
		bad := newFixture(t, func(s *cyberarkccp.Settings) { s.CAFile = other.CAFile })
		err := get(bad.store, "x")
		if !errors.Is(err, secretstore.ErrUnavailable) || !strings.Contains(hint(err), "caFile") {
			t.Fatalf("%v / %s", err, hint(err))
		}
	})
	t.Run("wrong path", func(t *testing.T) {
		bad := newFixture(t, func(s *cyberarkccp.Settings) { s.Path = "AIMWebServiceCustom" })
		if err := get(bad.store, "x"); !errors.Is(err, secretstore.ErrUnavailable) || !strings.Contains(hint(err), "path") {
			t.Fatalf("%v", err)
		}
	})
}

func TestPasswordChangeInProgress(t *testing.T) {
	for _, failOnChange := range []bool{false, true} {
		t.Run(fmt.Sprint("APPAP282E ", failOnChange), func(t *testing.T) {
			f := newFixture(t, nil)
			f.ccp.FailOnChange(failOnChange)
			f.ccp.Set(defaultSafe, "", "rotating", "new-pass", nil)

			f.ccp.Changing(defaultSafe, "", "rotating", 2)
			sec, err := f.store.Get(t.Context(), secretstore.Ref{Name: "rotating"})
			if err != nil || sec.Value.Reveal() != "new-pass" {
				t.Fatalf("after a short change: %v", err)
			}
			if n := f.ccp.Calls(); n != 3 {
				t.Errorf("%d calls, want 3 (two answers of a change in progress, then the password)", n)
			}

			f.ccp.Changing(defaultSafe, "", "rotating", 1000)
			ctx, cancel := context.WithTimeout(t.Context(), 150*time.Millisecond)
			defer cancel()
			start := time.Now()
			_, err = f.store.Get(ctx, secretstore.Ref{Name: "rotating"})
			var h secretstore.Hinter
			if !errors.Is(err, secretstore.ErrUnavailable) || !strings.Contains(err.Error(), "password change in progress") ||
				!errors.As(err, &h) || !strings.Contains(h.Hint(), "password change in progress") {
				t.Fatalf("a long change: %v", err)
			}
			if time.Since(start) > time.Second {
				t.Errorf("the retries went past the deadline")
			}
		})
	}
}

func TestFieldReadsTheUserName(t *testing.T) {
	f := newFixture(t, nil)
	f.ccp.Set(defaultSafe, "", "robot", "pw", map[string]string{"UserName": "svc_robot"})
	got, err := f.store.Field(t.Context(), secretstore.Ref{Name: "robot"}, "UserName")
	if err != nil || got != "svc_robot" {
		t.Fatalf("Field = %q, %v", got, err)
	}
	if _, err := f.store.Field(t.Context(), secretstore.Ref{Name: "robot"}, "Content"); !errors.Is(err, secretstore.ErrInvalidRef) {
		t.Errorf("Content as a field: %v", err)
	}
	if _, err := f.store.Field(t.Context(), secretstore.Ref{Name: "robot"}, "Database"); !errors.Is(err, secretstore.ErrNotFound) {
		t.Errorf("a missing property: %v", err)
	}
}

func TestRenewedCertificateIsRead(t *testing.T) {
	f := newFixture(t, nil)
	f.ccp.Set(defaultSafe, "", "x", "pw", nil)
	dir := t.TempDir()
	cert, key := filepath.Join(dir, "c.pem"), filepath.Join(dir, "k.pem")
	copyFile(t, f.ccp.UntrustedCertFile, cert)
	copyFile(t, f.ccp.UntrustedKeyFile, key)
	s := settingsFor(f.ccp)
	s.ClientCertFile, s.ClientKeyFile = cert, key
	st, err := cyberarkccp.New(s, cyberarkccp.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := st.Get(t.Context(), secretstore.Ref{Name: "x"}); !errors.Is(err, cyberarkccp.ErrCertificateRejected) {
		t.Fatalf("with the untrusted certificate: %v", err)
	}
	copyFile(t, f.ccp.ClientCertFile, cert)
	copyFile(t, f.ccp.ClientKeyFile, key)
	later := time.Now().Add(time.Minute)
	os.Chtimes(cert, later, later)
	os.Chtimes(key, later, later)
	if _, err := st.Get(t.Context(), secretstore.Ref{Name: "x"}); err != nil {
		t.Fatalf("after the certificate was renewed on disk: %v", err)
	}
}

func copyFile(t *testing.T, from, to string) {
	t.Helper()
	b, err := os.ReadFile(from)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(to, b, 0o600); err != nil {
		t.Fatal(err)
	}
}

func TestRequestsInFlightAreBounded(t *testing.T) {
	ccp := fakeccp.Start(t, fakeccp.Options{})
	store, err := cyberarkccp.New(settingsFor(ccp), cyberarkccp.Options{MaxInFlight: 3})
	if err != nil {
		t.Fatal(err)
	}
	for i := range 30 {
		ccp.Set(defaultSafe, "", fmt.Sprintf("a%02d", i), fmt.Sprintf("p%02d", i), nil)
	}
	ccp.SetLatency(20 * time.Millisecond)
	var wg sync.WaitGroup
	for i := range 30 {
		wg.Go(func() {
			sec, err := store.Get(t.Context(), secretstore.Ref{Name: fmt.Sprintf("a%02d", i)})
			if err != nil || sec.Value.Reveal() != fmt.Sprintf("p%02d", i) {
				t.Errorf("a%02d: %v", i, err)
			}
		})
	}
	wg.Wait()
	if n := ccp.MaxInFlight(); n > 3 || n < 2 {
		t.Errorf("%d requests were in flight at once, want at most 3 (and more than one)", n)
	}

	// A request that cannot get a slot before its deadline times out.
	ccp.SetLatency(300 * time.Millisecond)
	for i := range 3 {
		wg.Go(func() { _, _ = store.Get(t.Context(), secretstore.Ref{Name: fmt.Sprintf("a%02d", i)}) })
	}
	time.Sleep(50 * time.Millisecond)
	ctx, cancel := context.WithTimeout(t.Context(), 50*time.Millisecond)
	defer cancel()
	if _, err := store.Get(ctx, secretstore.Ref{Name: "a10"}); !errors.Is(err, secretstore.ErrTimeout) {
		t.Errorf("waiting for a slot past the deadline: %v", err)
	}
	wg.Wait()
}
