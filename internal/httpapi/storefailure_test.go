package httpapi_test

import (
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"

	"github.com/credflow/credflow/internal/config"
	"github.com/credflow/credflow/internal/metadb/metadbtest"
	"github.com/credflow/credflow/internal/secretstore/azurekv"
	"github.com/credflow/credflow/internal/secretstore/azurekv/fakekv"
	"github.com/credflow/credflow/internal/server"
	"github.com/credflow/credflow/internal/server/servertest"
)

// dialCounter counts the requests sent to one address.
type dialCounter struct {
	next policy.Transporter
	addr string
	mu   sync.Mutex
	n    int
}

func (d *dialCounter) Do(req *http.Request) (*http.Response, error) {
	if req.URL.Host == d.addr {
		d.mu.Lock()
		d.n++
		d.mu.Unlock()
	}
	return d.next.Do(req)
}

func (d *dialCounter) reset() {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.n = 0
}

func (d *dialCounter) count() int {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.n
}

// closedAddr is a loopback address on which nothing listens: connecting to
// it is refused.
func closedAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return addr
}

// startKeyVaultWith is startKeyVault with the production retry options and
// a transport that counts the requests sent to refused.
func startKeyVaultWith(t *testing.T, e metadbtest.Engine, refused string) (kvEnv, *servertest.Instance, *dialCounter) {
	t.Helper()
	vault := fakekv.Start(t, fakekv.Options{VaultName: "myvault",
		Identity: fakekv.Identity{ClientID: "0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0", ObjectID: "7a6b5c4d-3e2f-1a0b-9c8d-7e6f5a4b3c2d"}})
	t.Setenv("IDENTITY_ENDPOINT", vault.IdentityEndpoint)
	t.Setenv("IDENTITY_HEADER", vault.IdentityHeader())
	cfg := config.Defaults()
	cfg.DataDir = t.TempDir()
	cfg.Database = e.DSN(t)
	dc := &dialCounter{next: vault.Client(), addr: refused}
	inst := servertest.StartConfig(t, cfg, server.WithKinds(server.AzureKeyVault(azurekv.Options{Transport: dc})))
	return kvEnv{vault: vault, admin: api{t: t, base: inst.URL, token: inst.AdminToken}}, inst, dc
}

// TestRefusingVaultFailsFast: a vault that refuses connections fails a
// resolve at its first try with 503 store_unavailable (not 10 s of retries
// and a 504), and the server log says why, at WARN, naming the store.
func TestRefusingVaultFailsFast(t *testing.T) {
	eachEngine(t, func(t *testing.T, e metadbtest.Engine) {
		refused := closedAddr(t)
		k, inst, dials := startKeyVaultWith(t, e, refused)
		a := k.admin
		a.must(201, "POST", "/api/v1/stores", map[string]any{"name": "kv", "kind": "azure-keyvault", "settings": k.settings(nil), "cacheTTL": "0s"})
		k.vault.Set("sql-pass", "refused-canary-value")
		a.must(201, "POST", "/api/v1/environment-variables", map[string]any{"schemaName": "cf_User", "displayName": "u", "type": "text", "value": "svc"})
		a.must(201, "POST", "/api/v1/environment-variables", map[string]any{"schemaName": "cf_Pass", "displayName": "p", "type": "secret",
			"secretRef": map[string]string{"store": "kv", "ref": kvPath("sql-pass")}})
		a.must(201, "POST", "/api/v1/credentials", map[string]any{"name": "SQL", "username": "cf_User", "password": "cf_Pass"})
		a.must(201, "POST", "/api/v1/runner-groups", map[string]any{"name": "build"})
		runner := runnerIn(a, "build-01", "build")
		a.must(201, "POST", "/api/v1/connections", map[string]any{"name": "sql-build", "credential": "SQL", "runnerGroup": "build"})
		runner.must(200, "POST", "/api/v1/connections/sql-build/resolve", nil)

		a.must(200, "PATCH", "/api/v1/stores/kv", map[string]any{"settings": k.settings(func(s map[string]any) {
			s["vaultUrl"] = "https://" + refused + "/"
		})})
		dials.reset()
		r := runner.do("POST", "/api/v1/connections/sql-build/resolve", nil)
		wantProblem(t, r, 503, "store_unavailable", "")
		if n := dials.count(); n != 1 {
			t.Errorf("%d requests to the refusing vault for one resolve, want 1 (no retries)", n)
		}
		var warn string
		for _, line := range strings.Split(inst.Log(), "\n") {
			if strings.Contains(line, `"level":"WARN"`) && strings.Contains(line, `"store":"kv"`) {
				warn = line
			}
		}
		if !strings.Contains(warn, "connection refused") || !strings.Contains(warn, "sql-pass") {
			t.Errorf("no WARN line naming the store, the secret and the cause; log:\n%s", inst.Log())
		}
		if strings.Contains(inst.Log(), "refused-canary-value") {
			t.Error("the log holds the secret's value")
		}
	})
}
