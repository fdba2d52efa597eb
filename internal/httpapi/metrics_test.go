package httpapi_test

import (
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/credflow/credflow/internal/metadb/metadbtest"
	"github.com/credflow/credflow/internal/secretstore"
	"github.com/credflow/credflow/internal/secretstore/cache"
)

// scrape reads /metrics with a's token and returns the exposition.
func scrape(t *testing.T, a api) string {
	t.Helper()
	r := a.do("GET", "/metrics", nil)
	if r.status != 200 || !strings.HasPrefix(r.header.Get("Content-Type"), "text/plain") {
		t.Fatalf("GET /metrics: %d %s %s", r.status, r.header.Get("Content-Type"), r.raw)
	}
	return string(r.raw)
}

// sample is the value of one series, written as in the exposition (labels
// in name order), or -1 when it is absent.
func sample(text, series string) float64 {
	for _, l := range strings.Split(text, "\n") {
		if rest, ok := strings.CutPrefix(l, series+" "); ok {
			v, err := strconv.ParseFloat(rest, 64)
			if err != nil {
				return -1
			}
			return v
		}
	}
	return -1
}

func TestMetrics(t *testing.T) {
	eachEngine(t, func(t *testing.T, e metadbtest.Engine) {
		env := startRuntime(t, e, cache.Options{TTL: time.Minute})
		before := scrape(t, env.admin)
		if v := sample(before, `credflow_resolves_total{outcome="ok"}`); v > 0 {
			t.Fatalf("resolves counted before any: %v", v)
		}
		for range 3 {
			env.runner.must(200, "POST", "/api/v1/connections/sql-build/resolve", nil)
		}
		env.runner.do("POST", "/api/v1/connections/no-such-connection/resolve", nil)
		text := scrape(t, env.admin)
		for series, want := range map[string]float64{
			`credflow_resolves_total{outcome="ok"}`:                                                  3,
			`credflow_resolves_total{outcome="not_found"}`:                                           1,
			`credflow_resolve_duration_seconds_count`:                                                4,
			`credflow_cache_reads_total{result="miss",store="vault"}`:                                1,
			`credflow_cache_reads_total{result="hit",store="vault"}`:                                 2,
			`credflow_store_calls_total{kind="memory",result="ok",store="vault"}`:                    1,
			`credflow_store_call_duration_seconds_count{kind="memory",store="vault"}`:                1,
			`credflow_http_requests_total{code="200",route="POST /api/v1/connections/{id}/resolve"}`: 3,
			`credflow_http_requests_total{code="404",route="POST /api/v1/connections/{id}/resolve"}`: 1,
			`credflow_event_queue_depth`:                                                             0,
			`credflow_audit_queue_depth`:                                                             0,
			`credflow_events_total{result="accepted"}`:                                               0,
		} {
			if got := sample(text, series); got != want {
				t.Errorf("%s = %v, want %v", series, got, want)
			}
		}
		// Every resolve, refused ones too, is in a group commit.
		if n := sample(text, "credflow_audit_commit_group_size_sum"); n < 4 {
			t.Errorf("audit records committed: %v, want at least 4", n)
		}
		for _, present := range []string{`go_sql_open_connections{db_name="credflow"}`, "go_goroutines", "credflow_audit_commit_duration_seconds_count"} {
			if sample(text, present) < 0 {
				t.Errorf("no series %s", present)
			}
		}
		if !strings.Contains(text, "credflow_build_info{goversion=") {
			t.Error("no credflow_build_info")
		}
		// No label or value holds a secret, a token or a user's names.
		for _, secret := range []string{"first-password-value", "svc_build", env.runner.token, env.admin.token, env.maker.token,
			"sql-build", "no-such-connection", "cf_SqlPass", "build-01", "mona"} {
			if strings.Contains(text, secret) {
				t.Errorf("/metrics holds %q", secret)
			}
		}

		t.Run("only admins", func(t *testing.T) {
			wantProblem(t, api{t: t, base: env.inst.URL}.do("GET", "/metrics", nil), 401, "unauthenticated", "")
			wantProblem(t, env.runner.do("GET", "/metrics", nil), 403, "forbidden", "")
			wantProblem(t, env.maker.do("GET", "/metrics", nil), 403, "forbidden", "")
		})

		t.Run("a separate listener without a token", func(t *testing.T) {
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			stop := env.inst.Server.ServeMetrics(ln)
			defer stop()
			res, err := http.Get("http://" + ln.Addr().String() + "/metrics")
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(res.Body)
			res.Body.Close()
			if res.StatusCode != 200 || sample(string(body), `credflow_resolves_total{outcome="ok"}`) != 3 {
				t.Errorf("metrics listener: %d\n%s", res.StatusCode, body)
			}
		})
	})
}

func TestMetricsOfStaleServes(t *testing.T) {
	eachEngine(t, func(t *testing.T, e metadbtest.Engine) {
		env := startRuntime(t, e, cache.Options{TTL: time.Millisecond, StaleIfError: time.Hour})
		env.runner.must(200, "POST", "/api/v1/connections/sql-build/resolve", nil)
		time.Sleep(5 * time.Millisecond)
		env.vault.Fail(secretstore.ErrUnavailable)
		if r := env.runner.must(200, "POST", "/api/v1/connections/sql-build/resolve", nil); r.body["stale"] != true {
			t.Fatalf("want a stale value: %s", r.raw)
		}
		text := scrape(t, env.admin)
		for series, want := range map[string]float64{
			`credflow_resolves_total{outcome="ok"}`:                                        1,
			`credflow_resolves_total{outcome="stale"}`:                                     1,
			`credflow_cache_reads_total{result="stale",store="vault"}`:                     1,
			`credflow_cache_reads_total{result="miss",store="vault"}`:                      2,
			`credflow_store_calls_total{kind="memory",result="unavailable",store="vault"}`: 1,
		} {
			if got := sample(text, series); got != want {
				t.Errorf("%s = %v, want %v", series, got, want)
			}
		}
	})
}
