package cache_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/credflow/credflow/internal/secretstore"
	"github.com/credflow/credflow/internal/secretstore/cache"
	"github.com/credflow/credflow/internal/secretstore/memstore"
)

func get(t *testing.T, s secretstore.Store, name string) (secretstore.Secret, error) {
	t.Helper()
	return s.Get(context.Background(), secretstore.Ref{Name: name})
}

func TestConcurrentColdReadsMakeOneStoreCall(t *testing.T) {
	m := memstore.New()
	m.Set("db", "pw")
	m.SetLatency(50 * time.Millisecond)
	c := cache.New(m, cache.Options{TTL: time.Minute})
	var wg sync.WaitGroup
	errs := make(chan error, 100)
	for i := 0; i < 100; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			s, err := get(t, c, "db")
			if err == nil && s.Value.Reveal() != "pw" {
				err = errors.New("wrong value")
			}
			errs <- err
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	if n := m.Gets(); n != 1 {
		t.Fatalf("%d store calls, want 1", n)
	}
	get(t, c, "db")
	if n := m.Gets(); n != 1 {
		t.Errorf("a warm read called the store (%d calls)", n)
	}
}

func TestTTLAndInvalidation(t *testing.T) {
	m := memstore.New()
	m.Set("db", "v1")
	c := cache.New(m, cache.Options{TTL: 500 * time.Millisecond})
	if s, _ := get(t, c, "db"); s.Value.Reveal() != "v1" {
		t.Fatal("first read")
	}
	m.Set("db", "v2")
	if s, _ := get(t, c, "db"); s.Value.Reveal() != "v1" {
		t.Fatal("within the TTL the cached value is served")
	}
	time.Sleep(600 * time.Millisecond)
	if s, _ := get(t, c, "db"); s.Value.Reveal() != "v2" || s.Version != "2" {
		t.Fatalf("after the TTL: %v %s", s.Value.Reveal(), s.Version)
	}
	m.Set("db", "v3")
	c.Invalidate("db")
	if s, _ := get(t, c, "db"); s.Value.Reveal() != "v3" {
		t.Fatal("invalidation did not drop the cached value")
	}
}

func TestZeroTTLAlwaysAsks(t *testing.T) {
	m := memstore.New()
	m.Set("db", "v1")
	c := cache.New(m, cache.Options{})
	for i := 0; i < 3; i++ {
		get(t, c, "db")
	}
	if m.Gets() != 3 || c.Len() != 0 {
		t.Fatalf("gets %d, cached %d", m.Gets(), c.Len())
	}
}

func TestStaleIfError(t *testing.T) {
	cases := []struct {
		name      string
		fail      error
		wait      time.Duration
		wantStale bool
	}{
		{"unavailable", secretstore.ErrUnavailable, 0, true},
		{"throttled", &secretstore.ThrottledError{RetryAfter: time.Second}, 0, true},
		{"timeout", secretstore.ErrTimeout, 0, true},
		{"too old", secretstore.ErrUnavailable, 1200 * time.Millisecond, false},
		{"not found is an answer, not a failure", secretstore.ErrNotFound, 0, false},
		{"forbidden is an answer", secretstore.ErrForbidden, 0, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			m := memstore.New()
			m.Set("db", "good")
			c := cache.New(m, cache.Options{TTL: time.Millisecond, StaleIfError: time.Second})
			get(t, c, "db")
			time.Sleep(2*time.Millisecond + tc.wait)
			m.Fail(tc.fail)
			s, err := get(t, c, "db")
			if tc.wantStale {
				if err != nil || !s.Stale || s.Value.Reveal() != "good" {
					t.Fatalf("got %v stale=%v", err, s.Stale)
				}
				return
			}
			if err == nil || !errors.Is(err, tc.fail) {
				t.Fatalf("got %v, want %v", err, tc.fail)
			}
		})
	}
}

