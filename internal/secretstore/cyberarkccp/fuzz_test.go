package cyberarkccp_test

import (
	"testing"

	"github.com/credflow/credflow/internal/secretstore/cyberarkccp"
	"github.com/credflow/credflow/internal/secretstore/cyberarkccp/fakeccp"
	"github.com/credflow/credflow/internal/secretstore/storetest"
)

func FuzzParseRef(f *testing.F) {
	for _, seed := range []string{"obj", "Safe/obj", `Safe/Root\Sub/obj`, "query:Safe=S;Object=O", "query:", "a/b/c/d", "obj;x", "Operating System-WinDomain-admin & co"} {
		f.Add(seed)
	}
	// Parsing contacts no server; the fake only provides the certificates
	// the settings need.
	st, err := cyberarkccp.New(settingsFor(fakeccp.Start(f, fakeccp.Options{})), cyberarkccp.Options{Name: "ccp"})
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, ref string) { storetest.CheckRef(t, st, ref) })
}
