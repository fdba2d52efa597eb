package hcvault_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/credflow/credflow/internal/secretstore"
	"github.com/credflow/credflow/internal/secretstore/hcvault"
	"github.com/credflow/credflow/internal/secretstore/hcvault/fakevault"
	"github.com/credflow/credflow/internal/secretstore/storetest"
	"github.com/credflow/credflow/internal/testclock"
)

// fixture is a store over a fake server.
type fixture struct {
	vault *fakevault.TestServer
	store *hcvault.Store
	// secretIDFile and roleID, for AppRole fixtures.
	roleID, secretID, secretIDFile string
	tokenFile                      string
}

type authMode int

const (
	tokenAuth authMode = iota
	appRoleAuth
)

func (m authMode) String() string { return [...]string{"token", "approle"}[m] }

func newFixture(t *testing.T, mode authMode, fo fakevault.Options, tok fakevault.TokenSpec, edit func(*hcvault.Settings)) *fixture {
	t.Helper()
	f := &fixture{vault: fakevault.Start(t, fo)}
	dir := t.TempDir()
	s := hcvault.Settings{Address: f.vault.URL, Namespace: fo.Namespace, Mount: fo.Mount, CAFile: f.vault.CAFile}
	switch mode {
	case tokenAuth:
		f.tokenFile = filepath.Join(dir, "token")
		writeFile(t, f.tokenFile, f.vault.CreateToken(tok)+"\n")
		s.Auth = hcvault.Auth{Kind: hcvault.AuthToken, TokenFile: f.tokenFile}
	case appRoleAuth:
		f.roleID = f.vault.AddRole("credflow", "credflow-read")
		f.secretID = f.vault.NewSecretID(f.roleID)
		f.secretIDFile = filepath.Join(dir, "secret-id")
		writeFile(t, f.secretIDFile, f.secretID)
		s.Auth = hcvault.Auth{Kind: hcvault.AuthAppRole, RoleID: f.roleID, SecretIDFile: f.secretIDFile, Mount: fo.AppRoleMount}
	}
	if edit != nil {
		edit(&s)
	}
	st, err := hcvault.New(s, hcvault.Options{Name: "vault", MaxRetries: -1, Now: fo.Now})
	if err != nil {
		t.Fatal(err)
	}
	f.store = st
	return f
}

func writeFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
}

// harness adapts a fixture to storetest.
type harness struct{ *fixture }

func (h harness) Store() secretstore.Store { return h.store }

func (h harness) Seed(t *testing.T, name, value string) string {
	return strconv.Itoa(h.vault.Put(name, map[string]string{"password": value, "username": "svc"}))
}

func (h harness) AbsentVersion(t *testing.T, name string) string { return "999" }

func (h harness) Deny(t *testing.T, name string) { h.vault.Deny(name) }

func TestConformance(t *testing.T) {
	for _, m := range []authMode{tokenAuth, appRoleAuth} {
		t.Run(m.String(), func(t *testing.T) {
			storetest.Run(t, func(t *testing.T) storetest.Harness {
				return harness{newFixture(t, m, fakevault.Options{}, fakevault.TokenSpec{TTL: time.Hour, Renewable: true}, nil)}
			})
		})
	}
	t.Run("namespace and custom mounts", func(t *testing.T) {
		storetest.Run(t, func(t *testing.T) storetest.Harness {
			return harness{newFixture(t, appRoleAuth, fakevault.Options{Namespace: "team-a/apps", Mount: "kv/robots", AppRoleMount: "robots"}, fakevault.TokenSpec{}, nil)}
		})
	})
}

