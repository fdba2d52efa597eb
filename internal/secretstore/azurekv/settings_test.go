package azurekv_test

import (
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/credflow/credflow/internal/secretstore/azurekv"
	"github.com/credflow/credflow/internal/validation"
)

const validJSON = `{
	"tenantId": "72f988bf-86f1-41af-91ab-2d7cd011db47",
	"subscriptionId": "00000000-1111-2222-3333-444444444444",
	"resourceGroup": "rg-credflow",
	"vaultName": "kv-credflow",
	"auth": {"kind": "managed-identity"}
}`

// with returns validJSON with fields replaced or added (a nil value
// removes the field); auth replaces the auth object when not nil.
func with(t *testing.T, fields map[string]any) json.RawMessage {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal([]byte(validJSON), &m); err != nil {
		t.Fatal(err)
	}
	for k, v := range fields {
		if v == nil {
			delete(m, k)
		} else {
			m[k] = v
		}
	}
	b, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// fieldsOf lists the fields a validation error names.
func fieldsOf(t *testing.T, err error) []string {
	t.Helper()
	ve, ok := validation.As(err)
	if !ok {
		t.Fatalf("error %v (%T) is not a *validation.Error", err, err)
	}
	var out []string
	for _, f := range ve.Fields {
		out = append(out, f.Field)
	}
	return out
}

func TestDecodeSettings(t *testing.T) {
	s, err := azurekv.DecodeSettings(json.RawMessage(validJSON))
	if err != nil {
		t.Fatalf("valid settings: %v", err)
	}
	if s.VaultURL() != "https://kv-credflow.vault.azure.net/" {
		t.Errorf("VaultURL = %s", s.VaultURL())
	}

	for _, tc := range []struct {
		label string
		raw   json.RawMessage
		field string // the field the error must name; "" for a valid input
	}{
		{"china cloud", with(t, map[string]any{"cloud": "china"}), ""},
		{"usgov cloud", with(t, map[string]any{"cloud": "usgov"}), ""},
		{"unknown cloud", with(t, map[string]any{"cloud": "germany"}), "settings.cloud"},
		{"unknown field", with(t, map[string]any{"region": "westeurope"}), "settings.region"},
		{"field name in another case", with(t, map[string]any{"vaultName": nil, "VaultName": "kv-other"}), "settings.VaultName"},
		{"nested field name in another case", with(t, map[string]any{"auth": map[string]any{"Kind": "managed-identity"}}), "settings.auth.Kind"},
		{"field given twice", json.RawMessage(strings.Replace(validJSON, `"vaultName"`, `"vaultName": "kv-a", "vaultName"`, 1)), "settings.vaultName"},
		{"inline client secret", with(t, map[string]any{"auth": map[string]any{"kind": "client-secret", "clientId": "1b2c3d4e-0000-4000-8000-000000000000", "clientSecret": "p@ss"}}), "settings.auth.clientSecret"},
		{"inline password at the top", with(t, map[string]any{"password": "p@ss"}), "settings.password"},
		{"not an object", json.RawMessage(`[1]`), "settings"},
		{"not JSON", json.RawMessage(`{"tenantId": `), "settings"},
		{"trailing data", json.RawMessage(validJSON + ` {}`), "settings"},
		{"wrong type", with(t, map[string]any{"allowCustomVaultHost": "yes"}), "settings.allowCustomVaultHost"},
		{"tenant not a GUID", with(t, map[string]any{"tenantId": "contoso.onmicrosoft.com"}), "settings.tenantId"},
		{"tenant missing", with(t, map[string]any{"tenantId": nil}), "settings.tenantId"},
		{"subscription braces", with(t, map[string]any{"subscriptionId": "{00000000-1111-2222-3333-444444444444}"}), "settings.subscriptionId"},
		{"subscription no dashes", with(t, map[string]any{"subscriptionId": "00000000111122223333444444444444"}), "settings.subscriptionId"},
		{"resource group empty", with(t, map[string]any{"resourceGroup": ""}), "settings.resourceGroup"},
		{"resource group ends with dot", with(t, map[string]any{"resourceGroup": "rg."}), "settings.resourceGroup"},
		{"resource group with space", with(t, map[string]any{"resourceGroup": "my rg"}), "settings.resourceGroup"},
		{"resource group 91 chars", with(t, map[string]any{"resourceGroup": strings.Repeat("r", 91)}), "settings.resourceGroup"},
		{"resource group 90 chars", with(t, map[string]any{"resourceGroup": strings.Repeat("r", 90)}), ""},
		{"resource group parens and unicode", with(t, map[string]any{"resourceGroup": "rg_(prod)-é.1"}), ""},
		{"vault too short", with(t, map[string]any{"vaultName": "kv"}), "settings.vaultName"},
		{"vault too long", with(t, map[string]any{"vaultName": strings.Repeat("k", 25)}), "settings.vaultName"},
		{"vault 24 chars", with(t, map[string]any{"vaultName": strings.Repeat("k", 24)}), ""},
		{"vault starts with digit", with(t, map[string]any{"vaultName": "1vault"}), "settings.vaultName"},
		{"vault double dash", with(t, map[string]any{"vaultName": "my--vault"}), "settings.vaultName"},
		{"vault ends with dash", with(t, map[string]any{"vaultName": "myvault-"}), "settings.vaultName"},
		{"vault underscore", with(t, map[string]any{"vaultName": "my_vault"}), "settings.vaultName"},
		{"vaultUrl http", with(t, map[string]any{"vaultUrl": "http://kv-credflow.vault.azure.net/"}), "settings.vaultUrl"},
		{"vaultUrl with path", with(t, map[string]any{"vaultUrl": "https://kv-credflow.vault.azure.net/secrets"}), "settings.vaultUrl"},
		{"vaultUrl other vault", with(t, map[string]any{"vaultUrl": "https://other.vault.azure.net/"}), "settings.vaultUrl"},
		{"vaultUrl same vault", with(t, map[string]any{"vaultUrl": "https://KV-credflow.vault.azure.net"}), ""},
		{"vaultUrl vault host other port", with(t, map[string]any{"vaultUrl": "https://kv-credflow.vault.azure.net:8443/"}), "settings.vaultUrl"},
		{"vaultUrl vault host other port allowed", with(t, map[string]any{"vaultUrl": "https://kv-credflow.vault.azure.net:8443/", "allowCustomVaultHost": true}), ""},
		{"vaultUrl vault host port 443", with(t, map[string]any{"vaultUrl": "https://kv-credflow.vault.azure.net:443"}), ""},
		{"vaultUrl custom host refused", with(t, map[string]any{"vaultUrl": "https://127.0.0.1:8443/"}), "settings.vaultUrl"},
		{"vaultUrl custom host allowed", with(t, map[string]any{"vaultUrl": "https://127.0.0.1:8443/", "allowCustomVaultHost": true}), ""},
		{"read budget too high", with(t, map[string]any{"readBudget": 5000}), "settings.readBudget"},
		{"read budget negative", with(t, map[string]any{"readBudget": -1}), "settings.readBudget"},
		{"read budget set", with(t, map[string]any{"readBudget": 1000}), ""},
		{"auth missing", with(t, map[string]any{"auth": nil}), "settings.auth.kind"},
		{"auth unknown kind", with(t, map[string]any{"auth": map[string]any{"kind": "password"}}), "settings.auth.kind"},
		{"default", with(t, map[string]any{"auth": map[string]any{"kind": "default"}}), ""},
		{"default with client id", with(t, map[string]any{"auth": map[string]any{"kind": "default", "clientId": "1b2c3d4e-0000-4000-8000-000000000000"}}), "settings.auth.clientId"},
		{"user-assigned identity", with(t, map[string]any{"auth": map[string]any{"kind": "managed-identity", "clientId": "1b2c3d4e-0000-4000-8000-000000000000"}}), ""},
		{"identity client id not a GUID", with(t, map[string]any{"auth": map[string]any{"kind": "managed-identity", "clientId": "credflow"}}), "settings.auth.clientId"},
		{"workload identity", with(t, map[string]any{"auth": map[string]any{"kind": "workload-identity"}}), ""},
		{"workload identity with secret file", with(t, map[string]any{"auth": map[string]any{"kind": "workload-identity", "clientSecretFile": "/run/secret"}}), "settings.auth.clientSecretFile"},
		{"client secret file", with(t, map[string]any{"auth": map[string]any{"kind": "client-secret", "clientId": "1b2c3d4e-0000-4000-8000-000000000000", "clientSecretFile": "/run/secrets/kv"}}), ""},
		{"client secret env", with(t, map[string]any{"auth": map[string]any{"kind": "client-secret", "clientId": "1b2c3d4e-0000-4000-8000-000000000000", "clientSecretEnv": "KV_CLIENT_SECRET"}}), ""},
		{"client secret both", with(t, map[string]any{"auth": map[string]any{"kind": "client-secret", "clientId": "1b2c3d4e-0000-4000-8000-000000000000", "clientSecretFile": "/run/secrets/kv", "clientSecretEnv": "KV"}}), "settings.auth.clientSecretFile"},
		{"client secret neither", with(t, map[string]any{"auth": map[string]any{"kind": "client-secret", "clientId": "1b2c3d4e-0000-4000-8000-000000000000"}}), "settings.auth.clientSecretFile"},
		{"client secret no client id", with(t, map[string]any{"auth": map[string]any{"kind": "client-secret", "clientSecretEnv": "KV"}}), "settings.auth.clientId"},
		{"client secret relative file", with(t, map[string]any{"auth": map[string]any{"kind": "client-secret", "clientId": "1b2c3d4e-0000-4000-8000-000000000000", "clientSecretFile": "secret.txt"}}), "settings.auth.clientSecretFile"},
		{"client secret bad env name", with(t, map[string]any{"auth": map[string]any{"kind": "client-secret", "clientId": "1b2c3d4e-0000-4000-8000-000000000000", "clientSecretEnv": "KV SECRET"}}), "settings.auth.clientSecretEnv"},
		{"client certificate", with(t, map[string]any{"auth": map[string]any{"kind": "client-certificate", "clientId": "1b2c3d4e-0000-4000-8000-000000000000", "certificateFile": "/etc/credflow/kv.pem", "certificatePasswordEnv": "KV_CERT_PASSWORD"}}), ""},
		{"client certificate no file", with(t, map[string]any{"auth": map[string]any{"kind": "client-certificate", "clientId": "1b2c3d4e-0000-4000-8000-000000000000"}}), "settings.auth.certificateFile"},
		{"client certificate inline", with(t, map[string]any{"auth": map[string]any{"kind": "client-certificate", "clientId": "1b2c3d4e-0000-4000-8000-000000000000", "certificate": "MIIB..."}}), "settings.auth.certificate"},
	} {
		t.Run(tc.label, func(t *testing.T) {
			_, err := azurekv.DecodeSettings(tc.raw)
			if tc.field == "" {
				if err != nil {
					t.Fatalf("DecodeSettings: %v", err)
				}
				return
			}
			if err == nil {
				t.Fatalf("DecodeSettings accepted %s", tc.raw)
			}
			if got := fieldsOf(t, err); !slices.Contains(got, tc.field) {
				t.Fatalf("error names %q, want %q: %v", got, tc.field, err)
			}
			if strings.Contains(err.Error(), "p@ss") || strings.Contains(err.Error(), "MIIB") {
				t.Fatalf("the error repeats the input: %v", err)
			}
		})
	}
}

func TestInlineSecretMessage(t *testing.T) {
	_, err := azurekv.DecodeSettings(with(t, map[string]any{"auth": map[string]any{"kind": "client-secret", "clientId": "1b2c3d4e-0000-4000-8000-000000000000", "clientSecret": "p@ss"}}))
	if err == nil || !strings.Contains(err.Error(), "clientSecretFile") || !strings.Contains(err.Error(), "never given inline") {
		t.Fatalf("error %v does not say where a secret goes", err)
	}
}

func TestValidateListsEveryProblem(t *testing.T) {
	err := azurekv.Settings{VaultName: "x"}.Validate()
	got := fieldsOf(t, err)
	for _, f := range []string{"settings.tenantId", "settings.subscriptionId", "settings.resourceGroup", "settings.vaultName", "settings.auth.kind"} {
		if !slices.Contains(got, f) {
			t.Errorf("Validate does not name %s: %v", f, got)
		}
	}
}

func TestVaultURL(t *testing.T) {
	for _, tc := range []struct{ cloud, override, want string }{
		{"", "", "https://kv-credflow.vault.azure.net/"},
		{"public", "", "https://kv-credflow.vault.azure.net/"},
		{"china", "", "https://kv-credflow.vault.azure.cn/"},
		{"usgov", "", "https://kv-credflow.vault.usgovcloudapi.net/"},
		{"", "https://kv-credflow.vault.azure.net", "https://kv-credflow.vault.azure.net/"},
		{"", "https://127.0.0.1:8443/", "https://127.0.0.1:8443/"},
		{"", "https://kv-credflow.vault.azure.net:443/", "https://kv-credflow.vault.azure.net/"},
	} {
		s := azurekv.Settings{Cloud: tc.cloud, VaultName: "KV-credflow", VaultURLOverride: tc.override}
		if got := s.VaultURL(); got != tc.want {
			t.Errorf("cloud %q override %q: VaultURL = %s, want %s", tc.cloud, tc.override, got, tc.want)
		}
	}
}

func TestPublicSettings(t *testing.T) {
	raw := with(t, map[string]any{"auth": map[string]any{"kind": "client-secret", "clientId": "1b2c3d4e-0000-4000-8000-000000000000", "clientSecretFile": "/run/secrets/kv"}})
	pub, err := azurekv.PublicSettings(raw)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(pub, &m); err != nil {
		t.Fatal(err)
	}
	if m["cloud"] != "public" || m["vaultUrl"] != "https://kv-credflow.vault.azure.net/" || m["readBudget"] != float64(3000) {
		t.Errorf("public settings lack the defaults: %s", pub)
	}
	// They decode again: the API can return them for editing.
	if _, err := azurekv.DecodeSettings(pub); err != nil {
		t.Errorf("public settings do not decode: %v", err)
	}
	if _, err := azurekv.PublicSettings(json.RawMessage(`{}`)); err == nil {
		t.Error("PublicSettings accepted invalid settings")
	}
}

func TestOpenRejectsInvalidSettings(t *testing.T) {
	_, err := azurekv.Open(json.RawMessage(`{"vaultName": "kv"}`), azurekv.Options{})
	var ve *validation.Error
	if !errors.As(err, &ve) {
		t.Fatalf("Open: %v, want a *validation.Error", err)
	}
}
