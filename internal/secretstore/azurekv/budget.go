package azurekv

import (
	"context"
	"net/http"
	"sync"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"

	"github.com/credflow/credflow/internal/secretstore"
)

// Budget bounds the requests credflow sends one vault: at most Reads in any
// window of length Per.
type Budget struct {
	Reads int
	Per   time.Duration
}

// maxBudgetReads bounds the memory a budget takes (one time per read).
const maxBudgetReads = 100000

// budget enforces a Budget over a sliding window: it remembers when each of
// the last Reads requests was (or will be) sent, and a new one goes no
// sooner than Per after the oldest of them. Unlike a token bucket, whose
// full bucket plus refill lets nearly twice the rate through in one
// window, this never exceeds Reads in any window, which is what Key
// Vault's limit counts.
type budget struct {
	per time.Duration
	now func() time.Time

	mu   sync.Mutex
	ring []time.Time // send times, circular; zero: unused
	next int         // the oldest entry, replaced by the next request
}

func newBudget(b Budget) *budget {
	n := min(max(b.Reads, 1), maxBudgetReads)
	return &budget{per: b.Per, now: time.Now, ring: make([]time.Time, n)}
}

// take reserves the next send time and waits for it. When that time falls
// after ctx's deadline it fails at once with a *secretstore.ThrottledError
// saying how long the wait would be, and reserves nothing. A wait cut short
// by ctx keeps its reservation, which errs on the side of fewer reads.
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

// reserve books the next send time and returns how long until it; with a
// deadline (non-zero) before that time it books nothing and fails.
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

// budgetPolicy spends the budget on every request sent to the vault,
// including the unauthenticated one that draws the challenge and retries.
type budgetPolicy struct{ b *budget }

func (p budgetPolicy) Do(req *policy.Request) (*http.Response, error) {
	if err := p.b.take(req.Raw().Context()); err != nil {
		return nil, nonRetriable{err}
	}
	return req.Next()
}

// nonRetriable marks an error the azcore retry policy must not retry (it
// looks for this method).
type nonRetriable struct{ error }

func (nonRetriable) NonRetriable() {}

func (e nonRetriable) Unwrap() error { return e.error }
