package main

import (
	"bytes"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// writesCmd measures durable writes: n closed-loop clients create text
// environment variables (or, with -kind credential, credentials of two
// existing variables) with unique names through the API. With
// -resolve-connection it also runs resolves of that connection at the same
// time, from clients of their own, and reports them apart: a resolve must
// not stall behind writes.
func writesCmd(args []string) int {
	fs := flag.NewFlagSet("credflow-bench writes", flag.ContinueOnError)
	addr := fs.String("addr", "http://127.0.0.1:8080", "credflow server URL")
	token := fs.String("token", os.Getenv("CREDFLOW_TOKEN"), "a token allowed to create them (default $CREDFLOW_TOKEN)")
	kind := fs.String("kind", "variable", "what to create: variable or credential")
	user := fs.String("username", "cf_bench_user", "-kind credential: the username variable (seed -connection bench makes it)")
	pass := fs.String("password", "cf_bench_password", "-kind credential: the password variable")
	n := fs.Int("c", 16, "concurrent writing clients (0: resolves only)")
	dur := fs.Duration("d", 10*time.Second, "measured duration")
	warm := fs.Duration("warmup", 2*time.Second, "unmeasured warm-up")
	prefix := fs.String("prefix", fmt.Sprintf("w%d", time.Now().UnixNano()%1e9), "schema name prefix, unique per run")
	conn := fs.String("resolve-connection", "", "also resolve this connection while writing")
	runner := fs.String("resolve-token", "", "the runner token for -resolve-connection")
	rc := fs.Int("resolve-c", 8, "concurrent resolving clients")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if *token == "" || *n < 0 || (*n == 0 && *conn == "") || (*kind != "variable" && *kind != "credential") {
		fmt.Fprintln(os.Stderr, "credflow-bench writes: -token is required, -c ≥ 1 unless -resolve-connection is given, and -kind is variable or credential")
		return 2
	}
	base := strings.TrimRight(*addr, "/")
	var seq atomic.Int64
	create := func(c *http.Client) bool {
		i := seq.Add(1)
		path, body := "/api/v1/environment-variables", fmt.Sprintf(`{"schemaName":"cf_%s_%d","displayName":"bench %d","type":"text","value":"v%d"}`, *prefix, i, i, i)
		if *kind == "credential" {
			path, body = "/api/v1/credentials", fmt.Sprintf(`{"name":"%s-%d","username":%q,"password":%q}`, *prefix, i, *user, *pass)
		}
		req, _ := http.NewRequest("POST", base+path, bytes.NewBufferString(body))
		req.Header.Set("Authorization", "Bearer "+*token)
		req.Header.Set("Content-Type", "application/json")
		return send(c, req, http.StatusCreated)
	}
	var jobs []loadJob
	if *n > 0 {
		jobs = append(jobs, loadJob{name: "create " + *kind, clients: *n, do: create})
	}
	if *conn != "" {
		url := base + "/api/v1/connections/" + *conn + "/resolve"
		jobs = append(jobs, loadJob{name: "resolve", clients: *rc, do: func(c *http.Client) bool {
			req, _ := http.NewRequest("POST", url, nil)
			req.Header.Set("Authorization", "Bearer "+*runner)
			return send(c, req, http.StatusOK)
		}})
	}
	results := loadTogether(jobs, *warm, *dur)
	failed := false
	for i, r := range results {
		fmt.Printf("%-16s c=%-3d %8.0f req/s  p50 %s  p90 %s  p99 %s  max %s  errors %d\n",
			jobs[i].name, jobs[i].clients, r.rps(), ms(r.p50), ms(r.p90), ms(r.p99), ms(r.max), r.errors)
		failed = failed || r.errors > 0 || r.requests == 0
	}
	if failed {
		return 1
	}
	return 0
}

// send does req and reports whether it got the status wanted.
func send(c *http.Client, req *http.Request, want int) bool {
	res, err := c.Do(req)
	if err != nil {
		return false
	}
	_, _ = io.Copy(io.Discard, res.Body)
	res.Body.Close()
	return res.StatusCode == want
}

// loadJob is one kind of request, sent by clients closed-loop clients.
type loadJob struct {
	name    string
	clients int
	do      func(*http.Client) bool
}

// loadTogether runs every job at once for warm+dur and measures each over
// the last dur.
func loadTogether(jobs []loadJob, warm, dur time.Duration) []result {
	start := time.Now()
	measureFrom := start.Add(warm)
	end := measureFrom.Add(dur)
	out := make([]result, len(jobs))
	var wg sync.WaitGroup
	for k, job := range jobs {
		tr := &http.Transport{MaxIdleConns: job.clients, MaxIdleConnsPerHost: job.clients, MaxConnsPerHost: job.clients, IdleConnTimeout: time.Minute}
		defer tr.CloseIdleConnections()
		client := &http.Client{Transport: tr, Timeout: 30 * time.Second}
		lat := make([][]time.Duration, job.clients)
		errs := make([]int, job.clients)
		var jwg sync.WaitGroup
		for i := range job.clients {
			jwg.Add(1)
			go func() {
				defer jwg.Done()
				for {
					t0 := time.Now()
					if !t0.Before(end) {
						return
					}
					ok := job.do(client)
					t1 := time.Now()
					if t0.Before(measureFrom) || t1.After(end) {
						continue
					}
					if ok {
						lat[i] = append(lat[i], t1.Sub(t0))
					} else {
						errs[i]++
					}
				}
			}()
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			jwg.Wait()
			var all []time.Duration
			r := result{elapsed: dur}
			for i := range lat {
				all = append(all, lat[i]...)
				r.errors += errs[i]
			}
			r.measured(all)
			out[k] = r
		}()
	}
	wg.Wait()
	return out
}
