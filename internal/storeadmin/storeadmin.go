// Package storeadmin registers, changes and removes the secret stores an
// instance reads from: it validates each kind's settings with that kind's
// own constructor, keeps them in the metadata database, runs a store's
// check when it is added, and keeps the run-time registry (each store behind
// its cache) in step. It knows store kinds only through the Kind values the
// composition root hands it, and never sees a secret value.
package storeadmin

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"

	"github.com/credflow/credflow/internal/access"
	"github.com/credflow/credflow/internal/audit"
	"github.com/credflow/credflow/internal/secretstore"
	"github.com/credflow/credflow/internal/secretstore/cache"
	"github.com/credflow/credflow/internal/validation"
)

// Sentinel errors, matched with errors.Is.
var (
	ErrNameTaken = errors.New("store name already taken")
	ErrBuiltin   = errors.New("the built-in store is part of credflow")
	ErrInUse     = errors.New("environment variables use the store")
)

// Kind is a kind of store this instance can register.
type Kind struct {
	// Name is the kind's name in the API, e.g. "azure-keyvault".
	Name string
	// Open validates settings strictly (a *validation.Error naming
	// "settings.<field>" for bad input) and returns the store registered
	// under name.
	Open func(name string, settings json.RawMessage) (secretstore.Store, error)
	// Public returns the settings as the API shows them: nothing that
	// could help anyone read a secret.
	Public func(settings json.RawMessage) (json.RawMessage, error)
}

// Store is a registered store.
type Store struct {
	ID           string
	Name         string
	Kind         string
	Settings     json.RawMessage
	CacheTTL     time.Duration
	StaleIfError time.Duration
	// PollInterval is how often the latest versions of the secrets that
	// variables reference are compared, for changes no event announced
	// (0: never). Default DefaultPollInterval.
	PollInterval time.Duration
	CreatedAt    time.Time
	UpdatedAt    time.Time
	// LastCheck is the outcome of the store's last check, nil when it was
	// never checked.
	LastCheck *CheckResult
}

// CheckResult is what the last check of a store found: whether every step
// about the store passed and, if not, the first that failed. Steps about
// the secret a check was asked to read do not count (a missing secret is
// not a sick store).
type CheckResult struct {
	OK     bool
	At     time.Time
	Step   string
	Detail string
	Hint   string
}

// ResultOf reduces a check's report to a CheckResult at time at.
func ResultOf(r secretstore.Report, at time.Time) CheckResult {
	for _, st := range r.Steps {
		if !st.OK && !st.Secret {
			return CheckResult{At: at, Step: st.Name, Detail: st.Detail, Hint: st.Hint}
		}
	}
	return CheckResult{OK: true, At: at}
}

// CheckRecorder is implemented by repositories that keep the outcome of
// each store's last check. Recording it is no change an audit record is
// needed for.
type CheckRecorder interface {
	RecordCheck(ctx context.Context, id string, c CheckResult) error
}

// The statuses of a store.
const (
	// StatusReady: the store is open and its last check (if any) passed.
	StatusReady = "ready"
	// StatusDegraded: the store is open but its last check failed; Health
	// names the step.
	StatusDegraded = "degraded"
	// StatusUnavailable: the store could not be opened with its settings.
	StatusUnavailable = "unavailable"
	// StatusSealed: the store cannot decrypt (its master key is missing).
	StatusSealed = "sealed"
	// StatusUnknown: the store is not registered on this server.
	StatusUnknown = "unknown"
)

// Health is a store's status and, when it is not ready, the step that says
// why.
type Health struct {
	Status    string
	Step      string
	Detail    string
	Hint      string
	CheckedAt time.Time // zero: never checked
}

// HealthOf derives a store's health from its registration and the store
// this server runs for it (nil: none), without calling the store: sealed
// or unopened first (this server cannot use it at all), then the last
// check's outcome.
func HealthOf(st Store, running secretstore.Store) Health {
	var h Health
	if st.LastCheck != nil {
		h.CheckedAt = st.LastCheck.At
	}
	u, unopened := running.(secretstore.Unopened)
	switch {
	case running == nil:
		h.Status, h.Detail = StatusUnknown, "the store is not registered on this server"
	case secretstore.IsSealed(running):
		h.Status, h.Detail = StatusSealed, "the store's master key is not loaded"
		h.Hint = "Restore the master key file the server was started with (--master-key-file) and restart."
	case unopened && u.OpenError() != nil:
		h.Status, h.Step, h.Detail = StatusUnavailable, "open the store", u.OpenError().Error()
		h.Hint = "Fix the store's settings (PATCH /api/v1/stores/{store}) or the files and variables they name."
	case st.LastCheck != nil && !st.LastCheck.OK:
		h.Status, h.Step, h.Detail, h.Hint = StatusDegraded, st.LastCheck.Step, st.LastCheck.Detail, st.LastCheck.Hint
	default:
		h.Status = StatusReady
	}
	return h
}

