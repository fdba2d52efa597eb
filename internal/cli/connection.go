package cli

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/credflow/credflow/client"
)

func newCmdConnection(f *factory) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "connection",
		Short: "Manage connections: credentials bound to runner groups",
		Long: `A connection binds a credential to a runner group. The runners of that group
resolve it at run time ('credflow run --connection NAME -- COMMAND') and get
the username and password, read from the store at that moment.`,
		Aliases: []string{"conn"},
		RunE:    runGroup,
	}
	cmd.AddCommand(
		newCmdConnectionCreate(f, nil),
		newCmdConnectionList(f, nil),
		newCmdConnectionGet(f, nil),
		newCmdConnectionDelete(f, nil),
		newCmdConnectionRunners(f, nil),
		newCmdConnectionResolve(f, nil),
	)
	return cmd
}

// connectionCreateOptions is `credflow connection create`.
type connectionCreateOptions struct {
	IO     *Streams
	Client func() (*client.Client, error)
	Format outputFormat

	Request client.CreateConnectionRequest
}

func newCmdConnectionCreate(f *factory, runF func(*connectionCreateOptions) error) *cobra.Command {
	opts := &connectionCreateOptions{IO: f.streams, Client: f.client}
	cmd := &cobra.Command{
		Use:     "create --name N --credential C --runner-group G",
		Short:   "Bind a credential you may use to a runner group",
		Example: `  credflow connection create --name reports-db --credential "SQL reporting" --runner-group build-agents`,
		Args:    exactArgs(),
		RunE: func(cmd *cobra.Command, _ []string) error {
			opts.Format = f.format()
			if runF != nil {
				return runF(opts)
			}
			return connectionCreateRun(cmd.Context(), opts)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&opts.Request.Name, "name", "", "unique name (required)")
	fl.StringVar(&opts.Request.Credential, "credential", "", "the credential, by id or name (required)")
	fl.StringVar(&opts.Request.RunnerGroup, "runner-group", "", "the runner group whose runners may resolve it, by id or name (required)")
	_ = cmd.MarkFlagRequired("name")
	_ = cmd.MarkFlagRequired("credential")
	_ = cmd.MarkFlagRequired("runner-group")
	return cmd
}

func connectionCreateRun(ctx context.Context, opts *connectionCreateOptions) error {
	c, err := opts.Client()
	if err != nil {
		return err
	}
	cn, err := c.CreateConnection(ctx, opts.Request)
	if err != nil {
		return err
	}
	return printConnection(opts.IO, opts.Format, cn)
}

func printConnection(s *Streams, format outputFormat, c *client.Connection) error {
	if format == formatJSON {
		return writeJSON(s.Out, c)
	}
	return writeFields(s.Out, []field{
		{"ID", c.ID},
		{"Name", c.Name},
		{"Credential", c.Credential},
		{"Runner group", c.RunnerGroup},
		{"Owner", c.Owner},
		{"Status", string(c.Status)},
		{"Last error", c.LastError},
		{"Last error at", formatTimePtr(c.LastErrorAt)},
		{"Last resolved", formatTimePtr(c.LastResolvedAt)},
		{"Secret version", c.LastSecretVersion},
		{"Created", formatTime(c.CreatedAt)},
		{"Updated", formatTime(c.UpdatedAt)},
	})
}

// connectionListOptions is `credflow connection list`.
type connectionListOptions struct {
	IO     *Streams
	Client func() (*client.Client, error)
	Format outputFormat

	List client.ListOptions
}

func newCmdConnectionList(f *factory, runF func(*connectionListOptions) error) *cobra.Command {
	opts := &connectionListOptions{IO: f.streams, Client: f.client}
	cmd := &cobra.Command{
		Use:   "list [--limit N] [--cursor C]",
		Short: "List connections, with their status",
		Args:  exactArgs(),
		RunE: func(cmd *cobra.Command, _ []string) error {
			opts.Format = f.format()
			if opts.List.Limit < 0 {
				return usageErrorf("--limit must not be negative")
			}
			if runF != nil {
				return runF(opts)
			}
			return connectionListRun(cmd.Context(), opts)
		},
	}
	addPageFlags(cmd, &opts.List)
	return cmd
}

func connectionListRun(ctx context.Context, opts *connectionListOptions) error {
	c, err := opts.Client()
	if err != nil {
		return err
	}
	page, err := c.ListConnections(ctx, opts.List)
	if err != nil {
		return err
	}
	if page.Items == nil {
		page.Items = []client.Connection{}
	}
	if opts.Format == formatJSON {
		return writeJSON(opts.IO.Out, page)
	}
	if len(page.Items) == 0 {
		fmt.Fprintln(opts.IO.Out, "No connections.")
		return nil
	}
	t := newTable(opts.IO.Out, "NAME", "CREDENTIAL", "RUNNER GROUP", "OWNER", "STATUS", "LAST ERROR")
	for _, cn := range page.Items {
		t.row(cn.Name, cn.Credential, cn.RunnerGroup, cn.Owner, string(cn.Status), truncate(cn.LastError, 60, opts.IO.OutTTY))
	}
	if err := t.flush(); err != nil {
		return err
	}
	nextPageHint(opts.IO, page.NextCursor)
	return nil
}

// connectionGetOptions is `credflow connection get`.
type connectionGetOptions struct {
	IO     *Streams
	Client func() (*client.Client, error)
	Format outputFormat

	ID string
}

func newCmdConnectionGet(f *factory, runF func(*connectionGetOptions) error) *cobra.Command {
	opts := &connectionGetOptions{IO: f.streams, Client: f.client}
	return &cobra.Command{
		Use:   "get ID",
		Short: "Show a connection (by id or name)",
		Args:  exactArgs("ID"),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Format = f.format()
			opts.ID = args[0]
			if runF != nil {
				return runF(opts)
			}
			return connectionGetRun(cmd.Context(), opts)
		},
	}
}

