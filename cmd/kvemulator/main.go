// Command kvemulator runs a local Azure Key Vault emulator: the secrets
// data plane over TLS (the 401 challenge, get, list versions, set,
// update) and an App Service–style managed-identity token endpoint, so
// that credflow, or any program using the Azure SDK, can be tried without
// an Azure subscription. It keeps secrets in memory, seeded from a JSON
// file, and is not for production: it accepts any bearer token.
//
// Usage:
//
//	kvemulator [-listen 127.0.0.1:8443] [-identity-listen 127.0.0.1:8444]
//	           [-seed secrets.json] [-tenant GUID] [-cert FILE -key FILE]
//
// On first start it writes a self-signed certificate to -cert (and its key
// to -key) and reuses them afterwards; trust the certificate with
// SSL_CERT_FILE. It prints the environment and store settings credflow
// needs. See docs/stores/azure-keyvault.md.
package main

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"log"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/credflow/credflow/internal/secretstore/azurekv/fakekv"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	os.Exit(run(ctx, os.Args[1:], os.Stdout, os.Stderr))
}

// options are the command line.
type options struct {
	listen         string
	identityListen string
	seed           string
	tenant         string
	subscription   string
	resourceGroup  string
	vaultName      string
	certFile       string
	keyFile        string
	hosts          string
	identityHeader string
	latency        time.Duration
	quiet          bool
}

