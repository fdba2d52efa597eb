package cli

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/credflow/credflow/client"
	"github.com/credflow/credflow/internal/metadb/metadbtest"
	"github.com/credflow/credflow/internal/server/servertest"
)

// The values a runner receives in these tests; no output and no server log
// line may contain them.
const (
	runtimePassword = "rt-Pa55 w0rd'\"$x"
	runtimeUsername = "svc_reports_user"
)

// runtimeSetup has an admin create runner group "build", runner build-01 in
// it with a token, a credential over a local secret, and connection
// "sql-build" of that credential for "build". It returns the admin's and the
// runner's sessions.
func runtimeSetup(t *testing.T, inst *servertest.Instance) (admin, runner *session) {
	t.Helper()
	secrets := []string{runtimePassword, runtimeUsername}
	admin = &session{t: t, inv: invocation{env: map[string]string{envAddr: inst.URL, envToken: inst.AdminToken}}, secrets: secrets}

	wantLines(t, admin.ok("runner-group", "create", "build"), `ID: +\S+`, `Name: +build`, `Created: +\S+`)
	wantLines(t, admin.ok("runner-group", "list"), `NAME +ID +CREATED`, `build +\S+ +\S+`)
	var rg client.RunnerGroup
	admin.json(&rg, "runner-group", "get", "build")
	if rg.Name != "build" || rg.ID == "" {
		t.Errorf("runner-group get: %+v", rg)
	}
	var u client.User
	admin.json(&u, "user", "create", "build-01", "--role", "runner", "--runner-group", "build")
	if u.Role != client.RoleRunner || u.RunnerGroup != "build" {
		t.Errorf("runner: %+v (does the server return runnerGroup?)", u)
	}
	token, _ := newToken(admin, "--name", "machine", "--user", "build-01")
	runner = admin.as(token)
	runner.secrets = append(runner.secrets, token)
	admin.secrets = append(admin.secrets, token)

	if r := admin.run(invocation{stdin: runtimePassword}, "store", "secret", "put", "sql-password"); r.code != exitOK {
		t.Fatalf("secret put: %s", r.stderr)
	}
	// The username is a text variable, so env create shows it: use the
	// client directly to keep it out of every output this test checks.
	c, err := client.New(inst.URL, inst.AdminToken)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.CreateEnvironmentVariable(t.Context(), client.CreateEnvironmentVariableRequest{
		SchemaName: "cf_SQLUser", DisplayName: "SQL User", Type: client.TypeText, Value: runtimeUsername}); err != nil {
		t.Fatal(err)
	}
	admin.ok("env", "create", "--display-name", "SQL Password", "--type", "secret", "--store", "local", "--ref", "sql-password")
	admin.ok("credential", "create", "--name", "SQL", "--username", "cf_SQLUser", "--password", "cf_SQLPassword")
	wantLines(t, admin.ok("connection", "create", "--name", "sql-build", "--credential", "SQL", "--runner-group", "build"),
		`ID: +\S+`, `Name: +sql-build`, `Credential: +SQL`, `Runner group: +build`, `Owner: +admin`, `Status: +\S+`,
		`Last error: *`, `Last error at: *`, `Last resolved: *`, `Secret version: *`, `Created: +\S+`, `Updated: +\S+`)
	return admin, runner
}

