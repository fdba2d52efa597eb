package webui_test

import (
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"

	"github.com/credflow/credflow/internal/config"
	"github.com/credflow/credflow/internal/metadb/metadbtest"
	"github.com/credflow/credflow/internal/secretstore/azurekv"
	"github.com/credflow/credflow/internal/secretstore/azurekv/fakekv"
	"github.com/credflow/credflow/internal/server"
	"github.com/credflow/credflow/internal/server/servertest"
)

// startKeyVault runs a server whose azure-keyvault kind reaches a Key
// Vault emulator through the real SDK, with a store "kv" registered on it.
func startKeyVault(t *testing.T) (*servertest.Instance, *fakekv.TestServer) {
	t.Helper()
	vault := fakekv.Start(t, fakekv.Options{VaultName: "myvault",
		Identity: fakekv.Identity{ClientID: "0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0", ObjectID: "7a6b5c4d-3e2f-1a0b-9c8d-7e6f5a4b3c2d"}})
	t.Setenv("IDENTITY_ENDPOINT", vault.IdentityEndpoint)
	t.Setenv("IDENTITY_HEADER", vault.IdentityHeader())
	cfg := config.Defaults()
	cfg.DataDir = t.TempDir()
	cfg.Database = metadbtest.Engines(t)[0].DSN(t)
	kind := server.AzureKeyVault(azurekv.Options{Transport: vault.Client(),
		Retry: &policy.RetryOptions{MaxRetries: 1, RetryDelay: 10 * time.Millisecond, MaxRetryDelay: time.Second}})
	inst := servertest.StartConfig(t, cfg, server.WithKinds(kind))
	admin := apiClient{t: t, base: inst.URL, token: inst.AdminToken}
	admin.must(201, "POST", "/api/v1/stores", map[string]any{"name": "kv", "kind": "azure-keyvault", "settings": map[string]any{
		"tenantId": vault.TenantID(), "subscriptionId": fakekv.DefaultSubscriptionID, "resourceGroup": fakekv.DefaultResourceGroup,
		"vaultName": "myvault", "vaultUrl": vault.URL, "allowCustomVaultHost": true, "auth": map[string]any{"kind": "managed-identity"}}})
	return inst, vault
}

// TestBrowserWizardKeyVault names a Key Vault secret by its four parts in
// the wizard; the vault refuses credflow one secret, and the server's
// exact words appear next to the secret's name.
func TestBrowserWizardKeyVault(t *testing.T) {
	needBrowser(t)
	inst, vault := startKeyVault(t)
	if _, err := vault.Put("sql-pass", fakekv.Spec{Value: secretValue}); err != nil {
		t.Fatal(err)
	}
	if _, err := vault.Put("locked", fakekv.Spec{Value: "x"}); err != nil {
		t.Fatal(err)
	}
	vault.Deny("locked")
	admin := apiClient{t: t, base: inst.URL, token: inst.AdminToken}
	admin.must(201, "POST", "/api/v1/environment-variables", map[string]any{"displayName": "Payroll User", "type": "text", "value": "svc_payroll"})

	b := newTab(t, inst.URL)
	b.signIn(inst.AdminToken, false)
	b.open("/credentials/new")
	b.typeInto("#f-name", "Payroll")
	b.submit("form.wizard button[type=submit]")
	b.choose("#f-store", "kv")
	b.submit("form.wizard button[type=submit]:not([name=back])")
	b.choose("#f-username", "cf_PayrollUser")
	b.choose("#f-password", "+new")
	b.typeInto("#f-password-displayName", "Payroll Password")
	b.typeInto("#f-password-subscriptionId", fakekv.DefaultSubscriptionID)
	b.typeInto("#f-password-resourceGroup", fakekv.DefaultResourceGroup)
	b.typeInto("#f-password-vaultName", "myvault")
	b.typeInto("#f-password-secretName", "locked")
	b.submit("form.wizard button[type=submit]:not([name=back])")
	path := "/subscriptions/" + fakekv.DefaultSubscriptionID + "/resourceGroups/" + fakekv.DefaultResourceGroup +
		"/providers/Microsoft.KeyVault/vaults/myvault/secrets/locked"
	got := eval[string](b, `(document.getElementById("f-password-secretName-error") || {}).innerText || ""`)
	want := "This variable didn't save properly. User is not authorized to read secrets from '" + path + "'."
	if len(got) < len(want) || got[:len(want)] != want {
		t.Fatalf("error next to the secret name:\n got %q\nwant %q...\n%s", got, want, b.text())
	}
	b.check("wizard-keyvault-denied")
	b.clear("#f-password-secretName")
	b.typeInto("#f-password-secretName", "sql-pass")
	b.submit("form.wizard button[type=submit]:not([name=back])")
	b.wantText("Created the credential Payroll.", "cf_PayrollPassword", "kv")
	v := admin.must(200, "GET", "/api/v1/environment-variables/cf_PayrollPassword", nil)
	if ref := v["secretRef"].(map[string]any)["ref"]; ref != path[:len(path)-len("locked")]+"sql-pass" {
		t.Fatalf("reference %v", ref)
	}
}
