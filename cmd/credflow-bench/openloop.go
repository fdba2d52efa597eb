package main

import (
	"io"
	"net/http"
	"sync"
	"time"
)

// openLoop offers requests to url at a fixed rate for warm+dur, whatever the
// server's pace, from up to workers requests in flight, and measures the
// last dur. Each request's latency runs from the moment it was due to be
// sent, not from when a worker got to send it: a stall therefore counts
// against every request that had to wait for it (no coordinated omission).
// Every request offered is sent: a backlog at the end is waited for, its
// latencies counted in full.
func openLoop(url, token string, rate float64, workers int, warm, dur time.Duration) result {
	tr := &http.Transport{MaxIdleConns: workers, MaxIdleConnsPerHost: workers, MaxConnsPerHost: workers, IdleConnTimeout: time.Minute}
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr, Timeout: 30 * time.Second}
	method := "POST"
	if token == "" {
		method = "GET"
	}
	interval := time.Duration(float64(time.Second) / rate)
	total := int((warm + dur) / interval)
	due := make(chan time.Time, total) // never blocks the schedule
	start := time.Now()
	measureFrom := start.Add(warm)

	var mu sync.Mutex
	var lat []time.Duration
	errs := 0
	var wg sync.WaitGroup
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			req, _ := http.NewRequest(method, url, nil)
			if token != "" {
				req.Header.Set("Authorization", "Bearer "+token)
			}
			for t0 := range due {
				res, err := client.Do(req)
				ok := err == nil && res.StatusCode == 200
				if err == nil {
					_, _ = io.Copy(io.Discard, res.Body)
					res.Body.Close()
				}
				if t0.Before(measureFrom) {
					continue
				}
				mu.Lock()
				if ok {
					lat = append(lat, time.Since(t0))
				} else {
					errs++
				}
				mu.Unlock()
			}
		}()
	}
	for i := range total {
		t := start.Add(time.Duration(i) * interval)
		if d := time.Until(t); d > 0 {
			time.Sleep(d)
		}
		due <- t
	}
	close(due)
	wg.Wait()
	r := result{elapsed: dur, errors: errs}
	r.measured(lat)
	return r
}
