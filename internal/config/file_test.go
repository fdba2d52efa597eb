package config

import (
	"strings"
	"testing"
	"time"
)

func TestParseFile(t *testing.T) {
	cases := []struct {
		name    string
		yaml    string
		want    func(*Config) // the file applied over the defaults
		wantErr []string      // every line the error must hold, in order
	}{
		{name: "empty", yaml: "", want: func(*Config) {}},
		{name: "comments only", yaml: "# nothing yet\n", want: func(*Config) {}},
		{name: "every kind of value", yaml: `
addr: 0.0.0.0:8443
data-dir: /var/lib/credflow
database: postgres://credflow@db:5432/credflow?sslmode=require
master-key-file: /run/secrets/master.key
tls-cert-file: /etc/credflow/tls.crt
tls-key-file: /etc/credflow/tls.key
oidc-auto-create: false
audit-checkpoint-records: 500
audit-checkpoint-interval: 30s
max-failed-signins: 5
log-format: text
log-level: debug
access-log: false
metrics-addr: 127.0.0.1:9090
`, want: func(c *Config) {
			c.Addr, c.DataDir = "0.0.0.0:8443", "/var/lib/credflow"
			c.Database = "postgres://credflow@db:5432/credflow?sslmode=require"
			c.MasterKeyFile, c.TLSCertFile, c.TLSKeyFile = "/run/secrets/master.key", "/etc/credflow/tls.crt", "/etc/credflow/tls.key"
			c.OIDCAutoCreate, c.AuditCheckpointRecords, c.AuditCheckpointInterval = false, 500, 30*time.Second
			c.MaxFailedSignIns, c.LogFormat, c.LogLevel, c.AccessLog, c.MetricsAddr = 5, "text", "debug", false, "127.0.0.1:9090"
		}},
		{name: "unknown keys, each with its line", yaml: "addr: 127.0.0.1:1\ndatadir: x\nlog-level: info\nlisten: y\n",
			wantErr: []string{`line 2: unknown key "datadir"`, `line 4: unknown key "listen"`}},
		{name: "inline master key", yaml: "master-key: c2VjcmV0\n",
			wantErr: []string{"line 1: master-key: secrets are not written in the configuration file; use master-key-file"}},
		{name: "database password in the URL", yaml: "prefix: cf\ndatabase: postgres://credflow:hunter2@db/credflow\n",
			wantErr: []string{"line 2: database: the URL holds a password"}},
		{name: "database password as a parameter", yaml: "database: postgres://db/credflow?password=hunter2\n",
			wantErr: []string{"line 1: database: the URL holds a password"}},
		{name: "wrong types", yaml: "max-failed-signins: many\naccess-log: maybe\n",
			wantErr: []string{"line 1:", "line 2:"}},
		{name: "a list where a value goes", yaml: "addr:\n  - a\n  - b\n", wantErr: []string{"line 2: addr: want a single value"}},
		{name: "repeated key", yaml: "addr: a:1\naddr: b:2\n", wantErr: []string{`"addr" already defined`}},
		{name: "not a mapping", yaml: "- addr\n", wantErr: []string{"line 1: the file must be a mapping"}},
		{name: "not YAML", yaml: "addr: [\n", wantErr: []string{"yaml"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			f, err := ParseFile([]byte(c.yaml))
			if c.wantErr != nil {
				if err == nil {
					t.Fatalf("ParseFile accepted it: %+v", f)
				}
				msg := err.Error()
				if strings.Contains(msg, "hunter2") {
					t.Errorf("the error repeats the password: %s", msg)
				}
				lines := strings.Split(msg, "\n")
				if len(lines) < len(c.wantErr) {
					t.Fatalf("error %q: want %d problems, one per line", msg, len(c.wantErr))
				}
				for i, w := range c.wantErr {
					if !strings.Contains(lines[i], w) {
						t.Errorf("problem %d = %q, want it to contain %q", i+1, lines[i], w)
					}
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			got, want := Defaults(), Defaults()
			f.Apply(&got)
			c.want(&want)
			if got != want {
				t.Errorf("applied:\n got %+v\nwant %+v", got, want)
			}
		})
	}
}

func TestEnvironmentOverridesFile(t *testing.T) {
	f, err := ParseFile([]byte("log-level: debug\naddr: 127.0.0.1:1\naccess-log: false\n"))
	if err != nil {
		t.Fatal(err)
	}
	c := Defaults()
	f.Apply(&c)
	c.ApplyEnv(func(k string) string {
		return map[string]string{EnvLogLevel: "warn", EnvAccessLog: "true"}[k]
	})
	if c.LogLevel != "warn" || !c.AccessLog || c.Addr != "127.0.0.1:1" {
		t.Errorf("got %+v: the environment must win over the file, and the file over the defaults", c)
	}
}

func TestValidateReportsEveryProblem(t *testing.T) {
	c := Defaults()
	c.Prefix, c.LogFormat, c.LogLevel, c.MetricsAddr = "9x", "xml", "loud", "nowhere"
	err := c.Validate()
	if err == nil {
		t.Fatal("Validate accepted it")
	}
	lines := strings.Split(err.Error(), "\n")
	want := []string{`prefix "9x"`, `metrics-addr "nowhere": want host:port`, `log-format "xml": want json or text`, `log-level "loud"`}
	if len(lines) != len(want) {
		t.Fatalf("got %d problems, want %d:\n%s", len(lines), len(want), err)
	}
	for i, w := range want {
		if !strings.Contains(lines[i], w) {
			t.Errorf("problem %d = %q, want %q", i+1, lines[i], w)
		}
	}
	bad := Defaults()
	bad.ApplyEnv(func(k string) string { return map[string]string{EnvAccessLog: "sometimes"}[k] })
	if err := bad.Validate(); err == nil || !strings.Contains(err.Error(), EnvAccessLog) {
		t.Errorf("a %s that does not parse: Validate() = %v", EnvAccessLog, err)
	}
}

func TestLimits(t *testing.T) {
	f, err := ParseFile([]byte("max-request-body: 131072\ncache-max-entries: 500\nstore-call-timeout: 3s\nstore-max-calls: 8\n" +
		"event-queue: 100\nread-timeout: 5s\nwrite-timeout: 20s\nidle-timeout: 1m\nshutdown-timeout: 5s\n"))
	if err != nil {
		t.Fatal(err)
	}
	c := Defaults()
	f.Apply(&c)
	want := Limits{MaxRequestBody: 128 << 10, CacheMaxEntries: 500, StoreCallTimeout: 3 * time.Second, StoreMaxCalls: 8, EventQueue: 100,
		ReadTimeout: 5 * time.Second, WriteTimeout: 20 * time.Second, IdleTimeout: time.Minute, ShutdownTimeout: 5 * time.Second}
	if c.Limits != want {
		t.Errorf("limits from the file: %+v, want %+v", c.Limits, want)
	}
	c.ApplyEnv(func(k string) string { return map[string]string{EnvStoreMaxCalls: "16", EnvWriteTimeout: "30s"}[k] })
	if c.Limits.StoreMaxCalls != 16 || c.Limits.WriteTimeout != 30*time.Second {
		t.Errorf("limits from the environment: %+v", c.Limits)
	}
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}

	for _, tc := range []struct {
		name string
		set  func(*Limits)
		want string
	}{
		{"body too small", func(l *Limits) { l.MaxRequestBody = 1000 }, "max-request-body 1000"},
		{"body too large", func(l *Limits) { l.MaxRequestBody = 1 << 30 }, "max-request-body"},
		{"no cache", func(l *Limits) { l.CacheMaxEntries = 0 }, "cache-max-entries 0: want 1 to"},
		{"no store calls", func(l *Limits) { l.StoreMaxCalls = 0 }, "store-max-calls 0"},
		{"no event queue", func(l *Limits) { l.EventQueue = -1 }, "event-queue -1"},
		{"store call timeout", func(l *Limits) { l.StoreCallTimeout = time.Millisecond }, "store-call-timeout 1ms: want 100ms to 1h"},
		{"write timeout", func(l *Limits) { l.WriteTimeout = 2 * time.Hour }, "write-timeout 2h0m0s"},
		{"negative shutdown", func(l *Limits) { l.ShutdownTimeout = -time.Second }, "shutdown-timeout -1s"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := Defaults()
			tc.set(&c.Limits)
			if err := c.Validate(); err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("Validate() = %v, want %q", err, tc.want)
			}
		})
	}
	bad := Defaults()
	bad.ApplyEnv(func(k string) string {
		return map[string]string{EnvMaxRequestBody: "1MB", EnvIdleTimeout: "forever"}[k]
	})
	if err := bad.Validate(); err == nil || !strings.Contains(err.Error(), EnvMaxRequestBody) || !strings.Contains(err.Error(), EnvIdleTimeout) {
		t.Errorf("variables that do not parse: %v", err)
	}
}
