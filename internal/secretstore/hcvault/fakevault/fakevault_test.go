package fakevault_test

import (
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/credflow/credflow/internal/secretstore/hcvault/fakevault"
)

// call sends one request and returns the status and the decoded body.
func call(t *testing.T, ts *fakevault.TestServer, method, path, token, body string) (int, map[string]any) {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), method, ts.URL+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("X-Vault-Token", token)
	}
	resp, err := ts.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatalf("%s %s: not JSON: %s", method, path, b)
	}
	return resp.StatusCode, m
}

func TestWireFormat(t *testing.T) {
	ts := fakevault.Start(t, fakevault.Options{})
	tok := ts.CreateToken(fakevault.TokenSpec{TTL: time.Hour, Renewable: true, Policies: []string{"default"}})
	ts.Put("app/db", map[string]string{"password": "one"})
	ts.Put("app/db", map[string]string{"password": "two"})
	ts.DeleteVersion("app/db", 1)
	ts.Put("app/locked", map[string]string{"password": "x"})
	ts.Deny("app/locked")

	for _, tc := range []struct {
		name, method, path, token, body string
		status                          int
		check                           func(t *testing.T, m map[string]any)
	}{
		{"latest", "GET", "/v1/secret/data/app/db", tok, "", 200, func(t *testing.T, m map[string]any) {
			d := m["data"].(map[string]any)
			if d["data"].(map[string]any)["password"] != "two" || d["metadata"].(map[string]any)["version"] != float64(2) {
				t.Errorf("body %v", m)
			}
		}},
		{"deleted version", "GET", "/v1/secret/data/app/db?version=1", tok, "", 404, func(t *testing.T, m map[string]any) {
			d := m["data"].(map[string]any)
			if d["data"] != nil || d["metadata"].(map[string]any)["deletion_time"] == "" {
				t.Errorf("body %v", m)
			}
		}},
		{"missing path", "GET", "/v1/secret/data/app/none", tok, "", 404, func(t *testing.T, m map[string]any) {
			if e, ok := m["errors"].([]any); !ok || len(e) != 0 {
				t.Errorf("body %v", m)
			}
		}},
		{"denied", "GET", "/v1/secret/data/app/locked", tok, "", 403, func(t *testing.T, m map[string]any) {
			if m["errors"].([]any)[0] != "1 error occurred:\n\t* permission denied\n\n" {
				t.Errorf("body %v", m)
			}
		}},
		{"bad token", "GET", "/v1/secret/data/app/db", "hvs.nope", "", 403, func(t *testing.T, m map[string]any) {
			if !strings.Contains(m["errors"].([]any)[0].(string), "invalid token") {
				t.Errorf("body %v", m)
			}
		}},
		{"lookup-self", "GET", "/v1/auth/token/lookup-self", tok, "", 200, func(t *testing.T, m map[string]any) {
			d := m["data"].(map[string]any)
			if d["renewable"] != true || d["ttl"].(float64) < 3500 {
				t.Errorf("body %v", m)
			}
		}},
		{"renew-self", "POST", "/v1/auth/token/renew-self", tok, `{"increment":"7200"}`, 200, func(t *testing.T, m map[string]any) {
			if m["auth"].(map[string]any)["lease_duration"].(float64) < 7100 {
				t.Errorf("body %v", m)
			}
		}},
		{"bad login", "POST", "/v1/auth/approle/login", "", `{"role_id":"r","secret_id":"s"}`, 400, func(t *testing.T, m map[string]any) {
			if m["errors"].([]any)[0] != "invalid role or secret ID" {
				t.Errorf("body %v", m)
			}
		}},
		{"no route", "GET", "/v1/other/data/x", tok, "", 404, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			st, m := call(t, ts, tc.method, tc.path, tc.token, tc.body)
			if st != tc.status {
				t.Fatalf("status %d, want %d: %v", st, tc.status, m)
			}
			if tc.check != nil {
				tc.check(t, m)
			}
		})
	}
	if ts.Calls(fakevault.Read) != 5 || !ts.SawToken(tok) {
		t.Errorf("reads %d", ts.Calls(fakevault.Read))
	}
}

func TestAppRole(t *testing.T) {
	ts := fakevault.Start(t, fakevault.Options{Namespace: "team-a", LoginTTL: time.Minute})
	role := ts.AddRole("robots", "read")
	sid := ts.NewSecretID(role)
	st, m := call(t, ts, "POST", "/v1/auth/approle/login", "", `{"role_id":"`+role+`","secret_id":"`+sid+`"}`)
	if st != 404 {
		t.Fatalf("login outside the namespace: %d %v", st, m)
	}
	req, _ := http.NewRequestWithContext(t.Context(), "POST", ts.URL+"/v1/auth/approle/login", strings.NewReader(`{"role_id":"`+role+`","secret_id":"`+sid+`"}`))
	req.Header.Set("X-Vault-Namespace", "team-a")
	resp, err := ts.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var login struct {
		Auth struct {
			ClientToken   string            `json:"client_token"`
			LeaseDuration int               `json:"lease_duration"`
			Metadata      map[string]string `json:"metadata"`
		} `json:"auth"`
	}
	_ = json.NewDecoder(resp.Body).Decode(&login)
	resp.Body.Close()
	if resp.StatusCode != 200 || login.Auth.ClientToken == "" || login.Auth.LeaseDuration != 60 || login.Auth.Metadata["role_name"] != "robots" {
		t.Fatalf("login: %d %+v", resp.StatusCode, login)
	}
	ts.RevokeSecretID(role, sid)
	req, _ = http.NewRequestWithContext(t.Context(), "POST", ts.URL+"/v1/auth/approle/login", strings.NewReader(`{"role_id":"`+role+`","secret_id":"`+sid+`"}`))
	req.Header.Set("X-Vault-Namespace", "team-a")
	resp, err = ts.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 400 || ts.Calls(fakevault.Login) != 3 {
		t.Fatalf("login with a revoked secret id: %d", resp.StatusCode)
	}
}
