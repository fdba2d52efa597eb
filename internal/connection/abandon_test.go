package connection

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/credflow/credflow/internal/access"
	"github.com/credflow/credflow/internal/audit"
)

// TestAbandonedResolve: a caller that leaves while the store is read gets
// ErrAbandoned; the resolve is still recorded, as a failure that blames
// neither the store nor the connection (its status is left as it was).
func TestAbandonedResolve(t *testing.T) {
	all := map[string]grant{"C": {role: access.RoleOwner}, "VU": {role: access.RoleUser}, "VP": {role: access.RoleUser}}
	for _, tc := range []struct {
		name      string
		latency   time.Duration
		cancelIn  time.Duration
		wantErr   error
		wantState string
	}{
		{name: "the caller waits", wantState: StatusConnected},
		{name: "the caller leaves during the read", latency: time.Hour, cancelIn: 20 * time.Millisecond, wantErr: ErrAbandoned, wantState: ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, repo, _, _ := newResolveFixture(all)
			s.readers.(readers).s.SetLatency(tc.latency)
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			if tc.cancelIn > 0 {
				time.AfterFunc(tc.cancelIn, cancel)
			}
			_, err := s.Resolve(ctx, runner, "conn")
			if !errors.Is(err, tc.wantErr) || (tc.wantErr == nil && err != nil) {
				t.Fatalf("error %v, want %v", err, tc.wantErr)
			}
			if len(repo.records) != 1 {
				t.Fatalf("%d records, want 1", len(repo.records))
			}
			r := repo.records[0]
			if r.Status != tc.wantState {
				t.Errorf("status %q, want %q", r.Status, tc.wantState)
			}
			if tc.wantErr != nil && (r.Audit.Outcome != audit.Failure || r.Failure != ErrAbandoned.Error() || r.Audit.Reason != ErrAbandoned.Error()) {
				t.Errorf("record %+v", r)
			}
		})
	}
}
