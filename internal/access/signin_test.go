package access

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/credflow/credflow/internal/audit"
)

// fakeRecorder keeps the records written, with their client addresses.
type fakeRecorder struct {
	mu   sync.Mutex
	recs []audit.Record
	fail error
}

func (f *fakeRecorder) Record(ctx context.Context, entries ...audit.Entry) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.fail != nil {
		return f.fail
	}
	for _, e := range entries {
		req := audit.RequestFrom(ctx)
		f.recs = append(f.recs, audit.Record{Entry: e, Client: req.Client, RequestID: req.RequestID})
	}
	return nil
}

func (f *fakeRecorder) reasons() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []string
	for _, r := range f.recs {
		out = append(out, r.Resource+" "+r.Client+" "+r.Reason)
	}
	return out
}

type fakeClock struct{ t time.Time }

func (c *fakeClock) now() time.Time      { return c.t }
func (c *fakeClock) add(d time.Duration) { c.t = c.t.Add(d) }
func reqCtx(client string) context.Context {
	return audit.WithRequest(context.Background(), audit.Request{Client: client, RequestID: "r-" + client})
}

func TestSignInGuard(t *testing.T) {
	start := time.Date(2026, 1, 2, 15, 4, 0, 0, time.UTC)
	type step struct {
		after  time.Duration // clock moves on first
		client string
		// refused: the failure must be refused, with this Retry-After.
		refused time.Duration
	}
	cases := []struct {
		name    string
		max     int
		steps   []step
		flush   bool // Flush(all) at the end
		records []string
	}{
		{"under the limit, audited once when the window ends", 0, []step{
			{0, "10.0.0.1", 0}, {time.Second, "10.0.0.1", 0}, {time.Second, "10.0.0.1", 0},
		}, true, []string{"client:10.0.0.1 10.0.0.1 3 failed sign-ins in the 1m0s from 2026-01-02T15:04:00Z; last reason: bad token"}},
		{"past the limit, refused until the window ends", 0, []step{
			{0, "10.0.0.1", 0}, {0, "10.0.0.1", 0}, {0, "10.0.0.1", 0},
			{10 * time.Second, "10.0.0.1", 50 * time.Second}, {49 * time.Second, "10.0.0.1", time.Second},
			// A new window: counted afresh, and the last one audited.
			{time.Second, "10.0.0.1", 0},
		}, false, []string{"client:10.0.0.1 10.0.0.1 5 failed sign-ins in the 1m0s from 2026-01-02T15:04:00Z; 2 refused with 429 after the limit of 3; last reason: bad token"}},
		{"addresses are counted apart", 0, []step{
			{0, "10.0.0.1", 0}, {0, "10.0.0.1", 0}, {0, "10.0.0.1", 0}, {0, "10.0.0.2", 0}, {0, "10.0.0.1", time.Minute},
		}, true, []string{
			"client:10.0.0.1 10.0.0.1 4 failed sign-ins in the 1m0s from 2026-01-02T15:04:00Z; 1 refused with 429 after the limit of 3; last reason: bad token",
			"client:10.0.0.2 10.0.0.2 1 failed sign-in in the 1m0s from 2026-01-02T15:04:00Z; last reason: bad token",
		}},
		{"a full table shares one window", 2, []step{
			{0, "10.0.0.1", 0}, {0, "10.0.0.2", 0}, {0, "10.0.0.3", 0}, {0, "10.0.0.4", 0}, {0, "10.0.0.5", 0}, {0, "10.0.0.6", time.Minute},
		}, true, []string{
			"client:* * 4 failed sign-ins from addresses beyond the 2 tracked one by one in the 1m0s from 2026-01-02T15:04:00Z; 1 refused with 429 after the limit of 3; last reason: bad token",
			"client:10.0.0.1 10.0.0.1 1 failed sign-in in the 1m0s from 2026-01-02T15:04:00Z; last reason: bad token",
			"client:10.0.0.2 10.0.0.2 1 failed sign-in in the 1m0s from 2026-01-02T15:04:00Z; last reason: bad token",
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			clock := &fakeClock{start}
			rec := &fakeRecorder{}
			g := newSignInGuard(rec, SignInOptions{Limit: 3, MaxAddresses: c.max}, clock.now)
			for i, s := range c.steps {
				clock.add(s.after)
				err := g.Failed(reqCtx(s.client), s.client, "bad token")
				var le *SignInLimitError
				switch {
				case s.refused == 0 && err != nil:
					t.Fatalf("step %d: refused: %v", i, err)
				case s.refused != 0 && (!errors.As(err, &le) || le.RetryAfter != s.refused || le.Limit != 3):
					t.Fatalf("step %d: %v, want a refusal with Retry-After %s", i, err, s.refused)
				}
			}
			if len(g.addrs) > max(c.max, 0) && c.max > 0 {
				t.Errorf("the table holds %d addresses, bound %d", len(g.addrs), c.max)
			}
			if c.flush {
				g.Flush(context.Background(), true)
			}
			got := rec.reasons()
			slices.Sort(got)
			if fmt.Sprint(got) != fmt.Sprint(c.records) {
				t.Errorf("records\n%q\nwant\n%q", got, c.records)
			}
		})
	}
}

// TestSignInGuardSweep checks that a window is audited by the sweep once
// it ended, not before, and only once.
func TestSignInGuardSweep(t *testing.T) {
	clock := &fakeClock{time.Date(2026, 1, 2, 15, 4, 0, 0, time.UTC)}
	rec := &fakeRecorder{}
	g := newSignInGuard(rec, SignInOptions{Limit: 3}, clock.now)
	_ = g.Failed(reqCtx("10.0.0.1"), "10.0.0.1", "bad token")
	clock.add(59 * time.Second)
	g.Flush(context.Background(), false)
	if n := len(rec.reasons()); n != 0 {
		t.Fatalf("audited before the window ended: %v", rec.reasons())
	}
	clock.add(time.Second)
	g.Flush(context.Background(), false)
	g.Flush(context.Background(), false)
	if got := rec.reasons(); len(got) != 1 || rec.recs[0].RequestID != "r-10.0.0.1" || rec.recs[0].Action != "auth.signin.failed" ||
		rec.recs[0].Outcome != audit.Denied || rec.recs[0].Actor != "anonymous" {
		t.Errorf("records %+v", rec.recs)
	}
	if len(g.addrs) != 0 {
		t.Errorf("the table still holds %d addresses", len(g.addrs))
	}
}
