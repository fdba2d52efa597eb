package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/spf13/cobra"

	"github.com/credflow/credflow/client"
)

func TestTable(t *testing.T) {
	var b bytes.Buffer
	tb := newTable(&b, "NAME", "VALUE", "OWNER")
	tb.row("cf_A", "x", "admin")
	tb.row("cf_Longer", "two\tcells\nand lines", "")
	if err := tb.flush(); err != nil {
		t.Fatal(err)
	}
	want := "NAME       VALUE                 OWNER\n" +
		"cf_A       x                     admin\n" +
		"cf_Longer  two cells\\nand lines  \n"
	if b.String() != want {
		t.Errorf("got\n%s\nwant\n%s", b.String(), want)
	}
}

func TestPrintVariable(t *testing.T) {
	at := time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)
	text := &client.EnvironmentVariable{ID: "v1", SchemaName: "cf_A", DisplayName: "A", Type: client.TypeText, Value: "", Owner: "admin", CreatedAt: at, UpdatedAt: at}
	secret := &client.EnvironmentVariable{ID: "v2", SchemaName: "cf_P", DisplayName: "P", Type: client.TypeSecret,
		SecretRef: &client.SecretRef{Store: "local", Ref: "p"}, Owner: "admin", CreatedAt: at, UpdatedAt: at}
	no, yes, expires := false, true, time.Date(2026, 2, 1, 0, 0, 0, 0, time.UTC)
	kvSecret := &client.EnvironmentVariable{ID: "v3", SchemaName: "cf_K", DisplayName: "K", Type: client.TypeSecret,
		SecretRef: &client.SecretRef{Store: "kv", Ref: "/subscriptions/s/resourceGroups/rg/providers/Microsoft.KeyVault/vaults/v/secrets/k", Enabled: &no, ExpiresAt: &expires},
		Owner:     "admin", CreatedAt: at, UpdatedAt: at}
	builtinSecret := &client.EnvironmentVariable{ID: "v4", SchemaName: "cf_B", DisplayName: "B", Type: client.TypeSecret,
		SecretRef: &client.SecretRef{Store: "local", Ref: "b", Enabled: &yes}, Owner: "admin", CreatedAt: at, UpdatedAt: at}
	for _, tc := range []struct {
		name   string
		v      *client.EnvironmentVariable
		format outputFormat
		want   string
	}{
		{"text table", text, formatTable, "ID:            v1\nSchema name:   cf_A\nDisplay name:  A\nDescription:   \nType:          text\nValue:         \n" +
			"Owner:         admin\nCreated:       2025-01-02T03:04:05Z\nUpdated:       2025-01-02T03:04:05Z\n"},
		{"Key Vault secret table", kvSecret, formatTable, "ID:              v3\nSchema name:     cf_K\nDisplay name:    K\nDescription:     \nType:            secret\n" +
			"Store:           kv\nReference:       /subscriptions/s/resourceGroups/rg/providers/Microsoft.KeyVault/vaults/v/secrets/k\n" +
			"Secret enabled:  no\nSecret expires:  2026-02-01T00:00:00Z\n" +
			"Owner:           admin\nCreated:         2025-01-02T03:04:05Z\nUpdated:         2025-01-02T03:04:05Z\n"},
		{"built-in secret table", builtinSecret, formatTable, "ID:              v4\nSchema name:     cf_B\nDisplay name:    B\nDescription:     \nType:            secret\n" +
			"Store:           local\nReference:       b\nSecret enabled:  yes\nSecret expires:  never\n" +
			"Owner:           admin\nCreated:         2025-01-02T03:04:05Z\nUpdated:         2025-01-02T03:04:05Z\n"},
		{"secret table", secret, formatTable, "ID:            v2\nSchema name:   cf_P\nDisplay name:  P\nDescription:   \nType:          secret\nStore:         local\nReference:     p\n" +
			"Owner:         admin\nCreated:       2025-01-02T03:04:05Z\nUpdated:       2025-01-02T03:04:05Z\n"},
		// An empty text value is still a value; a secret variable has none.
		{"text json", text, formatJSON, `{
  "id": "v1",
  "schemaName": "cf_A",
  "displayName": "A",
  "description": "",
  "type": "text",
  "value": "",
  "owner": "admin",
  "createdAt": "2025-01-02T03:04:05Z",
  "updatedAt": "2025-01-02T03:04:05Z"
}
`},
		{"secret json", secret, formatJSON, `{
  "id": "v2",
  "schemaName": "cf_P",
  "displayName": "P",
  "description": "",
  "type": "secret",
  "secretRef": {
    "store": "local",
    "ref": "p"
  },
  "owner": "admin",
  "createdAt": "2025-01-02T03:04:05Z",
  "updatedAt": "2025-01-02T03:04:05Z"
}
`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var b bytes.Buffer
			if err := printDetail(&Streams{Out: &b}, tc.format, tc.v, variableFields); err != nil {
				t.Fatal(err)
			}
			if b.String() != tc.want {
				t.Errorf("got\n%s\nwant\n%s", b.String(), tc.want)
			}
		})
	}
}

