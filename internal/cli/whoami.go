package cli

import (
	"context"
	"strings"

	"github.com/spf13/cobra"

	"github.com/credflow/credflow/client"
)

// whoamiOptions is `credflow whoami`.
type whoamiOptions struct {
	IO     *Streams
	Client func() (*client.Client, error)
	Format outputFormat
}

func newCmdWhoami(f *factory, runF func(*whoamiOptions) error) *cobra.Command {
	opts := &whoamiOptions{IO: f.streams, Client: f.client}
	return &cobra.Command{
		Use:   "whoami",
		Short: "Show who the token belongs to: name, instance role and groups",
		Args:  exactArgs(),
		RunE: func(cmd *cobra.Command, _ []string) error {
			opts.Format = f.format()
			if runF != nil {
				return runF(opts)
			}
			return whoamiRun(cmd.Context(), opts)
		},
	}
}

func whoamiRun(ctx context.Context, opts *whoamiOptions) error {
	c, err := opts.Client()
	if err != nil {
		return err
	}
	me, err := c.Me(ctx)
	if err != nil {
		return err
	}
	if me.Groups == nil {
		me.Groups = []string{}
	}
	return printDetail(opts.IO, opts.Format, me, meFields)
}

func meFields(me *client.Me) []field {
	return []field{
		{"ID", me.ID},
		{"Name", me.Name},
		{"Role", string(me.Role)},
		{"Groups", strings.Join(me.Groups, ", ")},
	}
}
