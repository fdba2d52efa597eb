package httpapi_test

import (
	"context"
	"errors"
	"net/http"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/credflow/credflow/internal/metadb/metadbtest"
)

// storeCallsRunning counts the goroutines of this process that are inside
// a store call made through a cache (the one path a resolve reads by).
func storeCallsRunning() int {
	buf := make([]byte, 8<<20)
	buf = buf[:runtime.Stack(buf, true)]
	n := 0
	for _, g := range strings.Split(string(buf), "\n\n") {
		if strings.Contains(g, "secretstore/cache.(*Store).fetch") {
			n++
		}
	}
	return n
}

// TestDisconnectedRunnerCancelsTheStoreCall: a runner that gives up on a
// resolve whose vault hangs takes the store call down with it, at once
// rather than at the call's timeout, and leaves no goroutine behind; the
// server keeps serving, and the abandoned resolve is audited.
func TestDisconnectedRunnerCancelsTheStoreCall(t *testing.T) {
	e := metadbtest.Engines(t)[0] // the cancellation does not depend on the database
	env := startRotation(t, e)
	env.setUp(t)
	before := storeCallsRunning()
	env.vault.SetLatency(time.Hour)

	ctx, cancel := context.WithCancel(t.Context())
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, env.inst.URL+"/api/v1/connections/sql-build/resolve", nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+env.runner.token)
	done := make(chan error, 1)
	go func() {
		resp, err := http.DefaultClient.Do(req)
		if err == nil {
			resp.Body.Close()
		}
		done <- err
	}()
	waitFor(t, func() bool { return storeCallsRunning() > before })
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Fatalf("the runner's request: %v", err)
	}
	waitFor(t, func() bool { return storeCallsRunning() <= before })

	env.vault.SetLatency(0)
	if got := env.runner.must(200, "POST", "/api/v1/connections/sql-build/resolve", nil).str("password"); got != "password-1" {
		t.Fatalf("resolve after the disconnect: %q", got)
	}
	waitFor(t, func() bool {
		l := env.admin.must(200, "GET", "/api/v1/audit?action=connection.resolve", nil)
		return strings.Contains(string(l.raw), "abandoned: the caller disconnected before the values were read")
	})
	// The connection and the variable do not blame the store for it.
	if c := env.admin.must(200, "GET", "/api/v1/connections/sql-build", nil); c.str("status") != "connected" {
		t.Errorf("connection after the disconnect: %s", c.raw)
	}
	if st := statusOf(env.admin, "/api/v1/environment-variables/cf_SqlPass"); st != "ok" {
		t.Errorf("variable status %q after the disconnect", st)
	}
}
