package azurekv_test

import (
	"bytes"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/credflow/credflow/internal/secretstore"
	"github.com/credflow/credflow/internal/secretstore/azurekv"
	"github.com/credflow/credflow/internal/secretstore/azurekv/fakekv"
)

// connectProxy is an HTTPS proxy (HTTP CONNECT) that sends every tunnel to
// target, and records the hosts asked for.
type connectProxy struct {
	target string
	mu     sync.Mutex
	hosts  []string
}

func (p *connectProxy) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodConnect {
		http.Error(w, "CONNECT only", http.StatusMethodNotAllowed)
		return
	}
	p.mu.Lock()
	p.hosts = append(p.hosts, r.Host)
	p.mu.Unlock()
	dst, err := net.Dial("tcp", p.target)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadGateway)
		return
	}
	conn, _, err := w.(http.Hijacker).Hijack()
	if err != nil {
		dst.Close()
		return
	}
	_, _ = conn.Write([]byte("HTTP/1.1 200 Connection established\r\n\r\n"))
	go func() {
		_, _ = io.Copy(dst, conn)
		dst.Close()
	}()
	_, _ = io.Copy(conn, dst)
	conn.Close()
}

// TestProductionTransport runs a store built without a Transport (as the
// server builds it) in a fresh process, whose environment names an HTTPS
// proxy and a CA file: Go reads both once per process. The vault URL is the
// real host name; only the proxy knows where the emulator is.
func TestProductionTransport(t *testing.T) {
	if os.Getenv("AZUREKV_TRANSPORT_CHILD") != "" {
		productionTransportChild(t)
		return
	}
	vault := fakekv.Start(t, fakekv.Options{VaultName: "myvault"})
	version := vault.Set("db-password", "through-the-proxy")
	proxy := &connectProxy{target: vault.Addr}
	ps := httptest.NewServer(proxy)
	defer ps.Close()

	dir := t.TempDir()
	certFile := filepath.Join(dir, "kv.pem")
	if err := os.WriteFile(certFile, vault.CertPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	otherFile := filepath.Join(dir, "other.pem")
	other, _, err := fakekv.SelfSignedCert("example.com")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(otherFile, other, 0o600); err != nil {
		t.Fatal(err)
	}

	run := func(caFile, expect string) string {
		t.Helper()
		cmd := exec.Command(os.Args[0], "-test.run=^TestProductionTransport$", "-test.v")
		var env []string
		for _, kv := range os.Environ() {
			k, _, _ := strings.Cut(kv, "=")
			switch strings.ToUpper(k) {
			case "HTTPS_PROXY", "HTTP_PROXY", "NO_PROXY", "SSL_CERT_FILE", "SSL_CERT_DIR":
				continue
			}
			env = append(env, kv)
		}
		cmd.Env = append(env, "AZUREKV_TRANSPORT_CHILD=1", "HTTPS_PROXY="+ps.URL, "SSL_CERT_FILE="+caFile,
			"SSL_CERT_DIR="+dir+"/none", "KV_TENANT="+vault.TenantID(), "KV_EXPECT="+expect)
		var out bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &out
		if err := cmd.Run(); err != nil {
			t.Fatalf("child process: %v\n%s", err, out.String())
		}
		return out.String()
	}

	out := run(certFile, version)
	if !strings.Contains(out, "PASS") {
		t.Fatalf("child output:\n%s", out)
	}
	proxy.mu.Lock()
	hosts := append([]string(nil), proxy.hosts...)
	proxy.mu.Unlock()
	if len(hosts) == 0 || hosts[0] != "myvault.vault.azure.net:443" {
		t.Fatalf("the proxy saw %q, want CONNECT myvault.vault.azure.net:443", hosts)
	}

	// With a CA file that does not hold the emulator's certificate, the
	// same store refuses the connection.
	run(otherFile, "untrusted")
}

func productionTransportChild(t *testing.T) {
	s := azurekv.Settings{TenantID: os.Getenv("KV_TENANT"), SubscriptionID: fakekv.DefaultSubscriptionID,
		ResourceGroup: fakekv.DefaultResourceGroup, VaultName: "myvault", Auth: azurekv.Auth{Kind: azurekv.AuthManagedIdentity}}
	store, err := azurekv.New(s, azurekv.Options{Credential: fakekv.NewCredential(), Retry: fastRetry})
	if err != nil {
		t.Fatal(err)
	}
	sec, err := store.Get(t.Context(), secretstore.Ref{Name: "db-password"})
	if os.Getenv("KV_EXPECT") == "untrusted" {
		if err == nil {
			t.Fatal("read through an untrusted certificate")
		}
		r := store.Check(t.Context(), "")
		if st := step(t, r, azurekv.StepConnect); st.OK || !strings.Contains(st.Detail, "not trusted") {
			t.Fatalf("connect step = %+v", st)
		}
		return
	}
	if err != nil {
		t.Fatalf("Get: %v", err)
	}
	if sec.Version != os.Getenv("KV_EXPECT") || sec.Value.Reveal() != "through-the-proxy" {
		t.Fatalf("Get = version %s", sec.Version)
	}
}
