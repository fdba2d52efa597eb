package logging

import (
	"bytes"
	"context"
	"log/slog"
	"strings"
	"testing"
)

func TestParseLevel(t *testing.T) {
	for _, c := range []struct {
		in   string
		want slog.Level
		ok   bool
	}{
		{"debug", slog.LevelDebug, true}, {"INFO", slog.LevelInfo, true}, {"", slog.LevelInfo, true},
		{"warn", slog.LevelWarn, true}, {"warning", slog.LevelWarn, true}, {"error", slog.LevelError, true},
		{"loud", 0, false}, {"0", 0, false},
	} {
		t.Run(c.in, func(t *testing.T) {
			got, err := ParseLevel(c.in)
			if (err == nil) != c.ok || (c.ok && got != c.want) {
				t.Errorf("ParseLevel(%q) = %v, %v", c.in, got, err)
			}
		})
	}
}

func TestRequestIDOnEveryLine(t *testing.T) {
	for _, format := range []string{FormatJSON, FormatText} {
		t.Run(format, func(t *testing.T) {
			var buf bytes.Buffer
			log := New(&buf, format, slog.LevelInfo).With(slog.String("component", "api"))
			ctx := WithRequestID(context.Background(), "rid-7")
			log.InfoContext(ctx, "one")
			log.WithGroup("g").WarnContext(ctx, "two", slog.Int("n", 1))
			log.DebugContext(ctx, "filtered")
			log.Info("no request")
			lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
			if len(lines) != 3 {
				t.Fatalf("want 3 lines, got:\n%s", buf.String())
			}
			for _, l := range lines[:2] {
				if !strings.Contains(l, "rid-7") || !strings.Contains(l, "component") {
					t.Errorf("line without the request id or the logger's attributes: %s", l)
				}
			}
			if strings.Contains(lines[2], "requestId") {
				t.Errorf("a line outside a request has a request id: %s", lines[2])
			}
		})
	}
}
