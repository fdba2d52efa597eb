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
