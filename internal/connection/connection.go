// Package connection binds a credential to the runner group whose machines
// run the automation, and resolves it at run time: it checks that the
// calling runner belongs to the group, that the connection's owner may still
// use the credential and that the credential is enabled, then reads the
// username and password through the cached stores and records who received
// which secret version. It never keeps or logs a value.
package connection

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/google/uuid"

	"github.com/credflow/credflow/internal/access"
	"github.com/credflow/credflow/internal/audit"
	"github.com/credflow/credflow/internal/credential"
	"github.com/credflow/credflow/internal/envvar"
	"github.com/credflow/credflow/internal/rotation"
	"github.com/credflow/credflow/internal/secretstore"
	"github.com/credflow/credflow/internal/validation"
)

// Sentinel errors, matched with errors.Is.
var (
	ErrNotFound           = errors.New("connection not found")
	ErrNameTaken          = errors.New("connection name already taken")
	ErrBroken             = errors.New("connection is broken: its credential was deleted")
	ErrOwnerLostAccess    = errors.New("the connection's owner may no longer use its credential or its variables")
	ErrCredentialDisabled = errors.New("credential is disabled")
	// ErrAbandoned: the caller gave up (disconnected) before the values
	// were read; the store call was cancelled with it.
	ErrAbandoned = errors.New("abandoned: the caller disconnected before the values were read")
)

// Statuses of a connection.
const (
	StatusUnknown   = "unknown"
	StatusConnected = "connected"
	StatusError     = "error"
	StatusBroken    = "broken"
	// StatusDisabled: the credential is disabled, so nobody can resolve
	// the connection, whatever its last resolve or check said.
	StatusDisabled = "disabled"
)

// Connection binds a credential to a runner group.
type Connection struct {
	ID                string
	Name              string
	CredentialID      string // "" once broken
	Credential        string
	RunnerGroupID     string
	RunnerGroup       string
	OwnerID           string
	Owner             string
	Status            string // as recorded; the service answers with EffectiveStatus
	LastError         string
	LastErrorAt       time.Time
	LastResolvedAt    time.Time
	LastSecretVersion string
	CreatedAt         time.Time
	UpdatedAt         time.Time
	CredentialEnabled bool // the credential's enabled flag, filled by the repository
}

// Target is everything a resolve needs, read in one go.
type Target struct {
	Connection Connection
	Credential credential.Credential
	Username   envvar.Variable
	Password   envvar.Variable
}

// RunnerState is what one runner last received through a connection.
type RunnerState struct {
	RunnerID      string
	Runner        string
	SecretVersion string
	ResolvedAt    time.Time
}

// Resolution is the record of one resolve, allowed or not.
type Resolution struct {
	ConnectionID  string // "" when the connection was not found
	RunnerID      string
	SecretVersion string
	At            time.Time
	// Status is what the repository writes as the connection's status:
	// StatusConnected or StatusError, or "" to leave it as it is (a resolve
	// refused before any secret was read says nothing of the connection).
	Status  string
	Failure string // what failed, for people, without any store's own text
	Audit   audit.Entry
	Request audit.Request
}

// Repository is the storage the service needs.
type Repository interface {
	Create(ctx context.Context, c Connection, e audit.Entry) error
	Get(ctx context.Context, idOrName string) (Connection, error)
	List(ctx context.Context, v access.Viewer, after string, limit int) ([]Connection, error)
	Delete(ctx context.Context, id string, e audit.Entry) error
	// Target reads a connection with its credential and variables.
	Target(ctx context.Context, idOrName string) (Target, error)
	Runners(ctx context.Context, id string) ([]RunnerState, error)
	// Record durably writes resolutions (audit records, runner states and
	// the connection's status) before it returns; it batches concurrent
	// callers into one transaction.
	Record(ctx context.Context, r Resolution) error
	// SetStatus writes a connection's status as of at: for StatusConnected
	// the secret version read, for any other status the failure.
	SetStatus(ctx context.Context, id, status string, at time.Time, version, failure string) error
	// IDs lists every connection's id, for the background check.
	IDs(ctx context.Context) ([]string, error)
	// Generation identifies the state of the data; cached answers are good
	// while it is unchanged. ok=false forbids caching.
	Generation() (gen uint64, ok bool)
}

