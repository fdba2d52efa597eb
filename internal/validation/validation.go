// Package validation collects field-level rule violations found in a request
// so that every broken rule is reported at once, each naming its field. It
// knows nothing of HTTP: the API renders an *Error as a problem with
// errors[{field, message}].
package validation

import (
	"errors"
	"fmt"
	"strings"
)

// FieldError is one broken rule.
type FieldError struct {
	Field   string
	Message string
}

// Error is a set of broken rules. The zero value is ready to use.
type Error struct {
	Fields []FieldError
}

// Add records that field breaks the rule described by message.
func (e *Error) Add(field, message string) {
	e.Fields = append(e.Fields, FieldError{Field: field, Message: message})
}

// Err returns e as an error, or nil when no rule was broken.
func (e *Error) Err() error {
	if len(e.Fields) == 0 {
		return nil
	}
	return e
}

func (e *Error) Error() string {
	parts := make([]string, len(e.Fields))
	for i, f := range e.Fields {
		parts[i] = f.Field + ": " + f.Message
	}
	return "invalid input: " + strings.Join(parts, "; ")
}

// Field returns a one-field error.
func Field(field, message string) error {
	return &Error{Fields: []FieldError{{Field: field, Message: message}}}
}

// As returns the *Error inside err, if any.
func As(err error) (*Error, bool) {
	var ve *Error
	ok := errors.As(err, &ve)
	return ve, ok
}

// ImmutableError says a field cannot change after creation. Hint tells the
// user what to do instead.
type ImmutableError struct {
	Field string
	Hint  string
}

func (e *ImmutableError) Error() string {
	return fmt.Sprintf("%s cannot be changed: %s", e.Field, e.Hint)
}

// ControlRule is the message for text that holds a control character.
const ControlRule = "must not hold control characters (only tab and newline are allowed)"

// HasControl reports whether s holds a control character that could drive
// a terminal or hide text when shown: C0 other than tab and newline (ESC
// among them), DEL, or C1.
func HasControl(s string) bool {
	for _, r := range s {
		if (r < 0x20 && r != '\t' && r != '\n') || (r >= 0x7f && r <= 0x9f) {
			return true
		}
	}
	return false
}
