package budget

import (
	"context"
	"errors"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/credflow/credflow/internal/secretstore"
)

func TestBudgetWindow(t *testing.T) {
	b := New(Budget{Reads: 3, Per: time.Second})
	clock := time.Now()
	b.now = func() time.Time { return clock }
	short := func() (context.Context, context.CancelFunc) {
		return context.WithDeadline(context.Background(), clock.Add(500*time.Millisecond))
	}
	for i := range 3 {
		ctx, cancel := short()
		if err := b.Take(ctx); err != nil {
			t.Fatalf("take %d: %v", i, err)
		}
		cancel()
		clock = clock.Add(100 * time.Millisecond)
	}
	// At 0.3 s the window still holds three: the next slot is at 1.0 s.
	ctx, cancel := short()
	err := b.Take(ctx)
	cancel()
	var te *secretstore.ThrottledError
	if !errors.As(err, &te) || te.RetryAfter != 700*time.Millisecond {
		t.Fatalf("take over budget: %v, want RetryAfter 700ms", err)
	}
	// A refused take reserves nothing: at 1.0 s one slot is free.
	clock = clock.Add(700 * time.Millisecond)
	ctx, cancel = short()
	if err := b.Take(ctx); err != nil {
		t.Fatalf("take at 1.0 s: %v", err)
	}
	cancel()
}

// TestBudgetNeverExceeds checks the sliding window against random arrivals:
// no window of Per ever holds more than Reads send times.
func TestBudgetNeverExceeds(t *testing.T) {
	const reads, per = 5, time.Second
	b := New(Budget{Reads: reads, Per: per})
	clock := time.Now()
	b.now = func() time.Time { return clock }
	var sent []time.Time
	for range 1000 {
		clock = clock.Add(time.Duration(rand.IntN(300)) * time.Millisecond)
		var deadline time.Time
		if rand.IntN(2) == 0 {
			deadline = clock.Add(time.Duration(rand.IntN(1500)) * time.Millisecond)
		}
		wait, err := b.reserve(deadline)
		var te *secretstore.ThrottledError
		switch {
		case err == nil:
			sent = append(sent, clock.Add(wait))
		case !errors.As(err, &te) || deadline.IsZero() || !clock.Add(te.RetryAfter).After(deadline):
			t.Fatalf("reserve: %v with deadline %v", err, deadline.Sub(clock))
		}
	}
	if len(sent) < 100 {
		t.Fatalf("only %d sends", len(sent))
	}
	for i := reads; i < len(sent); i++ {
		if sent[i].Sub(sent[i-reads]) < per {
			t.Fatalf("%d sends within %v: %v .. %v", reads+1, per, sent[i-reads], sent[i])
		}
	}
}
