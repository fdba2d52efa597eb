// Command credflow-bench measures run-time resolves of a running credflow
// server over loopback HTTP, and, in the same run and with the same client,
// a bare Go net/http handler that returns a JSON body of the same size, so
// that the two can be compared on the same machine at the same moment.
//
//	credflow-bench seed -addr http://127.0.0.1:8080 -token "$ADMIN_TOKEN"   # prints a runner token
//	credflow-bench -addr http://127.0.0.1:8080 -token "$RUNNER_TOKEN" -connection bench -c 16,32 -d 10s
//	credflow-bench -addr ... -token "$RUNNER_TOKEN" -connection bench -c 64 -rate 5000   # open loop at a fixed rate
//	credflow-bench get -addr ... -token "$TOKEN" -path '/api/v1/credentials?limit=50' -c 8 -d 10s   # a GET under load
//	credflow-bench writes -addr ... -token "$ADMIN_TOKEN" -c 16 -d 10s   # variables created, optionally with resolves alongside
//	credflow-bench package -n 100000 -out bulk.zip   # a solution of n text variables, for the bulk import
//	credflow-bench resolve-each -addr ... -token "$RUNNER_TOKEN" -n 500 -c 8   # scale-0000000...: each resolved once, plans not cached
//	credflow-bench seed-audit -data-dir credflow-data -n 10000000   # resolve records straight into a stopped server's database
//	credflow-bench soak -d 30m -csv soak.csv -svg soak.svg   # a server of its own under mixed load
//
// The resolve benchmark starts no credflow server: it drives the one named
// by -addr. The soak test starts one of its own, in this process, so that it
// can sample the server's heap, goroutines, files and database pool. The bare
// handler runs in a child process of its own (this program, re-run), so
// that neither target shares a Go runtime with the load generator.
package main

import (
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"
)

func main() {
	if len(os.Args) > 1 {
		switch os.Args[1] {
		case "bare-server":
			os.Exit(bareServer(os.Args[2:]))
		case "seed":
			os.Exit(seed(os.Args[2:]))
		case "soak":
			os.Exit(soakCmd(os.Args[2:]))
		case "seed-audit":
			os.Exit(seedAuditCmd(os.Args[2:]))
		case "get":
			os.Exit(getCmd(os.Args[2:]))
		case "writes":
			os.Exit(writesCmd(os.Args[2:]))
		case "package":
			os.Exit(packageCmd(os.Args[2:]))
		case "resolve-each":
			os.Exit(resolveEachCmd(os.Args[2:]))
		}
	}
	os.Exit(run(os.Args[1:]))
}

type result struct {
	requests           int
	errors             int
	elapsed            time.Duration
	p50, p90, p99, max time.Duration
}

// measured sets r's request count and percentiles from the latencies of
// its successful requests (reordered in place).
func (r *result) measured(lat []time.Duration) {
	r.requests = len(lat)
	if len(lat) == 0 {
		return
	}
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	pct := func(p float64) time.Duration { return lat[int(p*float64(len(lat)-1))] }
	r.p50, r.p90, r.p99, r.max = pct(0.50), pct(0.90), pct(0.99), lat[len(lat)-1]
}

func (r result) rps() float64 { return float64(r.requests) / r.elapsed.Seconds() }

