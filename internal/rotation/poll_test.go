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
