package conjur_test

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/credflow/credflow/internal/secretstore/conjur"
	"github.com/credflow/credflow/internal/validation"
)

func TestDecodeSettings(t *testing.T) {
	valid := `{"url": "https://conjur.example.com/", "account": "conjur", "login": "host/app", "apiKeyFile": "/etc/credflow/conjur-key", "caFile": "/etc/credflow/conjur-ca.pem"}`
	s, err := conjur.DecodeSettings(json.RawMessage(valid))
	if err != nil {
		t.Fatalf("valid settings: %v", err)
	}
	if p := s.Public(); p.URL != "https://conjur.example.com" || p.ReadBudget != conjur.DefaultReadBudget {
		t.Errorf("public settings %+v", p)
	}
	for _, tc := range []struct {
		label, raw, field string
	}{
		{"http", `{"url": "http://conjur.example.com", "account": "conjur", "login": "host/app", "apiKeyEnv": "K"}`, "settings.url"},
		{"no url", `{"account": "conjur", "login": "host/app", "apiKeyEnv": "K"}`, "settings.url"},
		{"url with query", `{"url": "https://c.example.com/?a=b", "account": "conjur", "login": "host/app", "apiKeyEnv": "K"}`, "settings.url"},
		{"bad account", `{"url": "https://c.example.com", "account": "my account", "login": "host/app", "apiKeyEnv": "K"}`, "settings.account"},
		{"no login", `{"url": "https://c.example.com", "account": "conjur", "apiKeyEnv": "K"}`, "settings.login"},
		{"policy branch login", `{"url": "https://c.example.com", "account": "conjur", "login": "host/", "apiKeyEnv": "K"}`, "settings.login"},
		{"no key", `{"url": "https://c.example.com", "account": "conjur", "login": "host/app"}`, "settings.apiKeyFile"},
		{"both keys", `{"url": "https://c.example.com", "account": "conjur", "login": "host/app", "apiKeyEnv": "K", "apiKeyFile": "/k"}`, "settings.apiKeyEnv"},
		{"relative key file", `{"url": "https://c.example.com", "account": "conjur", "login": "host/app", "apiKeyFile": "key"}`, "settings.apiKeyFile"},
		{"bad env name", `{"url": "https://c.example.com", "account": "conjur", "login": "host/app", "apiKeyEnv": "1-K"}`, "settings.apiKeyEnv"},
		{"relative CA file", `{"url": "https://c.example.com", "account": "conjur", "login": "host/app", "apiKeyEnv": "K", "caFile": "ca.pem"}`, "settings.caFile"},
		{"budget", `{"url": "https://c.example.com", "account": "conjur", "login": "host/app", "apiKeyEnv": "K", "readBudget": -1}`, "settings.readBudget"},
		{"inline key", `{"url": "https://c.example.com", "account": "conjur", "login": "host/app", "apiKey": "s3cr3t-key-value"}`, "settings.apiKey"},
		{"unknown field", `{"url": "https://c.example.com", "account": "conjur", "login": "host/app", "apiKeyEnv": "K", "colour": "blue"}`, "settings.colour"},
		{"wrong type", `{"url": 1, "account": "conjur", "login": "host/app", "apiKeyEnv": "K"}`, "settings.url"},
		{"field case", `{"URL": "https://c.example.com", "account": "conjur", "login": "host/app", "apiKeyEnv": "K"}`, "settings.URL"},
		{"repeated field", `{"url": "https://c.example.com", "url": "https://d.example.com", "account": "conjur", "login": "host/app", "apiKeyEnv": "K"}`, "settings.url"},
		{"trailing data", `{"url": "https://c.example.com", "account": "conjur", "login": "host/app", "apiKeyEnv": "K"} {}`, "settings"},
	} {
		t.Run(tc.label, func(t *testing.T) {
			_, err := conjur.DecodeSettings(json.RawMessage(tc.raw))
			ve, ok := validation.As(err)
			if !ok {
				t.Fatalf("error = %v, want a validation error", err)
			}
			found := false
			for _, f := range ve.Fields {
				found = found || f.Field == tc.field
			}
			if !found {
				t.Errorf("errors %v do not name %s", ve.Fields, tc.field)
			}
			if strings.Contains(err.Error(), "s3cr3t") {
				t.Error("the error repeats an inline key")
			}
		})
	}
}
