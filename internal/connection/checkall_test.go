package connection_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/credflow/credflow/internal/access"
	"github.com/credflow/credflow/internal/connection"
	"github.com/credflow/credflow/internal/secretstore"
	"github.com/credflow/credflow/internal/secretstore/memstore"
)

// manyRepo holds many connections of the one target, and counts the
// statuses written for each.
type manyRepo struct {
	fakeRepo
	ids     []string
	missing string // its Target answers not found
	broken  string // its Target fails
	mu      sync.Mutex
	checked map[string]int
}

func (r *manyRepo) IDs(context.Context) ([]string, error) { return r.ids, nil }
func (r *manyRepo) Target(_ context.Context, id string) (connection.Target, error) {
	switch id {
	case r.missing:
		return connection.Target{}, connection.ErrNotFound
	case r.broken:
		return connection.Target{}, errors.New("database gone")
	}
	t := newTarget()
	t.Connection.ID = id
	return t, nil
}
func (r *manyRepo) SetStatus(_ context.Context, id, status string, _ time.Time, _, _ string) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if status != connection.StatusConnected {
		return fmt.Errorf("%s: status %s", id, status)
	}
	r.checked[id]++
	return nil
}

// TestCheckAllChecksEachOnce: the sweep checks every connection exactly
// once, several at a time, passes over one that is gone, and stops with
// the error of one it cannot read.
func TestCheckAllChecksEachOnce(t *testing.T) {
	for _, tc := range []struct {
		name    string
		n       int
		broken  bool
		wantErr string
	}{
		{name: "none", n: 0},
		{name: "one", n: 1},
		{name: "fewer than the workers", n: 3},
		{name: "many", n: 500},
		{name: "one cannot be read", n: 500, broken: true, wantErr: "check connection k0250: database gone"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := memstore.New()
			m.Set("db-password", "pw")
			reg := secretstore.NewRegistry()
			reg.Add(secretstore.Info{ID: "s1", Name: "mem", Kind: "memory"}, m)
			repo := &manyRepo{checked: map[string]int{}, missing: "k0007"}
			for i := range tc.n {
				repo.ids = append(repo.ids, fmt.Sprintf("k%04d", i))
			}
			if tc.broken {
				repo.broken = "k0250"
			}
			svc := connection.NewService(repo, fakeAccess{ownerRole: access.RoleOwner}, noCredentials{}, reg)
			err := svc.CheckAll(t.Context())
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("CheckAll = %v, want %q", err, tc.wantErr)
				}
				if len(repo.checked) >= tc.n-1 {
					t.Errorf("%d of %d checked: the sweep went on after the failure", len(repo.checked), tc.n)
				}
				return
			}
			if err != nil {
				t.Fatalf("CheckAll: %v", err)
			}
			for _, id := range repo.ids {
				want := 1
				if id == repo.missing {
					want = 0
				}
				if repo.checked[id] != want {
					t.Errorf("%s checked %d times, want %d", id, repo.checked[id], want)
				}
			}
		})
	}
}
