package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/credflow/credflow/client"
	"github.com/credflow/credflow/internal/metadb/metadbtest"
	"github.com/credflow/credflow/internal/secretstore"
	"github.com/credflow/credflow/internal/secretstore/builtin"
	"github.com/credflow/credflow/internal/server"
	"github.com/credflow/credflow/internal/server/servertest"
)

// These tests run the command line in process against the real server.

// storedValue reads a secret's latest value straight from the built-in store,
// since the API never gives one back.
func storedValue(t *testing.T, inst *servertest.Instance, name string) string {
	t.Helper()
	key, _, err := builtin.LoadOrCreateKey(inst.Config.KeyFile(), false)
	if err != nil {
		t.Fatal(err)
	}
	st, err := builtin.Open(context.Background(), inst.Server.DB().BuiltinSecrets(), key)
	if err != nil {
		t.Fatal(err)
	}
	s, err := st.Get(context.Background(), secretstore.Ref{Name: name})
	if err != nil {
		t.Fatal(err)
	}
	return s.Value.Reveal()
}

// session runs commands against one server and checks that no output ever
// shows a secret value.
type session struct {
	t       *testing.T
	inv     invocation
	secrets []string
}

func (s *session) run(in invocation, args ...string) result {
	s.t.Helper()
	if in.env == nil {
		in.env = s.inv.env
	}
	r := in.run(s.t, args...)
	for _, v := range s.secrets {
		if strings.Contains(r.stdout, v) || strings.Contains(r.stderr, v) {
			s.t.Errorf("credflow %s: output shows a secret value:\nstdout: %s\nstderr: %s", strings.Join(args, " "), r.stdout, r.stderr)
		}
	}
	return r
}

// ok runs a command that must succeed and returns its stdout.
func (s *session) ok(args ...string) string {
	s.t.Helper()
	r := s.run(invocation{}, args...)
	if r.code != exitOK {
		s.t.Fatalf("credflow %s: exit %d\nstderr: %s", strings.Join(args, " "), r.code, r.stderr)
	}
	return r.stdout
}

// fails runs a command that the server must refuse and returns its one-line
// message.
func (s *session) fails(args ...string) string {
	s.t.Helper()
	r := s.run(invocation{}, args...)
	if r.code != exitError || r.stdout != "" {
		s.t.Fatalf("credflow %s: exit %d, stdout %q; want 1 and nothing\nstderr: %s", strings.Join(args, " "), r.code, r.stdout, r.stderr)
	}
	if !strings.HasPrefix(r.stderr, "Error: ") || strings.Count(r.stderr, "\n") != 1 || !strings.HasSuffix(r.stderr, "\n") {
		s.t.Fatalf("credflow %s: stderr %q, want one Error: line", strings.Join(args, " "), r.stderr)
	}
	return strings.TrimSuffix(strings.TrimPrefix(r.stderr, "Error: "), "\n")
}

func (s *session) json(v any, args ...string) {
	s.t.Helper()
	out := s.ok(append(args, "-o", "json")...)
	if err := json.Unmarshal([]byte(out), v); err != nil {
		s.t.Fatalf("credflow %s -o json: %v\n%s", strings.Join(args, " "), err, out)
	}
}

func wantLines(t *testing.T, got string, patterns ...string) {
	t.Helper()
	lines := strings.Split(strings.TrimSuffix(got, "\n"), "\n")
	if len(lines) != len(patterns) {
		t.Fatalf("got %d lines, want %d:\n%s", len(lines), len(patterns), got)
	}
	for i, p := range patterns {
		if !regexp.MustCompile("^" + p + "$").MatchString(lines[i]) {
			t.Errorf("line %d = %q, want /%s/", i+1, lines[i], p)
		}
	}
}

