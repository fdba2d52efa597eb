package httpapi_test

import (
	"fmt"
	"sync"
	"testing"

	"github.com/credflow/credflow/internal/metadb/metadbtest"
)

// TestLastOwnerUnderConcurrency sends 50 pairs of concurrent requests that
// each remove or demote one of an object's two owners: in every pair
// exactly one succeeds and the other is 409 last_owner, and the object
// keeps an owner.
func TestLastOwnerUnderConcurrency(t *testing.T) {
	eachEngine(t, func(t *testing.T, e metadbtest.Engine) {
		_, admin := start(t, e)
		alice := newUser(admin, "alice", "maker")
		bob := newUser(admin, "bob", "maker")
		alice.must(201, "POST", "/api/v1/environment-variables", map[string]any{"schemaName": "cf_U", "displayName": "u", "type": "text", "value": "sa"})
		admin.must(200, "PUT", "/api/v1/stores/local/grants/user:alice", map[string]any{})
		putSecret(alice, "pw", "owner-race-secret")
		alice.must(201, "POST", "/api/v1/environment-variables", map[string]any{"schemaName": "cf_P", "displayName": "p", "type": "secret",
			"secretRef": map[string]string{"store": "local", "ref": "pw"}})

		type request struct {
			who          api
			method, path string
			body         any
		}
		const pairs = 50
		for i := 0; i < pairs; i++ {
			var base string
			if i%2 == 0 {
				c := alice.must(201, "POST", "/api/v1/credentials", map[string]any{"name": fmt.Sprintf("cred %d", i), "username": "cf_U", "password": "cf_P"})
				base = "/api/v1/credentials/" + c.str("id")
			} else {
				v := alice.must(201, "POST", "/api/v1/environment-variables", map[string]any{"displayName": fmt.Sprintf("var %d", i), "type": "text", "value": "v"})
				base = "/api/v1/environment-variables/" + v.str("id")
			}
			alice.must(200, "PUT", base+"/shares/user:bob", map[string]any{"role": "owner"})
			var reqs [2]request
			switch i % 4 {
			case 0, 1: // each owner leaves
				reqs = [2]request{{alice, "DELETE", base + "/shares/user:alice", nil}, {bob, "DELETE", base + "/shares/user:bob", nil}}
			case 2: // an admin demotes one and removes the other
				reqs = [2]request{{admin, "PUT", base + "/shares/user:alice", map[string]any{"role": "user"}}, {admin, "DELETE", base + "/shares/user:bob", nil}}
			case 3: // each owner demotes themselves
				reqs = [2]request{{alice, "PUT", base + "/shares/user:alice", map[string]any{"role": "user-share"}}, {bob, "PUT", base + "/shares/user:bob", map[string]any{"role": "user"}}}
			}
			var (
				wg    sync.WaitGroup
				ready = make(chan struct{})
				got   [2]resp
			)
			for j, r := range reqs {
				wg.Add(1)
				go func() {
					defer wg.Done()
					<-ready
					got[j] = r.who.do(r.method, r.path, r.body)
				}()
			}
			close(ready)
			wg.Wait()
			ok, last := 0, 0
			for _, g := range got {
				switch {
				case g.status == 200 || g.status == 204:
					ok++
				case g.status == 409 && g.str("code") == "last_owner":
					last++
				default:
					t.Errorf("pair %d: status %d %s", i, g.status, g.raw)
				}
			}
			if ok != 1 || last != 1 {
				t.Fatalf("pair %d (%s): %d succeeded and %d were refused as last owner; want exactly one of each", i, base, ok, last)
			}
			shares := admin.must(200, "GET", base+"/shares", nil)
			owners := 0
			for _, it := range shares.body["items"].([]any) {
				if r := it.(map[string]any)["role"]; r == "owner" || r == "co-owner" {
					owners++
				}
			}
			if owners != 1 {
				t.Fatalf("pair %d: %d owners left: %s", i, owners, shares.raw)
			}
		}
	})
}
