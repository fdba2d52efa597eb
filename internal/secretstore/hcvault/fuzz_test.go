package hcvault_test

import (
	"testing"

	"github.com/credflow/credflow/internal/secretstore/storetest"
)

func FuzzParseRef(f *testing.F) {
	for _, seed := range []string{"app/db", "app/db#password@2", "app/db#user", "app/db@3", "a b/c#d e@1", "#x", "@1", "app//db", "app/db#@"} {
		f.Add(seed)
	}
	st := refStore(f)
	f.Fuzz(func(t *testing.T, ref string) { storetest.CheckRef(t, st, ref) })
}
