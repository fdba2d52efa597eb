//go:build unix

package main

import (
	"bufio"
	"context"
	"errors"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/credflow/credflow/client"
	"github.com/credflow/credflow/internal/metadb/metadbtest"
	"github.com/credflow/credflow/internal/server/servertest"
)

// The signal handling of Unix systems (Linux, macOS, the BSDs): serve stops
// gracefully on SIGINT and SIGTERM; run forwards SIGINT, SIGTERM and SIGHUP
// to its command and exits as the command did, 128 plus the signal's
// number when a signal killed it. main_windows_test.go has Windows's.

func TestServeStopsOnSignal(t *testing.T) {
	for _, sig := range []syscall.Signal{syscall.SIGINT, syscall.SIGTERM} {
		t.Run(sig.String(), func(t *testing.T) {
			cmd := credflow(t, "serve", "--addr", "127.0.0.1:0", "--data-dir", t.TempDir())
			stderr, err := cmd.StderrPipe()
			if err != nil {
				t.Fatal(err)
			}
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { _ = cmd.Process.Kill() })
			// Read stderr to its end (the process exiting) before Wait.
			listening, drained := make(chan struct{}), make(chan struct{})
			go func() {
				defer close(drained)
				sc := bufio.NewScanner(stderr)
				for sc.Scan() {
					if strings.Contains(sc.Text(), `"msg":"credflow listening"`) {
						close(listening)
						break
					}
				}
				for sc.Scan() {
				}
			}()
			select {
			case <-listening:
			case <-time.After(20 * time.Second):
				t.Fatal("serve did not start")
			}
			if err := cmd.Process.Signal(sig); err != nil {
				t.Fatal(err)
			}
			select {
			case <-drained:
			case <-time.After(20 * time.Second):
				t.Fatalf("serve did not stop on %v", sig)
			}
			if err := cmd.Wait(); err != nil {
				t.Errorf("serve after %v: %v, want exit 0", sig, err)
			}
		})
	}
}

// runnerSetup starts a server with connection "sql-build" that runner
// build-01 may resolve, and returns the server's URL and the runner's token.
func runnerSetup(t *testing.T, password string) (url, token string) {
	t.Helper()
	inst := servertest.Start(t, metadbtest.Engines(t)[0])
	c, err := client.New(inst.URL, inst.AdminToken)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	steps := []func() error{
		func() error { _, err := c.CreateRunnerGroup(ctx, "build"); return err },
		func() error {
			_, err := c.CreateUser(ctx, client.CreateUserRequest{Name: "build-01", Role: client.RoleRunner, RunnerGroup: "build"})
			return err
		},
		func() error {
			tok, err := c.CreateToken(ctx, client.CreateTokenRequest{Name: "machine", User: "build-01"})
			if err == nil {
				token = tok.Value.Reveal()
			}
			return err
		},
		func() error { _, err := c.PutSecret(ctx, "local", "sql-password", password); return err },
		func() error {
			_, err := c.CreateEnvironmentVariable(ctx, client.CreateEnvironmentVariableRequest{
				SchemaName: "cf_User", DisplayName: "User", Type: client.TypeText, Value: "svc"})
			return err
		},
		func() error {
			_, err := c.CreateEnvironmentVariable(ctx, client.CreateEnvironmentVariableRequest{
				SchemaName: "cf_Pass", DisplayName: "Pass", Type: client.TypeSecret, SecretRef: &client.SecretRef{Store: "local", Ref: "sql-password"}})
			return err
		},
		func() error {
			_, err := c.CreateCredential(ctx, client.CreateCredentialRequest{Name: "SQL", Username: "cf_User", Password: "cf_Pass"})
			return err
		},
		func() error {
			_, err := c.CreateConnection(ctx, client.CreateConnectionRequest{Name: "sql-build", Credential: "SQL", RunnerGroup: "build"})
			return err
		},
	}
	for _, step := range steps {
		if err := step(); err != nil {
			t.Fatal(err)
		}
	}
	return inst.URL, token
}

func TestRunForwardsSignals(t *testing.T) {
	const password = "signal-test-pa55word"
	url, token := runnerSetup(t, password)
	const trapping = `trap 'exit 42' TERM INT HUP; echo ready; while :; do sleep 0.1; done`
	for _, tc := range []struct {
		name     string
		sig      syscall.Signal
		script   string
		wantCode int
	}{
		{"TERM trapped", syscall.SIGTERM, trapping, 42},
		{"INT trapped", syscall.SIGINT, trapping, 42},
		{"HUP trapped", syscall.SIGHUP, trapping, 42},
		// The command dies of the signal: 128 + 15, as shells say.
		{"TERM kills", syscall.SIGTERM, `echo ready; exec sleep 30`, 128 + int(syscall.SIGTERM)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cmd := credflow(t, "run", "--connection", "sql-build", "--", "sh", "-c", tc.script)
			cmd.Env = append(cmd.Env, "CREDFLOW_ADDR="+url, "CREDFLOW_TOKEN="+token)
			stdout, err := cmd.StdoutPipe()
			if err != nil {
				t.Fatal(err)
			}
			var stderr strings.Builder
			cmd.Stderr = &stderr
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { _ = cmd.Process.Kill() })
			ready, drained := make(chan struct{}), make(chan string)
			go func() {
				var out strings.Builder
				sc := bufio.NewScanner(stdout)
				for sc.Scan() {
					out.WriteString(sc.Text() + "\n")
					if sc.Text() == "ready" {
						close(ready)
					}
				}
				drained <- out.String()
			}()
			select {
			case <-ready:
			case <-time.After(20 * time.Second):
				t.Fatalf("the command did not start; stderr %q", stderr.String())
			}
			// Only credflow is signalled: the command hears of it through credflow.
			if err := cmd.Process.Signal(tc.sig); err != nil {
				t.Fatal(err)
			}
			var out string
			select {
			case out = <-drained:
			case <-time.After(20 * time.Second):
				t.Fatalf("no exit after %v", tc.sig)
			}
			err = cmd.Wait()
			code := 0
			var ee *exec.ExitError
			if errors.As(err, &ee) {
				code = ee.ExitCode()
			} else if err != nil {
				t.Fatal(err)
			}
			if code != tc.wantCode || out != "ready\n" || stderr.String() != "" {
				t.Errorf("exit %d, stdout %q, stderr %q; want %d, ready, nothing", code, out, stderr.String(), tc.wantCode)
			}
			if strings.Contains(out+stderr.String(), password) {
				t.Error("credflow printed the password")
			}
		})
	}
}
