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
// the command's RunE was reached: anything failing before it is usage.
func reportError(w io.Writer, cmd *cobra.Command, err error, ran bool) int {
	if err == nil {
		return exitOK
	}
	var (
		ue   *usageError
		re   *refusalError
		se   *startError
		exit *childExit
	)
	switch {
	case errors.As(err, &exit):
		if exit.signal > 0 {
			return exitSignalBase + exit.signal
		}
		return exit.code
	case errors.As(err, &re):
		fmt.Fprintf(w, "Error: %s\n", oneLine(re.Error()))
		return exitUsage
	case errors.As(err, &se):
		fmt.Fprintf(w, "Error: %s\n", oneLine(se.Error()))
		if se.notFound {
			return exitNotFound
		}
		return exitCannotRun
	}
	if errors.As(err, &ue) || !ran {
		fmt.Fprintf(w, "Error: %s\n", err)
		if cmd != nil {
			fmt.Fprintf(w, "Run '%s --help' for usage.\n", cmd.CommandPath())
		}
		return exitUsage
	}
	fmt.Fprintf(w, "Error: %s\n", oneLine(message(err)))
	return exitError
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

func oneLine(s string) string {
	return strings.Join(strings.Fields(s), " ")
}
