package cli

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"strings"
	"sync"
	"testing"
)

// invocation is one in-process run of the credflow command line.
type invocation struct {
	env          map[string]string
	stdin        string
	inTTY        bool
	readPassword func(context.Context) ([]byte, error)
	httpClient   *http.Client
}

type result struct {
	code        int
	stdout      string
	stderr      string
	readPrompts int
}

func (in invocation) run(t *testing.T, args ...string) result {
	t.Helper()
	var out, errOut bytes.Buffer
	streams := &Streams{In: strings.NewReader(in.stdin), Out: &out, ErrOut: &errOut, InTTY: in.inTTY, ReadPassword: in.readPassword}
	f := &factory{
		streams:    streams,
		getenv:     func(k string) string { return in.env[k] },
		httpClient: in.httpClient,
	}
	code := execute(context.Background(), f, args)
	return result{code: code, stdout: out.String(), stderr: errOut.String()}
}

// recorder is a transport that sends nothing and records what would have
// been sent.
type recorder struct {
	mu   sync.Mutex
	sent []string
}

func (r *recorder) RoundTrip(req *http.Request) (*http.Response, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.sent = append(r.sent, req.Method+" "+req.URL.Path)
	return nil, errors.New("recorder: not sending")
}

func TestUsageErrorsExit2AndSendNothing(t *testing.T) {
	for _, tc := range []struct {
		name string
		args []string
		want string // in the message
	}{
		{"unknown command", []string{"bogus"}, `unknown command "bogus"`},
		{"unknown subcommand", []string{"env", "bogus"}, `unknown command "bogus" for "credflow env"`},
		{"unknown flag", []string{"env", "get", "x", "--bogus"}, "unknown flag: --bogus"},
		{"flag without value", []string{"env", "get", "x", "--addr"}, "flag needs an argument"},
		{"missing argument", []string{"env", "get"}, "wants 1 argument(s) (ID), got 0"},
		{"extra argument", []string{"credential", "delete", "a", "b"}, "got 2"},
		{"argument to a list", []string{"env", "list", "x"}, "takes no arguments"},
		{"bad output format", []string{"-o", "yaml", "env", "list"}, "--output must be table or json"},
		{"env create without flags", []string{"env", "create"}, `required flag(s) "display-name", "type" not set`},
		{"env create bad type", []string{"env", "create", "--display-name", "X", "--type", "blob"}, "--type must be text or secret"},
		{"text without value", []string{"env", "create", "--display-name", "X", "--type", "text"}, "--type text needs --value"},
		{"text with ref", []string{"env", "create", "--display-name", "X", "--type", "text", "--value", "v", "--ref", "r"}, "--store and --ref are for --type secret"},
		{"secret without ref", []string{"env", "create", "--display-name", "X", "--type", "secret", "--store", "local"}, "--type secret needs --store and --ref"},
		{"secret without store", []string{"env", "create", "--display-name", "X", "--type", "secret", "--ref", "r"}, "--type secret needs --store and --ref"},
		{"secret with value", []string{"env", "create", "--display-name", "X", "--type", "secret", "--value", "hunter2"}, "holds a reference, not a value"},
		{"list bad type", []string{"env", "list", "--type", "blob"}, "--type must be text or secret"},
		{"list negative limit", []string{"env", "list", "--limit", "-1"}, "--limit must not be negative"},
		{"list limit not a number", []string{"env", "list", "--limit", "ten"}, "invalid argument"},
		{"env update nothing", []string{"env", "update", "x"}, "nothing to update"},
		{"env update store without ref", []string{"env", "update", "x", "--store", "local"}, "missing [ref]"},
		{"env update value and ref", []string{"env", "update", "x", "--value", "v", "--store", "s", "--ref", "r"}, "none of the others can be"},
		{"credential create without variables", []string{"credential", "create", "--name", "n"}, `required flag(s) "password", "username" not set`},
		{"credential update nothing", []string{"credential", "update", "x"}, "nothing to update"},
		{"secret put without name", []string{"store", "secret", "put"}, "wants 1 argument(s) (NAME)"},
		{"secret put value as flag", []string{"store", "secret", "put", "db", "--value", "hunter2"}, "unknown flag: --value"},
		{"secret put value as argument", []string{"store", "secret", "put", "db", "hunter2"}, "got 2"},
		{"store get without name", []string{"store", "get"}, "wants 1 argument(s) (NAME)"},
		{"version with argument", []string{"version", "x"}, "takes no arguments"},
		{"serve bad addr", []string{"serve", "--addr", "nope"}, `addr "nope": want host:port`},
		{"serve half TLS", []string{"serve", "--tls-cert-file", "c.pem"}, "give both or neither"},
		{"no token", nil, "no API token: set CREDFLOW_TOKEN or pass --token"},
		{"bad server URL", []string{"--addr", "ftp://h:1", "--token", "t", "env", "list"}, "--addr"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rec := &recorder{}
			in := invocation{httpClient: &http.Client{Transport: rec}, env: map[string]string{envToken: "t"}}
			args := tc.args
			if args == nil {
				in.env = nil
				args = []string{"env", "list"}
			}
			r := in.run(t, args...)
			if r.code != exitUsage {
				t.Errorf("exit code %d, want %d; stderr:\n%s", r.code, exitUsage, r.stderr)
			}
			lines := strings.Split(strings.TrimSuffix(r.stderr, "\n"), "\n")
			if !strings.HasPrefix(lines[0], "Error: ") || !strings.Contains(r.stderr, tc.want) {
				t.Errorf("stderr = %q, want Error: ...%s...", r.stderr, tc.want)
			}
			if last := lines[len(lines)-1]; !strings.HasPrefix(last, "Run 'credflow") || !strings.HasSuffix(last, " --help' for usage.") {
				t.Errorf("last line %q: want the help hint", last)
			}
			if strings.Contains(r.stderr, "hunter2") {
				t.Errorf("stderr repeats a value: %q", r.stderr)
			}
			if r.stdout != "" {
				t.Errorf("stdout = %q, want nothing", r.stdout)
			}
			if len(rec.sent) != 0 {
				t.Errorf("sent %v", rec.sent)
			}
		})
	}
}

