package storeadmin_test

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/credflow/credflow/internal/secretstore"
	"github.com/credflow/credflow/internal/storeadmin"
)

// fakeStore answers Stat with stat and Get with get.
type fakeStore struct{ stat, get error }

func (fakeStore) ParseRef(ref string) (secretstore.Ref, error) {
	return secretstore.Ref{Name: ref}, nil
}

func (f fakeStore) Get(context.Context, secretstore.Ref) (secretstore.Secret, error) {
	return secretstore.Secret{}, f.get
}

func (f fakeStore) Stat(context.Context, secretstore.Ref) (secretstore.Meta, error) {
	return secretstore.Meta{}, f.stat
}

// TestCheckReadsTheValue: the check's read step decrypts, as a resolve
// does, so that a secret whose metadata is fine but whose value fails its
// integrity check fails the step.
func TestCheckReadsTheValue(t *testing.T) {
	corrupt := fmt.Errorf("get secret: %w", secretstore.ErrCorrupt)
	for _, c := range []struct {
		name   string
		store  fakeStore
		ok     bool
		detail string
	}{
		{"readable", fakeStore{}, true, "the secret exists and can be read"},
		{"corrupt value, fine metadata", fakeStore{get: corrupt}, false, "stored secret failed its integrity check"},
		{"missing", fakeStore{stat: secretstore.ErrNotFound, get: secretstore.ErrNotFound}, false, "secret not found"},
	} {
		t.Run(c.name, func(t *testing.T) {
			reg := secretstore.NewRegistry()
			reg.Add(secretstore.Info{ID: "1", Name: "s", Kind: "fake"}, c.store)
			svc := storeadmin.New(nil, reg)
			r, err := svc.Check(t.Context(), "s", "pw")
			if err != nil {
				t.Fatal(err)
			}
			last := r.Steps[len(r.Steps)-1]
			if r.OK != c.ok || last.OK != c.ok || last.Detail != c.detail {
				t.Errorf("check = ok %v, last step %+v; want ok %v, detail %q", r.OK, last, c.ok, c.detail)
			}
			if !c.ok && errors.Is(c.store.get, secretstore.ErrCorrupt) && last.Hint == "" {
				t.Error("no hint for a corrupt secret")
			}
		})
	}
}
