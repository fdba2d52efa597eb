package cli

import (
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"

	"github.com/credflow/credflow/client"
)

func TestStoreAddCCPFlags(t *testing.T) {
	for _, tc := range []struct {
		name string
		args []string
		want json.RawMessage
	}{
		{"only those given", []string{"--ccp-url", "https://ccp.example.com", "--ccp-app-id", "credflow", "--ccp-client-cert-file", "/c.pem", "--ccp-client-key-file", "/k.pem"},
			json.RawMessage(`{"url":"https://ccp.example.com","appId":"credflow","clientCertFile":"/c.pem","clientKeyFile":"/k.pem"}`)},
		{"all", []string{"--ccp-url", "https://ccp.example.com:8443", "--ccp-app-id", "credflow", "--ccp-safe", "Robots", "--ccp-folder", `Root\Win`,
			"--ccp-client-cert-file", "/c.pem", "--ccp-client-key-file", "/k.pem", "--ccp-ca-file", "/ca.pem", "--ccp-path", "AIMWebServiceCustom", "--ccp-timeout", "30s"},
			json.RawMessage(`{"url":"https://ccp.example.com:8443","appId":"credflow","safe":"Robots","folder":"Root\\Win","clientCertFile":"/c.pem",` +
				`"clientKeyFile":"/k.pem","caFile":"/ca.pem","path":"AIMWebServiceCustom","timeout":"30s"}`)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var got *storeAddOptions
			cmd := newCmdStoreAdd(testFactory(nil), func(o *storeAddOptions) error { got = o; return nil })
			if err := parse(t, cmd, append([]string{"vault", "--kind", "cyberark-ccp"}, tc.args...)...); err != nil {
				t.Fatal(err)
			}
			want := client.CreateStoreRequest{Name: "vault", Kind: "cyberark-ccp", Settings: tc.want}
			if !reflect.DeepEqual(got.Request, want) {
				t.Errorf("got  %+v (settings %s)\nwant %+v (settings %s)", got.Request, got.Request.Settings, want, want.Settings)
			}
		})
	}
}

func TestStoreAddCCPFlagsRefused(t *testing.T) {
	for _, tc := range []struct {
		name, kind string
		args       []string
		want       string
	}{
		{"with settings", "cyberark-ccp", []string{"--ccp-app-id", "a", "--settings", `{}`}, "--ccp-app-id builds the settings: give the CCP flags or --settings/--settings-file"},
		{"with Key Vault flags", "cyberark-ccp", []string{"--ccp-safe", "s", "--vault-name", "v"}, "--vault-name and --ccp-safe are for different kinds of store"},
		{"another kind", "azure-keyvault", []string{"--ccp-url", "https://x"}, "--ccp-url is for --kind cyberark-ccp"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cmd := newCmdStoreAdd(testFactory(nil), func(*storeAddOptions) error { t.Fatal("ran"); return nil })
			err := parse(t, cmd, append([]string{"vault", "--kind", tc.kind}, tc.args...)...)
			var ue *usageError
			if !errors.As(err, &ue) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want a usage error with %q", err, tc.want)
			}
		})
	}
}
