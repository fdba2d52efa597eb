package client

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log"
	"log/slog"
	"strings"
	"testing"
	"time"
)

const (
	testPassword = "hunter2-pa55word"
	testUsername = "svc-user-name"
)

func TestSensitiveNeverPrints(t *testing.T) {
	r := &Resolved{Username: NewSensitive(testUsername), Password: NewSensitive(testPassword), Credential: "SQL",
		SecretVersion: "3", ResolvedAt: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)}
	tok := CreatedToken{Token: Token{ID: "t1", Name: "ci"}, Value: NewSensitive(testPassword)}

	var printed []string
	for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%q", "%x", "%X", "%d", "%10s", "%-20v", "%T"} {
		for _, v := range []any{r, *r, r.Password, &r.Password, tok, []Sensitive{r.Username}, map[string]Sensitive{"p": r.Password}} {
			printed = append(printed, fmt.Sprintf(verb, v))
		}
	}
	printed = append(printed, fmt.Sprint(r), fmt.Sprintln(*r), r.Password.String(), r.Password.GoString())

	for _, v := range []any{r, *r, r.Password, tok, map[string]any{"resolved": r}} {
		b, err := json.Marshal(v)
		if err != nil {
			t.Fatalf("marshal %T: %v", v, err)
		}
		printed = append(printed, string(b))
	}
	text, err := r.Password.MarshalText()
	if err != nil {
		t.Fatal(err)
	}
	printed = append(printed, string(text))

	var logged bytes.Buffer
	for _, h := range []slog.Handler{slog.NewJSONHandler(&logged, nil), slog.NewTextHandler(&logged, nil)} {
		l := slog.New(h)
		l.Info("resolved", "password", r.Password, "resolved", r, "token", tok)
		l.LogAttrs(context.Background(), slog.LevelInfo, "attr", slog.Any("username", r.Username))
	}
	log.New(&logged, "", 0).Printf("%v %+v", r, tok)
	printed = append(printed, logged.String())

	for _, s := range printed {
		if strings.Contains(s, testPassword) || strings.Contains(s, testUsername) ||
			strings.Contains(s, fmt.Sprintf("%x", testPassword)) || strings.Contains(s, fmt.Sprintf("%X", testPassword)) {
			t.Errorf("printed a value: %s", s)
		}
	}
	if got := fmt.Sprintf("%v", r.Password); got != "[redacted]" {
		t.Errorf("%%v = %q", got)
	}
	if got := fmt.Sprintf("%q", r.Password); got != `"[redacted]"` {
		t.Errorf("%%q = %q", got)
	}
	if !strings.Contains(fmt.Sprintf("%+v", *r), "Password:[redacted]") {
		t.Errorf("%%+v = %s", fmt.Sprintf("%+v", *r))
	}
}

func TestSensitiveRevealAndDecode(t *testing.T) {
	var r Resolved
	body := `{"username":"` + testUsername + `","password":"p\"w\u00f6rd\n","credential":"SQL","secretVersion":"2","resolvedAt":"2026-01-02T03:04:05Z","stale":true}`
	if err := json.Unmarshal([]byte(body), &r); err != nil {
		t.Fatal(err)
	}
	if r.Username.Reveal() != testUsername || r.Password.Reveal() != "p\"wörd\n" || r.Credential != "SQL" || r.SecretVersion != "2" || !r.Stale {
		t.Errorf("decoded %+v (username %q)", r, r.Username.Reveal())
	}
	if r.Password.IsEmpty() || !(Sensitive{}).IsEmpty() {
		t.Error("IsEmpty")
	}

	// Decoding errors do not repeat what they failed to decode.
	var bad Resolved
	err := json.Unmarshal([]byte(`{"password":12345678}`), &bad)
	if err == nil || strings.Contains(err.Error(), "12345678") {
		t.Errorf("err = %v", err)
	}
	var null Resolved
	if err := json.Unmarshal([]byte(`{"password":null}`), &null); err != nil || !null.Password.IsEmpty() {
		t.Errorf("null: %v, %+v", err, null)
	}
}