func run(args []string) int {
	fs := flag.NewFlagSet("credflow-bench", flag.ContinueOnError)
	addr := fs.String("addr", "http://127.0.0.1:8080", "credflow server URL")
	token := fs.String("token", os.Getenv("CREDFLOW_TOKEN"), "a runner's API token (default $CREDFLOW_TOKEN)")
	conn := fs.String("connection", "", "the connection to resolve")
	conc := fs.String("c", "16,32", "comma-separated concurrent client counts")
	dur := fs.Duration("d", 10*time.Second, "measured duration of each run")
	warm := fs.Duration("warmup", 2*time.Second, "unmeasured warm-up before each run")
	rate := fs.Float64("rate", 0, "open loop: offer this many requests per second to each target (with -c requests in flight at most), latency measured from when each was due; 0: closed loop")
	durableDir := fs.String("durable-dir", "", "also measure the bare handler answering only after an fdatasync'd record in a file in this directory (put it on the disk of the server's data)")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if *token == "" || *conn == "" {
		fmt.Fprintln(os.Stderr, "credflow-bench: -token and -connection are required")
		return 2
	}
	var levels []int
	for _, s := range strings.Split(*conc, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(s))
		if err != nil || n < 1 || n > 4096 {
			fmt.Fprintf(os.Stderr, "credflow-bench: -c: %q is not a client count\n", s)
			return 2
		}
		levels = append(levels, n)
	}
	resolveURL := strings.TrimRight(*addr, "/") + "/api/v1/connections/" + *conn + "/resolve"

	// One resolve tells the size of the body the bare handler must return.
	body, err := once(resolveURL, *token)
	if err != nil {
		fmt.Fprintf(os.Stderr, "credflow-bench: first resolve: %v\n", err)
		return 1
	}
	bareAddr, stop, err := startBare(len(body), "")
	if err != nil {
		fmt.Fprintf(os.Stderr, "credflow-bench: bare handler: %v\n", err)
		return 1
	}
	defer stop()
	var syncAddr string
	if *durableDir != "" {
		addr, stop, err := startBare(len(body), *durableDir)
		if err != nil {
			fmt.Fprintf(os.Stderr, "credflow-bench: bare handler with fdatasync: %v\n", err)
			return 1
		}
		defer stop()
		syncAddr = addr
	}

	fmt.Printf("body %d bytes; %v measured after %v warm-up per run; GOMAXPROCS of this process %s\n",
		len(body), *dur, *warm, os.Getenv("GOMAXPROCS"))
	if *rate > 0 {
		fmt.Printf("open loop: %.0f requests/s offered to each target, -c requests in flight at most; latency from when each request was due\n", *rate)
	}
	fmt.Printf("%-6s %-9s %10s %9s %9s %9s %7s\n", "conc", "target", "req/s", "p50", "p90", "p99", "errors")
	for _, n := range levels {
		type row struct {
			name string
			r    result
		}
		measure := func(url, token string) result {
			if *rate > 0 {
				return openLoop(url, token, *rate, n, *warm, *dur)
			}
			return load(url, token, n, *warm, *dur)
		}
		bare := measure("http://"+bareAddr+"/", "")
		rows := []row{{"bare", bare}}
		if syncAddr != "" {
			rows = append(rows, row{"bare+sync", measure("http://"+syncAddr+"/", "")})
		}
		cf := measure(resolveURL, *token)
		rows = append(rows, row{"credflow", cf})
		for _, x := range rows {
			fmt.Printf("%-6d %-9s %10.0f %9s %9s %9s %7d\n", n, x.name, x.r.rps(), ms(x.r.p50), ms(x.r.p90), ms(x.r.p99), x.r.errors)
		}
		fmt.Printf("%-6d vs bare   credflow %.1f%% of bare's requests/s, p99 %.2fx bare's\n",
			n, 100*cf.rps()/bare.rps(), float64(cf.p99)/float64(bare.p99))
		if syncAddr != "" {
			s := rows[1].r
			fmt.Printf("%-6d ceiling   bare+sync %.1f%% of bare; credflow %.1f%% of bare+sync's requests/s (target >= 80%%), p99 %.2fx bare+sync's (target <= 1.5x)\n",
				n, 100*s.rps()/bare.rps(), 100*cf.rps()/s.rps(), float64(cf.p99)/float64(s.p99))
		}
	}
	return 0
}

func ms(d time.Duration) string { return fmt.Sprintf("%.2fms", float64(d.Microseconds())/1000) }

func once(url, token string) ([]byte, error) {
	req, _ := http.NewRequest("POST", url, nil)
	req.Header.Set("Authorization", "Bearer "+token)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		return nil, err
	}
	if res.StatusCode != 200 {
		return nil, fmt.Errorf("status %d: %s", res.StatusCode, b)
	}
	return b, nil
}

// load runs n clients against url for warm+dur and measures the last dur:
// resolves (POST) with a token, the bare handler (GET) without.
func load(url, token string, n int, warm, dur time.Duration) result {
	method := "POST"
	if token == "" {
		method = "GET"
	}
	return loadMethod(method, url, token, n, warm, dur)
}

// loadMethod is load with the method given.
func loadMethod(method, url, token string, n int, warm, dur time.Duration) result {
	tr := &http.Transport{MaxIdleConns: n, MaxIdleConnsPerHost: n, MaxConnsPerHost: n, IdleConnTimeout: time.Minute}
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr, Timeout: 30 * time.Second}
	start := time.Now()
	measureFrom := start.Add(warm)
	end := measureFrom.Add(dur)
	lat := make([][]time.Duration, n)
	errs := make([]int, n)
	var wg sync.WaitGroup
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			req, _ := http.NewRequest(method, url, nil)
			if token != "" {
				req.Header.Set("Authorization", "Bearer "+token)
			}
			for {
				t0 := time.Now()
				if !t0.Before(end) {
					return
				}
				res, err := client.Do(req)
				ok := err == nil && res.StatusCode == 200
				if err == nil {
					_, _ = io.Copy(io.Discard, res.Body)
					res.Body.Close()
				}
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
		}(i)
	}
	wg.Wait()
	var all []time.Duration
	r := result{elapsed: dur}
	for i := range lat {
		all = append(all, lat[i]...)
		r.errors += errs[i]
	}
	r.measured(all)
	return r
}
