package hcvault_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/credflow/credflow/internal/secretstore"
	"github.com/credflow/credflow/internal/secretstore/hcvault"
)

func refStore(t testing.TB) *hcvault.Store {
	t.Helper()
	st, err := hcvault.New(hcvault.Settings{Address: "https://vault.example.com:8200", Mount: "kv",
		Auth: hcvault.Auth{Kind: hcvault.AuthToken, TokenEnv: "CREDFLOW_VAULT_TOKEN"}}, hcvault.Options{Name: "vault"})
	if err != nil {
		t.Fatal(err)
	}
	return st
}

func TestParseRef(t *testing.T) {
	st := refStore(t)
	for _, tc := range []struct {
		ref     string
		want    secretstore.Ref
		display string
		rule    string // a part of the RefError's rule, when rejected
	}{
		{"app/db", secretstore.Ref{Name: "app/db"}, "app/db#password", ""},
		{"app/db#password", secretstore.Ref{Name: "app/db"}, "app/db#password", ""},
		{"app/db#password@2", secretstore.Ref{Name: "app/db", Version: "2"}, "app/db#password@2", ""},
		{"app/db@2", secretstore.Ref{Name: "app/db", Version: "2"}, "app/db#password@2", ""},
		{"app/db#username", secretstore.Ref{Name: "app/db#username"}, "app/db#username", ""},
		{"app/db#api key@10", secretstore.Ref{Name: "app/db#api key", Version: "10"}, "app/db#api key@10", ""},
		{"team a/robot 1#password", secretstore.Ref{Name: "team a/robot 1"}, "team a/robot 1#password", ""},
		{"users/alice@example.com#password", secretstore.Ref{Name: "users/alice@example.com"}, "users/alice@example.com#password", ""},
		{"2024", secretstore.Ref{Name: "2024"}, "2024#password", ""},

		{"", secretstore.Ref{}, "", "a reference is path"},
		{"app/db@0", secretstore.Ref{}, "", "positive whole number"},
		{"app/db@02", secretstore.Ref{}, "", "positive whole number"},
		{"app/db@latest", secretstore.Ref{}, "", "positive whole number"},
		{"users/alice@example.com", secretstore.Ref{}, "", "must name its field"},
		{"/app/db", secretstore.Ref{}, "", "leading or trailing '/'"},
		{"app/db/", secretstore.Ref{}, "", "leading or trailing '/'"},
		{"app//db", secretstore.Ref{}, "", "'//'"},
		{"app/../db", secretstore.Ref{}, "", "'..'"},
		{"app/db#", secretstore.Ref{}, "", "non-empty"},
		{"app/db#a#b", secretstore.Ref{}, "", "one '#'"},
		{" app/db", secretstore.Ref{}, "", "space"},
		{"kv/data/app/db", secretstore.Ref{}, "", `without "kv/data/"`},
		{"app/db\n", secretstore.Ref{}, "", "control characters"},
	} {
		t.Run(tc.ref, func(t *testing.T) {
			got, err := st.ParseRef(tc.ref)
			if tc.rule != "" {
				var re *secretstore.RefError
				if !errors.As(err, &re) || !strings.Contains(re.Rule, tc.rule) {
					t.Fatalf("ParseRef(%q) = %v, %v; want a RefError saying %q", tc.ref, got, err, tc.rule)
				}
				return
			}
			if err != nil || got != tc.want {
				t.Fatalf("ParseRef(%q) = %#v, %v; want %#v", tc.ref, got, err, tc.want)
			}
			if d := st.DisplayRef(got); d != tc.display {
				t.Fatalf("DisplayRef = %q, want %q", d, tc.display)
			}
			if back, err := st.ParseRef(st.DisplayRef(got)); err != nil || back != got {
				t.Fatalf("ParseRef(DisplayRef) = %#v, %v", back, err)
			}
		})
	}
}
