package hcvault_test

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/credflow/credflow/internal/secretstore/hcvault"
	"github.com/credflow/credflow/internal/validation"
)

func TestDecodeSettings(t *testing.T) {
	for _, tc := range []struct {
		name, raw string
		field     string // the field an error names; "" when valid
		msg       string
	}{
		{"token file", `{"address":"https://v:8200","auth":{"kind":"token","tokenFile":"/run/secrets/vault-token"}}`, "", ""},
		{"token env", `{"address":"https://v:8200","namespace":"team-a","mount":"kv/apps","caFile":"/etc/ca.pem","auth":{"kind":"token","tokenEnv":"VAULT_TOKEN_CREDFLOW"}}`, "", ""},
		{"approle", `{"address":"https://v:8200","auth":{"kind":"approle","roleId":"6a1c","secretIdFile":"/run/secret-id","mount":"robots"}}`, "", ""},
		{"unknown field", `{"address":"https://v:8200","region":"x","auth":{"kind":"token","tokenEnv":"T"}}`, "settings.region", "unknown field"},
		{"inline token", `{"address":"https://v:8200","auth":{"kind":"token","token":"hvs.x"}}`, "settings.auth.token", "never given inline"},
		{"inline secret id", `{"address":"https://v:8200","auth":{"kind":"approle","roleId":"r","secretId":"s"}}`, "settings.auth.secretId", "never given inline"},
		{"wrong case", `{"Address":"https://v:8200","auth":{"kind":"token","tokenEnv":"T"}}`, "settings", ""},
		{"repeated field", `{"address":"https://v:8200","address":"https://w","auth":{"kind":"token","tokenEnv":"T"}}`, "settings", ""},
		{"wrong type", `{"address":8200,"auth":{"kind":"token","tokenEnv":"T"}}`, "settings.address", "string"},
		{"trailing data", `{"address":"https://v:8200","auth":{"kind":"token","tokenEnv":"T"}} {}`, "settings", ""},
		{"no address", `{"auth":{"kind":"token","tokenEnv":"T"}}`, "settings.address", "is required"},
		{"http", `{"address":"http://v:8200","auth":{"kind":"token","tokenEnv":"T"}}`, "settings.address", "https"},
		{"path", `{"address":"https://v:8200/v1","auth":{"kind":"token","tokenEnv":"T"}}`, "settings.address", "without a path"},
		{"user info", `{"address":"https://u:p@v:8200","auth":{"kind":"token","tokenEnv":"T"}}`, "settings.address", "user name"},
		{"bad mount", `{"address":"https://v:8200","mount":"/secret/","auth":{"kind":"token","tokenEnv":"T"}}`, "settings.mount", "mount path"},
		{"relative CA", `{"address":"https://v:8200","caFile":"ca.pem","auth":{"kind":"token","tokenEnv":"T"}}`, "settings.caFile", "absolute"},
		{"no auth kind", `{"address":"https://v:8200","auth":{}}`, "settings.auth.kind", "is required"},
		{"bad auth kind", `{"address":"https://v:8200","auth":{"kind":"userpass"}}`, "settings.auth.kind", "token or approle"},
		{"both token sources", `{"address":"https://v:8200","auth":{"kind":"token","tokenEnv":"T","tokenFile":"/t"}}`, "settings.auth.tokenFile", "exactly one"},
		{"no token source", `{"address":"https://v:8200","auth":{"kind":"token"}}`, "settings.auth.tokenFile", "exactly one"},
		{"approle without role", `{"address":"https://v:8200","auth":{"kind":"approle","secretIdEnv":"S"}}`, "settings.auth.roleId", "is required"},
		{"approle field on token", `{"address":"https://v:8200","auth":{"kind":"token","tokenEnv":"T","roleId":"r"}}`, "settings.auth.roleId", "not used"},
		{"bad env name", `{"address":"https://v:8200","auth":{"kind":"token","tokenEnv":"1-T"}}`, "settings.auth.tokenEnv", "environment variable"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := hcvault.DecodeSettings(json.RawMessage(tc.raw))
			if tc.field == "" && tc.msg == "" && !strings.HasPrefix(tc.name, "wrong case") && !strings.HasPrefix(tc.name, "repeated") && !strings.HasPrefix(tc.name, "trailing") {
				if err != nil {
					t.Fatalf("DecodeSettings: %v", err)
				}
				return
			}
			ve, ok := validation.As(err)
			if !ok {
				t.Fatalf("DecodeSettings = %v, want a validation error", err)
			}
			found := false
			for _, f := range ve.Fields {
				if strings.HasPrefix(f.Field, tc.field) && strings.Contains(f.Message, tc.msg) {
					found = true
				}
			}
			if !found {
				t.Fatalf("DecodeSettings = %v, want %s: %s", err, tc.field, tc.msg)
			}
			if strings.Contains(err.Error(), "hvs.x") {
				t.Fatal("the error repeats the input")
			}
		})
	}
}