// Access answers who may do what; *access.Service implements it.
type Access interface {
	Require(ctx context.Context, p access.Principal, obj access.Object, action string, ok func(access.ObjectRole) bool) (access.ObjectRole, error)
	RoleOnUntil(ctx context.Context, p access.Principal, obj access.Object) (access.ObjectRole, time.Time, error)
	PrincipalOf(ctx context.Context, userID string) (access.Principal, error)
	RunnerGroup(ctx context.Context, idOrName string) (access.RunnerGroup, error)
	ViewerOf(p access.Principal) access.Viewer
	Deny(ctx context.Context, p access.Principal, action, resource, reason string)
	NewOwner(ctx context.Context, field, ref string) (access.Principal, error)
	CanUseAll(ctx context.Context, p access.Principal, objs ...access.Object) (access.Object, bool, error)
	ChangeOwner(ctx context.Context, p access.Principal, ch access.OwnerChange) error
}

// Credentials finds the credentials a principal may see.
type Credentials interface {
	Get(ctx context.Context, p access.Principal, idOrName string) (credential.Credential, error)
}

// Readers reads secrets at run time; *secretstore.Registry implements it.
type Readers interface {
	Reader(name string) (secretstore.Store, secretstore.Info, error)
}

// Service applies the rules for connections and resolves them.
type Service struct {
	repo    Repository
	access  Access
	creds   Credentials
	readers Readers
	now     func() time.Time

	log      *slog.Logger
	warnings storeWarnings
	states   SecretStates
	prop     Propagation

	// plans caches what a resolve of a connection needs to decide, by the
	// key it was asked with, while the repository's generation is the one
	// it was read at.
	plansMu sync.Mutex
	plans   map[string]plan
}

// plan is a connection's target and whether its owner may still use the
// credential and both its variables.
type plan struct {
	gen uint64
	t   Target
	// lost names what the owner may no longer use ("" when they may use
	// all three).
	lost  string
	until time.Time // the answer holds until then (zero: until a change)
}

// maxPlans bounds the plan cache; past it the cache starts over.
const maxPlans = 10000

// Option adjusts a Service.
type Option func(*Service)

// SecretStates keeps what reads learn of secret variables' secrets;
// *envvar.Service implements it.
type SecretStates interface {
	Observe(ctx context.Context, v envvar.Variable, meta secretstore.Meta, readErr error, always bool) (bool, error)
}

// WithSecretStates sets where resolves and checks report what they learned
// of the variables' secrets (default: nowhere).
func WithSecretStates(st SecretStates) Option { return func(s *Service) { s.states = st } }

// Propagation is told which secrets runs received, to measure how long a
// new version takes to reach one; *rotation.Propagation implements it.
type Propagation interface {
	// Waiting reports whether any change waits for a run; while none
	// does, a resolve tells nothing.
	Waiting() bool
	// Served tells that a resolve which started at started received the
	// latest version of r.Store's secret r.Secret.
	Served(started time.Time, r rotation.Reached)
}

// WithPropagation sets what resolves tell which secrets they received
// (default: nothing).
func WithPropagation(p Propagation) Option { return func(s *Service) { s.prop = p } }

// WithLogger sets where a store's failure to give a value at run time is
// logged (default: nowhere).
func WithLogger(l *slog.Logger) Option { return func(s *Service) { s.log = l } }

// NewService returns a Service.
func NewService(repo Repository, acc Access, creds Credentials, readers Readers, opts ...Option) *Service {
	s := &Service{repo: repo, access: acc, creds: creds, readers: readers, now: time.Now, plans: map[string]plan{},
		log: slog.New(slog.DiscardHandler), warnings: storeWarnings{last: map[string]storeWarning{}}}
	for _, o := range opts {
		o(s)
	}
	return s
}

