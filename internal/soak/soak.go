// Package soak runs a credflow server under a mixed load for a while and
// samples what grows when something leaks: the heap, goroutines, open files
// and the database pool. It starts its own server (SQLite in a directory it
// is given) inside this process, drives it over loopback HTTP, and says
// whether the curves stayed flat. It measures no speed: that is the
// benchmarks' work.
package soak

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/credflow/credflow/internal/config"
	"github.com/credflow/credflow/internal/server"
)

// Options configures a run.
type Options struct {
	Duration time.Duration
	// Every is the sampling interval (default: Duration/60, at least 1 s).
	Every time.Duration
	// Clients is the number of concurrent resolving runners (default 4).
	Clients int
	// DataDir holds the server's database and keys; it must be empty.
	DataDir string
}

// Sample is the state of the process at one moment, and the work done so
// far.
type Sample struct {
	At              time.Duration
	HeapInuse       uint64
	Goroutines      int
	OpenFiles       int // -1 where the platform does not tell
	DBOpen, DBInUse int
	Resolves        int64
	Versions        int64 // new versions of the resolved secret: store reads
	Writes          int64
	Events          int64
	Errors          int64
}

// Report is a run's samples and what they show.
type Report struct {
	Samples []Sample
	// Findings name each curve that did not stay flat; none means the
	// run passed.
	Findings []string
}

const webhookKey = "soak-webhook-key-0123456789abcdef"

// Run starts a server in opts.DataDir, loads it for opts.Duration and
// samples it. About 90% of resolves are cache hits: a rotator puts a new
// version of the resolved secret for about every ninth resolve; a writer
// creates and deletes variables; Event Grid deliveries arrive all along.
func Run(ctx context.Context, opts Options) (Report, error) {
	if opts.Clients <= 0 {
		opts.Clients = 4
	}
	if opts.Every <= 0 {
		opts.Every = max(time.Second, opts.Duration/60)
	}
	cfg := config.Defaults()
	cfg.DataDir = opts.DataDir
	cfg.EventGridKeyFile = filepath.Join(opts.DataDir, "eventgrid.keys")
	if err := os.MkdirAll(opts.DataDir, 0o700); err != nil {
		return Report{}, err
	}
	if err := os.WriteFile(cfg.EventGridKeyFile, []byte(webhookKey+"\n"), 0o600); err != nil {
		return Report{}, err
	}
	srv, err := server.New(ctx, cfg, io.Discard)
	if err != nil {
		return Report{}, err
	}
	defer srv.Close()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return Report{}, err
	}
	runCtx, stop := context.WithCancel(ctx)
	defer stop()
	served := make(chan error, 1)
	go func() { served <- srv.Serve(runCtx, ln) }()
	base := "http://" + ln.Addr().String() + "/api/v1"
	c := &caller{http: &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 64}}, base: base}
	runnerToken, err := c.setUp(srv.InitialToken)
	if err != nil {
		return Report{}, err
	}

	var w work
	var wg sync.WaitGroup
	loadCtx, endLoad := context.WithTimeout(runCtx, opts.Duration)
	defer endLoad()
	for range opts.Clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for loadCtx.Err() == nil {
				w.count(&w.resolves, c.do(loadCtx, runnerToken, "POST", "/connections/soak/resolve", nil))
			}
		}()
	}
	wg.Add(3)
	go func() {
		defer wg.Done()
		w.rotator(loadCtx, c, srv.InitialToken)
	}()
	go func() {
		defer wg.Done()
		w.writer(loadCtx, c, srv.InitialToken)
	}()
	go func() {
		defer wg.Done()
		w.deliverEvents(loadCtx, c)
	}()

	var rep Report
	start := time.Now()
	tick := time.NewTicker(opts.Every)
	defer tick.Stop()
	rep.Samples = append(rep.Samples, w.sample(srv, 0))
