package cli

import (
	"context"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/credflow/credflow/client"
)

func newCmdRunnerGroup(f *factory) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "runner-group",
		Short: "Manage runner groups: the machines a connection may be resolved from",
		Long: `A runner group is a set of runners (users with the runner role). A
connection names one runner group, and only its runners may resolve it.
Put a runner in a group with 'credflow user create NAME --role runner
--runner-group GROUP'.`,
		RunE: runGroup,
	}
	cmd.AddCommand(
		newCmdRunnerGroupCreate(f, nil),
		newCmdRunnerGroupList(f, nil),
		newCmdRunnerGroupGet(f, nil),
		newCmdRunnerGroupDelete(f, nil),
	)
	return cmd
}

func printRunnerGroup(s *Streams, format outputFormat, g *client.RunnerGroup) error {
	if format == formatJSON {
		return writeJSON(s.Out, g)
	}
	return writeFields(s.Out, []field{
		{"ID", g.ID},
		{"Name", g.Name},
		{"Created", formatTime(g.CreatedAt)},
	})
}

// runnerGroupCreateOptions is `credflow runner-group create`.
type runnerGroupCreateOptions struct {
	IO     *Streams
	Client func() (*client.Client, error)
	Format outputFormat

	Name string
}

func newCmdRunnerGroupCreate(f *factory, runF func(*runnerGroupCreateOptions) error) *cobra.Command {
	opts := &runnerGroupCreateOptions{IO: f.streams, Client: f.client}
	return &cobra.Command{
		Use:   "create NAME",
		Short: "Create a runner group (admins)",
		Args:  exactArgs("NAME"),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Format = f.format()
			opts.Name = args[0]
			if runF != nil {
				return runF(opts)
			}
			return runnerGroupCreateRun(cmd.Context(), opts)
		},
	}
}

func runnerGroupCreateRun(ctx context.Context, opts *runnerGroupCreateOptions) error {
	c, err := opts.Client()
	if err != nil {
		return err
	}
	g, err := c.CreateRunnerGroup(ctx, opts.Name)
	if err != nil {
		return err
	}
	return printRunnerGroup(opts.IO, opts.Format, g)
}

// runnerGroupListOptions is `credflow runner-group list`.
type runnerGroupListOptions struct {
	IO     *Streams
	Client func() (*client.Client, error)
	Format outputFormat

	List client.ListOptions
}

func newCmdRunnerGroupList(f *factory, runF func(*runnerGroupListOptions) error) *cobra.Command {
	opts := &runnerGroupListOptions{IO: f.streams, Client: f.client}
	cmd := &cobra.Command{
		Use:   "list [--limit N] [--cursor C]",
		Short: "List runner groups",
		Args:  exactArgs(),
		RunE: func(cmd *cobra.Command, _ []string) error {
			opts.Format = f.format()
			if opts.List.Limit < 0 {
				return usageErrorf("--limit must not be negative")
			}
			if runF != nil {
				return runF(opts)
			}
			return runnerGroupListRun(cmd.Context(), opts)
		},
	}
	addPageFlags(cmd, &opts.List)
	return cmd
}

func runnerGroupListRun(ctx context.Context, opts *runnerGroupListOptions) error {
	c, err := opts.Client()
	if err != nil {
		return err
	}
	page, err := c.ListRunnerGroups(ctx, opts.List)
	if err != nil {
		return err
	}
	if page.Items == nil {
		page.Items = []client.RunnerGroup{}
	}
	if opts.Format == formatJSON {
		return writeJSON(opts.IO.Out, page)
	}
	if len(page.Items) == 0 {
		fmt.Fprintln(opts.IO.Out, "No runner groups.")
		return nil
	}
	t := newTable(opts.IO.Out, "NAME", "ID", "CREATED")
	for _, g := range page.Items {
		t.row(g.Name, g.ID, formatTime(g.CreatedAt))
	}
	if err := t.flush(); err != nil {
		return err
	}
	nextPageHint(opts.IO, page.NextCursor)
	return nil
}

// runnerGroupGetOptions is `credflow runner-group get`.
type runnerGroupGetOptions struct {
	IO     *Streams
	Client func() (*client.Client, error)
	Format outputFormat

	Name string
}

func newCmdRunnerGroupGet(f *factory, runF func(*runnerGroupGetOptions) error) *cobra.Command {
	opts := &runnerGroupGetOptions{IO: f.streams, Client: f.client}
	return &cobra.Command{
		Use:   "get NAME",
		Short: "Show a runner group (by name or id)",
		Args:  exactArgs("NAME"),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Format = f.format()
			opts.Name = args[0]
			if runF != nil {
				return runF(opts)
			}
			return runnerGroupGetRun(cmd.Context(), opts)
		},
	}
}

func runnerGroupGetRun(ctx context.Context, opts *runnerGroupGetOptions) error {
	c, err := opts.Client()
	if err != nil {
		return err
	}
	g, err := c.GetRunnerGroup(ctx, opts.Name)
	if err != nil {
		return err
	}
	return printRunnerGroup(opts.IO, opts.Format, g)
}

// runnerGroupDeleteOptions is `credflow runner-group delete`.
type runnerGroupDeleteOptions struct {
	IO     *Streams
	Client func() (*client.Client, error)
	Format outputFormat

	Name string
}

func newCmdRunnerGroupDelete(f *factory, runF func(*runnerGroupDeleteOptions) error) *cobra.Command {
	opts := &runnerGroupDeleteOptions{IO: f.streams, Client: f.client}
	return &cobra.Command{
		Use:   "delete NAME",
		Short: "Delete a runner group no runner or connection uses (admins)",
		Args:  exactArgs("NAME"),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Format = f.format()
			opts.Name = args[0]
			if runF != nil {
				return runF(opts)
			}
			return runnerGroupDeleteRun(cmd.Context(), opts)
		},
	}
}

func runnerGroupDeleteRun(ctx context.Context, opts *runnerGroupDeleteOptions) error {
	c, err := opts.Client()
	if err != nil {
		return err
	}
	if err := c.DeleteRunnerGroup(ctx, opts.Name); err != nil {
		return err
	}
	if opts.Format == formatTable {
		fmt.Fprintf(opts.IO.Out, "Deleted runner group %s.\n", opts.Name)
	}
	return nil
}
