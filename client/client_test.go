package client

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestNewBaseURL(t *testing.T) {
	for _, tc := range []struct {
		name, in, want string
		wantErr        bool
	}{
		{name: "http URL", in: "http://127.0.0.1:8080", want: "http://127.0.0.1:8080"},
		{name: "https URL with path", in: "https://credflow.example.com/cf/", want: "https://credflow.example.com/cf"},
		{name: "bare host:port", in: "127.0.0.1:8080", want: "http://127.0.0.1:8080"},
		{name: "bare name:port", in: "localhost:8080", want: "http://localhost:8080"},
		{name: "listen address of all interfaces", in: ":8080", want: "http://:8080"},
		{name: "spaces trimmed", in: " http://h:1 ", want: "http://h:1"},
		{name: "empty", in: "", wantErr: true},
		{name: "other scheme", in: "ftp://h:1", wantErr: true},
		{name: "no host", in: "http://", wantErr: true},
		{name: "query", in: "http://h:1/?a=b", wantErr: true},
		{name: "user info", in: "http://u:p@h:1", wantErr: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := New(tc.in, "t")
			if tc.wantErr {
				if err == nil {
					t.Fatalf("New(%q) = %q, want an error", tc.in, c.BaseURL())
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := c.BaseURL(); got != tc.want {
				t.Errorf("BaseURL() = %q, want %q", got, tc.want)
			}
		})
	}
}

func TestNewUserInfoErrorHidesPassword(t *testing.T) {
	_, err := New("http://user:hunter2@h:1", "t")
	if err == nil || strings.Contains(err.Error(), "hunter2") {
		t.Fatalf("err = %v: want an error without the password", err)
	}
}

// canned answers every request with one fixed response: enough to check how
// error responses are decoded. Behaviour is tested against the real server.
func canned(t *testing.T, status int, contentType, body string) *Client {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if contentType != "" {
			w.Header().Set("Content-Type", contentType)
		}
		w.Header().Set("X-Request-Id", "req-from-header")
		w.WriteHeader(status)
		_, _ = w.Write([]byte(body))
	}))
	t.Cleanup(srv.Close)
	c, err := New(srv.URL, "token")
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestErrorDecoding(t *testing.T) {
	for _, tc := range []struct {
		name        string
		status      int
		contentType string
		body        string
		want        Error
		wantMessage string
	}{
		{
			name: "problem", status: 404, contentType: "application/problem+json",
			body: `{"type":"urn:credflow:problem:not_found","title":"Not Found","status":404,"detail":"Environment variable \"x\" not found.","code":"not_found","requestId":"r1"}`,
			want: Error{Status: 404, Code: "not_found", Type: "urn:credflow:problem:not_found", Title: "Not Found",
				Detail: `Environment variable "x" not found.`, RequestID: "r1"},
			wantMessage: `Environment variable "x" not found.`,
		},
		{
			name: "validation with fields", status: 422, contentType: "application/problem+json; charset=utf-8",
			body: `{"title":"Unprocessable Entity","status":422,"code":"validation_failed","errors":[{"field":"displayName","message":"is required"},{"field":"type","message":"must be text or secret"}],"requestId":"r2"}`,
			want: Error{Status: 422, Code: "validation_failed", Title: "Unprocessable Entity", RequestID: "r2",
				Errors: []FieldError{{Field: "displayName", Message: "is required"}, {Field: "type", Message: "must be text or secret"}}},
			wantMessage: "Unprocessable Entity (displayName: is required; type: must be text or secret)",
		},
		{
			name: "throttled", status: 503, contentType: "application/problem+json",
			body: `{"title":"Service Unavailable","status":503,"detail":"Slow down.","code":"store_throttled","retryAfter":3}`,
			want: Error{Status: 503, Code: "store_throttled", Title: "Service Unavailable", Detail: "Slow down.",
				RetryAfter: 3, RequestID: "req-from-header"},
			wantMessage: "Slow down.",
		},
		{
			name: "with a hint", status: 403, contentType: "application/problem+json",
			body: `{"title":"Forbidden","status":403,"detail":"credflow may not read kv. Grant it Key Vault Secrets User.","code":"store_access_denied","hint":"Grant it Key Vault Secrets User."}`,
			want: Error{Status: 403, Code: "store_access_denied", Title: "Forbidden", Detail: "credflow may not read kv. Grant it Key Vault Secrets User.",
				Hint: "Grant it Key Vault Secrets User.", RequestID: "req-from-header"},
			wantMessage: "credflow may not read kv. Grant it Key Vault Secrets User.",
		},
		{
			name: "status line wins over body", status: 409, contentType: "application/problem+json",
			body:        `{"title":"Conflict","status":400,"detail":"Taken.","code":"name_taken"}`,
			want:        Error{Status: 409, Code: "name_taken", Title: "Conflict", Detail: "Taken.", RequestID: "req-from-header"},
			wantMessage: "Taken.",
		},
		{
			name: "plain text", status: 502, contentType: "text/plain; charset=utf-8",
			body: "upstream connect error\nmore lines",
			want: Error{Status: 502, Title: "Bad Gateway", Detail: "GET /api/v1/credentials/x: 502 upstream connect error",
				RequestID: "req-from-header"},
			wantMessage: "GET /api/v1/credentials/x: 502 upstream connect error",
		},
		{
			name: "html page", status: 504, contentType: "text/html",
			body: "<html><body>Gateway Timeout</body></html>",
			want: Error{Status: 504, Title: "Gateway Timeout", Detail: "GET /api/v1/credentials/x: unexpected 504 response (Gateway Timeout)",
				RequestID: "req-from-header"},
			wantMessage: "GET /api/v1/credentials/x: unexpected 504 response (Gateway Timeout)",
		},
		{
			name: "JSON that is not a problem", status: 500, contentType: "application/json",
			body: `{"oops":true}`,
			want: Error{Status: 500, Title: "Internal Server Error", Detail: "GET /api/v1/credentials/x: unexpected 500 response (Internal Server Error)",
				RequestID: "req-from-header"},
			wantMessage: "GET /api/v1/credentials/x: unexpected 500 response (Internal Server Error)",
		},
		{
			name: "empty body", status: 401,
			want: Error{Status: 401, Title: "Unauthorized", Detail: "GET /api/v1/credentials/x: unexpected 401 response (Unauthorized)",
				RequestID: "req-from-header"},
			wantMessage: "GET /api/v1/credentials/x: unexpected 401 response (Unauthorized)",
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := canned(t, tc.status, tc.contentType, tc.body)
			_, err := c.GetCredential(context.Background(), "x")
			var got *Error
			if !errors.As(err, &got) {
				t.Fatalf("err = %v (%T), want a *client.Error", err, err)
			}
			if got.Status != tc.want.Status || got.Code != tc.want.Code || got.Type != tc.want.Type ||
				got.Title != tc.want.Title || got.Detail != tc.want.Detail || got.RequestID != tc.want.RequestID ||
				got.RetryAfter != tc.want.RetryAfter || got.Hint != tc.want.Hint || len(got.Errors) != len(tc.want.Errors) {
				t.Fatalf("got  %+v\nwant %+v", *got, tc.want)
			}
			for i := range got.Errors {
				if got.Errors[i] != tc.want.Errors[i] {
					t.Errorf("Errors[%d] = %+v, want %+v", i, got.Errors[i], tc.want.Errors[i])
				}
			}
			if m := got.Message(); m != tc.wantMessage {
				t.Errorf("Message() = %q, want %q", m, tc.wantMessage)
			}
			if s := got.Error(); strings.Contains(s, "\n") || !strings.HasPrefix(s, "credflow: ") {
				t.Errorf("Error() = %q: want one line starting with credflow:", s)
			}
		})
	}
}