// Object names c for access checks and audit records.
func Object(c Connection) access.Object {
	return access.Object{Kind: access.KindConnection, ID: c.ID, Name: c.Name}
}

// CreateInput describes a new connection.
type CreateInput struct {
	Name        string
	Credential  string // id or name
	RunnerGroup string // id or name
}

// Create binds a credential p may use to a runner group; p owns the
// connection.
func (s *Service) Create(ctx context.Context, p access.Principal, in CreateInput) (Connection, error) {
	var ve validation.Error
	switch {
	case strings.TrimSpace(in.Name) == "":
		ve.Add("name", "is required")
	case in.Name != strings.TrimSpace(in.Name):
		ve.Add("name", "must not start or end with white space")
	case utf8.RuneCountInString(in.Name) > 100:
		ve.Add("name", "must be at most 100 characters")
	case validation.HasControl(in.Name):
		ve.Add("name", validation.ControlRule)
	}
	if in.Credential == "" {
		ve.Add("credential", "is required: the id or name of a credential you may use")
	}
	if in.RunnerGroup == "" {
		ve.Add("runnerGroup", "is required: the id or name of a runner group")
	}
	if err := ve.Err(); err != nil {
		return Connection{}, err
	}
	cred, err := s.creds.Get(ctx, p, in.Credential)
	if errors.Is(err, credential.ErrNotFound) {
		return Connection{}, validation.Field("credential", fmt.Sprintf("names no credential you may use (%q)", in.Credential))
	}
	if err != nil {
		return Connection{}, err
	}
	group, err := s.access.RunnerGroup(ctx, in.RunnerGroup)
	if errors.Is(err, access.ErrNotFound) {
		return Connection{}, validation.Field("runnerGroup", fmt.Sprintf("names no runner group (%q)", in.RunnerGroup))
	}
	if err != nil {
		return Connection{}, err
	}
	now := s.now().UTC()
	c := Connection{ID: uuid.Must(uuid.NewV7()).String(), Name: in.Name, CredentialID: cred.ID, RunnerGroupID: group.ID,
		OwnerID: p.ID, Status: StatusUnknown, CreatedAt: now, UpdatedAt: now}
	if err := s.repo.Create(ctx, c, audit.Entry{Actor: p.Name, Action: "connection.create", Resource: "connection:" + c.Name,
		Outcome: audit.Success, Reason: "credential " + cred.Name + ", runner group " + group.Name}); err != nil {
		return Connection{}, fmt.Errorf("create connection %q: %w", c.Name, err)
	}
	c, err = s.repo.Get(ctx, c.ID)
	return withStatus(c), err
}

// EffectiveStatus is a connection's status as people should see it: broken
// once its credential is gone, disabled while its credential is disabled,
// else the recorded outcome of its last resolve or check (unknown,
// connected or error).
func EffectiveStatus(c Connection) string {
	switch {
	case c.CredentialID == "":
		return StatusBroken
	case !c.CredentialEnabled:
		return StatusDisabled
	}
	return c.Status
}

func withStatus(c Connection) Connection {
	c.Status = EffectiveStatus(c)
	return c
}

// visible returns the connection if p owns it or is an admin; others get
// ErrNotFound, exactly as for a missing one.
func (s *Service) visible(ctx context.Context, p access.Principal, idOrName, action string) (Connection, error) {
	c, err := s.repo.Get(ctx, idOrName)
	if err != nil {
		return Connection{}, err
	}
	if !p.IsAdmin() && c.OwnerID != p.ID {
		s.access.Deny(ctx, p, action, "connection:"+c.Name, "not the connection's owner")
		return Connection{}, fmt.Errorf("%w: %q", ErrNotFound, idOrName)
	}
	return withStatus(c), nil
}

// Get returns a connection p owns (any, for an admin).
func (s *Service) Get(ctx context.Context, p access.Principal, idOrName string) (Connection, error) {
	return s.visible(ctx, p, idOrName, "connection.read")
}