func TestWritePage(t *testing.T) {
	groups := tableOf[client.Group]{
		none:    "No groups.",
		headers: []string{"NAME", "ID"},
		row:     func(g client.Group) []string { return []string{g.Name, g.ID} },
	}
	two := []client.Group{{ID: "g1", Name: "dba"}, {ID: "g2", Name: "ops"}}
	for _, tc := range []struct {
		name       string
		format     outputFormat
		page       client.Page[client.Group]
		wantOut    string
		wantErrOut string
	}{
		{"table", formatTable, client.Page[client.Group]{Items: two}, "NAME  ID\ndba   g1\nops   g2\n", ""},
		{"table with more", formatTable, client.Page[client.Group]{Items: two, NextCursor: "c1"},
			"NAME  ID\ndba   g1\nops   g2\n", "More results: run again with --cursor c1\n"},
		{"empty table", formatTable, client.Page[client.Group]{}, "No groups.\n", ""},
		{"json", formatJSON, client.Page[client.Group]{Items: two[:1], NextCursor: "c1"},
			"{\n  \"items\": [\n    {\n      \"id\": \"g1\",\n      \"name\": \"dba\",\n      \"createdAt\": \"0001-01-01T00:00:00Z\"\n    }\n  ],\n  \"nextCursor\": \"c1\"\n}\n", ""},
		// Scripts get a list, never null.
		{"empty json", formatJSON, client.Page[client.Group]{}, "{\n  \"items\": []\n}\n", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var out, errOut bytes.Buffer
			if err := writePage(&Streams{Out: &out, ErrOut: &errOut}, tc.format, &tc.page, groups); err != nil {
				t.Fatal(err)
			}
			if out.String() != tc.wantOut || errOut.String() != tc.wantErrOut {
				t.Errorf("stdout %q, stderr %q; want %q, %q", out.String(), errOut.String(), tc.wantOut, tc.wantErrOut)
			}
		})
	}
}

func TestPrintDone(t *testing.T) {
	for format, want := range map[outputFormat]string{formatTable: "Deleted group dba.\n", formatJSON: ""} {
		var b bytes.Buffer
		printDone(&Streams{Out: &b}, format, "Deleted group %s.", "dba")
		if b.String() != want {
			t.Errorf("%s: printed %q, want %q", format, b.String(), want)
		}
	}
}

func TestTruncate(t *testing.T) {
	if got := truncate("abcdef", 4, true); got != "abc…" {
		t.Errorf("tty: %q", got)
	}
	if got := truncate("abcdef", 4, false); got != "abcdef" {
		t.Errorf("pipe: %q", got)
	}
}

