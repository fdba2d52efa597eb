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
		newCmdList(f, &cobra.Command{
			Use:   "list [--limit N] [--cursor C]",
			Short: "List connections, with their status",
		}, (*client.Client).ListConnections, connectionTable),
		newCmdShow(f, &cobra.Command{
			Use:   "get ID",
			Short: "Show a connection (by id or name)",
			Args:  exactArgs("ID"),
		}, (*client.Client).GetConnection, connectionFields),
		newCmdDelete(f, &cobra.Command{
			Use:   "delete ID",
			Short: "Delete a connection",
			Args:  exactArgs("ID"),
		}, (*client.Client).DeleteConnection, "Deleted connection"),
		newCmdItems(f, &cobra.Command{
			Use:   "runners ID",
			Short: "Show which secret version each runner received last, and when",
			Args:  exactArgs("ID"),
		}, (*client.Client).ConnectionRunners, connectionRunnerTable),
		newCmdConnectionResolve(f, nil),
		newCmdOwner(f, connectionOwner, nil),
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
	return printDetail(opts.IO, opts.Format, cn, connectionFields)
}

func connectionFields(c *client.Connection) []field {
	return []field{
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
	}
}

func connectionTable(o *listOptions) tableOf[client.Connection] {
	return tableOf[client.Connection]{
		none:    "No connections.",
		headers: []string{"NAME", "CREDENTIAL", "RUNNER GROUP", "OWNER", "STATUS", "LAST ERROR"},
		row: func(cn client.Connection) []string {
			return []string{cn.Name, cn.Credential, cn.RunnerGroup, cn.Owner, string(cn.Status), truncate(cn.LastError, 60, o.IO.OutTTY)}
		},
	}
}

func connectionRunnerTable(o *idOptions) tableOf[client.ConnectionRunner] {
	return tableOf[client.ConnectionRunner]{
		none:    fmt.Sprintf("No runner has resolved %s yet.", o.ID),
		headers: []string{"RUNNER", "SECRET VERSION", "RESOLVED"},
		row: func(r client.ConnectionRunner) []string {
			return []string{r.Runner, r.SecretVersion, formatTime(r.ResolvedAt)}
		},
	}
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
