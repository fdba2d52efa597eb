// Package rotation carries a change of a secret in its store to everything
// credflow keeps about it: the cached values of the variables that reference
// the secret's latest version are dropped (on this replica, and through the
// Announcer on the others), the connections that use them are checked again,
// and an expiry the store announced shows in the variables' status. Every
// change is audited. It is told of changes (by the Event Grid webhook, a
// manual notification or the version poll) and never reads a value itself:
// the connection check re-reads the store.
package rotation

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"time"

	"github.com/credflow/credflow/internal/audit"
	"github.com/credflow/credflow/internal/envvar"
	"github.com/credflow/credflow/internal/secretstore"
)

// Kind is what happened to a secret.
type Kind string

// The kinds of change.
const (
	// NewVersion: the secret has a new latest version (or was created).
	NewVersion Kind = "new-version"
	// NearExpiry: the latest version expires soon (Key Vault: in 30 days).
	NearExpiry Kind = "near-expiry"
	// Expired: the latest version's expiry date has passed.
	Expired Kind = "expired"
)

// Source says who told credflow of a change.
type Source string

// The sources of a change.
const (
	SourceEventGrid    Source = "eventgrid"
	SourceNotification Source = "notification"
	SourcePoll         Source = "poll"
)

// Change is one secret's change in one store.
type Change struct {
	Store  string // the store's name
	Secret string // the secret's name in the store, as the store or event names it
	Kind   Kind
	Source Source
	// Actor is who told credflow: a principal's name, or "" for the
	// system (an event or the poll).
	Actor string
	// At is when credflow learnt of the change (an event's delivery);
	// zero means when it is applied.
	At time.Time
}

// Result says what a change reached.
type Result struct {
	Store string
	// Variables are the schema names of the variables that reference the
	// secret's latest version.
	Variables []string
	// Connections are the names of the connections checked again.
	Connections []string
}

// Variables is the part of the variable repository a change needs;
// metadb.Variables implements it.
type Variables interface {
	// ReferencingSecret lists the secret variables of a store whose
	// reference may name secretName (a superset: the service narrows it).
	ReferencingSecret(ctx context.Context, storeID, secretName string) ([]envvar.Variable, error)
	// SetSecretNotice records an announced expiry ("" clears it).
	SetSecretNotice(ctx context.Context, ids []string, notice envvar.Status) error
	Dependencies(ctx context.Context, id string) (envvar.Dependencies, error)
}

// Stores finds stores and drops cached values; *secretstore.Registry
// implements it.
type Stores interface {
	Lookup(name string) (secretstore.Store, secretstore.Info, error)
	Invalidate(storeName, secretName string)
	InvalidateStore(storeName string)
}

// Connections checks a connection's secrets again and records its status;
// *connection.Service implements it.
type Connections interface {
	Check(ctx context.Context, id string) error
}

// Recorder appends audit records.
type Recorder interface {
	Record(ctx context.Context, entries ...audit.Entry) error
}

// Announcer tells the other replicas to drop a secret's cached values (every
// value of the store when secret is ""), and when credflow learnt of the
// change.
type Announcer interface {
	AnnounceSecretChange(ctx context.Context, store, secret string, at time.Time) error
}

// Service applies changes.
type Service struct {
	vars     Variables
	stores   Stores
	conns    Connections
	audit    Recorder
	announce Announcer // nil: a single server
	prop     *Propagation
	log      *slog.Logger
	now      func() time.Time
}

// Option adjusts a Service.
type Option func(*Service)

// WithAnnouncer makes every invalidation reach the other replicas.
func WithAnnouncer(a Announcer) Option { return func(s *Service) { s.announce = a } }

// WithPropagation measures how long each new version takes to reach a run.
func WithPropagation(p *Propagation) Option { return func(s *Service) { s.prop = p } }

// WithLogger sets the logger of failures that do not fail a change.
func WithLogger(l *slog.Logger) Option { return func(s *Service) { s.log = l } }

// New returns a Service.
func New(vars Variables, stores Stores, conns Connections, rec Recorder, opts ...Option) *Service {
	s := &Service{vars: vars, stores: stores, conns: conns, audit: rec, log: slog.New(slog.DiscardHandler), now: time.Now}
	for _, o := range opts {
		o(s)
	}
	return s
}

// ErrUnknownKind is returned for a Change whose Kind is none of the known.
var ErrUnknownKind = errors.New("unknown kind of secret change")

