package rotation

import (
	"context"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Propagation measures how long a new version of a secret takes to reach
// the automation: from the moment credflow learnt of the change (an event
// received, a notification, a poll) to the first runner resolve that read
// the secret after its cached values were dropped. Background connection
// checks read the secret too, but they are not runs: only resolves count.
//
// The first resolve on any replica wins; the figures are kept in the
// database, so every replica answers the same. The resolve path asks
// Waiting first, which costs one atomic load while no change is waiting.
type Propagation struct {
	repo PropagationRepository
	now  func() time.Time
	log  *slog.Logger

	waiting atomic.Int64 // len(pending), read without the lock
	mu      sync.Mutex
	pending map[propKey]expected
	queue   chan Reached
}

// PropagationRepository keeps the figures; metadb implements it.
type PropagationRepository interface {
	// RecordChange records that credflow learnt of a secret's new version
	// at the given time; a later change replaces an earlier one and its
	// figure.
	RecordChange(ctx context.Context, store, secret string, at time.Time, source Source) error
	// RecordReached records the first resolve after the change made at
	// r.ChangedAt; a later one, or one of an older change, changes nothing.
	RecordReached(ctx context.Context, r Reached) error
	// Propagations lists the most recent changes, newest first.
	Propagations(ctx context.Context, limit int) ([]Propagated, error)
}

// Reached is the first resolve that read a secret after its change.
type Reached struct {
	Store, Secret string
	ChangedAt     time.Time // when credflow learnt of the change
	At            time.Time // when the resolve had the value
	Version       string    // the version it read
	Runner        string    // the runner's name
	Connection    string    // the connection's name
}

// Propagated is one secret's last change and, once a run picked it up, the
// first resolve after it.
type Propagated struct {
	Store, Secret string
	ChangedAt     time.Time
	Source        Source
	// Reached is nil while no resolve read the secret since the change.
	Reached *Reached
}

// Latency is the time from the change to the first resolve after it.
func (r Reached) Latency() time.Duration { return r.At.Sub(r.ChangedAt) }

type propKey struct{ store, secret string } // lower-cased

type expected struct {
	changedAt time.Time // the change's time, possibly another replica's clock
	since     time.Time // when this replica started waiting
}

// maxWaiting bounds the secrets waited for: past it, and past a day, the
// oldest are forgotten (their figure stays unset).
const (
	maxWaiting = 10000
	maxWait    = 24 * time.Hour
)

// NewPropagation returns a Propagation; Run writes its figures.
func NewPropagation(repo PropagationRepository, log *slog.Logger) *Propagation {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Propagation{repo: repo, now: time.Now, log: log, pending: map[propKey]expected{}, queue: make(chan Reached, 1024)}
}

// Micro truncates a change time to what both database engines keep, so
// that a replica told of a change names it exactly as it was recorded.
func Micro(t time.Time) time.Time { return t.UTC().Truncate(time.Microsecond) }

// Expect starts waiting for the first resolve of store's secret after a
// change credflow learnt of at changedAt. Call it once the secret's cached
// values were dropped here: every resolve that starts later reads the new
// version. Waiting again for the same change changes nothing.
func (p *Propagation) Expect(store, secret string, changedAt time.Time) {
	if p == nil {
		return
	}
	k := propKey{strings.ToLower(store), strings.ToLower(secret)}
	changedAt = Micro(changedAt)
	now := p.now()
	p.mu.Lock()
	defer p.mu.Unlock()
	if e, ok := p.pending[k]; ok && !e.changedAt.Before(changedAt) {
		return
	}
	if len(p.pending) >= maxWaiting {
		p.forget(now)
	}
	p.pending[k] = expected{changedAt: changedAt, since: now}
	p.waiting.Store(int64(len(p.pending)))
}

// forget drops what was waited for longer than maxWait, or else the oldest
// entry; p.mu is held.
func (p *Propagation) forget(now time.Time) {
	var oldest propKey
	var oldestSince time.Time
	for k, e := range p.pending {
		if now.Sub(e.since) > maxWait {
			delete(p.pending, k)
			continue
		}
		if oldestSince.IsZero() || e.since.Before(oldestSince) {
			oldest, oldestSince = k, e.since
		}
	}
	if len(p.pending) >= maxWaiting {
		delete(p.pending, oldest)
	}
}

// Changed records a change credflow learnt of at changedAt and waits for
// its first resolve.
func (p *Propagation) Changed(ctx context.Context, store, secret string, changedAt time.Time, source Source) error {
	if p == nil {
		return nil
	}
	p.Expect(store, secret, changedAt)
	return p.repo.RecordChange(ctx, store, secret, Micro(changedAt), source)
}

// Waiting reports whether any change waits for its first resolve. The
// resolve path asks it before anything else.
func (p *Propagation) Waiting() bool { return p != nil && p.waiting.Load() > 0 }

// Served tells that a resolve which started at started read version of
// store's secret (its latest version, not a stale value) and had it at
// r.At. The first such resolve after a change is queued for recording; it
// never blocks the resolve.
func (p *Propagation) Served(started time.Time, r Reached) {
	if !p.Waiting() {
		return
	}
	k := propKey{strings.ToLower(r.Store), strings.ToLower(r.Secret)}
	p.mu.Lock()
	e, ok := p.pending[k]
	if !ok || started.Before(e.since) {
		// A resolve that started before the cached values were dropped
		// may hold the old version.
		p.mu.Unlock()
		return
	}
	delete(p.pending, k)
	p.waiting.Store(int64(len(p.pending)))
	p.mu.Unlock()
	r.ChangedAt = e.changedAt
	select {
	case p.queue <- r:
	default:
		p.log.Warn("propagation figure dropped: too many waiting to be recorded",
			slog.String("store", r.Store), slog.String("secret", r.Secret))
	}
}

// Run records the first resolves until ctx ends.
func (p *Propagation) Run(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case r := <-p.queue:
			if err := p.repo.RecordReached(ctx, r); err != nil && ctx.Err() == nil {
				p.log.Warn("could not record when a secret change reached a run",
					slog.String("store", r.Store), slog.String("secret", r.Secret), slog.String("error", err.Error()))
			}
		}
	}
}

// Recent lists the most recent changes and their first resolves, newest
// first.
func (p *Propagation) Recent(ctx context.Context, limit int) ([]Propagated, error) {
	return p.repo.Propagations(ctx, limit)
}
