package main

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"

	"github.com/credflow/credflow/internal/secretstore"
	"github.com/credflow/credflow/internal/secretstore/azurekv"
)

func TestParseFlags(t *testing.T) {
	var stderr bytes.Buffer
	o, err := parseFlags(nil, &stderr)
	if err != nil {
		t.Fatal(err)
	}
	if o.listen != "127.0.0.1:8443" || o.identityListen != "127.0.0.1:8444" || o.certFile != "kvemulator-cert.pem" || o.tenant == "" {
		t.Errorf("defaults = %+v", o)
	}
	o, err = parseFlags([]string{"-listen", ":9443", "-identity-listen", "", "-latency", "250ms", "-seed", "s.json"}, &stderr)
	if err != nil || o.listen != ":9443" || o.identityListen != "" || o.latency != 250*time.Millisecond || o.seed != "s.json" {
		t.Errorf("parsed %+v, %v", o, err)
	}
	for _, bad := range [][]string{{"-latency", "-1s"}, {"-nope"}, {"extra"}, {"-listen", ""}} {
		if _, err := parseFlags(bad, &stderr); err == nil {
			t.Errorf("parseFlags(%q) accepted", bad)
		}
	}
	if code := run(t.Context(), []string{"-h"}, &stderr, &stderr); code != 0 || !strings.Contains(stderr.String(), "Not for production") {
		t.Errorf("-h: exit %d, usage %q", code, stderr.String())
	}
	if code := run(t.Context(), []string{"-bogus"}, &stderr, &stderr); code != 2 {
		t.Errorf("bad flag: exit %d", code)
	}
}

// TestEmulator starts the command's emulator from a seed file and reads a
// secret through credflow's store with the real managed-identity
// credential, as the printed instructions say.
func TestEmulator(t *testing.T) {
	dir := t.TempDir()
	seed := filepath.Join(dir, "seed.json")
	if err := os.WriteFile(seed, []byte(`{"secrets": [{"name": "sql-password", "value": "from-the-seed"}]}`), 0o600); err != nil {
		t.Fatal(err)
	}
	o, err := parseFlags([]string{"-listen", "127.0.0.1:0", "-identity-listen", "127.0.0.1:0", "-seed", seed,
		"-cert", filepath.Join(dir, "c.pem"), "-key", filepath.Join(dir, "k.pem"), "-quiet"}, os.Stderr)
	if err != nil {
		t.Fatal(err)
	}
	em, err := start(o, os.Stderr)
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	em.describe(&out)
	for _, want := range []string{"SSL_CERT_FILE=" + filepath.Join(dir, "c.pem"), "IDENTITY_ENDPOINT=" + em.identityURL(), `"allowCustomVaultHost": true`, em.vaultURL()} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("instructions lack %q:\n%s", want, out.String())
		}
	}
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- em.serve(ctx) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("serve: %v", err)
		}
	}()

	certPEM, err := os.ReadFile(filepath.Join(dir, "c.pem"))
	if err != nil {
		t.Fatal(err)
	}
	roots := x509.NewCertPool()
	roots.AppendCertsFromPEM(certPEM)
	t.Setenv("IDENTITY_ENDPOINT", em.identityURL())
	t.Setenv("IDENTITY_HEADER", em.server.IdentityHeader())
	store, err := azurekv.New(azurekv.Settings{TenantID: o.tenant, SubscriptionID: o.subscription, ResourceGroup: o.resourceGroup,
		VaultName: o.vaultName, VaultURLOverride: em.vaultURL(), AllowCustomVaultHost: true,
		Auth: azurekv.Auth{Kind: azurekv.AuthManagedIdentity, ClientID: "0f0e0d0c-0b0a-4909-8807-060504030201"}},
		azurekv.Options{Transport: &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: roots}}},
			Retry: &policy.RetryOptions{MaxRetries: 1, RetryDelay: 10 * time.Millisecond}})
	if err != nil {
		t.Fatal(err)
	}
	sec, err := store.Get(t.Context(), secretstore.Ref{Name: "sql-password"})
	if err != nil || sec.Value.Reveal() != "from-the-seed" {
		t.Fatalf("Get: %v", err)
	}
	if r := store.Check(t.Context(), "sql-password"); !r.OK {
		t.Errorf("check: %+v", r.Steps)
	}

	// A second start reuses the certificate.
	o2 := o
	o2.listen, o2.identityListen = "127.0.0.1:0", ""
	em2, err := start(o2, os.Stderr)
	if err != nil {
		t.Fatal(err)
	}
	defer em2.vault.Close()
	again, _ := os.ReadFile(filepath.Join(dir, "c.pem"))
	if !bytes.Equal(again, certPEM) {
		t.Error("the certificate was regenerated")
	}
}

func TestCertPairMustBeComplete(t *testing.T) {
	dir := t.TempDir()
	cert := filepath.Join(dir, "c.pem")
	if err := os.WriteFile(cert, []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	o, _ := parseFlags([]string{"-listen", "127.0.0.1:0", "-cert", cert, "-key", filepath.Join(dir, "k.pem")}, os.Stderr)
	if _, err := start(o, os.Stderr); err == nil || !strings.Contains(err.Error(), "both exist") {
		t.Fatalf("start with half a pair: %v", err)
	}
}
