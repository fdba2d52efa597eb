package httpapi_test

import (
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/credflow/credflow/internal/metadb/metadbtest"
)

// TestDeletingALastOwnerGroup: a group that is the only owner or co-owner
// left of an object cannot be deleted, even when the object's other owner
// leaves at the same moment; once someone else holds the role it can.
func TestDeletingALastOwnerGroup(t *testing.T) {
	eachEngine(t, func(t *testing.T, e metadbtest.Engine) {
		_, admin := start(t, e)
		admin.must(201, "POST", "/api/v1/users", map[string]any{"name": "bob", "role": "maker"})

		admin.must(201, "POST", "/api/v1/groups", map[string]any{"name": "ops"})
		admin.must(201, "POST", "/api/v1/environment-variables", map[string]any{"schemaName": "cf_Only", "displayName": "Only", "type": "text", "value": "x"})
		admin.must(200, "PUT", "/api/v1/environment-variables/cf_Only/shares/group:ops", map[string]any{"role": "co-owner"})
		admin.must(204, "DELETE", "/api/v1/environment-variables/cf_Only/shares/user:admin", nil)
		r := admin.do("DELETE", "/api/v1/groups/ops", nil)
		wantProblem(t, r, 409, "last_owner", "")
		if d := r.str("detail"); !strings.Contains(d, "variable:cf_Only") {
			t.Errorf("detail %q does not name the variable", d)
		}
		admin.must(200, "GET", "/api/v1/groups/ops", nil)
		admin.must(200, "PUT", "/api/v1/environment-variables/cf_Only/shares/user:bob", map[string]any{"role": "co-owner"})
		admin.must(204, "DELETE", "/api/v1/groups/ops", nil)

		// The group and the object's other owner leave together: exactly
		// one of them may go.
		for i := range 20 {
			group, name := fmt.Sprintf("team%d", i), fmt.Sprintf("cf_Race%d", i)
			admin.must(201, "POST", "/api/v1/groups", map[string]any{"name": group})
			admin.must(201, "POST", "/api/v1/environment-variables", map[string]any{"schemaName": name, "displayName": name, "type": "text", "value": "x"})
			admin.must(200, "PUT", "/api/v1/environment-variables/"+name+"/shares/group:"+group, map[string]any{"role": "co-owner"})
			var (
				wg       sync.WaitGroup
				statuses [2]int
			)
			wg.Add(2)
			go func() { defer wg.Done(); statuses[0] = admin.do("DELETE", "/api/v1/groups/"+group, nil).status }()
			go func() {
				defer wg.Done()
				statuses[1] = admin.do("DELETE", "/api/v1/environment-variables/"+name+"/shares/user:admin", nil).status
			}()
			wg.Wait()
			ok := 0
			for _, s := range statuses {
				switch s {
				case 204, 200:
					ok++
				case 409:
				default:
					t.Fatalf("pair %d: status %d", i, s)
				}
			}
			if ok != 1 {
				t.Fatalf("pair %d: statuses %v, want exactly one success and one 409", i, statuses)
			}
			items, _ := admin.must(200, "GET", "/api/v1/environment-variables/"+name+"/shares", nil).body["items"].([]any)
			if n := len(items); n != 1 {
				t.Fatalf("pair %d: %d shares left, want 1 (an owner)", i, n)
			}
		}
	})
}
