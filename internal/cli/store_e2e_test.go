package cli

import (
	"encoding/json"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"

	"github.com/credflow/credflow/client"
	"github.com/credflow/credflow/internal/config"
	"github.com/credflow/credflow/internal/metadb/metadbtest"
	"github.com/credflow/credflow/internal/secretstore/azurekv"
	"github.com/credflow/credflow/internal/secretstore/azurekv/fakekv"
	"github.com/credflow/credflow/internal/server"
	"github.com/credflow/credflow/internal/server/servertest"
)

// wantCheckFails runs `credflow store check` that must fail: the steps on
// stdout, exit 1, and one Error: line naming the failing step.
func (s *session) checkFails(args ...string) (stdout, msg string) {
	s.t.Helper()
	r := s.run(invocation{}, args...)
	if r.code != exitError || !strings.HasPrefix(r.stderr, "Error: ") || strings.Count(r.stderr, "\n") != 1 {
		s.t.Fatalf("credflow %s: exit %d, stderr %q; want 1 and one Error: line", strings.Join(args, " "), r.code, r.stderr)
	}
	return r.stdout, strings.TrimSuffix(strings.TrimPrefix(r.stderr, "Error: "), "\n")
}

func TestStoreEndToEnd(t *testing.T) {
	for _, e := range metadbtest.Engines(t) {
		t.Run(e.Name, func(t *testing.T) {
			inst := servertest.Start(t, e)
			s := &session{t: t, inv: invocation{env: map[string]string{envAddr: inst.URL, envToken: inst.AdminToken}}, secrets: []string{"probe pa55"}}

			wantLines(t, s.ok("store", "get", "local"), `ID: +\S+`, `Name: +local`, `Kind: +builtin`, `Status: +ready`,
				`Cache TTL: +1m`, `Stale if error: +0s \(never\)`, `Settings: +none`, `Created: +\S+`, `Updated: +\S+`)

			out := s.ok("store", "update", "local", "--cache-ttl", "5s")
			wantLines(t, out, `ID: +\S+`, `Name: +local`, `Kind: +builtin`, `Status: +ready`,
				`Cache TTL: +5s`, `Stale if error: +0s \(never\)`, `Settings: +none`, `Created: +\S+`, `Updated: +\S+`)
			var st client.Store
			s.json(&st, "store", "update", "local", "--stale-if-error", "1h")
			if st.CacheTTL != 5*time.Second || st.StaleIfError != time.Hour {
				t.Errorf("store update -o json: %+v", st)
			}
			if msg := s.fails("store", "update", "local", "--settings", `{"x":1}`); !strings.Contains(msg, "no settings") {
				t.Errorf("settings of the built-in store: %q", msg)
			}

			if r := s.run(invocation{stdin: "probe pa55"}, "store", "secret", "put", "probe"); r.code != exitOK {
				t.Fatalf("put: exit %d, stderr %q", r.code, r.stderr)
			}
			wantLines(t, s.ok("store", "check", "local", "--secret", "probe"),
				`✓ unsealed — the store can decrypt`, `✓ read secret probe — the secret exists and can be read`)
			var report client.CheckReport
			s.json(&report, "store", "check", "local")
			if !report.OK || len(report.Steps) != 1 {
				t.Errorf("store check -o json: %+v", report)
			}

			out, msg := s.checkFails("store", "check", "local", "--secret", "absent")
			wantLines(t, out, `✓ unsealed — the store can decrypt`, `✗ read secret absent — secret not found`, `  fix: \S.*`)
			if !strings.Contains(msg, `store local failed its check at "read secret absent": secret not found`) {
				t.Errorf("failed check: %q", msg)
			}
			r := s.run(invocation{}, "store", "check", "local", "--secret", "absent", "-o", "json")
			if err := json.Unmarshal([]byte(r.stdout), &report); r.code != exitError || err != nil || report.OK {
				t.Errorf("failed check -o json: exit %d, %v, %+v", r.code, err, report)
			}

			if msg := s.fails("store", "remove", "local"); !strings.Contains(msg, "built-in store") {
				t.Errorf("remove local: %q", msg)
			}
			if msg := s.fails("store", "add", "again", "--kind", "builtin"); !strings.Contains(msg, "local") {
				t.Errorf("a second built-in store: %q", msg)
			}
			// Settings the server refuses: the message names the field, and
			// nothing is saved.
			if msg := s.fails("store", "add", "kv", "--kind", "azure-keyvault", "--vault-name", "a_b", "--auth", "default"); !strings.Contains(msg, "settings.vaultName") {
				t.Errorf("bad settings: %q", msg)
			}
			wantLines(t, s.ok("store", "list"), `NAME +KIND +STATUS`, `local +builtin +ready`)
		})
	}
}