// Health is HealthOf the store with the one this server runs for it.
func (s *Service) Health(st Store) Health {
	running, _, err := s.registry.Lookup(st.Name)
	if err != nil {
		running = nil
	}
	return HealthOf(st, running)
}

// Repository keeps the registered stores.
type Repository interface {
	Create(ctx context.Context, s Store, e audit.Entry) error
	Get(ctx context.Context, idOrName string) (Store, error)
	List(ctx context.Context) ([]Store, error)
	Update(ctx context.Context, s Store, e audit.Entry) error
	// Delete removes a store no variable uses (else ErrInUse).
	Delete(ctx context.Context, id string, e audit.Entry) error
}

// Service manages stores.
type Service struct {
	repo     Repository
	kinds    map[string]Kind
	registry *secretstore.Registry
	now      func() time.Time
	// cacheBase, when set, gives each store's run-time cache the options
	// that are not the store's own (limits, an observer).
	cacheBase func(name, kind string) cache.Options

	mu sync.Mutex // serialises changes to the registry and loaded
	// loaded is what each store was last registered with here, so that
	// this server's own announcement of a change it has applied already
	// does not register the store again, dropping its cache.
	loaded map[string]registration
}

// BuiltinKind is the kind of the built-in store, which is not managed here.
const BuiltinKind = "builtin"

// New returns a Service that registers stores of the given kinds into
// registry.
func New(repo Repository, registry *secretstore.Registry, kinds ...Kind) *Service {
	m := map[string]Kind{}
	for _, k := range kinds {
		m[k.Name] = k
	}
	return &Service{repo: repo, kinds: m, registry: registry, now: time.Now, loaded: map[string]registration{}}
}

// CacheOptions is how a store's values are cached at run time.
func CacheOptions(s Store) cache.Options {
	return cache.Options{TTL: s.CacheTTL, StaleIfError: s.StaleIfError}
}

// CacheBase makes f give the run-time cache of every store registered from
// now on its options other than the store's own TTL and stale-if-error:
// the server's limits and the store's metrics. Call it before Load.
func (s *Service) CacheBase(f func(name, kind string) cache.Options) { s.cacheBase = f }

// newCache wraps a store in its run-time cache.
func (s *Service) newCache(store secretstore.Store, st Store) *cache.Store {
	var opts cache.Options
	if s.cacheBase != nil {
		opts = s.cacheBase(st.Name, st.Kind)
	}
	own := CacheOptions(st)
	opts.TTL, opts.StaleIfError = own.TTL, own.StaleIfError
	return cache.New(store, opts)
}

// Load registers every stored store of a managed kind. A store that cannot
// be opened (its settings name a file that is gone, say) is registered as
// unavailable, so that the rest of the instance works and the check says
// why.
func (s *Service) Load(ctx context.Context) error {
	stores, err := s.repo.List(ctx)
	if err != nil {
		return err
	}
	for _, st := range stores {
		if _, _, err := s.registry.Lookup(st.Name); st.Kind == BuiltinKind || err == nil {
			continue // registered by the composition root itself
		}
		s.register(st)
	}
	return nil
}

// Reload re-registers one store after another replica changed it (or
// unregisters it if it is gone).
func (s *Service) Reload(ctx context.Context, name string) error {
	st, err := s.repo.Get(ctx, name)
	if errors.Is(err, secretstore.ErrStoreNotFound) {
		s.mu.Lock()
		s.registry.Remove(name)
		delete(s.loaded, name)
		s.mu.Unlock()
		return nil
	}
	if err != nil || st.Kind == BuiltinKind {
		return err
	}
	s.mu.Lock()
	same := s.loaded[st.Name] == registrationOf(st)
	s.mu.Unlock()
	if !same {
		s.register(st)
	}
	return nil
}

// registration is what a registered store was opened and cached with.
type registration struct {
	id, kind, settings string
	ttl, stale         time.Duration
}

func registrationOf(st Store) registration {
	return registration{id: st.ID, kind: st.Kind, settings: string(st.Settings), ttl: st.CacheTTL, stale: st.StaleIfError}
}

