package cli

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/credflow/credflow/internal/metadb/metadbtest"
	"github.com/credflow/credflow/internal/server/servertest"
	"github.com/credflow/credflow/internal/solution/pkgzip"
)

// TestSolutionEndToEnd moves a solution from one server to another with
// the command line: export, a settings file edited for the target, import,
// the same import again, and a variable imported pending validation that
// 'env validate' completes once its secret exists.
func TestSolutionEndToEnd(t *testing.T) {
	engines := metadbtest.Engines(t)
	const devPass, prodPass = "dev pa55 canary", "prod pa55 canary"
	sessionOn := func(e metadbtest.Engine) *session {
		inst := servertest.Start(t, e)
		u, _ := url.Parse(inst.URL)
		return &session{t: t, inv: invocation{env: map[string]string{envAddr: u.Host, envToken: inst.AdminToken}}, secrets: []string{devPass, prodPass}}
	}
	dev, prod := sessionOn(engines[0]), sessionOn(engines[len(engines)-1])
	dir := t.TempDir()
	file := func(name string) string { return filepath.Join(dir, name) }

	dev.run(invocation{stdin: devPass}, "store", "secret", "put", "sql-password")
	dev.run(invocation{stdin: "later"}, "store", "secret", "put", "later-password")
	dev.ok("env", "create", "--display-name", "SQL User", "--type", "text", "--value", "svc_dev")
	dev.ok("env", "create", "--display-name", "SQL Password", "--type", "secret", "--store", "local", "--ref", "sql-password")
	dev.ok("env", "create", "--display-name", "Later", "--type", "secret", "--store", "local", "--ref", "later-password")
	dev.ok("credential", "create", "--name", "SQL reporting", "--username", "cf_SQLUser", "--password", "cf_SQLPassword")
	dev.ok("solution", "create", "Reporting", "--version", "1.0.0.0", "--prefix", "cf")
	show := dev.ok("solution", "add", "Reporting", "--credential", "SQL reporting")
	for _, want := range []string{"variable cf_SQLUser", "variable cf_SQLPassword", "credential SQL reporting"} {
		if !strings.Contains(show, want) {
			t.Errorf("solution add shows no %s:\n%s", want, show)
		}
	}
	wantLines(t, dev.ok("solution", "list"), `NAME +VERSION +PUBLISHER +COMPONENTS +OWNER`, `Reporting +1\.0\.0\.0 +cf +3 +admin`)
	if r := dev.run(invocation{}, "solution", "add", "Reporting", "--credential", "x", "--env-var", "y"); r.code != exitUsage {
		t.Errorf("both --credential and --env-var: exit %d", r.code)
	}

	dev.ok("solution", "export", "Reporting", "-o", file("a.zip"))
	dev.ok("solution", "export", "Reporting", "-o", file("b.zip"))
	a, _ := os.ReadFile(file("a.zip"))
	b, _ := os.ReadFile(file("b.zip"))
	if len(a) == 0 || !bytes.Equal(a, b) {
		t.Fatal("two exports differ")
	}
	dev.ok("solution", "settings", "Reporting", "-o", file("dev.json"))
	raw, _ := os.ReadFile(file("dev.json"))
	var settings map[string]any
	if err := json.Unmarshal(raw, &settings); err != nil {
		t.Fatal(err)
	}
	vars := settings["variables"].(map[string]any)
	vars["cf_SQLUser"] = map[string]any{"value": "svc_prod"}
	vars["cf_SQLPassword"] = map[string]any{"secretRef": map[string]any{"store": "local", "ref": "prod-sql-password"}}
	prodJSON, _ := json.Marshal(settings)
	os.WriteFile(file("prod.json"), prodJSON, 0o644)

	// A settings file that gives a secret variable a value is refused, in one line.
	leak, _ := json.Marshal(map[string]any{"variables": map[string]any{"cf_SQLPassword": map[string]any{"value": "hunter2"}}})
	os.WriteFile(file("leak.json"), leak, 0o644)
	if msg := prod.fails("solution", "import", file("a.zip"), "--settings", file("leak.json")); !strings.Contains(msg, "never goes into a settings file") || strings.Contains(msg, "hunter2") {
		t.Errorf("leaking settings: %s", msg)
	}

	prod.run(invocation{stdin: prodPass}, "store", "secret", "put", "prod-sql-password")
	out := prod.ok("solution", "import", file("a.zip"), "--settings", file("prod.json"))
	wantLines(t, out, `Imported solution Reporting 1\.0\.0\.0\.`, `Created: variable cf_SQLPassword, variable cf_SQLUser, credential SQL reporting`)
	wantLines(t, prod.ok("solution", "import", file("a.zip"), "--settings", file("prod.json")),
		`Solution Reporting 1\.0\.0\.0 is already installed as the package says: nothing changed\.`)
	var v struct{ Value, Owner string }
	prod.json(&v, "env", "get", "cf_SQLUser")
	if v.Value != "svc_prod" || v.Owner != "admin" {
		t.Errorf("imported variable %+v", v)
	}

	// Deferred validation, completed by env validate.
	dev.ok("solution", "create", "Later", "--version", "1.0.0.0", "--prefix", "cf")
	dev.ok("solution", "add", "Later", "--env-var", "cf_Later")
	dev.ok("solution", "export", "Later", "-o", file("later.zip"))
	if msg := prod.fails("solution", "import", file("later.zip")); !strings.Contains(msg, `The secret "later-password" was not found`) {
		t.Errorf("import without defer: %s", msg)
	}
	out = prod.ok("solution", "import", file("later.zip"), "--defer-validation")
	if !strings.Contains(out, "Pending validation: variable cf_Later") {
		t.Errorf("deferred import says:\n%s", out)
	}
	if r := prod.run(invocation{}, "env", "validate"); r.code != exitError || !strings.Contains(r.stderr, "cf_Later") {
		t.Errorf("validate before the secret exists: exit %d\n%s", r.code, r.stderr)
	}
	prod.run(invocation{stdin: "later"}, "store", "secret", "put", "later-password")
	wantLines(t, prod.ok("env", "validate"), `Validated cf_Later\.`)
	wantLines(t, prod.ok("env", "validate"), `No variables pending validation\.`)

	if msg := dev.fails("solution", "remove", "Reporting", "--env-var", "cf_SQLUser"); !strings.Contains(msg, "remove the credential first") {
		t.Errorf("removing a credential's variable: %s", msg)
	}
	dev.ok("solution", "remove", "Reporting", "--credential", "SQL reporting")
	dev.ok("solution", "update", "Reporting", "--version", "1.1.0.0")
}

