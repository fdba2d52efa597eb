package cli

import (
	"strings"
	"testing"

	"github.com/credflow/credflow/internal/metadb/metadbtest"
	"github.com/credflow/credflow/internal/server/servertest"
)

// TestSecretDeleteInUse deletes a built-in secret that a variable
// references: refused with the variable named and the CLI's own flag as
// the way out, then done with --force.
func TestSecretDeleteInUse(t *testing.T) {
	const value = "in-use pa55"
	for _, e := range metadbtest.Engines(t) {
		t.Run(e.Name, func(t *testing.T) {
			inst := servertest.Start(t, e)
			s := &session{t: t, inv: invocation{env: map[string]string{envAddr: inst.URL, envToken: inst.AdminToken}}, secrets: []string{value}}
			if r := s.run(invocation{stdin: value}, "store", "secret", "put", "db-password"); r.code != exitOK {
				t.Fatalf("put: exit %d, stderr %q", r.code, r.stderr)
			}
			s.ok("env", "create", "--display-name", "DB Password", "--type", "secret", "--store", "local", "--ref", "db-password")

			msg := s.fails("store", "secret", "delete", "db-password")
			want := "Secret db-password in store local is referenced by environment variables: cf_DBPassword. " +
				"Change or delete those variables first, or run again with --force to delete the secret anyway: resolves through them will then fail."
			if msg != want {
				t.Errorf("deleting a referenced secret:\n%q\nwant\n%q", msg, want)
			}
			if out := s.ok("store", "secret", "list"); !strings.Contains(out, "db-password") {
				t.Fatalf("the refused delete deleted the secret: %q", out)
			}
			if out := s.ok("store", "secret", "delete", "db-password", "--force"); out != "Deleted secret db-password from local.\n" {
				t.Errorf("secret delete --force: %q", out)
			}
			if out := s.ok("store", "secret", "list"); out != "No secrets in local.\n" {
				t.Errorf("after the forced delete: %q", out)
			}
		})
	}
}