func TestEndToEnd(t *testing.T) {
	const (
		typed1 = "first pa55 word"
		typed2 = "second pa55 word"
	)
	for _, e := range metadbtest.Engines(t) {
		t.Run(e.Name, func(t *testing.T) {
			inst := servertest.Start(t, e)
			u, err := url.Parse(inst.URL)
			if err != nil {
				t.Fatal(err)
			}
			// CREDFLOW_ADDR may be a listen address: host:port, no scheme.
			s := &session{t: t, inv: invocation{env: map[string]string{envAddr: u.Host, envToken: inst.AdminToken}},
				secrets: []string{typed1, typed2, "piped pa55"}}

			wantLines(t, s.ok("store", "list"), `NAME +KIND +STATUS`, `local +builtin +ready`)
			var st client.Store
			s.json(&st, "store", "get", "local")
			if st.Name != "local" || st.Kind != "builtin" || st.Status != client.StoreReady {
				t.Errorf("store get: %+v", st)
			}

			// Secret values: from stdin, less one newline; from the terminal, typed twice.
			r := s.run(invocation{stdin: "piped pa55\n"}, "store", "secret", "put", "sql-password")
			if r.code != exitOK || r.stdout != "Stored sql-password version 1 in local.\n" {
				t.Fatalf("put from stdin: exit %d, stdout %q, stderr %q", r.code, r.stdout, r.stderr)
			}
			if v := storedValue(t, inst, "sql-password"); v != "piped pa55" {
				t.Errorf("stored %q from stdin", v)
			}
			typed := []string{typed1, typed1}
			r = s.run(invocation{inTTY: true, stdin: "not read", readPassword: func(context.Context) ([]byte, error) {
				v := typed[0]
				typed = typed[1:]
				return []byte(v), nil
			}}, "store", "secret", "put", "sql-password", "--store", "local")
			if r.code != exitOK || r.stdout != "Stored sql-password version 2 in local.\n" ||
				r.stderr != "Value of sql-password: \nAgain, to confirm: \n" {
				t.Fatalf("put from terminal: exit %d, stdout %q, stderr %q", r.code, r.stdout, r.stderr)
			}
			if v := storedValue(t, inst, "sql-password"); v != typed1 {
				t.Errorf("stored %q from the terminal", v)
			}
			typed = []string{typed2, typed1}
			r = s.run(invocation{inTTY: true, readPassword: func(context.Context) ([]byte, error) {
				v := typed[0]
				typed = typed[1:]
				return []byte(v), nil
			}}, "store", "secret", "put", "sql-password")
			if r.code != exitError || !strings.Contains(r.stderr, "Error: the two values differ: nothing stored\n") {
				t.Fatalf("mismatch: exit %d, stderr %q", r.code, r.stderr)
			}
			wantLines(t, s.ok("store", "secret", "list"), `NAME +VERSION +VERSIONS +UPDATED`, `sql-password +2 +2 +\S+`)
			var secrets client.Page[client.SecretInfo]
			s.json(&secrets, "store", "secret", "list", "--store", "local")
			if len(secrets.Items) != 1 || secrets.Items[0].Versions != 2 {
				t.Errorf("secret list: %+v", secrets)
			}

			// Variables.
			out := s.ok("env", "create", "--display-name", "SQL User", "--type", "text", "--value", "app", "--description", "login")
			wantLines(t, out, `ID: +\S+`, `Schema name: +cf_SQLUser`, `Display name: +SQL User`, `Description: +login`, `Type: +text`,
				`Value: +app`, `Status: +ok`, `Owner: +\S+`, `Created: +\S+`, `Updated: +\S+`)
			var pass client.EnvironmentVariable
			s.json(&pass, "env", "create", "--display-name", "SQL Password", "--type", "secret", "--store", "local", "--ref", "sql-password")
			if pass.SchemaName != "cf_SQLPassword" || pass.SecretRef == nil || pass.SecretRef.Ref != "sql-password" {
				t.Errorf("secret variable: %+v", pass)
			}
			if msg := s.fails("env", "create", "--display-name", "Gone", "--type", "secret", "--store", "local", "--ref", "gone"); !strings.Contains(msg, `"gone"`) {
				t.Errorf("missing secret: %q", msg)
			}

			wantLines(t, s.ok("env", "list"),
				`SCHEMA NAME +DISPLAY NAME +TYPE +VALUE/REFERENCE +OWNER +STATUS`,
				`cf_SQL(User|Password) .* +ok`, `cf_SQL(User|Password) .* +ok`)
			wantLines(t, s.ok("env", "list", "--type", "secret"),
				`SCHEMA NAME +DISPLAY NAME +TYPE +VALUE/REFERENCE +OWNER +STATUS`,
				`cf_SQLPassword +SQL Password +secret +local:sql-password +\S+ +ok`)
			r = s.run(invocation{}, "env", "list", "--limit", "1")
			m := regexp.MustCompile(`^More results: run again with --cursor (\S+)\n$`).FindStringSubmatch(r.stderr)
			if r.code != exitOK || m == nil {
				t.Fatalf("first page: exit %d, stderr %q", r.code, r.stderr)
			}
			r2 := s.run(invocation{}, "env", "list", "--limit", "1", "--cursor", m[1])
			if r2.code != exitOK || r2.stdout == r.stdout || strings.Count(r2.stdout, "\n") != 2 {
				t.Errorf("second page: exit %d, stdout %q after %q", r2.code, r2.stdout, r.stdout)
			}
			var page client.Page[client.EnvironmentVariable]
			s.json(&page, "env", "list", "--type", "text")
			if len(page.Items) != 1 || page.Items[0].Value != "app" {
				t.Errorf("env list -o json: %+v", page)
			}

			var user client.EnvironmentVariable
			s.json(&user, "env", "update", "cf_SQLUser", "--description", "the app's login")
			if user.Description != "the app's login" || user.DisplayName != "SQL User" || user.Value != "app" {
				t.Errorf("env update: %+v", user)
			}
			s.json(&user, "env", "get", user.ID)
			if user.SchemaName != "cf_SQLUser" {
				t.Errorf("env get by id: %+v", user)
			}

			// Credentials, by names that need escaping.
			out = s.ok("credential", "create", "--name", "SQL prod", "--username", "cf_SQLUser", "--password", "cf_SQLPassword")
			wantLines(t, out, `ID: +\S+`, `Name: +SQL prod`, `Description: +`, `Store: +local`, `Username: +cf_SQLUser`,
				`Password: +cf_SQLPassword`, `Owner: +\S+`, `Enabled: +yes`, `Status: +ok`, `Created: +\S+`, `Updated: +\S+`)
			if msg := s.fails("credential", "create", "--name", "Bad", "--username", "cf_SQLUser", "--password", "cf_SQLUser"); msg == "" {
				t.Error("no message for a text password")
			}
			wantLines(t, s.ok("credential", "list"),
				`NAME +STORE +USERNAME +PASSWORD +OWNER +ENABLED +STATUS`, `SQL prod +local +cf_SQLUser +cf_SQLPassword +\S+ +yes +ok`)
			var cr client.Credential
			s.json(&cr, "credential", "get", "SQL prod")
			if cr.Name != "SQL prod" || !cr.Enabled {
				t.Errorf("credential get: %+v", cr)
			}
			if msg := s.fails("credential", "update", "SQL prod", "--password", "cf_SQLUser"); msg == "" {
				t.Error("no message for an immutable field")
			}
			s.json(&cr, "credential", "update", "SQL prod", "--name", "SQL prod/eu", "--description", "Europe")
			if cr.Name != "SQL prod/eu" || cr.Description != "Europe" {
				t.Errorf("credential update: %+v", cr)
			}

			wantLines(t, s.ok("env", "deps", "cf_SQLPassword"), `KIND +ID +NAME`, `credential +`+cr.ID+` +SQL prod/eu`)
			var deps client.EnvironmentVariableDependencies
			s.json(&deps, "env", "deps", "cf_SQLPassword")
			if len(deps.Credentials) != 1 || deps.Connections == nil {
				t.Errorf("env deps -o json: %+v", deps)
			}
			if out := s.ok("credential", "deps", "SQL prod/eu"); out != "Nothing depends on SQL prod/eu.\n" {
				t.Errorf("credential deps: %q", out)
			}
			if out := s.ok("credential", "deps", "SQL prod/eu", "-o", "json"); out != "{\n  \"connections\": []\n}\n" {
				t.Errorf("credential deps -o json: %q", out)
			}

			if msg := s.fails("env", "delete", "cf_SQLPassword"); !strings.Contains(msg, "SQL prod/eu") {
				t.Errorf("deleting a variable in use: %q", msg)
			}
			if out := s.ok("credential", "delete", "SQL prod/eu"); out != "Deleted credential SQL prod/eu.\n" {
				t.Errorf("credential delete: %q", out)
			}
			if out := s.ok("env", "delete", "cf_SQLPassword"); out != "Deleted environment variable cf_SQLPassword.\n" {
				t.Errorf("env delete: %q", out)
			}
			s.fails("env", "get", "cf_SQLPassword")
			if out := s.ok("store", "secret", "delete", "sql-password"); out != "Deleted secret sql-password from local.\n" {
				t.Errorf("secret delete: %q", out)
			}
			if out := s.ok("store", "secret", "list"); out != "No secrets in local.\n" {
				t.Errorf("empty secret list: %q", out)
			}
			if out := s.ok("credential", "list", "-o", "json"); out != "{\n  \"items\": []\n}\n" {
				t.Errorf("empty credential list: %q", out)
			}

			r = s.run(invocation{env: map[string]string{envAddr: inst.URL, envToken: "cft_wrong"}}, "env", "list")
			if r.code != exitError || r.stderr != "Error: A valid bearer token is required.\n" {
				t.Errorf("wrong token: exit %d, stderr %q", r.code, r.stderr)
			}
		})
	}
}