func TestCallTimeoutIsStoreTimeout(t *testing.T) {
	m := memstore.New()
	m.Set("db", "v")
	m.SetLatency(time.Second)
	c := cache.New(m, cache.Options{TTL: time.Minute, CallTimeout: 20 * time.Millisecond})
	if _, err := get(t, c, "db"); !errors.Is(err, secretstore.ErrTimeout) {
		t.Fatalf("got %v, want ErrTimeout", err)
	}
}

// TestCallerCancelDoesNotFailOthers: a reader that gives up while another
// waits for the same read leaves the read running for the other, and its
// value is cached.
func TestCallerCancelDoesNotFailOthers(t *testing.T) {
	m := memstore.New()
	m.Set("db", "v")
	m.SetLatency(100 * time.Millisecond)
	c := cache.New(m, cache.Options{TTL: time.Minute})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() {
		_, err := c.Get(ctx, secretstore.Ref{Name: "db"})
		done <- err
	}()
	second := make(chan error)
	go func() {
		time.Sleep(10 * time.Millisecond) // joins the first reader's read
		s, err := get(t, c, "db")
		if err == nil && s.Value.Reveal() != "v" {
			err = errors.New("wrong value")
		}
		second <- err
	}()
	time.Sleep(30 * time.Millisecond)
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled caller got %v", err)
	}
	if err := <-second; err != nil || m.Gets() != 1 {
		t.Fatalf("second reader: %v, %d calls", err, m.Gets())
	}
	if _, err := get(t, c, "db"); err != nil || m.Gets() != 1 {
		t.Fatalf("the value was not cached: %v, %d calls", err, m.Gets())
	}
}

// TestLastReaderGoneCancelsTheRead: when every reader of a read has given
// up (a client disconnected), the store call is cancelled at once rather
// than left to run to its timeout, and the next reader starts a new one.
func TestLastReaderGoneCancelsTheRead(t *testing.T) {
	m := memstore.New()
	m.Set("db", "v")
	m.SetLatency(time.Hour)
	c := cache.New(m, cache.Options{TTL: time.Minute, CallTimeout: time.Hour})
	var wg sync.WaitGroup
	ctx, cancel := context.WithCancel(context.Background())
	for range 3 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := c.Get(ctx, secretstore.Ref{Name: "db"}); !errors.Is(err, context.Canceled) {
				t.Errorf("reader got %v", err)
			}
		}()
	}
	waitUntil(t, func() bool { return m.InFlight() == 1 })
	cancel()
	wg.Wait()
	waitUntil(t, func() bool { return m.InFlight() == 0 })
	if m.Gets() != 1 {
		t.Fatalf("%d store calls for three readers", m.Gets())
	}
	m.SetLatency(0)
	if s, err := get(t, c, "db"); err != nil || s.Value.Reveal() != "v" || m.Gets() != 2 {
		t.Fatalf("the next reader: %v, %d calls", err, m.Gets())
	}
}

func waitUntil(t *testing.T, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); !cond(); time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("condition not met in 5s")
		}
	}
}

func TestBoundedSize(t *testing.T) {
	m := memstore.New()
	for _, n := range []string{"a", "b", "c", "d"} {
		m.Set(n, n)
	}
	c := cache.New(m, cache.Options{TTL: time.Minute, MaxEntries: 2})
	for _, n := range []string{"a", "b", "c", "d"} {
		get(t, c, n)
	}
	if c.Len() != 2 {
		t.Fatalf("%d entries, want 2", c.Len())
	}
	before := m.Gets()
	get(t, c, "d") // most recent: cached
	get(t, c, "a") // evicted: read again
	if m.Gets() != before+1 {
		t.Errorf("eviction did not drop the least recently used: %d calls", m.Gets()-before)
	}
}

// gatedStore holds its first read until release is closed, after telling
// started that the read began.
type gatedStore struct {
	secretstore.Store
	started chan struct{}
	release chan struct{}
	once    sync.Once
}

func (g *gatedStore) Get(ctx context.Context, ref secretstore.Ref) (secretstore.Secret, error) {
	first := false
	g.once.Do(func() { first = true })
	// Read before blocking: the value is the one from before the change.
	sec, err := g.Store.Get(ctx, ref)
	if first {
		close(g.started)
		<-g.release
	}
	return sec, err
}

