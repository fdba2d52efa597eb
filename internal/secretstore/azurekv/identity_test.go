package azurekv_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/credflow/credflow/internal/secretstore"
	"github.com/credflow/credflow/internal/secretstore/azurekv"
	"github.com/credflow/credflow/internal/secretstore/azurekv/fakekv"
)

// miFixture opens a store that authenticates with the real azidentity
// ManagedIdentityCredential against the emulator's App Service–style
// token endpoint. Each test uses a client id of its own: the identity
// library caches managed-identity tokens process-wide.
func miFixture(t *testing.T) (*fixture, string) {
	clientID := strings.ToLower(fakekv.NewCredential().AppID)
	vault := fakekv.Start(t, fakekv.Options{VaultName: "myvault"})
	t.Setenv("IDENTITY_ENDPOINT", vault.IdentityEndpoint)
	t.Setenv("IDENTITY_HEADER", vault.IdentityHeader())
	s := baseSettings(vault, customHost)
	s.Auth = azurekv.Auth{Kind: azurekv.AuthManagedIdentity, ClientID: clientID}
	store, err := azurekv.New(s, azurekv.Options{Name: "kv", Transport: vault.Client(), Retry: fastRetry})
	if err != nil {
		t.Fatal(err)
	}
	return &fixture{vault: vault, store: store}, clientID
}

func TestManagedIdentity(t *testing.T) {
	f, clientID := miFixture(t)
	v := f.vault.Set("db-password", "hunter2")
	sec, err := f.store.Get(t.Context(), secretstore.Ref{Name: "db-password"})
	if err != nil || sec.Version != v || sec.Value.Reveal() != "hunter2" {
		t.Fatalf("Get = %v, %v", sec.Version, err)
	}
	reqs := f.vault.IdentityRequests()
	if len(reqs) == 0 || !reqs[0].OK || reqs[0].Resource != "https://vault.azure.net" || reqs[0].ClientID != clientID {
		t.Fatalf("identity requests = %+v, want one for https://vault.azure.net as %s", reqs, clientID)
	}
	var seen bool
	for _, tok := range f.vault.Tokens() {
		seen = seen || (tok.AppID == clientID && tok.TenantID == f.vault.TenantID() && tok.Audience == "https://vault.azure.net")
	}
	if !seen {
		t.Errorf("the vault saw no token for %s: %+v", clientID, f.vault.Tokens())
	}

	// A refusal names the managed identity.
	f.vault.Deny("db-password")
	_, err = f.store.Get(t.Context(), secretstore.Ref{Name: "db-password"})
	var kvErr *azurekv.Error
	if !errors.As(err, &kvErr) || kvErr.Principal.AppID != clientID {
		t.Fatalf("Get of a denied secret: %v, want an error naming app %s", err, clientID)
	}

	r := f.store.Check(t.Context(), "")
	if st := step(t, r, azurekv.StepToken); !st.OK || !strings.Contains(st.Detail, clientID) {
		t.Errorf("token step = %+v", st)
	}
}

// TestManagedIdentityEndpointDown: the token step fails with a hint, and a
// read fails as unavailable with an authentication error that says so.
func TestManagedIdentityEndpointDown(t *testing.T) {
	f, _ := miFixture(t)
	f.vault.Set("db-password", "hunter2")
	f.vault.SetIdentityDown(true)

	r := f.store.Check(t.Context(), "db-password")
	if r.OK {
		t.Fatal("check passed with the identity endpoint down")
	}
	st := step(t, r, azurekv.StepToken)
	if st.OK || !strings.Contains(st.Detail, "managed-identity") || !strings.Contains(st.Hint, "managed identity") {
		t.Errorf("token step = %+v", st)
	}
	if st := step(t, r, azurekv.StepConnect); !st.OK {
		t.Errorf("connect step = %+v: the vault itself is up", st)
	}
	if st := step(t, r, azurekv.StepRead); st.OK {
		t.Errorf("read step = %+v", st)
	}

	_, err := f.store.Get(t.Context(), secretstore.Ref{Name: "db-password"})
	var ae *azurekv.AuthError
	if !errors.As(err, &ae) || !errors.Is(err, secretstore.ErrUnavailable) || !errors.Is(err, azurekv.ErrAuthentication) {
		t.Fatalf("Get: %v, want an AuthError matching ErrUnavailable and ErrAuthentication", err)
	}
	if ae.Auth != azurekv.AuthManagedIdentity || !strings.Contains(ae.Hint(), "managed identity") {
		t.Errorf("AuthError = %+v, hint %q", ae, ae.Hint())
	}
	if strings.Contains(err.Error(), "\n") || len(err.Error()) > 500 {
		t.Errorf("the error is not one short line: %q", err.Error())
	}
	if n := f.vault.Calls(fakekv.RouteGet) - f.vault.Calls(fakekv.RouteChallenge); n != 0 {
		t.Errorf("%d authenticated reads reached the vault without a token", n)
	}

	// Back up: reads work again.
	f.vault.SetIdentityDown(false)
	if _, err := f.store.Get(t.Context(), secretstore.Ref{Name: "db-password"}); err != nil {
		t.Fatalf("Get after the endpoint came back: %v", err)
	}
}
