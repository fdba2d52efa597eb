// Package server is credflow's composition root: configuration -> database ->
// secret stores -> domain services -> HTTP server, with graceful shutdown.
// It is the only package that knows every concrete type.
package server

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"time"

	"github.com/credflow/credflow/internal/access"
	"github.com/credflow/credflow/internal/audit"
	"github.com/credflow/credflow/internal/backup"
	"github.com/credflow/credflow/internal/config"
	"github.com/credflow/credflow/internal/connection"
	"github.com/credflow/credflow/internal/credential"
	"github.com/credflow/credflow/internal/envvar"
	"github.com/credflow/credflow/internal/events"
	"github.com/credflow/credflow/internal/httpapi"
	"github.com/credflow/credflow/internal/logging"
	"github.com/credflow/credflow/internal/metadb"
	"github.com/credflow/credflow/internal/metrics"
	"github.com/credflow/credflow/internal/rotation"
	"github.com/credflow/credflow/internal/secretstore"
	"github.com/credflow/credflow/internal/secretstore/azurekv"
	"github.com/credflow/credflow/internal/secretstore/builtin"
	"github.com/credflow/credflow/internal/secretstore/cache"
	"github.com/credflow/credflow/internal/secretstore/conjur"
	"github.com/credflow/credflow/internal/secretstore/cyberarkccp"
	"github.com/credflow/credflow/internal/secretstore/hcvault"
	"github.com/credflow/credflow/internal/solution"
	"github.com/credflow/credflow/internal/storeadmin"
	"github.com/credflow/credflow/internal/storesecret"
	"github.com/credflow/credflow/internal/version"
	"github.com/credflow/credflow/internal/webui"
)

// InitialTokenFile is the name, inside the data directory, of the file that
// receives the first admin token.
const InitialTokenFile = "initial-admin-token"

// Server is a fully wired credflow instance, not yet listening.
type Server struct {
	cfg     config.Config
	db      *metadb.DB
	log     *slog.Logger
	handler http.Handler
	// oidcClient is the HTTP client for the OIDC issuer (nil: a default one).
	oidcClient *http.Client
	// checkEvery is the background connection check's period.
	checkEvery time.Duration
	// kinds are the store kinds that can be registered through the API.
	kinds []storeadmin.Kind
	// extraStores are registered beside the built-in one (tests register
	// fakes of remote stores this way).
	extraStores []extraStore
	// stop ends the background workers; done closes when they have.
	stop      context.CancelFunc
	done      chan struct{}
	closeOnce sync.Once
	closeErr  error
	// trail is the audit trail, keyed when the master key is loaded;
	// checkpoints writes its checkpoint file (nil without the key).
	trail       *audit.Trail
	checkpoints *audit.Checkpointer
	// signIns counts failed sign-ins; signInWindow is its window (a
	// minute, shorter in tests).
	signIns      *access.SignInGuard
	signInWindow time.Duration
	// events receives Event Grid deliveries (its worker runs with the
	// others).
	events *events.Receiver
	poller *rotation.Poller
	// pollClock replaces the poller's clock (tests).
	pollClock func() time.Time
	prop      *rotation.Propagation
	// sessions are the web interface's session limits.
	sessions webui.SessionOptions
	// local is the built-in store; rotationStop stops its rotations after
	// that many batches (tests).
	local        *builtin.Store
	rotationStop int
	// metrics are this server's Prometheus instruments.
	metrics *metrics.Metrics
	// InitialToken is the admin token created on this start, or "".
	InitialToken string
}

type extraStore struct {
	name, kind string
	store      secretstore.Store
	cache      cache.Options
}

// WithStore registers a store of the given kind under name, read at run
// time through a cache with the given options.
func WithStore(name, kind string, s secretstore.Store, opts cache.Options) Option {
	return func(srv *Server) { srv.extraStores = append(srv.extraStores, extraStore{name, kind, s, opts}) }
}

