package azurekv_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/credflow/credflow/internal/secretstore"
	"github.com/credflow/credflow/internal/secretstore/azurekv"
)

const (
	sub     = "00000000-1111-2222-3333-444444444444"
	version = "4387e9f3d6e14c459867679a90fd0f79"
	path    = "/subscriptions/" + sub + "/resourceGroups/rg-credflow/providers/Microsoft.KeyVault/vaults/kv-credflow/secrets/sql-password"
)

func refStore(t testing.TB, edit func(*azurekv.Settings)) *azurekv.Store {
	t.Helper()
	s := azurekv.Settings{TenantID: "72f988bf-86f1-41af-91ab-2d7cd011db47", SubscriptionID: sub, ResourceGroup: "rg-credflow",
		VaultName: "kv-credflow", Auth: azurekv.Auth{Kind: azurekv.AuthManagedIdentity}}
	if edit != nil {
		edit(&s)
	}
	st, err := azurekv.New(s, azurekv.Options{Name: "kv"})
	if err != nil {
		t.Fatal(err)
	}
	return st
}

func TestParseRef(t *testing.T) {
	st := refStore(t, nil)
	for _, tc := range []struct {
		ref  string
		want secretstore.Ref
		rule string // a part of the RefError's rule, when rejected
	}{
		{path, secretstore.Ref{Name: "sql-password"}, ""},
		{path + "/" + version, secretstore.Ref{Name: "sql-password", Version: version}, ""},
		{strings.ToLower(path), secretstore.Ref{Name: "sql-password"}, ""},
		{strings.Replace(path, "rg-credflow", "RG-CREDFLOW", 1), secretstore.Ref{Name: "sql-password"}, ""},
		{strings.Replace(path, "kv-credflow", "KV-Credflow", 1), secretstore.Ref{Name: "sql-password"}, ""},
		{strings.Replace(path, sub, strings.ToUpper(sub), 1), secretstore.Ref{Name: "sql-password"}, ""},
		{"https://kv-credflow.vault.azure.net/secrets/sql-password", secretstore.Ref{Name: "sql-password"}, ""},
		{"https://kv-credflow.vault.azure.net/secrets/sql-password/", secretstore.Ref{Name: "sql-password"}, ""},
		{"https://KV-CREDFLOW.vault.azure.net:443/secrets/sql-password/" + version, secretstore.Ref{Name: "sql-password", Version: version}, ""},
		{"sql-password", secretstore.Ref{Name: "sql-password"}, ""},
		{"sql-password/" + version, secretstore.Ref{Name: "sql-password", Version: version}, ""},
		{strings.Repeat("a", 127), secretstore.Ref{Name: strings.Repeat("a", 127)}, ""},

		{strings.Replace(path, "kv-credflow", "other-vault", 1), secretstore.Ref{}, `the reference is in vault "other-vault" but store "kv" is vault "kv-credflow"`},
		{strings.Replace(path, "rg-credflow", "rg-other", 1), secretstore.Ref{}, `the reference is in resource group "rg-other" but store "kv" is in resource group "rg-credflow"`},
		{strings.Replace(path, sub, "99999999-1111-2222-3333-444444444444", 1), secretstore.Ref{}, `the reference is in subscription "99999999-1111-2222-3333-444444444444" but store "kv" is in subscription "` + sub + `"`},
		{"https://other-vault.vault.azure.net/secrets/sql-password", secretstore.Ref{}, `the reference is in vault "other-vault" but store "kv" is vault "kv-credflow"`},
		{"https://kv-credflow.vault.azure.cn/secrets/sql-password", secretstore.Ref{}, "another Azure cloud"},
		{"https://example.com/secrets/sql-password", secretstore.Ref{}, `points at host "example.com"`},
		{"http://kv-credflow.vault.azure.net/secrets/sql-password", secretstore.Ref{}, "a reference is"},
		{"https://kv-credflow.vault.azure.net/keys/sql-password", secretstore.Ref{}, "a reference is"},
		{"https://kv-credflow.vault.azure.net/secrets/sql-password?api-version=7.5", secretstore.Ref{}, "a reference is"},
		{strings.Replace(path, "/secrets/", "/keys/", 1), secretstore.Ref{}, "a reference is"},
		{strings.Replace(path, "Microsoft.KeyVault", "Microsoft.Storage", 1), secretstore.Ref{}, "a reference is"},
		{path + "/" + version + "/extra", secretstore.Ref{}, "a reference is"},
		{path + "/short", secretstore.Ref{}, "version"},
		{path + "/", secretstore.Ref{}, "version"},
		{strings.Replace(path, "sql-password", "sql_password", 1), secretstore.Ref{}, "secret name"},
		{strings.Replace(path, "kv-credflow", "kv--bad", 1), secretstore.Ref{}, "vault name"},
		{strings.Repeat("a", 128), secretstore.Ref{}, "secret name"},
		{"sql password", secretstore.Ref{}, "secret name"},
		{"sql-password/", secretstore.Ref{}, "version"},
		{"a/" + version + "/b", secretstore.Ref{}, "a reference is"},
		{"", secretstore.Ref{}, "secret name"},
	} {
		got, err := st.ParseRef(tc.ref)
		if tc.rule == "" {
			if err != nil || got != tc.want {
				t.Errorf("ParseRef(%q) = %#v, %v; want %#v", tc.ref, got, err, tc.want)
			}
			continue
		}
		var re *secretstore.RefError
		if !errors.As(err, &re) || !errors.Is(err, secretstore.ErrInvalidRef) {
			t.Errorf("ParseRef(%q) = %#v, %v; want a RefError", tc.ref, got, err)
			continue
		}
		if !strings.Contains(re.Rule, tc.rule) {
			t.Errorf("ParseRef(%q) rule %q, want it to contain %q", tc.ref, re.Rule, tc.rule)
		}
	}
}