func parseFlags(args []string, stderr io.Writer) (options, error) {
	var o options
	fs := flag.NewFlagSet("kvemulator", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&o.listen, "listen", "127.0.0.1:8443", "`address` the vault listens on (TLS)")
	fs.StringVar(&o.identityListen, "identity-listen", "127.0.0.1:8444", "`address` of the managed-identity token endpoint (plain HTTP, as App Service's); empty: none")
	fs.StringVar(&o.seed, "seed", "", "JSON `file` of secrets to start with")
	fs.StringVar(&o.tenant, "tenant", fakekv.DefaultTenantID, "the vault's tenant `GUID`, named in its 401 challenge")
	fs.StringVar(&o.subscription, "subscription", fakekv.DefaultSubscriptionID, "subscription `GUID` shown in settings and messages")
	fs.StringVar(&o.resourceGroup, "resource-group", fakekv.DefaultResourceGroup, "resource group `name` shown in settings and messages")
	fs.StringVar(&o.vaultName, "vault-name", fakekv.DefaultVaultName, "vault `name` shown in settings and messages")
	fs.StringVar(&o.certFile, "cert", "kvemulator-cert.pem", "TLS certificate `file` (PEM); generated with -key when neither exists")
	fs.StringVar(&o.keyFile, "key", "kvemulator-key.pem", "TLS private key `file` (PEM)")
	fs.StringVar(&o.hosts, "hosts", "", "extra comma-separated host `names` for a generated certificate")
	fs.StringVar(&o.identityHeader, "identity-header", "", "`secret` the token endpoint expects in X-IDENTITY-HEADER (default: random)")
	fs.DurationVar(&o.latency, "latency", 0, "`delay` added to every vault request")
	fs.BoolVar(&o.quiet, "quiet", false, "do not log requests")
	fs.Usage = func() {
		fmt.Fprintf(stderr, "Usage: kvemulator [flags]\n\nA local Azure Key Vault (secrets) emulator for trying credflow. Not for production.\n\n")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return options{}, err
	}
	if fs.NArg() > 0 {
		return options{}, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	if o.listen == "" {
		return options{}, errors.New("-listen is required")
	}
	if o.latency < 0 {
		return options{}, errors.New("-latency must not be negative")
	}
	return o, nil
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	o, err := parseFlags(args, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	if err != nil {
		fmt.Fprintln(stderr, "kvemulator:", err)
		return 2
	}
	em, err := start(o, stderr)
	if err != nil {
		fmt.Fprintln(stderr, "kvemulator:", err)
		return 1
	}
	em.describe(stdout)
	if err := em.serve(ctx); err != nil {
		fmt.Fprintln(stderr, "kvemulator:", err)
		return 1
	}
	return 0
}

// emulator is a started emulator: listeners open, not yet serving.
type emulator struct {
	opts     options
	server   *fakekv.Server
	vault    net.Listener
	identity net.Listener // nil: none
	tls      *tls.Config
	certPath string
	log      *log.Logger
}

func start(o options, stderr io.Writer) (*emulator, error) {
	cert, certPath, err := loadOrCreateCert(o)
	if err != nil {
		return nil, err
	}
	s := fakekv.New(fakekv.Options{TenantID: o.tenant, SubscriptionID: o.subscription, ResourceGroup: o.resourceGroup,
		VaultName: o.vaultName, IdentityHeader: o.identityHeader})
	if o.seed != "" {
		if err := s.LoadSeedFile(o.seed); err != nil {
			return nil, err
		}
	}
	s.SetLatency(o.latency)
	em := &emulator{opts: o, server: s, certPath: certPath, log: log.New(stderr, "", log.LstdFlags),
		tls: &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}}
	if o.quiet {
		em.log.SetOutput(io.Discard)
	}
	if em.vault, err = net.Listen("tcp", o.listen); err != nil {
		return nil, err
	}
	if o.identityListen != "" {
		if em.identity, err = net.Listen("tcp", o.identityListen); err != nil {
			em.vault.Close()
			return nil, err
		}
	}
	return em, nil
}

// loadOrCreateCert serves the -cert/-key pair, creating it when neither
// file exists.
func loadOrCreateCert(o options) (tls.Certificate, string, error) {
	_, certErr := os.Stat(o.certFile)
	_, keyErr := os.Stat(o.keyFile)
	switch {
	case errors.Is(certErr, fs.ErrNotExist) && errors.Is(keyErr, fs.ErrNotExist):
		hosts := fakekv.DefaultHosts()
		for _, h := range strings.Split(o.hosts, ",") {
			if h = strings.TrimSpace(h); h != "" {
				hosts = append(hosts, h)
			}
		}
		if h, _, err := net.SplitHostPort(o.listen); err == nil && h != "" && h != "0.0.0.0" && h != "::" {
			hosts = append(hosts, h)
		}
		certPEM, keyPEM, err := fakekv.SelfSignedCert(hosts...)
		if err != nil {
			return tls.Certificate{}, "", err
		}
		if err := os.WriteFile(o.keyFile, keyPEM, 0o600); err != nil {
			return tls.Certificate{}, "", fmt.Errorf("write the key: %w", err)
		}
		if err := os.WriteFile(o.certFile, certPEM, 0o644); err != nil {
			return tls.Certificate{}, "", fmt.Errorf("write the certificate: %w", err)
		}
	case certErr != nil || keyErr != nil:
		return tls.Certificate{}, "", fmt.Errorf("-cert %s and -key %s must both exist, or neither (to generate them): %w", o.certFile, o.keyFile, errors.Join(certErr, keyErr))
	}
	cert, err := tls.LoadX509KeyPair(o.certFile, o.keyFile)
	if err != nil {
		return tls.Certificate{}, "", fmt.Errorf("load the certificate: %w", err)
	}
	abs, err := filepath.Abs(o.certFile)
	if err != nil {
		abs = o.certFile
	}
	return cert, abs, nil
}

func (em *emulator) vaultURL() string { return "https://" + em.vault.Addr().String() + "/" }

func (em *emulator) identityURL() string {
	if em.identity == nil {
		return ""
	}
	return "http://" + em.identity.Addr().String() + "/msi/token"
}

// describe prints what a user needs to point credflow at the emulator.
func (em *emulator) describe(w io.Writer) {
	o := em.opts
	fmt.Fprintf(w, "Key Vault emulator (not for production)\n")
	fmt.Fprintf(w, "  vault:       %s  (tenant %s, %d secrets)\n", em.vaultURL(), o.tenant, len(em.server.Names()))
	fmt.Fprintf(w, "  certificate: %s\n", em.certPath)
	if em.identity != nil {
		fmt.Fprintf(w, "  identity:    %s\n", em.identityURL())
	}
	fmt.Fprintf(w, "\nIn credflow's environment:\n")
	fmt.Fprintf(w, "  export SSL_CERT_FILE=%s\n", em.certPath)
	if em.identity != nil {
		fmt.Fprintf(w, "  export IDENTITY_ENDPOINT=%s\n", em.identityURL())
		fmt.Fprintf(w, "  export IDENTITY_HEADER=%s\n", em.server.IdentityHeader())
	}
	settings := map[string]any{
		"tenantId":             o.tenant,
		"subscriptionId":       o.subscription,
		"resourceGroup":        o.resourceGroup,
		"vaultName":            o.vaultName,
		"vaultUrl":             em.vaultURL(),
		"allowCustomVaultHost": true,
		"auth":                 map[string]string{"kind": "managed-identity"},
	}
	b, _ := json.MarshalIndent(map[string]any{"name": "emulator", "kind": "azure-keyvault", "settings": settings}, "  ", "  ")
	fmt.Fprintf(w, "\nRegister the store (POST /api/v1/stores):\n  %s\n", b)
}

// serve serves until ctx ends, then shuts down.
func (em *emulator) serve(ctx context.Context) error {
	vault := &http.Server{Handler: em.logged("vault", em.server), TLSConfig: em.tls, ReadHeaderTimeout: 10 * time.Second,
		ErrorLog: log.New(io.Discard, "", 0)}
	servers := []*http.Server{vault}
	errc := make(chan error, 2)
	go func() { errc <- vault.ServeTLS(em.vault, "", "") }()
	if em.identity != nil {
		id := &http.Server{Handler: em.logged("identity", em.server.IdentityHandler()), ReadHeaderTimeout: 10 * time.Second}
		servers = append(servers, id)
		go func() { errc <- id.Serve(em.identity) }()
	}
	var err error
	select {
	case <-ctx.Done():
	case err = <-errc:
	}
	shut, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	for _, s := range servers {
		_ = s.Shutdown(shut)
	}
	if errors.Is(err, http.ErrServerClosed) {
		err = nil
	}
	return err
}

// logged logs each request's method, path and status: never a header, a
// body or a query (which carry tokens and values).
func (em *emulator) logged(name string, h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rec := &statusRecorder{ResponseWriter: w, status: http.StatusOK}
		start := time.Now()
		h.ServeHTTP(rec, r)
		em.log.Printf("%s %s %s %d %s", name, r.Method, r.URL.Path, rec.status, time.Since(start).Round(time.Millisecond))
	})
}

type statusRecorder struct {
	http.ResponseWriter
	status int
}

func (r *statusRecorder) WriteHeader(code int) {
	r.status = code
	r.ResponseWriter.WriteHeader(code)
}

// Unwrap lets http.ResponseController reach the connection (the identity
// endpoint hijacks it when switched down).
func (r *statusRecorder) Unwrap() http.ResponseWriter { return r.ResponseWriter }
