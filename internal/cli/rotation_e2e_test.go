package cli

import (
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

func TestNotifySecretChangeEndToEnd(t *testing.T) {
	for _, e := range metadbtest.Engines(t) {
		t.Run(e.Name, func(t *testing.T) {
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
			vault.Set("sql-pass", "kv-secret-1")
			s.ok("store", "add", "kv", "--kind", "azure-keyvault", "--tenant-id", vault.TenantID(),
				"--subscription-id", fakekv.DefaultSubscriptionID, "--resource-group", fakekv.DefaultResourceGroup,
				"--vault-name", "myvault", "--vault-url", vault.URL, "--allow-custom-vault-host", "--auth", "managed-identity")
			s.ok("env", "create", "--display-name", "SQL Password", "--type", "secret", "--store", "kv", "--secret-name", "sql-pass")

			out := s.ok("notify-secret-change", "--key-vault-url", "https://myvault.vault.azure.net", "--secret-name", "sql-pass")
			wantLines(t, out, `Store: +kv`, `Variables: +cf_SQLPassword`, `Connections checked: +`)
			var res client.SecretChangeResult
			s.json(&res, "notify-secret-change", "--key-vault-url",
				"/subscriptions/"+fakekv.DefaultSubscriptionID+"/resourceGroups/"+fakekv.DefaultResourceGroup+"/providers/Microsoft.KeyVault/vaults/myvault",
				"--secret-name", "sql-pass")
			if len(res.Stores) != 1 || res.Stores[0].Store != "kv" || len(res.Stores[0].Variables) != 1 {
				t.Errorf("json %+v", res)
			}
			// The status shows the change, which no run has received yet;
			// then a runner's run receives it.
			wantLines(t, s.ok("events", "status"), `Webhook keys: +no key configured: every delivery is refused`, `Last handshake: +never`,
				`Events: +0 accepted, 0 ignored, 0 duplicate; 0 deliveries rejected; 0 waiting`, ``,
				`STORE +LAST EVENT +TYPE +ACCEPTED +IGNORED +DUPLICATE +REJECTED +LAST POLL`, `kv +never +0 +0 +0 +0 +never`, `local +never +0 +0 +0 +0 +never`, ``,
				`STORE +SECRET +CHANGED +FROM +FIRST RUN +AFTER +VERSION +RUNNER +CONNECTION`, `kv +sql-pass +\S+Z +notification +not yet +- +`)
			s.ok("env", "create", "--display-name", "SQL User", "--type", "text", "--value", "svc")
			s.ok("credential", "create", "--name", "SQL", "--username", "cf_SQLUser", "--password", "cf_SQLPassword")
			s.ok("runner-group", "create", "build")
			s.ok("connection", "create", "--name", "sql-build", "--credential", "SQL", "--runner-group", "build")
			s.ok("user", "create", "build-01", "--role", "runner", "--runner-group", "build")
			token, _ := newToken(s, "--name", "machine", "--user", "build-01")
			runner := s.as(token)
			runner.secrets = append(runner.secrets, token)
			s.secrets = append(s.secrets, token)
			if r := runner.run(invocation{}, "run", "--connection", "sql-build", "--", "true"); r.code != exitOK {
				t.Fatalf("run: exit %d %s", r.code, r.stderr)
			}
			var st client.EventStatus
			for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
				s.json(&st, "events", "status")
				if len(st.Propagation) == 1 && st.Propagation[0].ReachedAt != nil || time.Now().After(deadline) {
					break
				}
			}
			if p := st.Propagation; len(p) != 1 || p[0].Secret != "sql-pass" || p[0].Runner != "build-01" || p[0].Connection != "sql-build" ||
				p[0].LatencyMs == nil || *p[0].LatencyMs <= 0 {
				t.Fatalf("events status -o json: %+v", st)
			}
			out = s.ok("events", "status")
			if !regexp.MustCompile(`(?m)^kv +sql-pass +\S+Z +notification +\S+Z +\d+(\.\d+)?[µm]?s +\S+ +build-01 +sql-build$`).MatchString(out) {
				t.Errorf("events status after the run:\n%s", out)
			}

			pollLine := func(want time.Duration) {
				t.Helper()
				var st client.Store
				s.json(&st, "store", "get", "kv")
				if st.PollInterval != want {
					t.Errorf("store get: poll interval %v, want %v", st.PollInterval, want)
				}
			}
			pollLine(5 * time.Minute)
			s.ok("store", "update", "kv", "--poll-interval", "30s")
			pollLine(30 * time.Second)
			s.ok("store", "update", "kv", "--poll-interval", "0s")
			pollLine(0)
			if msg := s.fails("store", "update", "kv", "--poll-interval", "5s"); !strings.Contains(msg, "pollInterval") {
				t.Errorf("a poll interval under 10s: %q", msg)
			}

			if r := s.run(invocation{}, "notify-secret-change", "--secret-name", "sql-pass"); r.code != exitUsage {
				t.Errorf("without --key-vault-url: exit %d %q", r.code, r.stderr)
			}
			if msg := s.fails("notify-secret-change", "--key-vault-url", "https://other.vault.azure.net", "--secret-name", "x"); msg == "" {
				t.Error("an unknown vault did not fail")
			}
		})
	}
}
