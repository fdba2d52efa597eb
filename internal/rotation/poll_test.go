package rotation_test

import (
	"context"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/credflow/credflow/internal/rotation"
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