// List returns a page of the connections p owns (all, for an admin).
func (s *Service) List(ctx context.Context, p access.Principal, after string, limit int) ([]Connection, error) {
	cs, err := s.repo.List(ctx, s.access.ViewerOf(p), after, limit)
	for i := range cs {
		cs[i] = withStatus(cs[i])
	}
	return cs, err
}

// Delete removes a connection p owns.
func (s *Service) Delete(ctx context.Context, p access.Principal, idOrName string) error {
	c, err := s.visible(ctx, p, idOrName, "connection.delete")
	if err != nil {
		return err
	}
	return s.repo.Delete(ctx, c.ID, audit.Entry{Actor: p.Name, Action: "connection.delete", Resource: "connection:" + c.Name, Outcome: audit.Success})
}

// Runners lists which secret version each runner last received.
func (s *Service) Runners(ctx context.Context, p access.Principal, idOrName string) ([]RunnerState, error) {
	c, err := s.visible(ctx, p, idOrName, "connection.read")
	if err != nil {
		return nil, err
	}
	return s.repo.Runners(ctx, c.ID)
}

// Resolved is what a runner receives.
type Resolved struct {
	Username      secretstore.Value
	Password      secretstore.Value
	Credential    string
	SecretVersion string
	ResolvedAt    time.Time
	Stale         bool
}

// StoreError says a store failed to give a value at run time. Err wraps the
// store's sentinel.
type StoreError struct {
	Store string
	Ref   string
	Err   error
}

func (e *StoreError) Error() string {
	return fmt.Sprintf("read secret %q from store %q: %v", e.Ref, e.Store, e.Err)
}

func (e *StoreError) Unwrap() error { return e.Err }

// Resolve checks, in this order and before any cache is consulted, that p is
// a runner of the connection's group, that the connection's owner may still
// use the credential, and that the credential is enabled; then it reads the
// values and records the resolve durably. Every outcome is audited.
func (s *Service) Resolve(ctx context.Context, p access.Principal, idOrName string) (Resolved, error) {
	now := s.now().UTC()
	rec := Resolution{RunnerID: p.ID, At: now, Request: audit.RequestFrom(ctx),
		Audit: audit.Entry{Actor: p.Name, Action: "connection.resolve", Resource: "connection:" + idOrName}}
	out, err := s.resolve(ctx, p, idOrName, &rec)
	if err != nil && ctx.Err() != nil {
		// Nothing was learnt of the connection or its store: the read
		// failed because the caller left.
		err = fmt.Errorf("%w: %w", ErrAbandoned, err)
	}
	rec.Status, rec.Failure = statusAfterResolve(err), FailureText(err)
	switch {
	case err == nil:
		rec.Audit.Outcome = audit.Success
	case errors.Is(err, ErrNotFound), errors.Is(err, ErrOwnerLostAccess), errors.Is(err, ErrCredentialDisabled), errors.Is(err, ErrBroken):
		rec.Audit.Outcome = audit.Denied
	default:
		rec.Audit.Outcome = audit.Failure
	}
	s.warnStore(ctx, rec.Audit.Resource, err)
	if err != nil && rec.Audit.Reason == "" {
		rec.Audit.Reason = err.Error()
		var se *StoreError
		if errors.As(err, &se) {
			// The store's own text stays out of the trail as it stays out
			// of answers: credflow's words name the failure and the secret.
			rec.Audit.Reason = rec.Failure
		}
	}
	// The record must be durable before the runner gets anything: if it
	// cannot be written, the resolve fails.
	if werr := s.record(ctx, rec); werr != nil {
		return Resolved{}, fmt.Errorf("record resolve: %w", werr)
	}
	if s.log.Enabled(ctx, slog.LevelDebug) {
		s.log.LogAttrs(ctx, slog.LevelDebug, "connection resolved", slog.String("resource", rec.Audit.Resource),
			slog.String("runner", p.Name), slog.String("outcome", string(rec.Audit.Outcome)),
			slog.Duration("took", s.now().Sub(now)))
	}
	return out, err
}

