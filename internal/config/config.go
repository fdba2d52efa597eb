// Package config holds the server's typed configuration: its defaults, the
// environment variables that override them, and validation without side
// effects. It does not parse flags (the CLI does) and never holds a secret
// itself: secrets are named by file path.
package config

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/credflow/credflow/internal/logging"
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

	// LogFormat is json (the default) or text; LogLevel is debug, info,
	// warn or error. AccessLog writes one line per request (at info).
	LogFormat string
	LogLevel  string
	AccessLog bool

	// MetricsAddr, when set, serves the Prometheus metrics without
	// authentication on that address (host:port), beside GET /metrics on
	// the API for admins. Keep it on a private network.
	MetricsAddr string

	// Limits bound what one server holds and waits for; docs/operations.md
	// tabulates them with their defaults.
	Limits Limits

	// envErr holds the CREDFLOW_* variables that did not parse (joined);
	// Validate reports them.
	envErr error
}

// Limits are the bounds of a server's resources and waits.
type Limits struct {
	// MaxRequestBody bounds a request's body, in bytes.
	MaxRequestBody int64
	// CacheMaxEntries bounds each store's run-time cache (secret versions).
	CacheMaxEntries int
	// StoreCallTimeout bounds one call of a store (the read budget's wait
	// included); StoreMaxCalls bounds the calls open to one store at once.
	StoreCallTimeout time.Duration
	StoreMaxCalls    int
	// EventQueue bounds the secret changes waiting for the event worker.
	EventQueue int
	// HTTP server timeouts: reading a request, writing its answer, an
	// idle keep-alive connection, and the drain at shutdown.
	ReadTimeout     time.Duration
	WriteTimeout    time.Duration
	IdleTimeout     time.Duration
	ShutdownTimeout time.Duration
}

// DefaultLimits are the limits of a server given none.
var DefaultLimits = Limits{
	MaxRequestBody:   1 << 20,
	CacheMaxEntries:  10000,
	StoreCallTimeout: 10 * time.Second,
	StoreMaxCalls:    64,
	EventQueue:       10000,
	ReadTimeout:      30 * time.Second,
	WriteTimeout:     60 * time.Second,
	IdleTimeout:      120 * time.Second,
	ShutdownTimeout:  15 * time.Second,
}

// Environment variables that override the defaults (flags override them).
const (
	EnvAddr             = "CREDFLOW_ADDR"
	EnvDataDir          = "CREDFLOW_DATA_DIR"
	EnvDatabase         = "CREDFLOW_DATABASE"
	EnvMasterKeyFile    = "CREDFLOW_MASTER_KEY_FILE"
	EnvPrefix           = "CREDFLOW_PREFIX"
	EnvTLSCertFile      = "CREDFLOW_TLS_CERT_FILE"
	EnvTLSKeyFile       = "CREDFLOW_TLS_KEY_FILE"
	EnvOIDCIssuer       = "CREDFLOW_OIDC_ISSUER"
	EnvOIDCAudience     = "CREDFLOW_OIDC_AUDIENCE"
	EnvOIDCUser         = "CREDFLOW_OIDC_USER_CLAIM"
	EnvOIDCGroups       = "CREDFLOW_OIDC_GROUPS_CLAIM"
	EnvOIDCAuto         = "CREDFLOW_OIDC_AUTO_CREATE"
	EnvOIDCRedirect     = "CREDFLOW_OIDC_REDIRECT_URL"
	EnvOIDCSecret       = "CREDFLOW_OIDC_CLIENT_SECRET_FILE"
	EnvPprofAddr        = "CREDFLOW_PPROF_ADDR"
	EnvLogFormat        = "CREDFLOW_LOG_FORMAT"
	EnvLogLevel         = "CREDFLOW_LOG_LEVEL"
	EnvAccessLog        = "CREDFLOW_ACCESS_LOG"
	EnvMetricsAddr      = "CREDFLOW_METRICS_ADDR"
	EnvMaxRequestBody   = "CREDFLOW_MAX_REQUEST_BODY"
	EnvCacheMaxEntries  = "CREDFLOW_CACHE_MAX_ENTRIES"
	EnvStoreCallTimeout = "CREDFLOW_STORE_CALL_TIMEOUT"
	EnvStoreMaxCalls    = "CREDFLOW_STORE_MAX_CALLS"
	EnvEventQueue       = "CREDFLOW_EVENT_QUEUE"
	EnvReadTimeout      = "CREDFLOW_READ_TIMEOUT"
	EnvWriteTimeout     = "CREDFLOW_WRITE_TIMEOUT"
	EnvIdleTimeout      = "CREDFLOW_IDLE_TIMEOUT"
	EnvShutdownTimeout  = "CREDFLOW_SHUTDOWN_TIMEOUT"
	// EnvConfigFile names the configuration file, as serve --config does.
	EnvConfigFile = "CREDFLOW_CONFIG"

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
		LogFormat:      logging.FormatJSON,
		LogLevel:       "info",
		AccessLog:      true,
		Limits:         DefaultLimits,

		AuditCheckpointRecords:  DefaultAuditCheckpointRecords,
		AuditCheckpointInterval: DefaultAuditCheckpointInterval,
		MaxFailedSignIns:        DefaultMaxFailedSignIns,
	}
}