// TestSolutionImportSummarisesABulk: an import that creates more objects
// than the summary names one by one says how many, names the first ones,
// and leaves the full list to -o json.
func TestSolutionImportSummarisesABulk(t *testing.T) {
	e := metadbtest.Engines(t)[0]
	inst := servertest.Start(t, e)
	u, _ := url.Parse(inst.URL)
	s := &session{t: t, inv: invocation{env: map[string]string{envAddr: u.Host, envToken: inst.AdminToken}}}
	pkg := func(name string, n int) string {
		files := map[string][]byte{}
		var comps []map[string]string
		for i := range n {
			schema := fmt.Sprintf("cf_%s_%02d", name, i)
			file := fmt.Sprintf("components/%03d-variable-%s.json", i+1, schema)
			files[file], _ = json.Marshal(map[string]string{"schemaName": schema, "displayName": schema, "description": "", "type": "text", "value": "v"})
			comps = append(comps, map[string]string{"kind": "variable", "name": schema, "file": file})
		}
		files["solution.json"], _ = json.Marshal(map[string]any{"formatVersion": 1, "name": name, "version": "1.0.0.0", "publisher": "t",
			"description": "", "components": comps, "requires": []any{}, "withoutValues": false})
		zip, err := pkgzip.Write(files)
		if err != nil {
			t.Fatal(err)
		}
		path := filepath.Join(t.TempDir(), name+".zip")
		if err := os.WriteFile(path, zip, 0o644); err != nil {
			t.Fatal(err)
		}
		return path
	}
	out := s.ok("solution", "import", pkg("many", maxListed+5))
	want := fmt.Sprintf("Created: %d objects: variable cf_many_00, ", maxListed+5)
	if !strings.Contains(out, want) || !strings.Contains(out, "and 5 more (-o json lists them all)") || strings.Contains(out, "cf_many_24") {
		t.Errorf("summary of a bulk import:\n%s", out)
	}
	var res struct {
		Created []string `json:"created"`
	}
	if err := json.Unmarshal([]byte(s.ok("solution", "import", pkg("more", maxListed+5), "-o", "json")), &res); err != nil {
		t.Fatal(err)
	}
	if len(res.Created) != maxListed+5 {
		t.Errorf("-o json lists %d created objects, want %d", len(res.Created), maxListed+5)
	}
	out = s.ok("solution", "import", pkg("few", 2))
	if !strings.Contains(out, "Created: variable cf_few_00, variable cf_few_01\n") {
		t.Errorf("summary of a small import:\n%s", out)
	}
}
