package cli

import (
	"context"

	"github.com/spf13/cobra"

	"github.com/credflow/credflow/client"
)

// The commands every noun has in the same form: one that names an object by
// its only argument and calls one client method on it (get, delete, ...),
// and a paginated list. Commands with flags of their own keep their own
// Options and a runF for tests; these have nothing to parse but the argument.

// idOptions is a command whose only argument names the object it acts on,
// by id or by name.
type idOptions struct {
	IO     *Streams
	Client func() (*client.Client, error)
	Format outputFormat

	ID string
}

// newCmdID completes cmd, which declares Use, Short and Args (one name), into
// a command that calls run with a client and the argument.
func newCmdID(f *factory, cmd *cobra.Command, run func(context.Context, *client.Client, *idOptions) error) *cobra.Command {
	opts := &idOptions{IO: f.streams, Client: f.client}
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		opts.Format = f.format()
		opts.ID = args[0]
		c, err := opts.Client()
		if err != nil {
			return err
		}
		return run(cmd.Context(), c, opts)
	}
	return cmd
}

// newCmdShow is a newCmdID whose method returns one object, printed whole.
func newCmdShow[T any](f *factory, cmd *cobra.Command, call func(*client.Client, context.Context, string) (*T, error), fields func(*T) []field) *cobra.Command {
	return newCmdID(f, cmd, func(ctx context.Context, c *client.Client, o *idOptions) error {
		v, err := call(c, ctx, o.ID)
		if err != nil {
			return err
		}
		return printDetail(o.IO, o.Format, v, fields)
	})
}

// newCmdItems is a newCmdID whose method returns a list, sent whole.
func newCmdItems[T any](f *factory, cmd *cobra.Command, call func(*client.Client, context.Context, string) ([]T, error), table func(*idOptions) tableOf[T]) *cobra.Command {
	return newCmdID(f, cmd, func(ctx context.Context, c *client.Client, o *idOptions) error {
		items, err := call(c, ctx, o.ID)
		if err != nil {
			return err
		}
		return writeList(o.IO, o.Format, items, table(o))
	})
}

// newCmdDelete is a newCmdID whose method returns nothing: people are told
// "<done> <ID>.", scripts (-o json) get no output.
func newCmdDelete(f *factory, cmd *cobra.Command, call func(*client.Client, context.Context, string) error, done string) *cobra.Command {
	return newCmdID(f, cmd, func(ctx context.Context, c *client.Client, o *idOptions) error {
		if err := call(c, ctx, o.ID); err != nil {
			return err
		}
		printDone(o.IO, o.Format, "%s %s.", done, o.ID)
		return nil
	})
}

// listOptions is `credflow NOUN list`: one page of a listing.
type listOptions struct {
	IO     *Streams
	Client func() (*client.Client, error)
	Format outputFormat

	List client.ListOptions
}

// listFunc is a client method that returns one page of a listing.
type listFunc[T any] func(*client.Client, context.Context, client.ListOptions) (*client.Page[T], error)

// newCmdList completes cmd, which declares Use and Short, into a listing
// with --limit and --cursor and no arguments.
func newCmdList[T any](f *factory, cmd *cobra.Command, list listFunc[T], table func(*listOptions) tableOf[T]) *cobra.Command {
	opts := &listOptions{IO: f.streams, Client: f.client}
	cmd.Args = exactArgs()
	cmd.RunE = func(cmd *cobra.Command, _ []string) error {
		opts.Format = f.format()
		if err := checkLimit(opts.List.Limit); err != nil {
			return err
		}
		return listRun(cmd.Context(), opts, list, table)
	}
	addPageFlags(cmd, &opts.List)
	return cmd
}

func listRun[T any](ctx context.Context, opts *listOptions, list listFunc[T], table func(*listOptions) tableOf[T]) error {
	c, err := opts.Client()
	if err != nil {
		return err
	}
	page, err := list(c, ctx, opts.List)
	if err != nil {
		return err
	}
	return writePage(opts.IO, opts.Format, page, table(opts))
}

func addPageFlags(cmd *cobra.Command, o *client.ListOptions) {
	cmd.Flags().IntVar(&o.Limit, "limit", 0, "at most this many items (default: the server's page size)")
	cmd.Flags().StringVar(&o.Cursor, "cursor", "", "continue from a previous listing's cursor")
}

func checkLimit(limit int) error {
	if limit < 0 {
		return usageErrorf("--limit must not be negative")
	}
	return nil
}
