package azurekv_test

import (
	"testing"

	"github.com/credflow/credflow/internal/secretstore/storetest"
)

func FuzzParseRef(f *testing.F) {
	for _, seed := range []string{path, path + "/" + version, "sql-password", "sql-password/" + version,
		"https://kv-credflow.vault.azure.net/secrets/sql-password/" + version, "https://other.vault.azure.net/secrets/x", "/subscriptions//", "a/b/c"} {
		f.Add(seed)
	}
	st := refStore(f, nil)
	f.Fuzz(func(t *testing.T, ref string) { storetest.CheckRef(t, st, ref) })
}