// recordTimeout bounds the wait for a resolve's record to be durable once
// its caller has left.
const recordTimeout = 10 * time.Second

// record writes a resolve's record durably. The record is written even when
// the caller has left meanwhile: every resolve is audited, an abandoned one
// too.
func (s *Service) record(ctx context.Context, rec Resolution) error {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), recordTimeout)
	defer cancel()
	return s.repo.Record(ctx, rec)
}

// Refuse records a resolve that was refused before it could start, because
// its request was malformed (reason says how), and returns refusal, or the
// failure to record it. The connection is named as given, quoted so that no
// byte of a malformed id reaches the trail raw.
func (s *Service) Refuse(ctx context.Context, p access.Principal, idOrName string, refusal error) error {
	rec := Resolution{RunnerID: p.ID, At: s.now().UTC(), Request: audit.RequestFrom(ctx),
		Failure: "malformed request",
		Audit: audit.Entry{Actor: p.Name, Action: "connection.resolve", Resource: "connection:" + strconv.QuoteToASCII(idOrName),
			Outcome: audit.Denied, Reason: "malformed request: " + refusal.Error()}}
	if err := s.record(ctx, rec); err != nil {
		return fmt.Errorf("record resolve: %w", err)
	}
	return refusal
}

func (s *Service) resolve(ctx context.Context, p access.Principal, idOrName string, rec *Resolution) (Resolved, error) {
	pl, err := s.plan(ctx, idOrName)
	if err != nil {
		return Resolved{}, err
	}
	t := pl.t
	c := t.Connection
	rec.ConnectionID = c.ID
	rec.Audit.Resource = "connection:" + c.Name
	if p.Role != access.RoleRunner || p.RunnerGroupID != c.RunnerGroupID {
		// Answered exactly like a missing connection; only the audit
		// record says why.
		rec.Audit.Reason = "the caller is not a runner of the connection's runner group"
		return Resolved{}, fmt.Errorf("%w: %q", ErrNotFound, idOrName)
	}
	if c.CredentialID == "" {
		return Resolved{}, fmt.Errorf("%w (connection %s)", ErrBroken, c.Name)
	}
	rec.Audit.Resource += " credential:" + t.Credential.Name
	if pl.lost != "" {
		return Resolved{}, fmt.Errorf("%w: %s may not use %s", ErrOwnerLostAccess, c.Owner, pl.lost)
	}
	if !t.Credential.Enabled {
		return Resolved{}, fmt.Errorf("%w: %s", ErrCredentialDisabled, t.Credential.Name)
	}
	if v := pendingOf(t); v != "" {
		// The background check records a completed validation as run-time
		// state, which leaves cached plans alone: ask the database.
		fresh, err := s.repo.Target(ctx, c.ID)
		if err != nil {
			return Resolved{}, err
		}
		if v := pendingOf(fresh); v != "" {
			return Resolved{}, fmt.Errorf("%w: %s was imported without a read of its secret; validate it first", envvar.ErrPendingValidation, v)
		}
		t.Username, t.Password = fresh.Username, fresh.Password
	}
	user, err := s.read(ctx, t.Username)
	s.observe(ctx, t.Username, user, err, false)
	if err != nil {
		return Resolved{}, err
	}
	pass, err := s.read(ctx, t.Password)
	s.observe(ctx, t.Password, pass, err, false)
	if err != nil {
		return Resolved{}, err
	}
	if s.prop != nil && s.prop.Waiting() {
		s.served(p, c.Name, rec.At, t.Username, user)
		s.served(p, c.Name, rec.At, t.Password, pass)
	}
	rec.SecretVersion = pass.Version
	rec.Audit.Reason = "secret version " + pass.Version
	if pass.Stale || user.Stale {
		rec.Audit.Reason += "; stale: the store failed and the last good value was served"
	}
	return Resolved{Username: user.Value, Password: pass.Value, Credential: t.Credential.Name,
		SecretVersion: pass.Version, ResolvedAt: rec.At, Stale: pass.Stale || user.Stale}, nil
}

