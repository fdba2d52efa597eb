package cli

import (
	"context"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/credflow/credflow/client"
)

func newCmdCredential(f *factory) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "credential",
		Short: "Manage credentials",
		Long: `A credential pairs a username variable with a password variable. The
password variable must be a secret variable, so the password itself stays in
its store. The two variables cannot change after creation.`,
		Aliases: []string{"cred"},
		RunE:    runGroup,
	}
	cmd.AddCommand(
		newCmdCredentialCreate(f, nil),
		newCmdList(f, &cobra.Command{
			Use:   "list [--limit N] [--cursor C]",
			Short: "List credentials",
		}, (*client.Client).ListCredentials, credentialTable),
		newCmdShow(f, &cobra.Command{
			Use:   "get ID",
			Short: "Show a credential (by id or name)",
			Args:  exactArgs("ID"),
		}, (*client.Client).GetCredential, credentialFields),
		newCmdCredentialUpdate(f, nil),
		newCmdCredentialDelete(f, nil),
		newCmdID(f, &cobra.Command{
			Use:   "deps ID",
			Short: "List the connections that use a credential",
			Args:  exactArgs("ID"),
		}, credentialDepsRun),
		newCmdCredentialDisable(f, nil),
		newCmdCredentialEnable(f, nil),
		newCmdShare(f, credentialShares, nil),
		newCmdUnshare(f, credentialShares, nil),
		newCmdShares(f, credentialShares),
		newCmdOwner(f, credentialOwner, nil),
	)
	return cmd
}

// credentialCreateOptions is `credflow credential create`.
type credentialCreateOptions struct {
	IO     *Streams
	Client func() (*client.Client, error)
	Format outputFormat

	Request client.CreateCredentialRequest
}

func newCmdCredentialCreate(f *factory, runF func(*credentialCreateOptions) error) *cobra.Command {
	opts := &credentialCreateOptions{IO: f.streams, Client: f.client}
	cmd := &cobra.Command{
		Use:     "create --name NAME --username VAR --password VAR",
		Short:   "Create a credential from two environment variables",
		Example: `  credflow credential create --name "SQL prod" --username cf_SQLUser --password cf_SQLPassword`,
		Args:    exactArgs(),
		RunE: func(cmd *cobra.Command, _ []string) error {
			opts.Format = f.format()
			if runF != nil {
				return runF(opts)
			}
			return credentialCreateRun(cmd.Context(), opts)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&opts.Request.Name, "name", "", "unique name (required)")
	fl.StringVar(&opts.Request.Description, "description", "", "description")
	fl.StringVar(&opts.Request.Username, "username", "", "the username's environment variable, by id or schema name (required)")
	fl.StringVar(&opts.Request.Password, "password", "", "the password's secret environment variable, by id or schema name, never a password (required)")
	_ = cmd.MarkFlagRequired("name")
	_ = cmd.MarkFlagRequired("username")
	_ = cmd.MarkFlagRequired("password")
	return cmd
}

func credentialCreateRun(ctx context.Context, opts *credentialCreateOptions) error {
	c, err := opts.Client()
	if err != nil {
		return err
	}
	cr, err := c.CreateCredential(ctx, opts.Request)
	if err != nil {
		return err
	}
	return printDetail(opts.IO, opts.Format, cr, credentialFields)
}

func credentialFields(c *client.Credential) []field {
	fields := []field{
		{"ID", c.ID},
		{"Name", c.Name},
		{"Description", c.Description},
		{"Store", c.Store},
		{"Username", c.Username},
		{"Password", c.Password},
		{"Owner", c.Owner},
		{"Enabled", yesNo(c.Enabled)},
	}
	if c.Status != "" {
		fields = append(fields, field{"Status", string(c.Status)})
	}
	return append(fields, field{"Created", formatTime(c.CreatedAt)}, field{"Updated", formatTime(c.UpdatedAt)})
}

func credentialTable(*listOptions) tableOf[client.Credential] {
	return tableOf[client.Credential]{
		none:    "No credentials.",
		headers: []string{"NAME", "STORE", "USERNAME", "PASSWORD", "OWNER", "ENABLED", "STATUS"},
		row: func(cr client.Credential) []string {
			return []string{cr.Name, cr.Store, cr.Username, cr.Password, cr.Owner, yesNo(cr.Enabled), string(cr.Status)}
		},
	}
}

// credentialUpdateOptions is `credflow credential update`; only the flags
// given are sent. --username and --password are sent too, so that the
// server's refusal to change them (409 immutable_field) reaches the user.
type credentialUpdateOptions struct {
	IO     *Streams
	Client func() (*client.Client, error)
	Format outputFormat

	ID      string
	Request client.UpdateCredentialRequest
}

func newCmdCredentialUpdate(f *factory, runF func(*credentialUpdateOptions) error) *cobra.Command {
	opts := &credentialUpdateOptions{IO: f.streams, Client: f.client}
	var name, description, username, password string
	cmd := &cobra.Command{
		Use:   "update ID [--name NAME] [--description D]",
		Short: "Rename a credential or change its description",
		Args:  exactArgs("ID"),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Format = f.format()
			opts.ID = args[0]
			fl := cmd.Flags()
			r := client.UpdateCredentialRequest{}
			for _, o := range []struct {
				flag string
				v    *string
				dst  **string
			}{
				{"name", &name, &r.Name},
				{"description", &description, &r.Description},
				{"username", &username, &r.Username},
				{"password", &password, &r.Password},
			} {
				if fl.Changed(o.flag) {
					*o.dst = o.v
				}
			}
			if r == (client.UpdateCredentialRequest{}) {
				return usageErrorf("nothing to update: give --name or --description")
			}
			opts.Request = r
			if runF != nil {
				return runF(opts)
			}
			return credentialUpdateRun(cmd.Context(), opts)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&name, "name", "", "new name")
	fl.StringVar(&description, "description", "", "new description")
	fl.StringVar(&username, "username", "", "the username variable (cannot change after creation)")
	fl.StringVar(&password, "password", "", "the password variable (cannot change after creation)")
	return cmd
}

func credentialUpdateRun(ctx context.Context, opts *credentialUpdateOptions) error {
	c, err := opts.Client()
	if err != nil {
		return err
	}
	cr, err := c.UpdateCredential(ctx, opts.ID, opts.Request)
	if err != nil {
		return err
	}
	return printDetail(opts.IO, opts.Format, cr, credentialFields)
}

// credentialDeleteOptions is `credflow credential delete`.
type credentialDeleteOptions struct {
	IO     *Streams
	Client func() (*client.Client, error)
	Format outputFormat

	ID    string
	Force bool
}

func newCmdCredentialDelete(f *factory, runF func(*credentialDeleteOptions) error) *cobra.Command {
	opts := &credentialDeleteOptions{IO: f.streams, Client: f.client}
	cmd := &cobra.Command{
		Use:   "delete ID [--force]",
		Short: "Delete a credential (its variables stay)",
		Long: `Delete a credential; its variables stay. The server refuses while connections
use it, unless --force, which deletes it anyway and marks those connections
broken.`,
		Args: exactArgs("ID"),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Format = f.format()
			opts.ID = args[0]
			if runF != nil {
				return runF(opts)
			}
			return credentialDeleteRun(cmd.Context(), opts)
		},
	}
	cmd.Flags().BoolVar(&opts.Force, "force", false, "delete even while connections use it, breaking them")
	return cmd
}

