package fakevault

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"
)

// TestServer is a fake running on loopback over TLS for one test.
type TestServer struct {
	*Server
	// URL is the server's address, https://127.0.0.1:<port>.
	URL string
	// CAFile is a PEM file holding the server's certificate, for caFile.
	CAFile string
	roots  *x509.CertPool
}

// Start runs a fake until the test ends.
func Start(t testing.TB, opts Options) *TestServer {
	t.Helper()
	s := New(opts)
	srv := httptest.NewUnstartedServer(s)
	// Tests that check untrusted certificates make the server log failed
	// handshakes; they are expected.
	srv.Config.ErrorLog = log.New(io.Discard, "", 0)
	srv.StartTLS()
	t.Cleanup(srv.Close)
	cert := srv.Certificate()
	file := filepath.Join(t.TempDir(), "vault-ca.pem")
	if err := os.WriteFile(file, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: cert.Raw}), 0o600); err != nil {
		t.Fatal(err)
	}
	roots := x509.NewCertPool()
	roots.AddCert(cert)
	return &TestServer{Server: s, URL: srv.URL, CAFile: file, roots: roots}
}

// Client returns an HTTP client that trusts the server's certificate.
func (ts *TestServer) Client() *http.Client {
	return &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: ts.roots, MinVersion: tls.VersionTLS12}}}
}
