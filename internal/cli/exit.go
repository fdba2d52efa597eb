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
	exitUsage = 2 // the command was called wrongly; nothing was sent
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

// reportError prints err on w and returns the exit code. ran says whether
// the command's RunE was reached: anything failing before it is usage.
func reportError(w io.Writer, cmd *cobra.Command, err error, ran bool) int {
	if err == nil {
		return exitOK
	}
	var ue *usageError
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
