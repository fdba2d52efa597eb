package azurekv_test

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/credflow/credflow/internal/secretstore"
	"github.com/credflow/credflow/internal/secretstore/azurekv"
	"github.com/credflow/credflow/internal/secretstore/azurekv/fakekv"
)

// TestCredentialProblems: a credential that cannot be built does not stop
// the store from opening; the check's token step and every read say why,
// without showing a secret.
func TestCredentialProblems(t *testing.T) {
	dir := t.TempDir()
	garbage := filepath.Join(dir, "garbage.pem")
	if err := os.WriteFile(garbage, []byte("not a certificate"), 0o600); err != nil {
		t.Fatal(err)
	}
	empty := filepath.Join(dir, "empty")
	if err := os.WriteFile(empty, []byte("\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	const clientID = "1b2c3d4e-0000-4000-8000-000000000000"
	for _, tc := range []struct {
		label  string
		auth   azurekv.Auth
		detail string
		hint   string
	}{
		{"secret file missing", azurekv.Auth{Kind: azurekv.AuthClientSecret, ClientID: clientID, ClientSecretFile: filepath.Join(dir, "nope")},
			"no such file", "client secret"},
		{"secret file empty", azurekv.Auth{Kind: azurekv.AuthClientSecret, ClientID: clientID, ClientSecretFile: empty},
			"is empty", "client secret"},
		{"secret variable unset", azurekv.Auth{Kind: azurekv.AuthClientSecret, ClientID: clientID, ClientSecretEnv: "CREDFLOW_TEST_UNSET_SECRET"},
			"CREDFLOW_TEST_UNSET_SECRET", "client secret"},
		{"certificate garbage", azurekv.Auth{Kind: azurekv.AuthClientCertificate, ClientID: clientID, CertificateFile: garbage},
			"no certificate", "certificate"},
		{"certificate password unset", azurekv.Auth{Kind: azurekv.AuthClientCertificate, ClientID: clientID, CertificateFile: garbage, CertificatePasswordEnv: "CREDFLOW_TEST_UNSET_PW"},
			"CREDFLOW_TEST_UNSET_PW", "certificatePasswordEnv"},
	} {
		t.Run(tc.label, func(t *testing.T) {
			vault := fakekv.Start(t, fakekv.Options{VaultName: "myvault"})
			vault.Set("s", "v")
			s := baseSettings(vault, customHost)
			s.Auth = tc.auth
			store, err := azurekv.New(s, azurekv.Options{Transport: vault.Client(), Retry: fastRetry,
				LookupEnv: func(string) (string, bool) { return "", false }})
			if err != nil {
				t.Fatalf("New: %v", err)
			}
			r := store.Check(t.Context(), "s")
			st := step(t, r, azurekv.StepToken)
			if st.OK || !strings.Contains(st.Detail, tc.detail) || !strings.Contains(st.Hint, tc.hint) {
				t.Errorf("token step = %+v, want detail with %q and hint with %q", st, tc.detail, tc.hint)
			}
			_, err = store.Get(t.Context(), secretstore.Ref{Name: "s"})
			var ae *azurekv.AuthError
			if !errors.As(err, &ae) || !errors.Is(err, secretstore.ErrUnavailable) {
				t.Fatalf("Get: %v, want an AuthError", err)
			}
		})
	}
}
