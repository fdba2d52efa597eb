package main

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"time"
)

// seed prepares a server for the benchmark through its API: a secret in
// the built-in store, two variables, a credential, a runner group with a
// runner, the runner's token, and a connection. It prints the runner's
// token on stdout.
func seed(args []string) int {
	fs := flag.NewFlagSet("credflow-bench seed", flag.ContinueOnError)
	addr := fs.String("addr", "http://127.0.0.1:8080", "credflow server URL")
	token := fs.String("token", os.Getenv("CREDFLOW_TOKEN"), "an admin API token (default $CREDFLOW_TOKEN)")
	name := fs.String("connection", "bench", "name of the connection to create")
	scaleN := fs.Int("scale", 0, "instead: create this many variables, half as many credentials and connections, makers in groups (-users, -groups), and shares so that the first maker sees up to 1,000 credentials; prints the maker's and a runner's tokens")
	workers := fs.Int("c", 16, "with -scale: concurrent requests")
	users := fs.Int("users", 1000, "with -scale: makers to create")
	groups := fs.Int("groups", 100, "with -scale: groups to spread them over")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	base := strings.TrimRight(*addr, "/") + "/api/v1"
	if *scaleN > 0 {
		sc, err := seedScale(apiCaller{base: base, token: *token, client: &http.Client{Timeout: time.Minute}}, *scaleN, population{Users: *users, Groups: *groups}, *workers)
		if err != nil {
			fmt.Fprintf(os.Stderr, "credflow-bench seed: %v\n", err)
			return 1
		}
		fmt.Printf("maker-token %s\nrunner-token %s\n", sc.MakerToken, sc.RunnerToken)
		return 0
	}
	call := func(method, path string, body any) (map[string]any, error) {
		var rd io.Reader
		if body != nil {
			b, _ := json.Marshal(body)
			rd = bytes.NewReader(b)
		}
		req, _ := http.NewRequest(method, base+path, rd)
		req.Header.Set("Authorization", "Bearer "+*token)
		req.Header.Set("Content-Type", "application/json")
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			return nil, err
		}
		defer res.Body.Close()
		raw, _ := io.ReadAll(res.Body)
		if res.StatusCode >= 300 {
			return nil, fmt.Errorf("%s %s: %d %s", method, path, res.StatusCode, raw)
		}
		out := map[string]any{}
		_ = json.Unmarshal(raw, &out)
		return out, nil
	}
	steps := []struct {
		method, path string
		body         any
	}{
		{"PUT", "/stores/local/secrets/" + *name + "-password", map[string]string{"value": "bench-password-value"}},
		{"POST", "/environment-variables", map[string]any{"schemaName": "cf_" + *name + "_user", "displayName": *name + " user", "type": "text", "value": "svc_" + *name}},
		{"POST", "/environment-variables", map[string]any{"schemaName": "cf_" + *name + "_password", "displayName": *name + " password", "type": "secret",
			"secretRef": map[string]string{"store": "local", "ref": *name + "-password"}}},
		{"POST", "/credentials", map[string]any{"name": *name, "username": "cf_" + *name + "_user", "password": "cf_" + *name + "_password"}},
		{"POST", "/runner-groups", map[string]any{"name": *name + "-runners"}},
		{"POST", "/users", map[string]any{"name": *name + "-runner", "role": "runner", "runnerGroup": *name + "-runners"}},
		{"POST", "/connections", map[string]any{"name": *name, "credential": *name, "runnerGroup": *name + "-runners"}},
	}
	for _, s := range steps {
		if _, err := call(s.method, s.path, s.body); err != nil {
			fmt.Fprintf(os.Stderr, "credflow-bench seed: %v\n", err)
			return 1
		}
	}
	tok, err := call("POST", "/tokens", map[string]any{"name": "bench", "user": *name + "-runner"})
	if err != nil {
		fmt.Fprintf(os.Stderr, "credflow-bench seed: %v\n", err)
		return 1
	}
	fmt.Println(tok["token"])
	return 0
}
