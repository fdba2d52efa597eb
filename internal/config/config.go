// Package config holds the server's typed configuration: its defaults, the
// environment variables that override them, and validation without side
// effects. It does not parse flags (the CLI does) and never holds a secret
// itself: secrets are named by file path.
package config

import (
	"fmt"
	"net"
	"net/url"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// Config is everything `credflow serve` needs.
type Config struct {
	// Addr is the listen address: host:port, or a URL (http://host:port,
	// https://host:port) as the CLI takes it in the same CREDFLOW_ADDR.
	Addr string
	// DataDir holds the SQLite database, the master key and the initial
	// admin token.
	DataDir string
	// Database is a postgres:// URL, or "" for SQLite in DataDir.
	Database string
	// MasterKeyFile is the built-in store's master key; "" means
	// DataDir/master.key.
	MasterKeyFile string
	// Prefix starts generated environment-variable schema names.
	Prefix string
	// TLSCertFile and TLSKeyFile, when both set, make the server speak HTTPS.
	TLSCertFile string
	TLSKeyFile  string

	// OIDCIssuer, when set, makes the server accept JWTs from that OpenID
	// Connect issuer as bearer tokens, for OIDCAudience.
	OIDCIssuer      string
	OIDCAudience    string
	OIDCUserClaim   string // default preferred_username (then email, then sub)
	OIDCGroupsClaim string // default groups
	// OIDCAutoCreate creates a verified user unknown to credflow as a maker.
	OIDCAutoCreate bool
	// OIDCRedirectURL is the web interface's sign-in callback as the
	// issuer knows it (https://credflow.example.com/signin/oidc/callback);
	// "" derives it from each request's host. The client id is
	// OIDCAudience.
	OIDCRedirectURL string
	// OIDCClientSecretFile holds the client secret of a confidential
	// client; "" signs in as a public client (PKCE only).
	OIDCClientSecretFile string

	// PprofAddr, when set, serves Go's profiling endpoints (/debug/pprof/)
	// on that address, for diagnosing performance. Keep it on loopback.
	PprofAddr string

	// AuditCheckpointFile is the append-only file that anchors the audit
	// chain outside the database; "" means DataDir/audit-checkpoints.
	AuditCheckpointFile string
	// AuditCheckpointRecords and AuditCheckpointInterval: a checkpoint is
	// written after that many records, or that long after the last one.
	AuditCheckpointRecords  int64
	AuditCheckpointInterval time.Duration

	// MaxFailedSignIns is how many failed sign-ins a client address may
	// make in a minute before its further failing requests get 429.
	MaxFailedSignIns int

	// EventGridKeyFile holds the Event Grid endpoint's keys, one per line
	// (several, so that a key can be rotated). The keys may also come from
	// the CREDFLOW_EVENTGRID_KEY variable, which the server reads itself.
	EventGridKeyFile string
	// EventGridEntraIssuer and EventGridEntraAudience, when set, make the
	// Event Grid endpoint also accept a Microsoft Entra-secured delivery:
	// a bearer JWT from that issuer for that audience (the application id
	// or URI the event subscription names).
	EventGridEntraIssuer   string
	EventGridEntraAudience string

	// envErr is a CREDFLOW_* variable that did not parse; Validate reports it.
	envErr error
}

// Environment variables that override the defaults (flags override them).
const (
	EnvAddr          = "CREDFLOW_ADDR"
	EnvDataDir       = "CREDFLOW_DATA_DIR"
	EnvDatabase      = "CREDFLOW_DATABASE"
	EnvMasterKeyFile = "CREDFLOW_MASTER_KEY_FILE"
	EnvPrefix        = "CREDFLOW_PREFIX"
	EnvTLSCertFile   = "CREDFLOW_TLS_CERT_FILE"
	EnvTLSKeyFile    = "CREDFLOW_TLS_KEY_FILE"
	EnvOIDCIssuer    = "CREDFLOW_OIDC_ISSUER"
	EnvOIDCAudience  = "CREDFLOW_OIDC_AUDIENCE"
	EnvOIDCUser      = "CREDFLOW_OIDC_USER_CLAIM"
	EnvOIDCGroups    = "CREDFLOW_OIDC_GROUPS_CLAIM"
	EnvOIDCAuto      = "CREDFLOW_OIDC_AUTO_CREATE"
	EnvOIDCRedirect  = "CREDFLOW_OIDC_REDIRECT_URL"
	EnvOIDCSecret    = "CREDFLOW_OIDC_CLIENT_SECRET_FILE"
	EnvPprofAddr     = "CREDFLOW_PPROF_ADDR"

	EnvAuditCheckpointFile     = "CREDFLOW_AUDIT_CHECKPOINT_FILE"
	EnvAuditCheckpointRecords  = "CREDFLOW_AUDIT_CHECKPOINT_RECORDS"
	EnvAuditCheckpointInterval = "CREDFLOW_AUDIT_CHECKPOINT_INTERVAL"
	EnvMaxFailedSignIns        = "CREDFLOW_MAX_FAILED_SIGNINS"
	EnvEventGridKeyFile        = "CREDFLOW_EVENTGRID_KEY_FILE"
	EnvEventGridEntraIssuer    = "CREDFLOW_EVENTGRID_ENTRA_ISSUER"
	EnvEventGridEntraAudience  = "CREDFLOW_EVENTGRID_ENTRA_AUDIENCE"
	// EnvEventGridKey holds Event Grid endpoint keys themselves, one per
	// line; it is read by the server, never kept in a Config.
	EnvEventGridKey = "CREDFLOW_EVENTGRID_KEY"
)

// Defaults of the audit checkpoints and the sign-in limit.
const (
	DefaultAuditCheckpointRecords  = 1000
	DefaultAuditCheckpointInterval = time.Minute
	DefaultMaxFailedSignIns        = 20
)

// Defaults returns the embedded defaults: loopback, ./credflow-data, SQLite.
func Defaults() Config {
	return Config{
		Addr:           "127.0.0.1:8080",
		DataDir:        "credflow-data",
		Prefix:         "cf",
		OIDCAutoCreate: true,

		AuditCheckpointRecords:  DefaultAuditCheckpointRecords,
		AuditCheckpointInterval: DefaultAuditCheckpointInterval,
		MaxFailedSignIns:        DefaultMaxFailedSignIns,
	}
}

// FromEnv returns the defaults overridden by the CREDFLOW_* variables that
// getenv reports as set.
func FromEnv(getenv func(string) string) Config {
	c := Defaults()
	for _, o := range []struct {
		env string
		dst *string
	}{
		{EnvAddr, &c.Addr},
		{EnvDataDir, &c.DataDir},
		{EnvDatabase, &c.Database},
		{EnvMasterKeyFile, &c.MasterKeyFile},
		{EnvPrefix, &c.Prefix},
		{EnvTLSCertFile, &c.TLSCertFile},
		{EnvTLSKeyFile, &c.TLSKeyFile},
		{EnvOIDCIssuer, &c.OIDCIssuer},
		{EnvOIDCAudience, &c.OIDCAudience},
		{EnvOIDCUser, &c.OIDCUserClaim},
		{EnvOIDCGroups, &c.OIDCGroupsClaim},
		{EnvOIDCRedirect, &c.OIDCRedirectURL},
		{EnvOIDCSecret, &c.OIDCClientSecretFile},
		{EnvPprofAddr, &c.PprofAddr},
		{EnvAuditCheckpointFile, &c.AuditCheckpointFile},
		{EnvEventGridKeyFile, &c.EventGridKeyFile},
		{EnvEventGridEntraIssuer, &c.EventGridEntraIssuer},
		{EnvEventGridEntraAudience, &c.EventGridEntraAudience},
	} {
		if v := getenv(o.env); v != "" {
			*o.dst = v
		}
	}
	if v := getenv(EnvOIDCAuto); v != "" {
		c.OIDCAutoCreate = v == "true" || v == "1"
	}
	if v := getenv(EnvAuditCheckpointRecords); v != "" {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			c.envErr = fmt.Errorf("%s %q: want a whole number", EnvAuditCheckpointRecords, v)
		}
		c.AuditCheckpointRecords = n
	}
	if v := getenv(EnvAuditCheckpointInterval); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil {
			c.envErr = fmt.Errorf("%s %q: want a duration such as 60s", EnvAuditCheckpointInterval, v)
		}
		c.AuditCheckpointInterval = d
	}
	if v := getenv(EnvMaxFailedSignIns); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil {
			c.envErr = fmt.Errorf("%s %q: want a whole number", EnvMaxFailedSignIns, v)
		}
		c.MaxFailedSignIns = n
	}
	return c
}

