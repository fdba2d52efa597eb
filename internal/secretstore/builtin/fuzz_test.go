package builtin

import (
	"testing"

	"github.com/credflow/credflow/internal/secretstore/storetest"
)

func FuzzParseRef(f *testing.F) {
	for _, seed := range []string{"sql-password", "sql-password/3", "a.b_c-d/2147483647", "x/0", "x/01", "x/2147483648", "/1", "-x", "x/1/2"} {
		f.Add(seed)
	}
	var st *Store // parsing needs no key
	f.Fuzz(func(t *testing.T, ref string) { storetest.CheckRef(t, st, ref) })
}
