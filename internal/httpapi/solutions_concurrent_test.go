package httpapi_test

import (
	"sync"
	"testing"

	"github.com/credflow/credflow/internal/metadb/metadbtest"
)

// TestConcurrentImportsOfOnePackage: eight imports of the same new package
// at once into one server each end in a success or a clean refusal (never a
// 500), and the target holds the solution's objects once.
func TestConcurrentImportsOfOnePackage(t *testing.T) {
	eachEngine(t, func(t *testing.T, e metadbtest.Engine) {
		_, dev := start(t, e)
		putSecret(dev, "sql-pass", "v")
		buildReporting(dev, "local", "sql-pass")
		pkg := exportZip(dev, "Reporting", "")

		_, prod := start(t, e)
		putSecret(prod, "sql-pass", "v")
		statuses := make([]int, 8)
		var wg sync.WaitGroup
		for i := range statuses {
			wg.Add(1)
			go func() {
				defer wg.Done()
				statuses[i] = importZip(prod, pkg, nil, "").status
			}()
		}
		wg.Wait()
		ok := 0
		for _, s := range statuses {
			if s >= 500 {
				t.Errorf("an import answered %d: %v", s, statuses)
			}
			if s == 200 || s == 201 {
				ok++
			}
		}
		if ok == 0 {
			t.Fatalf("no import succeeded: %v", statuses)
		}
		l := prod.must(200, "GET", "/api/v1/environment-variables", nil)
		if items, _ := l.body["items"].([]any); len(items) != 2 {
			t.Errorf("%d variables after the imports, want 2: %s", len(items), l.raw)
		}
	})
}

// TestConcurrentImportsOfPackagesSharingObjects: two different packages
// that carry the same variables and credential, imported at once (twice
// each) into one server, each end in a success or a clean refusal (never a
// 500), and the shared objects exist once, in every solution that says it
// holds them.
func TestConcurrentImportsOfPackagesSharingObjects(t *testing.T) {
	eachEngine(t, func(t *testing.T, e metadbtest.Engine) {
		// Two development servers, each carrying the same objects in a
		// solution of its own name.
		var pkgs [][]byte
		for _, name := range []string{"Reporting", "Audit"} {
			_, dev := start(t, e)
			putSecret(dev, "sql-pass", "v")
			dev.must(201, "POST", "/api/v1/environment-variables", map[string]any{"schemaName": "cf_SQLUser", "displayName": "SQL User", "type": "text", "value": "svc"})
			dev.must(201, "POST", "/api/v1/environment-variables", map[string]any{"schemaName": "cf_SQLPassword", "displayName": "SQL Password", "type": "secret",
				"secretRef": map[string]string{"store": "local", "ref": "sql-pass"}})
			dev.must(201, "POST", "/api/v1/credentials", map[string]any{"name": "SQL reporting", "username": "cf_SQLUser", "password": "cf_SQLPassword"})
			dev.must(201, "POST", "/api/v1/solutions", map[string]any{"name": name, "version": "1.0.0.0", "publisher": "cf"})
			dev.must(200, "POST", "/api/v1/solutions/"+name+"/components", map[string]any{"kind": "credential", "name": "SQL reporting"})
			pkgs = append(pkgs, exportZip(dev, name, ""))
		}

		_, prod := start(t, e)
		putSecret(prod, "sql-pass", "v")
		statuses := make([]int, 4)
		var wg sync.WaitGroup
		for i := range statuses {
			wg.Add(1)
			go func() {
				defer wg.Done()
				statuses[i] = importZip(prod, pkgs[i%2], nil, "").status
			}()
		}
		wg.Wait()
		t.Logf("statuses %v", statuses)
		for _, s := range statuses {
			if s >= 500 || (s != 200 && s != 201 && s != 409 && s != 422) {
				t.Errorf("an import answered %d: %v", s, statuses)
			}
		}
		l := prod.must(200, "GET", "/api/v1/environment-variables", nil)
		if items, _ := l.body["items"].([]any); len(items) != 2 {
			t.Errorf("%d variables after the imports, want 2: %s", len(items), l.raw)
		}
		c := prod.must(200, "GET", "/api/v1/credentials", nil)
		if items, _ := c.body["items"].([]any); len(items) != 1 {
			t.Errorf("%d credentials after the imports, want 1: %s", len(items), c.raw)
		}
		for i, name := range []string{"Reporting", "Audit"} {
			if statuses[i] != 200 && statuses[i] != 201 && statuses[i+2] != 200 && statuses[i+2] != 201 {
				continue // neither import of this package succeeded
			}
			sol := prod.must(200, "GET", "/api/v1/solutions/"+name, nil)
			if comps, _ := sol.body["components"].([]any); len(comps) != 3 {
				t.Errorf("solution %s holds %d components, want 3: %s", name, len(comps), sol.raw)
			}
		}
	})
}
