package httpapi_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/credflow/credflow/internal/metadb/metadbtest"
)

// propagationOf returns the event status's entry of store's secret (nil
// when there is none).
func propagationOf(a api, store, secret string) map[string]any {
	a.t.Helper()
	st := a.must(200, "GET", "/api/v1/events/status", nil)
	list, ok := st.body["propagation"].([]any)
	if !ok {
		a.t.Fatalf("no propagation list: %s", st.raw)
	}
	for _, p := range list {
		if m := p.(map[string]any); m["store"] == store && m["secret"] == secret {
			return m
		}
	}
	return nil
}

// TestPropagationFigures: the event status says, per secret, when credflow
// learnt of its new version and when the first run received it, with the
// time between. The connection check that follows the event reads the
// secret too, but it is not a run and does not count; later resolves do not
// replace the first; a new change starts a new measure.
func TestPropagationFigures(t *testing.T) {
	eachEngine(t, func(t *testing.T, e metadbtest.Engine) {
		env := startRotation(t, e)
		env.setUp(t)
		env.runner.must(200, "POST", "/api/v1/connections/sql-build/resolve", nil)
		if p := propagationOf(env.admin, "kv", "sql-pass"); p != nil {
			t.Fatalf("a figure before any change: %v", p)
		}

		env.vault.Set("sql-pass", "password-2")
		before := time.Now()
		if r := env.deliver(eventGridDelivery("Microsoft.KeyVault.SecretNewVersionCreated", []string{"pr-1"}, "sql-pass")); r.status != 200 {
			t.Fatalf("delivery %d %s", r.status, r.raw)
		}
		env.inst.Server.Events().Idle(t.Context())
		// The worker applied the change and checked the connection again
		// (a read of the secret); no run has received it yet.
		p := propagationOf(env.admin, "kv", "sql-pass")
		if p == nil || p["source"] != "eventgrid" || p["changedAt"] == nil {
			t.Fatalf("after the event: %v", p)
		}
		if _, ok := p["reachedAt"]; ok {
			t.Fatalf("the connection check counted as a run: %v", p)
		}
		if c := env.admin.must(200, "GET", "/api/v1/connections/sql-build", nil); c.str("status") != "connected" {
			t.Fatalf("connection not checked again: %s", c.raw)
		}

		res := env.runner.must(200, "POST", "/api/v1/connections/sql-build/resolve", nil)
		elapsed := time.Since(before)
		if res.str("password") != "password-2" {
			t.Fatalf("resolve after the event: %s", res.str("password"))
		}
		var first map[string]any
		waitFor(t, func() bool {
			first = propagationOf(env.admin, "kv", "sql-pass")
			return first != nil && first["reachedAt"] != nil
		})
		ms, _ := first["latencyMs"].(float64)
		if ms <= 0 || ms > float64(elapsed.Microseconds())/1000 {
			t.Errorf("latency %v ms, outside (0, %v]", first["latencyMs"], elapsed)
		}
		if first["version"] != res.str("secretVersion") || first["runner"] != "build-01" || first["connection"] != "sql-build" {
			t.Errorf("first resolve %v, want version %s by build-01 through sql-build", first, res.str("secretVersion"))
		}

		// Later resolves are not the first.
		env.runner.must(200, "POST", "/api/v1/connections/sql-build/resolve", nil)
		time.Sleep(50 * time.Millisecond) // a wrongly recorded second figure would have landed
		if again := propagationOf(env.admin, "kv", "sql-pass"); fmt.Sprint(again) != fmt.Sprint(first) {
			t.Errorf("a later resolve replaced the first: %v, was %v", again, first)
		}

		// A manual notification is a new change, measured anew.
		env.vault.Set("sql-pass", "password-3")
		env.admin.must(200, "POST", "/api/v1/environment-variables/notify-secret-change",
			map[string]any{"keyVaultUrl": "https://myvault.vault.azure.net/", "secretName": "sql-pass"})
		p = propagationOf(env.admin, "kv", "sql-pass")
		if p["source"] != "notification" || p["reachedAt"] != nil || p["changedAt"] == first["changedAt"] {
			t.Fatalf("after the notification: %v", p)
		}
		if got := env.runner.must(200, "POST", "/api/v1/connections/sql-build/resolve", nil).str("password"); got != "password-3" {
			t.Fatalf("resolve after the notification: %s", got)
		}
		waitFor(t, func() bool {
			p = propagationOf(env.admin, "kv", "sql-pass")
			return p["reachedAt"] != nil && p["source"] == "notification"
		})
	})
}
