package httpapi_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"io/fs"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/credflow/credflow/internal/config"
	"github.com/credflow/credflow/internal/metadb/metadbtest"
	"github.com/credflow/credflow/internal/secretstore"
	"github.com/credflow/credflow/internal/secretstore/cache"
	"github.com/credflow/credflow/internal/secretstore/memstore"
	"github.com/credflow/credflow/internal/server"
	"github.com/credflow/credflow/internal/server/servertest"
)

// canaryForms are the ways a value could leak besides itself: base64 in
// both alphabets (padded and not), hex, URL-encoded and JSON-escaped (with
// and without HTML escaping: log/slog and json.Encoder with SetEscapeHTML
// off leave & < > as they are). A value that contains "+" also gives the
// run of letters and digits around its first "+" (with the "+"), which no
// escaping changes, so that an escaping not listed here is caught too.
func canaryForms(v string) map[string]string {
	j, _ := json.Marshal(v)
	var plain bytes.Buffer
	enc := json.NewEncoder(&plain)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(v)
	forms := map[string]string{
		"raw":                            v,
		"base64":                         base64.StdEncoding.EncodeToString([]byte(v)),
		"base64 url":                     base64.URLEncoding.EncodeToString([]byte(v)),
		"base64 raw":                     base64.RawStdEncoding.EncodeToString([]byte(v)),
		"hex":                            hex.EncodeToString([]byte(v)),
		"url-encoded":                    url.QueryEscape(v),
		"json-escaped":                   strings.Trim(string(j), `"`),
		"json-escaped, no HTML escaping": strings.Trim(strings.TrimSpace(plain.String()), `"`),
	}
	if i := strings.IndexByte(v, '+'); i > 0 {
		isWord := func(r rune) bool { return !('a' <= r && r <= 'z' || 'A' <= r && r <= 'Z' || '0' <= r && r <= '9') }
		from := strings.LastIndexFunc(v[:i], isWord) + 1
		to := i + 1 + strings.IndexFunc(v[i+1:]+"!", isWord)
		forms["the run around +"] = v[from:to]
	}
	return forms
}

// TestCanarySweep plants a unique value in a store of every kind, on every
// engine, and uses every feature on it: create and validate the variables,
// resolve (allowed, and refused), share, dependencies and who can use it,
// connection runners, store checks, a reference to a missing secret,
// solutions (export, settings, an import and a refused one), the event
// status, metrics and the audit trail; and, with the server logging at
// debug level, a store client that panics with the value in hand, once on
// the request's goroutine and once on the cache's. Then it looks for the
// value, raw and encoded every usual way, in every answer but the
// authorized resolves, in the server's log, in every file under the test's
// temporary directories (the server's temporary files go there too: the
// data directory, SQLite's database and write-ahead log) and, on
// PostgreSQL, in a pg_dump of the database: it is in none. The authorized
// resolves do return it, which shows the canary was reachable all along.
func TestCanarySweep(t *testing.T) {
	// The value contains characters that URL and JSON encoding change.
	const canary = "Canary/Sweep+7f3a9c&\"q\"=ü"
	for _, e := range metadbtest.Engines(t) {
		t.Run(e.Name, func(t *testing.T) {
			for _, k := range canaryStores(e, canary) {
				t.Run(k.name, func(t *testing.T) { canarySweep(t, e, k, canary) })
			}
		})
	}
}