func TestInvalidationWinsOverReadInFlight(t *testing.T) {
	m := memstore.New()
	m.Set("db", "old")
	g := &gatedStore{Store: m, started: make(chan struct{}), release: make(chan struct{})}
	c := cache.New(g, cache.Options{TTL: time.Minute, StaleIfError: time.Minute})

	early := make(chan secretstore.Secret, 1)
	go func() {
		s, err := get(t, c, "db")
		if err != nil {
			t.Errorf("read in flight: %v", err)
		}
		early <- s
	}()
	<-g.started
	m.Set("db", "new")
	c.Invalidate("db")

	// A read that starts after the invalidation must not wait for, or be
	// served by, the read that started before it.
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
	s, err := c.Get(ctx, secretstore.Ref{Name: "db"})
	cancel()
	if err != nil || s.Value.Reveal() != "new" {
		close(g.release)
		t.Fatalf("read after the invalidation = %q, %v; want the new value", s.Value.Reveal(), err)
	}
	close(g.release)
	if s := <-early; s.Value.Reveal() != "old" {
		t.Fatalf("read in flight = %q; want the value it read", s.Value.Reveal())
	}
	// The late result of the old read must not have replaced the new one.
	m.Fail(secretstore.ErrUnavailable) // anything but the cache would now fail
	for range 3 {
		s, err := get(t, c, "db")
		if err != nil || s.Value.Reveal() != "new" || s.Stale {
			t.Fatalf("read after the old read finished = %q (stale %v), %v; want the new value from the cache", s.Value.Reveal(), s.Stale, err)
		}
	}
	if n := m.Gets(); n != 2 {
		t.Errorf("%d store calls, want 2 (the old read and one after the invalidation)", n)
	}
}

func TestInvalidationDuringReadLeavesCacheEmpty(t *testing.T) {
	m := memstore.New()
	m.Set("db", "old")
	g := &gatedStore{Store: m, started: make(chan struct{}), release: make(chan struct{})}
	c := cache.New(g, cache.Options{TTL: time.Minute})
	done := make(chan struct{})
	go func() {
		defer close(done)
		get(t, c, "db")
	}()
	<-g.started
	m.Set("db", "new")
	c.Invalidate("db")
	close(g.release)
	<-done
	if c.Len() != 0 {
		t.Fatalf("the read that started before the invalidation filled the cache (%d entries)", c.Len())
	}
	if s, err := get(t, c, "db"); err != nil || s.Value.Reveal() != "new" {
		t.Fatalf("next read = %q, %v; want the new value", s.Value.Reveal(), err)
	}
}

func TestInvalidateAllDropsEverySecret(t *testing.T) {
	m := memstore.New()
	m.Set("a", "a1")
	m.Set("b", "b1")
	c := cache.New(m, cache.Options{TTL: time.Hour})
	reg := secretstore.NewRegistry()
	reg.AddWithReader(secretstore.Info{ID: "1", Name: "mem", Kind: "memory"}, m, c)
	get(t, c, "a")
	get(t, c, "b")
	m.Set("a", "a2")
	m.Set("b", "b2")
	if s, _ := get(t, c, "a"); s.Value.Reveal() != "a1" || c.Len() != 2 {
		t.Fatalf("cached %q, %d entries", s.Value.Reveal(), c.Len())
	}
	reg.InvalidateStore("MEM")
	if c.Len() != 0 {
		t.Fatalf("%d entries after InvalidateStore", c.Len())
	}
	for name, want := range map[string]string{"a": "a2", "b": "b2"} {
		if s, _ := get(t, c, name); s.Value.Reveal() != want {
			t.Errorf("%s: %q, want %q", name, s.Value.Reveal(), want)
		}
	}
	m.Set("a", "a3")
	reg.InvalidateAll()
	if s, _ := get(t, c, "a"); s.Value.Reveal() != "a3" {
		t.Errorf("after InvalidateAll: %q", s.Value.Reveal())
	}
}

