package events

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"log/slog"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/credflow/credflow/internal/rotation"
)

// Applier applies a secret change; *rotation.Service implements it.
type Applier interface {
	SecretChanged(ctx context.Context, c rotation.Change) (rotation.Result, error)
	StoreChanged(ctx context.Context, store string, source rotation.Source) error
}

// Vaults names the stores that read a Key Vault, by vault name.
type Vaults interface {
	StoresOfVault(vault string) []string
}

// Options configures a Receiver.
type Options struct {
	// Keys are the endpoint's keys; a delivery must carry one of them.
	// With none, every delivery is refused.
	Keys []string
	// MaxPending bounds the distinct secrets waiting for the worker
	// (default 10000); past it a store's changes coalesce into dropping
	// every cached value of the store.
	MaxPending int
	// RecentIDs is how many event ids are remembered to drop duplicates
	// (default 65536).
	RecentIDs int
	Log       *slog.Logger
	// Invalidate, when set, drops a secret's cached values on this server
	// as soon as a delivery announces its new version, before the worker
	// applies the change (which does it again, with the spellings the
	// variables use, and tells the other replicas). c.At is when the
	// delivery arrived.
	Invalidate func(c rotation.Change)
	// Now is the clock (tests).
	Now func() time.Time
	// Lag, when set, hears how long the oldest change of each batch the
	// worker applies waited in the queue (metrics).
	Lag func(time.Duration)
}

// Receiver queues the changes deliveries announce and applies them from one
// worker (Run).
type Receiver struct {
	keys   [][sha256.Size]byte
	apply  Applier
	vaults Vaults
	opts   Options

	mu      sync.Mutex
	pending map[pendingKey]rotation.Change
	flush   map[string]bool // stores whose every value is to be dropped
	recent  map[string]struct{}
	ring    []string
	next    int
	stats   map[string]*StoreStatus // by lower-cased store name
	ep      EndpointStatus
	wake    chan struct{}
	idle    *sync.Cond // signalled when the worker has drained the queue
	busy    bool
	// oldest is when the oldest change waiting was queued (zero: none).
	oldest time.Time
}

type pendingKey struct {
	store, secret string // lower-cased
	kind          rotation.Kind
}

// New returns a Receiver.
func New(apply Applier, vaults Vaults, opts Options) *Receiver {
	if opts.MaxPending <= 0 {
		opts.MaxPending = 10000
	}
	if opts.RecentIDs <= 0 {
		opts.RecentIDs = 65536
	}
	if opts.Log == nil {
		opts.Log = slog.New(slog.DiscardHandler)
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	r := &Receiver{apply: apply, vaults: vaults, opts: opts,
		pending: map[pendingKey]rotation.Change{}, flush: map[string]bool{}, recent: map[string]struct{}{},
		ring: make([]string, opts.RecentIDs), stats: map[string]*StoreStatus{}, wake: make(chan struct{}, 1)}
	r.idle = sync.NewCond(&r.mu)
	for _, k := range opts.Keys {
		if k = strings.TrimSpace(k); k != "" {
			r.keys = append(r.keys, sha256.Sum256([]byte(k)))
		}
	}
	return r
}

// Authenticate reports whether key is one of the endpoint's keys. Every key
// is compared, in constant time, whichever matches.
func (r *Receiver) Authenticate(key string) bool {
	if key == "" {
		return false
	}
	h := sha256.Sum256([]byte(key))
	ok := 0
	for _, k := range r.keys {
		ok |= subtle.ConstantTimeCompare(h[:], k[:])
	}
	return ok == 1
}

// HasKeys reports whether the endpoint has any key configured.
func (r *Receiver) HasKeys() bool { return len(r.keys) > 0 }

// Rejected counts a delivery refused before it was read (unauthenticated,
// malformed, too large).
func (r *Receiver) Rejected() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.ep.Rejected++
}

// Handshake records a subscription validation: kind is "SubscriptionValidation"
// (Event Grid schema) or "OPTIONS" (CloudEvents); source is the topic,
// when known.
func (r *Receiver) Handshake(kind, source string) {
	now := r.opts.Now().UTC()
	r.mu.Lock()
	defer r.mu.Unlock()
	r.ep.LastHandshake, r.ep.LastHandshakeKind = now, kind
	if vault := VaultFromResourceID(source); vault != "" {
		for _, name := range r.vaults.StoresOfVault(vault) {
			r.stat(name).LastHandshake = now
		}
	}
}

// RecordPoll records that store's versions were polled at t.
func (r *Receiver) RecordPoll(store string, t time.Time) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.stat(store).LastPoll = t.UTC()
}