func TestReportError(t *testing.T) {
	cmd := &cobra.Command{Use: "credflow"}
	for _, tc := range []struct {
		name     string
		err      error
		ran      bool
		wantCode int
		want     string
	}{
		{"ok", nil, true, exitOK, ""},
		{"problem detail", &client.Error{Status: 409, Code: "in_use", Title: "Conflict", Detail: "Used by SQL prod."}, true, exitError,
			"Error: Used by SQL prod.\n"},
		{"problem title and fields", fmt.Errorf("wrapped: %w", &client.Error{Status: 422, Title: "Unprocessable Entity",
			Errors: []client.FieldError{{Field: "name", Message: "is required"}, {Field: "password", Message: "must be secret"}}}), true, exitError,
			"Error: Unprocessable Entity (name: is required; password: must be secret)\n"},
		{"multi-line detail", &client.Error{Status: 400, Detail: "line one\nline two"}, true, exitError, "Error: line one line two\n"},
		{"other error", errors.New("dial tcp: refused"), true, exitError, "Error: dial tcp: refused\n"},
		{"interrupted", fmt.Errorf("client: %w", context.Canceled), true, exitError, "Error: interrupted\n"},
		{"usage", usageErrorf("bad flag"), true, exitUsage, "Error: bad flag\nRun 'credflow --help' for usage.\n"},
		{"before run", errors.New(`unknown command "x"`), false, exitUsage, "Error: unknown command \"x\"\nRun 'credflow --help' for usage.\n"},
		{"refusal", &refusalError{errors.New("not printing a password to a terminal")}, true, exitUsage, "Error: not printing a password to a terminal\n"},
		{"command exit code", fmt.Errorf("run: %w", &childExit{code: 7}), true, 7, ""},
		{"command killed", &childExit{signal: 15}, true, 143, ""},
		{"command not found", &startError{err: errors.New(`exec: "nope": executable file not found in $PATH`), notFound: true}, true, exitNotFound,
			"Error: exec: \"nope\": executable file not found in $PATH\n"},
		{"command not runnable", &startError{err: errors.New("fork/exec ./x: permission denied")}, true, exitCannotRun,
			"Error: fork/exec ./x: permission denied\n"},
		{"escape sequence in a detail", &client.Error{Status: 409, Detail: "Used by \x1b]0;pwned\x07SQL\u009b2J prod."}, true, exitError,
			"Error: Used by \\x1b]0;pwned\\x07SQL\\u009b2J prod.\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var b bytes.Buffer
			if code := reportError(&b, cmd, tc.err, tc.ran, formatTable); code != tc.wantCode {
				t.Errorf("code %d, want %d", code, tc.wantCode)
			}
			if b.String() != tc.want {
				t.Errorf("printed %q, want %q", b.String(), tc.want)
			}
		})
	}
}

func TestReportErrorAsJSON(t *testing.T) {
	cmd := &cobra.Command{Use: "credflow"}
	problem := &client.Error{Status: 409, Code: "in_use", Title: "Conflict", Detail: "Used by SQL prod.", RequestID: "r1"}
	for _, tc := range []struct {
		name     string
		err      error
		ran      bool
		wantCode int
		want     string
	}{
		{"problem", fmt.Errorf("delete: %w", problem), true, exitError,
			`{"error":"Used by SQL prod.","exitCode":1,"problem":{"status":409,"code":"in_use","title":"Conflict","detail":"Used by SQL prod.","requestId":"r1"}}`},
		{"usage", usageErrorf("bad flag"), true, exitUsage, `{"error":"bad flag","exitCode":2}`},
		{"network", errors.New("dial tcp: refused"), true, exitError, `{"error":"dial tcp: refused","exitCode":1}`},
		{"command exit code", &childExit{code: 7}, true, 7, ``},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var b bytes.Buffer
			if code := reportError(&b, cmd, tc.err, tc.ran, formatJSON); code != tc.wantCode {
				t.Errorf("code %d, want %d", code, tc.wantCode)
			}
			var compact bytes.Buffer
			if b.Len() > 0 {
				if err := json.Compact(&compact, b.Bytes()); err != nil {
					t.Fatalf("not JSON: %q", b.String())
				}
			}
			if compact.String() != tc.want {
				t.Errorf("printed %s, want %s", compact.String(), tc.want)
			}
		})
	}
}

func TestPrintableEscapesControls(t *testing.T) {
	for in, want := range map[string]string{
		"plain name":              "plain name",
		"naïve — ok ✓":            "naïve — ok ✓",
		"a\x1b[31mred":            `a\x1b[31mred`,
		"title\x1b]0;x\x07":       `title\x1b]0;x\x07`,
		"two\nlines\r":            `two\nlines\r`,
		"tab\there":               `tab\there`,
		"del\x7f":                 `del\x7f`,
		"csi\u009b2J":             `csi\u009b2J`,
		"nel\u0085":               `nel\u0085`,
		"bad \xff\xfe utf8":       `bad \xff\xfe utf8`,
		"real replacement \ufffd": "real replacement \ufffd",
	} {
		if got := printable(in); got != want {
			t.Errorf("printable(%q) = %q, want %q", in, got, want)
		}
	}
	var b bytes.Buffer
	if err := writeJSON(&b, map[string]string{"name": "a\x1b\x7f\u009bz"}); err != nil {
		t.Fatal(err)
	}
	if got := b.String(); strings.ContainsAny(got, "\x1b\x7f\u009b") || !strings.Contains(got, `a\u001b\u007f\u009bz`) {
		t.Errorf("writeJSON printed %q", got)
	}
	var out bytes.Buffer
	tb := newTable(&out, "NAME")
	tb.row("x\x1b[2Jy")
	tb.flush()
	if strings.Contains(out.String(), "\x1b") {
		t.Errorf("table printed a raw ESC: %q", out.String())
	}
}

