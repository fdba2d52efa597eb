package azurekv_test

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/credflow/credflow/internal/secretstore"
	"github.com/credflow/credflow/internal/secretstore/azurekv"
	"github.com/credflow/credflow/internal/secretstore/azurekv/fakekv"
)

// step returns the named step of a report, failing the test when absent.
func step(t *testing.T, r secretstore.Report, name string) secretstore.Step {
	t.Helper()
	for _, s := range r.Steps {
		if s.Name == name {
			return s
		}
	}
	t.Fatalf("no step %q in %+v", name, r.Steps)
	return secretstore.Step{}
}

func names(r secretstore.Report) []string {
	var out []string
	for _, s := range r.Steps {
		out = append(out, s.Name)
	}
	return out
}

func TestCheckPasses(t *testing.T) {
	for _, m := range []mode{customHost, realName} {
		t.Run(m.String(), func(t *testing.T) {
			f := newFixture(t, m, nil)
			exp := time.Now().Add(10 * 24 * time.Hour)
			if _, err := f.vault.Put("sql-password", fakekv.Spec{Value: "p@ss", Expires: exp}); err != nil {
				t.Fatal(err)
			}
			r := f.store.Check(t.Context(), "sql-password")
			if !r.OK {
				t.Fatalf("check failed: %+v", r.Steps)
			}
			want := []string{azurekv.StepConnect, azurekv.StepToken, azurekv.StepTenant, azurekv.StepRead, azurekv.StepExpiry}
			if got := names(r); strings.Join(got, ",") != strings.Join(want, ",") {
				t.Fatalf("steps = %q, want %q", got, want)
			}
			if d := step(t, r, azurekv.StepToken).Detail; !strings.Contains(d, f.cred.AppID) || !strings.Contains(d, f.cred.ObjectID) {
				t.Errorf("token step does not name the principal: %s", d)
			}
			if d := step(t, r, azurekv.StepTenant).Detail; !strings.Contains(d, f.vault.TenantID()) {
				t.Errorf("tenant step: %s", d)
			}
			if d := step(t, r, azurekv.StepExpiry).Detail; !strings.Contains(d, "rotate it soon") {
				t.Errorf("expiry step: %s", d)
			}
			for _, s := range r.Steps {
				if strings.Contains(s.Detail+s.Hint, "p@ss") {
					t.Fatalf("step %q shows the value", s.Name)
				}
			}
			// Without a secret, only the first three steps run.
			r = f.store.Check(t.Context(), "")
			if !r.OK || len(r.Steps) != 3 {
				t.Fatalf("check without a secret: %+v", r)
			}
		})
	}
}

func TestCheckWrongTenant(t *testing.T) {
	const configured = "99999999-9999-9999-9999-999999999999"
	f := newFixture(t, customHost, func(s *azurekv.Settings, _ *azurekv.Options) { s.TenantID = configured })
	f.vault.Set("s", "v")
	r := f.store.Check(t.Context(), "s")
	if r.OK {
		t.Fatal("check passed with the wrong tenant")
	}
	st := step(t, r, azurekv.StepTenant)
	if st.OK || !strings.Contains(st.Detail, "wrong tenant") || !strings.Contains(st.Detail, configured) || !strings.Contains(st.Detail, f.vault.TenantID()) {
		t.Errorf("tenant step = %+v, want a wrong-tenant failure naming both tenants", st)
	}
	if !strings.Contains(st.Hint, f.vault.TenantID()) {
		t.Errorf("hint %q does not give the vault's tenant", st.Hint)
	}
	if rd := step(t, r, azurekv.StepRead); rd.OK || !strings.Contains(rd.Detail, "not tried") {
		t.Errorf("read step = %+v", rd)
	}
}

