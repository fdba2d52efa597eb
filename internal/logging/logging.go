// Package logging builds the server's structured logger: JSON (the default)
// or text lines at a chosen level, each line written for a request carrying
// that request's id. It decides the shape of log lines, not what is logged:
// the packages that log keep secret values out of their attributes.
package logging

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"strings"
)

// Formats of log lines.
const (
	FormatJSON = "json"
	FormatText = "text"
)

// Levels names the levels ParseLevel takes, for messages.
const Levels = "debug, info, warn or error"

// ParseLevel reads a level name (case does not matter).
func ParseLevel(s string) (slog.Level, error) {
	switch strings.ToLower(s) {
	case "debug":
		return slog.LevelDebug, nil
	case "info", "":
		return slog.LevelInfo, nil
	case "warn", "warning":
		return slog.LevelWarn, nil
	case "error":
		return slog.LevelError, nil
	}
	return 0, fmt.Errorf("log level %q: want %s", s, Levels)
}

// CheckFormat refuses a format other than json and text.
func CheckFormat(s string) error {
	if s != FormatJSON && s != FormatText {
		return fmt.Errorf("log format %q: want json or text", s)
	}
	return nil
}

// New returns a logger writing lines of format (json or text; anything
// else is json) at level and above to w. A line logged with a context that
// carries a request id (WithRequestID) gets it as the attribute requestId.
func New(w io.Writer, format string, level slog.Level) *slog.Logger {
	o := &slog.HandlerOptions{Level: level}
	var h slog.Handler
	if format == FormatText {
		h = slog.NewTextHandler(w, o)
	} else {
		h = slog.NewJSONHandler(w, o)
	}
	return slog.New(requestHandler{h})
}

type requestIDKey struct{}

// WithRequestID returns ctx carrying the id of the request it serves.
func WithRequestID(ctx context.Context, id string) context.Context {
	return context.WithValue(ctx, requestIDKey{}, id)
}

// RequestID is the request id ctx carries, or "".
func RequestID(ctx context.Context) string {
	id, _ := ctx.Value(requestIDKey{}).(string)
	return id
}

// requestHandler adds the context's request id to every record.
type requestHandler struct{ slog.Handler }

func (h requestHandler) Handle(ctx context.Context, r slog.Record) error {
	if ctx == nil {
		return h.Handler.Handle(ctx, r)
	}
	if id := RequestID(ctx); id != "" {
		r.AddAttrs(slog.String("requestId", id))
	}
	return h.Handler.Handle(ctx, r)
}

func (h requestHandler) WithAttrs(as []slog.Attr) slog.Handler {
	return requestHandler{h.Handler.WithAttrs(as)}
}

func (h requestHandler) WithGroup(name string) slog.Handler {
	return requestHandler{h.Handler.WithGroup(name)}
}