// Summary counts what a delivery's events came to.
type Summary struct {
	Accepted, Ignored, Duplicate int
}

// Deliver queues the secret changes of a delivery and returns at once:
// events already seen (by id) are duplicates; events of unknown types, of
// other object types and of vaults no store reads are acknowledged and
// ignored.
func (r *Receiver) Deliver(events []Event, source rotation.Source) Summary {
	// Route outside the lock: a delivery holds up to thousands of events,
	// mostly of one vault.
	type routed struct {
		id, typ, secret string
		kind            rotation.Kind
		stores          []string // nil: ignored
		vaultStores     []string
	}
	byVault := map[string][]string{}
	storesOf := func(vault string) []string {
		st, ok := byVault[strings.ToLower(vault)]
		if !ok {
			st = r.vaults.StoresOfVault(vault)
			byVault[strings.ToLower(vault)] = st
		}
		return st
	}
	routes := make([]routed, len(events))
	for i, e := range events {
		kind, known := kindOf(e.Type)
		objectType := strings.TrimSpace(e.data.str("objecttype"))
		rt := routed{id: e.ID, typ: e.Type, secret: e.SecretName(), kind: kind, vaultStores: storesOf(e.Vault())}
		if known && rt.secret != "" && (objectType == "" || strings.EqualFold(objectType, "Secret")) {
			rt.stores = rt.vaultStores
		}
		routes[i] = rt
	}

	var sum Summary
	now := r.opts.Now().UTC()
	var fresh []rotation.Change
	defer func() {
		if r.opts.Invalidate == nil {
			return
		}
		for _, c := range fresh {
			r.opts.Invalidate(c)
		}
	}()
	r.mu.Lock()
	defer r.mu.Unlock()
	queued := false
	for _, rt := range routes {
		if len(rt.stores) == 0 {
			sum.Ignored++
			r.ep.Ignored++
			for _, name := range rt.vaultStores {
				st := r.stat(name)
				st.Ignored++
				st.LastEvent, st.LastEventType = now, rt.typ
			}
			continue
		}
		if r.seen(rt.id) {
			sum.Duplicate++
			r.ep.Duplicate++
			for _, name := range rt.stores {
				r.stat(name).Duplicate++
			}
			continue
		}
		sum.Accepted++
		r.ep.Accepted++
		for _, name := range rt.stores {
			st := r.stat(name)
			st.Accepted++
			st.LastEvent, st.LastEventType = now, rt.typ
			c := rotation.Change{Store: name, Secret: rt.secret, Kind: rt.kind, Source: source, At: now}
			if r.enqueue(c) && c.Kind == rotation.NewVersion {
				fresh = append(fresh, c)
			}
			queued = true
		}
	}
	if queued {
		select {
		case r.wake <- struct{}{}:
		default:
		}
	}
	return sum
}

func kindOf(eventType string) (rotation.Kind, bool) {
	switch eventType {
	case TypeNewVersion:
		return rotation.NewVersion, true
	case TypeNearExpiry:
		return rotation.NearExpiry, true
	case TypeExpired:
		return rotation.Expired, true
	}
	return "", false
}

// seen remembers id and reports whether it was remembered already; r.mu
// is held.
func (r *Receiver) seen(id string) bool {
	if _, ok := r.recent[id]; ok {
		return true
	}
	if old := r.ring[r.next]; old != "" {
		delete(r.recent, old)
	}
	r.ring[r.next] = id
	r.recent[id] = struct{}{}
	r.next = (r.next + 1) % len(r.ring)
	return false
}

// enqueue adds a change, coalesced with one waiting for the same secret and
// kind; past the bound, the store's changes become one drop of all its
// values. It reports whether c was queued on its own (not coalesced). r.mu
// is held.
func (r *Receiver) enqueue(c rotation.Change) bool {
	store := strings.ToLower(c.Store)
	if r.flush[store] && c.Kind == rotation.NewVersion {
		return false
	}
	k := pendingKey{store, strings.ToLower(c.Secret), c.Kind}
	if _, ok := r.pending[k]; ok {
		return false
	}
	if len(r.pending) >= r.opts.MaxPending {
		if c.Kind == rotation.NewVersion {
			if r.oldest.IsZero() {
				r.oldest = r.opts.Now()
			}
			r.flush[store] = true
			r.flushName(c.Store)
			return false
		}
		r.stat(c.Store).Overflow++
		return false
	}
	if len(r.pending) == 0 && len(r.flush) == 0 {
		r.oldest = r.opts.Now()
	}
	r.pending[k] = c
	return true
}

// flushName keeps the store's display name for the worker; r.mu is held.
func (r *Receiver) flushName(name string) { r.stat(name) }

