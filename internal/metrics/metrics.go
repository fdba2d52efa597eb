// Package metrics is credflow's Prometheus instrumentation: the counters,
// histograms and gauges the server exposes at /metrics, and the small
// recording methods the other packages' hooks call. Labels only ever hold
// bounded values an operator chose or credflow defines: store names and
// kinds, route patterns, status codes and outcome codes. No label holds a
// secret, a token, a variable, connection or user name, or anything else a
// request brings. The package decides nothing; it counts.
package metrics

import (
	"context"
	"database/sql"
	"errors"
	"net/http"
	"runtime"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/credflow/credflow/internal/secretstore"
	"github.com/credflow/credflow/internal/secretstore/cache"
)

// Metrics holds one server's instruments in a registry of its own. A nil
// *Metrics records nothing, so that code built without it (some tests)
// needs no check.
type Metrics struct {
	reg *prometheus.Registry

	resolves       *prometheus.CounterVec
	resolveOK      prometheus.Counter
	resolveSeconds prometheus.Histogram
	requests       *prometheus.CounterVec
	cacheReads     *prometheus.CounterVec
	storeCalls     *prometheus.CounterVec
	storeSeconds   *prometheus.HistogramVec
	auditSeconds   prometheus.Histogram
	auditGroup     prometheus.Histogram
	eventLag       prometheus.Histogram
	statusText     [600]string
	handler        http.Handler
}

// latencyBuckets cover a cached resolve (sub-millisecond) to a store call
// near its deadline.
var latencyBuckets = []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10}

// New returns the instruments, registered with the Go runtime's and the
// process's own, and credflow_build_info for version.
func New(version string) *Metrics {
	reg := prometheus.NewRegistry()
	m := &Metrics{reg: reg}
	f := func(c prometheus.Collector) { reg.MustRegister(c) }
	f(collectors.NewGoCollector())
	f(collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	build := prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "credflow_build_info",
		Help: "Always 1: the running build's version and Go version."}, []string{"version", "goversion"})
	build.WithLabelValues(version, runtime.Version()).Set(1)
	f(build)

	m.resolves = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "credflow_resolves_total",
		Help: "Resolves of connections by authenticated runners, by outcome: ok, stale (a stale value served while its store failed) or the problem code answered."},
		[]string{"outcome"})
	m.resolveOK = m.resolves.WithLabelValues("ok")
	m.resolveSeconds = prometheus.NewHistogram(prometheus.HistogramOpts{Name: "credflow_resolve_duration_seconds",
		Help: "Time to answer a resolve, including its durable audit record.", Buckets: latencyBuckets})
	m.requests = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "credflow_http_requests_total",
		Help: "HTTP requests by route pattern (\"/\" for no route) and status code."}, []string{"route", "code"})
	m.cacheReads = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "credflow_cache_reads_total",
		Help: "Run-time reads of a store's secrets by result: hit (fresh cached value), miss (waited for a store call), stale (a miss answered with the last good value)."},
		[]string{"store", "result"})
	m.storeCalls = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "credflow_store_calls_total",
		Help: "Calls of a secret store by the run-time cache, by store, kind and result (ok, or the failure's class; throttled includes credflow's own read budget)."},
		[]string{"store", "kind", "result"})
	m.storeSeconds = prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "credflow_store_call_duration_seconds",
		Help: "Duration of a store call by the run-time cache, waiting for the read budget included.", Buckets: latencyBuckets},
		[]string{"store", "kind"})
	m.auditSeconds = prometheus.NewHistogram(prometheus.HistogramOpts{Name: "credflow_audit_commit_duration_seconds",
		Help: "Duration of one group commit of resolve audit records.", Buckets: latencyBuckets})
	m.auditGroup = prometheus.NewHistogram(prometheus.HistogramOpts{Name: "credflow_audit_commit_group_size",
		Help: "Resolve audit records written by one group commit.", Buckets: []float64{1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024}})
	m.eventLag = prometheus.NewHistogram(prometheus.HistogramOpts{Name: "credflow_event_lag_seconds",
		Help:    "How long the oldest secret change of a batch waited in the event queue before it was applied.",
		Buckets: []float64{.001, .01, .1, .5, 1, 5, 15, 60, 300}})
	for _, c := range []prometheus.Collector{m.resolves, m.resolveSeconds, m.requests, m.cacheReads, m.storeCalls,
		m.storeSeconds, m.auditSeconds, m.auditGroup, m.eventLag} {
		f(c)
	}
	for code := range m.statusText {
		m.statusText[code] = strconv.Itoa(code)
	}
	m.handler = promhttp.HandlerFor(reg, promhttp.HandlerOpts{})
	return m
}

