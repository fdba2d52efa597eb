package metrics

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/credflow/credflow/internal/secretstore"
	"github.com/credflow/credflow/internal/secretstore/cache"
)

func TestCallClass(t *testing.T) {
	for _, c := range []struct {
		err  error
		want string
	}{
		{nil, "ok"},
		{fmt.Errorf("read x: %w", secretstore.ErrNotFound), "not_found"},
		{&secretstore.ThrottledError{RetryAfter: time.Second}, "throttled"},
		{fmt.Errorf("read x: %w (%v)", secretstore.ErrTimeout, context.DeadlineExceeded), "timeout"},
		{secretstore.ErrUnavailable, "unavailable"},
		{secretstore.ErrSealed, "sealed"},
		{context.Canceled, "canceled"},
		{errors.New("something else"), "error"},
	} {
		if got := callClasses[callClass(c.err)].label; got != c.want {
			t.Errorf("callClass(%v) = %s, want %s", c.err, got, c.want)
		}
	}
}

func TestNilMetricsRecordNothing(t *testing.T) {
	var m *Metrics
	m.Resolve("ok", time.Millisecond)
	m.Request("/", 200)
	m.AuditCommit(3, time.Millisecond)
	m.EventLag(time.Second)
	if m.Store("s", "k") != nil {
		t.Error("a nil Metrics gave an observer")
	}
}

func TestExposition(t *testing.T) {
	m := New("v1.2.3")
	o := m.Store("kv-prod", "azure-keyvault")
	o.Read(cache.Hit)
	o.Read(cache.Miss)
	o.Call(secretstore.ErrThrottled, 20*time.Millisecond)
	m.Resolve("ok", time.Millisecond)
	m.Resolve("store_throttled", time.Second)
	m.Request("GET /healthz", 200)
	m.Request("", 404)
	rec := httptest.NewRecorder()
	m.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	body, _ := io.ReadAll(rec.Body)
	for _, want := range []string{
		`credflow_build_info{goversion="go`, `version="v1.2.3"} 1`,
		`credflow_cache_reads_total{result="hit",store="kv-prod"} 1`,
		`credflow_store_calls_total{kind="azure-keyvault",result="throttled",store="kv-prod"} 1`,
		`credflow_resolves_total{outcome="store_throttled"} 1`,
		`credflow_http_requests_total{code="404",route="/"} 1`,
		`process_`,
	} {
		if !strings.Contains(string(body), want) {
			t.Errorf("no %q in\n%s", want, body)
		}
	}
}

// The hot path's share: what a cached resolve adds.
func BenchmarkResolveRecording(b *testing.B) {
	m := New("dev")
	o := m.Store("local", "builtin")
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			o.Read(cache.Hit)
			m.Resolve("ok", 300*time.Microsecond)
			m.Request("POST /api/v1/connections/{id}/resolve", 200)
		}
	})
}