func (s *Service) register(st Store) {
	s.mu.Lock()
	defer s.mu.Unlock()
	info := secretstore.Info{ID: st.ID, Name: st.Name, Kind: st.Kind}
	k, ok := s.kinds[st.Kind]
	var store secretstore.Store
	var err error
	if ok {
		store, err = k.Open(st.Name, st.Settings)
	} else {
		err = fmt.Errorf("kind %q is not supported by this credflow", st.Kind)
	}
	if err != nil {
		store = broken{err: err}
	}
	s.registry.AddWithReader(info, store, s.newCache(store, st))
	s.loaded[st.Name] = registrationOf(st)
}

// broken stands in for a store that could not be opened.
type broken struct{ err error }

var _ secretstore.Unopened = broken{}

// OpenError implements secretstore.Unopened.
func (b broken) OpenError() error { return b.err }

func (b broken) ParseRef(ref string) (secretstore.Ref, error) {
	return secretstore.Ref{}, fmt.Errorf("%w: the store could not be opened: %v", secretstore.ErrUnavailable, b.err)
}

func (b broken) Get(context.Context, secretstore.Ref) (secretstore.Secret, error) {
	return secretstore.Secret{}, fmt.Errorf("%w: the store could not be opened: %v", secretstore.ErrUnavailable, b.err)
}

func (b broken) Check(context.Context, string) secretstore.Report {
	return secretstore.Report{Steps: []secretstore.Step{{Name: "open the store", Detail: b.err.Error(),
		Hint: "Fix the store's settings (PATCH /api/v1/stores/{store}) or the files and variables they name."}}}
}

var nameRule = regexp.MustCompile(`^[a-z0-9][a-z0-9-]{0,62}$`)

// CreateInput describes a store to register.
type CreateInput struct {
	Name         string
	Kind         string
	Settings     json.RawMessage
	CacheTTL     *time.Duration
	StaleIfError *time.Duration
	PollInterval *time.Duration
}

// DefaultPollInterval is a new store's PollInterval.
const DefaultPollInterval = 5 * time.Minute

// MinPollInterval is the shortest PollInterval but 0 (never).
const MinPollInterval = 10 * time.Second

// Create registers a store and runs its check; the store is saved even when
// the check fails, and the report says which step did.
func (s *Service) Create(ctx context.Context, p access.Principal, in CreateInput) (Store, *secretstore.Report, error) {
	var ve validation.Error
	if !nameRule.MatchString(in.Name) {
		ve.Add("name", "must be 1-63 characters of lowercase letters, digits and '-', starting with a letter or digit")
	}
	k, ok := s.kinds[in.Kind]
	switch {
	case in.Kind == BuiltinKind:
		ve.Add("kind", "the built-in store exists already, as local")
	case !ok:
		ve.Add("kind", fmt.Sprintf("must be one of %s", strings.Join(s.kindNames(), ", ")))
	}
	now := s.now().UTC()
	st := Store{ID: uuid.Must(uuid.NewV7()).String(), Name: in.Name, Kind: in.Kind, Settings: in.Settings,
		CacheTTL: time.Minute, PollInterval: DefaultPollInterval, CreatedAt: now, UpdatedAt: now}
	checkDurations(&ve, &st, in.CacheTTL, in.StaleIfError)
	checkPoll(&ve, &st, in.PollInterval)
	if err := ve.Err(); err != nil {
		return Store{}, nil, err
	}
	if len(st.Settings) == 0 {
		st.Settings = json.RawMessage("{}")
	}
	store, err := k.Open(st.Name, st.Settings)
	if err != nil {
		return Store{}, nil, err
	}
	if err := s.repo.Create(ctx, st, audit.Entry{Actor: p.Name, Action: "store.create", Resource: "store:" + st.Name,
		Outcome: audit.Success, Reason: "kind " + st.Kind}); err != nil {
		return Store{}, nil, fmt.Errorf("register store %s: %w", st.Name, err)
	}
	s.mu.Lock()
	s.registry.AddWithReader(secretstore.Info{ID: st.ID, Name: st.Name, Kind: st.Kind}, store, s.newCache(store, st))
	s.loaded[st.Name] = registrationOf(st)
	s.mu.Unlock()
	var report *secretstore.Report
	if c, ok := store.(secretstore.Checker); ok {
		r := c.Check(ctx, "")
		report = &r
		if err := s.record(ctx, &st, r); err != nil {
			return Store{}, nil, err
		}
	}
	return st, report, nil
}