func TestInvalidateAllWinsOverReadInFlight(t *testing.T) {
	m := memstore.New()
	m.Set("db", "old")
	g := &gatedStore{Store: m, started: make(chan struct{}), release: make(chan struct{})}
	c := cache.New(g, cache.Options{TTL: time.Minute})
	early := make(chan secretstore.Secret, 1)
	go func() {
		s, _ := get(t, c, "db")
		early <- s
	}()
	<-g.started
	m.Set("db", "new")
	c.InvalidateAll()
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
	s, err := c.Get(ctx, secretstore.Ref{Name: "db"})
	cancel()
	close(g.release)
	if err != nil || s.Value.Reveal() != "new" {
		t.Fatalf("read after InvalidateAll = %q, %v; want the new value", s.Value.Reveal(), err)
	}
	if s := <-early; s.Value.Reveal() != "old" {
		t.Fatalf("read in flight = %q; want the value it read", s.Value.Reveal())
	}
	if s, _ := get(t, c, "db"); s.Value.Reveal() != "new" {
		t.Errorf("the read from before InvalidateAll filled the cache: %q", s.Value.Reveal())
	}
}

// tally is an Observer that counts.
type tally struct {
	mu    sync.Mutex
	reads map[cache.Result]int
	calls []error
}

func (t *tally) Read(r cache.Result) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.reads[r]++
}

func (t *tally) Call(err error, took time.Duration) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.calls = append(t.calls, err)
}

func TestObserverHearsReadsAndCalls(t *testing.T) {
	m := memstore.New()
	m.Set("db", "good")
	obs := &tally{reads: map[cache.Result]int{}}
	c := cache.New(m, cache.Options{TTL: time.Minute, StaleIfError: time.Hour, Observer: obs})
	get(t, c, "db") // miss, one call
	get(t, c, "db") // hit
	get(t, c, "db") // hit
	c.Invalidate("db")
	m.Fail(secretstore.ErrUnavailable)
	if _, err := get(t, c, "db"); err == nil {
		t.Fatal("an invalidated value was served while the store failed")
	}
	want := map[cache.Result]int{cache.Hit: 2, cache.Miss: 2}
	if obs.reads[cache.Hit] != want[cache.Hit] || obs.reads[cache.Miss] != want[cache.Miss] || obs.reads[cache.Stale] != 0 {
		t.Errorf("reads %v, want %v", obs.reads, want)
	}
	if len(obs.calls) != 2 || obs.calls[0] != nil || !errors.Is(obs.calls[1], secretstore.ErrUnavailable) {
		t.Errorf("calls %v, want a good one then an unavailable one", obs.calls)
	}

	// A failure after the TTL serves the stale value: a miss and a stale.
	m2 := memstore.New()
	m2.Set("db", "good")
	obs2 := &tally{reads: map[cache.Result]int{}}
	c2 := cache.New(m2, cache.Options{TTL: time.Millisecond, StaleIfError: time.Hour, Observer: obs2})
	get(t, c2, "db")
	time.Sleep(2 * time.Millisecond)
	m2.Fail(secretstore.ErrUnavailable)
	if s, err := get(t, c2, "db"); err != nil || !s.Stale {
		t.Fatalf("got %v stale=%v", err, s.Stale)
	}
	if obs2.reads[cache.Miss] != 2 || obs2.reads[cache.Stale] != 1 || obs2.reads[cache.Hit] != 0 {
		t.Errorf("reads %v, want 2 misses and 1 stale", obs2.reads)
	}
}

// gate is a store whose reads wait until released, counting those open.
type gate struct {
	secretstore.Store
	mu            sync.Mutex
	open, maxOpen int
	release       chan struct{}
}

