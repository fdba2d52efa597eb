package main

import (
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

// resolveEachCmd resolves each of n connections once, from c clients, and
// prints the latency of those resolves: each is the first of its
// connection since the server started (when nothing else resolved it), so
// its plan is read from the database, not from the cache.
func resolveEachCmd(args []string) int {
	fs := flag.NewFlagSet("credflow-bench resolve-each", flag.ContinueOnError)
	addr := fs.String("addr", "http://127.0.0.1:8080", "credflow server URL")
	token := fs.String("token", os.Getenv("CREDFLOW_TOKEN"), "a runner's API token (default $CREDFLOW_TOKEN)")
	names := fs.String("names", "scale-%07d", "the connections' names: a format with one integer verb")
	from := fs.Int("from", 0, "the first connection's number")
	n := fs.Int("n", 500, "how many connections to resolve, once each")
	c := fs.Int("c", 8, "concurrent clients")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if *token == "" || *n < 1 || *c < 1 || strings.Count(*names, "%") != 1 {
		fmt.Fprintln(os.Stderr, "credflow-bench resolve-each: -token, -n >= 1, -c >= 1 and -names with one integer verb are required")
		return 2
	}
	base := strings.TrimRight(*addr, "/") + "/api/v1/connections/"
	r := resolveEach(func(i int) string { return base + fmt.Sprintf(*names, *from+i) + "/resolve" }, *token, *n, *c)
	fmt.Printf("resolve-each  %d connections once each  c=%d  p50 %s  p90 %s  p99 %s  max %s  errors %d\n",
		*n, *c, ms(r.p50), ms(r.p90), ms(r.p99), ms(r.max), r.errors)
	if r.errors > 0 {
		return 1
	}
	return 0
}

// resolveEach sends one resolve (POST) to url(i) for every i in [0, n) from
// c clients, and measures each from its send to the end of its answer. A
// request that fails, or answers other than 200, is an error and is not
// in the percentiles.
func resolveEach(url func(i int) string, token string, n, c int) result {
	tr := &http.Transport{MaxIdleConns: c, MaxIdleConnsPerHost: c, MaxConnsPerHost: c, IdleConnTimeout: time.Minute}
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr, Timeout: 30 * time.Second}
	lat := make([]time.Duration, n)
	ok := make([]bool, n)
	var next atomic.Int64
	var wg sync.WaitGroup
	start := time.Now()
	for range c {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1)) - 1
				if i >= n {
					return
				}
				req, err := http.NewRequest("POST", url(i), nil)
				if err != nil {
					continue
				}
				req.Header.Set("Authorization", "Bearer "+token)
				t0 := time.Now()
				res, err := client.Do(req)
				if err != nil {
					continue
				}
				_, _ = io.Copy(io.Discard, res.Body)
				res.Body.Close()
				lat[i], ok[i] = time.Since(t0), res.StatusCode == http.StatusOK
			}
		}()
	}
	wg.Wait()
	var out result
	out.elapsed = time.Since(start)
	var good []time.Duration
	for i := range lat {
		if ok[i] {
			good = append(good, lat[i])
		} else {
			out.errors++
		}
	}
	out.measured(good)
	return out
}