func TestErrorString(t *testing.T) {
	e := &Error{Status: 409, Code: "immutable_field", Title: "Conflict", Detail: "Update the variable instead."}
	if got, want := e.Error(), "credflow: 409 immutable_field: Update the variable instead."; got != want {
		t.Errorf("Error() = %q, want %q", got, want)
	}
	var p *Problem = e
	if p.Code != "immutable_field" {
		t.Error("Problem is not Error")
	}
}

func TestPutSecretErrorHasNoValue(t *testing.T) {
	const value = "s3cr3t-value-never-shown"
	for _, tc := range []struct {
		name, contentType, body string
	}{
		{"problem", "application/problem+json", `{"title":"Conflict","status":409,"code":"store_read_only","detail":"Store is read-only."}`},
		{"text", "text/plain", "bad request"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := canned(t, 409, tc.contentType, tc.body)
			_, err := c.PutSecret(context.Background(), "local", "db", value)
			if err == nil || strings.Contains(err.Error(), value) {
				t.Fatalf("err = %v: want an error without the value", err)
			}
		})
	}
	// Nothing listening: a transport error.
	c, err := New("http://127.0.0.1:1", "t")
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.PutSecret(context.Background(), "local", "db", value)
	if err == nil || strings.Contains(err.Error(), value) {
		t.Fatalf("err = %v: want an error without the value", err)
	}
}