func credentialDeleteRun(ctx context.Context, opts *credentialDeleteOptions) error {
	c, err := opts.Client()
	if err != nil {
		return err
	}
	del := c.DeleteCredential
	if opts.Force {
		del = c.ForceDeleteCredential
	}
	if err := del(ctx, opts.ID); err != nil {
		return withFlagHint(err, fmt.Sprintf("Delete those connections first, or run 'credflow credential delete %s --force' to mark them broken.", opts.ID))
	}
	printDone(opts.IO, opts.Format, "Deleted credential %s.", opts.ID)
	return nil
}

// credentialEnableOptions is `credflow credential enable` and `disable`.
type credentialEnableOptions struct {
	IO     *Streams
	Client func() (*client.Client, error)
	Format outputFormat

	ID      string
	Disable bool
}

func newCmdCredentialDisable(f *factory, runF func(*credentialEnableOptions) error) *cobra.Command {
	return credentialEnableCmd(f, runF, "disable", "Stop every resolve of a credential at once, until it is enabled")
}

func newCmdCredentialEnable(f *factory, runF func(*credentialEnableOptions) error) *cobra.Command {
	return credentialEnableCmd(f, runF, "enable", "Let a disabled credential resolve again")
}

func credentialEnableCmd(f *factory, runF func(*credentialEnableOptions) error, verb, short string) *cobra.Command {
	opts := &credentialEnableOptions{IO: f.streams, Client: f.client, Disable: verb == "disable"}
	return &cobra.Command{
		Use:   verb + " ID",
		Short: short,
		Args:  exactArgs("ID"),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Format = f.format()
			opts.ID = args[0]
			if runF != nil {
				return runF(opts)
			}
			return credentialEnableRun(cmd.Context(), opts)
		},
	}
}

func credentialEnableRun(ctx context.Context, opts *credentialEnableOptions) error {
	c, err := opts.Client()
	if err != nil {
		return err
	}
	set := c.EnableCredential
	if opts.Disable {
		set = c.DisableCredential
	}
	cr, err := set(ctx, opts.ID)
	if err != nil {
		return err
	}
	return printDetail(opts.IO, opts.Format, cr, credentialFields)
}

func credentialDepsRun(ctx context.Context, c *client.Client, opts *idOptions) error {
	d, err := c.CredentialDependencies(ctx, opts.ID)
	if err != nil {
		return err
	}
	if d.Connections == nil {
		d.Connections = []client.Dependent{}
	}
	if opts.Format == formatJSON {
		return writeJSON(opts.IO.Out, d)
	}
	return writeDependents(opts.IO, opts.ID, map[string][]client.Dependent{"connection": d.Connections}, "connection")
}