func TestKeyVaultEndToEnd(t *testing.T) {
	for _, e := range metadbtest.Engines(t) {
		t.Run(e.Name, func(t *testing.T) {
			// One identity for every emulator: the Azure SDK keeps
			// managed-identity tokens in a cache of the whole process.
			vault := fakekv.Start(t, fakekv.Options{VaultName: "myvault",
				Identity: fakekv.Identity{ClientID: "0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0", ObjectID: "7a6b5c4d-3e2f-1a0b-9c8d-7e6f5a4b3c2d"}})
			t.Setenv("IDENTITY_ENDPOINT", vault.IdentityEndpoint)
			t.Setenv("IDENTITY_HEADER", vault.IdentityHeader())
			cfg := config.Defaults()
			cfg.DataDir = t.TempDir()
			cfg.Database = e.DSN(t)
			kind := server.AzureKeyVault(azurekv.Options{Transport: vault.Client(),
				Retry: &policy.RetryOptions{MaxRetries: 1, RetryDelay: 10 * time.Millisecond, MaxRetryDelay: time.Second}})
			inst := servertest.StartConfig(t, cfg, server.WithKinds(kind))
			s := &session{t: t, inv: invocation{env: map[string]string{envAddr: inst.URL, envToken: inst.AdminToken}},
				secrets: []string{"kv-secret-1", vault.IdentityHeader()}}

			exp := time.Now().Add(30 * 24 * time.Hour).UTC().Truncate(time.Second)
			if _, err := vault.Put("sql-pass", fakekv.Spec{Value: "kv-secret-1", Expires: exp}); err != nil {
				t.Fatal(err)
			}
			add := func(name, tenant string) []string {
				return []string{"store", "add", name, "--kind", "azure-keyvault", "--tenant-id", tenant,
					"--subscription-id", fakekv.DefaultSubscriptionID, "--resource-group", fakekv.DefaultResourceGroup,
					"--vault-name", "myvault", "--vault-url", vault.URL, "--allow-custom-vault-host", "--auth", "managed-identity", "--cache-ttl", "0s"}
			}
			r := s.run(invocation{}, add("kv", vault.TenantID())...)
			if r.code != exitOK || r.stderr != "" {
				t.Fatalf("store add: exit %d, stderr %q\n%s", r.code, r.stderr, r.stdout)
			}
			for _, want := range []string{`^Name: +kv$`, `^Cache TTL: +0s \(no cache\)$`, `^Settings: +$`, `^  vaultName: +myvault$`,
				`^  vaultUrl: +` + regexp.QuoteMeta(vault.URL) + `$`, `^  auth\.kind: +managed-identity$`, `\n\nCheck:\n✓ reach the vault — `, `^✓ same tenant — `} {
				if !regexp.MustCompile("(?m)" + want).MatchString(r.stdout) {
					t.Errorf("store add: no /%s/ in\n%s", want, r.stdout)
				}
			}
			if strings.Contains(r.stdout, "✗") {
				t.Errorf("store add: a step failed\n%s", r.stdout)
			}

			var pass client.EnvironmentVariable
			s.json(&pass, "env", "create", "--display-name", "SQL Password", "--type", "secret", "--store", "kv", "--secret-name", "sql-pass")
			if ref := pass.SecretRef; ref == nil || !strings.HasSuffix(ref.Ref, "/vaults/myvault/secrets/sql-pass") || ref.Enabled == nil || !*ref.Enabled ||
				ref.ExpiresAt == nil || !ref.ExpiresAt.Equal(exp) {
				t.Errorf("env create by parts: %+v", ref)
			}
			out := s.ok("env", "get", "cf_SQLPassword")
			wantLines(t, out, `ID: +\S+`, `Schema name: +cf_SQLPassword`, `Display name: +SQL Password`, `Description: +`, `Type: +secret`,
				`Store: +kv`, `Reference: +/subscriptions/.*/vaults/myvault/secrets/sql-pass`, `Secret enabled: +yes`,
				`Secret expires: +`+exp.Format(time.RFC3339), `Status: +ok`, `Owner: +\S+`, `Created: +\S+`, `Updated: +\S+`)
			if msg := s.fails("env", "create", "--display-name", "Gone", "--type", "secret", "--store", "kv", "--secret-name", "gone"); !strings.Contains(msg, "gone") {
				t.Errorf("missing secret by parts: %q", msg)
			}

			wantLines(t, s.ok("store", "check", "kv", "--secret", "sql-pass"), `✓ .*`, `✓ .*`, `✓ .*`, `✓ read secret.*`, `✓ expiry.*`)
			out, msg := s.checkFails("store", "check", "kv", "--secret", "gone")
			if !strings.Contains(out, "✗ read secret") || !strings.Contains(out, "  fix: ") || !strings.Contains(msg, `store kv failed its check at "read secret": `) {
				t.Errorf("check of a missing secret: %q\n%s", msg, out)
			}

			// The wrong tenant: the store is saved anyway, the report says
			// which step failed, and the exit code says it cannot be used yet.
			r = s.run(invocation{}, add("wrong", "99999999-9999-9999-9999-999999999999")...)
			if r.code != exitError || !strings.Contains(r.stdout, "✗ same tenant") || !strings.Contains(r.stdout, "\n  fix: ") ||
				r.stderr != "Error: store wrong was saved, but its check failed at \"get a token\": fix it with 'credflow store update wrong', then run 'credflow store check wrong'\n" {
				t.Errorf("store add with a failing check: exit %d, stderr %q\n%s", r.code, r.stderr, r.stdout)
			}
			var saved client.Store
			s.json(&saved, "store", "get", "wrong")
			if saved.Name != "wrong" {
				t.Errorf("the store whose check failed was not saved: %+v", saved)
			}
			wantLines(t, s.ok("store", "list"), `NAME +KIND +STATUS`, `kv +azure-keyvault +ready`, `local +builtin +ready`, `wrong +azure-keyvault +degraded \(get a token\)`)
			// store update takes the same Key Vault flags, and changes only
			// what they name: the right tenant makes the check pass.
			out = s.ok("store", "update", "wrong", "--tenant-id", vault.TenantID())
			for _, want := range []string{`^  tenantId: +` + vault.TenantID() + `$`, `^  vaultName: +myvault$`,
				`^  vaultUrl: +` + regexp.QuoteMeta(vault.URL) + `$`, `^  auth\.kind: +managed-identity$`} {
				if !regexp.MustCompile("(?m)" + want).MatchString(out) {
					t.Errorf("store update --tenant-id: no /%s/ in\n%s", want, out)
				}
			}
			if out := s.ok("store", "check", "wrong"); strings.Contains(out, "✗") {
				t.Errorf("check after the tenant was fixed:\n%s", out)
			}
			if r := s.run(invocation{}, "store", "update", "local", "--vault-name", "x"); r.code != exitUsage ||
				r.stderr != "Error: the Key Vault flags are for stores of kind azure-keyvault; local is of kind builtin: use --settings or --settings-file\n" {
				t.Errorf("Key Vault flags on the built-in store: exit %d, stderr %q", r.code, r.stderr)
			}
			if r := s.run(invocation{}, "store", "update", "wrong", "--vault-name", "x", "--settings", "{}"); r.code != exitUsage {
				t.Errorf("Key Vault flags with --settings: exit %d, stderr %q", r.code, r.stderr)
			}
			// -o json makes the error JSON too, with the server's problem.
			r = s.run(invocation{}, "store", "remove", "kv", "-o", "json")
			var failed struct {
				Error    string        `json:"error"`
				ExitCode int           `json:"exitCode"`
				Problem  *client.Error `json:"problem"`
			}
			if err := json.Unmarshal([]byte(r.stderr), &failed); err != nil || r.code != exitError || r.stdout != "" ||
				failed.ExitCode != exitError || failed.Problem == nil || failed.Problem.Code != "in_use" || !strings.Contains(failed.Error, "variables use the store") {
				t.Errorf("-o json error: exit %d, stdout %q, stderr %q (%v)", r.code, r.stdout, r.stderr, err)
			}
			wantLines(t, s.ok("store", "list"), `NAME +KIND +STATUS`, `kv +azure-keyvault +ready`, `local +builtin +ready`, `wrong +azure-keyvault +ready`)

			if msg := s.fails("store", "remove", "kv"); !strings.Contains(msg, "variables use the store") {
				t.Errorf("remove a store in use: %q", msg)
			}
			if out := s.ok("store", "remove", "wrong"); out != "Removed store wrong.\n" {
				t.Errorf("store remove: %q", out)
			}
		})
	}
}
