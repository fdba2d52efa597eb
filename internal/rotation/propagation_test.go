package rotation_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/credflow/credflow/internal/rotation"
)

// memPropagation keeps what a Propagation records, in memory.
type memPropagation struct {
	mu      sync.Mutex
	changes []string
	reached chan rotation.Reached
}

func (m *memPropagation) RecordChange(_ context.Context, store, secret string, at time.Time, source rotation.Source) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.changes = append(m.changes, store+"/"+secret+" "+string(source))
	return nil
}

func (m *memPropagation) RecordReached(_ context.Context, r rotation.Reached) error {
	m.reached <- r
	return nil
}

func (m *memPropagation) Propagations(context.Context, int) ([]rotation.Propagated, error) {
	return nil, nil
}

// TestPropagationCountsTheFirstRunAfterAChange: only a resolve that started
// after the cached values were dropped counts, only the first, matched
// without case; nothing is waited for before a change; a newer change
// replaces an older one that no run received yet, and an older one told
// late changes nothing.
func TestPropagationCountsTheFirstRunAfterAChange(t *testing.T) {
	t0 := time.Date(2026, 5, 6, 7, 8, 9, 0, time.UTC)
	served := func(secret, runner string) rotation.Reached {
		return rotation.Reached{Store: "KV", Secret: secret, At: t0.Add(time.Hour), Version: "v2", Runner: runner, Connection: "c"}
	}
	type serve struct {
		startedBefore bool // the resolve started before the change was expected
		r             rotation.Reached
	}
	for _, tc := range []struct {
		name       string
		changes    []time.Time // Expect("kv", "db-pass", t) in order
		serves     []serve
		wantRunner string // the first resolve recorded, "" for none
		wantChange time.Time
	}{
		{name: "no change waits", serves: []serve{{r: served("db-pass", "r1")}}},
		{name: "the first resolve after the change", changes: []time.Time{t0},
			serves: []serve{{r: served("DB-PASS", "r1")}, {r: served("db-pass", "r2")}}, wantRunner: "r1", wantChange: t0},
		{name: "a resolve that started before does not count", changes: []time.Time{t0},
			serves: []serve{{startedBefore: true, r: served("db-pass", "early")}, {r: served("db-pass", "r2")}}, wantRunner: "r2", wantChange: t0},
		{name: "another secret does not count", changes: []time.Time{t0},
			serves: []serve{{r: served("api-key", "r1")}}},
		{name: "a newer change replaces the older", changes: []time.Time{t0, t0.Add(time.Second)},
			serves: []serve{{r: served("db-pass", "r1")}}, wantRunner: "r1", wantChange: t0.Add(time.Second)},
		{name: "an older change told late changes nothing", changes: []time.Time{t0.Add(time.Second), t0},
			serves: []serve{{r: served("db-pass", "r1")}}, wantRunner: "r1", wantChange: t0.Add(time.Second)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			repo := &memPropagation{reached: make(chan rotation.Reached, 10)}
			p := rotation.NewPropagation(repo, nil)
			ctx, cancel := context.WithCancel(t.Context())
			done := make(chan struct{})
			go func() { defer close(done); p.Run(ctx) }()
			defer func() { cancel(); <-done }()

			before := time.Now().Add(-time.Minute)
			for _, c := range tc.changes {
				p.Expect("kv", "db-pass", c)
			}
			if p.Waiting() != (len(tc.changes) > 0) {
				t.Fatalf("waiting %v with %d changes", p.Waiting(), len(tc.changes))
			}
			for _, s := range tc.serves {
				started := time.Now()
				if s.startedBefore {
					started = before
				}
				p.Served(started, s.r)
			}
			if tc.wantRunner == "" {
				select {
				case r := <-repo.reached:
					t.Fatalf("recorded %+v", r)
				case <-time.After(20 * time.Millisecond):
				}
				return
			}
			r := <-repo.reached
			if r.Runner != tc.wantRunner || !r.ChangedAt.Equal(tc.wantChange) || r.Latency() != time.Hour-tc.wantChange.Sub(t0) {
				t.Errorf("recorded %+v, want runner %s of the change at %v", r, tc.wantRunner, tc.wantChange)
			}
			if p.Waiting() {
				t.Error("still waiting after the first resolve")
			}
			select {
			case r := <-repo.reached:
				t.Errorf("a second resolve recorded: %+v", r)
			case <-time.After(20 * time.Millisecond):
			}
		})
	}
}

// TestPropagationChangedRecords: Changed records the change and waits for
// its run; a nil Propagation (no measure) does nothing.
func TestPropagationChangedRecords(t *testing.T) {
	repo := &memPropagation{reached: make(chan rotation.Reached, 1)}
	p := rotation.NewPropagation(repo, nil)
	if err := p.Changed(t.Context(), "kv", "db-pass", time.Now(), rotation.SourcePoll); err != nil {
		t.Fatal(err)
	}
	if len(repo.changes) != 1 || repo.changes[0] != "kv/db-pass poll" || !p.Waiting() {
		t.Errorf("changes %v, waiting %v", repo.changes, p.Waiting())
	}
	var none *rotation.Propagation
	if err := none.Changed(t.Context(), "kv", "x", time.Now(), rotation.SourcePoll); err != nil || none.Waiting() {
		t.Errorf("nil propagation: %v %v", err, none.Waiting())
	}
	none.Expect("kv", "x", time.Now())
}
