package httpapi_test

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/credflow/credflow/internal/config"
	"github.com/credflow/credflow/internal/metadb/metadbtest"
	"github.com/credflow/credflow/internal/secretstore/cache"
	"github.com/credflow/credflow/internal/server/servertest"
)

// logLines decodes the server's JSON log lines. The first start's
// announcement of the admin token, on the same stream, is not a log line
// and is left out.
func logLines(t *testing.T, log string) []map[string]any {
	t.Helper()
	var out []map[string]any
	for _, l := range strings.Split(strings.TrimSpace(log), "\n") {
		if !strings.HasPrefix(l, "{") {
			continue
		}
		var m map[string]any
		if err := json.Unmarshal([]byte(l), &m); err != nil {
			t.Fatalf("log line is not JSON: %q", l)
		}
		out = append(out, m)
	}
	return out
}

func TestLogs(t *testing.T) {
	e := metadbtest.Engines(t)[0] // logging does not depend on the engine
	t.Run("a request's lines carry its id, and no token or secret", func(t *testing.T) {
		env := startRuntime(t, e, cache.Options{TTL: time.Minute})
		if r := env.runner.do("POST", "/api/v1/connections/sql-build/resolve", nil, "X-Request-Id", "resolve-1"); r.status != 200 {
			t.Fatalf("resolve: %d %s", r.status, r.raw)
		}
		bogus := "cf_bogus-token-value-1234567890"
		r := api{t: t, base: env.inst.URL, token: bogus}.do("GET", "/api/v1/credentials", nil, "X-Request-Id", "denied-1")
		if r.status != 401 || r.header.Get("X-Request-Id") != "denied-1" {
			t.Fatalf("answer %d with X-Request-Id %q", r.status, r.header.Get("X-Request-Id"))
		}
		var lines []string
		for _, l := range strings.Split(env.inst.Log(), "\n") {
			if strings.HasPrefix(l, "{") {
				lines = append(lines, l)
			}
		}
		log := strings.Join(lines, "\n")
		var deniedLines []string
		for _, m := range logLines(t, log) {
			if m["requestId"] == "denied-1" {
				deniedLines = append(deniedLines, m["msg"].(string))
			}
			if m["msg"] == "request" && m["requestId"] == nil {
				t.Errorf("an access line without a request id: %v", m)
			}
		}
		// The refusal's reason and the access line, both under the id.
		if strings.Join(deniedLines, ",") != "authentication failed,request" {
			t.Errorf("lines of request denied-1: %q\n%s", deniedLines, log)
		}
		if !strings.Contains(log, `"requestId":"resolve-1"`) {
			t.Errorf("no line of the resolve:\n%s", log)
		}
		for _, secret := range []string{"first-password-value", bogus, env.runner.token, env.admin.token, env.maker.token} {
			if strings.Contains(log, secret) {
				t.Errorf("the log holds a token or secret value %q", secret)
			}
		}
	})
	t.Run("level filter, text format and access log off", func(t *testing.T) {
		inst := servertest.Start(t, e, func(c *config.Config) {
			c.LogFormat, c.LogLevel, c.AccessLog = "text", "warn", false
		})
		a := api{t: t, base: inst.URL, token: inst.AdminToken}
		a.must(200, "GET", "/api/v1/credentials", nil)
		api{t: t, base: inst.URL, token: "cf_wrong"}.do("GET", "/api/v1/credentials", nil, "X-Request-Id", "quiet-1")
		log := inst.Log()
		if strings.Contains(log, "msg=request") || strings.Contains(log, "quiet-1") || strings.Contains(log, "level=INFO") {
			t.Errorf("info lines at level warn, or an access line with the access log off:\n%s", log)
		}
		if strings.Contains(log, `{"time"`) {
			t.Errorf("JSON lines in the text format:\n%s", log)
		}
	})
	t.Run("text format", func(t *testing.T) {
		inst := servertest.Start(t, e, func(c *config.Config) { c.LogFormat = "text" })
		api{t: t, base: inst.URL}.do("GET", "/healthz", nil, "X-Request-Id", "text-1")
		if log := inst.Log(); !strings.Contains(log, "msg=request") || !strings.Contains(log, "requestId=text-1") {
			t.Errorf("no text access line of text-1:\n%s", log)
		}
	})
	t.Run("debug level and access log on", func(t *testing.T) {
		inst := servertest.Start(t, e, func(c *config.Config) { c.LogLevel = "debug" })
		api{t: t, base: inst.URL}.do("GET", "/healthz", nil, "X-Request-Id", "health-1")
		found := false
		for _, m := range logLines(t, inst.Log()) {
			if m["msg"] == "request" && m["requestId"] == "health-1" && m["path"] == "/healthz" && m["status"] == float64(200) {
				found = true
			}
		}
		if !found {
			t.Errorf("no access line of health-1:\n%s", inst.Log())
		}
	})
}
