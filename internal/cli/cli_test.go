package cli

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"os"
	"strings"
	"sync"
	"testing"

	buildversion "github.com/credflow/credflow/internal/version"
)

// invocation is one in-process run of the credflow command line.
type invocation struct {
	env          map[string]string
	stdin        string
	inTTY        bool
	outTTY       bool
	readPassword func(context.Context) ([]byte, error)
	httpClient   *http.Client
}

// environ is the environment a command `credflow run` starts inherits: the
// invocation's variables and the test process's PATH.
func (in invocation) environ() []string {
	env := []string{"PATH=" + os.Getenv("PATH")}
	for k, v := range in.env {
		env = append(env, k+"="+v)
	}
	return env
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
	streams := &Streams{In: strings.NewReader(in.stdin), Out: &out, ErrOut: &errOut, InTTY: in.inTTY, OutTTY: in.outTTY, ReadPassword: in.readPassword}
	f := &factory{
		streams:    streams,
		getenv:     func(k string) string { return in.env[k] },
		environ:    in.environ,
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
		{"backup without file", []string{"admin", "backup"}, "wants 1 argument(s) (FILE)"},
		{"backup verify without key", []string{"admin", "backup", "verify", "b.tar"}, "--master-key-file is required"},
		{"restore without data dir", []string{"admin", "restore", "b.tar"}, "--data-dir is required"},
		{"rotate without key file", []string{"admin", "rotate-master-key"}, "--new-key-file is required"},
		{"rotate negative batch", []string{"admin", "rotate-master-key", "--new-key-file", "k", "--batch-size", "-1"}, "--batch-size must be positive"},
		{"archive without date", []string{"audit", "archive", "--out", "a.jsonl"}, "--before and --out are both required"},
		{"archive without file", []string{"audit", "archive", "--before", "2026-01-01"}, "--before and --out are both required"},
		{"verify full and archive", []string{"audit", "verify", "--full", "--archive", "a.jsonl"}, "none of the others can be"},
		{"secret put value as flag", []string{"store", "secret", "put", "db", "--value", "hunter2"}, "unknown flag: --value"},
		{"secret put value as argument", []string{"store", "secret", "put", "db", "hunter2"}, "got 2"},
		{"store get without name", []string{"store", "get"}, "wants 1 argument(s) (NAME)"},
		{"store add without kind", []string{"store", "add", "kv"}, `required flag(s) "kind" not set`},
		{"store add settings twice", []string{"store", "add", "kv", "--kind", "azure-keyvault", "--settings", "{}", "--settings-file", "kv.json"}, "none of the others can be"},
		{"store add Key Vault flags and settings", []string{"store", "add", "kv", "--kind", "azure-keyvault", "--settings", "{}", "--tenant-id", "t"}, "--tenant-id builds the settings"},
		{"store add Key Vault flags for another kind", []string{"store", "add", "cy", "--kind", "cyberark", "--vault-name", "v"}, "--vault-name is for --kind azure-keyvault"},
		{"store add bad settings", []string{"store", "add", "kv", "--kind", "azure-keyvault", "--settings", "hunter2"}, "--settings: not valid JSON"},
		{"store add bad duration", []string{"store", "add", "kv", "--kind", "azure-keyvault", "--cache-ttl", "soon"}, `invalid argument "soon" for "--cache-ttl"`},
		{"store update nothing", []string{"store", "update", "kv"}, "nothing to update"},
		{"store update settings twice", []string{"store", "update", "kv", "--settings", "{}", "--settings-file", "-"}, "none of the others can be"},
		{"store check two stores", []string{"store", "check", "a", "b"}, "wants 1 argument(s) (NAME), got 2"},
		{"store remove without name", []string{"store", "remove"}, "wants 1 argument(s) (NAME), got 0"},
		{"env create ref and secret name", []string{"env", "create", "--display-name", "X", "--type", "secret", "--store", "kv", "--ref", "r", "--secret-name", "s"}, "--ref and --secret-name both name the secret"},
		{"env create version without name", []string{"env", "create", "--display-name", "X", "--type", "secret", "--store", "kv", "--secret-version", "v1"}, "--secret-version needs --secret-name"},
		{"env create parts without store", []string{"env", "create", "--display-name", "X", "--type", "secret", "--secret-name", "s"}, "--type secret needs --store and --ref (or, for Key Vault, --secret-name)"},
		{"env create parts for text", []string{"env", "create", "--display-name", "X", "--type", "text", "--value", "v", "--vault-name", "kv"}, "--vault-name is for --type secret"},
		{"version with argument", []string{"version", "x"}, "takes no arguments"},
		{"serve bad addr", []string{"serve", "--addr", "nope"}, `addr "nope": want host:port`},
		{"serve half TLS", []string{"serve", "--tls-cert-file", "c.pem"}, "give both or neither"},
		{"user create without role", []string{"user", "create", "bob"}, `required flag(s) "role" not set`},
		{"user create bad role", []string{"user", "create", "bob", "--role", "boss"}, "--role must be admin, maker or runner"},
		{"user create runner group for a maker", []string{"user", "create", "bob", "--role", "maker", "--runner-group", "g"}, "--runner-group is only for --role runner"},
		{"user update nothing", []string{"user", "update", "bob"}, "nothing to update"},
		{"user update bad role", []string{"user", "update", "bob", "--role", "root"}, "--role must be admin, maker or runner"},
		{"group add-member one argument", []string{"group", "add-member", "dba"}, "wants 2 argument(s) (GROUP USER), got 1"},
		{"token create without name", []string{"token", "create"}, `required flag(s) "name" not set`},
		{"token create bad lifetime", []string{"token", "create", "--name", "n", "--expires-in", "soon"}, `--expires-in: "soon": want a duration`},
		{"token create negative lifetime", []string{"token", "create", "--name", "n", "--expires-in", "-1h"}, "must be positive"},
		{"token create bad expiry", []string{"token", "create", "--name", "n", "--expires-at", "tomorrow"}, "--expires-at \"tomorrow\": want an RFC 3339 time"},
		{"token create both expiries", []string{"token", "create", "--name", "n", "--expires-in", "1h", "--expires-at", "2030-01-01T00:00:00Z"}, "none of the others can be"},
		{"token list user and all", []string{"token", "list", "--user", "bob", "--all"}, "none of the others can be"},
		{"credential share without role", []string{"credential", "share", "SQL", "user:bob"}, `required flag(s) "role" not set`},
		{"credential share bad role", []string{"credential", "share", "SQL", "user:bob", "--role", "reader"}, "--role must be owner, co-owner, user-share or user"},
		{"credential share bad expiry", []string{"credential", "share", "SQL", "user:bob", "--role", "user", "--expires-at", "never"}, "--expires-at"},
		{"credential share without principal", []string{"credential", "share", "SQL", "--role", "user"}, "wants 2 argument(s) (ID PRINCIPAL), got 1"},
		{"env unshare without principal", []string{"env", "unshare", "cf_X"}, "wants 2 argument(s) (ID PRINCIPAL), got 1"},
		{"store grant without principal", []string{"store", "grant", "local"}, "wants 2 argument(s) (STORE PRINCIPAL), got 1"},
		{"audit list bad from", []string{"audit", "list", "--from", "yesterday"}, "--from \"yesterday\": want an RFC 3339 time"},
		{"audit list negative limit", []string{"audit", "list", "--limit", "-5"}, "--limit must not be negative"},
		{"audit verify with argument", []string{"audit", "verify", "x"}, "takes no arguments"},
		{"group list negative limit", []string{"group", "list", "--limit", "-1"}, "--limit must not be negative"},
		{"user list with argument", []string{"user", "list", "bob"}, "takes no arguments"},
		{"runner-group get without name", []string{"runner-group", "get"}, "wants 1 argument(s) (NAME), got 0"},
		{"token revoke two ids", []string{"token", "revoke", "a", "b"}, "wants 1 argument(s) (ID), got 2"},
		{"connection runners without id", []string{"connection", "runners"}, "wants 1 argument(s) (ID), got 0"},
		{"serve half OIDC", []string{"serve", "--oidc-issuer", "https://idp.example.com"}, "oidc-issuer and oidc-audience: give both or neither"},
		{"serve OIDC redirect elsewhere", []string{"serve", "--oidc-redirect-url", "https://credflow.example.com/login"}, "oidc-redirect-url \"https://credflow.example.com/login\": want the absolute URL of credflow's /signin/oidc/callback"},
		{"connection create without flags", []string{"connection", "create"}, `required flag(s) "credential", "name", "runner-group" not set`},
		{"connection resolve without name", []string{"connection", "resolve"}, "wants 1 argument(s) (NAME)"},
		{"run without connection", []string{"run", "--", "true"}, `required flag(s) "connection" not set`},
		{"run without command", []string{"run", "--connection", "c"}, "wants a COMMAND to run, after --"},
		{"run without command after dashes", []string{"run", "--connection", "c", "--"}, "wants a COMMAND to run, after --"},
		{"run bad variable name", []string{"run", "--connection", "c", "--password-env", "1PASS", "--", "true"}, `--password-env "1PASS": want a variable name`},
		{"run same variable twice", []string{"run", "--connection", "c", "--username-env", "X", "--password-env", "X", "--", "true"}, "must differ"},
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
		{"run help", []string{"run", "--help"}, "--password-env"},
		{"resolve help", []string{"connection", "resolve", "--help"}, "--reveal"},
		{"help flag", []string{"env", "create", "--help"}, "--display-name"},
		{"version", []string{"version"}, "credflow " + buildversion.String() + "\n"},
		{"version flag", []string{"--version"}, "credflow " + buildversion.String() + "\n"},
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
	if r.stdout != "credflow "+buildversion.String()+"\n" {
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
			if ua := got.Header.Get("User-Agent"); ua != "credflow-cli/"+buildversion.Short() {
				t.Errorf("User-Agent = %q", ua)
			}
		})
	}
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }
