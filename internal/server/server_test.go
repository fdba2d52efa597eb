package server_test

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"database/sql"
	"encoding/pem"
	"io"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/credflow/credflow/internal/config"
	"github.com/credflow/credflow/internal/metadb/metadbtest"
	"github.com/credflow/credflow/internal/server"
)

func TestFirstStartCreatesKeyAndTokenOnce(t *testing.T) {
	for _, e := range metadbtest.Engines(t) {
		t.Run(e.Name, func(t *testing.T) {
			cfg := config.Defaults()
			cfg.DataDir = filepath.Join(t.TempDir(), "data")
			cfg.Database = e.DSN(t)

			var log1 bytes.Buffer
			s, err := server.New(context.Background(), cfg, &log1)
			if err != nil {
				t.Fatal(err)
			}
			s.Close()
			tok := s.InitialToken
			if !strings.HasPrefix(tok, "cft_") {
				t.Fatalf("no initial token: %q", tok)
			}
			if strings.Count(log1.String(), tok) != 1 {
				t.Errorf("first start printed the token %d times", strings.Count(log1.String(), tok))
			}
			for _, f := range []string{"master.key", server.InitialTokenFile} {
				st, err := os.Stat(filepath.Join(cfg.DataDir, f))
				if err != nil {
					t.Fatal(err)
				}
				if st.Mode().Perm() != 0o600 {
					t.Errorf("%s has mode %v, want 0600", f, st.Mode().Perm())
				}
			}
			if st, _ := os.Stat(cfg.DataDir); st.Mode().Perm() != 0o700 {
				t.Errorf("data directory mode %v, want 0700", st.Mode().Perm())
			}
			saved, _ := os.ReadFile(filepath.Join(cfg.DataDir, server.InitialTokenFile))
			if strings.TrimSpace(string(saved)) != tok {
				t.Error("token file does not hold the printed token")
			}
			key1, _ := os.ReadFile(filepath.Join(cfg.DataDir, "master.key"))

			var log2 bytes.Buffer
			s2, err := server.New(context.Background(), cfg, &log2)
			if err != nil {
				t.Fatal(err)
			}
			defer s2.Close()
			if s2.InitialToken != "" || strings.Contains(log2.String(), "cft_") {
				t.Error("second start created or printed a token")
			}
			key2, _ := os.ReadFile(filepath.Join(cfg.DataDir, "master.key"))
			if !bytes.Equal(key1, key2) {
				t.Error("second start replaced the master key")
			}
			// The first token still works against the second start.
			hs := &http.Server{Handler: s2.Handler()}
			ln, _ := net.Listen("tcp", "127.0.0.1:0")
			go hs.Serve(ln)
			defer hs.Close()
			req, _ := http.NewRequest("GET", "http://"+ln.Addr().String()+"/api/v1/stores", nil)
			req.Header.Set("Authorization", "Bearer "+tok)
			res, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			res.Body.Close()
			if res.StatusCode != 200 {
				t.Errorf("token after restart: %d", res.StatusCode)
			}
		})
	}
}

func TestSQLitePragmasOnEveryConnection(t *testing.T) {
	cfg := config.Defaults()
	cfg.DataDir = t.TempDir()
	s, err := server.New(context.Background(), cfg, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	db := s.DB().SQL()
	ctx := context.Background()
	// Hold several connections at once so the pool must open new ones.
	held := make([]*sql.Conn, 0, 4)
	for i := 0; i < 4; i++ {
		c, err := db.Conn(ctx)
		if err != nil {
			t.Fatal(err)
		}
		held = append(held, c)
	}
	for i, c := range held {
		for _, p := range []struct{ pragma, want string }{
			{"journal_mode", "wal"}, {"foreign_keys", "1"}, {"synchronous", "2"}, {"busy_timeout", "10000"},
		} {
			var got string
			if err := c.QueryRowContext(ctx, "PRAGMA "+p.pragma).Scan(&got); err != nil {
				t.Fatal(err)
			}
			if got != p.want {
				t.Errorf("connection %d: PRAGMA %s = %s, want %s", i, p.pragma, got, p.want)
			}
		}
	}
	for _, c := range held {
		c.Close()
	}
}

func TestRunServesTLSAndShutsDownGracefully(t *testing.T) {
	dir := t.TempDir()
	certFile, keyFile := writeSelfSigned(t, dir)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	cfg := config.Defaults()
	cfg.Addr = addr
	cfg.DataDir = filepath.Join(dir, "data")
	cfg.TLSCertFile, cfg.TLSKeyFile = certFile, keyFile
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	var logs lockedBuffer
	go func() { done <- server.Run(ctx, cfg, &logs) }()

	pool := x509.NewCertPool()
	pem, _ := os.ReadFile(certFile)
	pool.AppendCertsFromPEM(pem)
	client := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	var res *http.Response
	for i := 0; i < 100; i++ {
		res, err = client.Get("https://" + addr + "/healthz")
		if err == nil {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	if err != nil {
		t.Fatalf("HTTPS request: %v", err)
	}
	res.Body.Close()
	if res.StatusCode != 200 || res.TLS == nil {
		t.Fatalf("status %d, TLS %v", res.StatusCode, res.TLS != nil)
	}
	// A plain HTTP request to the TLS port is refused (net/http answers 400).
	if r2, err := http.Get("http://" + addr + "/healthz"); err == nil {
		r2.Body.Close()
		if r2.StatusCode == 200 {
			t.Error("plain HTTP served on a TLS listener")
		}
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Run returned %v", err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("Run did not return after cancel")
	}
	if !strings.Contains(logs.String(), `"msg":"stopped"`) {
		t.Errorf("no graceful stop in the log:\n%s", logs.String())
	}
}

func TestRunRejectsBadConfig(t *testing.T) {
	cases := map[string]func(*config.Config){
		"addr":     func(c *config.Config) { c.Addr = "8080" },
		"database": func(c *config.Config) { c.Database = "mysql://x" },
		"prefix":   func(c *config.Config) { c.Prefix = "1x" },
		"tls":      func(c *config.Config) { c.TLSCertFile = "cert.pem" },
	}
	for name, mutate := range cases {
		t.Run(name, func(t *testing.T) {
			cfg := config.Defaults()
			cfg.DataDir = t.TempDir()
			mutate(&cfg)
			err := server.Run(context.Background(), cfg, io.Discard)
			if err == nil || !strings.Contains(err.Error(), name) {
				t.Errorf("got %v, want an error naming %s", err, name)
			}
		})
	}
}

func writeSelfSigned(t *testing.T, dir string) (certFile, keyFile string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "credflow test"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, KeyUsage: x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kd, _ := x509.MarshalECPrivateKey(key)
	certFile, keyFile = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600)
	os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kd}), 0o600)
	return certFile, keyFile
}

type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

func TestRefusesKeyFilesOthersCanRead(t *testing.T) {
	dir := t.TempDir()
	certFile, keyFile := writeSelfSigned(t, dir)
	cases := []struct {
		name  string
		setup func(t *testing.T, cfg *config.Config)
		file  func(cfg config.Config) string
	}{
		{"master key readable by group", func(t *testing.T, cfg *config.Config) {
			os.MkdirAll(cfg.DataDir, 0o700)
			os.WriteFile(cfg.KeyFile(), []byte("x\n"), 0o600)
			os.Chmod(cfg.KeyFile(), 0o640)
		}, func(cfg config.Config) string { return cfg.KeyFile() }},
		{"master key readable by others", func(t *testing.T, cfg *config.Config) {
			os.MkdirAll(cfg.DataDir, 0o700)
			os.WriteFile(cfg.KeyFile(), []byte("x\n"), 0o600)
			os.Chmod(cfg.KeyFile(), 0o604)
		}, func(cfg config.Config) string { return cfg.KeyFile() }},
		{"TLS key readable by others", func(t *testing.T, cfg *config.Config) {
			cfg.TLSCertFile, cfg.TLSKeyFile = certFile, keyFile
			os.Chmod(keyFile, 0o644)
		}, func(cfg config.Config) string { return cfg.TLSKeyFile }},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			cfg := config.Defaults()
			cfg.DataDir = filepath.Join(t.TempDir(), "data")
			c.setup(t, &cfg)
			_, err := server.New(context.Background(), cfg, io.Discard)
			want := "chmod 600 " + c.file(cfg)
			if err == nil || !strings.Contains(err.Error(), want) {
				t.Fatalf("New() = %v, want a refusal naming %q", err, want)
			}
			if _, err := os.Stat(filepath.Join(cfg.DataDir, server.InitialTokenFile)); err == nil {
				t.Error("a first admin token was created although the server refused to start")
			}
		})
	}
}

func TestRunListensBeforeCreatingKeyAndToken(t *testing.T) {
	taken, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer taken.Close()
	cfg := config.Defaults()
	cfg.Addr = "http://" + taken.Addr().String()
	cfg.DataDir = filepath.Join(t.TempDir(), "data")
	err = server.Run(context.Background(), cfg, io.Discard)
	if err == nil || !strings.Contains(err.Error(), "listen on "+taken.Addr().String()) {
		t.Fatalf("Run() = %v, want a listen error", err)
	}
	for _, f := range []string{"master.key", server.InitialTokenFile} {
		if _, err := os.Stat(filepath.Join(cfg.DataDir, f)); err == nil {
			t.Errorf("%s was created by a server that could not listen", f)
		}
	}
}