func TestCheckFailures(t *testing.T) {
	for _, tc := range []struct {
		label  string
		edit   func(*azurekv.Settings, *azurekv.Options)
		setup  func(*fixture)
		secret string
		step   string
		detail string // part of the failing step's detail
		hint   string // part of its hint
	}{
		{label: "denied", setup: func(f *fixture) { f.vault.Deny("s") }, secret: "s",
			step: azurekv.StepRead, detail: "access denied", hint: azurekv.SecretsUserRole},
		{label: "firewall", setup: func(f *fixture) { f.vault.SetFirewallDenied(true) }, secret: "s",
			step: azurekv.StepRead, detail: "network access", hint: "private endpoint"},
		{label: "disabled", setup: func(f *fixture) { f.vault.Disable("s", "") }, secret: "s",
			step: azurekv.StepRead, detail: "disabled", hint: "enable"},
		{label: "missing", secret: "nope", step: azurekv.StepRead, detail: "not found", hint: "name"},
		{label: "bad name", secret: "no such/name/x", step: azurekv.StepRead, detail: "reference", hint: "Name the secret"},
		{label: "expired", setup: func(f *fixture) {
			if _, err := f.vault.Put("old", fakekv.Spec{Value: "x", Expires: time.Now().Add(-time.Hour)}); err != nil {
				panic(err)
			}
		}, secret: "old", step: azurekv.StepExpiry, detail: "expired", hint: "new version"},
		{label: "token refused", setup: func(f *fixture) { f.cred.Fail(errors.New("AADSTS7000215: Invalid client secret provided")) },
			step: azurekv.StepToken, detail: "AADSTS7000215", hint: "managed identity"},
		{label: "token from another tenant", edit: func(_ *azurekv.Settings, o *azurekv.Options) { o.Credential = otherTenant{fakekv.NewCredential()} },
			step: azurekv.StepToken, detail: "from tenant 88888888", hint: "another tenant"},
		{label: "untrusted certificate", edit: func(_ *azurekv.Settings, o *azurekv.Options) {
			o.Transport = &http.Client{Transport: &http.Transport{}}
		},
			step: azurekv.StepConnect, detail: "not trusted", hint: "SSL_CERT_FILE"},
		{label: "name does not resolve", edit: func(_ *azurekv.Settings, o *azurekv.Options) {
			o.Transport = &http.Client{Transport: &http.Transport{DialContext: func(_ context.Context, _, addr string) (net.Conn, error) {
				return nil, &net.OpError{Op: "dial", Net: "tcp", Err: &net.DNSError{Err: "no such host", Name: addr, IsNotFound: true}}
			}}}
		}, step: azurekv.StepConnect, detail: "does not resolve", hint: "privatelink.vaultcore.azure.net"},
		{label: "unreachable", edit: func(s *azurekv.Settings, _ *azurekv.Options) {
			l, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				panic(err)
			}
			s.VaultURLOverride = "https://" + l.Addr().String() + "/"
			l.Close()
		}, step: azurekv.StepConnect, detail: "cannot be reached", hint: "port 443"},
	} {
		t.Run(tc.label, func(t *testing.T) {
			f := newFixture(t, customHost, tc.edit)
			f.vault.Set("s", "the-value")
			if tc.setup != nil {
				tc.setup(f)
			}
			r := f.store.Check(t.Context(), tc.secret)
			if r.OK {
				t.Fatalf("check passed: %+v", r.Steps)
			}
			st := step(t, r, tc.step)
			if st.OK || !strings.Contains(st.Detail, tc.detail) || !strings.Contains(st.Hint, tc.hint) {
				t.Errorf("step %q = %+v, want a failure whose detail has %q and hint has %q", tc.step, st, tc.detail, tc.hint)
			}
			for _, s := range r.Steps {
				if strings.Contains(s.Detail+s.Hint, "the-value") || strings.Contains(s.Detail, "eyJ") {
					t.Fatalf("step %q shows a value or a token: %+v", s.Name, s)
				}
				if !s.OK && s.Hint == "" && !strings.Contains(s.Detail, "not tried") {
					t.Errorf("failing step %q has no hint", s.Name)
				}
			}
		})
	}
}

// TestCheckNotAKeyVault: a host that answers without a challenge.
func TestCheckNotAKeyVault(t *testing.T) {
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusOK) }))
	defer srv.Close()
	f := newFixture(t, customHost, func(s *azurekv.Settings, o *azurekv.Options) {
		s.VaultURLOverride = srv.URL
		o.Transport = srv.Client()
	})
	r := f.store.Check(t.Context(), "")
	if st := step(t, r, azurekv.StepConnect); !st.OK {
		t.Errorf("connect step: %+v", st)
	}
	if st := step(t, r, azurekv.StepTenant); st.OK || !strings.Contains(st.Detail, "instead of a Bearer challenge") {
		t.Errorf("tenant step: %+v", st)
	}
}
