package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"

	"github.com/credflow/credflow/client"
)

// The exit codes, decided here and nowhere else.
const (
	exitOK    = 0
	exitError = 1 // the command ran and failed (an API error, a network error)
	exitUsage = 2 // the command was called wrongly, or refused to run; nothing was sent
	// `credflow run` could not start its command, as env(1) and shells say.
	exitCannotRun = 126 // found but not runnable
	exitNotFound  = 127
	// exitSignalBase plus a signal's number is the code of a command a
	// signal killed, as shells say.
	exitSignalBase = 128
)

// usageError is a command called wrongly: a bad flag value or combination.
// Errors cobra returns before a command runs (unknown flags or commands,
// argument counts, required flags) are usage errors too.
type usageError struct{ err error }

func (e *usageError) Error() string { return e.err.Error() }
func (e *usageError) Unwrap() error { return e.err }

func usageErrorf(format string, args ...any) error {
	return &usageError{fmt.Errorf(format, args...)}
}

// refusalError is a command that will not run as called, for a reason its
// message states in full (such as printing secrets to a terminal): exit 2
// like a usage error, without the hint to read the usage.
type refusalError struct{ err error }

func (e *refusalError) Error() string { return e.err.Error() }
func (e *refusalError) Unwrap() error { return e.err }

// startError is a command `credflow run` could not start.
type startError struct {
	err      error
	notFound bool
}

func (e *startError) Error() string { return e.err.Error() }
func (e *startError) Unwrap() error { return e.err }

// childExit is how the command `credflow run` started ended: credflow exits
// the same way, printing nothing (the command spoke for itself).
type childExit struct {
	code   int // valid unless signal > 0
	signal int // the number of the signal that killed it, or 0
}

func (e *childExit) Error() string {
	if e.signal > 0 {
		return fmt.Sprintf("command killed by signal %d", e.signal)
	}
	return fmt.Sprintf("command exited with %d", e.code)
}

// reportError prints err on w and returns the exit code. ran says whether
// the command's RunE was reached: anything failing before it is usage. With
// -o json the error is a JSON object too (see errorJSON), so that a script
// reads every outcome the same way.
func reportError(w io.Writer, cmd *cobra.Command, err error, ran bool, format outputFormat) int {
	if err == nil {
		return exitOK
	}
	var (
		ue   *usageError
		re   *refusalError
		se   *startError
		exit *childExit
	)
	code, msg, usage := exitError, oneLine(message(err)), false
	switch {
	case errors.As(err, &exit):
		// The command spoke for itself.
		if exit.signal > 0 {
			return exitSignalBase + exit.signal
		}
		return exit.code
	case errors.As(err, &re):
		code, msg = exitUsage, oneLine(re.Error())
	case errors.As(err, &se):
		code, msg = exitCannotRun, oneLine(se.Error())
		if se.notFound {
			code = exitNotFound
		}
	case errors.As(err, &ue) || !ran:
		code, msg, usage = exitUsage, printable(err.Error()), true
	}
	if format == formatJSON {
		out := errorJSON{Error: msg, ExitCode: code}
		var apiErr *client.Error
		if errors.As(err, &apiErr) {
			out.Problem = apiErr
		}
		_ = writeJSON(w, out)
		return code
	}
	fmt.Fprintf(w, "Error: %s\n", msg)
	if usage && cmd != nil {
		fmt.Fprintf(w, "Run '%s --help' for usage.\n", cmd.CommandPath())
	}
	return code
}

// errorJSON is how a failed command reports with -o json, on standard
// error: the one-line message, the exit code, and the server's problem
// document when the server refused the request.
type errorJSON struct {
	Error    string        `json:"error"`
	ExitCode int           `json:"exitCode"`
	Problem  *client.Error `json:"problem,omitempty"`
}

// withFlagHint gives a refusal whose server hint names an API parameter the
// CLI's own words for the fix, which name its flag: the server's detail ends
// with its hint, and that ending is replaced.
func withFlagHint(err error, hint string) error {
	var apiErr *client.Error
	if !errors.As(err, &apiErr) || apiErr.Hint == "" || !strings.HasSuffix(apiErr.Detail, apiErr.Hint) {
		return err
	}
	e := *apiErr
	e.Detail = strings.TrimSuffix(e.Detail, e.Hint) + hint
	e.Hint = hint
	return &e
}

// message is what a person needs to read about a failed run.
func message(err error) string {
	var apiErr *client.Error
	switch {
	case errors.As(err, &apiErr) && apiErr.Message() != "":
		return apiErr.Message()
	case errors.Is(err, context.Canceled):
		return "interrupted"
	}
	return err.Error()
}

// oneLine folds s onto one printable line.
func oneLine(s string) string {
	return printable(strings.Join(strings.Fields(s), " "))
}
