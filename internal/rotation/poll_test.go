package rotation_test

import (
	"context"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/credflow/credflow/internal/rotation"
	"github.com/credflow/credflow/internal/secretstore"
	"github.com/credflow/credflow/internal/secretstore/memstore"
	"github.com/credflow/credflow/internal/testclock"
)

type intervals map[string]time.Duration

func (i intervals) PollInterval(_ context.Context, store string) (time.Duration, error) {
	return i[store], nil
}

func TestPollFindsNewVersions(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	f.vault.Set("db-pass", "one")
	var mu sync.Mutex
	var polled []string
	p := rotation.NewPoller(f.svc, intervals{"vault": time.Minute}, f.reg, rotation.OnPolled(func(store string, _ time.Time) {
		mu.Lock()
		defer mu.Unlock()
		polled = append(polled, store)
	}))
	for _, step := range []struct {
		name        string
		set         string // a new value of db-pass before the poll, "" for none
		wantChanged []string
		wantRead    string
	}{
		{name: "the first poll records the versions", wantRead: "one"},
		{name: "nothing changed", wantRead: "one"},
		{name: "a new version is applied", set: "two", wantChanged: []string{"db-pass"}, wantRead: "two"},
		{name: "and only once", wantRead: "two"},
	} {
		t.Run(step.name, func(t *testing.T) {
			f.read(t) // cache the current value
			if step.set != "" {
				f.vault.Set("db-pass", step.set)
			}
			changed, err := p.Poll(ctx, "vault")
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(changed, step.wantChanged) {
				t.Errorf("changed %v, want %v", changed, step.wantChanged)
			}
			if got := f.read(t); got != step.wantRead {
				t.Errorf("next read %q, want %q", got, step.wantRead)
			}
		})
	}
	if n := len(f.audit.entries); n != 1 || f.audit.entries[0].Action != "secret.rotate" {
		t.Errorf("audit %+v", f.audit.entries)
	}
	if !slices.Equal(f.ann.said, []string{"vault/db-pass"}) {
		t.Errorf("announced %v", f.ann.said)
	}
	if len(polled) != 4 {
		t.Errorf("polls reported %v", polled)
	}
}