func TestRuntimeEndToEnd(t *testing.T) {
	for _, e := range metadbtest.Engines(t) {
		t.Run(e.Name, func(t *testing.T) {
			inst := servertest.Start(t, e)
			admin, runner := runtimeSetup(t, inst)

			// The command gets the values in its environment, and exits with its own code.
			check := `test "$CREDFLOW_PASSWORD" = "$WANT_PASSWORD" && test "$CREDFLOW_USERNAME" = "$WANT_USERNAME"`
			expect := func(pass, user string) invocation {
				env := map[string]string{"WANT_PASSWORD": pass, "WANT_USERNAME": user}
				for k, v := range runner.inv.env {
					env[k] = v
				}
				return invocation{env: env}
			}
			r := runner.run(expect(runtimePassword, runtimeUsername), "run", "--connection", "sql-build", "--", "sh", "-c", check)
			if r.code != exitOK || r.stdout != "" || r.stderr != "" {
				t.Fatalf("run with the right values: exit %d, stdout %q, stderr %q", r.code, r.stdout, r.stderr)
			}
			r = runner.run(expect("wrong", runtimeUsername), "run", "--connection", "sql-build", "--", "sh", "-c", check)
			if r.code != 1 || r.stderr != "" {
				t.Errorf("run with a wrong password expected: exit %d, stderr %q; want the command's 1 and nothing printed", r.code, r.stderr)
			}
			r = runner.run(expect(runtimePassword, "someone"), "run", "--connection", "sql-build", "--", "sh", "-c", check)
			if r.code != 1 {
				t.Errorf("run with a wrong username expected: exit %d", r.code)
			}

			// Other names; CREDFLOW_TOKEN is not passed on, the rest is.
			r = runner.run(expect(runtimePassword, runtimeUsername), "run", "--connection", "sql-build",
				"--username-env", "PGUSER", "--password-env", "PGPASSWORD", "--", "sh", "-c",
				`test "$PGPASSWORD" = "$WANT_PASSWORD" && test "$PGUSER" = "$WANT_USERNAME" && test -z "${CREDFLOW_PASSWORD+set}" && `+
					`test -z "${CREDFLOW_USERNAME+set}" && test -z "${CREDFLOW_TOKEN+set}" && test "$CREDFLOW_ADDR" = "`+inst.URL+`"`)
			if r.code != exitOK {
				t.Errorf("run with other names: exit %d, stderr %q", r.code, r.stderr)
			}

			// Exit codes, and the standard streams, pass through.
			if r := runner.run(invocation{}, "run", "--connection", "sql-build", "--", "sh", "-c", "exit 7"); r.code != 7 || r.stderr != "" {
				t.Errorf("exit 7: exit %d, stderr %q", r.code, r.stderr)
			}
			r = runner.run(invocation{stdin: "from stdin\n"}, "run", "--connection", "sql-build", "--", "sh", "-c", "cat; echo out; echo err >&2")
			if r.code != exitOK || r.stdout != "from stdin\nout\n" || r.stderr != "err\n" {
				t.Errorf("streams: exit %d, stdout %q, stderr %q", r.code, r.stdout, r.stderr)
			}
			r = runner.run(invocation{}, "run", "--connection", "sql-build", "--", "no-such-command-here")
			if r.code != exitNotFound || !strings.HasPrefix(r.stderr, "Error: ") || strings.Count(r.stderr, "\n") != 1 {
				t.Errorf("command not found: exit %d, stderr %q", r.code, r.stderr)
			}
			script := filepath.Join(t.TempDir(), "not-executable.sh")
			if err := os.WriteFile(script, []byte("#!/bin/sh\n"), 0o600); err != nil {
				t.Fatal(err)
			}
			if r := runner.run(invocation{}, "run", "--connection", "sql-build", "--", script); r.code != exitCannotRun {
				t.Errorf("command not executable: exit %d, stderr %q", r.code, r.stderr)
			}

			// A failed resolve starts nothing: one Error: line, exit 1.
			marker := filepath.Join(t.TempDir(), "started")
			if msg := runner.fails("run", "--connection", "no-such-connection", "--", "touch", marker); msg == "" {
				t.Error("no message")
			}
			if msg := admin.fails("run", "--connection", "sql-build", "--", "touch", marker); msg == "" {
				t.Error("no message for an admin, who is no runner")
			}
			if fileExists(marker) {
				t.Error("the command started after a failed resolve")
			}

			// connection resolve: JSON with the values for scripts, never to a terminal without --reveal.
			r = runner.inv.run(t, "connection", "resolve", "sql-build")
			var res struct {
				Username, Password, Credential, SecretVersion, ResolvedAt string
				Stale                                                     bool
			}
			if err := json.Unmarshal([]byte(r.stdout), &res); err != nil || r.code != exitOK {
				t.Fatalf("connection resolve: exit %d, %v\n%s%s", r.code, err, r.stdout, r.stderr)
			}
			if res.Username != runtimeUsername || res.Password != runtimePassword || res.Credential != "SQL" || res.SecretVersion != "1" ||
				res.ResolvedAt == "" || res.Stale {
				t.Errorf("connection resolve: %s", r.stdout)
			}
			tty := runner.inv
			tty.outTTY = true
			r = tty.run(t, "connection", "resolve", "sql-build")
			if r.code != exitUsage || r.stdout != "" || strings.Count(r.stderr, "\n") != 1 {
				t.Errorf("resolve to a terminal: exit %d, stdout %q, stderr %q", r.code, r.stdout, r.stderr)
			}
			r = tty.run(t, "connection", "resolve", "sql-build", "--reveal")
			if r.code != exitOK || !strings.Contains(r.stdout, `"password": "`+jsonEscape(runtimePassword)+`"`) {
				t.Errorf("resolve --reveal to a terminal: exit %d, stdout %q, stderr %q", r.code, r.stdout, r.stderr)
			}

			// What the runners received.
			wantLines(t, admin.ok("connection", "runners", "sql-build"), `RUNNER +SECRET VERSION +RESOLVED`, `build-01 +1 +\S+`)
			wantLines(t, admin.ok("connection", "list"), `NAME +CREDENTIAL +RUNNER GROUP +OWNER +STATUS +LAST ERROR`, `sql-build +SQL +build +admin +connected *`)
			var cn client.Connection
			admin.json(&cn, "connection", "get", "sql-build")
			if cn.Status != client.ConnectionConnected || cn.LastResolvedAt == nil || cn.LastSecretVersion != "1" {
				t.Errorf("connection get: %+v", cn)
			}

			// The kill switch.
			var cr client.Credential
			admin.json(&cr, "credential", "disable", "SQL")
			if cr.Enabled {
				t.Errorf("credential disable: %+v", cr)
			}
			if msg := runner.fails("run", "--connection", "sql-build", "--", "touch", marker); !strings.Contains(strings.ToLower(msg), "disabled") {
				t.Errorf("run of a disabled credential: %q", msg)
			}
			if fileExists(marker) {
				t.Error("the command started with a disabled credential")
			}
			wantLines(t, admin.ok("credential", "enable", "SQL"), `ID: +\S+`, `Name: +SQL`, `Description: *`, `Store: +local`, `Username: +cf_SQLUser`,
				`Password: +cf_SQLPassword`, `Owner: +admin`, `Enabled: +yes`, `Status: +ok`, `Created: +\S+`, `Updated: +\S+`)
			if r := runner.run(invocation{}, "run", "--connection", "sql-build", "--", "true"); r.code != exitOK {
				t.Errorf("run after enable: exit %d, stderr %q", r.code, r.stderr)
			}

			// Deleting a credential in use takes --force, and breaks the connection.
			if msg := admin.fails("credential", "delete", "SQL"); !strings.Contains(msg, "sql-build") {
				t.Errorf("delete a credential in use: %q", msg)
			}
			if out := admin.ok("credential", "delete", "SQL", "--force"); out != "Deleted credential SQL.\n" {
				t.Errorf("credential delete --force: %q", out)
			}
			admin.json(&cn, "connection", "get", "sql-build")
			if cn.Status != client.ConnectionBroken {
				t.Errorf("connection after a forced delete: %+v", cn)
			}
			runner.fails("run", "--connection", "sql-build", "--", "true")

			if msg := admin.fails("runner-group", "delete", "build"); msg == "" {
				t.Error("deleted a runner group in use")
			}
			if out := admin.ok("connection", "delete", "sql-build"); out != "Deleted connection sql-build.\n" {
				t.Errorf("connection delete: %q", out)
			}
			if out := admin.ok("connection", "list"); out != "No connections.\n" {
				t.Errorf("empty connection list: %q", out)
			}
			admin.ok("user", "delete", "build-01")
			if out := admin.ok("runner-group", "delete", "build"); out != "Deleted runner group build.\n" {
				t.Errorf("runner-group delete: %q", out)
			}

			log := inst.Log()
			if !strings.Contains(log, "/api/v1/connections/sql-build/resolve") {
				t.Errorf("the server log shows no resolve: is it the right log?\n%s", log)
			}
			for _, v := range []string{runtimePassword, runtimeUsername} {
				if strings.Contains(log, v) {
					t.Errorf("the server log contains the value %q", v)
				}
			}
		})
	}
}

