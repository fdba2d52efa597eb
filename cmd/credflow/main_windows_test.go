//go:build windows

package main

import (
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// Windows has no signals to forward: Ctrl-C and Ctrl-Break reach every
// process of the console, the command included, so `credflow run` only
// waits for its command and exits with its exit code. These tests check that
// against a fake server that answers the resolve; main_unix_test.go has the
// signal tests of Unix systems.

const fakePassword = "windows-pa55word"

// fakeResolver answers POST /api/v1/connections/sql-build/resolve to the
// bearer "runner-token", as the API does.
func fakeResolver(t *testing.T) string {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost || r.URL.Path != "/api/v1/connections/sql-build/resolve" ||
			r.Header.Get("Authorization") != "Bearer runner-token" {
			w.Header().Set("Content-Type", "application/problem+json")
			w.WriteHeader(http.StatusNotFound)
			_, _ = w.Write([]byte(`{"type":"urn:credflow:problem:not_found","title":"Not Found","status":404,"detail":"No such connection.","code":"not_found","requestId":"r"}`))
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]any{"username": "svc", "password": fakePassword, "credential": "SQL",
			"secretVersion": "1", "resolvedAt": time.Now().UTC(), "stale": false})
	}))
	t.Cleanup(srv.Close)
	return srv.URL
}

func TestRunExitCodesOnWindows(t *testing.T) {
	url := fakeResolver(t)
	for _, tc := range []struct {
		name     string
		command  []string
		wantCode int
	}{
		{"the command's code", []string{"cmd", "/c", "exit 7"}, 7},
		{"success", []string{"cmd", "/c", "exit 0"}, 0},
		{"the values in the environment", []string{"cmd", "/c", `if "%CREDFLOW_PASSWORD%"=="` + fakePassword + `" (if "%CREDFLOW_USERNAME%"=="svc" exit 0)` + " & exit 9"}, 0},
		{"no token in the environment", []string{"cmd", "/c", `if defined CREDFLOW_TOKEN (exit 9) else (exit 0)`}, 0},
		{"not found", []string{"no-such-command-credflow-test"}, 127},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cmd := credflow(t, append([]string{"run", "--connection", "sql-build", "--"}, tc.command...)...)
			cmd.Env = append(cmd.Env, "CREDFLOW_ADDR="+url, "CREDFLOW_TOKEN=runner-token")
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
			if code != tc.wantCode {
				t.Errorf("exit %d, want %d; stdout %q stderr %q", code, tc.wantCode, stdout.String(), stderr.String())
			}
			if strings.Contains(stdout.String()+stderr.String(), fakePassword) {
				t.Error("credflow printed the password")
			}
		})
	}
	t.Run("a refused resolve starts nothing", func(t *testing.T) {
		cmd := credflow(t, "run", "--connection", "other", "--", "cmd", "/c", "exit 0")
		cmd.Env = append(cmd.Env, "CREDFLOW_ADDR="+url, "CREDFLOW_TOKEN=runner-token")
		err := cmd.Run()
		var ee *exec.ExitError
		if !errors.As(err, &ee) || ee.ExitCode() != 1 {
			t.Errorf("exit %v, want 1", err)
		}
	})
}
