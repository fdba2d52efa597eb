package builtin_test

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/credflow/credflow/internal/secretstore"
	"github.com/credflow/credflow/internal/secretstore/builtin"
)

var errCrash = errors.New("crash")

func openStore(t *testing.T, repo builtin.Repository, key []byte) *builtin.Store {
	t.Helper()
	s, err := builtin.Open(context.Background(), repo, key)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	return s
}

func wantValue(t *testing.T, s *builtin.Store, name, want string) {
	t.Helper()
	sec, err := s.Get(context.Background(), secretstore.Ref{Name: name})
	if err != nil || sec.Value.Reveal() != want {
		t.Fatalf("Get(%s): %v; want its value", name, err)
	}
}

func TestRotate(t *testing.T) {
	ctx := context.Background()
	repo := newRepo(t)
	k1, k2, k3 := newKey(), newKey(), newKey()
	s := openStore(t, repo, k1)
	for i := range 7 {
		put(t, s, fmt.Sprintf("s%d", i), fmt.Sprintf("v%d", i))
	}
	if err := s.Wrap(ctx, "extra", []byte("wrapped-value")); err != nil {
		t.Fatal(err)
	}
	stale := openStore(t, repo, k1) // never told of the rotation

	// Stopped after two batches of two, as a crash would.
	res, err := s.Rotate(ctx, k1, k2, builtin.RotateOptions{Batch: 2, AfterBatch: func(n int) error {
		if n == 2 {
			return errCrash
		}
		return nil
	}})
	if !errors.Is(err, errCrash) || res.Rewrapped != 4 {
		t.Fatalf("Rotate stopped = %+v, %v", res, err)
	}
	if _, err := s.Rotate(ctx, k1, k3, builtin.RotateOptions{}); !errors.Is(err, builtin.ErrRotationInProgress) {
		t.Errorf("another rotation meanwhile = %v, want ErrRotationInProgress", err)
	}
	// Mid-way, a store opened with either key reads every row and the
	// wrapped value, and writes under the new key.
	for _, k := range [][]byte{k1, k2} {
		m := openStore(t, repo, k)
		for i := range 7 {
			wantValue(t, m, fmt.Sprintf("s%d", i), fmt.Sprintf("v%d", i))
		}
		if b, ok, err := m.Unwrap(ctx, "extra"); err != nil || !ok || string(b) != "wrapped-value" {
			t.Errorf("Unwrap mid-way: %q, %v, %v", b, ok, err)
		}
		if m.KeyID() != builtin.KeyID(k2) {
			t.Errorf("mid-way, writes go under %s, want the new key", m.KeyID())
		}
	}
	put(t, stale, "late", "late-value") // the stale store learns the new key on its refused write
	if stale.KeyID() != builtin.KeyID(k2) {
		t.Errorf("a stale store writes under %s after its refused write, want the new key", stale.KeyID())
	}

	// Resumed by a store opened with the new key.
	resumer := openStore(t, repo, k2)
	res, err = resumer.Rotate(ctx, k2, k2, builtin.RotateOptions{Batch: 2})
	if err != nil || !res.Resumed || res.Rewrapped != 3 {
		t.Fatalf("resumed Rotate = %+v, %v; want the 3 rows left", res, err)
	}
	if _, err := builtin.Open(ctx, repo, k1); !errors.Is(err, builtin.ErrWrongKey) {
		t.Errorf("Open with the old key after the rotation = %v, want ErrWrongKey", err)
	}
	old, err := builtin.New(repo, k1)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := old.Get(ctx, secretstore.Ref{Name: "s0"}); !errors.Is(err, secretstore.ErrCorrupt) {
		t.Errorf("the old key read a row after the rotation: %v", err)
	}
	n := openStore(t, repo, k2)
	for i := range 7 {
		wantValue(t, n, fmt.Sprintf("s%d", i), fmt.Sprintf("v%d", i))
	}
	wantValue(t, n, "late", "late-value")
	if b, ok, err := n.Unwrap(ctx, "extra"); err != nil || !ok || string(b) != "wrapped-value" {
		t.Errorf("Unwrap after the rotation: %q, %v, %v", b, ok, err)
	}
	if _, err := n.Rotate(ctx, k2, k2, builtin.RotateOptions{}); !errors.Is(err, builtin.ErrSameKey) {
		t.Errorf("Rotate to the current key = %v, want ErrSameKey", err)
	}

	t.Run("a store that missed the rotation reads the key file again", func(t *testing.T) {
		missed := openStore(t, repo, k2)
		if _, err := missed.Rotate(ctx, k2, k3, builtin.RotateOptions{}); err != nil {
			t.Fatal(err)
		}
		// n missed the whole rotation to k3: without a key source it
		// cannot read; once its key file holds k3, it can.
		if _, err := n.Get(ctx, secretstore.Ref{Name: "s1"}); !errors.Is(err, secretstore.ErrCorrupt) {
			t.Fatalf("Get without the new key = %v, want ErrCorrupt", err)
		}
		n.SetKeySource(func() ([]byte, error) { return append([]byte(nil), k3...), nil })
		wantValue(t, n, "s1", "v1")
		put(t, n, "after", "after-value")
		wantValue(t, openStore(t, repo, k3), "after", "after-value")
	})
}
