package storetest

import (
	"errors"
	"testing"

	"github.com/credflow/credflow/internal/secretstore"
)

// CheckRef holds one reference, parsed by s, to what every kind's parser
// promises, for the kinds' fuzz targets: it never panics; a refusal is a
// *secretstore.RefError; an accepted reference names a secret, and its
// display form (DisplayRef, else Ref.String) parses back to the same Ref.
func CheckRef(t *testing.T, s secretstore.Store, raw string) {
	t.Helper()
	ref, err := s.ParseRef(raw)
	if err != nil {
		var re *secretstore.RefError
		if !errors.As(err, &re) {
			t.Fatalf("ParseRef(%q): %T %v, want a *secretstore.RefError", raw, err, err)
		}
		return
	}
	if ref.Name == "" {
		t.Fatalf("ParseRef(%q) = %#v: no name", raw, ref)
	}
	shown := ref.String()
	if d, ok := s.(secretstore.RefDisplayer); ok {
		shown = d.DisplayRef(ref)
	}
	again, err := s.ParseRef(shown)
	if err != nil || again != ref {
		t.Fatalf("ParseRef(%q) = %#v, shown as %q, which parses to %#v, %v", raw, ref, shown, again, err)
	}
}
