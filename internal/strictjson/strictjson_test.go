package strictjson

import (
	"encoding/json"
	"errors"
	"testing"
	"time"
)

type inner struct {
	Store string `json:"store"`
	Ref   string `json:"ref"`
}

type base struct {
	ID string `json:"id"`
}

type request struct {
	base
	Name     string            `json:"name"`
	Role     *string           `json:"role,omitempty"`
	Ref      *inner            `json:"secretRef,omitempty"`
	List     []inner           `json:"list"`
	Labels   map[string]string `json:"labels"`
	Settings json.RawMessage   `json:"settings"`
	When     *time.Time        `json:"when"`
	Skipped  string            `json:"-"`
}

func TestCheck(t *testing.T) {
	cases := []struct {
		name, body, field string
		ok                bool
	}{
		{name: "plain", body: `{"name":"a","role":"user","secretRef":{"store":"s","ref":"r"}}`, ok: true},
		{name: "embedded field", body: `{"id":"x"}`, ok: true},
		{name: "pair of surrogates", body: `{"name":"\ud83d\ude00"}`, ok: true},
		{name: "escaped backslash before u", body: `{"name":"\\udc00"}`, ok: true},
		{name: "literal replacement char", body: `{"name":"\ufffd` + "\uFFFD" + `"}`, ok: true},
		{name: "raw message is free-form", body: `{"settings":{"Anything":1,"x":[1,{"y":2}]}}`, ok: true},
		{name: "time decodes itself", body: `{"when":"2026-01-02T15:04:05Z"}`, ok: true},
		{name: "not JSON is left to the decoder", body: `{"name":`, ok: true},
		{name: "duplicate key", body: `{"name":"a","name":"b"}`, field: "name"},
		{name: "duplicate nested key", body: `{"secretRef":{"store":"a","store":"b"}}`, field: "secretRef.store"},
		{name: "duplicate in raw message", body: `{"settings":{"a":1,"a":2}}`, field: "settings.a"},
		{name: "duplicate map key", body: `{"labels":{"k":"1","k":"2"}}`, field: "labels.k"},
		{name: "wrong case", body: `{"Role":"owner"}`, field: "Role"},
		{name: "wrong case nested", body: `{"secretRef":{"Store":"s"}}`, field: "secretRef.Store"},
		{name: "wrong case in array", body: `{"list":[{"store":"s"},{"REF":"r"}]}`, field: "list[1].REF"},
		{name: "wholly unknown field is the decoder's", body: `{"colour":"red","Skipped":"x"}`, ok: true},
		{name: "invalid UTF-8", body: "{\"name\":\"a\xffb\"}", field: "name"},
		{name: "invalid UTF-8 in array", body: "{\"list\":[{\"ref\":\"\xc3\"}]}", field: "list[0].ref"},
		{name: "lone high surrogate", body: `{"name":"\ud800x"}`, field: "name"},
		{name: "lone low surrogate", body: `{"name":"\udc00"}`, field: "name"},
		{name: "high surrogate then non-low", body: `{"name":"\ud800\u0041"}`, field: "name"},
		{name: "NUL escape", body: `{"name":"a\u0000"}`, field: "name"},
		{name: "NUL in raw message", body: `{"settings":{"v":"\u0000"}}`, field: "settings.v"},
		{name: "NUL in a key", body: `{"secretRef":{"st\u0000ore":"x"}}`, field: "secretRef"},
		{name: "invalid UTF-8 at top", body: "\"\xff\"", field: ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			err := Check([]byte(c.body), &request{})
			if c.ok {
				if err != nil {
					t.Fatalf("Check = %v, want nil", err)
				}
				return
			}
			var e *Error
			if !errors.As(err, &e) {
				t.Fatalf("Check = %v, want *Error", err)
			}
			if e.Field != c.field || e.Message == "" {
				t.Errorf("Check = field %q message %q, want field %q", e.Field, e.Message, c.field)
			}
		})
	}
}

func TestCheckWithoutType(t *testing.T) {
	if err := Check([]byte(`{"A":1,"a":2}`), nil); err != nil {
		t.Errorf("keys differing in case are distinct: %v", err)
	}
	if err := Check([]byte(`{"a":1,"a":2}`), nil); err == nil {
		t.Error("a duplicate passed")
	}
}