// storeKind makes a store kind of a package's Open, which takes the stored
// settings and the store's name.
func storeKind[S secretstore.Store](kind string, open func(name string, raw json.RawMessage) (S, error),
	public func(json.RawMessage) (json.RawMessage, error)) storeadmin.Kind {
	return storeadmin.Kind{
		Name: kind,
		Open: func(name string, raw json.RawMessage) (secretstore.Store, error) {
			s, err := open(name, raw)
			if err != nil {
				return nil, err // not a typed nil in the interface
			}
			return s, nil
		},
		Public: public,
	}
}

// AzureKeyVault is the azure-keyvault store kind. Production passes the zero
// Options; tests pass an emulator's transport.
func AzureKeyVault(opts azurekv.Options) storeadmin.Kind {
	return storeKind(azurekv.Kind, func(name string, raw json.RawMessage) (*azurekv.Store, error) {
		o := opts
		o.Name = name
		return azurekv.Open(raw, o)
	}, azurekv.PublicSettings)
}

// CyberArkCCP is the cyberark-ccp store kind. Production passes the zero
// Options; tests pass shorter retries.
func CyberArkCCP(opts cyberarkccp.Options) storeadmin.Kind {
	return storeKind(cyberarkccp.Kind, func(name string, raw json.RawMessage) (*cyberarkccp.Store, error) {
		o := opts
		o.Name = name
		return cyberarkccp.Open(raw, o)
	}, cyberarkccp.PublicSettings)
}

// CyberArkConjur is the cyberark-conjur store kind. Production passes the
// zero Options.
func CyberArkConjur(opts conjur.Options) storeadmin.Kind {
	return storeKind(conjur.Kind, func(name string, raw json.RawMessage) (*conjur.Store, error) {
		o := opts
		o.Name = name
		return conjur.Open(raw, o)
	}, conjur.PublicSettings)
}

// HashiCorpVault is the hashicorp-vault store kind (Vault or OpenBao KV
// version 2). Production passes the zero Options; tests pass a fake's
// HTTP client.
func HashiCorpVault(opts hcvault.Options) storeadmin.Kind {
	return storeKind(hcvault.Kind, func(name string, raw json.RawMessage) (*hcvault.Store, error) {
		o := opts
		o.Name = name
		return hcvault.Open(raw, o)
	}, hcvault.PublicSettings)
}

// WithKinds adds store kinds that can be registered through the API; one
// named like a built-in kind replaces it.
func WithKinds(kinds ...storeadmin.Kind) Option {
	return func(srv *Server) { srv.kinds = append(srv.kinds, kinds...) }
}

// Option adjusts a Server before it is wired.
type Option func(*Server)

// WithOIDCClient sets the HTTP client used to reach the OIDC issuer (for a
// private CA, or a test issuer).
func WithOIDCClient(c *http.Client) Option { return func(s *Server) { s.oidcClient = c } }

// New opens the database, unseals the built-in store when its master key is
// there, creates the first admin token on an empty database, and wires the
// API. Close releases what it opened.
func New(ctx context.Context, cfg config.Config, stderr io.Writer, opts ...Option) (*Server, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if err := checkKeyFiles(cfg); err != nil {
		return nil, err
	}
	log := logging.New(stderr, cfg.LogFormat, cfg.Level())
	if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
		return nil, fmt.Errorf("create data directory: %w", err)
	}
	db, err := metadb.Open(ctx, cfg.Database, cfg.DataDir, log)
	if err != nil {
		return nil, err
	}
	s := &Server{cfg: cfg, db: db, log: log, checkEvery: DefaultCheckInterval}
	for _, o := range opts {
		o(s)
	}
	if err := s.wire(ctx, stderr); err != nil {
		db.Close()
		return nil, err
	}
	return s, nil
}

