package cli

import (
	"net/http"
	"os"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/credflow/credflow/client"
)

func TestChildEnv(t *testing.T) {
	got := childEnv([]string{
		"PATH=/bin", "CREDFLOW_TOKEN=cft_secret", "CREDFLOW_ADDR=h:1", "PGPASSWORD=old", "HOME=/home/u", "EMPTY=", "A=b=c",
	}, map[string]string{"PGUSER": "app", "PGPASSWORD": "new=pw"})
	want := []string{"PATH=/bin", "CREDFLOW_ADDR=h:1", "HOME=/home/u", "EMPTY=", "A=b=c", "PGPASSWORD=new=pw", "PGUSER=app"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got  %q\nwant %q", got, want)
	}
}

func TestResolveRefusesTerminal(t *testing.T) {
	rec := &recorder{}
	r := invocation{outTTY: true, httpClient: &http.Client{Transport: rec}, env: map[string]string{envToken: "t"}}.run(t, "connection", "resolve", "sql-build")
	if r.code != exitUsage || r.stdout != "" || strings.Count(r.stderr, "\n") != 1 ||
		!strings.HasPrefix(r.stderr, "Error: not printing a password to a terminal") {
		t.Errorf("exit %d, stdout %q, stderr %q; want 2 and one Error: line", r.code, r.stdout, r.stderr)
	}
	if len(rec.sent) != 0 {
		t.Errorf("sent %v", rec.sent)
	}
	// --reveal goes ahead (and here fails to send).
	r = invocation{outTTY: true, httpClient: &http.Client{Transport: rec}, env: map[string]string{envToken: "t"}}.run(t, "connection", "resolve", "sql-build", "--reveal")
	if r.code != exitError || len(rec.sent) != 1 || rec.sent[0] != "POST /api/v1/connections/sql-build/resolve" {
		t.Errorf("--reveal: exit %d, sent %v", r.code, rec.sent)
	}
}

func TestRunResolveFailsWithoutStarting(t *testing.T) {
	rec := &recorder{}
	marker := t.TempDir() + "/started"
	r := invocation{httpClient: &http.Client{Transport: rec}, env: map[string]string{envToken: "t"}}.run(t,
		"run", "--connection", "c", "--", "sh", "-c", "touch "+marker)
	if r.code != exitError || strings.Count(r.stderr, "\n") != 1 || !strings.HasPrefix(r.stderr, "Error: ") || r.stdout != "" {
		t.Errorf("exit %d, stdout %q, stderr %q", r.code, r.stdout, r.stderr)
	}
	if len(rec.sent) != 1 || rec.sent[0] != "POST /api/v1/connections/c/resolve" {
		t.Errorf("sent %v", rec.sent)
	}
	if fileExists(marker) {
		t.Error("the command was started")
	}
}

func TestTokenStatus(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	past, future := now.Add(-time.Second), now.Add(time.Second)
	for _, tc := range []struct {
		tok  client.Token
		want string
	}{
		{client.Token{}, "active"},
		{client.Token{ExpiresAt: &future}, "active"},
		{client.Token{ExpiresAt: &past}, "expired"},
		{client.Token{ExpiresAt: &now}, "expired"},
		{client.Token{ExpiresAt: &future, RevokedAt: &past}, "revoked"},
	} {
		if got := tokenStatus(tc.tok, now); got != tc.want {
			t.Errorf("tokenStatus(%+v) = %q, want %q", tc.tok, got, tc.want)
		}
	}
}

func TestParseLifetime(t *testing.T) {
	for in, want := range map[string]time.Duration{"90d": 90 * 24 * time.Hour, "1d": 24 * time.Hour, "12h": 12 * time.Hour, "1h30m": 90 * time.Minute} {
		if got, err := parseLifetime(in); err != nil || got != want {
			t.Errorf("parseLifetime(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	for _, in := range []string{"", "d", "0d", "-1d", "1.5d", "0s", "-5m", "soon", "99999999999d"} {
		if got, err := parseLifetime(in); err == nil {
			t.Errorf("parseLifetime(%q) = %v, want an error", in, got)
		}
	}
}

func fileExists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}