// record keeps a check's outcome as the store's last check, where the
// repository can.
func (s *Service) record(ctx context.Context, st *Store, r secretstore.Report) error {
	rec, ok := s.repo.(CheckRecorder)
	if !ok {
		return nil
	}
	res := ResultOf(r, s.now().UTC())
	if err := rec.RecordCheck(ctx, st.ID, res); err != nil {
		return fmt.Errorf("record the check of store %s: %w", st.Name, err)
	}
	st.LastCheck = &res
	return nil
}

func checkDurations(ve *validation.Error, st *Store, ttl, stale *time.Duration) {
	if ttl != nil {
		if *ttl < 0 || *ttl > 24*time.Hour {
			ve.Add("cacheTTL", "must be from 0s (no cache) to 24h")
		}
		st.CacheTTL = *ttl
	}
	if stale != nil {
		if *stale < 0 || *stale > 7*24*time.Hour {
			ve.Add("staleIfError", "must be from 0s (never) to 168h")
		}
		st.StaleIfError = *stale
	}
}

func checkPoll(ve *validation.Error, st *Store, poll *time.Duration) {
	if poll == nil {
		return
	}
	if *poll != 0 && (*poll < MinPollInterval || *poll > 24*time.Hour) {
		ve.Add("pollInterval", fmt.Sprintf("must be 0s (never) or from %s to 24h", MinPollInterval))
	}
	st.PollInterval = *poll
}

func (s *Service) kindNames() []string {
	var out []string
	for n := range s.kinds {
		out = append(out, n)
	}
	return out
}

// Get returns a store by id or name.
func (s *Service) Get(ctx context.Context, idOrName string) (Store, error) {
	return s.repo.Get(ctx, idOrName)
}

// List returns every registered store.
func (s *Service) List(ctx context.Context) ([]Store, error) {
	return s.repo.List(ctx)
}

// Public returns a store's settings as the API shows them.
func (s *Service) Public(st Store) json.RawMessage {
	k, ok := s.kinds[st.Kind]
	if !ok || k.Public == nil {
		return json.RawMessage("{}")
	}
	pub, err := k.Public(st.Settings)
	if err != nil {
		return json.RawMessage("{}")
	}
	return pub
}

// UpdateInput changes a store; nil fields stay.
type UpdateInput struct {
	Settings     json.RawMessage
	CacheTTL     *time.Duration
	StaleIfError *time.Duration
	PollInterval *time.Duration
}

// Update changes a store's settings or cache, re-opening it. New settings
// are checked at once, like a new store's: the report says how the check
// went (nil when the settings did not change or the kind has no check),
// and its outcome is the store's last check.
func (s *Service) Update(ctx context.Context, p access.Principal, idOrName string, in UpdateInput) (Store, *secretstore.Report, error) {
	st, err := s.repo.Get(ctx, idOrName)
	if err != nil {
		return Store{}, nil, err
	}
	var ve validation.Error
	if in.Settings != nil && st.Kind == BuiltinKind {
		ve.Add("settings", "the built-in store has no settings")
	}
	checkDurations(&ve, &st, in.CacheTTL, in.StaleIfError)
	checkPoll(&ve, &st, in.PollInterval)
	if err := ve.Err(); err != nil {
		return Store{}, nil, err
	}
	if in.Settings != nil {
		if _, err := s.kinds[st.Kind].Open(st.Name, in.Settings); err != nil {
			return Store{}, nil, err
		}
		st.Settings = in.Settings
	}
	st.UpdatedAt = s.now().UTC()
	if err := s.repo.Update(ctx, st, audit.Entry{Actor: p.Name, Action: "store.update", Resource: "store:" + st.Name, Outcome: audit.Success}); err != nil {
		return Store{}, nil, fmt.Errorf("update store %s: %w", st.Name, err)
	}
	if st.Kind == BuiltinKind {
		s.mu.Lock()
		raw, info, err := s.registry.Lookup(st.Name)
		if err == nil {
			s.registry.AddWithReader(info, raw, s.newCache(raw, st))
		}
		s.mu.Unlock()
		return st, nil, nil
	}
	s.register(st)
	if in.Settings == nil {
		return st, nil, nil
	}
	running, _, err := s.registry.Lookup(st.Name)
	if err != nil {
		return st, nil, nil
	}
	c, ok := running.(secretstore.Checker)
	if !ok {
		return st, nil, nil
	}
	r := c.Check(ctx, "")
	if err := s.record(ctx, &st, r); err != nil {
		return Store{}, nil, err
	}
	return st, &r, nil
}

