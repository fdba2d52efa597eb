package httpapi_test

import (
	"bytes"
	"testing"

	"github.com/credflow/credflow/internal/metadb/metadbtest"
	"github.com/credflow/credflow/internal/secretstore/azurekv/fakekv"
	"github.com/credflow/credflow/internal/secretstore/hcvault/fakevault"
	"github.com/credflow/credflow/internal/server/servertest"
)

// TestSolutionPackagesCarryNoSecretValue plants a canary value in a store
// of every kind, references it from a solution, and looks for it in every
// package (with and without text values) and settings file: it is never
// there, in the archive's bytes or in any file inside.
func TestSolutionPackagesCarryNoSecretValue(t *testing.T) {
	const canary = "canary-solution-c4e1f09a7b"
	e := metadbtest.Engines(t)[0]
	kinds := canaryStores(e, canary)
	for _, k := range kinds {
		t.Run(k.name, func(t *testing.T) {
			_, a, store, ref := k.setUp(t)
			a = a.as(t)
			buildReporting(a, store, ref)
			outputs := map[string][]byte{
				"package":                exportZip(a, "Reporting", ""),
				"package without values": exportZip(a, "Reporting", "?withoutValues=true"),
				"settings":               a.must(200, "GET", "/api/v1/solutions/Reporting/settings", nil).raw,
				"solution":               a.must(200, "GET", "/api/v1/solutions/Reporting", nil).raw,
			}
			for what, b := range outputs {
				if bytes.Contains(b, []byte(canary)) {
					t.Errorf("the %s holds the secret's value", what)
				}
				for name, f := range unzipMaybe(t, b) {
					if bytes.Contains([]byte(f), []byte(canary)) {
						t.Errorf("the %s's %s holds the secret's value", what, name)
					}
				}
			}
			files := unzip(t, outputs["package without values"])
			for name, f := range files {
				if bytes.Contains([]byte(f), []byte("svc_dev")) {
					t.Errorf("--without-values left a text value in %s", name)
				}
			}
			found := false
			for _, f := range unzip(t, outputs["package"]) {
				found = found || bytes.Contains([]byte(f), []byte("svc_dev"))
			}
			if !found {
				t.Error("the package lost the text value it should carry")
			}
		})
	}
}

// canaryStore is a server with a store of one kind that holds canary as a
// secret, and how to reference it.
type canaryStore struct {
	name  string
	setUp func(t *testing.T) (inst *servertest.Instance, admin api, store, ref string)
}

// canaryStores plants canary in a store of every kind, each on a server of
// its own over engine e.
func canaryStores(e metadbtest.Engine, canary string) []canaryStore {
	return []canaryStore{
		{"builtin", func(t *testing.T) (*servertest.Instance, api, string, string) {
			inst, a := start(t, e)
			putSecret(a, "sql-pass", canary)
			return inst, a, "local", "sql-pass"
		}},
		{"azure-keyvault", func(t *testing.T) (*servertest.Instance, api, string, string) {
			k := startKeyVault(t, e)
			k.vault.Put("sql-pass", fakekv.Spec{Value: canary})
			k.admin.must(201, "POST", "/api/v1/stores", map[string]any{"name": "kv", "kind": "azure-keyvault", "settings": k.settings(nil), "cacheTTL": "0s"})
			return k.inst, k.admin, "kv", kvPath("sql-pass")
		}},
		{"hashicorp-vault", func(t *testing.T) (*servertest.Instance, api, string, string) {
			v := startVault(t, e, fakevault.Options{Namespace: "team-a", Mount: "kv"})
			v.vault.Put("robots/sql", map[string]string{"password": canary})
			v.admin.must(201, "POST", "/api/v1/stores", map[string]any{"name": "vault", "kind": "hashicorp-vault", "settings": v.tokenSettings(t), "cacheTTL": "0s"})
			return v.inst, v.admin, "vault", "robots/sql#password"
		}},
		{"cyberark-conjur", func(t *testing.T) (*servertest.Instance, api, string, string) {
			c := startConjur(t, e)
			c.conjur.Set("robots/sql/password", canary)
			c.admin.must(201, "POST", "/api/v1/stores", map[string]any{"name": "cj", "kind": "cyberark-conjur", "settings": c.settings(nil), "cacheTTL": "0s"})
			return c.inst, c.admin, "cj", "robots/sql/password"
		}},
		{"cyberark-ccp", func(t *testing.T) (*servertest.Instance, api, string, string) {
			c := startCCP(t, e)
			c.ccp.Set("Robots", "", "sql", canary, map[string]string{"UserName": "svc_sql"})
			c.admin.must(201, "POST", "/api/v1/stores", map[string]any{"name": "ccp", "kind": "cyberark-ccp", "settings": c.settings(nil), "cacheTTL": "0s"})
			return c.inst, c.admin, "ccp", "sql"
		}},
	}
}