func TestFieldsAndVersions(t *testing.T) {
	f := newFixture(t, tokenAuth, fakevault.Options{}, fakevault.TokenSpec{}, nil)
	f.vault.Put("app/db", map[string]string{"password": "pw-one-7f3a", "username": "alice-7f3a"})
	f.vault.Put("app/db", map[string]string{"password": "pw-two-9c1e", "username": "bob-9c1e"})
	f.vault.PutRaw("app/cfg", map[string]any{"port": 5432, "tls": true})
	for _, tc := range []struct {
		ref, value, version string
	}{
		{"app/db", "pw-two-9c1e", "2"},
		{"app/db#password", "pw-two-9c1e", "2"},
		{"app/db#username", "bob-9c1e", "2"},
		{"app/db@1", "pw-one-7f3a", "1"},
		{"app/db#username@1", "alice-7f3a", "1"},
		{"app/cfg#port", "5432", "1"},
		{"app/cfg#tls", "true", "1"},
	} {
		t.Run(tc.ref, func(t *testing.T) {
			ref, err := f.store.ParseRef(tc.ref)
			if err != nil {
				t.Fatal(err)
			}
			sec, err := f.store.Get(t.Context(), ref)
			if err != nil {
				t.Fatal(err)
			}
			if sec.Value.Reveal() != tc.value || sec.Version != tc.version {
				t.Fatalf("Get(%s) = %d bytes at version %s, want %q at %s", tc.ref, sec.Value.Len(), sec.Version, tc.value, tc.version)
			}
		})
	}

	f.vault.Put("app/gone", map[string]string{"password": "old-4b2d"})
	f.vault.Put("app/gone", map[string]string{"password": "new-4b2d"})
	f.vault.DeleteVersion("app/gone", 2)
	f.vault.DestroyVersion("app/gone", 1)
	for _, tc := range []struct{ ref, hint string }{
		{"app/db#nope", `no field "nope"`},
		{"app/db@3", "it holds no secret at this path, or not this version"},
		{"app/none", "it holds no secret at this path, or not this version"},
		{"app/gone", "Version 2 of this secret was deleted"},
		{"app/gone@1", "Version 1 of this secret was destroyed"},
	} {
		t.Run("missing "+tc.ref, func(t *testing.T) {
			ref, _ := f.store.ParseRef(tc.ref)
			_, err := f.store.Get(t.Context(), ref)
			if !errors.Is(err, secretstore.ErrNotFound) {
				t.Fatalf("Get(%s): %v, want ErrNotFound", tc.ref, err)
			}
			var h secretstore.Hinter
			if !errors.As(err, &h) || !strings.Contains(h.Hint(), tc.hint) {
				t.Fatalf("Get(%s) hint does not say %q: %v", tc.ref, tc.hint, err)
			}
			for _, v := range []string{"pw-one-7f3a", "pw-two-9c1e", "old-4b2d", "new-4b2d", "alice-7f3a", "bob-9c1e"} {
				if strings.Contains(err.Error()+h.Hint(), v) {
					t.Fatalf("the error shows a value: %v", err)
				}
			}
		})
	}
}

func TestDenied(t *testing.T) {
	f := newFixture(t, appRoleAuth, fakevault.Options{}, fakevault.TokenSpec{}, nil)
	f.vault.Put("team-b/db", map[string]string{"password": "x"})
	f.vault.Deny("team-b/db")
	ref, _ := f.store.ParseRef("team-b/db")
	_, err := f.store.Get(t.Context(), ref)
	if !errors.Is(err, secretstore.ErrForbidden) {
		t.Fatalf("Get: %v, want ErrForbidden", err)
	}
	var h secretstore.Hinter
	if !errors.As(err, &h) || !strings.Contains(h.Hint(), `path "secret/data/team-b/db" { capabilities = ["read"] }`) ||
		!strings.Contains(h.Hint(), `role "credflow"`) || !strings.Contains(h.Hint(), "credflow-read") {
		t.Fatalf("the hint names neither the policy rule nor the identity: %v", h)
	}
	// A refusal by policy is not mistaken for an expired token: one login.
	if n := f.vault.Calls(fakevault.Login); n != 1 {
		t.Errorf("%d logins, want 1", n)
	}
}

func TestTokenRenewal(t *testing.T) {
	c := testclock.New(time.Now())
	f := newFixture(t, tokenAuth, fakevault.Options{Now: c.Now}, fakevault.TokenSpec{TTL: time.Hour, Renewable: true}, nil)
	f.vault.Put("app/db", map[string]string{"password": "p"})
	ref, _ := f.store.ParseRef("app/db")
	get := func() {
		t.Helper()
		if _, err := f.store.Get(t.Context(), ref); err != nil {
			t.Fatal(err)
		}
	}
	get()
	if n := f.vault.Calls(fakevault.Renew); n != 0 {
		t.Fatalf("%d renewals of a fresh token", n)
	}
	// Four times past the token's first lease: renewed each time two thirds
	// of its lease had passed, so it never expired.
	for range 12 {
		c.Advance(20 * time.Minute)
		get()
	}
	if n := f.vault.Calls(fakevault.Renew); n < 4 {
		t.Fatalf("%d renewals, want at least 4", n)
	}
}