func canarySweep(t *testing.T, e metadbtest.Engine, k canaryStore, canary string) {
	tmp := t.TempDir() // the test's directories are its siblings
	t.Setenv("TMPDIR", tmp)
	boom := &panicStore{Store: memstore.New()}
	boom.Set("canary", canary)
	servertest.Also(t, func(c *config.Config) { c.LogLevel = "debug" },
		server.WithStore("boom", "memory", boom, cache.Options{}))
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
	quiet := runner // its answers are the authorized resolves, not searched
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

	// A store client that panics holding the value: on the request's
	// goroutine (parsing the reference) the API contains it; on the
	// cache's (the read) the cache does. Either way the resolve fails
	// cleanly, and the next one is served.
	a.must(201, "POST", "/api/v1/environment-variables", map[string]any{"schemaName": "cf_BoomPassword", "displayName": "Boom", "type": "secret",
		"secretRef": map[string]string{"store": "boom", "ref": "canary"}})
	a.must(201, "POST", "/api/v1/credentials", map[string]any{"name": "Boom", "username": "cf_SQLUser", "password": "cf_BoomPassword"})
	a.must(201, "POST", "/api/v1/connections", map[string]any{"name": "boom-build", "credential": "Boom", "runnerGroup": "build"})
	for _, where := range []string{"parse", "get"} {
		boom.panicIn.Store(where)
		if r := runner.do("POST", "/api/v1/connections/boom-build/resolve", nil); r.status < 500 {
			t.Fatalf("a resolve whose store client panicked (%s) answered %d: %s", where, r.status, r.raw)
		}
	}
	boom.panicIn.Store("")
	if got := quiet.must(200, "POST", "/api/v1/connections/boom-build/resolve", nil).str("password"); got != canary {
		t.Fatal("the resolve after the panics did not return the value")
	}
	if n := strings.Count(inst.Log(), "panicked"); n < 2 {
		t.Fatalf("the two panics were not both logged (%d lines say so)", n)
	}

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
	// The package imported again where it came from (nothing changes),
	// and with a settings file that does not parse (refused).
	pkg := exportZip(a, "Reporting", "")
	same := importZip(a, pkg, nil, "")
	if same.status != 200 || same.body["unchanged"] != true {
		t.Fatalf("importing the package over itself answered %d: %s", same.status, same.raw)
	}
	bad := importZip(a, pkg, []byte(`{"environmentVariables": [`), "")
	if bad.status != 400 {
		t.Fatalf("an import with broken settings answered %d: %s", bad.status, bad.raw)
	}
	seen.mu.Lock()
	seen.list = append(seen.list, answer{what: "POST /api/v1/solutions/import", raw: same.raw},
		answer{what: "POST /api/v1/solutions/import (bad settings)", raw: bad.raw})
	seen.mu.Unlock()
	if len(seen.list) < 28 {
		t.Fatalf("only %d answers recorded", len(seen.list))
	}
	log := inst.Log()
	if !strings.Contains(log, `"level":"DEBUG"`) || !strings.Contains(log, `"msg":"secret read"`) {
		t.Fatal("the server logged nothing at debug level")
	}

	places := map[string][]byte{"server log": []byte(log)}
	for i, ans := range seen.list {
		for name, f := range unzipMaybe(t, ans.raw) {
			places[ans.what+" "+name+" #"+string(rune('a'+i%26))] = []byte(f)
		}
	}
	dbFiles := 0
	err := filepath.WalkDir(filepath.Dir(tmp), func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		places["file "+path] = b
		if strings.HasSuffix(path, ".db") || strings.HasSuffix(path, ".db-wal") {
			dbFiles++
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if e.Name == "postgres" {
		places["pg_dump"] = pgDump(t, inst.Config.Database)
	} else if dbFiles < 2 {
		t.Fatalf("the database and its write-ahead log were not among the files (%d found)", dbFiles)
	}
	for where, b := range places {
		for form, v := range canaryForms(canary) {
			if bytes.Contains(b, []byte(v)) {
				t.Errorf("%s holds the planted value (%s)", where, form)
			}
		}
	}
}

// panicStore is an in-memory store whose client can be made to panic with
// the value it read in hand: in ParseRef (called on the request's
// goroutine) or in Get (called on the cache's).
type panicStore struct {
	*memstore.Store
	panicIn atomic.Value // "parse", "get" or ""
}

func (p *panicStore) armed(where string) bool {
	w, _ := p.panicIn.Load().(string)
	return w == where
}

func (p *panicStore) ParseRef(ref string) (secretstore.Ref, error) {
	r, err := p.Store.ParseRef(ref)
	if err == nil && p.armed("parse") {
		sec, _ := p.Store.Get(context.Background(), r)
		panic(sec)
	}
	return r, err
}

func (p *panicStore) Get(ctx context.Context, ref secretstore.Ref) (secretstore.Secret, error) {
	sec, err := p.Store.Get(ctx, ref)
	if p.armed("get") {
		panic(sec)
	}
	return sec, err
}

// pgDump dumps the schema dsn's connections use (its search_path), data
// included, with PostgreSQL's own tool.
func pgDump(t *testing.T, dsn string) []byte {
	t.Helper()
	u, err := url.Parse(dsn)
	if err != nil {
		t.Fatal(err)
	}
	q := u.Query()
	schema := q.Get("search_path")
	q.Del("search_path")
	u.RawQuery = q.Encode()
	if schema == "" {
		t.Fatal("the test database has no schema of its own")
	}
	out, err := exec.Command("pg_dump", "--dbname", u.String(), "--schema", schema).Output()
	if err != nil {
		t.Fatalf("pg_dump: %v", err)
	}
	if !bytes.Contains(out, []byte("audit_log")) {
		t.Fatalf("the dump holds no audit table (%d bytes)", len(out))
	}
	return out
}
