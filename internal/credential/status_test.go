package credential_test

import (
	"testing"
	"time"

	"github.com/credflow/credflow/internal/credential"
	"github.com/credflow/credflow/internal/envvar"
)

func TestCredentialStatus(t *testing.T) {
	now := time.Now().UTC()
	read := &envvar.SecretRef{Enabled: true, CheckedAt: now.Add(-time.Minute)}
	for _, tc := range []struct {
		name       string
		user, pass *envvar.SecretRef
		enabled    bool
		want       envvar.Status
	}{
		{"text username, password read", nil, read, true, envvar.StatusOK},
		{"both read", read, read, true, envvar.StatusOK},
		{"password never checked", nil, &envvar.SecretRef{Enabled: true}, true, envvar.StatusPending},
		{"password expired", nil, &envvar.SecretRef{Enabled: true, CheckedAt: read.CheckedAt, ExpiresAt: now.Add(-time.Hour)}, true, envvar.StatusExpired},
		{"username gone, password expired", &envvar.SecretRef{Enabled: true, CheckedAt: read.CheckedAt, Problem: envvar.StatusNotFound},
			&envvar.SecretRef{Enabled: true, CheckedAt: read.CheckedAt, ExpiresAt: now.Add(-time.Hour)}, true, envvar.StatusNotFound},
		{"password denied", read, &envvar.SecretRef{Enabled: true, CheckedAt: read.CheckedAt, Problem: envvar.StatusAccessDenied}, true, envvar.StatusAccessDenied},
		{"password disabled in the store", nil, &envvar.SecretRef{CheckedAt: read.CheckedAt}, true, envvar.StatusSecretDisabled},
		// Enabled is its own field: the status answers whether the secrets
		// can be read.
		{"disabled credential, secrets fine", nil, read, false, envvar.StatusOK},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := credential.Credential{Enabled: tc.enabled, UsernameSecret: tc.user, PasswordSecret: tc.pass}
			if got := c.Status(now); got != tc.want {
				t.Errorf("Status = %q, want %q", got, tc.want)
			}
		})
	}
}