func (s *Server) wire(ctx context.Context, stderr io.Writer) error {
	m := metrics.New(version.String())
	s.metrics = m
	m.DB(s.db.SQL())
	stores := secretstore.NewRegistry()
	local, auditKey, err := s.openBuiltin(ctx)
	if err != nil {
		return err
	}
	s.local = local
	if !local.Sealed() {
		keyFile := s.cfg.KeyFile()
		local.SetKeySource(func() ([]byte, error) {
			k, _, err := builtin.LoadOrCreateKey(keyFile, false)
			return k, err
		})
	}
	if err := s.openTrail(ctx, auditKey); err != nil {
		return err
	}
	// A rotation begun or finished by another replica: learn its keys.
	s.db.OnMasterKeyChange(func() {
		if err := local.Refresh(context.Background()); err != nil {
			s.log.Error("could not load the master keys of a rotation another replica began", slog.String("error", err.Error()))
		}
	})
	info, err := s.db.Stores().Ensure(ctx, builtin.DefaultName, builtin.Kind)
	if err != nil {
		return err
	}
	localRow, err := s.db.Stores().Get(ctx, info.ID)
	if err != nil {
		return err
	}
	cacheBase := func(name, kind string) cache.Options {
		l := s.cfg.Limits
		return cache.Options{MaxEntries: l.CacheMaxEntries, CallTimeout: l.StoreCallTimeout, MaxCalls: l.StoreMaxCalls,
			Observer: m.Store(name, kind)}
	}
	localCache := cacheBase(info.Name, info.Kind)
	own := storeadmin.CacheOptions(localRow)
	localCache.TTL, localCache.StaleIfError = own.TTL, own.StaleIfError
	stores.AddWithReader(info, local, cache.New(local, localCache))
	// A new version written through another replica reaches this one's
	// next resolve too.
	s.db.OnSecretChange(func(name string) { stores.Invalidate(info.Name, name) })
	// How long a new version takes to reach a run, whichever replica
	// learnt of it and whichever runs it.
	s.prop = rotation.NewPropagation(s.db.Propagation(), s.log)
	s.db.OnStoreSecretChange(func(store, secret string, at time.Time) {
		if secret == "" {
			stores.InvalidateStore(store)
			return
		}
		stores.Invalidate(store, secret)
		s.prop.Expect(store, secret, at)
	})
	// Announcements made while the listener was away were missed.
	s.db.OnListen(func() {
		stores.InvalidateAll()
		// A rotation may have begun or finished while the listener was away.
		if err := local.Refresh(context.Background()); err != nil {
			s.log.Error("could not reload the master keys", slog.String("error", err.Error()))
		}
	})
	for _, x := range s.extraStores {
		info, err := s.db.Stores().Ensure(ctx, x.name, x.kind)
		if err != nil {
			return err
		}
		opts := x.cache
		if opts.Observer == nil {
			opts.Observer = m.Store(x.name, x.kind)
		}
		stores.AddWithReader(info, x.store, cache.New(x.store, opts))
	}

	opts := access.Options{OIDCAutoCreate: s.cfg.OIDCAutoCreate}
	if s.cfg.OIDCIssuer != "" {
		o, err := access.NewOIDC(ctx, access.OIDCConfig{Issuer: s.cfg.OIDCIssuer, Audience: s.cfg.OIDCAudience,
			UserClaim: s.cfg.OIDCUserClaim, GroupsClaim: s.cfg.OIDCGroupsClaim, HTTPClient: s.oidcClient})
		if err != nil {
			return fmt.Errorf("oidc: %w", err)
		}
		opts.OIDC = o
	}
	admin := storeadmin.New(s.db.Stores(), stores, append([]storeadmin.Kind{AzureKeyVault(azurekv.Options{}), CyberArkCCP(cyberarkccp.Options{}),
		CyberArkConjur(conjur.Options{}), HashiCorpVault(hcvault.Options{})}, s.kinds...)...)
	admin.CacheBase(cacheBase)
	if err := admin.Load(ctx); err != nil {
		return err
	}
	s.db.OnStoreChange(func(name string) {
		if err := admin.Reload(context.Background(), name); err != nil {
			s.log.Warn("could not reload a store another replica changed", slog.String("store", name), slog.String("error", err.Error()))
		}
	})
	var eventGridJWT httpapi.JWTVerifier // nil: no Entra-secured delivery
	if s.cfg.EventGridEntraIssuer != "" {
		// Entra-secured Event Grid deliveries: only the token's signature,
		// issuer, audience and lifetime matter, not who it names.
		o, err := access.NewOIDC(ctx, access.OIDCConfig{Issuer: s.cfg.EventGridEntraIssuer,
			Audience: s.cfg.EventGridEntraAudience, UserClaim: "sub", HTTPClient: s.oidcClient})
		if err != nil {
			return fmt.Errorf("eventgrid entra: %w", err)
		}
		eventGridJWT = o
	}
	acc := access.NewService(s.db.Access(), opts)
	s.signIns = acc.NewSignInGuard(access.SignInOptions{Limit: s.cfg.MaxFailedSignIns, Window: s.signInWindow, Log: s.log})
	token, created, err := acc.Bootstrap(ctx)
	if err != nil {
		return err
	}
	if created {
		s.InitialToken = token
		s.announceToken(stderr, token)
	}

	vars := envvar.NewService(s.db.Variables(), stores, acc, s.cfg.Prefix)
	creds := credential.NewService(s.db.Credentials(), vars, acc)
	sols := solution.NewService(s.db.Solutions(), vars, creds)
	connRepo := metadb.NewConnections(s.db)
	connRepo.ObserveCommits(m.AuditCommit)
	m.Gauge("credflow_audit_queue_depth", "Resolve audit records waiting for the next group commit.",
		func() float64 { return float64(connRepo.Queued()) })
	conns := connection.NewService(connRepo, acc, creds, stores, connection.WithLogger(s.log), connection.WithSecretStates(vars),
		connection.WithPropagation(s.prop))
	rot := rotation.New(s.db.Variables(), stores, conns, s.db.Audit(), rotation.WithAnnouncer(s.db), rotation.WithLogger(s.log),
		rotation.WithPropagation(s.prop))
	vaults := events.Stores{Registry: stores}
	keys, err := s.eventGridKeys()
	if err != nil {
		return err
	}
	s.events = events.New(rot, vaults, events.Options{Keys: keys, Log: s.log, Lag: m.EventLag,
		MaxPending: s.cfg.Limits.EventQueue, Invalidate: func(c rotation.Change) {
			stores.Invalidate(c.Store, c.Secret)
			s.prop.Expect(c.Store, c.Secret, c.At)
		}})
	s.watchEvents(m)
	pollOpts := []rotation.PollerOption{rotation.OnPolled(s.events.RecordPoll)}
	if s.pollClock != nil {
		pollOpts = append(pollOpts, rotation.WithClock(s.pollClock))
	}
	s.poller = rotation.NewPoller(rot, admin, stores, pollOpts...)
	s.startWorkers(connRepo, conns, admin)
	var snap backup.Snapshotter
	if s.db.Dialect() == metadb.SQLite {
		snap = s.db
	}
	secrets := storesecret.New(stores, acc, s.db.Variables())
	api := &httpapi.API{
		Access:       acc,
		Variables:    vars,
		Credentials:  creds,
		Solutions:    sols,
		Connections:  conns,
		Stores:       stores,
		StoreAdmin:   admin,
		Secrets:      secrets,
		DB:           s.db,
		Audit:        s.trail,
		Backup:       backup.NewMaker(snap, s.db.Audit(), s.cfg.DataDir, s.cfg.CheckpointFile(), version.String()),
		MasterKey:    keyRotator{st: local, keyFile: s.cfg.KeyFile(), stop: s.rotationStop},
		SignIns:      s.signIns,
		Events:       s.events,
		Rotation:     rot,
		Propagation:  s.prop,
		EventGridJWT: eventGridJWT,
		Vaults:       vaults,
		Log:          s.log,
		AccessLog:    s.cfg.AccessLog,
		MaxBody:      s.cfg.Limits.MaxRequestBody,
		Version:      version.String(),
		Metrics:      m,
	}
	oidcSecret, err := s.oidcClientSecret()
	if err != nil {
		return err
	}
	ui := &webui.UI{
		Access:        acc,
		Variables:     vars,
		Credentials:   creds,
		Connections:   conns,
		StoreAdmin:    admin,
		Stores:        stores,
		Secrets:       secrets,
		Audit:         s.trail,
		Sessions:      webui.NewSessions(s.sessions),
		SignIns:       s.signIns,
		Log:           s.log,
		Prefix:        s.cfg.Prefix,
		SecureCookies: s.cfg.TLS(),
		OIDC:          webui.OIDCOptions{RedirectURL: s.cfg.OIDCRedirectURL, ClientSecret: oidcSecret},
	}
	s.handler = routeFaces(api.Handler(), ui.Handler())
	return nil
}

