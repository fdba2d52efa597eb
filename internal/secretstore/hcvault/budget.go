package hcvault

import (
	"context"
	"time"

	"golang.org/x/time/rate"

	"github.com/credflow/credflow/internal/secretstore"
)

// Budget bounds the secret reads credflow sends one store: Reads per Per,
// with bursts of up to Reads.
type Budget struct {
	Reads int
	Per   time.Duration
}

// budget waits for its turn, or fails at once with a
// *secretstore.ThrottledError when the turn would come after the caller's
// deadline (so that the caller hears "throttled, retry after N" rather
// than a timeout).
type budget struct{ lim *rate.Limiter }

func newBudget(reads int, per time.Duration) *budget {
	reads = max(reads, 1)
	return &budget{lim: rate.NewLimiter(rate.Limit(float64(reads)/per.Seconds()), reads)}
}

func (b *budget) take(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if b == nil {
		return nil
	}
	r := b.lim.Reserve()
	wait := r.Delay()
	if wait <= 0 {
		return nil
	}
	if dl, ok := ctx.Deadline(); ok && time.Until(dl) < wait {
		r.Cancel()
		return &secretstore.ThrottledError{RetryAfter: wait}
	}
	t := time.NewTimer(wait)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		r.Cancel()
		return ctx.Err()
	}
}
