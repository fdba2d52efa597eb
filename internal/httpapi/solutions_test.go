package httpapi_test

import (
	"archive/zip"
	"bytes"
	"encoding/json"
	"io"
	"mime/multipart"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/credflow/credflow/internal/config"
	"github.com/credflow/credflow/internal/metadb/metadbtest"
	"github.com/credflow/credflow/internal/secretstore/hcvault/fakevault"
	"github.com/credflow/credflow/internal/server/servertest"
)

// exportZip downloads a solution's package.
func exportZip(a api, name, query string) []byte {
	a.t.Helper()
	r := a.do("GET", "/api/v1/solutions/"+name+"/export"+query, nil)
	if r.status != 200 {
		a.t.Fatalf("export %s: %d %s", name, r.status, r.raw)
	}
	if ct := r.header.Get("Content-Type"); ct != "application/zip" {
		a.t.Fatalf("export Content-Type %q", ct)
	}
	return r.raw
}

// importZip uploads a package, and settings when not nil (a []byte is sent
// as is, anything else as JSON).
func importZip(a api, pkg []byte, settings any, query string) resp {
	a.t.Helper()
	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	part, _ := mw.CreateFormFile("package", "solution.zip")
	part.Write(pkg)
	if settings != nil {
		b, ok := settings.([]byte)
		if !ok {
			var err error
			if b, err = json.Marshal(settings); err != nil {
				a.t.Fatal(err)
			}
		}
		part, _ := mw.CreateFormFile("settings", "settings.json")
		part.Write(b)
	}
	mw.Close()
	req, _ := http.NewRequest("POST", a.base+"/api/v1/solutions/import"+query, &body)
	req.Header.Set("Authorization", "Bearer "+a.token)
	req.Header.Set("Content-Type", mw.FormDataContentType())
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		a.t.Fatal(err)
	}
	defer res.Body.Close()
	raw, _ := io.ReadAll(res.Body)
	out := resp{status: res.StatusCode, header: res.Header, raw: raw}
	_ = json.Unmarshal(raw, &out.body)
	return out
}

// unzip returns a package's files.
func unzip(t testing.TB, b []byte) map[string]string {
	t.Helper()
	zr, err := zip.NewReader(bytes.NewReader(b), int64(len(b)))
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	for _, f := range zr.File {
		rc, err := f.Open()
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(rc)
		rc.Close()
		out[f.Name] = string(body)
	}
	return out
}

// registerVault registers a fake Vault on a server under name.
func registerVault(t *testing.T, a api, v *fakevault.TestServer, name string) {
	t.Helper()
	dir := t.TempDir()
	file := filepath.Join(dir, "token")
	if err := os.WriteFile(file, []byte(v.CreateToken(fakevault.TokenSpec{DisplayName: "credflow", Policies: []string{"credflow-read"}})), 0o600); err != nil {
		t.Fatal(err)
	}
	settings := map[string]any{"address": v.URL, "namespace": "team-a", "mount": "kv", "caFile": v.CAFile,
		"auth": map[string]any{"kind": "token", "tokenFile": file}}
	if r := a.must(201, "POST", "/api/v1/stores", map[string]any{"name": name, "kind": "hashicorp-vault", "settings": settings, "cacheTTL": "0s"}); r.str("status") != "ready" {
		t.Fatalf("register %s: %s", name, r.raw)
	}
}

func startPlain(t *testing.T, e metadbtest.Engine) (*servertest.Instance, api) {
	t.Helper()
	cfg := config.Defaults()
	cfg.DataDir = t.TempDir()
	cfg.Database = e.DSN(t)
	inst := servertest.StartConfig(t, cfg)
	return inst, api{t: t, base: inst.URL, token: inst.AdminToken}
}

// buildReporting makes, on a, a credential over a text user and a secret
// password in store/ref, and a solution Reporting that holds it.
func buildReporting(a api, store, ref string) {
	a.must(201, "POST", "/api/v1/environment-variables", map[string]any{"schemaName": "cf_SQLUser", "displayName": "SQL User", "type": "text", "value": "svc_dev"})
	a.must(201, "POST", "/api/v1/environment-variables", map[string]any{"schemaName": "cf_SQLPassword", "displayName": "SQL Password", "type": "secret",
		"secretRef": map[string]string{"store": store, "ref": ref}})
	a.must(201, "POST", "/api/v1/credentials", map[string]any{"name": "SQL reporting", "username": "cf_SQLUser", "password": "cf_SQLPassword"})
	a.must(201, "POST", "/api/v1/solutions", map[string]any{"name": "Reporting", "version": "1.0.0.0", "publisher": "cf"})
	a.must(200, "POST", "/api/v1/solutions/Reporting/components", map[string]any{"kind": "credential", "name": "SQL reporting"})
}