func TestHelpAndVersionExit0(t *testing.T) {
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"no arguments", nil, "Available Commands:"},
		{"group without subcommand", []string{"env"}, "credflow env [command]"},
		{"nested group", []string{"store", "secret"}, "put"},
		{"help flag", []string{"env", "create", "--help"}, "--display-name"},
		{"version", []string{"version"}, "credflow dev\n"},
		{"version flag", []string{"--version"}, "credflow dev\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := invocation{}.run(t, tc.args...)
			if r.code != exitOK || !strings.Contains(r.stdout, tc.want) || r.stderr != "" {
				t.Errorf("exit %d, stdout %q, stderr %q; want 0 and %q on stdout", r.code, r.stdout, r.stderr, tc.want)
			}
		})
	}
}

func TestVersionIsExact(t *testing.T) {
	r := invocation{}.run(t, "version")
	if r.stdout != "credflow dev\n" {
		t.Errorf("stdout = %q", r.stdout)
	}
}

func TestServerUnreachableExits1(t *testing.T) {
	r := invocation{env: map[string]string{envAddr: "127.0.0.1:1", envToken: "t"}}.run(t, "credential", "list")
	if r.code != exitError {
		t.Errorf("exit code %d, want %d", r.code, exitError)
	}
	if strings.Count(r.stderr, "\n") != 1 || !strings.HasPrefix(r.stderr, "Error: ") || !strings.Contains(r.stderr, "http://127.0.0.1:1/api/v1/credentials") {
		t.Errorf("stderr = %q, want one Error: line naming the URL", r.stderr)
	}
}

func TestServerAddressAndToken(t *testing.T) {
	for _, tc := range []struct {
		name     string
		env      map[string]string
		args     []string
		wantBase string
		wantTok  string
	}{
		{"defaults", map[string]string{envToken: "envtok"}, nil, "http://127.0.0.1:8080", "envtok"},
		{"environment", map[string]string{envAddr: "https://cf.example.com/", envToken: "envtok"}, nil, "https://cf.example.com", "envtok"},
		{"listen address in environment", map[string]string{envAddr: "0.0.0.0:9000", envToken: "envtok"}, nil, "http://0.0.0.0:9000", "envtok"},
		{"flags win", map[string]string{envAddr: "h:1", envToken: "envtok"}, []string{"--addr", "other:2", "--token", "flagtok"}, "http://other:2", "flagtok"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var got *http.Request
			hc := &http.Client{Transport: roundTripFunc(func(r *http.Request) (*http.Response, error) {
				got = r
				return nil, errors.New("not sending")
			})}
			invocation{env: tc.env, httpClient: hc}.run(t, append(tc.args, "store", "list")...)
			if got == nil {
				t.Fatal("nothing sent")
			}
			if u := got.URL.Scheme + "://" + got.URL.Host; u != tc.wantBase {
				t.Errorf("sent to %s, want %s", u, tc.wantBase)
			}
			if a := got.Header.Get("Authorization"); a != "Bearer "+tc.wantTok {
				t.Errorf("Authorization = %q", a)
			}
			if ua := got.Header.Get("User-Agent"); ua != "credflow-cli/dev" {
				t.Errorf("User-Agent = %q", ua)
			}
		})
	}
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }
