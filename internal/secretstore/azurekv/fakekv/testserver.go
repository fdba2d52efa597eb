package fakekv

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"
)

// TestServer is an emulator running on loopback for one test: the vault
// over TLS with a generated certificate, the managed-identity endpoint
// over plain HTTP (App Service's own endpoint is plain HTTP on the local
// host, and the Azure SDK accepts that).
type TestServer struct {
	*Server
	// URL is the vault's address, https://127.0.0.1:<port>/.
	URL string
	// Addr is the vault listener's host:port.
	Addr string
	// IdentityEndpoint is the token endpoint's URL, for IDENTITY_ENDPOINT.
	IdentityEndpoint string
	// CertPEM is the vault's certificate, its own trust anchor.
	CertPEM []byte
	// Roots trusts CertPEM.
	Roots *x509.CertPool
}

// Start runs an emulator until the test ends.
func Start(t testing.TB, opts Options) *TestServer {
	t.Helper()
	cert, roots, certPEM, err := newCertificate()
	if err != nil {
		t.Fatal(err)
	}
	s := New(opts)
	vault := httptest.NewUnstartedServer(s)
	vault.TLS = &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
	// Tests that check untrusted certificates make the server log failed
	// handshakes; they are expected.
	vault.Config.ErrorLog = log.New(io.Discard, "", 0)
	vault.StartTLS()
	t.Cleanup(vault.Close)
	identity := httptest.NewServer(s.IdentityHandler())
	t.Cleanup(identity.Close)
	return &TestServer{
		Server:           s,
		URL:              vault.URL + "/",
		Addr:             vault.Listener.Addr().String(),
		IdentityEndpoint: identity.URL + "/msi/token",
		CertPEM:          certPEM,
		Roots:            roots,
	}
}

// Client returns an HTTP client that trusts the vault's certificate and
// reaches it by URL. Use it with a vault URL of https://127.0.0.1:<port>/,
// which needs the SDK's challenge-resource check turned off.
func (ts *TestServer) Client() *http.Client {
	return &http.Client{Transport: &http.Transport{
		TLSClientConfig:   &tls.Config{RootCAs: ts.Roots, MinVersion: tls.VersionTLS12},
		ForceAttemptHTTP2: true,
	}}
}

// DialClient returns an HTTP client that connects every request, whatever
// its host, to the emulator, and checks the emulator's certificate against
// the host name asked for (the certificate covers every *.vault.azure.net,
// .cn and .usgovcloudapi.net name). With it a client can use a real vault
// URL such as https://myvault.vault.azure.net/ and keep the SDK's
// challenge-resource check on.
func (ts *TestServer) DialClient() *http.Client {
	d := &net.Dialer{Timeout: 5 * time.Second}
	return &http.Client{Transport: &http.Transport{
		DialContext: func(ctx context.Context, network, _ string) (net.Conn, error) {
			return d.DialContext(ctx, network, ts.Addr)
		},
		TLSClientConfig:   &tls.Config{RootCAs: ts.Roots, MinVersion: tls.VersionTLS12},
		ForceAttemptHTTP2: true,
	}}
}