func (g *gate) Get(ctx context.Context, ref secretstore.Ref) (secretstore.Secret, error) {
	g.mu.Lock()
	g.open++
	g.maxOpen = max(g.maxOpen, g.open)
	g.mu.Unlock()
	defer func() {
		g.mu.Lock()
		g.open--
		g.mu.Unlock()
	}()
	select {
	case <-g.release:
	case <-ctx.Done():
		return secretstore.Secret{}, ctx.Err()
	}
	return g.Store.Get(ctx, ref)
}

func TestMaxCallsBoundsOpenStoreCalls(t *testing.T) {
	m := memstore.New()
	names := []string{"a", "b", "c", "d", "e", "f"}
	for _, n := range names {
		m.Set(n, "v-"+n)
	}
	g := &gate{Store: m, release: make(chan struct{})}
	c := cache.New(g, cache.Options{TTL: time.Minute, MaxCalls: 2})
	var wg sync.WaitGroup
	errs := make(chan error, len(names))
	for _, n := range names {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := get(t, c, n)
			errs <- err
		}()
	}
	time.Sleep(100 * time.Millisecond) // every reader is waiting by now
	close(g.release)
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	if g.maxOpen != 2 {
		t.Errorf("at most %d calls were open at once, want 2 (MaxCalls)", g.maxOpen)
	}

	t.Run("a wait for a turn counts in the call's timeout", func(t *testing.T) {
		g := &gate{Store: m, release: make(chan struct{})}
		defer close(g.release)
		c := cache.New(g, cache.Options{TTL: time.Minute, MaxCalls: 1, CallTimeout: 50 * time.Millisecond})
		go get(t, c, "a") // holds the only turn until its timeout
		time.Sleep(10 * time.Millisecond)
		if _, err := get(t, c, "b"); !errors.Is(err, secretstore.ErrTimeout) {
			t.Errorf("got %v, want ErrTimeout", err)
		}
	})
}

// panicky panics in Get while armed, after reading the value it would
// return, carrying that value (as a careless client might).
type panicky struct {
	*memstore.Store
	armed  bool
	nilPtr bool
}

func (p *panicky) Get(ctx context.Context, ref secretstore.Ref) (secretstore.Secret, error) {
	sec, err := p.Store.Get(ctx, ref)
	switch {
	case p.armed && p.nilPtr:
		var m map[string]*int
		_ = *m["x"] // a runtime error
	case p.armed:
		panic(sec)
	}
	return sec, err
}

// TestAStoreThatPanicsFailsTheRead: the store call runs on a goroutine of
// its own, so a client's panic there would end the process. It fails the
// read as an unavailable store, names the panic's type and never its
// value, releases its turn (the next read is not left waiting), and the
// next read after the client recovers is served.
func TestAStoreThatPanicsFailsTheRead(t *testing.T) {
	const value = "pw-7c1e-panic"
	for _, tc := range []struct {
		name   string
		nilPtr bool
		what   string
	}{
		{"a value", false, "value of type secretstore.Secret"},
		{"a runtime error", true, "invalid memory address or nil pointer dereference"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := memstore.New()
			m.Set("db", value)
			p := &panicky{Store: m, armed: true, nilPtr: tc.nilPtr}
			c := cache.New(p, cache.Options{TTL: time.Minute, MaxCalls: 1, CallTimeout: 5 * time.Second})
			for i := range 3 { // three times: the one turn is given back each time
				_, err := get(t, c, "db")
				var pe *secretstore.PanicError
				if !errors.Is(err, secretstore.ErrUnavailable) || !errors.As(err, &pe) {
					t.Fatalf("read %d: %v, want an unavailable store from a panic", i, err)
				}
				if !strings.Contains(err.Error(), tc.what) || !strings.Contains(err.Error(), "panicked") {
					t.Errorf("read %d: the error does not say what panicked: %.200s", i, err)
				}
				if strings.Contains(err.Error(), value) {
					t.Fatalf("read %d: the error holds the value", i)
				}
			}
			p.armed = false
			if s, err := get(t, c, "db"); err != nil || s.Value.Reveal() != value {
				t.Fatalf("after the client recovered: %v", err)
			}
		})
	}
}
