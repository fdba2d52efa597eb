package cli

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/spf13/pflag"

	"github.com/credflow/credflow/internal/config"
)

func writeConfig(t *testing.T, content string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "credflow.yaml")
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestConfigCheck(t *testing.T) {
	for _, tc := range []struct {
		name     string
		content  string
		wantCode int
		wantOut  string
		wantErr  []string // each on a line of its own
	}{
		{name: "valid", content: "addr: 127.0.0.1:8080\nlog-format: text\naccess-log: false\n", wantOut: ": ok"},
		{name: "unknown keys and a bad value", content: "addr: 127.0.0.1:8080\nlogformat: text\nlog-level: loud\nport: 80\n", wantCode: exitError,
			wantErr: []string{`line 2: unknown key "logformat"`, `line 4: unknown key "port"`, "Error: ", "2 problems"}},
		{name: "settings that do not go together", content: "log-level: loud\ntls-cert-file: /etc/tls.crt\n", wantCode: exitError,
			wantErr: []string{"tls-cert-file and tls-key-file: give both or neither", `log-level "loud"`, "2 problems"}},
		{name: "an inline password", content: "database: postgres://credflow:hunter2@db/credflow\n", wantCode: exitError,
			wantErr: []string{"line 1: database: the URL holds a password", "1 problem"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := writeConfig(t, tc.content)
			r := invocation{}.run(t, "config", "check", path)
			if r.code != tc.wantCode {
				t.Fatalf("exit %d, want %d; stdout %q stderr %q", r.code, tc.wantCode, r.stdout, r.stderr)
			}
			if !strings.Contains(r.stdout, tc.wantOut) {
				t.Errorf("stdout %q, want %q", r.stdout, tc.wantOut)
			}
			if strings.Contains(r.stdout+r.stderr, "hunter2") {
				t.Errorf("the password was printed: %q %q", r.stdout, r.stderr)
			}
			lines := strings.Split(strings.TrimSpace(r.stderr), "\n")
			for _, w := range tc.wantErr {
				if !slices.ContainsFunc(lines, func(l string) bool { return strings.Contains(l, w) }) {
					t.Errorf("no line of stderr holds %q:\n%s", w, r.stderr)
				}
			}
		})
	}
	t.Run("missing file", func(t *testing.T) {
		r := invocation{}.run(t, "config", "check", filepath.Join(t.TempDir(), "nope.yaml"))
		if r.code != exitError || !strings.Contains(r.stderr, "no such file") {
			t.Errorf("exit %d stderr %q", r.code, r.stderr)
		}
	})
	t.Run("no file named", func(t *testing.T) {
		if r := (invocation{}).run(t, "config", "check"); r.code != exitUsage {
			t.Errorf("exit %d stderr %q", r.code, r.stderr)
		}
	})
}

func TestServeConfigFilePrecedence(t *testing.T) {
	path := writeConfig(t, "addr: 127.0.0.1:7001\nlog-level: debug\naccess-log: false\nprefix: file\nmax-failed-signins: 7\n")
	env := map[string]string{config.EnvConfigFile: path, config.EnvLogLevel: "warn", config.EnvPrefix: "env"}
	var got *serveOptions
	cmd := newCmdServe(testFactory(env), func(o *serveOptions) error { got = o; return nil })
	if err := parse(t, cmd, "--prefix", "flag", "--metrics-addr", "127.0.0.1:9090"); err != nil {
		t.Fatal(err)
	}
	want := config.Defaults()
	want.Addr, want.AccessLog, want.MaxFailedSignIns = "127.0.0.1:7001", false, 7 // the file
	want.LogLevel = "warn"                                                        // the variable over the file
	want.Prefix, want.MetricsAddr = "flag", "127.0.0.1:9090"                      // the flags over both
	if got.Config != want {
		t.Errorf("got  %+v\nwant %+v", got.Config, want)
	}

	t.Run("a bad file stops serve before it starts", func(t *testing.T) {
		bad := writeConfig(t, "addr: 127.0.0.1:7001\nlisten: 0.0.0.0:80\n")
		r := invocation{}.run(t, "serve", "--config", bad)
		if r.code != exitUsage || !strings.Contains(r.stderr, `line 2: unknown key "listen"`) {
			t.Errorf("exit %d stderr %q", r.code, r.stderr)
		}
	})
}

// Every serve flag can be set in the file, under its own name.
func TestEveryServeFlagIsAFileKey(t *testing.T) {
	cmd := newCmdServe(testFactory(nil), nil)
	keys := config.FileKeys()
	n := 0
	cmd.Flags().VisitAll(func(f *pflag.Flag) {
		if f.Name == "config" || f.Name == "help" {
			return
		}
		n++
		if !slices.Contains(keys, f.Name) {
			t.Errorf("flag --%s has no key in the configuration file", f.Name)
		}
	})
	if n != len(keys) {
		t.Errorf("%d serve flags, %d file keys: %v", n, len(keys), keys)
	}
}
