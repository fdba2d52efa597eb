package conjur_test

import (
	"testing"

	"github.com/credflow/credflow/internal/secretstore/conjur"
	"github.com/credflow/credflow/internal/secretstore/storetest"
)

func FuzzParseRef(f *testing.F) {
	for _, seed := range []string{"app/db/password", "app/db/password#3", "a#b#2", "id with spaces", "#1", "x#0", "x#", " "} {
		f.Add(seed)
	}
	st := &conjur.Store{}
	f.Fuzz(func(t *testing.T, ref string) { storetest.CheckRef(t, st, ref) })
}