// served tells the propagation measure that a resolve which started at
// started received v's secret: its latest version, read from the store or a
// cache filled after the last change (a pinned version, a text value or a
// stale value tells nothing).
func (s *Service) served(p access.Principal, conn string, started time.Time, v envvar.Variable, sec secretstore.Secret) {
	var storeName, rawRef string
	switch {
	case sec.Stale:
		return
	case v.From != nil:
		storeName, rawRef = v.From.Store, v.From.Ref
	case v.Type == envvar.TypeSecret && v.Secret != nil:
		storeName, rawRef = v.Secret.Store, v.Secret.Ref
	default:
		return
	}
	store, _, err := s.readers.Reader(storeName)
	if err != nil {
		return
	}
	ref, err := store.ParseRef(rawRef)
	if err != nil || ref.Version != "" {
		return
	}
	s.prop.Served(started, rotation.Reached{Store: storeName, Secret: ref.Name, At: s.now().UTC(),
		Version: sec.Version, Runner: p.Name, Connection: conn})
}

// pendingOf names a variable of t that is pending validation, or "".
func pendingOf(t Target) string {
	for _, v := range []envvar.Variable{t.Username, t.Password} {
		if v.Secret != nil && v.Secret.Problem == envvar.StatusPendingValidation {
			return v.SchemaName
		}
	}
	return ""
}

// plan returns what a resolve of idOrName needs to decide: from the cache
// while nothing changed since it was read and no share it rests on expired,
// else from the repository.
func (s *Service) plan(ctx context.Context, idOrName string) (plan, error) {
	key := strings.ToLower(idOrName)
	gen, cacheable := s.repo.Generation()
	if cacheable {
		s.plansMu.Lock()
		pl, ok := s.plans[key]
		s.plansMu.Unlock()
		if ok && pl.gen == gen && (pl.until.IsZero() || s.now().Before(pl.until)) {
			return pl, nil
		}
	}
	t, err := s.repo.Target(ctx, idOrName)
	if err != nil {
		return plan{}, err
	}
	pl := plan{gen: gen, t: t}
	if t.Connection.CredentialID != "" {
		owner, err := s.access.PrincipalOf(ctx, t.Connection.OwnerID)
		if err != nil {
			return plan{}, err
		}
		if pl.lost, pl.until, err = s.ownerLost(ctx, owner, t); err != nil {
			return plan{}, err
		}
	}
	if cacheable {
		s.plansMu.Lock()
		if len(s.plans) >= maxPlans {
			clear(s.plans)
		}
		s.plans[key] = pl
		s.plansMu.Unlock()
	}
	return pl, nil
}

// ownerLost names the first of the credential and its two variables that
// owner may not use ("" when they may use all three), and the time until
// which that answer holds (zero: until something changes). A connection
// rests on all three: a variable share that is removed or expires stops its
// resolves, as a removed credential share does.
func (s *Service) ownerLost(ctx context.Context, owner access.Principal, t Target) (string, time.Time, error) {
	var until time.Time
	for _, o := range []struct {
		obj  access.Object
		what string
	}{
		{credential.Object(t.Credential), "credential " + t.Credential.Name},
		{envvar.Object(t.Username), "environment variable " + t.Username.SchemaName + " (the username)"},
		{envvar.Object(t.Password), "environment variable " + t.Password.SchemaName + " (the password)"},
	} {
		role, u, err := s.access.RoleOnUntil(ctx, owner, o.obj)
		if err != nil {
			return "", time.Time{}, err
		}
		if !role.CanUse() {
			return o.what, u, nil
		}
		if !u.IsZero() && (until.IsZero() || u.Before(until)) {
			until = u
		}
	}
	return "", until, nil
}

// read returns a variable's value: a text variable's own, a secret
// variable's from its store.
func (s *Service) read(ctx context.Context, v envvar.Variable) (secretstore.Secret, error) {
	switch {
	case v.From != nil:
		return s.readField(ctx, *v.From)
	case v.Type == envvar.TypeText:
		return secretstore.Secret{Value: secretstore.NewValue(v.Value)}, nil
	}
	return s.readSecret(ctx, v.Secret.Store, v.Secret.Ref)
}

