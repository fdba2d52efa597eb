package cli

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"strings"
	"testing"

	"github.com/credflow/credflow/client"
	"github.com/credflow/credflow/internal/metadb/metadbtest"
	"github.com/credflow/credflow/internal/secretstore/conjur/fakeconjur"
	"github.com/credflow/credflow/internal/server/servertest"
)

func TestStoreAddConjurFlags(t *testing.T) {
	for _, tc := range []struct {
		name string
		args []string
		want client.CreateStoreRequest
	}{
		{"all", []string{"cj", "--kind", "cyberark-conjur", "--conjur-url", "https://conjur.example.com", "--conjur-account", "acme",
			"--conjur-login", "host/app", "--conjur-api-key-file", "/etc/k", "--conjur-api-key-env", "K", "--conjur-ca-file", "/etc/ca.pem"},
			client.CreateStoreRequest{Name: "cj", Kind: "cyberark-conjur", Settings: json.RawMessage(
				`{"url":"https://conjur.example.com","account":"acme","login":"host/app","apiKeyFile":"/etc/k","apiKeyEnv":"K","caFile":"/etc/ca.pem"}`)}},
		{"only those given", []string{"cj", "--kind", "cyberark-conjur", "--conjur-login", "host/app"},
			client.CreateStoreRequest{Name: "cj", Kind: "cyberark-conjur", Settings: json.RawMessage(`{"login":"host/app"}`)}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var got *storeAddOptions
			cmd := newCmdStoreAdd(testFactory(nil), func(o *storeAddOptions) error { got = o; return nil })
			if err := parse(t, cmd, tc.args...); err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got.Request, tc.want) {
				t.Errorf("got  %+v (settings %s)\nwant %+v (settings %s)", got.Request, got.Request.Settings, tc.want, tc.want.Settings)
			}
		})
	}
	for _, tc := range []struct {
		name, kind string
		args       []string
		want       string
	}{
		{"with settings", "cyberark-conjur", []string{"--settings", `{}`, "--conjur-url", "https://c"}, "--conjur-url builds the settings"},
		{"another kind", "azure-keyvault", []string{"--conjur-login", "host/app"}, "--conjur-login is for --kind cyberark-conjur"},
		{"with Key Vault flags", "cyberark-conjur", []string{"--conjur-login", "host/app", "--vault-name", "v"}, "are for different kinds of store"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cmd := newCmdStoreAdd(testFactory(nil), func(*storeAddOptions) error { t.Fatal("ran"); return nil })
			err := parse(t, cmd, append([]string{"cj", "--kind", tc.kind}, tc.args...)...)
			var ue *usageError
			if !errors.As(err, &ue) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want a usage error with %q", err, tc.want)
			}
		})
	}
}

func TestConjurEndToEnd(t *testing.T) {
	for _, e := range metadbtest.Engines(t) {
		t.Run(e.Name, func(t *testing.T) {
			cj := fakeconjur.Start(t, fakeconjur.Options{})
			key := cj.AddHost("host/credflow")
			keyFile := filepath.Join(t.TempDir(), "conjur-key")
			if err := os.WriteFile(keyFile, []byte(key), 0o600); err != nil {
				t.Fatal(err)
			}
			cj.Set("apps/sql password", "conjur-cli-canary")
			inst := servertest.Start(t, e)
			s := &session{t: t, inv: invocation{env: map[string]string{envAddr: inst.URL, envToken: inst.AdminToken}},
				secrets: []string{"conjur-cli-canary", key}}

			out := s.ok("store", "add", "cj", "--kind", "cyberark-conjur", "--conjur-url", cj.URL, "--conjur-account", "conjur",
				"--conjur-login", "host/credflow", "--conjur-api-key-file", keyFile, "--conjur-ca-file", cj.CAFile)
			for _, want := range []string{`^Name: +cj$`, `^Kind: +cyberark-conjur$`, `^Status: +ready$`, `^  login: +host/credflow$`,
				`^  apiKeyFile: +` + regexp.QuoteMeta(keyFile) + `$`, `^✓ reach Conjur over TLS — .*TLS 1\.[23]`, `^✓ authenticate — .*valid for 8m0s$`} {
				if !regexp.MustCompile("(?m)" + want).MatchString(out) {
					t.Errorf("store add: no /%s/ in\n%s", want, out)
				}
			}
			wantLines(t, s.ok("store", "check", "cj", "--secret", "apps/sql password"), `✓ .*`, `✓ .*`, `✓ read secret — read apps/sql password, version 1`)
			out, msg := s.checkFails("store", "check", "cj", "--secret", "apps/nope")
			if !strings.Contains(out, "✗ read secret") || !strings.Contains(out, "no privilege") || !strings.Contains(msg, `failed its check at "read secret"`) {
				t.Errorf("check of a missing variable: %q\n%s", msg, out)
			}
			s.ok("env", "create", "--display-name", "SQL Password", "--type", "secret", "--store", "cj", "--ref", "apps/sql password#1")
			if msg := s.fails("env", "create", "--display-name", "Gone", "--type", "secret", "--store", "cj", "--ref", "apps/nope"); !strings.Contains(msg, "apps/nope") {
				t.Errorf("missing variable: %q", msg)
			}
			wantLines(t, s.ok("store", "list"), `NAME +KIND +STATUS`, `cj +cyberark-conjur +ready`, `local +builtin +ready`)
		})
	}
}