// FromEnv returns the defaults overridden by the CREDFLOW_* variables that
// getenv reports as set.
func FromEnv(getenv func(string) string) Config {
	c := Defaults()
	c.ApplyEnv(getenv)
	return c
}

// ApplyEnv overrides c with the CREDFLOW_* variables that getenv reports as
// set. A value that does not parse is kept for Validate to report.
func (c *Config) ApplyEnv(getenv func(string) string) {
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
		{EnvLogFormat, &c.LogFormat},
		{EnvLogLevel, &c.LogLevel},
		{EnvMetricsAddr, &c.MetricsAddr},
	} {
		if v := getenv(o.env); v != "" {
			*o.dst = v
		}
	}
	for _, o := range []struct {
		env string
		dst *bool
	}{
		{EnvOIDCAuto, &c.OIDCAutoCreate},
		{EnvAccessLog, &c.AccessLog},
	} {
		if v := getenv(o.env); v != "" {
			b, err := strconv.ParseBool(v)
			if err != nil {
				c.envErr = errors.Join(c.envErr, fmt.Errorf("%s %q: want true or false", o.env, v))
			} else {
				*o.dst = b
			}
		}
	}
	if v := getenv(EnvAuditCheckpointRecords); v != "" {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			c.envErr = errors.Join(c.envErr, fmt.Errorf("%s %q: want a whole number", EnvAuditCheckpointRecords, v))
		} else {
			c.AuditCheckpointRecords = n
		}
	}
	if v := getenv(EnvAuditCheckpointInterval); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil {
			c.envErr = errors.Join(c.envErr, fmt.Errorf("%s %q: want a duration such as 60s", EnvAuditCheckpointInterval, v))
		} else {
			c.AuditCheckpointInterval = d
		}
	}
	if v := getenv(EnvMaxFailedSignIns); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil {
			c.envErr = errors.Join(c.envErr, fmt.Errorf("%s %q: want a whole number", EnvMaxFailedSignIns, v))
		} else {
			c.MaxFailedSignIns = n
		}
	}
	for _, o := range []struct {
		env string
		dst *int
	}{{EnvCacheMaxEntries, &c.Limits.CacheMaxEntries}, {EnvStoreMaxCalls, &c.Limits.StoreMaxCalls}, {EnvEventQueue, &c.Limits.EventQueue}} {
		if v := getenv(o.env); v != "" {
			if n, err := strconv.Atoi(v); err != nil {
				c.envErr = errors.Join(c.envErr, fmt.Errorf("%s %q: want a whole number", o.env, v))
			} else {
				*o.dst = n
			}
		}
	}
	if v := getenv(EnvMaxRequestBody); v != "" {
		if n, err := strconv.ParseInt(v, 10, 64); err != nil {
			c.envErr = errors.Join(c.envErr, fmt.Errorf("%s %q: want a number of bytes", EnvMaxRequestBody, v))
		} else {
			c.Limits.MaxRequestBody = n
		}
	}
	for _, o := range []struct {
		env string
		dst *time.Duration
	}{
		{EnvStoreCallTimeout, &c.Limits.StoreCallTimeout}, {EnvReadTimeout, &c.Limits.ReadTimeout}, {EnvWriteTimeout, &c.Limits.WriteTimeout},
		{EnvIdleTimeout, &c.Limits.IdleTimeout}, {EnvShutdownTimeout, &c.Limits.ShutdownTimeout},
	} {
		if v := getenv(o.env); v != "" {
			if d, err := time.ParseDuration(v); err != nil {
				c.envErr = errors.Join(c.envErr, fmt.Errorf("%s %q: want a duration such as 30s", o.env, v))
			} else {
				*o.dst = d
			}
		}
	}
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
// network. It reports every problem, one per line (errors.Join).
func (c Config) Validate() error {
	var errs []error
	if c.envErr != nil {
		errs = append(errs, c.envErr)
	}
	bad := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }
	hostport, scheme := c.listenAddr()
	if _, _, err := net.SplitHostPort(hostport); err != nil || (scheme != "" && scheme != "http" && scheme != "https") {
		bad("addr %q: want host:port or http(s)://host:port (for example 127.0.0.1:8080)", c.shownAddr())
	}
	if c.DataDir == "" {
		bad("data-dir: must not be empty")
	}
	if c.Database != "" && !strings.HasPrefix(c.Database, "postgres://") && !strings.HasPrefix(c.Database, "postgresql://") {
		bad("database: want a postgres:// URL, or nothing for SQLite in the data directory")
	}
	if !prefixRule.MatchString(c.Prefix) {
		bad("prefix %q: want a letter followed by up to 19 letters or digits", c.Prefix)
	}
	if (c.TLSCertFile == "") != (c.TLSKeyFile == "") {
		bad("tls-cert-file and tls-key-file: give both or neither")
	}
	if scheme == "https" && !c.TLS() {
		bad("addr %q: an https address needs tls-cert-file and tls-key-file", c.shownAddr())
	}
	if scheme == "http" && c.TLS() {
		bad("addr %q: the server speaks HTTPS with tls-cert-file; use https:// or host:port", c.shownAddr())
	}
	for _, a := range []struct{ name, addr string }{{"pprof-addr", c.PprofAddr}, {"metrics-addr", c.MetricsAddr}} {
		if a.addr == "" {
			continue
		}
		if _, _, err := net.SplitHostPort(a.addr); err != nil {
			bad("%s %q: want host:port", a.name, a.addr)
		}
	}
	if (c.OIDCIssuer == "") != (c.OIDCAudience == "") {
		bad("oidc-issuer and oidc-audience: give both or neither")
	}
	if (c.EventGridEntraIssuer == "") != (c.EventGridEntraAudience == "") {
		bad("eventgrid-entra-issuer and eventgrid-entra-audience: give both or neither")
	}
	if c.OIDCRedirectURL != "" {
		u, err := url.Parse(c.OIDCRedirectURL)
		if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || u.Path != "/signin/oidc/callback" {
			bad("oidc-redirect-url %q: want the absolute URL of credflow's /signin/oidc/callback", c.OIDCRedirectURL)
		}
	}
	if c.AuditCheckpointRecords < 1 {
		bad("audit-checkpoint-records %d: want at least 1", c.AuditCheckpointRecords)
	}
	if c.AuditCheckpointInterval < time.Second {
		bad("audit-checkpoint-interval %s: want at least 1s", c.AuditCheckpointInterval)
	}
	if c.MaxFailedSignIns < 1 {
		bad("max-failed-signins %d: want at least 1", c.MaxFailedSignIns)
	}
	errs = append(errs, c.Limits.validate()...)
	if err := logging.CheckFormat(c.LogFormat); err != nil {
		bad("log-format %q: want json or text", c.LogFormat)
	}
	if _, err := logging.ParseLevel(c.LogLevel); err != nil {
		bad("log-level %q: want %s", c.LogLevel, logging.Levels)
	}
	return errors.Join(errs...)
}