// readSecret reads a secret through its store's run-time reader (the
// cache).
func (s *Service) readSecret(ctx context.Context, storeName, rawRef string) (secretstore.Secret, error) {
	store, _, err := s.readers.Reader(storeName)
	if err != nil {
		return secretstore.Secret{}, &StoreError{Store: storeName, Ref: rawRef, Err: err}
	}
	debug := s.log.Enabled(ctx, slog.LevelDebug)
	var start time.Time
	if debug {
		start = time.Now()
	}
	ref, err := store.ParseRef(rawRef)
	var sec secretstore.Secret
	if err == nil {
		sec, err = store.Get(ctx, ref)
	}
	if debug {
		// What was read, never the value: the version, whether it was a
		// stale serve, and how the read ended.
		outcome := "read"
		if err != nil {
			outcome = secretstore.Describe(err)
		}
		s.log.LogAttrs(ctx, slog.LevelDebug, "secret read", slog.String("store", storeName), slog.String("ref", rawRef),
			slog.String("version", sec.Meta.Version), slog.Bool("stale", sec.Stale), slog.String("outcome", outcome),
			slog.Duration("took", time.Since(start)))
	}
	if err != nil {
		return secretstore.Secret{}, &StoreError{Store: storeName, Ref: rawRef, Err: err}
	}
	return sec, nil
}

// readField reads the property a text variable follows. It reads the
// secret through the same cache as a secret variable of the same
// reference, so that a username and password of one account cost one
// read; the secret's value is dropped.
func (s *Service) readField(ctx context.Context, f envvar.StoreField) (secretstore.Secret, error) {
	sec, err := s.readSecret(ctx, f.Store, f.Ref)
	if err != nil {
		return secretstore.Secret{}, err
	}
	name, ok := envvar.PropName(sec.Props, f.Field)
	if !ok {
		return secretstore.Secret{}, &StoreError{Store: f.Store, Ref: f.Ref,
			Err: fmt.Errorf("%w: the secret no longer has the property %s", secretstore.ErrNotFound, f.Field)}
	}
	return secretstore.Secret{Value: secretstore.NewValue(sec.Props[name]), Stale: sec.Stale}, nil
}

// observe reports what a read of v returned to the secret states. It is
// advisory: a failure to record it is logged, never the caller's failure.
// A resolve (always false) records only news, so that a resolve served
// from the cache writes nothing.
func (s *Service) observe(ctx context.Context, v envvar.Variable, sec secretstore.Secret, readErr error, always bool) {
	if s.states == nil || v.Type != envvar.TypeSecret || ctx.Err() != nil {
		// A read whose caller left says nothing of the secret.
		return
	}
	var se *StoreError
	if errors.As(readErr, &se) {
		readErr = se.Err
	}
	if _, err := s.states.Observe(ctx, v, sec.Meta, readErr, always); err != nil {
		s.log.LogAttrs(ctx, slog.LevelWarn, "could not record a secret's state",
			slog.String("variable", v.SchemaName), slog.String("error", err.Error()))
	}
}

// Check reads a connection's secrets the way a resolve would, without
// handing them to anyone, and records its status.
func (s *Service) Check(ctx context.Context, id string) error {
	t, err := s.repo.Target(ctx, id)
	if err != nil {
		return err
	}
	if t.Connection.CredentialID == "" {
		return nil
	}
	user, err := s.read(ctx, t.Username)
	s.observe(ctx, t.Username, user, err, true)
	var pass secretstore.Secret
	if err == nil {
		pass, err = s.read(ctx, t.Password)
		s.observe(ctx, t.Password, pass, err, true)
	}
	status := StatusConnected
	if err != nil {
		status = StatusError
	}
	return s.repo.SetStatus(ctx, t.Connection.ID, status, s.now().UTC(), pass.Version, FailureText(err))
}

