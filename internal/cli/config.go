package cli

import (
	"errors"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/credflow/credflow/internal/config"
)

// configCheckOptions is `credflow config check FILE`.
type configCheckOptions struct {
	IO   *Streams
	File string
}

func newCmdConfig(f *factory) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "config",
		Short: "Check a server configuration file",
		Args:  cobra.ArbitraryArgs,
		RunE:  runGroup,
	}
	cmd.AddCommand(newCmdConfigCheck(f, nil))
	return cmd
}

func newCmdConfigCheck(f *factory, runF func(*configCheckOptions) error) *cobra.Command {
	opts := &configCheckOptions{IO: f.streams}
	return &cobra.Command{
		Use:   "check FILE",
		Short: "Check a configuration file for credflow serve --config",
		Long: `Check a configuration file as 'credflow serve --config FILE' reads it: its
keys, their values and the settings they make together (over the defaults;
CREDFLOW_* variables and flags are not considered). Each problem is printed
on a line of its own, with the file's line where it has one, and the command
exits non-zero. Nothing is opened or contacted.`,
		Args: exactArgs("FILE"),
		RunE: func(_ *cobra.Command, args []string) error {
			opts.File = args[0]
			if runF != nil {
				return runF(opts)
			}
			return configCheckRun(opts)
		},
	}
}

func configCheckRun(opts *configCheckOptions) error {
	file, err := config.LoadFile(opts.File)
	if err == nil {
		c := config.Defaults()
		file.Apply(&c)
		err = c.Validate()
	}
	if err == nil {
		_, err := fmt.Fprintf(opts.IO.Out, "%s: ok\n", opts.File)
		return err
	}
	problems := []error{err}
	if joined, ok := err.(interface{ Unwrap() []error }); ok {
		problems = flatten(joined.Unwrap())
	}
	for _, p := range problems {
		fmt.Fprintf(opts.IO.ErrOut, "%s: %s\n", opts.File, oneLine(p.Error()))
	}
	if len(problems) == 1 {
		return errors.New(opts.File + ": 1 problem")
	}
	return fmt.Errorf("%s: %d problems", opts.File, len(problems))
}

// flatten lists the leaves of joined errors.
func flatten(errs []error) []error {
	var out []error
	for _, e := range errs {
		if j, ok := e.(interface{ Unwrap() []error }); ok {
			out = append(out, flatten(j.Unwrap())...)
			continue
		}
		out = append(out, e)
	}
	return out
}