sampling:
	for {
		select {
		case <-loadCtx.Done():
			break sampling
		case <-tick.C:
			rep.Samples = append(rep.Samples, w.sample(srv, time.Since(start)))
		}
	}
	wg.Wait()
	stop()
	if err := <-served; err != nil && !errors.Is(err, context.Canceled) && !errors.Is(err, http.ErrServerClosed) {
		return rep, fmt.Errorf("serve: %w", err)
	}
	if ctx.Err() != nil {
		return rep, ctx.Err()
	}
	rep.Findings = flatness(rep.Samples)
	if last := rep.Samples[len(rep.Samples)-1]; last.Errors > 0 {
		rep.Findings = append(rep.Findings, fmt.Sprintf("%d requests failed", last.Errors))
	}
	return rep, nil
}

// caller sends API requests.
type caller struct {
	http *http.Client
	base string
}

// do sends body as JSON (nil: no body) and drains the answer.
func (c *caller) do(ctx context.Context, token, method, path string, body any) error {
	var raw []byte
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return err
		}
		raw = b
	}
	return c.send(ctx, token, method, path, raw, nil)
}

// deliver posts an Event Grid delivery to the webhook.
func (c *caller) deliver(ctx context.Context, body string) error {
	return c.send(ctx, "", "POST", "/events/eventgrid?key="+webhookKey, []byte(body), map[string]string{"aeg-event-type": "Notification"})
}

func (c *caller) send(ctx context.Context, token, method, path string, body []byte, headers map[string]string) error {
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, rd)
	if err != nil {
		return err
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	req.Header.Set("Content-Type", "application/json")
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	res, err := c.http.Do(req)
	if err != nil {
		return err
	}
	defer res.Body.Close()
	if _, err := io.Copy(io.Discard, res.Body); err != nil {
		return err
	}
	if res.StatusCode >= 300 {
		return fmt.Errorf("%s %s: status %d", method, path, res.StatusCode)
	}
	return nil
}

// setUp makes the resolved connection and returns a runner's token.
func (c *caller) setUp(admin string) (string, error) {
	ctx := context.Background()
	for _, s := range []struct {
		method, path string
		body         any
	}{
		{"PUT", "/stores/local/secrets/soak-password", map[string]string{"value": "soak-password-1"}},
		{"POST", "/environment-variables", map[string]any{"schemaName": "cf_SoakUser", "displayName": "soak user", "type": "text", "value": "svc_soak"}},
		{"POST", "/environment-variables", map[string]any{"schemaName": "cf_SoakPassword", "displayName": "soak password", "type": "secret",
			"secretRef": map[string]string{"store": "local", "ref": "soak-password"}}},
		{"POST", "/credentials", map[string]any{"name": "soak", "username": "cf_SoakUser", "password": "cf_SoakPassword"}},
		{"POST", "/runner-groups", map[string]any{"name": "soak-runners"}},
		{"POST", "/users", map[string]any{"name": "soak-runner", "role": "runner", "runnerGroup": "soak-runners"}},
		{"POST", "/connections", map[string]any{"name": "soak", "credential": "soak", "runnerGroup": "soak-runners"}},
	} {
		if err := c.do(ctx, admin, s.method, s.path, s.body); err != nil {
			return "", fmt.Errorf("set up: %w", err)
		}
	}
	req, err := http.NewRequest("POST", c.base+"/tokens", bytes.NewReader([]byte(`{"name":"soak","user":"soak-runner"}`)))
	if err != nil {
		return "", err
	}
	req.Header.Set("Authorization", "Bearer "+admin)
	req.Header.Set("Content-Type", "application/json")
	res, err := c.http.Do(req)
	if err != nil {
		return "", err
	}
	defer res.Body.Close()
	var tok struct {
		Token string `json:"token"`
	}
	if err := json.NewDecoder(res.Body).Decode(&tok); err != nil || tok.Token == "" {
		return "", fmt.Errorf("set up: runner token: status %d, %v", res.StatusCode, err)
	}
	return tok.Token, nil
}

// work counts what the load did.
type work struct {
	resolves, versions, writes, events, errors atomic.Int64
}

func (w *work) count(n *atomic.Int64, err error) {
	if err != nil {
		if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
			return // the run ended mid-request
		}
		w.errors.Add(1)
		return
	}
	n.Add(1)
}