func TestParseRefMismatchesEachNamed(t *testing.T) {
	st := refStore(t, nil)
	bad := "/subscriptions/99999999-1111-2222-3333-444444444444/resourceGroups/rg-other/providers/Microsoft.KeyVault/vaults/other-vault/secrets/x"
	_, err := st.ParseRef(bad)
	var re *secretstore.RefError
	if !errors.As(err, &re) {
		t.Fatal(err)
	}
	for _, want := range []string{"subscription", "resource group", "vault"} {
		if !strings.Contains(re.Rule, "the reference is in "+want) {
			t.Errorf("rule %q does not name the %s mismatch", re.Rule, want)
		}
	}
}

func TestParseRefOverrideHost(t *testing.T) {
	st := refStore(t, func(s *azurekv.Settings) {
		s.VaultURLOverride = "https://kv.internal.example:8443/"
		s.AllowCustomVaultHost = true
	})
	for _, ref := range []string{
		"https://kv.internal.example:8443/secrets/a",
		"https://kv-credflow.vault.azure.net/secrets/a", // the portal's URI names the same vault
	} {
		if got, err := st.ParseRef(ref); err != nil || got.Name != "a" {
			t.Errorf("ParseRef(%q) = %v, %v", ref, got, err)
		}
	}
	if _, err := st.ParseRef("https://kv.internal.example/secrets/a"); !errors.Is(err, secretstore.ErrInvalidRef) {
		t.Errorf("another port was accepted: %v", err)
	}
}

func TestRefFromFields(t *testing.T) {
	got, err := azurekv.RefFromFields(sub, "rg-credflow", "kv-credflow", "sql-password", "")
	if err != nil || got != path {
		t.Fatalf("RefFromFields = %q, %v; want %q", got, err, path)
	}
	got, err = azurekv.RefFromFields(sub, "rg-credflow", "kv-credflow", "sql-password", version)
	if err != nil || got != path+"/"+version {
		t.Fatalf("RefFromFields with version = %q, %v", got, err)
	}
	st := refStore(t, nil)
	if ref, err := st.ParseRef(got); err != nil || ref.Version != version {
		t.Fatalf("ParseRef(RefFromFields) = %v, %v", ref, err)
	}
	for _, tc := range []struct{ sub, rg, vault, name, ver, field string }{
		{"x", "rg", "kv-credflow", "n", "", "subscriptionId"},
		{sub, "rg.", "kv-credflow", "n", "", "resourceGroup"},
		{sub, "rg", "k", "n", "", "vaultName"},
		{sub, "rg", "kv-credflow", "", "", "secretName"},
		{sub, "rg", "kv-credflow", "n", "v1", "secretVersion"},
	} {
		_, err := azurekv.RefFromFields(tc.sub, tc.rg, tc.vault, tc.name, tc.ver)
		var re *secretstore.RefError
		if !errors.As(err, &re) || !strings.Contains(re.Rule, tc.field) {
			t.Errorf("RefFromFields(%+v): %v, want a RefError naming %s", tc, err, tc.field)
		}
	}
}

func TestResourcePath(t *testing.T) {
	st := refStore(t, nil)
	if got := st.ResourcePath(secretstore.Ref{Name: "sql-password"}); got != path {
		t.Errorf("ResourcePath = %s", got)
	}
}
