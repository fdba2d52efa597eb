package main

import (
	"bufio"
	"errors"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"
)

// The test binary doubles as credflow when this variable is set, so the
// tests below drive the real main: streams, signals and exit codes.
const asCredflow = "CREDFLOW_TEST_RUN_MAIN"

func TestMain(m *testing.M) {
	if os.Getenv(asCredflow) == "1" {
		main()
		return
	}
	os.Exit(m.Run())
}

func credflow(t *testing.T, args ...string) *exec.Cmd {
	t.Helper()
	cmd := exec.Command(os.Args[0], args...)
	cmd.Env = append(os.Environ(), asCredflow+"=1", "CREDFLOW_ADDR=", "CREDFLOW_TOKEN=")
	return cmd
}

func TestExitCodes(t *testing.T) {
	for _, tc := range []struct {
		name       string
		args       []string
		wantCode   int
		wantStdout string
		wantStderr string
	}{
		{"version", []string{"version"}, 0, "credflow dev\n", ""},
		{"usage", []string{"env", "get"}, 2, "", "Error: credflow env get wants 1 argument(s) (ID), got 0\nRun 'credflow env get --help' for usage.\n"},
		{"server unreachable", []string{"--addr", "127.0.0.1:1", "--token", "t", "store", "list"}, 1, "", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cmd := credflow(t, tc.args...)
			var stdout, stderr strings.Builder
			cmd.Stdout, cmd.Stderr = &stdout, &stderr
			err := cmd.Run()
			code := 0
			var ee *exec.ExitError
			if errors.As(err, &ee) {
				code = ee.ExitCode()
			} else if err != nil {
				t.Fatal(err)
			}
			if code != tc.wantCode || stdout.String() != tc.wantStdout || (tc.wantStderr != "" && stderr.String() != tc.wantStderr) {
				t.Errorf("exit %d, stdout %q, stderr %q; want %d, %q, %q", code, stdout.String(), stderr.String(), tc.wantCode, tc.wantStdout, tc.wantStderr)
			}
		})
	}
}

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
