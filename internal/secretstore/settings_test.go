package secretstore_test

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/credflow/credflow/internal/secretstore"
	"github.com/credflow/credflow/internal/validation"
)

func TestDecodeSettings(t *testing.T) {
	type auth struct {
		Kind      string `json:"kind"`
		TokenFile string `json:"tokenFile,omitempty"`
	}
	type settings struct {
		URL   string `json:"url"`
		Reads int    `json:"reads,omitempty"`
		Auth  auth   `json:"auth"`
	}
	inline := secretstore.InlineSecret{Words: []string{"token"}, Message: "name a file (tokenFile) instead"}
	for _, c := range []struct {
		name, raw, field, rule string
	}{
		{"fine", `{"url": "https://x", "auth": {"kind": "token"}}`, "", ""},
		{"unknown field", `{"url": "https://x", "colour": "red"}`, "settings.colour", "unknown field"},
		{"inline secret", `{"url": "https://x", "token": "s3cr3t-value"}`, "settings.token", "unknown field: name a file (tokenFile) instead"},
		{"inline secret in auth", `{"url": "https://x", "auth": {"kind": "token", "Token": "s3cr3t-value"}}`, "settings.auth.Token", "unknown field: name a file (tokenFile) instead"},
		{"wrong type", `{"url": 5}`, "settings.url", "must be a JSON string"},
		{"whole number", `{"url": "x", "reads": "many"}`, "settings.reads", "must be a JSON whole number"},
		{"repeated field", `{"url": "a", "url": "b"}`, "settings.url", ""},
		{"wrong case", `{"URL": "a"}`, "settings.URL", ""},
		{"two values", `{"url": "a"} {}`, "settings", "must be one JSON object, with nothing after it"},
		{"not an object", `[1]`, "settings", ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			var s settings
			err := secretstore.DecodeSettings(json.RawMessage(c.raw), &s, inline)
			if c.field == "" {
				if err != nil || s.URL != "https://x" || s.Auth.Kind != "token" {
					t.Fatalf("DecodeSettings = %v, %+v", err, s)
				}
				return
			}
			ve, ok := validation.As(err)
			if !ok || len(ve.Fields) != 1 || ve.Fields[0].Field != c.field || (c.rule != "" && ve.Fields[0].Message != c.rule) {
				t.Fatalf("DecodeSettings = %v, want %s: %q", err, c.field, c.rule)
			}
			if strings.Contains(err.Error(), "s3cr3t-value") {
				t.Errorf("the error repeats the input: %v", err)
			}
		})
	}
}
