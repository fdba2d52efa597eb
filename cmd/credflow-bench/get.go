package main

import (
	"flag"
	"fmt"
	"os"
	"strings"
	"time"
)

// getCmd measures one GET (a list's first page, say) under n closed-loop
// clients and prints its throughput and latency.
func getCmd(args []string) int {
	fs := flag.NewFlagSet("credflow-bench get", flag.ContinueOnError)
	addr := fs.String("addr", "http://127.0.0.1:8080", "credflow server URL")
	token := fs.String("token", os.Getenv("CREDFLOW_TOKEN"), "an API token (default $CREDFLOW_TOKEN)")
	path := fs.String("path", "", "the path to GET, with its query (/api/v1/credentials?limit=50)")
	n := fs.Int("c", 8, "concurrent clients")
	dur := fs.Duration("d", 10*time.Second, "measured duration")
	warm := fs.Duration("warmup", 2*time.Second, "unmeasured warm-up")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if *token == "" || !strings.HasPrefix(*path, "/") {
		fmt.Fprintln(os.Stderr, "credflow-bench get: -token and -path (starting with /) are required")
		return 2
	}
	r := loadMethod("GET", strings.TrimRight(*addr, "/")+*path, *token, *n, *warm, *dur)
	fmt.Printf("GET %s  c=%d  %.0f req/s  p50 %s  p90 %s  p99 %s  errors %d\n", *path, *n, r.rps(), ms(r.p50), ms(r.p90), ms(r.p99), r.errors)
	if r.errors > 0 || r.requests == 0 {
		return 1
	}
	return 0
}