func TestPrintStore(t *testing.T) {
	at := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	kv := &client.Store{ID: "s1", Name: "kv", Kind: "azure-keyvault", Status: client.StoreReady,
		Settings: json.RawMessage(`{"cloud":"public","vaultName":"myvault","allowCustomVaultHost":true,"readBudget":3000,"auth":{"kind":"client-secret","clientSecretEnv":"KV"}}`),
		CacheTTL: 90 * time.Second, StaleIfError: time.Hour, CreatedAt: at, UpdatedAt: at}
	var b bytes.Buffer
	if err := printDetail(&Streams{Out: &b}, formatTable, kv, storeFields); err != nil {
		t.Fatal(err)
	}
	want := `ID:                      s1
Name:                    kv
Kind:                    azure-keyvault
Status:                  ready
Cache TTL:               1m30s
Stale if error:          1h
Settings:                
  cloud:                 public
  vaultName:             myvault
  allowCustomVaultHost:  true
  readBudget:            3000
  auth.kind:             client-secret
  auth.clientSecretEnv:  KV
Created:                 2026-01-02T03:04:05Z
Updated:                 2026-01-02T03:04:05Z
`
	if b.String() != want {
		t.Errorf("got\n%s\nwant\n%s", b.String(), want)
	}

	for _, tc := range []struct {
		settings string
		want     []field
	}{
		{`{}`, []field{{"Settings", "none"}}},
		{``, []field{{"Settings", "none"}}},
		{`{"hosts":["a","b"],"n":null}`, []field{{"Settings", ""}, {"  hosts", `["a","b"]`}, {"  n", "null"}}},
	} {
		got := settingsFields(json.RawMessage(tc.settings))
		if tc.settings == "" {
			got = settingsFields(nil)
		}
		if !reflect.DeepEqual(got, tc.want) {
			t.Errorf("settings %s: got %q, want %q", tc.settings, got, tc.want)
		}
	}
}

func TestFormatDuration(t *testing.T) {
	for d, want := range map[time.Duration]string{
		0:                          "0s (off)",
		5 * time.Second:            "5s",
		time.Minute:                "1m",
		90 * time.Second:           "1m30s",
		10 * time.Minute:           "10m",
		time.Hour:                  "1h",
		70 * time.Minute:           "1h10m",
		time.Hour + time.Second:    "1h0m1s",
		1500 * time.Millisecond:    "1.5s",
		24 * time.Hour:             "24h",
		36*time.Hour + time.Minute: "36h1m",
	} {
		if got := formatDuration(d, "off"); got != want {
			t.Errorf("formatDuration(%v) = %q, want %q", d, got, want)
		}
	}
}

func TestWriteCheck(t *testing.T) {
	var b bytes.Buffer
	writeCheck(&b, &client.CheckReport{Steps: []client.CheckStep{
		{Name: "reach the vault", OK: true, Detail: "answers over TLS 1.3", Hint: "not shown when the step passed"},
		{Name: "same tenant", Detail: "wrong tenant:\nthe vault is in t2", Hint: "Set tenantId to t2."},
		{Name: "read secret"},
	}})
	want := "✓ reach the vault — answers over TLS 1.3\n" +
		"✗ same tenant — wrong tenant: the vault is in t2\n" +
		"  fix: Set tenantId to t2.\n" +
		"✗ read secret\n"
	if b.String() != want {
		t.Errorf("got\n%s\nwant\n%s", b.String(), want)
	}
}

func TestWithArticle(t *testing.T) {
	for noun, want := range map[string]string{
		"environment variable": "an environment variable",
		"credential":           "a credential",
		"connection":           "a connection",
	} {
		if got := withArticle(noun); got != want {
			t.Errorf("withArticle(%q) = %q, want %q", noun, got, want)
		}
	}
}