// Delete unregisters a store that no variable references.
func (s *Service) Delete(ctx context.Context, p access.Principal, idOrName string) error {
	st, err := s.repo.Get(ctx, idOrName)
	if err != nil {
		return err
	}
	if st.Kind == BuiltinKind {
		return fmt.Errorf("%w: it cannot be removed", ErrBuiltin)
	}
	if err := s.repo.Delete(ctx, st.ID, audit.Entry{Actor: p.Name, Action: "store.delete", Resource: "store:" + st.Name, Outcome: audit.Success}); err != nil {
		return err
	}
	s.mu.Lock()
	s.registry.Remove(st.Name)
	delete(s.loaded, st.Name)
	s.mu.Unlock()
	return nil
}

// Check runs a store's check, optionally reading one secret, and keeps its
// outcome as the store's last check (which decides whether the store is
// degraded).
func (s *Service) Check(ctx context.Context, idOrName, secretName string) (secretstore.Report, error) {
	st, err := s.repo.Get(ctx, idOrName)
	if err != nil {
		return secretstore.Report{}, err
	}
	store, info, err := s.registry.Lookup(st.Name)
	if err != nil {
		return secretstore.Report{}, err
	}
	var r secretstore.Report
	if c, ok := store.(secretstore.Checker); ok {
		r = c.Check(ctx, secretName)
	} else {
		r = genericCheck(ctx, store, info, secretName)
	}
	if err := s.record(ctx, &st, r); err != nil {
		return secretstore.Report{}, err
	}
	return r, nil
}

// CheckAll checks every registered store (reading no secret) and keeps
// each outcome, for the periodic background check: a store that failed
// comes back to ready on its own once it passes again.
func (s *Service) CheckAll(ctx context.Context) error {
	stores, err := s.repo.List(ctx)
	if err != nil {
		return err
	}
	var errs []error
	for _, st := range stores {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if err := s.checkContained(ctx, st.ID); err != nil && !errors.Is(err, secretstore.ErrStoreNotFound) {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// checkContained checks one store for the background sweep, where a store
// client's panic would end the process: it fails that store's check
// instead.
func (s *Service) checkContained(ctx context.Context, id string) (err error) {
	defer secretstore.ContainPanic("check store "+id, &err)
	_, err = s.Check(ctx, id, "")
	return err
}

// genericCheck is the check of a store that has no check of its own: is it
// unsealed, and can it read the named secret.
func genericCheck(ctx context.Context, store secretstore.Store, info secretstore.Info, secretName string) secretstore.Report {
	r := secretstore.Report{OK: true}
	add := func(st secretstore.Step) {
		r.Steps = append(r.Steps, st)
		r.OK = r.OK && st.OK
	}
	if secretstore.IsSealed(store) {
		add(secretstore.Step{Name: "unsealed", Detail: "the store's master key is not loaded",
			Hint: "Restore the master key file the server was started with (--master-key-file) and restart."})
		return r
	}
	add(secretstore.Step{Name: "unsealed", OK: true, Detail: "the store can decrypt"})
	if secretName == "" {
		return r
	}
	// The read decrypts, as a resolve would: a stored secret that fails its
	// integrity check must fail this step. The value goes nowhere.
	ref, err := store.ParseRef(secretName)
	if err == nil {
		_, err = store.Get(ctx, ref)
	}
	if errors.Is(err, secretstore.ErrCorrupt) {
		add(secretstore.Step{Name: "read secret " + secretName, Detail: secretstore.Describe(err),
			Hint: "The stored data of secret " + secretName + " was changed outside credflow. Write the secret again."})
		return r
	}
	if err != nil {
		add(secretstore.Step{Name: "read secret " + secretName, Detail: secretstore.Describe(err), Secret: true,
			Hint: "Check the secret's name, and that it exists in store " + info.Name + "."})
		return r
	}
	add(secretstore.Step{Name: "read secret " + secretName, OK: true, Detail: "the secret exists and can be read", Secret: true})
	return r
}

// PollInterval returns how often the store's referenced secrets are polled
// for new versions (0: never).
func (s *Service) PollInterval(ctx context.Context, store string) (time.Duration, error) {
	st, err := s.repo.Get(ctx, store)
	if err != nil {
		return 0, err
	}
	return st.PollInterval, nil
}
