package main

import (
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"
)

// TestOpenLoopCountsStalls: one 300 ms stall of a server answered by a
// single worker delays every request due during it. The open-loop measure
// charges them all from when they were due; a closed loop would see one
// slow request.
func TestOpenLoopCountsStalls(t *testing.T) {
	var n atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if n.Add(1) == 20 {
			time.Sleep(300 * time.Millisecond)
		}
	}))
	defer srv.Close()
	r := openLoop(srv.URL, "", 200, 1, 0, time.Second)
	if r.requests != 200 || r.errors != 0 {
		t.Fatalf("%d requests, %d errors; want the 200 offered", r.requests, r.errors)
	}
	// 60 requests were due during the stall: at least 5% of all waited
	// 100 ms or more, so p99 shows the stall.
	if r.p99 < 100*time.Millisecond {
		t.Errorf("p99 %v hides a 300 ms stall", r.p99)
	}
	if r.p50 > 100*time.Millisecond {
		t.Errorf("p50 %v: the run was slow throughout, the test says nothing", r.p50)
	}
}