func TestReadyNotReady(t *testing.T) {
	c := canned(t, 503, "application/json",
		`{"status":"not_ready","database":"ok","stores":[{"name":"local","status":"sealed"}]}`)
	r, err := c.Ready(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if r.Ready() || r.Database != "ok" || len(r.Stores) != 1 || r.Stores[0].Status != StoreSealed {
		t.Errorf("Ready() = %+v", r)
	}

	c = canned(t, 503, "application/problem+json", `{"title":"Service Unavailable","status":503,"code":"draining","detail":"Shutting down."}`)
	_, err = c.Ready(context.Background())
	var apiErr *Error
	if !errors.As(err, &apiErr) || apiErr.Code != "draining" {
		t.Errorf("err = %v, want the problem", err)
	}
}

func TestEmptyIdentifiersAreRefused(t *testing.T) {
	c, err := New("http://127.0.0.1:1", "t")
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	for name, call := range map[string]func() error{
		"GetEnvironmentVariable":     func() error { _, err := c.GetEnvironmentVariable(ctx, ""); return err },
		"DeleteEnvironmentVariable":  func() error { return c.DeleteEnvironmentVariable(ctx, "") },
		"UpdateCredential":           func() error { _, err := c.UpdateCredential(ctx, "", UpdateCredentialRequest{}); return err },
		"DeleteCredential":           func() error { return c.DeleteCredential(ctx, "") },
		"GetStore":                   func() error { _, err := c.GetStore(ctx, ""); return err },
		"PutSecret store":            func() error { _, err := c.PutSecret(ctx, "", "n", "v"); return err },
		"PutSecret name":             func() error { _, err := c.PutSecret(ctx, "local", "", "v"); return err },
		"DeleteSecret":               func() error { return c.DeleteSecret(ctx, "local", "") },
		"ForceDeleteCredential":      func() error { return c.ForceDeleteCredential(ctx, "") },
		"DisableCredential":          func() error { _, err := c.DisableCredential(ctx, ""); return err },
		"GetUser":                    func() error { _, err := c.GetUser(ctx, ""); return err },
		"DeleteUser":                 func() error { return c.DeleteUser(ctx, "") },
		"DeleteGroup":                func() error { return c.DeleteGroup(ctx, "") },
		"AddGroupMember user":        func() error { return c.AddGroupMember(ctx, "g", "") },
		"RemoveGroupMember group":    func() error { return c.RemoveGroupMember(ctx, "", "u") },
		"RevokeToken":                func() error { return c.RevokeToken(ctx, "") },
		"ShareCredential principal":  func() error { _, err := c.ShareCredential(ctx, "c", "", ShareRequest{Role: ShareUser}); return err },
		"UnshareEnvironmentVariable": func() error { return c.UnshareEnvironmentVariable(ctx, "", "user:bob") },
		"CredentialShares":           func() error { _, err := c.CredentialShares(ctx, ""); return err },
		"GrantStore principal":       func() error { _, err := c.GrantStore(ctx, "local", "", ""); return err },
		"RevokeStoreGrant store":     func() error { return c.RevokeStoreGrant(ctx, "", "user:bob") },
		"StoreGrants":                func() error { _, err := c.StoreGrants(ctx, ""); return err },
		"GetRunnerGroup":             func() error { _, err := c.GetRunnerGroup(ctx, ""); return err },
		"GetConnection":              func() error { _, err := c.GetConnection(ctx, ""); return err },
		"ConnectionRunners":          func() error { _, err := c.ConnectionRunners(ctx, ""); return err },
		"Resolve":                    func() error { _, err := c.Resolve(ctx, ""); return err },
		"UpdateStore":                func() error { _, err := c.UpdateStore(ctx, "", UpdateStoreRequest{}); return err },
		"DeleteStore":                func() error { return c.DeleteStore(ctx, "") },
		"CheckStore":                 func() error { _, err := c.CheckStore(ctx, "", "s"); return err },
	} {
		if err := call(); err == nil || !strings.Contains(err.Error(), "must not be empty") {
			t.Errorf("%s: err = %v, want a refusal before any request", name, err)
		}
	}
}

// The requests that carry options in the query string, as sent.
func TestQueries(t *testing.T) {
	var got []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got = append(got, r.Method+" "+r.URL.RequestURI())
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"items":[]}`))
	}))
	t.Cleanup(srv.Close)
	c, err := New(srv.URL, "t")
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	from := time.Date(2026, 1, 2, 3, 4, 5, 0, time.FixedZone("CET", 3600))
	for _, call := range []func() error{
		func() error { _, err := c.ListAudit(ctx, AuditListOptions{}); return err },
		func() error {
			_, err := c.ListAudit(ctx, AuditListOptions{Actor: "bob", Action: "credential.share", Resource: "credential:SQL prod user:bob",
				From: from, To: from.Add(time.Hour), Limit: 5, Cursor: "12"})
			return err
		},
		func() error { _, err := c.ListAudit(ctx, AuditListOptions{Newest: true, Cursor: "40"}); return err },
		func() error { _, err := c.ListTokens(ctx, TokenListOptions{}); return err },
		func() error { _, err := c.ListTokens(ctx, TokenListOptions{User: "bob"}); return err },
		func() error { _, err := c.ListTokens(ctx, TokenListOptions{All: true}); return err },
		func() error { return c.ForceDeleteCredential(ctx, "SQL prod") },
		func() error {
			_, err := c.UnshareCredential(ctx, "SQL prod", "user:bob", UnshareCredentialOptions{WithVariables: true})
			return err
		},
		func() error {
			_, err := c.UnshareCredential(ctx, "SQL prod", "group:dba", UnshareCredentialOptions{})
			return err
		},
		func() error { _, err := c.EnvironmentVariableAccess(ctx, "cf_Pass"); return err },
		func() error {
			_, err := c.ListConnections(ctx, ListOptions{Limit: 2, Cursor: "x", Type: TypeText})
			return err
		},
	} {
		if err := call(); err != nil {
			t.Fatal(err)
		}
	}
	want := []string{
		"GET /api/v1/audit",
		"GET /api/v1/audit?action=credential.share&actor=bob&cursor=12&from=2026-01-02T03%3A04%3A05%2B01%3A00&limit=5&resource=credential%3ASQL+prod+user%3Abob&to=2026-01-02T04%3A04%3A05%2B01%3A00",
		"GET /api/v1/audit?cursor=40&order=newest",
		"GET /api/v1/tokens",
		"GET /api/v1/tokens?user=bob",
		"GET /api/v1/tokens?all=true",
		"DELETE /api/v1/credentials/SQL%20prod?force=true",
		"DELETE /api/v1/credentials/SQL%20prod/shares/user:bob?withVariables=true",
		"DELETE /api/v1/credentials/SQL%20prod/shares/group:dba",
		"GET /api/v1/environment-variables/cf_Pass/access",
		"GET /api/v1/connections?cursor=x&limit=2",
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("sent\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

// The store and Key Vault reference requests, as sent: durations as Go
// duration strings, only the fields that are set.
func TestStoreRequestBodies(t *testing.T) {
	var got []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		got = append(got, r.Method+" "+r.URL.RequestURI()+" "+string(b))
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{}`))
	}))
	t.Cleanup(srv.Close)
	c, err := New(srv.URL, "t")
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	ttl, zero := 90*time.Second, time.Duration(0)
	for _, call := range []func() error{
		func() error {
			_, err := c.CreateStore(ctx, CreateStoreRequest{Name: "kv", Kind: "azure-keyvault", Settings: json.RawMessage(`{"vaultName":"v"}`), CacheTTL: &ttl, StaleIfError: &zero})
			return err
		},
		func() error {
			_, err := c.CreateStore(ctx, CreateStoreRequest{Name: "kv", Kind: "azure-keyvault"})
			return err
		},
		func() error { _, err := c.UpdateStore(ctx, "my kv", UpdateStoreRequest{CacheTTL: &ttl}); return err },
		func() error {
			_, err := c.UpdateStore(ctx, "kv", UpdateStoreRequest{Settings: json.RawMessage(`{}`)})
			return err
		},
		func() error { return c.DeleteStore(ctx, "kv") },
		func() error { _, err := c.CheckStore(ctx, "kv", ""); return err },
		func() error { _, err := c.CheckStore(ctx, "kv", "sql-password"); return err },
		func() error {
			_, err := c.CreateEnvironmentVariable(ctx, CreateEnvironmentVariableRequest{DisplayName: "P", Type: TypeSecret,
				SecretRef: &SecretRef{Store: "kv", SecretName: "sql", SecretVersion: "v1", VaultName: "other"}})
			return err
		},
	} {
		if err := call(); err != nil {
			t.Fatal(err)
		}
	}
	want := []string{
		`POST /api/v1/stores {"name":"kv","kind":"azure-keyvault","settings":{"vaultName":"v"},"cacheTTL":"1m30s","staleIfError":"0s"}`,
		`POST /api/v1/stores {"name":"kv","kind":"azure-keyvault"}`,
		`PATCH /api/v1/stores/my%20kv {"cacheTTL":"1m30s"}`,
		`PATCH /api/v1/stores/kv {"settings":{}}`,
		`DELETE /api/v1/stores/kv `,
		`POST /api/v1/stores/kv/check {}`,
		`POST /api/v1/stores/kv/check {"secret":"sql-password"}`,
		`POST /api/v1/environment-variables {"displayName":"P","type":"secret","secretRef":{"store":"kv","vaultName":"other","secretName":"sql","secretVersion":"v1"}}`,
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("sent\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

func TestStoreDecoding(t *testing.T) {
	c := canned(t, 201, "application/json", `{"id":"s1","name":"kv","kind":"azure-keyvault","status":"ready",
		"settings":{"vaultName":"v","auth":{"kind":"managed-identity"}},"cacheTTL":"1m0s","staleIfError":"1h0m0s",
		"createdAt":"2026-01-02T03:04:05Z","updatedAt":"2026-01-02T03:04:05Z",
		"check":{"ok":false,"steps":[{"name":"reach the vault","ok":true,"detail":"200"},{"name":"same tenant","ok":false,"detail":"wrong tenant","hint":"use t2"}]}}`)
	s, err := c.CreateStore(context.Background(), CreateStoreRequest{Name: "kv", Kind: "azure-keyvault"})
	if err != nil {
		t.Fatal(err)
	}
	if s.CacheTTL != time.Minute || s.StaleIfError != time.Hour || s.Check == nil || s.Check.OK || len(s.Check.Steps) != 2 ||
		s.CreatedAt.IsZero() || !strings.Contains(string(s.Settings), `"managed-identity"`) {
		t.Errorf("store = %+v", s)
	}
	if f := s.Check.FirstFailure(); f == nil || f.Name != "same tenant" || f.Hint != "use t2" {
		t.Errorf("first failure = %+v", f)
	}
	b, err := json.Marshal(s)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`"cacheTTL":"1m0s"`, `"staleIfError":"1h0m0s"`, `"settings":{"vaultName":"v","auth":{"kind":"managed-identity"}}`, `"check":{"ok":false`} {
		if !strings.Contains(string(b), want) {
			t.Errorf("marshalled %s, want %s in it", b, want)
		}
	}

	c = canned(t, 200, "application/json", `{"id":"s1","name":"kv","cacheTTL":"soon"}`)
	if _, err := c.GetStore(context.Background(), "kv"); err == nil || !strings.Contains(err.Error(), "cacheTTL") {
		t.Errorf("bad duration: err = %v", err)
	}
}
