// Package budget bounds the requests credflow sends one secret store, so that
// credflow stays under the store's own throttling limit: at most so many in
// any window, waiting for a turn within the caller's deadline, or failing at
// once as throttled when the turn would come too late. It knows nothing of
// any store's protocol.
package budget

import (
	"context"
	"sync"
	"time"

	"github.com/credflow/credflow/internal/secretstore"
)

// Budget is at most Reads requests in any window of length Per.
type Budget struct {
	Reads int
	Per   time.Duration
}

// MaxReads bounds the memory a Limiter takes (one time per read).
const MaxReads = 100000

// Limiter enforces a Budget over a sliding window: it remembers when each of
// the last Reads requests was (or will be) sent, and a new one goes no
// sooner than Per after the oldest of them. Unlike a token bucket, whose
// full bucket plus refill lets nearly twice the rate through in one
// window, this never exceeds Reads in any window, which is what the
// stores' limits count (Key Vault's, for one).
type Limiter struct {
	per time.Duration
	now func() time.Time

	mu   sync.Mutex
	ring []time.Time // send times, circular; zero: unused
	next int         // the oldest entry, replaced by the next request
}

// New returns a Limiter of b; Reads is clamped to 1..MaxReads.
func New(b Budget) *Limiter {
	n := min(max(b.Reads, 1), MaxReads)
	return &Limiter{per: b.Per, now: time.Now, ring: make([]time.Time, n)}
}

// Take reserves the next send time and waits for it. When that time falls
// after ctx's deadline it fails at once with a *secretstore.ThrottledError
// saying how long the wait would be, and reserves nothing. A wait cut short
// by ctx keeps its reservation, which errs on the side of fewer reads.
func (b *Limiter) Take(ctx context.Context) error {
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

// reserve books the next send time and returns how long until it; with a
// deadline (non-zero) before that time it books nothing and fails.
func (b *Limiter) reserve(deadline time.Time) (time.Duration, error) {
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