// rotator puts new versions of the resolved secret, each of which makes
// exactly one store read (the next resolves share it): about one for every
// nine resolves, so that 90% of resolves are served from the cache.
func (w *work) rotator(ctx context.Context, c *caller, admin string) {
	for i := 0; ctx.Err() == nil; i++ {
		if w.versions.Load()*9 >= w.resolves.Load() {
			sleep(ctx, time.Millisecond)
			continue
		}
		w.count(&w.versions, c.do(ctx, admin, "PUT", "/stores/local/secrets/soak-password",
			map[string]string{"value": fmt.Sprintf("soak-password-%d", i)}))
	}
}

// writer creates and deletes variables.
func (w *work) writer(ctx context.Context, c *caller, admin string) {
	for i := 0; ctx.Err() == nil; i++ {
		name := fmt.Sprintf("cf_Soak%d", i)
		err := c.do(ctx, admin, "POST", "/environment-variables", map[string]any{"schemaName": name, "displayName": name, "type": "text", "value": "v"})
		if err == nil {
			err = c.do(ctx, admin, "DELETE", "/environment-variables/"+name, nil)
		}
		w.count(&w.writes, err)
		sleep(ctx, 20*time.Millisecond)
	}
}

// deliverEvents delivers Event Grid batches: new versions and expiries of a vault
// no store reads (acknowledged and ignored), with redeliveries.
func (w *work) deliverEvents(ctx context.Context, c *caller) {
	for i := 0; ctx.Err() == nil; i++ {
		id := fmt.Sprintf("soak-%d", i/2) // every event twice
		body := fmt.Sprintf(`[{"id":%q,"topic":"/subscriptions/s/resourceGroups/rg/providers/Microsoft.KeyVault/vaults/elsewhere","subject":"db",
"eventType":"Microsoft.KeyVault.SecretNewVersionCreated","eventTime":"2026-01-02T03:04:05Z","data":{"VaultName":"elsewhere","ObjectType":"Secret","ObjectName":"db"},
"dataVersion":"1","metadataVersion":"1"}]`, id)
		w.count(&w.events, c.deliver(ctx, body))
		sleep(ctx, 50*time.Millisecond)
	}
}

func sleep(ctx context.Context, d time.Duration) {
	select {
	case <-ctx.Done():
	case <-time.After(d):
	}
}

// sample reads the process's state now.
func (w *work) sample(srv *server.Server, at time.Duration) Sample {
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	st := srv.DB().SQL().Stats()
	return Sample{At: at, HeapInuse: ms.HeapInuse, Goroutines: runtime.NumGoroutine(), OpenFiles: openFiles(),
		DBOpen: st.OpenConnections, DBInUse: st.InUse,
		Resolves: w.resolves.Load(), Versions: w.versions.Load(), Writes: w.writes.Load(), Events: w.events.Load(), Errors: w.errors.Load()}
}

// openFiles counts this process's open file descriptors (-1 where
// /proc/self/fd does not exist).
func openFiles() int {
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		return -1
	}
	return len(ents)
}

// flatness compares the second quarter of the run (after warming up) with
// the last: what grew beyond a margin is named.
func flatness(samples []Sample) []string {
	if len(samples) < 8 {
		return []string{fmt.Sprintf("only %d samples: run longer or sample more often", len(samples))}
	}
	q := len(samples) / 4
	early, late := samples[q:2*q], samples[len(samples)-q:]
	med := func(s []Sample, f func(Sample) float64) float64 {
		v := make([]float64, len(s))
		for i, x := range s {
			v[i] = f(x)
		}
		sort.Float64s(v)
		return v[len(v)/2]
	}
	var out []string
	for _, c := range []struct {
		name   string
		f      func(Sample) float64
		factor float64
		slack  float64
	}{
		{"heap in use (MiB)", func(s Sample) float64 { return float64(s.HeapInuse) / (1 << 20) }, 1.5, 16},
		{"goroutines", func(s Sample) float64 { return float64(s.Goroutines) }, 1.2, 20},
		{"open files", func(s Sample) float64 { return float64(s.OpenFiles) }, 1.2, 10},
		{"database connections open", func(s Sample) float64 { return float64(s.DBOpen) }, 1.5, 4},
	} {
		a, b := med(early, c.f), med(late, c.f)
		if b > a*c.factor+c.slack {
			out = append(out, fmt.Sprintf("%s grew from %.1f to %.1f", c.name, a, b))
		}
	}
	return out
}