// CheckpointFile is the audit checkpoint file's path.
func (c Config) CheckpointFile() string {
	if c.AuditCheckpointFile != "" {
		return c.AuditCheckpointFile
	}
	return filepath.Join(c.DataDir, "audit-checkpoints")
}

// KeyFile is the master key's path.
func (c Config) KeyFile() string {
	if c.MasterKeyFile != "" {
		return c.MasterKeyFile
	}
	return filepath.Join(c.DataDir, "master.key")
}

// ListenAddr is Addr as host:port. A URL without a port listens on its
// scheme's port.
func (c Config) ListenAddr() string {
	hostport, _ := c.listenAddr()
	return hostport
}

// listenAddr parses Addr. scheme is "" for a plain host:port.
func (c Config) listenAddr() (hostport, scheme string) {
	if !strings.Contains(c.Addr, "://") {
		return c.Addr, ""
	}
	u, err := url.Parse(c.Addr)
	if err != nil || u.Host == "" || (u.Path != "" && u.Path != "/") || u.User != nil || u.RawQuery != "" || u.Fragment != "" {
		return "", "invalid"
	}
	port := u.Port()
	if port == "" {
		port = map[string]string{"http": "80", "https": "443"}[u.Scheme]
	}
	return net.JoinHostPort(u.Hostname(), port), u.Scheme
}