// SecretChanged applies one change: for a new version it drops the cached
// values of the secret (here and on the other replicas), clears any expiry
// notice and checks again the connections that use the variables
// referencing its latest version; for an expiry it marks those variables
// expiring or expired. It audits the change. A store that is not
// registered is an error matching secretstore.ErrStoreNotFound.
func (s *Service) SecretChanged(ctx context.Context, c Change) (Result, error) {
	store, info, err := s.stores.Lookup(c.Store)
	if err != nil {
		return Result{}, err
	}
	res := Result{Store: info.Name}
	at := c.At
	if at.IsZero() {
		at = s.now()
	}
	at = Micro(at)
	if c.Kind == NewVersion {
		// The name as told first, before any database round trip: the
		// next resolve must not wait for the rest.
		s.invalidate(ctx, info.Name, []string{c.Secret}, at)
	}
	vars, names, err := s.referencing(ctx, store, info, c.Secret)
	if err != nil {
		return res, err
	}
	for _, v := range vars {
		res.Variables = append(res.Variables, v.SchemaName)
	}
	var action, what string
	switch c.Kind {
	case NewVersion:
		action, what = "secret.rotate", "new version"
		s.invalidate(ctx, info.Name, names[1:], at)
		if err := s.prop.Changed(ctx, info.Name, c.Secret, at, c.Source); err != nil {
			return res, fmt.Errorf("record the change's propagation: %w", err)
		}
		if err := s.vars.SetSecretNotice(ctx, noticed(vars), ""); err != nil {
			return res, err
		}
		if res.Connections, err = s.recheck(ctx, vars); err != nil {
			return res, err
		}
	case NearExpiry, Expired:
		notice := envvar.StatusExpiring
		action, what = "secret.expiring", "near its expiry"
		if c.Kind == Expired {
			notice, action, what = envvar.StatusExpired, "secret.expired", "expired"
		}
		ids := make([]string, len(vars))
		for i, v := range vars {
			ids[i] = v.ID
		}
		if err := s.vars.SetSecretNotice(ctx, ids, notice); err != nil {
			return res, err
		}
	default:
		return res, fmt.Errorf("%w: %q", ErrUnknownKind, c.Kind)
	}
	actor := c.Actor
	if actor == "" {
		actor = "system"
	}
	reason := fmt.Sprintf("%s (%s): %d variables [%s], %d connections checked again", what, c.Source,
		len(res.Variables), strings.Join(res.Variables, ", "), len(res.Connections))
	if err := s.audit.Record(ctx, audit.Entry{Actor: actor, Action: action, Resource: "secret:" + info.Name + "/" + c.Secret,
		Outcome: "Success", Reason: reason}); err != nil {
		return res, fmt.Errorf("audit secret change: %w", err)
	}
	return res, nil
}

// StoreChanged drops every cached value of a store, here and on the other
// replicas, and audits it: for when more secrets changed than can be told
// apart (a storm of events past the queue's bound). Connections are left to
// their next resolve and the periodic check.
func (s *Service) StoreChanged(ctx context.Context, store string, source Source) error {
	_, info, err := s.stores.Lookup(store)
	if err != nil {
		return err
	}
	s.stores.InvalidateStore(info.Name)
	if s.announce != nil {
		if err := s.announce.AnnounceSecretChange(ctx, info.Name, "", s.now()); err != nil {
			s.log.LogAttrs(ctx, slog.LevelWarn, "could not tell the other replicas of a store change",
				slog.String("store", info.Name), slog.String("error", err.Error()))
		}
	}
	if err := s.audit.Record(ctx, audit.Entry{Actor: "system", Action: "secret.rotate", Resource: "store:" + info.Name,
		Outcome: "Success", Reason: fmt.Sprintf("every cached value dropped (%s): more secrets changed at once than are tracked one by one", source)}); err != nil {
		return fmt.Errorf("audit store change: %w", err)
	}
	return nil
}

// referencing returns the secret variables of the store that reference the
// latest version of secret (pinned versions do not change), and the secret's
// names as those references spell them, with the given one: names are
// compared without case (Key Vault's are case-insensitive), but each cache
// holds them as its references spell them.
func (s *Service) referencing(ctx context.Context, store secretstore.Store, info secretstore.Info, secret string) ([]envvar.Variable, []string, error) {
	candidates, err := s.vars.ReferencingSecret(ctx, info.ID, secret)
	if err != nil {
		return nil, nil, err
	}
	names := []string{secret}
	var out []envvar.Variable
	for _, v := range candidates {
		if v.Secret == nil {
			continue
		}
		ref, err := store.ParseRef(v.Secret.Ref)
		if err != nil || ref.Version != "" || !strings.EqualFold(ref.Name, secret) {
			continue
		}
		out = append(out, v)
		if !slices.Contains(names, ref.Name) {
			names = append(names, ref.Name)
		}
	}
	return out, names, nil
}

// invalidate drops the names' cached values here and announces them to the
// other replicas; a failed announcement is logged (the others' values
// expire with their TTL, and a listener that reconnects drops them all).
func (s *Service) invalidate(ctx context.Context, store string, names []string, at time.Time) {
	for _, n := range names {
		s.stores.Invalidate(store, n)
		if s.announce == nil {
			continue
		}
		if err := s.announce.AnnounceSecretChange(ctx, store, n, at); err != nil {
			s.log.LogAttrs(ctx, slog.LevelWarn, "could not tell the other replicas of a secret change",
				slog.String("store", store), slog.String("secret", n), slog.String("error", err.Error()))
		}
	}
}

// recheck checks every connection that uses one of vars, once each, and
// returns their names. A connection whose check fails to record is logged:
// its status stays as it was and the periodic check retries it.
func (s *Service) recheck(ctx context.Context, vars []envvar.Variable) ([]string, error) {
	seen := map[string]bool{}
	var names []string
	for _, v := range vars {
		deps, err := s.vars.Dependencies(ctx, v.ID)
		if err != nil {
			return names, err
		}
		for _, c := range deps.Connections {
			if seen[c.ID] {
				continue
			}
			seen[c.ID] = true
			names = append(names, c.Name)
			if err := s.conns.Check(ctx, c.ID); err != nil {
				s.log.LogAttrs(ctx, slog.LevelWarn, "could not check a connection after a secret change",
					slog.String("connection", c.Name), slog.String("error", err.Error()))
			}
		}
	}
	return names, nil
}

// noticed returns the ids of the variables that carry an expiry notice.
func noticed(vars []envvar.Variable) []string {
	var ids []string
	for _, v := range vars {
		if v.Secret != nil && v.Secret.Notice != "" {
			ids = append(ids, v.ID)
		}
	}
	return ids
}