func TestNonRenewableTokenExpires(t *testing.T) {
	c := testclock.New(time.Now())
	f := newFixture(t, tokenAuth, fakevault.Options{Now: c.Now}, fakevault.TokenSpec{TTL: time.Hour}, nil)
	f.vault.Put("app/db", map[string]string{"password": "p"})
	ref, _ := f.store.ParseRef("app/db")
	if _, err := f.store.Get(t.Context(), ref); err != nil {
		t.Fatal(err)
	}
	c.Advance(2 * time.Hour)
	_, err := f.store.Get(t.Context(), ref)
	var ae *hcvault.AuthError
	if !errors.Is(err, secretstore.ErrUnauthenticated) || !errors.As(err, &ae) || !strings.Contains(ae.Detail, "invalid, expired or revoked") {
		t.Fatalf("Get with an expired token: %v", err)
	}
	if f.vault.Calls(fakevault.Renew) != 0 {
		t.Error("a token that is not renewable was renewed")
	}
	// A new token written to the file is picked up.
	writeFile(t, f.tokenFile, f.vault.CreateToken(fakevault.TokenSpec{TTL: time.Hour}))
	if _, err := f.store.Get(t.Context(), ref); err != nil {
		t.Fatalf("Get after the token file was rewritten: %v", err)
	}
}

func TestAppRoleLogsInAgain(t *testing.T) {
	c := testclock.New(time.Now())
	f := newFixture(t, appRoleAuth, fakevault.Options{Now: c.Now, LoginTTL: time.Hour, LoginMaxTTL: 2 * time.Hour}, fakevault.TokenSpec{}, nil)
	f.vault.Put("app/db", map[string]string{"password": "p"})
	ref, _ := f.store.ParseRef("app/db")
	for range 10 {
		if _, err := f.store.Get(t.Context(), ref); err != nil {
			t.Fatal(err)
		}
		c.Advance(25 * time.Minute)
	}
	if f.vault.Calls(fakevault.Renew) == 0 || f.vault.Calls(fakevault.Login) < 2 {
		t.Fatalf("renewals %d, logins %d: want renewals until the max TTL, then a new login",
			f.vault.Calls(fakevault.Renew), f.vault.Calls(fakevault.Login))
	}

	// A token revoked in Vault is refused: credflow logs in again.
	logins := f.vault.Calls(fakevault.Login)
	f.vault.ExpireTokens()
	if _, err := f.store.Get(t.Context(), ref); err != nil {
		t.Fatalf("Get after the token was revoked: %v", err)
	}
	if f.vault.Calls(fakevault.Login) != logins+1 {
		t.Fatalf("logins %d, want %d", f.vault.Calls(fakevault.Login), logins+1)
	}

	// A revoked secret id stops new logins only.
	f.vault.RevokeSecretID(f.roleID, f.secretID)
	if _, err := f.store.Get(t.Context(), ref); err != nil {
		t.Fatalf("Get with a token issued before the revocation: %v", err)
	}
	f.vault.ExpireTokens()
	_, err := f.store.Get(t.Context(), ref)
	var ae *hcvault.AuthError
	if !errors.Is(err, secretstore.ErrUnauthenticated) || !errors.As(err, &ae) || !strings.Contains(ae.Hint(), "secret id") {
		t.Fatalf("Get after the secret id was revoked: %v", err)
	}
	if strings.Contains(err.Error()+ae.Hint(), f.secretID) {
		t.Fatal("the error shows the secret id")
	}
}