// shownAddr is Addr for messages, without any password it carries.
func (c Config) shownAddr() string {
	if u, err := url.Parse(c.Addr); err == nil && strings.Contains(c.Addr, "://") {
		return u.Redacted()
	}
	if strings.Contains(c.Addr, "@") {
		return "(address with user information)"
	}
	return c.Addr
}

// TLS reports whether the server serves HTTPS.
func (c Config) TLS() bool { return c.TLSCertFile != "" }

var prefixRule = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9]{0,19}$`)

// Validate checks the configuration without touching the file system or the
// network.
func (c Config) Validate() error {
	if c.envErr != nil {
		return c.envErr
	}
	hostport, scheme := c.listenAddr()
	if _, _, err := net.SplitHostPort(hostport); err != nil || (scheme != "" && scheme != "http" && scheme != "https") {
		return fmt.Errorf("addr %q: want host:port or http(s)://host:port (for example 127.0.0.1:8080)", c.shownAddr())
	}
	if c.DataDir == "" {
		return fmt.Errorf("data-dir: must not be empty")
	}
	if c.Database != "" && !strings.HasPrefix(c.Database, "postgres://") && !strings.HasPrefix(c.Database, "postgresql://") {
		return fmt.Errorf("database: want a postgres:// URL, or nothing for SQLite in the data directory")
	}
	if !prefixRule.MatchString(c.Prefix) {
		return fmt.Errorf("prefix %q: want a letter followed by up to 19 letters or digits", c.Prefix)
	}
	if (c.TLSCertFile == "") != (c.TLSKeyFile == "") {
		return fmt.Errorf("tls-cert-file and tls-key-file: give both or neither")
	}
	if scheme == "https" && !c.TLS() {
		return fmt.Errorf("addr %q: an https address needs tls-cert-file and tls-key-file", c.shownAddr())
	}
	if scheme == "http" && c.TLS() {
		return fmt.Errorf("addr %q: the server speaks HTTPS with tls-cert-file; use https:// or host:port", c.shownAddr())
	}
	if c.PprofAddr != "" {
		if _, _, err := net.SplitHostPort(c.PprofAddr); err != nil {
			return fmt.Errorf("pprof-addr %q: want host:port", c.PprofAddr)
		}
	}
	if (c.OIDCIssuer == "") != (c.OIDCAudience == "") {
		return fmt.Errorf("oidc-issuer and oidc-audience: give both or neither")
	}
	if (c.EventGridEntraIssuer == "") != (c.EventGridEntraAudience == "") {
		return fmt.Errorf("eventgrid-entra-issuer and eventgrid-entra-audience: give both or neither")
	}
	if c.OIDCRedirectURL != "" {
		u, err := url.Parse(c.OIDCRedirectURL)
		if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || u.Path != "/signin/oidc/callback" {
			return fmt.Errorf("oidc-redirect-url %q: want the absolute URL of credflow's /signin/oidc/callback", c.OIDCRedirectURL)
		}
	}
	if c.AuditCheckpointRecords < 1 {
		return fmt.Errorf("audit-checkpoint-records %d: want at least 1", c.AuditCheckpointRecords)
	}
	if c.AuditCheckpointInterval < time.Second {
		return fmt.Errorf("audit-checkpoint-interval %s: want at least 1s", c.AuditCheckpointInterval)
	}
	if c.MaxFailedSignIns < 1 {
		return fmt.Errorf("max-failed-signins %d: want at least 1", c.MaxFailedSignIns)
	}
	return nil
}
