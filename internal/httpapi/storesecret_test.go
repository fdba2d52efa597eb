package httpapi_test

import (
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/credflow/credflow/internal/metadb/metadbtest"
)

// listNames pages through a store's secrets, limit at a time.
func listNames(t *testing.T, a api, store, limit string) []string {
	t.Helper()
	var names []string
	cursor := ""
	for range 100 {
		path := "/api/v1/stores/" + store + "/secrets?limit=" + limit
		if cursor != "" {
			path += "&cursor=" + url.QueryEscape(cursor)
		}
		l := a.must(200, "GET", path, nil)
		for _, it := range l.body["items"].([]any) {
			names = append(names, it.(map[string]any)["name"].(string))
		}
		if cursor = l.str("nextCursor"); cursor == "" {
			return names
		}
	}
	t.Fatalf("paging does not end: %v", names)
	return nil
}

func TestLocalSecretNamesAreScopedByGrants(t *testing.T) {
	eachEngine(t, func(t *testing.T, e metadbtest.Engine) {
		_, admin := start(t, e)
		all := []string{"a-first", "other", "team-a-", "team-a-1", "team-a-2", "team-a.x", "team-b-1", "zz-last"}
		for _, n := range all {
			putSecret(admin, n, "value-of-"+n)
		}
		mia := newUser(admin, "mia", "maker")
		admin.must(200, "PUT", "/api/v1/stores/local/grants/user:mia", map[string]any{"prefix": "team-a-"})
		gus := newUser(admin, "gus", "maker")
		admin.must(201, "POST", "/api/v1/groups", map[string]any{"name": "team-b"})
		admin.must(204, "PUT", "/api/v1/groups/team-b/members/gus", nil)
		admin.must(200, "PUT", "/api/v1/stores/local/grants/group:team-b", map[string]any{"prefix": "team-b-"})
		admin.must(200, "PUT", "/api/v1/stores/local/grants/user:gus", map[string]any{"prefix": "zz"})
		nobody := newUser(admin, "nora", "maker")

		for _, tc := range []struct {
			name   string
			caller api
			want   []string
		}{
			{"admin sees every name", admin, all},
			{"maker sees the names of their grant", mia, []string{"team-a-", "team-a-1", "team-a-2"}},
			{"maker sees the names of their own and their group's grants", gus, []string{"team-b-1", "zz-last"}},
			{"maker without a grant sees none", nobody, nil},
		} {
			for _, limit := range []string{"1", "2", "100"} {
				t.Run(tc.name+"/limit "+limit, func(t *testing.T) {
					if got := listNames(t, tc.caller.as(t), "local", limit); !slices.Equal(got, tc.want) {
						t.Fatalf("listed %q, want %q", got, tc.want)
					}
				})
			}
		}
	})
}

func TestDeleteReferencedLocalSecret(t *testing.T) {
	eachEngine(t, func(t *testing.T, e metadbtest.Engine) {
		_, admin := start(t, e)
		for _, n := range []string{"team-a-db", "team-a-db-old", "team-a-free"} {
			putSecret(admin, n, "value-of-"+n)
		}
		mia := newUser(admin, "mia", "maker")
		admin.must(200, "PUT", "/api/v1/stores/local/grants/user:mia", map[string]any{"prefix": "team-a-"})
		newVar := func(display, ref string) string {
			v := mia.must(201, "POST", "/api/v1/environment-variables", map[string]any{"displayName": display, "type": "secret",
				"secretRef": map[string]string{"store": "local", "ref": ref}})
			return v.str("schemaName")
		}
		latest, pinned := newVar("DB Password", "team-a-db"), newVar("DB Password Pinned", "team-a-db/1")
		newVar("Old DB Password", "team-a-db-old")

		r := mia.do("DELETE", "/api/v1/stores/local/secrets/team-a-db", nil)
		wantProblem(t, r, 409, "in_use", "")
		detail := r.str("detail")
		if !strings.Contains(detail, latest) || !strings.Contains(detail, pinned) || strings.Contains(detail, "cf_OldDBPassword") {
			t.Errorf("in_use detail %q does not name exactly %s and %s", detail, latest, pinned)
		}
		if r.str("hint") == "" || !strings.HasSuffix(detail, r.str("hint")) {
			t.Errorf("in_use problem lacks a hint its detail ends with: %s", r.raw)
		}
		if !slices.Contains(listNames(t, admin, "local", "100"), "team-a-db") {
			t.Fatal("the refused delete deleted the secret")
		}
		wantProblem(t, mia.do("DELETE", "/api/v1/stores/local/secrets/team-a-db?force=yes", nil), 400, "invalid_request", "force")
		wantProblem(t, mia.do("DELETE", "/api/v1/stores/local/secrets/team-a-db?force=false", nil), 409, "in_use", "")

		// Outside the caller's grants, force changes nothing.
		putSecret(admin, "team-b-db", "value-b")
		wantProblem(t, mia.do("DELETE", "/api/v1/stores/local/secrets/team-b-db?force=true", nil), 403, "store_not_granted", "")

		// A secret no variable references goes at once.
		mia.must(204, "DELETE", "/api/v1/stores/local/secrets/team-a-free", nil)

		mia.must(204, "DELETE", "/api/v1/stores/local/secrets/team-a-db?force=true", nil)
		if slices.Contains(listNames(t, admin, "local", "100"), "team-a-db") {
			t.Fatal("the forced delete left the secret")
		}
		a := admin.must(200, "GET", "/api/v1/audit?action=store.secret.delete&resource="+url.QueryEscape("store:local secret:team-a-db"), nil)
		items := a.body["items"].([]any)
		if len(items) != 1 {
			t.Fatalf("audit records of the forced delete: %s", a.raw)
		}
		rec := items[0].(map[string]any)
		if rec["actor"] != "mia" || !strings.Contains(rec["reason"].(string), "forced") || !strings.Contains(rec["reason"].(string), latest) {
			t.Errorf("forced delete audit record %v: want actor mia and a reason naming the variables", rec)
		}
	})
}

func TestSecretWriteSaysWhetherItCreated(t *testing.T) {
	eachEngine(t, func(t *testing.T, e metadbtest.Engine) {
		_, admin := start(t, e)
		admin.must(201, "PUT", "/api/v1/stores/local/secrets/db", map[string]string{"value": "v1"})
		admin.must(200, "PUT", "/api/v1/stores/local/secrets/db", map[string]string{"value": "v2"})
		admin.must(204, "DELETE", "/api/v1/stores/local/secrets/db", nil)
		// Written again after a delete, the secret is created anew, though
		// its version numbering goes on.
		if p := admin.must(201, "PUT", "/api/v1/stores/local/secrets/db", map[string]string{"value": "v3"}); p.str("version") != "3" {
			t.Errorf("put after delete %s", p.raw)
		}

		const writers = 10
		statuses := make([]int, writers)
		var wg sync.WaitGroup
		for i := range writers {
			wg.Go(func() {
				r := admin.do("PUT", "/api/v1/stores/local/secrets/concurrent", map[string]string{"value": "v"})
				statuses[i] = r.status
			})
		}
		wg.Wait()
		created := 0
		for _, s := range statuses {
			switch s {
			case 201:
				created++
			case 200:
			default:
				t.Fatalf("concurrent puts answered %v", statuses)
			}
		}
		if created != 1 {
			t.Fatalf("concurrent first puts answered %v: want exactly one 201", statuses)
		}
	})
}
