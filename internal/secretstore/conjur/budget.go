package conjur

import (
	"context"
	"sync"
	"time"

	"github.com/credflow/credflow/internal/secretstore"
)

// budgetWindow is the window a read budget counts over.
const budgetWindow = 10 * time.Second

// budget bounds the requests credflow sends one Conjur server: at most n in
// any window. It remembers when each of the last n requests was (or will
// be) sent, and a new one goes no sooner than a window after the oldest of
// them, so that no window ever holds more than n.
type budget struct {
	per time.Duration
	now func() time.Time

	mu   sync.Mutex
	ring []time.Time // send times, circular; zero: unused
	next int         // the oldest entry, replaced by the next request
}

func newBudget(n int, per time.Duration) *budget {
	return &budget{per: per, now: time.Now, ring: make([]time.Time, min(max(n, 1), MaxReadBudget))}
}

// take reserves the next send time and waits for it. When that time falls
// after ctx's deadline it fails at once with a *secretstore.ThrottledError
// saying how long the wait would be, and reserves nothing.
func (b *budget) take(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	deadline, _ := ctx.Deadline()
	wait, err := b.reserve(deadline)
	if err != nil || wait <= 0 {
		return err
	}
	t := time.NewTimer(wait)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (b *budget) reserve(deadline time.Time) (time.Duration, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	now := b.now()
	at := now
	if oldest := b.ring[b.next]; !oldest.IsZero() && oldest.Add(b.per).After(now) {
		at = oldest.Add(b.per)
	}
	wait := at.Sub(now)
	if wait > 0 && !deadline.IsZero() && deadline.Before(at) {
		return 0, &secretstore.ThrottledError{RetryAfter: wait}
	}
	b.ring[b.next] = at
	b.next = (b.next + 1) % len(b.ring)
	return wait, nil
}
