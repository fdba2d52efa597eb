// Package cache is a secretstore.Store that wraps another and keeps the
// values it read in memory for a short time: one store call serves every
// concurrent reader of the same secret, and, when allowed, the last good
// value is served for a bounded time while the store fails. Values live in
// memory only and are never written anywhere. The cache does not decide
// who may read a secret: callers check that before they ask.
package cache

import (
	"container/list"
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/credflow/credflow/internal/secretstore"
)

// Options configures a cache.
type Options struct {
	// TTL is how long a value is served without asking the store; 0 asks
	// the store on every read.
	TTL time.Duration
	// StaleIfError, when positive, serves the last good value up to this
	// age when the store is unavailable, times out or throttles, marked
	// Stale.
	StaleIfError time.Duration
	// MaxEntries bounds the number of cached versions; the least recently
	// used go first. Default 10000.
	MaxEntries int
	// CallTimeout bounds one store call shared by concurrent readers,
	// its wait for a turn (MaxCalls) included. Default 10 s.
	CallTimeout time.Duration
	// MaxCalls bounds the calls open to the inner store at once; more
	// wait for a turn. Default 64.
	MaxCalls int
	// Observer, when set, hears of every read and every store call (for
	// metrics).
	Observer Observer
}

// Observer hears what a cache does. Its methods are called on the read
// path: they must be cheap and safe for concurrent use.
type Observer interface {
	// Read is one read's source: Hit (a fresh cached value), Miss (it
	// waited for a store call) or, after a Miss whose call failed, Stale
	// (the last good value served).
	Read(Result)
	// Call is one call of the inner store, how it ended and how long it
	// took; concurrent readers of a secret share one call.
	Call(err error, took time.Duration)
}

// Result is where a read's answer came from.
type Result int

// The results a read can have.
const (
	Hit Result = iota
	Miss
	Stale
)

// nobody is the Observer of a cache that has none.
type nobody struct{}

func (nobody) Read(Result)               {}
func (nobody) Call(error, time.Duration) {}

// Store caches reads of an inner store.
type Store struct {
	inner secretstore.Store
	opts  Options
	now   func() time.Time

	mu       sync.Mutex
	entries  map[key]*list.Element // of *entry
	lru      *list.List            // front: most recently used
	inflight map[key]*call
	turns    chan struct{} // one per call open to the inner store
}

var _ secretstore.Store = (*Store)(nil)

type key struct{ name, version string }

type entry struct {
	key     key
	secret  secretstore.Secret
	fetched time.Time
}

// call is one store read shared by concurrent readers. An invalidation of
// its secret while it runs detaches it: readers that arrive afterwards start
// a read of their own, and its result, which may predate the change, is
// handed to the readers already waiting but never cached. When every reader
// has given up (a client disconnected), the read is cancelled and detached.
type call struct {
	done   chan struct{}
	secret secretstore.Secret
	err    error
	// invalidated is set, under Store.mu, when the secret was invalidated
	// after the read started.
	invalidated bool
	// waiters counts the readers waiting for the read, under Store.mu;
	// cancel stops the read.
	waiters int
	cancel  context.CancelFunc
}

// New wraps inner.
func New(inner secretstore.Store, opts Options) *Store {
	if opts.MaxEntries <= 0 {
		opts.MaxEntries = 10000
	}
	if opts.CallTimeout <= 0 {
		opts.CallTimeout = 10 * time.Second
	}
	if opts.MaxCalls <= 0 {
		opts.MaxCalls = 64
	}
	if opts.Observer == nil {
		opts.Observer = nobody{}
	}
	return &Store{inner: inner, opts: opts, now: time.Now,
		entries: map[key]*list.Element{}, lru: list.New(), inflight: map[key]*call{}, turns: make(chan struct{}, opts.MaxCalls)}
}

// ParseRef implements secretstore.Store.
func (s *Store) ParseRef(ref string) (secretstore.Ref, error) { return s.inner.ParseRef(ref) }

// Get implements secretstore.Store: a fresh cached value, else one store
// call shared by every concurrent reader of the same reference.
func (s *Store) Get(ctx context.Context, ref secretstore.Ref) (secretstore.Secret, error) {
	k := key{ref.Name, ref.Version}
	now := s.now()
	s.mu.Lock()
	if el, ok := s.entries[k]; ok {
		e := el.Value.(*entry)
		if now.Sub(e.fetched) < s.opts.TTL {
			s.lru.MoveToFront(el)
			sec := e.secret
			s.mu.Unlock()
			s.opts.Observer.Read(Hit)
			return sec, nil
		}
	}
	c, running := s.inflight[k]
	if !running {
		// The read outlives the reader that started it while others wait
		// for it, and stops when the last one gives up.
		callCtx, cancel := context.WithCancel(context.WithoutCancel(ctx))
		c = &call{done: make(chan struct{}), cancel: cancel}
		s.inflight[k] = c
		go s.fetch(callCtx, k, ref, c)
	}
	c.waiters++
	s.mu.Unlock()
	s.opts.Observer.Read(Miss)

	select {
	case <-c.done:
	case <-ctx.Done():
		s.leave(k, c)
		return secretstore.Secret{}, fmt.Errorf("read %s: %w", ref, ctx.Err())
	}
	if c.err == nil {
		return c.secret, nil
	}
	if stale, ok := s.stale(k, c.err); ok {
		s.opts.Observer.Read(Stale)
		return stale, nil
	}
	return secretstore.Secret{}, c.err
}

