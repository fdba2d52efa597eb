package storeadmin_test

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/credflow/credflow/internal/secretstore"
	"github.com/credflow/credflow/internal/storeadmin"
)

// readStore answers Stat with stat and Get with get.
type readStore struct{ stat, get error }

func (readStore) ParseRef(ref string) (secretstore.Ref, error) {
	return secretstore.Ref{Name: ref}, nil
}

func (f readStore) Get(context.Context, secretstore.Ref) (secretstore.Secret, error) {
	return secretstore.Secret{}, f.get
}

func (f readStore) Stat(context.Context, secretstore.Ref) (secretstore.Meta, error) {
	return secretstore.Meta{}, f.stat
}

// TestCheckReadsTheValue: the check's read step decrypts, as a resolve
// does, so that a secret whose metadata is fine but whose value fails its
// integrity check fails the step.
func TestCheckReadsTheValue(t *testing.T) {
	corrupt := fmt.Errorf("get secret: %w", secretstore.ErrCorrupt)
	for _, c := range []struct {
		name   string
		store  readStore
		ok     bool
		detail string
	}{
		{"readable", readStore{}, true, "the secret exists and can be read"},
		{"corrupt value, fine metadata", readStore{get: corrupt}, false, "stored secret failed its integrity check"},
		{"missing", readStore{stat: secretstore.ErrNotFound, get: secretstore.ErrNotFound}, false, "secret not found"},
	} {
		t.Run(c.name, func(t *testing.T) {
			reg := secretstore.NewRegistry()
			reg.Add(secretstore.Info{ID: "1", Name: "s", Kind: "fake"}, c.store)
			repo := &memRepo{stores: map[string]storeadmin.Store{"s": {ID: "1", Name: "s", Kind: "fake"}}}
			svc := storeadmin.New(repo, reg)
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
