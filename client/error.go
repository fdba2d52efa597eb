package client

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strings"
)

// Error is a request the server refused: an RFC 9457 problem document, or,
// when the answer was not one (a proxy's error page, say), the status with
// a short description. Match it with errors.As.
type Error struct {
	// Status is the HTTP status code.
	Status int `json:"status"`
	// Code is credflow's machine-readable reason (for example "not_found",
	// "name_taken", "validation_failed"); "" when the answer was not a
	// credflow problem.
	Code string `json:"code,omitempty"`
	// Type is the problem type URI.
	Type string `json:"type,omitempty"`
	// Title summarizes the kind of problem.
	Title string `json:"title,omitempty"`
	// Detail explains this occurrence, for people.
	Detail string `json:"detail,omitempty"`
	// Errors lists the fields that failed validation.
	Errors []FieldError `json:"errors,omitempty"`
	// RequestID identifies the request in the server's logs and audit.
	RequestID string `json:"requestId,omitempty"`
	// RetryAfter is how many seconds a throttled store asked to wait.
	RetryAfter int `json:"retryAfter,omitempty"`
	// Hint says how to fix the problem, when the server knows (a store
	// that refused credflow, say). Detail already ends with it.
	Hint string `json:"hint,omitempty"`
}

// FieldError is one field that failed validation.
type FieldError struct {
	Field   string `json:"field"`
	Message string `json:"message"`
	// Code is the problem code of this error when the problem gathers
	// errors of several kinds (a refused import's), else "".
	Code string `json:"code,omitempty"`
}

// Problem is the RFC 9457 name of Error.
type Problem = Error

// Error renders the problem on one line: status, code, then the detail (or
// the title) and the field errors.
func (e *Error) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "credflow: %d", e.Status)
	if e.Code != "" {
		b.WriteString(" " + e.Code)
	}
	if m := e.Message(); m != "" {
		b.WriteString(": " + m)
	}
	return b.String()
}

// Message is what to tell a person: the detail, or without one the title
// followed by the field errors in parentheses. (credflow's details already
// name the fields that failed.)
func (e *Error) Message() string {
	if e.Detail != "" {
		return e.Detail
	}
	msg := e.Title
	if len(e.Errors) > 0 {
		parts := make([]string, len(e.Errors))
		for i, f := range e.Errors {
			parts[i] = f.Field + ": " + f.Message
			if f.Field == "" {
				parts[i] = f.Message
			}
		}
		fields := "(" + strings.Join(parts, "; ") + ")"
		if msg == "" {
			return fields
		}
		msg += " " + fields
	}
	return msg
}

// responseError turns an error response into an *Error.
func responseError(method, path string, resp *http.Response) *Error {
	body, _ := io.ReadAll(io.LimitReader(resp.Body, maxErrorBody))
	return parseError(method, path, resp, body)
}

// parseError builds the *Error of an error response whose body was read.
func parseError(method, path string, resp *http.Response, body []byte) *Error {
	mt, _, _ := mime.ParseMediaType(resp.Header.Get("Content-Type"))
	var e *Error
	if mt == "application/problem+json" || mt == "application/json" {
		var p Error
		if json.Unmarshal(body, &p) == nil && (p.Title != "" || p.Detail != "" || p.Code != "") {
			e = &p
			e.Status = resp.StatusCode // the status line wins over the body
		}
	}
	if e == nil {
		e = &Error{
			Status: resp.StatusCode,
			Detail: fmt.Sprintf("%s %s: %s", method, path, describe(resp.StatusCode, mt, body)),
		}
	}
	if e.Title == "" {
		e.Title = http.StatusText(resp.StatusCode)
	}
	if e.RequestID == "" {
		e.RequestID = resp.Header.Get("X-Request-Id")
	}
	return e
}

// describe summarizes a response that is not a problem document: the first
// line of a short plain-text body, else the status text.
func describe(status int, mediaType string, body []byte) string {
	text := http.StatusText(status)
	if text == "" {
		text = fmt.Sprintf("status %d", status)
	}
	if mediaType != "text/plain" {
		return fmt.Sprintf("unexpected %d response (%s)", status, text)
	}
	line, _, _ := bufio.NewReader(strings.NewReader(string(body))).ReadLine()
	s := strings.TrimSpace(string(line))
	if r := []rune(s); len(r) > 200 {
		s = string(r[:200]) + "..."
	}
	if s == "" {
		s = text
	}
	return fmt.Sprintf("%d %s", status, s)
}
