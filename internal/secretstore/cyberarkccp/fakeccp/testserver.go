package fakeccp

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"io"
	"log"
	"math/big"
	"net"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// TestServer is a fake CCP on loopback for one test, over TLS, asking
// every client for a certificate. Its files are PEM, in a temporary
// directory: the CA of its server certificate, and two client key pairs,
// one issued by the CA it trusts for clients and one it does not trust.
type TestServer struct {
	*Server
	// URL is https://127.0.0.1:<port>.
	URL string
	// CAFile is the CA bundle the server certificate chains to.
	CAFile string
	// ClientCertFile and ClientKeyFile are a trusted client key pair.
	ClientCertFile, ClientKeyFile string
	// UntrustedCertFile and UntrustedKeyFile are a client key pair from a
	// CA the server does not trust.
	UntrustedCertFile, UntrustedKeyFile string
}

// Start runs a fake CCP until the test ends.
func Start(t testing.TB, opts Options) *TestServer {
	t.Helper()
	dir := t.TempDir()
	serverCA := newCA(t, "fake CCP server CA")
	clientCA := newCA(t, "fake CCP client CA")
	otherCA := newCA(t, "untrusted client CA")
	serverCert := serverCA.issue(t, "127.0.0.1", x509.ExtKeyUsageServerAuth)
	ts := &TestServer{
		CAFile:            write(t, dir, "ca.pem", serverCA.certPEM),
		ClientCertFile:    filepath.Join(dir, "client.pem"),
		ClientKeyFile:     filepath.Join(dir, "client-key.pem"),
		UntrustedCertFile: filepath.Join(dir, "untrusted.pem"),
		UntrustedKeyFile:  filepath.Join(dir, "untrusted-key.pem"),
	}
	c := clientCA.issue(t, "credflow", x509.ExtKeyUsageClientAuth)
	write(t, dir, "client.pem", c.certPEM)
	write(t, dir, "client-key.pem", c.keyPEM)
	u := otherCA.issue(t, "credflow", x509.ExtKeyUsageClientAuth)
	write(t, dir, "untrusted.pem", u.certPEM)
	write(t, dir, "untrusted-key.pem", u.keyPEM)

	pool := x509.NewCertPool()
	pool.AddCert(clientCA.cert)
	ts.Server = New(opts, pool)
	pair, err := tls.X509KeyPair(serverCert.certPEM, serverCert.keyPEM)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewUnstartedServer(ts.Server)
	// Like IIS with "require client certificates": the TLS layer asks for
	// one and the web server, not the handshake, refuses a bad one.
	srv.TLS = &tls.Config{Certificates: []tls.Certificate{pair}, ClientAuth: tls.RequestClientCert, MinVersion: tls.VersionTLS12}
	srv.Config.ErrorLog = log.New(io.Discard, "", 0)
	srv.StartTLS()
	t.Cleanup(srv.Close)
	ts.URL = srv.URL
	return ts
}

// WriteFile writes data to name in a new temporary directory and returns
// its path.
func write(t testing.TB, dir, name string, data []byte) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, data, 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

type ca struct {
	cert    *x509.Certificate
	key     *ecdsa.PrivateKey
	certPEM []byte
}

type issued struct{ certPEM, keyPEM []byte }

func serial(t testing.TB) *big.Int {
	n, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 100))
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func newCA(t testing.TB, name string) ca {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: serial(t), Subject: pkix.Name{CommonName: name},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature, BasicConstraintsValid: true, IsCA: true}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	return ca{cert: cert, key: key, certPEM: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})}
}

func (c ca) issue(t testing.TB, name string, usage x509.ExtKeyUsage) issued {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: serial(t), Subject: pkix.Name{CommonName: name},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{usage}}
	if ip := net.ParseIP(name); ip != nil {
		tmpl.IPAddresses = []net.IP{ip}
		tmpl.DNSNames = []string{"localhost"}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, c.cert, &key.PublicKey, c.key)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	return issued{certPEM: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		keyPEM: pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER})}
}