// oidcClientSecret reads the OIDC client secret's file, when there is one.
func (s *Server) oidcClientSecret() (string, error) {
	if s.cfg.OIDCClientSecretFile == "" {
		return "", nil
	}
	b, err := os.ReadFile(s.cfg.OIDCClientSecretFile)
	if err != nil {
		return "", fmt.Errorf("oidc client secret: %w", err)
	}
	secret := strings.TrimSpace(string(b))
	if secret == "" {
		return "", fmt.Errorf("oidc client secret file %s is empty", s.cfg.OIDCClientSecretFile)
	}
	return secret, nil
}

// routeFaces sends the API's paths to the API and every other path to the
// web interface.
func routeFaces(api, ui http.Handler) http.Handler {
	mux := http.NewServeMux()
	for _, p := range []string{"/api/", "/healthz", "/readyz", "/openapi.json", "/metrics"} {
		mux.Handle(p, api)
	}
	mux.Handle("/", ui)
	return mux
}

// WithSessions sets the web interface's session limits (tests shorten
// them).
func WithSessions(o webui.SessionOptions) Option { return func(s *Server) { s.sessions = o } }

// watchEvents exposes the event endpoint's queue and counts, read from its
// status at each scrape.
func (s *Server) watchEvents(m *metrics.Metrics) {
	m.Gauge("credflow_event_queue_depth", "Secret changes waiting for the event worker.", func() float64 {
		ep, _ := s.events.Status(nil)
		return float64(ep.Pending)
	})
	for _, c := range []struct {
		result string
		count  func(events.EndpointStatus) int64
	}{
		{"accepted", func(e events.EndpointStatus) int64 { return e.Accepted }},
		{"ignored", func(e events.EndpointStatus) int64 { return e.Ignored }},
		{"duplicate", func(e events.EndpointStatus) int64 { return e.Duplicate }},
		{"rejected", func(e events.EndpointStatus) int64 { return e.Rejected }},
	} {
		m.Counter("credflow_events_total", "Events delivered to the Event Grid endpoint, by result.",
			map[string]string{"result": c.result}, func() float64 {
				ep, _ := s.events.Status(nil)
				return float64(c.count(ep))
			})
	}
}