// Handler serves the metrics in Prometheus's text format.
func (m *Metrics) Handler() http.Handler { return m.handler }

// Resolve records a resolve's outcome and duration.
func (m *Metrics) Resolve(outcome string, took time.Duration) {
	if m == nil {
		return
	}
	if outcome == "ok" {
		m.resolveOK.Inc()
	} else {
		m.resolves.WithLabelValues(outcome).Inc()
	}
	m.resolveSeconds.Observe(took.Seconds())
}

// Request records an HTTP request by its route pattern, which comes from
// the route table (never the request's own path).
func (m *Metrics) Request(route string, code int) {
	if m == nil {
		return
	}
	if route == "" {
		route = "/"
	}
	text := "other"
	if code >= 0 && code < len(m.statusText) {
		text = m.statusText[code]
	}
	m.requests.WithLabelValues(route, text).Inc()
}

// AuditCommit records one group commit of n resolve records.
func (m *Metrics) AuditCommit(n int, took time.Duration) {
	if m == nil {
		return
	}
	m.auditSeconds.Observe(took.Seconds())
	m.auditGroup.Observe(float64(n))
}

// EventLag records how long a batch's oldest secret change waited.
func (m *Metrics) EventLag(d time.Duration) {
	if m == nil {
		return
	}
	m.eventLag.Observe(d.Seconds())
}

// Gauge adds a gauge read from f at every scrape (a queue's depth).
func (m *Metrics) Gauge(name, help string, f func() float64) {
	if m == nil {
		return
	}
	m.reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: name, Help: help}, f))
}

// Counter adds a counter read from f at every scrape, for counts another
// package keeps anyway.
func (m *Metrics) Counter(name, help string, labels prometheus.Labels, f func() float64) {
	if m == nil {
		return
	}
	m.reg.MustRegister(prometheus.NewCounterFunc(prometheus.CounterOpts{Name: name, Help: help, ConstLabels: labels}, f))
}

// DB adds the database pool's statistics (go_sql_*, db_name="credflow").
func (m *Metrics) DB(db *sql.DB) {
	if m == nil {
		return
	}
	m.reg.MustRegister(collectors.NewDBStatsCollector(db, "credflow"))
}

// Store returns the cache.Observer of one store's run-time cache. Its
// counters are bound once here, so that a read costs an atomic add.
func (m *Metrics) Store(name, kind string) cache.Observer {
	if m == nil {
		return nil
	}
	o := &storeObserver{seconds: m.storeSeconds.WithLabelValues(name, kind)}
	for r, label := range map[cache.Result]string{cache.Hit: "hit", cache.Miss: "miss", cache.Stale: "stale"} {
		o.reads[r] = m.cacheReads.WithLabelValues(name, label)
	}
	for i, class := range callClasses {
		o.calls[i] = m.storeCalls.WithLabelValues(name, kind, class.label)
	}
	return o
}

type storeObserver struct {
	reads   [3]prometheus.Counter // by cache.Result
	calls   [len(callClasses)]prometheus.Counter
	seconds prometheus.Observer
}

func (o *storeObserver) Read(r cache.Result) {
	if int(r) < len(o.reads) {
		o.reads[r].Inc()
	}
}

func (o *storeObserver) Call(err error, took time.Duration) {
	o.calls[callClass(err)].Inc()
	o.seconds.Observe(took.Seconds())
}

// callClasses are the results of a store call, in the order they are
// tested; the last matches everything.
var callClasses = [...]struct {
	label string
	err   error
}{
	{"ok", nil},
	{"not_found", secretstore.ErrNotFound},
	{"forbidden", secretstore.ErrForbidden},
	{"disabled", secretstore.ErrDisabled},
	{"network_denied", secretstore.ErrNetworkDenied},
	{"unauthenticated", secretstore.ErrUnauthenticated},
	{"sealed", secretstore.ErrSealed},
	{"throttled", secretstore.ErrThrottled},
	{"timeout", secretstore.ErrTimeout},
	{"unavailable", secretstore.ErrUnavailable},
	{"corrupt", secretstore.ErrCorrupt},
	{"canceled", context.Canceled},
	{"error", nil},
}

func callClass(err error) int {
	if err == nil {
		return 0
	}
	for i := 1; i < len(callClasses)-1; i++ {
		if errors.Is(err, callClasses[i].err) {
			return i
		}
	}
	return len(callClasses) - 1
}
