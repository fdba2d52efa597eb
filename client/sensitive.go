package client

import (
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"strconv"
)

// redacted is what a Sensitive value prints instead of itself.
const redacted = "[redacted]"

// Sensitive is a string the server sent that must not leak: a resolved
// password or username, a new API token. It prints as [redacted] through
// every fmt verb (%v, %+v, %#v, %s, %q, %x ...), encoding/json and log/slog,
// including as a field of a struct printed whole, so logging a Resolved by
// mistake shows no value. Reveal returns the value; call it only where the
// value is handed on (to a child process's environment, say).
//
// The zero Sensitive is the empty string.
type Sensitive struct {
	value string
}

// NewSensitive wraps v, for tests and fakes of code that takes a Sensitive.
func NewSensitive(v string) Sensitive { return Sensitive{value: v} }

// Reveal returns the value itself.
func (s Sensitive) Reveal() string { return s.value }

// IsEmpty reports whether the value is the empty string, without revealing it.
func (s Sensitive) IsEmpty() bool { return s.value == "" }

// String returns [redacted].
func (Sensitive) String() string { return redacted }

// GoString returns [redacted], for %#v.
func (Sensitive) GoString() string { return redacted }

// Format prints [redacted] whatever the verb and flags; %q quotes it.
func (Sensitive) Format(f fmt.State, verb rune) {
	if verb == 'q' {
		_, _ = io.WriteString(f, strconv.Quote(redacted))
		return
	}
	_, _ = io.WriteString(f, redacted)
}

// LogValue makes log/slog print [redacted].
func (Sensitive) LogValue() slog.Value { return slog.StringValue(redacted) }

// MarshalJSON writes "[redacted]": a struct holding a Sensitive can be
// marshalled for a log without the value. To send the value, marshal
// Reveal() instead.
func (Sensitive) MarshalJSON() ([]byte, error) { return []byte(strconv.Quote(redacted)), nil }

// MarshalText writes [redacted], for encoders that use encoding.TextMarshaler.
func (Sensitive) MarshalText() ([]byte, error) { return []byte(redacted), nil }

// UnmarshalJSON reads the value from a JSON string, as the server sends it.
// Its errors never contain the value.
func (s *Sensitive) UnmarshalJSON(b []byte) error {
	if string(b) == "null" {
		return nil
	}
	var v string
	if err := json.Unmarshal(b, &v); err != nil {
		// json's error would quote the input: name the type only.
		return fmt.Errorf("client: a sensitive value must be a JSON string (got %d bytes of something else)", len(b))
	}
	s.value = v
	return nil
}

var (
	_ fmt.Formatter  = Sensitive{}
	_ fmt.Stringer   = Sensitive{}
	_ fmt.GoStringer = Sensitive{}
	_ slog.LogValuer = Sensitive{}
	_ json.Marshaler = Sensitive{}
)
