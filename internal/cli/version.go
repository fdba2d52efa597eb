package cli

import (
	"fmt"

	"github.com/spf13/cobra"

	buildversion "github.com/credflow/credflow/internal/version"
)

// version is the build's version, the same that the server's log and API
// document report (see package version).
func version() string { return buildversion.String() }

// versionOptions is `credflow version`.
type versionOptions struct {
	IO *Streams
}

func newCmdVersion(f *factory, runF func(*versionOptions) error) *cobra.Command {
	opts := &versionOptions{IO: f.streams}
	return &cobra.Command{
		Use:   "version",
		Short: "Print credflow's version",
		Args:  exactArgs(),
		RunE: func(*cobra.Command, []string) error {
			if runF != nil {
				return runF(opts)
			}
			return versionRun(opts)
		},
	}
}

func versionRun(opts *versionOptions) error {
	_, err := fmt.Fprintf(opts.IO.Out, "credflow %s\n", version())
	return err
}
