package cli

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/credflow/credflow/internal/config"
	"github.com/credflow/credflow/internal/metadb/metadbtest"
	"github.com/credflow/credflow/internal/secretstore/hcvault/fakevault"
	"github.com/credflow/credflow/internal/server/servertest"
)

// TestVaultEndToEnd adds a HashiCorp Vault store with the Vault flags,
// reads a secret through a variable, and sees the check name the step
// that fails once the AppRole's secret id is revoked.
func TestVaultEndToEnd(t *testing.T) {
	for _, e := range metadbtest.Engines(t) {
		t.Run(e.Name, func(t *testing.T) {
			vault := fakevault.Start(t, fakevault.Options{})
			roleID := vault.AddRole("credflow", "credflow-read")
			secretID := vault.NewSecretID(roleID)
			sidFile := filepath.Join(t.TempDir(), "secret-id")
			if err := os.WriteFile(sidFile, []byte(secretID), 0o600); err != nil {
				t.Fatal(err)
			}
			vault.Put("robots/sql", map[string]string{"password": "vault-canary-51c9"})
			cfg := config.Defaults()
			cfg.DataDir = t.TempDir()
			cfg.Database = e.DSN(t)
			inst := servertest.StartConfig(t, cfg)
			s := &session{t: t, inv: invocation{env: map[string]string{envAddr: inst.URL, envToken: inst.AdminToken}},
				secrets: []string{"vault-canary-51c9", secretID}}

			r := s.run(invocation{}, "store", "add", "vault", "--kind", "hashicorp-vault", "--vault-address", vault.URL,
				"--vault-ca-file", vault.CAFile, "--vault-auth", "approle", "--vault-role-id", roleID, "--vault-secret-id-file", sidFile, "--cache-ttl", "0s")
			if r.code != exitOK || r.stderr != "" {
				t.Fatalf("store add: exit %d, stderr %q\n%s", r.code, r.stderr, r.stdout)
			}
			for _, want := range []string{`^  address: +` + regexp.QuoteMeta(vault.URL) + `$`, `^  auth\.kind: +approle$`, `^  mount: +secret$`,
				`\n\nCheck:\n✓ reach the server — `, `^✓ authenticate — signed in with AppRole`} {
				if !regexp.MustCompile("(?m)" + want).MatchString(r.stdout) {
					t.Errorf("store add: no /%s/ in\n%s", want, r.stdout)
				}
			}
			s.ok("env", "create", "--display-name", "SQL Password", "--type", "secret", "--store", "vault", "--ref", "robots/sql#password")
			out := s.ok("store", "check", "vault", "--secret", "robots/sql")
			if !strings.Contains(out, "✓ read secret — read robots/sql#password (version 1)") {
				t.Errorf("store check:\n%s", out)
			}

			vault.RevokeSecretID(roleID, secretID)
			vault.ExpireTokens()
			out, msg := s.checkFails("store", "check", "vault", "--secret", "robots/sql")
			if !strings.Contains(out, "✗ authenticate — Vault refused the AppRole login") || !strings.Contains(msg, `"authenticate"`) {
				t.Errorf("store check after the revocation: %q\n%s", msg, out)
			}
		})
	}
}