// Level is LogLevel as a slog level (info when it does not parse; Validate
// refuses that).
func (c Config) Level() slog.Level {
	l, _ := logging.ParseLevel(c.LogLevel)
	return l
}

// validate reports each limit out of its range.
func (l Limits) validate() []error {
	var errs []error
	if l.MaxRequestBody < 64<<10 || l.MaxRequestBody > 64<<20 {
		errs = append(errs, fmt.Errorf("max-request-body %d: want 65536 to 67108864 bytes (64 KiB to 64 MiB)", l.MaxRequestBody))
	}
	for _, n := range []struct {
		name      string
		v, lo, hi int
	}{
		{"cache-max-entries", l.CacheMaxEntries, 1, 10_000_000},
		{"store-max-calls", l.StoreMaxCalls, 1, 10000},
		{"event-queue", l.EventQueue, 1, 1_000_000},
	} {
		if n.v < n.lo || n.v > n.hi {
			errs = append(errs, fmt.Errorf("%s %d: want %d to %d", n.name, n.v, n.lo, n.hi))
		}
	}
	for _, d := range []struct {
		name   string
		v, min time.Duration
	}{
		{"store-call-timeout", l.StoreCallTimeout, 100 * time.Millisecond},
		{"read-timeout", l.ReadTimeout, time.Second},
		{"write-timeout", l.WriteTimeout, time.Second},
		{"idle-timeout", l.IdleTimeout, time.Second},
		{"shutdown-timeout", l.ShutdownTimeout, 0},
	} {
		if d.v < d.min || d.v > time.Hour {
			errs = append(errs, fmt.Errorf("%s %s: want %s to 1h", d.name, d.v, d.min))
		}
	}
	return errs
}
