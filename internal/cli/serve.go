package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/credflow/credflow/internal/config"
	"github.com/credflow/credflow/internal/server"
)

// serveOptions is `credflow serve`: the configuration from CREDFLOW_*
// variables, overridden by flags.
type serveOptions struct {
	IO     *Streams
	Config config.Config
	// ConfigFile, when set, is a configuration file read under the
	// variables and flags: defaults < file < CREDFLOW_* < flags.
	ConfigFile string
	getenv     func(string) string
	// Serve runs the server until ctx ends.
	Serve func(ctx context.Context, cfg config.Config, stderr io.Writer) error
}

func newCmdServe(f *factory, runF func(*serveOptions) error) *cobra.Command {
	opts := &serveOptions{IO: f.streams, Config: config.FromEnv(f.getenv), ConfigFile: f.getenv(config.EnvConfigFile), getenv: f.getenv, Serve: server.Run}
	cmd := &cobra.Command{
		Use:   "serve [flags]",
		Short: "Run the credflow server",
		Long: `Run the credflow server until interrupted. With no flags it listens on
127.0.0.1:8080 and keeps everything (SQLite database, master key) in
./credflow-data. Every flag can also be set by the CREDFLOW_* variable named
in its description, and in a configuration file (--config) under the flag's
name; flags win over variables, which win over the file.`,
		Args: exactArgs(),
		RunE: func(cmd *cobra.Command, _ []string) error {
			if opts.ConfigFile != "" {
				if err := applyConfigFile(cmd, opts); err != nil {
					return err
				}
			}
			if err := opts.Config.Validate(); err != nil {
				return &usageError{errors.New(strings.ReplaceAll(err.Error(), "\n", "; "))}
			}
			if runF != nil {
				return runF(opts)
			}
			return serveRun(cmd.Context(), opts)
		},
	}
	c := &opts.Config
	fl := cmd.Flags()
	fl.StringVar(&c.Addr, "addr", c.Addr, "listen address host:port ($"+config.EnvAddr+")")
	fl.StringVar(&c.DataDir, "data-dir", c.DataDir, "directory for the SQLite database, master key and first admin token ($"+config.EnvDataDir+")")
	fl.StringVar(&c.Database, "database", c.Database, "postgres:// URL; empty for SQLite in the data directory ($"+config.EnvDatabase+")")
	// The URL may hold a password: keep it out of --help.
	fl.Lookup("database").DefValue = ""
	fl.StringVar(&c.MasterKeyFile, "master-key-file", c.MasterKeyFile, "the built-in store's master key (default <data-dir>/master.key) ($"+config.EnvMasterKeyFile+")")
	fl.StringVar(&c.Prefix, "prefix", c.Prefix, "prefix of generated environment variable schema names ($"+config.EnvPrefix+")")
	fl.StringVar(&c.TLSCertFile, "tls-cert-file", c.TLSCertFile, "serve HTTPS with this certificate, with --tls-key-file ($"+config.EnvTLSCertFile+")")
	fl.StringVar(&c.TLSKeyFile, "tls-key-file", c.TLSKeyFile, "the TLS certificate's private key ($"+config.EnvTLSKeyFile+")")
	fl.StringVar(&c.OIDCIssuer, "oidc-issuer", c.OIDCIssuer, "accept JWTs from this OpenID Connect issuer URL as bearer tokens, with --oidc-audience ($"+config.EnvOIDCIssuer+")")
	fl.StringVar(&c.OIDCAudience, "oidc-audience", c.OIDCAudience, "the audience the OIDC tokens must carry ($"+config.EnvOIDCAudience+")")
	fl.StringVar(&c.OIDCUserClaim, "oidc-user-claim", c.OIDCUserClaim, "the claim naming the user (default preferred_username, then email, then sub) ($"+config.EnvOIDCUser+")")
	fl.StringVar(&c.OIDCGroupsClaim, "oidc-groups-claim", c.OIDCGroupsClaim, "the claim listing the user's groups (default groups) ($"+config.EnvOIDCGroups+")")
	fl.StringVar(&c.OIDCRedirectURL, "oidc-redirect-url", c.OIDCRedirectURL, "the web sign-in's callback URL as the issuer knows it, ending in /signin/oidc/callback (default: from the request's host) ($"+config.EnvOIDCRedirect+")")
	fl.StringVar(&c.OIDCClientSecretFile, "oidc-client-secret-file", c.OIDCClientSecretFile, "a file holding the OIDC client secret, for a confidential client (default: a public client with PKCE) ($"+config.EnvOIDCSecret+")")
	fl.BoolVar(&c.OIDCAutoCreate, "oidc-auto-create", c.OIDCAutoCreate, "create OIDC users unknown to credflow, as makers ($"+config.EnvOIDCAuto+")")
	fl.StringVar(&c.AuditCheckpointFile, "audit-checkpoint-file", c.AuditCheckpointFile, "append-only file of audit checkpoints (default <data-dir>/audit-checkpoints) ($"+config.EnvAuditCheckpointFile+")")
	fl.Int64Var(&c.AuditCheckpointRecords, "audit-checkpoint-records", c.AuditCheckpointRecords, "write an audit checkpoint after this many records ($"+config.EnvAuditCheckpointRecords+")")
	fl.DurationVar(&c.AuditCheckpointInterval, "audit-checkpoint-interval", c.AuditCheckpointInterval, "or this long after the last one ($"+config.EnvAuditCheckpointInterval+")")
	fl.StringVar(&c.EventGridKeyFile, "eventgrid-key-file", c.EventGridKeyFile, "keys of the Event Grid webhook, one per line; or the keys themselves in $"+config.EnvEventGridKey+" ($"+config.EnvEventGridKeyFile+")")
	fl.StringVar(&c.EventGridEntraIssuer, "eventgrid-entra-issuer", c.EventGridEntraIssuer, "also accept Microsoft Entra-secured Event Grid deliveries: JWTs from this issuer, with --eventgrid-entra-audience ($"+config.EnvEventGridEntraIssuer+")")
	fl.StringVar(&c.EventGridEntraAudience, "eventgrid-entra-audience", c.EventGridEntraAudience, "the audience (application id or URI) the Event Grid JWTs must carry ($"+config.EnvEventGridEntraAudience+")")
	fl.StringVar(&opts.ConfigFile, "config", opts.ConfigFile, "YAML file of settings, keyed by these flags' names (see credflow config check) ($"+config.EnvConfigFile+")")
	fl.StringVar(&c.LogFormat, "log-format", c.LogFormat, "log lines as json or text ($"+config.EnvLogFormat+")")
	fl.StringVar(&c.LogLevel, "log-level", c.LogLevel, "least level logged: debug, info, warn or error ($"+config.EnvLogLevel+")")
	fl.BoolVar(&c.AccessLog, "access-log", c.AccessLog, "log one line per request; --access-log=false for busy resolvers ($"+config.EnvAccessLog+")")
	fl.StringVar(&c.PprofAddr, "pprof-addr", c.PprofAddr, "serve Go's profiling endpoints on this host:port; keep it on loopback ($"+config.EnvPprofAddr+")")
	fl.StringVar(&c.MetricsAddr, "metrics-addr", c.MetricsAddr, "also serve Prometheus metrics without a token on this host:port ($"+config.EnvMetricsAddr+")")
	l := &c.Limits
	fl.Int64Var(&l.MaxRequestBody, "max-request-body", l.MaxRequestBody, "largest request body accepted, in bytes ($"+config.EnvMaxRequestBody+")")
	fl.IntVar(&l.CacheMaxEntries, "cache-max-entries", l.CacheMaxEntries, "secret versions each store's run-time cache holds at most ($"+config.EnvCacheMaxEntries+")")
	fl.DurationVar(&l.StoreCallTimeout, "store-call-timeout", l.StoreCallTimeout, "longest wait for one store call, read budget included ($"+config.EnvStoreCallTimeout+")")
	fl.IntVar(&l.StoreMaxCalls, "store-max-calls", l.StoreMaxCalls, "store calls open to one store at once; more wait ($"+config.EnvStoreMaxCalls+")")
	fl.IntVar(&l.EventQueue, "event-queue", l.EventQueue, "secret changes waiting for the event worker at most ($"+config.EnvEventQueue+")")
	fl.DurationVar(&l.ReadTimeout, "read-timeout", l.ReadTimeout, "longest time to read a request ($"+config.EnvReadTimeout+")")
	fl.DurationVar(&l.WriteTimeout, "write-timeout", l.WriteTimeout, "longest time to answer a request ($"+config.EnvWriteTimeout+")")
	fl.DurationVar(&l.IdleTimeout, "idle-timeout", l.IdleTimeout, "how long an idle keep-alive connection stays open ($"+config.EnvIdleTimeout+")")
	fl.DurationVar(&l.ShutdownTimeout, "shutdown-timeout", l.ShutdownTimeout, "longest drain of requests at shutdown ($"+config.EnvShutdownTimeout+")")
	fl.IntVar(&c.MaxFailedSignIns, "max-failed-signins", c.MaxFailedSignIns, "failed sign-ins a client address may make in a minute before it gets 429 ($"+config.EnvMaxFailedSignIns+")")
	return cmd
}

// applyConfigFile rebuilds the configuration as defaults < file <
// CREDFLOW_* variables < the flags given on the command line.
func applyConfigFile(cmd *cobra.Command, opts *serveOptions) error {
	file, err := config.LoadFile(opts.ConfigFile)
	if err != nil {
		return &usageError{fmt.Errorf("%s: %s", opts.ConfigFile, strings.ReplaceAll(err.Error(), "\n", "; "))}
	}
	given := map[string]string{}
	fl := cmd.Flags()
	fl.Visit(func(f *pflag.Flag) { given[f.Name] = f.Value.String() })
	c := config.Defaults()
	file.Apply(&c)
	c.ApplyEnv(opts.getenv)
	// The flags are bound to opts.Config's fields: setting them again puts
	// the command line's values over the file's and the variables'.
	opts.Config = c
	for name, v := range given {
		if err := fl.Set(name, v); err != nil {
			return &usageError{fmt.Errorf("--%s: %w", name, err)}
		}
	}
	return nil
}

func serveRun(ctx context.Context, opts *serveOptions) error {
	return opts.Serve(ctx, opts.Config, opts.IO.ErrOut)
}