func jsonEscape(s string) string {
	b, _ := json.Marshal(s)
	return string(b[1 : len(b)-1])
}

// TestSecretBytesReachTheCommandExactly: a value that is not UTF-8 text,
// written with store secret put, reaches the command of credflow run byte
// for byte; one that holds a NUL, which no environment variable can carry,
// starts nothing.
func TestSecretBytesReachTheCommandExactly(t *testing.T) {
	for _, e := range metadbtest.Engines(t) {
		t.Run(e.Name, func(t *testing.T) {
			inst := servertest.Start(t, e)
			admin, runner := runtimeSetup(t, inst)
			const binary = "pa\xffss\xfe\x80word\xc3("
			if r := admin.run(invocation{stdin: binary + "\n"}, "store", "secret", "put", "sql-password"); r.code != exitOK {
				t.Fatalf("secret put: exit %d, %s", r.code, r.stderr)
			}
			out := filepath.Join(t.TempDir(), "password")
			r := runner.run(invocation{}, "run", "--connection", "sql-build", "--", "sh", "-c", `printf '%s' "$CREDFLOW_PASSWORD" > "$0"`, out)
			if r.code != exitOK {
				t.Fatalf("run: exit %d, stderr %q", r.code, r.stderr)
			}
			got, err := os.ReadFile(out)
			if err != nil {
				t.Fatal(err)
			}
			if string(got) != binary {
				t.Errorf("the command got %q, want %q", got, binary)
			}

			if r := admin.run(invocation{stdin: "a\x00b"}, "store", "secret", "put", "sql-password"); r.code != exitOK {
				t.Fatalf("secret put with NUL: exit %d, %s", r.code, r.stderr)
			}
			marker := filepath.Join(t.TempDir(), "started")
			r = runner.run(invocation{}, "run", "--connection", "sql-build", "--", "touch", marker)
			if r.code != 1 || !strings.Contains(r.stderr, "NUL") {
				t.Errorf("run with a NUL in the password: exit %d, stderr %q", r.code, r.stderr)
			}
			if _, err := os.Stat(marker); err == nil {
				t.Error("the command started")
			}
		})
	}
}
