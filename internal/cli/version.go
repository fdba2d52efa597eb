package cli

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/credflow/credflow/internal/server"
)

// version is the build's version. There is one, server.Version, so that one
// -ldflags "-X github.com/credflow/credflow/internal/server.Version=1.2.3"
// sets what `credflow version`, the server's log and the API all report.
func version() string { return server.Version }

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