// statusAfterResolve is the connection status a resolve that ended with
// err shows: connected when the values were read, error when a store did
// not give one, and "" (unchanged) when the resolve was refused before any
// value was read: a runner outside the group, an owner who lost access or
// a disabled credential says nothing of whether the connection works.
func statusAfterResolve(err error) string {
	var se *StoreError
	switch {
	case err == nil:
		return StatusConnected
	case errors.Is(err, ErrAbandoned):
		return ""
	case errors.As(err, &se):
		return StatusError
	}
	return ""
}

// FailureText says what went wrong reading a secret in words fit for the
// connection's status, naming the store and reference but never repeating
// the store's own error text; "" for nil.
func FailureText(err error) string {
	if errors.Is(err, ErrAbandoned) {
		return ErrAbandoned.Error()
	}
	var se *StoreError
	if err == nil || !errors.As(err, &se) {
		if err == nil {
			return ""
		}
		return "resolve failed"
	}
	return fmt.Sprintf("%s: secret %q in store %q", secretstore.Describe(err), se.Ref, se.Store)
}

// CheckAll checks every connection, for the periodic background check.
func (s *Service) CheckAll(ctx context.Context) error {
	ids, err := s.repo.IDs(ctx)
	if err != nil {
		return err
	}
	var (
		next    atomic.Int64
		failed  atomic.Bool
		first   error
		onceErr sync.Once
		wg      sync.WaitGroup
	)
	for range min(checkWorkers, len(ids)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			// A failure stops the sweep without cancelling the checks under
			// way: a read cut short would be recorded as the store's failure.
			for !failed.Load() && ctx.Err() == nil {
				i := int(next.Add(1)) - 1
				if i >= len(ids) {
					return
				}
				if err := s.Check(ctx, ids[i]); err != nil && !errors.Is(err, ErrNotFound) {
					onceErr.Do(func() { first = fmt.Errorf("check connection %s: %w", ids[i], err) })
					failed.Store(true)
				}
			}
		}()
	}
	wg.Wait()
	if first != nil {
		return first
	}
	return ctx.Err()
}

// checkWorkers is how many connections CheckAll checks at once: their
// writes share transactions (when the repository batches them), and a slow
// store holds up fewer of the others.
const checkWorkers = 8

// storeWarnings limits the log lines about one store's failures to one per
// warnEvery, each saying how many failures it stands for: a vault that is
// down fails every resolve, and the log needs its cause once, not a line
// per runner.
type storeWarnings struct {
	mu   sync.Mutex
	last map[string]storeWarning
}

type storeWarning struct {
	at         time.Time
	suppressed int
}

const warnEvery = 10 * time.Second

// warnStore logs, at WARN, a store's failure to give a value (unreachable,
// too slow, throttling): its name and the cause in the store's own words,
// which name the secret and the address but never hold a value. Answers
// such as "not found" or "access denied" are the caller's to fix and are
// not logged.
func (s *Service) warnStore(ctx context.Context, resource string, err error) {
	var se *StoreError
	if err == nil || !errors.As(err, &se) || !(errors.Is(err, secretstore.ErrUnavailable) ||
		errors.Is(err, secretstore.ErrTimeout) || errors.Is(err, secretstore.ErrThrottled)) {
		return
	}
	now := s.now()
	w := &s.warnings
	w.mu.Lock()
	last, seen := w.last[se.Store]
	if seen && now.Sub(last.at) < warnEvery {
		last.suppressed++
		w.last[se.Store] = last
		w.mu.Unlock()
		return
	}
	if len(w.last) >= maxPlans {
		clear(w.last)
	}
	w.last[se.Store] = storeWarning{at: now}
	w.mu.Unlock()
	s.log.LogAttrs(ctx, slog.LevelWarn, "secret store failed",
		slog.String("store", se.Store), slog.String("ref", se.Ref), slog.String("resource", resource),
		slog.String("failure", secretstore.Describe(se.Err)), slog.String("cause", se.Err.Error()),
		slog.Int("alsoFailedSinceLastWarning", last.suppressed))
}