// openBuiltin loads the master key and opens the built-in store. A missing
// key leaves the store sealed rather than stopping the server (the file can
// be restored); a key that is not the database's stops it, since a replica
// started with the wrong --master-key-file would otherwise serve sealed
// beside its healthy peers. A key is generated only for a database that has
// never had one. It also
// derives the audit key from the master key, when that is the database's.
func (s *Server) openBuiltin(ctx context.Context) (*builtin.Store, *audit.Key, error) {
	repo := s.db.BuiltinSecrets()
	bound, isBound, err := repo.BoundKey(ctx)
	if err != nil {
		return nil, nil, err
	}
	path := s.cfg.KeyFile()
	key, created, err := builtin.LoadOrCreateKey(path, !isBound)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		s.log.Warn("master key file is missing: the built-in store is sealed until it is restored",
			slog.String("file", path), slog.String("boundKeyId", bound))
		st, err := builtin.New(repo, nil)
		return st, nil, err
	case err != nil:
		return nil, nil, fmt.Errorf("master key: %w", err)
	}
	defer clear(key)
	if created {
		s.log.Info("created master key; back it up: without it the built-in store cannot be read", slog.String("file", path))
	}
	st, err := builtin.Open(ctx, repo, key)
	if errors.Is(err, builtin.ErrWrongKey) {
		return nil, nil, fmt.Errorf("the master key in %s is not the one this database was created with (key id %s): "+
			"start with --master-key-file (or %s) naming the database's key, the one the other replicas use", path, bound, config.EnvMasterKeyFile)
	}
	if err != nil {
		return nil, nil, err
	}
	ak, err := AuditKey(ctx, st, key)
	if err != nil {
		return nil, nil, err
	}
	return st, ak, nil
}