func TestPollerRunsDueStores(t *testing.T) {
	f := newFixture(t)
	f.vault.Set("db-pass", "one")
	done := make(chan string, 10)
	p := rotation.NewPoller(f.svc, intervals{"vault": 50 * time.Millisecond}, f.reg, rotation.WithTick(5*time.Millisecond),
		rotation.OnPolled(func(store string, _ time.Time) { done <- store }))
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go p.Run(ctx)
	for range 3 {
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			t.Fatal("the store was not polled")
		}
	}
	f.read(t)
	f.vault.Set("db-pass", "two")
	deadline := time.Now().Add(5 * time.Second)
	for f.read(t) != "two" {
		if time.Now().After(deadline) {
			t.Fatal("the poller did not apply the new version")
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestPollerSkipsStoresNotPolled(t *testing.T) {
	f := newFixture(t)
	f.vault.Set("db-pass", "one")
	polled := make(chan string, 10)
	p := rotation.NewPoller(f.svc, intervals{"vault": 0}, f.reg, rotation.WithTick(5*time.Millisecond),
		rotation.OnPolled(func(store string, _ time.Time) { polled <- store }))
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	p.Run(ctx)
	if len(polled) != 0 {
		t.Errorf("a store with pollInterval 0 was polled %d times", len(polled))
	}
}

// panickyStater panics in Stat while armed, as a store client with a bug
// might on an odd answer.
type panickyStater struct {
	*memstore.Store
	armed atomic.Bool
	stats atomic.Int64
}

func (p *panickyStater) Stat(ctx context.Context, ref secretstore.Ref) (secretstore.Meta, error) {
	p.stats.Add(1)
	if p.armed.Load() {
		panic("client bug")
	}
	return p.Store.Stat(ctx, ref)
}

// TestPollerSurvivesAPanickingStore: polls run in the background, where a
// store client's panic would end the process. A poll that panics fails
// that poll; the poller goes on, and applies the change once the client
// answers again.
func TestPollerSurvivesAPanickingStore(t *testing.T) {
	f := newFixture(t)
	f.vault.Set("db-pass", "one")
	st := &panickyStater{Store: f.vault}
	st.armed.Store(true)
	f.reg.AddWithReader(secretstore.Info{ID: "s1", Name: "vault", Kind: "memory"}, st, f.cached)
	polled := make(chan struct{}, 100)
	p := rotation.NewPoller(f.svc, intervals{"vault": 20 * time.Millisecond}, f.reg, rotation.WithTick(5*time.Millisecond),
		rotation.OnPolled(func(string, time.Time) {
			select {
			case polled <- struct{}{}:
			default:
			}
		}))
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go p.Run(ctx)
	deadline := time.Now().Add(10 * time.Second)
	for st.stats.Load() < 3 { // three polls panicked, and the poller lives
		if time.Now().After(deadline) {
			t.Fatalf("the poller stopped polling after %d panics", st.stats.Load())
		}
		time.Sleep(5 * time.Millisecond)
	}
	if len(polled) != 0 {
		t.Fatal("a poll that panicked was reported as done")
	}
	st.armed.Store(false)
	select { // the first poll that ends records the versions
	case <-polled:
	case <-time.After(10 * time.Second):
		t.Fatal("no poll ended after the client recovered")
	}
	f.read(t)
	f.vault.Set("db-pass", "two")
	for f.read(t) != "two" {
		if time.Now().After(deadline) {
			t.Fatal("the poller did not apply the new version after the client recovered")
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// settable is a poll interval that a test changes while the poller runs;
// seen counts the lookups that returned the current value.
type settable struct {
	mu    sync.Mutex
	every time.Duration
	seen  int
}

func (s *settable) PollInterval(context.Context, string) (time.Duration, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.seen++
	return s.every, nil
}

func (s *settable) set(d time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.every, s.seen = d, 0
}

func (s *settable) current() time.Duration {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.every
}

// lookedUp reports whether the poller has read the current value.
func (s *settable) lookedUp() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.seen > 0
}

// TestPollerTakesAShorterIntervalAtOnce: a store polled every 5 minutes
// whose interval becomes 10 seconds is next polled within 10 seconds (11
// with the jitter), not after the rest of the 5 minutes. The clock is the
// poller's own, moved by the test: no wait depends on the machine's speed.
func TestPollerTakesAShorterIntervalAtOnce(t *testing.T) {
	f := newFixture(t)
	f.vault.Set("db-pass", "one")
	clock := testclock.New(time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC))
	every := &settable{every: 5 * time.Minute}
	polled := make(chan time.Time, 100)
	p := rotation.NewPoller(f.svc, every, f.reg, rotation.WithTick(time.Millisecond), rotation.WithClock(clock.Now),
		rotation.OnPolled(func(_ string, at time.Time) { polled <- at }))
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go p.Run(ctx)

	// wait waits (by the real clock, generously) until the poller has read
	// the interval as it is now, so that the next move of the clock comes
	// after its schedule.
	wait := func() {
		t.Helper()
		deadline := time.Now().Add(30 * time.Second)
		for !every.lookedUp() {
			if time.Now().After(deadline) {
				t.Fatal("the poller did not read the store's interval again: a change of it would go unseen")
			}
			time.Sleep(time.Millisecond)
		}
	}
	// pollAfter moves the clock by d and reports whether a poll followed.
	// The poller reads the interval once per store and tick, after reading
	// the clock: the second tick seen reading it after the move read the
	// moved clock, and the third one starts after the second one (and any
	// poll it made) has finished.
	pollAfter := func(d time.Duration) bool {
		t.Helper()
		clock.Advance(d)
		for range 3 {
			every.set(every.current())
			wait()
		}
		n := 0
		for len(polled) > 0 {
			<-polled
			n++
		}
		return n > 0
	}
	wait()
	if !pollAfter(5*time.Minute + time.Second) {
		t.Fatal("not polled within its 5-minute interval")
	}
	// Now on a 5-minute schedule; the interval becomes 10 s.
	every.set(10 * time.Second)
	wait()
	if !pollAfter(11 * time.Second) {
		t.Fatal("not polled within the new 10-second interval: the old schedule still held")
	}
	if !pollAfter(11 * time.Second) {
		t.Fatal("not polled again within the 10-second interval")
	}
}