// TestSolutionRoundTrip moves a solution from a development server on
// SQLite to a production server on PostgreSQL (when one is configured) with
// deployment settings that switch the store and the user, and back to a
// fresh SQLite server with the development settings: the package it then
// exports is byte for byte the one development exported.
func TestSolutionRoundTrip(t *testing.T) {
	engines := metadbtest.Engines(t)
	sqliteEngine, prodEngine := engines[0], engines[len(engines)-1]
	const devCanary, prodCanary = "canary-dev-5f0c1e", "canary-prod-93ab7d"
	vault := fakevault.Start(t, fakevault.Options{Namespace: "team-a", Mount: "kv"})
	vault.Put("robots/sql-dev", map[string]string{"password": devCanary})
	vault.Put("robots/sql-prod", map[string]string{"password": prodCanary})

	_, dev := startPlain(t, sqliteEngine)
	registerVault(t, dev, vault, "dev-vault")
	buildReporting(dev, "dev-vault", "robots/sql-dev#password")
	sol := dev.must(200, "GET", "/api/v1/solutions/Reporting", nil)
	if comps, _ := sol.body["components"].([]any); len(comps) != 3 {
		t.Fatalf("adding the credential did not bring its two variables: %s", sol.raw)
	}
	devZip := exportZip(dev, "Reporting", "")
	if again := exportZip(dev, "Reporting", ""); !bytes.Equal(devZip, again) {
		t.Fatal("two exports of the same solution differ")
	}
	files := unzip(t, devZip)
	var manifest struct {
		FormatVersion int
		Name, Version string
		Components    []struct{ Kind, Name, File string }
	}
	if err := json.Unmarshal([]byte(files["solution.json"]), &manifest); err != nil {
		t.Fatal(err)
	}
	if manifest.FormatVersion != 1 || manifest.Version != "1.0.0.0" || len(manifest.Components) != 3 ||
		manifest.Components[2].Kind != "credential" || manifest.Components[0].Kind != "variable" {
		t.Fatalf("manifest not in dependency order: %s", files["solution.json"])
	}
	if len(files) != 4 {
		t.Fatalf("want solution.json and one file per component: %v", files)
	}

	settings := dev.must(200, "GET", "/api/v1/solutions/Reporting/settings", nil)
	vars := settings.body["variables"].(map[string]any)
	if ref := vars["cf_SQLPassword"].(map[string]any)["secretRef"].(map[string]any); ref["store"] != "dev-vault" {
		t.Fatalf("settings template: %s", settings.raw)
	}
	if vars["cf_SQLUser"].(map[string]any)["value"] != "svc_dev" {
		t.Fatalf("settings template: %s", settings.raw)
	}
	prodSettings := map[string]any{"solution": "Reporting", "variables": map[string]any{
		"cf_SQLUser":     map[string]any{"value": "svc_prod"},
		"cf_SQLPassword": map[string]any{"secretRef": map[string]string{"store": "prod-vault", "ref": "robots/sql-prod#password"}},
	}}

	// Development -> production.
	_, prod := startPlain(t, prodEngine)
	registerVault(t, prod, vault, "prod-vault")
	r := importZip(prod, devZip, prodSettings, "")
	if r.status != 200 || len(r.body["created"].([]any)) != 3 || r.body["unchanged"] != false {
		t.Fatalf("import into production: %d %s", r.status, r.raw)
	}
	pw := prod.must(200, "GET", "/api/v1/environment-variables/cf_SQLPassword", nil)
	if ref := pw.body["secretRef"].(map[string]any); ref["store"] != "prod-vault" || pw.str("owner") != "admin" || pw.str("status") != "ok" {
		t.Fatalf("imported password variable: %s", pw.raw)
	}
	prod.must(201, "POST", "/api/v1/runner-groups", map[string]any{"name": "agents"})
	prod.must(201, "POST", "/api/v1/users", map[string]any{"name": "agent-1", "role": "runner", "runnerGroup": "agents"})
	runner := api{t: t, base: prod.base, token: prod.must(201, "POST", "/api/v1/tokens", map[string]any{"name": "t", "user": "agent-1"}).str("token")}
	prod.must(201, "POST", "/api/v1/connections", map[string]any{"name": "reports", "credential": "SQL reporting", "runnerGroup": "agents"})
	if got := runner.must(200, "POST", "/api/v1/connections/reports/resolve", nil); got.str("password") != prodCanary || got.str("username") != "svc_prod" {
		t.Fatalf("production resolves %s", got.raw)
	}

	// The same import twice changes nothing and writes nothing.
	audits := len(prod.must(200, "GET", "/api/v1/audit?limit=200", nil).body["items"].([]any))
	if r := importZip(prod, devZip, prodSettings, ""); r.status != 200 || r.body["unchanged"] != true {
		t.Fatalf("second import: %d %s", r.status, r.raw)
	}
	if n := len(prod.must(200, "GET", "/api/v1/audit?limit=200", nil).body["items"].([]any)); n != audits {
		t.Errorf("the second import wrote %d audit records", n-audits)
	}

	// Production -> a fresh development server, with development's
	// settings: the same package as development's own.
	prodZip := exportZip(prod, "Reporting", "")
	if bytes.Equal(prodZip, devZip) {
		t.Fatal("production's package should carry production's references")
	}
	_, back := startPlain(t, sqliteEngine)
	registerVault(t, back, vault, "dev-vault")
	devSettings := settings.raw
	if r := importZip(back, prodZip, devSettings, ""); r.status != 200 {
		t.Fatalf("import back: %d %s", r.status, r.raw)
	}
	if backZip := exportZip(back, "Reporting", ""); !bytes.Equal(backZip, devZip) {
		t.Errorf("the round trip changed the package:\n%v\nvs\n%v", unzip(t, backZip), files)
	}
	for _, b := range [][]byte{devZip, prodZip, settings.raw} {
		for _, canary := range []string{devCanary, prodCanary} {
			if bytes.Contains(b, []byte(canary)) || strings.Contains(strings.Join(values(unzipMaybe(t, b)), ""), canary) {
				t.Errorf("a package or settings file holds a secret value")
			}
		}
	}
}

func values(m map[string]string) []string {
	out := make([]string, 0, len(m))
	for _, v := range m {
		out = append(out, v)
	}
	return out
}

// unzipMaybe unzips b if it is a zip, else gives it as one file.
func unzipMaybe(t testing.TB, b []byte) map[string]string {
	if bytes.HasPrefix(b, []byte("PK")) {
		return unzip(t, b)
	}
	return map[string]string{"": string(b)}
}
