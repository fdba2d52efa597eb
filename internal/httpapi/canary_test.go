package httpapi_test

import (
	"bytes"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/credflow/credflow/internal/metadb/metadbtest"
)

// canaryForms are the ways a value could leak besides itself: base64 in
// both alphabets (padded and not), hex, URL-encoded and JSON-escaped.
func canaryForms(v string) map[string]string {
	j, _ := json.Marshal(v)
	return map[string]string{
		"raw":          v,
		"base64":       base64.StdEncoding.EncodeToString([]byte(v)),
		"base64 url":   base64.URLEncoding.EncodeToString([]byte(v)),
		"base64 raw":   base64.RawStdEncoding.EncodeToString([]byte(v)),
		"hex":          hex.EncodeToString([]byte(v)),
		"url-encoded":  url.QueryEscape(v),
		"json-escaped": strings.Trim(string(j), `"`),
	}
}

// TestCanarySweep plants a unique value in a store of every kind and uses
// every feature on it: create and validate the variables, resolve (allowed,
// and refused), share, dependencies and who can use it, connection runners,
// store checks, a reference to a missing secret, solutions (export and
// settings), the event status, metrics and the audit trail. Then it looks
// for the value, raw and encoded every usual way, in every answer but the
// one authorized resolve, in the server's log and in the database's files:
// it is in none. The authorized resolve does return it, which shows the
// canary was reachable all along.
func TestCanarySweep(t *testing.T) {
	// The value contains characters that URL and JSON encoding change.
	const canary = "Canary/Sweep+7f3a9c&\"q\"=ü"
	e := metadbtest.Engines(t)[0] // the files searched are SQLite's
	for _, k := range canaryStores(e, canary) {
		t.Run(k.name, func(t *testing.T) {
			inst, a, store, ref := k.setUp(t)
			seen := &answers{}
			a = a.as(t)
			a.seen = seen
			buildReporting(a, store, ref)
			a.do("POST", "/api/v1/environment-variables/cf_SQLPassword/validate", nil)
			a.must(201, "POST", "/api/v1/runner-groups", map[string]any{"name": "build"})
			a.must(201, "POST", "/api/v1/connections", map[string]any{"name": "sql-build", "credential": "SQL reporting", "runnerGroup": "build"})
			runner := runnerIn(a, "build-01", "build")
			if got := runner.must(200, "POST", "/api/v1/connections/sql-build/resolve", nil).str("password"); got != canary {
				t.Fatalf("the authorized resolve did not return the planted value (%d bytes)", len(got))
			}
			runner.seen = seen
			runner.do("GET", "/api/v1/connections/sql-build", nil) // refused: runners only resolve
			a.must(201, "POST", "/api/v1/runner-groups", map[string]any{"name": "other"})
			outsider := runnerIn(a, "other-01", "other")
			outsider.seen = seen
			outsider.do("POST", "/api/v1/connections/sql-build/resolve", nil)
			maker := newUser(a, "mia", "maker")
			maker.seen = seen
			a.must(200, "PUT", "/api/v1/credentials/SQL%20reporting/shares/user:mia", map[string]any{"role": "user"})
			if l := maker.must(200, "GET", "/api/v1/credentials", nil); !strings.Contains(string(l.raw), "SQL reporting") {
				t.Fatalf("the share did not reach mia: %s", l.raw)
			}
			maker.do("GET", "/api/v1/credentials/SQL%20reporting", nil)
			for _, path := range []string{
				"/api/v1/environment-variables", "/api/v1/environment-variables/cf_SQLPassword",
				"/api/v1/environment-variables/cf_SQLPassword/dependencies", "/api/v1/environment-variables/cf_SQLPassword/access",
				"/api/v1/credentials/SQL reporting", "/api/v1/connections/sql-build", "/api/v1/connections/sql-build/runners",
				"/api/v1/stores", "/api/v1/stores/" + store, "/api/v1/events/status",
				"/api/v1/solutions/Reporting/export", "/api/v1/solutions/Reporting/settings",
				"/api/v1/audit?limit=200", "/api/v1/audit/verify", "/metrics",
			} {
				a.do("GET", strings.ReplaceAll(path, " ", "%20"), nil)
			}
			a.do("POST", "/api/v1/stores/"+store+"/check", map[string]any{"secret": ref})
			a.do("POST", "/api/v1/environment-variables", map[string]any{"schemaName": "cf_Missing", "displayName": "missing", "type": "secret",
				"secretRef": map[string]string{"store": store, "ref": strings.Replace(ref, "sql", "nosuch", 1)}})
			if len(seen.list) < 25 {
				t.Fatalf("only %d answers recorded", len(seen.list))
			}

			places := map[string][]byte{"server log": []byte(inst.Log())}
			for i, ans := range seen.list {
				for name, f := range unzipMaybe(t, ans.raw) {
					places[ans.what+" "+name+" #"+string(rune('a'+i%26))] = []byte(f)
				}
			}
			files, _ := filepath.Glob(filepath.Join(inst.Config.DataDir, "*"))
			dbFiles := 0
			for _, f := range files {
				if b, err := os.ReadFile(f); err == nil {
					places["file "+filepath.Base(f)] = b
					if strings.Contains(f, ".db") {
						dbFiles++
					}
				}
			}
			if dbFiles == 0 {
				t.Fatalf("no database file found in %s", inst.Config.DataDir)
			}
			for where, b := range places {
				for form, v := range canaryForms(canary) {
					if bytes.Contains(b, []byte(v)) {
						t.Errorf("%s holds the planted value (%s)", where, form)
					}
				}
			}
		})
	}
}