// leave records that a reader of c gave up; the last one to leave a read
// still running cancels it, and a reader arriving later starts its own.
func (s *Store) leave(k key, c *call) {
	s.mu.Lock()
	defer s.mu.Unlock()
	c.waiters--
	if c.waiters > 0 {
		return
	}
	select {
	case <-c.done:
		return
	default:
	}
	c.cancel()
	if s.inflight[k] == c {
		delete(s.inflight, k)
	}
}

// fetch makes the one store call for k and publishes its result.
func (s *Store) fetch(ctx context.Context, k key, ref secretstore.Ref, c *call) {
	defer c.cancel()
	ctx, cancel := context.WithTimeout(ctx, s.opts.CallTimeout)
	defer cancel()
	start := time.Now()
	select {
	case s.turns <- struct{}{}:
		c.secret, c.err = s.call(ctx, ref)
		<-s.turns
	case <-ctx.Done():
		c.err = ctx.Err()
	}
	if errors.Is(c.err, context.DeadlineExceeded) {
		c.err = fmt.Errorf("read %s: %w (%v)", ref, secretstore.ErrTimeout, c.err)
	}
	s.opts.Observer.Call(c.err, time.Since(start))
	s.mu.Lock()
	if s.inflight[k] == c {
		delete(s.inflight, k)
	}
	if c.err == nil && !c.invalidated && (s.opts.TTL > 0 || s.opts.StaleIfError > 0) {
		s.put(k, c.secret)
	}
	s.mu.Unlock()
	close(c.done)
}

// call reads ref from the inner store. The read runs on a goroutine of
// its own, where a panic would end the process: a store client that
// panics fails this read instead, as an unavailable store.
func (s *Store) call(ctx context.Context, ref secretstore.Ref) (sec secretstore.Secret, err error) {
	defer secretstore.ContainPanic("read "+ref.String(), &err)
	return s.inner.Get(ctx, ref)
}

// put stores a value; s.mu is held.
func (s *Store) put(k key, sec secretstore.Secret) {
	e := &entry{key: k, secret: sec, fetched: s.now()}
	if el, ok := s.entries[k]; ok {
		el.Value = e
		s.lru.MoveToFront(el)
		return
	}
	s.entries[k] = s.lru.PushFront(e)
	for s.lru.Len() > s.opts.MaxEntries {
		old := s.lru.Back()
		s.lru.Remove(old)
		delete(s.entries, old.Value.(*entry).key)
	}
}

// stale returns the last good value for k when err is a failure of the
// store (not an answer such as "not found") and the value is young enough.
func (s *Store) stale(k key, err error) (secretstore.Secret, bool) {
	if s.opts.StaleIfError <= 0 || !(errors.Is(err, secretstore.ErrUnavailable) ||
		errors.Is(err, secretstore.ErrTimeout) || errors.Is(err, secretstore.ErrThrottled)) {
		return secretstore.Secret{}, false
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	el, ok := s.entries[k]
	if !ok {
		return secretstore.Secret{}, false
	}
	e := el.Value.(*entry)
	if s.now().Sub(e.fetched) > s.opts.StaleIfError {
		return secretstore.Secret{}, false
	}
	sec := e.secret
	sec.Stale = true
	return sec, true
}

// Invalidate drops every cached version of the secret name, and keeps the
// reads of it already in flight, which may return the value from before the
// change, from filling the cache or serving readers that come after.
func (s *Store) Invalidate(name string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for k, el := range s.entries {
		if k.name == name {
			s.lru.Remove(el)
			delete(s.entries, k)
		}
	}
	for k, c := range s.inflight {
		if k.name == name {
			c.invalidated = true
			delete(s.inflight, k)
		}
	}
}

// InvalidateAll drops every cached value and detaches every read in flight,
// as Invalidate does for one secret: for when changes may have been missed.
func (s *Store) InvalidateAll() {
	s.mu.Lock()
	defer s.mu.Unlock()
	clear(s.entries)
	s.lru.Init()
	for k, c := range s.inflight {
		c.invalidated = true
		delete(s.inflight, k)
	}
}

// Len is the number of cached versions.
func (s *Store) Len() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.lru.Len()
}