func TestConcurrentSignIn(t *testing.T) {
	f := newFixture(t, appRoleAuth, fakevault.Options{}, fakevault.TokenSpec{}, nil)
	f.vault.Put("app/db", map[string]string{"password": "p"})
	ref, _ := f.store.ParseRef("app/db")
	var wg sync.WaitGroup
	for range 20 {
		wg.Go(func() {
			if _, err := f.store.Get(t.Context(), ref); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	if n := f.vault.Calls(fakevault.Login); n != 1 {
		t.Fatalf("%d logins for 20 concurrent first reads, want 1", n)
	}
}

// TestEnvironmentIgnored shows that the Vault client's own environment
// variables change nothing: the address, token and namespace come from the
// settings only.
func TestEnvironmentIgnored(t *testing.T) {
	var elsewhere int
	other := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { elsewhere++ }))
	t.Cleanup(other.Close)
	t.Setenv("VAULT_ADDR", other.URL)
	t.Setenv("VAULT_TOKEN", "hvs.from-the-environment")
	t.Setenv("VAULT_NAMESPACE", "from-the-environment")
	t.Setenv("VAULT_HEADERS", `{"X-From-Env":"1"}`)
	t.Setenv("VAULT_SKIP_VERIFY", "true")

	for _, m := range []authMode{tokenAuth, appRoleAuth} {
		t.Run(m.String(), func(t *testing.T) {
			f := newFixture(t, m, fakevault.Options{}, fakevault.TokenSpec{}, nil)
			f.vault.Put("app/db", map[string]string{"password": "p"})
			ref, _ := f.store.ParseRef("app/db")
			if _, err := f.store.Get(t.Context(), ref); err != nil {
				t.Fatal(err)
			}
			if r := f.store.Check(t.Context(), "app/db"); !r.OK {
				t.Fatalf("check: %+v", r)
			}
			if f.vault.SawToken("hvs.from-the-environment") {
				t.Error("the server saw VAULT_TOKEN")
			}
			if ns := f.vault.Namespaces(); len(ns) != 1 || ns[0] != "" {
				t.Errorf("namespaces sent: %q, want none", ns)
			}
		})
	}
	if elsewhere != 0 {
		t.Errorf("%d requests went to VAULT_ADDR", elsewhere)
	}

	// VAULT_SKIP_VERIFY does not turn off certificate checks: a store without
	// the server's CA file is refused by TLS.
	f := newFixture(t, tokenAuth, fakevault.Options{}, fakevault.TokenSpec{}, func(s *hcvault.Settings) { s.CAFile = "" })
	_, err := f.store.Get(t.Context(), secretstore.Ref{Name: "app/db"})
	if !errors.Is(err, secretstore.ErrUnavailable) || !strings.Contains(err.Error(), "certificate") {
		t.Fatalf("Get from an untrusted server: %v", err)
	}
}

func TestCancelledAndTimeout(t *testing.T) {
	f := newFixture(t, tokenAuth, fakevault.Options{}, fakevault.TokenSpec{}, nil)
	f.vault.Put("app/db", map[string]string{"password": "p"})
	ctx, cancel := context.WithTimeout(t.Context(), time.Nanosecond)
	defer cancel()
	<-ctx.Done()
	_, err := f.store.Get(ctx, secretstore.Ref{Name: "app/db"})
	if !errors.Is(err, secretstore.ErrTimeout) {
		t.Fatalf("Get past its deadline: %v, want ErrTimeout", err)
	}
}

func TestFaults(t *testing.T) {
	f := newFixture(t, tokenAuth, fakevault.Options{}, fakevault.TokenSpec{}, nil)
	f.vault.Put("app/db", map[string]string{"password": "p"})
	for _, tc := range []struct {
		status int
		want   error
	}{
		{http.StatusTooManyRequests, secretstore.ErrThrottled},
		{http.StatusServiceUnavailable, secretstore.ErrUnavailable},
		{http.StatusInternalServerError, secretstore.ErrUnavailable},
	} {
		t.Run(strconv.Itoa(tc.status), func(t *testing.T) {
			f.vault.Fail(fakevault.Read, tc.status)
			defer f.vault.Fail(fakevault.Read, 0)
			_, err := f.store.Get(t.Context(), secretstore.Ref{Name: "app/db"})
			if !errors.Is(err, tc.want) {
				t.Fatalf("Get: %v, want %v", err, tc.want)
			}
		})
	}
}

func TestPublicSettings(t *testing.T) {
	raw := json.RawMessage(`{"address":"https://vault.example.com:8200/","auth":{"kind":"approle","roleId":"r-1","secretIdEnv":"VAULT_SECRET_ID"}}`)
	got, err := hcvault.PublicSettings(raw)
	if err != nil {
		t.Fatal(err)
	}
	want := `{"address":"https://vault.example.com:8200","mount":"secret","auth":{"kind":"approle","roleId":"r-1","secretIdEnv":"VAULT_SECRET_ID","mount":"approle"}}`
	if string(got) != want {
		t.Fatalf("PublicSettings = %s\nwant %s", got, want)
	}
}

var _ = fmt.Sprint