// syncBuffer collects what the server logs while the test reads it.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func TestServe(t *testing.T) {
	dir := t.TempDir()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	logs := &syncBuffer{}
	f := &factory{streams: &Streams{In: strings.NewReader(""), Out: &bytes.Buffer{}, ErrOut: logs}, getenv: func(string) string { return "" }}
	done := make(chan int, 1)
	go func() { done <- execute(ctx, f, []string{"serve", "--addr", "127.0.0.1:0", "--data-dir", dir}) }()

	listening := regexp.MustCompile(`"msg":"credflow listening","url":"(http://[^"]+)"`)
	var serverURL string
	for deadline := time.Now().Add(10 * time.Second); serverURL == ""; time.Sleep(20 * time.Millisecond) {
		if m := listening.FindStringSubmatch(logs.String()); m != nil {
			serverURL = m[1]
		}
		select {
		case code := <-done:
			t.Fatalf("serve exited with %d:\n%s", code, logs.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("serve did not start:\n%s", logs.String())
		}
	}
	token, err := os.ReadFile(filepath.Join(dir, server.InitialTokenFile))
	if err != nil {
		t.Fatal(err)
	}
	r := invocation{env: map[string]string{envAddr: serverURL, envToken: strings.TrimSpace(string(token))}}.run(t, "store", "list")
	if r.code != exitOK || !strings.Contains(r.stdout, "local") {
		t.Errorf("store list against serve: exit %d, stdout %q, stderr %q", r.code, r.stdout, r.stderr)
	}

	cancel()
	select {
	case code := <-done:
		if code != exitOK {
			t.Errorf("serve exited with %d after cancel:\n%s", code, logs.String())
		}
	case <-time.After(20 * time.Second):
		t.Fatal("serve did not stop")
	}
}