// openTrail keys the audit chain (recording the switch on a database whose
// chain was not keyed yet) and prepares its checkpoint writer. Without the
// key, records are linked with plain SHA-256, which verify reports.
func (s *Server) openTrail(ctx context.Context, key *audit.Key) error {
	path := s.cfg.CheckpointFile()
	s.trail = audit.NewTrail(s.db.Audit(), key, path)
	if key == nil {
		s.log.Warn("the audit key is not available without the master key: audit records are linked with plain SHA-256 " +
			"and not checkpointed until the master key is restored; audit verify reports them")
		return nil
	}
	if err := s.db.Audit().UseKey(ctx, key); err != nil {
		return err
	}
	cp, err := s.trail.NewCheckpointer(audit.CheckpointOptions{
		Every: s.cfg.AuditCheckpointRecords, Interval: s.cfg.AuditCheckpointInterval,
		Wake: s.db.Audit().Wake(), Appended: s.db.Audit().Appended, Log: s.log,
	})
	if err != nil {
		return err
	}
	s.checkpoints = cp
	return nil
}

// checkKeyFiles refuses key files that others than their owner may read:
// the master key, and the TLS private key when HTTPS is on. A missing master
// key is not refused here; it is created, or leaves the store sealed.
func checkKeyFiles(cfg config.Config) error {
	type keyFile struct {
		what, path   string
		mayBeMissing bool
	}
	files := []keyFile{{"master key", cfg.KeyFile(), true}}
	if cfg.EventGridKeyFile != "" {
		files = append(files, keyFile{"Event Grid key", cfg.EventGridKeyFile, false})
	}
	if cfg.OIDCClientSecretFile != "" {
		files = append(files, keyFile{"OIDC client secret", cfg.OIDCClientSecretFile, false})
	}
	if cfg.TLS() {
		files = append(files, keyFile{"TLS key", cfg.TLSKeyFile, false})
	}
	for _, f := range files {
		if _, err := os.Stat(f.path); errors.Is(err, fs.ErrNotExist) && f.mayBeMissing {
			continue
		}
		if err := checkKeyFileMode(f.what, f.path); err != nil {
			return err
		}
	}
	return nil
}

// checkKeyFileMode refuses a key file that others than its owner may read.
func checkKeyFileMode(what, path string) error {
	st, err := os.Stat(path)
	if err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	if perm := st.Mode().Perm(); othersMayRead(runtime.GOOS, perm) {
		return fmt.Errorf("%s file %s has mode %04o: group and others can read or change it; run 'chmod 600 %s' and start again",
			what, path, perm, path)
	}
	return nil
}

// othersMayRead reports whether a file's mode lets others than its owner
// read or change it. On Windows the mode says nothing of that (files show
// 0666, or 0444 when read-only, whoever may open them: access control lists
// decide), so the check is left to the ACL the operator sets.
func othersMayRead(goos string, perm fs.FileMode) bool {
	return goos != "windows" && perm&0o077 != 0
}

// announceToken shows the first admin token once and keeps it in a 0600
// file in the data directory, so that a server started in the background can
// still be reached.
func (s *Server) announceToken(stderr io.Writer, token string) {
	path := filepath.Join(s.cfg.DataDir, InitialTokenFile)
	fmt.Fprintf(stderr, "\ncredflow: created the first admin API token (shown once; also written to %s):\n\n    %s\n\n", path, token)
	if err := os.WriteFile(path, []byte(token+"\n"), 0o600); err != nil {
		s.log.Error("could not write the initial admin token file", slog.String("file", path), slog.String("error", err.Error()))
	}
}

// Handler is the server's HTTP handler.
func (s *Server) Handler() http.Handler { return s.handler }

// DB is the metadata database, for tests that must reach under the API.
func (s *Server) DB() *metadb.DB { return s.db }

// DefaultCheckInterval is how often every store's and every connection's
// status is refreshed in the background.
const DefaultCheckInterval = 5 * time.Minute

// WithSignInWindow changes the window in which failed sign-ins are counted
// and audited (a minute), for tests.
func WithSignInWindow(d time.Duration) Option { return func(s *Server) { s.signInWindow = d } }

// WithCheckInterval changes how often connections are checked in the
// background.
func WithCheckInterval(d time.Duration) Option { return func(s *Server) { s.checkEvery = d } }

// WithPollClock replaces the clock by which the version poller decides
// which stores are due, for tests that move time on rather than wait.
func WithPollClock(now func() time.Time) Option { return func(s *Server) { s.pollClock = now } }

// startWorkers starts the goroutines the server owns: the group committer
// of resolve records, the periodic check of every store and connection and
// the audit checkpoint writer. Close stops them (the checkpoint writer writes
// a last checkpoint then).
func (s *Server) startWorkers(repo *metadb.Connections, conns *connection.Service, admin *storeadmin.Service) {
	ctx, cancel := context.WithCancel(context.Background())
	s.stop, s.done = cancel, make(chan struct{})
	var wg sync.WaitGroup
	if s.checkpoints != nil {
		wg.Add(1)
		go func() {
			defer wg.Done()
			s.checkpoints.Run(ctx)
		}()
	}
	wg.Add(6)
	go func() {
		defer wg.Done()
		repo.Run(ctx)
	}()
	go func() {
		defer wg.Done()
		s.prop.Run(ctx)
	}()
	go func() {
		defer wg.Done()
		s.events.Run(ctx)
	}()
	go func() {
		defer wg.Done()
		s.poller.Run(ctx)
	}()
	go func() {
		defer wg.Done()
		s.signIns.Run(ctx)
	}()
	go func() {
		defer wg.Done()
		t := time.NewTicker(s.checkEvery)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				if err := admin.CheckAll(ctx); err != nil && ctx.Err() == nil {
					s.log.Warn("store check failed", slog.String("error", err.Error()))
				}
				if err := conns.CheckAll(ctx); err != nil && ctx.Err() == nil {
					s.log.Warn("connection check failed", slog.String("error", err.Error()))
				}
			}
		}
	}()
	go func() {
		wg.Wait()
		close(s.done)
	}()
}

// Close stops the background workers and releases the database. Calling
// it again does nothing.
func (s *Server) Close() error {
	s.closeOnce.Do(func() {
		if s.stop != nil {
			s.stop()
			<-s.done
		}
		s.closeErr = s.db.Close()
	})
	return s.closeErr
}

// Run serves until ctx is cancelled, then shuts down gracefully. Logs, and
// the initial admin token on a first start, go to stderr.
func Run(ctx context.Context, cfg config.Config, stderr io.Writer) error {
	if err := cfg.Validate(); err != nil {
		return err
	}
	// Listen first: a server that cannot take its address must not create a
	// master key and a first admin token nobody will be able to use.
	ln, err := net.Listen("tcp", cfg.ListenAddr())
	if err != nil {
		return fmt.Errorf("listen on %s: %w", cfg.ListenAddr(), err)
	}
	defer ln.Close()
	s, err := New(ctx, cfg, stderr)
	if err != nil {
		return err
	}
	defer s.Close()
	if cfg.PprofAddr != "" {
		stop, err := servePprof(cfg.PprofAddr)
		if err != nil {
			return err
		}
		defer stop()
	}
	if cfg.MetricsAddr != "" {
		mln, err := net.Listen("tcp", cfg.MetricsAddr)
		if err != nil {
			return fmt.Errorf("metrics: listen on %s: %w", cfg.MetricsAddr, err)
		}
		defer s.ServeMetrics(mln)()
	}
	return s.Serve(ctx, ln)
}

// Serve serves on ln until ctx is cancelled, then drains requests for up to
// the shutdown timeout (15 seconds by default).
func (s *Server) Serve(ctx context.Context, ln net.Listener) error {
	hs := &http.Server{
		Handler:           s.handler,
		ReadHeaderTimeout: min(10*time.Second, s.cfg.Limits.ReadTimeout),
		ReadTimeout:       s.cfg.Limits.ReadTimeout,
		WriteTimeout:      s.cfg.Limits.WriteTimeout,
		IdleTimeout:       s.cfg.Limits.IdleTimeout,
		ErrorLog:          slog.NewLogLogger(s.log.Handler(), slog.LevelWarn),
	}
	scheme := "http"
	if s.cfg.TLS() {
		scheme = "https"
	}
	s.log.Info("credflow listening", slog.String("url", scheme+"://"+ln.Addr().String()), slog.String("version", version.String()),
		slog.String("database", string(s.db.Dialect())))
	errc := make(chan error, 1)
	go func() {
		if s.cfg.TLS() {
			errc <- hs.ServeTLS(ln, s.cfg.TLSCertFile, s.cfg.TLSKeyFile)
		} else {
			errc <- hs.Serve(ln)
		}
	}()
	select {
	case err := <-errc:
		return fmt.Errorf("serve: %w", err)
	case <-ctx.Done():
	}
	s.log.Info("shutting down")
	shutdownCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), s.cfg.Limits.ShutdownTimeout)
	defer cancel()
	if err := hs.Shutdown(shutdownCtx); err != nil {
		return fmt.Errorf("shutdown: %w", err)
	}
	s.log.Info("stopped")
	return nil
}

// ServeMetrics serves the Prometheus metrics without authentication at
// /metrics on ln until stop is called: for a scraper on a private network
// (serve --metrics-addr), beside the API's GET /metrics for admins.
func (s *Server) ServeMetrics(ln net.Listener) (stop func()) {
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", s.metrics.Handler())
	hs := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go hs.Serve(ln) //nolint:errcheck // ends with Close
	return func() { hs.Close() }
}

// servePprof serves Go's profiling endpoints on addr until stop is called.
func servePprof(addr string) (stop func(), err error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("pprof: listen on %s: %w", addr, err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	hs := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go hs.Serve(ln) //nolint:errcheck // ends with Close
	return func() { hs.Close() }, nil
}

// auditKeyName names the audit key among the values kept wrapped under the
// master key.
const auditKeyName = "audit-key"

// AuditKey returns the audit key of the built-in store st, opened with
// master: the one kept wrapped under the master key, or, the first time,
// the one derived from master, which is then kept so. A rotated master key
// thus opens the key the chain was sealed with.
func AuditKey(ctx context.Context, st *builtin.Store, master []byte) (*audit.Key, error) {
	b, ok, err := st.Unwrap(ctx, auditKeyName)
	if err != nil {
		return nil, fmt.Errorf("audit key: %w", err)
	}
	if ok {
		defer clear(b)
		return audit.KeyFromBytes(b)
	}
	k, err := audit.DeriveKey(master)
	if err != nil {
		return nil, err
	}
	b = k.Bytes()
	defer clear(b)
	if err := st.Wrap(ctx, auditKeyName, b); err != nil {
		return nil, fmt.Errorf("audit key: %w", err)
	}
	// Another replica may have kept its own first: read back the kept one.
	return AuditKey(ctx, st, master)
}