// Run applies queued changes until ctx ends.
func (r *Receiver) Run(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-r.wake:
		}
		r.drain(ctx)
	}
}

// drain applies every change queued now.
func (r *Receiver) drain(ctx context.Context) {
	r.mu.Lock()
	pending, flush, oldest := r.pending, r.flush, r.oldest
	r.pending, r.flush, r.oldest = map[pendingKey]rotation.Change{}, map[string]bool{}, time.Time{}
	r.busy = true
	r.mu.Unlock()
	if r.opts.Lag != nil && !oldest.IsZero() {
		r.opts.Lag(r.opts.Now().Sub(oldest))
	}
	defer func() {
		r.mu.Lock()
		r.busy = false
		r.idle.Broadcast()
		r.mu.Unlock()
	}()
	for store := range flush {
		name := r.displayName(store)
		if err := r.apply.StoreChanged(ctx, name, rotation.SourceEventGrid); err != nil && ctx.Err() == nil {
			r.failed(ctx, name, "", err)
		}
	}
	for k, c := range pending {
		if ctx.Err() != nil {
			return
		}
		if flush[k.store] && c.Kind == rotation.NewVersion {
			continue
		}
		changed, err := r.apply.SecretChanged(ctx, c)
		if err != nil && ctx.Err() == nil {
			r.failed(ctx, c.Store, c.Secret, err)
		} else if err == nil {
			r.opts.Log.LogAttrs(ctx, slog.LevelDebug, "secret change applied", slog.String("store", c.Store),
				slog.String("secret", c.Secret), slog.Any("variables", changed.Variables), slog.Any("connections", changed.Connections))
		}
	}
}

func (r *Receiver) displayName(lower string) string {
	r.mu.Lock()
	defer r.mu.Unlock()
	if st, ok := r.stats[lower]; ok {
		return st.Store
	}
	return lower
}

func (r *Receiver) failed(ctx context.Context, store, secret string, err error) {
	r.mu.Lock()
	r.stat(store).Failed++
	r.mu.Unlock()
	r.opts.Log.LogAttrs(ctx, slog.LevelWarn, "could not apply a secret change",
		slog.String("store", store), slog.String("secret", secret), slog.String("error", err.Error()))
}

// Idle waits until nothing is queued or being applied (tests and
// benchmarks), or ctx ends.
func (r *Receiver) Idle(ctx context.Context) {
	stop := context.AfterFunc(ctx, func() {
		r.mu.Lock()
		r.idle.Broadcast()
		r.mu.Unlock()
	})
	defer stop()
	r.mu.Lock()
	defer r.mu.Unlock()
	for (r.busy || len(r.pending) > 0 || len(r.flush) > 0) && ctx.Err() == nil {
		r.idle.Wait()
	}
}

// StoreStatus is what the endpoint and the poll did for one store.
type StoreStatus struct {
	Store         string
	LastHandshake time.Time
	LastEvent     time.Time
	LastEventType string
	// Accepted events were queued; Ignored were of types credflow does not
	// act on; Duplicate repeated an event id already seen; Failed could
	// not be applied; Overflow were expiry notices dropped because the
	// queue was full.
	Accepted, Ignored, Duplicate, Failed, Overflow int64
	LastPoll                                       time.Time
}

// EndpointStatus is what the endpoint did as a whole.
type EndpointStatus struct {
	LastHandshake     time.Time
	LastHandshakeKind string
	// Rejected deliveries were refused (unauthenticated, malformed, too
	// large); Ignored events named no known store or an unknown type.
	Accepted, Ignored, Duplicate, Rejected int64
	Pending                                int
	KeysConfigured                         bool
}

// Status returns the endpoint's counts and those of every store named (the
// registered ones), ordered by name.
func (r *Receiver) Status(stores []string) (EndpointStatus, []StoreStatus) {
	r.mu.Lock()
	defer r.mu.Unlock()
	ep := r.ep
	ep.Pending = len(r.pending)
	ep.KeysConfigured = len(r.keys) > 0
	out := make([]StoreStatus, 0, len(stores))
	for _, name := range stores {
		st := StoreStatus{Store: name}
		if s, ok := r.stats[strings.ToLower(name)]; ok {
			st = *s
			st.Store = name
		}
		out = append(out, st)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Store < out[j].Store })
	return ep, out
}

// stat returns the store's counters; r.mu is held.
func (r *Receiver) stat(store string) *StoreStatus {
	k := strings.ToLower(store)
	st, ok := r.stats[k]
	if !ok {
		st = &StoreStatus{Store: store}
		r.stats[k] = st
	}
	return st
}
