package httpapi_test

import (
	"fmt"
	"reflect"
	"sync"
	"testing"

	"github.com/credflow/credflow/internal/metadb/metadbtest"
)

// TestCreateAnswersWhatIsStored: the answer to creating a text variable
// says exactly what a later read of it says (a create no longer reads the
// variable back), for a given name, a generated one, and creates that the
// writer commits together.
func TestCreateAnswersWhatIsStored(t *testing.T) {
	eachEngine(t, func(t *testing.T, e metadbtest.Engine) {
		_, admin := start(t, e)
		bodies := []map[string]any{
			{"schemaName": "cf_Given", "displayName": "Given", "description": "a text variable", "type": "text", "value": "x"},
			{"displayName": "Generated Name", "type": "text", "value": ""},
		}
		for i := range 16 {
			bodies = append(bodies, map[string]any{"schemaName": fmt.Sprintf("cf_Together%d", i), "displayName": "t", "type": "text", "value": "v"})
		}
		answers := make([]resp, len(bodies))
		answers[0] = admin.must(201, "POST", "/api/v1/environment-variables", bodies[0])
		answers[1] = admin.must(201, "POST", "/api/v1/environment-variables", bodies[1])
		var wg sync.WaitGroup
		for i := 2; i < len(bodies); i++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				answers[i] = admin.do("POST", "/api/v1/environment-variables", bodies[i])
			}()
		}
		wg.Wait()
		for i, a := range answers {
			if a.status != 201 {
				t.Fatalf("create %v: status %d, body %s", bodies[i], a.status, a.raw)
			}
			id := a.str("id")
			if id == "" || a.str("owner") == "" || a.str("createdAt") == "" {
				t.Fatalf("create %v: answer %s lacks id, owner or createdAt", bodies[i], a.raw)
			}
			got := admin.must(200, "GET", "/api/v1/environment-variables/"+id, nil)
			if !reflect.DeepEqual(a.body, got.body) {
				t.Errorf("create answered\n%s\nbut a read says\n%s", a.raw, got.raw)
			}
		}
	})
}