func connectionGetRun(ctx context.Context, opts *connectionGetOptions) error {
	c, err := opts.Client()
	if err != nil {
		return err
	}
	cn, err := c.GetConnection(ctx, opts.ID)
	if err != nil {
		return err
	}
	return printConnection(opts.IO, opts.Format, cn)
}

// connectionDeleteOptions is `credflow connection delete`.
type connectionDeleteOptions struct {
	IO     *Streams
	Client func() (*client.Client, error)
	Format outputFormat

	ID string
}

func newCmdConnectionDelete(f *factory, runF func(*connectionDeleteOptions) error) *cobra.Command {
	opts := &connectionDeleteOptions{IO: f.streams, Client: f.client}
	return &cobra.Command{
		Use:   "delete ID",
		Short: "Delete a connection",
		Args:  exactArgs("ID"),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Format = f.format()
			opts.ID = args[0]
			if runF != nil {
				return runF(opts)
			}
			return connectionDeleteRun(cmd.Context(), opts)
		},
	}
}

func connectionDeleteRun(ctx context.Context, opts *connectionDeleteOptions) error {
	c, err := opts.Client()
	if err != nil {
		return err
	}
	if err := c.DeleteConnection(ctx, opts.ID); err != nil {
		return err
	}
	if opts.Format == formatTable {
		fmt.Fprintf(opts.IO.Out, "Deleted connection %s.\n", opts.ID)
	}
	return nil
}

// connectionRunnersOptions is `credflow connection runners`.
type connectionRunnersOptions struct {
	IO     *Streams
	Client func() (*client.Client, error)
	Format outputFormat

	ID string
}

func newCmdConnectionRunners(f *factory, runF func(*connectionRunnersOptions) error) *cobra.Command {
	opts := &connectionRunnersOptions{IO: f.streams, Client: f.client}
	return &cobra.Command{
		Use:   "runners ID",
		Short: "Show which secret version each runner received last, and when",
		Args:  exactArgs("ID"),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Format = f.format()
			opts.ID = args[0]
			if runF != nil {
				return runF(opts)
			}
			return connectionRunnersRun(cmd.Context(), opts)
		},
	}
}

func connectionRunnersRun(ctx context.Context, opts *connectionRunnersOptions) error {
	c, err := opts.Client()
	if err != nil {
		return err
	}
	runners, err := c.ConnectionRunners(ctx, opts.ID)
	if err != nil {
		return err
	}
	if runners == nil {
		runners = []client.ConnectionRunner{}
	}
	if opts.Format == formatJSON {
		return writeJSON(opts.IO.Out, client.Page[client.ConnectionRunner]{Items: runners})
	}
	if len(runners) == 0 {
		fmt.Fprintf(opts.IO.Out, "No runner has resolved %s yet.\n", opts.ID)
		return nil
	}
	t := newTable(opts.IO.Out, "RUNNER", "SECRET VERSION", "RESOLVED")
	for _, r := range runners {
		t.row(r.Runner, r.SecretVersion, formatTime(r.ResolvedAt))
	}
	return t.flush()
}

// connectionResolveOptions is `credflow connection resolve`.
type connectionResolveOptions struct {
	IO     *Streams
	Client func() (*client.Client, error)

	Connection string
	Reveal     bool
}

func newCmdConnectionResolve(f *factory, runF func(*connectionResolveOptions) error) *cobra.Command {
	opts := &connectionResolveOptions{IO: f.streams, Client: f.client}
	cmd := &cobra.Command{
		Use:   "resolve NAME [--reveal]",
		Short: "Print a connection's username and password as JSON, for scripts (runners)",
		Long: `Resolve a connection, as a runner of its runner group, and print the result
as JSON with the username and password in clear, whatever --output says.

It refuses to print to a terminal unless --reveal is given, so that a password
does not land in a screen or scroll-back by accident. To hand the values to a
command without printing them at all, use 'credflow run'.`,
		Example: `  credflow connection resolve reports-db | jq -r .username`,
		Args:    exactArgs("NAME"),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Connection = args[0]
			if runF != nil {
				return runF(opts)
			}
			return connectionResolveRun(cmd.Context(), opts)
		},
	}
	cmd.Flags().BoolVar(&opts.Reveal, "reveal", false, "print the values even to a terminal")
	return cmd
}

// resolvedJSON is what `connection resolve` prints: the values in clear.
type resolvedJSON struct {
	Username      string    `json:"username"`
	Password      string    `json:"password"`
	Credential    string    `json:"credential"`
	SecretVersion string    `json:"secretVersion"`
	ResolvedAt    time.Time `json:"resolvedAt"`
	Stale         bool      `json:"stale"`
}

func connectionResolveRun(ctx context.Context, opts *connectionResolveOptions) error {
	if opts.IO.OutTTY && !opts.Reveal {
		return &refusalError{errors.New("not printing a password to a terminal: pipe the output, pass --reveal, or use 'credflow run'")}
	}
	c, err := opts.Client()
	if err != nil {
		return err
	}
	r, err := c.Resolve(ctx, opts.Connection)
	if err != nil {
		return err
	}
	return writeJSON(opts.IO.Out, resolvedJSON{
		Username:      r.Username.Reveal(),
		Password:      r.Password.Reveal(),
		Credential:    r.Credential,
		SecretVersion: r.SecretVersion,
		ResolvedAt:    r.ResolvedAt,
		Stale:         r.Stale,
	})
}
