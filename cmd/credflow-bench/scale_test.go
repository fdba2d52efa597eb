package main

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/credflow/credflow/internal/metadb/metadbtest"
	"github.com/credflow/credflow/internal/server/servertest"
)

// TestSeedScale seeds a small population into a real server: the counts
// are the ones asked for, the first maker sees the credentials shared with
// them, and the runner resolves a seeded connection.
func TestSeedScale(t *testing.T) {
	inst := servertest.Start(t, metadbtest.Engines(t)[0])
	client := &http.Client{Timeout: time.Minute}
	admin := apiCaller{base: inst.URL + "/api/v1", token: inst.AdminToken, client: client}
	const n = 60
	sc, err := seedScale(admin, n, population{Users: 30, Groups: 4}, 8)
	if err != nil {
		t.Fatal(err)
	}
	var page struct {
		Items []map[string]any `json:"items"`
	}
	if err := admin.call("GET", "/environment-variables?limit=200", nil, &page); err != nil {
		t.Fatal(err)
	}
	if got := len(page.Items); got != n {
		t.Errorf("%d variables, want %d", got, n)
	}
	if err := admin.call("GET", "/users?limit=200", nil, &page); err != nil || len(page.Items) != 30+2 {
		t.Errorf("%d users (30 makers, the runner and the admin), %v", len(page.Items), err)
	}
	maker := apiCaller{base: admin.base, token: sc.MakerToken, client: client}
	if err := maker.call("GET", "/credentials?limit=200", nil, &page); err != nil {
		t.Fatal(err)
	}
	if got := len(page.Items); got != n/2 {
		t.Errorf("the maker sees %d credentials, want %d", got, n/2)
	}
	runner := apiCaller{base: admin.base, token: sc.RunnerToken, client: client}
	var res struct {
		Password string `json:"password"`
	}
	if err := runner.call("POST", "/connections/scale-0000029/resolve", nil, &res); err != nil || res.Password != "scale-password-value" {
		t.Errorf("resolve a seeded connection: %v", err)
	}
	if _, err := seedScale(admin, 3, population{Users: 1, Groups: 1}, 1); err == nil {
		t.Error("an odd scale was accepted")
	}

	// Run again, as to finish a seed that stopped: what exists counts as
	// made, and nothing is made twice.
	if _, err := seedScale(admin, n, population{Users: 30, Groups: 4}, 8); err != nil {
		t.Fatalf("seeding again: %v", err)
	}
	if err := admin.call("GET", "/environment-variables?limit=200", nil, &page); err != nil || len(page.Items) != n {
		t.Errorf("after seeding again: %d variables, want %d (%v)", len(page.Items), n, err)
	}
	if err := admin.call("GET", "/connections?limit=200", nil, &page); err != nil || len(page.Items) != n/2 {
		t.Errorf("after seeding again: %d connections, want %d (%v)", len(page.Items), n/2, err)
	}

	// Each seeded connection resolved once, by the runner: all succeed; a
	// connection that does not exist is an error, not a latency.
	r := resolveEach(func(i int) string { return fmt.Sprintf("%s/connections/scale-%07d/resolve", admin.base, i) }, sc.RunnerToken, n/2, 4)
	if r.requests != n/2 || r.errors != 0 || r.p50 <= 0 || r.p99 < r.p50 || r.max < r.p99 {
		t.Errorf("resolve each: %d resolved, %d errors, p50 %v p99 %v max %v", r.requests, r.errors, r.p50, r.p99, r.max)
	}
	r = resolveEach(func(i int) string { return fmt.Sprintf("%s/connections/scale-%07d/resolve", admin.base, n+i) }, sc.RunnerToken, 3, 2)
	if r.requests != 0 || r.errors != 3 {
		t.Errorf("resolving missing connections: %d resolved, %d errors; want 0 and 3", r.requests, r.errors)
	}
}

// TestEnsureRetries: a seeding request is tried again after a server
// failure, an object that exists counts as made, and a refusal is an error.
func TestEnsureRetries(t *testing.T) {
	var calls atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n := calls.Add(1)
		switch r.URL.Path {
		case "/flaky":
			if n == 1 {
				w.WriteHeader(http.StatusInternalServerError)
				return
			}
			w.WriteHeader(http.StatusCreated)
		case "/exists":
			w.WriteHeader(http.StatusConflict)
		default:
			w.WriteHeader(http.StatusBadRequest)
		}
	}))
	defer srv.Close()
	c := apiCaller{base: srv.URL, token: "t", client: srv.Client()}
	for _, tc := range []struct {
		method, path string
		ok           bool
		calls        int64
	}{
		{"POST", "/flaky", true, 2},
		{"POST", "/exists", true, 1},
		{"PUT", "/exists", false, 1},
		{"POST", "/bad", false, 1},
	} {
		calls.Store(0)
		err := c.ensure(tc.method, tc.path, nil)
		if (err == nil) != tc.ok || calls.Load() != tc.calls {
			t.Errorf("%s %s: err %v after %d calls; want ok=%v after %d", tc.method, tc.path, err, calls.Load(), tc.ok, tc.calls)
		}
	}
}
