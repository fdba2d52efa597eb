package conjur

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"regexp"
	"strings"

	"github.com/credflow/credflow/internal/secretstore"
)

// ErrAuthentication: credflow could not get an access token from Conjur.
// Errors matching it also match secretstore.ErrUnavailable.
var ErrAuthentication = errors.New("cannot authenticate to Conjur")

// Error is Conjur's refusal of one read, reduced to its status and codes:
// it never carries the response body. It matches the secretstore sentinel
// it maps to with errors.Is (ErrNotFound, ErrForbidden, ErrUnavailable),
// and a 429 also gives a *secretstore.ThrottledError with errors.As.
type Error struct {
	Op       string // "get" or "stat"
	Variable string // id[#version]
	Account  string
	Login    string
	Status   int
	// Code is Conjur's error.code ("not_found", "forbidden"), and
	// Message's CONJnnnnnE code when it has one.
	Code string
	kind error
}

func (e *Error) Error() string {
	code := ""
	if e.Code != "" {
		code = " " + e.Code
	}
	return fmt.Sprintf("conjur: %s variable %q as %s: %v (HTTP %d%s)", e.Op, e.Variable, e.Login, e.kind, e.Status, code)
}

// Unwrap returns the sentinel (or *secretstore.ThrottledError).
func (e *Error) Unwrap() error { return e.kind }

// Hint says how to fix the refusal, for people.
func (e *Error) Hint() string {
	id, _, _ := strings.Cut(e.Variable, "#")
	switch {
	case errors.Is(e.kind, secretstore.ErrNotFound):
		return fmt.Sprintf("Conjur answers \"not found\" both when variable %q does not exist in account %q (or has no value yet, or not that version) "+
			"and when %s has no privilege on it: check the id, and that a policy lets %s read and execute it "+
			"(!permit {role: !host ..., privileges: [read, execute], resource: !variable %s}).", id, e.Account, e.Login, e.Login, id)
	case errors.Is(e.kind, secretstore.ErrForbidden):
		return fmt.Sprintf("%s may see variable %q but not fetch its value: a policy must give it the execute privilege as well as read (privileges: [read, execute]).", e.Login, id)
	case errors.Is(e.kind, secretstore.ErrThrottled):
		return "Conjur (or a proxy in front of it) is throttling credflow: lower the store's readBudget or raise the cache TTL."
	}
	return "Conjur could not serve the request; try again later, and check the server's health (GET /health on the leader or follower)."
}

// AuthError says credflow could not get an access token. It matches
// ErrAuthentication and secretstore.ErrUnavailable, and whatever the cause
// matches (such as context.DeadlineExceeded).
type AuthError struct {
	Login   string
	Account string
	// Status is Conjur's answer to the authentication request (0: none).
	Status int
	// Source says where the API key comes from, for the hint.
	Source string
	Err    error
}

func (e *AuthError) Error() string {
	msg := fmt.Sprintf("conjur: %v as %s in account %s", ErrAuthentication, e.Login, e.Account)
	if e.Status != 0 {
		msg += fmt.Sprintf(" (HTTP %d)", e.Status)
	}
	if e.Err != nil {
		msg += ": " + e.Err.Error()
	}
	return msg
}

// Unwrap returns the sentinels and the cause.
func (e *AuthError) Unwrap() []error {
	// Conjur refusing the key or a fresh token is credflow's credentials
	// refused, as for every kind; anything else kept it from answering.
	kind := secretstore.ErrUnavailable
	if e.Status == http.StatusUnauthorized {
		kind = secretstore.ErrUnauthenticated
	}
	errs := []error{ErrAuthentication, kind}
	if e.Err != nil {
		errs = append(errs, e.Err)
	}
	return errs
}

// Hint says how to fix the failure, for people.
func (e *AuthError) Hint() string {
	switch e.Status {
	case http.StatusUnauthorized:
		return fmt.Sprintf("Conjur refused %s's API key: check login (host/<host id> for a host) and account, and that %s holds the host's current API key (rotating the key in Conjur replaces the old one at once).", e.Login, e.Source)
	case http.StatusNotFound:
		return fmt.Sprintf("Conjur does not know account %q or its authn authenticator: check account and url.", e.Account)
	case 0:
		if errors.Is(e.Err, errAPIKey) {
			return fmt.Sprintf("credflow could not read the API key from %s: check that it exists, is readable by credflow's user and is not empty.", e.Source)
		}
		return "Check url, the network path to Conjur on port 443, and caFile when Conjur's certificate is signed by a private CA."
	}
	return "Conjur could not authenticate credflow; try again later, and check the server's health."
}

// errAPIKey: the API key could not be read from its file or variable.
var errAPIKey = errors.New("API key not available")

// conjCode finds Conjur's message codes, such as CONJ00076E.
var conjCode = regexp.MustCompile(`\bCONJ[0-9]{5}[EWI]\b`)

// errorCode reads Conjur's error JSON, {"error":{"code":...,"message":...}},
// and returns its code and message code; the message itself is dropped.
func errorCode(body []byte) string {
	var b struct {
		Error struct {
			Code    string `json:"code"`
			Message string `json:"message"`
		} `json:"error"`
	}
	if json.Unmarshal(body, &b) != nil {
		return ""
	}
	code := b.Error.Code
	if m := conjCode.FindString(b.Error.Message); m != "" {
		if code != "" {
			code += " "
		}
		code += m
	}
	if len(code) > 60 {
		code = code[:60]
	}
	return code
}
