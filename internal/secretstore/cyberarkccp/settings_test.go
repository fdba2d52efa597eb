package cyberarkccp_test

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/credflow/credflow/internal/secretstore/cyberarkccp"
	"github.com/credflow/credflow/internal/validation"
)

func TestDecodeSettings(t *testing.T) {
	const ok = `"url":"https://ccp.example.com","appId":"credflow","clientCertFile":"/etc/credflow/ccp.pem","clientKeyFile":"/etc/credflow/ccp-key.pem"`
	for _, tc := range []struct {
		name, raw, field, rule string
	}{
		{"minimal", `{` + ok + `}`, "", ""},
		{"all", `{` + ok + `,"safe":"Robots","folder":"Root\\Win","caFile":"/etc/ca.pem","path":"AIMWebServiceCustom","timeout":"30s"}`, "", ""},
		{"unknown field", `{` + ok + `,"vault":"x"}`, "settings.vault", "unknown field"},
		{"inline key", `{` + ok + `,"clientKey":"-----BEGIN"}`, "settings.clientKey", "never given inline"},
		{"repeated field", `{` + ok + `,"appId":"again"}`, "settings.appId", ""},
		{"wrong type", `{"url":"https://x","appId":1,"clientCertFile":"/a","clientKeyFile":"/b"}`, "settings.appId", "string"},
		{"trailing data", `{` + ok + `} {}`, "settings", "nothing after"},
		{"http", `{"url":"http://ccp.example.com","appId":"a","clientCertFile":"/a","clientKeyFile":"/b"}`, "settings.url", "https"},
		{"url with path", `{"url":"https://ccp.example.com/AIMWebService","appId":"a","clientCertFile":"/a","clientKeyFile":"/b"}`, "settings.url", "path"},
		{"no app", `{"url":"https://ccp.example.com","clientCertFile":"/a","clientKeyFile":"/b"}`, "settings.appId", "required"},
		{"no cert", `{"url":"https://ccp.example.com","appId":"a","clientKeyFile":"/b"}`, "settings.clientCertFile", "required"},
		{"relative key", `{"url":"https://ccp.example.com","appId":"a","clientCertFile":"/a","clientKeyFile":"key.pem"}`, "settings.clientKeyFile", "absolute"},
		{"bad path", `{` + ok + `,"path":"../x"}`, "settings.path", "virtual directory"},
		{"bad timeout", `{` + ok + `,"timeout":"forever"}`, "settings.timeout", "duration"},
		{"safe with ;", `{` + ok + `,"safe":"a;b"}`, "settings.safe", "';'"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := cyberarkccp.DecodeSettings(json.RawMessage(tc.raw))
			if tc.field == "" {
				if err != nil {
					t.Fatalf("DecodeSettings: %v", err)
				}
				return
			}
			ve, isVE := validation.As(err)
			if !isVE {
				t.Fatalf("error = %v, want a *validation.Error", err)
			}
			for _, f := range ve.Fields {
				if f.Field == tc.field && strings.Contains(f.Message, tc.rule) {
					return
				}
			}
			t.Fatalf("error = %v, want %s: ...%s...", err, tc.field, tc.rule)
		})
	}
}

func TestPublicSettingsFillsDefaults(t *testing.T) {
	raw, err := cyberarkccp.PublicSettings(json.RawMessage(`{"url":"https://ccp.example.com/","appId":"a","clientCertFile":"/a","clientKeyFile":"/b"}`))
	if err != nil {
		t.Fatal(err)
	}
	want := `{"url":"https://ccp.example.com","appId":"a","folder":"Root","clientCertFile":"/a","clientKeyFile":"/b","path":"AIMWebService","timeout":"10s"}`
	if string(raw) != want {
		t.Fatalf("PublicSettings = %s, want %s", raw, want)
	}
}
