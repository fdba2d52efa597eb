package cli

import (
	"context"
	"errors"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/credflow/credflow/client"
)

// ownerOptions is `credflow credential owner`, `credflow env owner` and
// `credflow connection owner`.
type ownerOptions struct {
	IO     *Streams
	Client func() (*client.Client, error)
	Format outputFormat

	ID   string
	User string
}

// transferable is a kind of object whose owner can change.
type transferable[T any] struct {
	noun    string // "credential", "environment variable", "connection"
	command string // the noun's command: "credential", "env", "connection"
	idHelp  string // how the object is named on the command line
	long    string // what the transfer does, beyond the common words
	call    func(c *client.Client, ctx context.Context, id, user string) (*T, error)
	fields  func(*T) []field
}

var (
	credentialOwner = transferable[client.Credential]{
		noun: "credential", command: "credential", idHelp: "id or name",
		long: `The new owner also gets the use of the credential's two variables, as a
share would give. The previous owner keeps the credential as co-owner; they
can leave it with 'credflow credential unshare ID user:NAME'.`,
		call: (*client.Client).TransferCredential, fields: credentialFields,
	}
	variableOwner = transferable[client.EnvironmentVariable]{
		noun: "environment variable", command: "env", idHelp: "id or schema name",
		long: `The previous owner keeps the variable as co-owner; they can leave it with
'credflow env unshare ID user:NAME'.`,
		call: (*client.Client).TransferEnvironmentVariable, fields: variableFields,
	}
	connectionOwner = transferable[client.Connection]{
		noun: "connection", command: "connection", idHelp: "id or name",
		long: `Its owner or an admin may transfer a connection. The new owner must be able
to use its credential and both of the credential's variables: every resolve
checks that the owner still may. Share the credential with them first.`,
		call: (*client.Client).TransferConnection, fields: connectionFields,
	}
)

func newCmdOwner[T any](f *factory, kind transferable[T], runF func(*ownerOptions) error) *cobra.Command {
	opts := &ownerOptions{IO: f.streams, Client: f.client}
	cmd := &cobra.Command{
		Use:   "owner ID USER",
		Short: fmt.Sprintf("Give %s to another user (its owner, or an admin)", withArticle(kind.noun)),
		Long: fmt.Sprintf(`Make USER (user:<name> or a name) the owner of the %s ID (%s).
The new owner must be a user who is not a runner.

%s`, kind.noun, kind.idHelp, kind.long),
		Example: fmt.Sprintf("  credflow %s owner ID user:carol", kind.command),
		Args:    exactArgs("ID", "USER"),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Format = f.format()
			opts.ID, opts.User = args[0], args[1]
			if runF != nil {
				return runF(opts)
			}
			c, err := opts.Client()
			if err != nil {
				return err
			}
			v, err := kind.call(c, cmd.Context(), opts.ID, opts.User)
			if err != nil {
				return err
			}
			return printDetail(opts.IO, opts.Format, v, kind.fields)
		},
	}
	return cmd
}

// userDeleteOptions is `credflow user delete`.
type userDeleteOptions struct {
	IO     *Streams
	Client func() (*client.Client, error)
	Format outputFormat

	Name       string
	TransferTo string
}

func newCmdUserDelete(f *factory, runF func(*userDeleteOptions) error) *cobra.Command {
	opts := &userDeleteOptions{IO: f.streams, Client: f.client}
	cmd := &cobra.Command{
		Use:   "delete NAME [--transfer-to USER]",
		Short: "Delete a user, with their tokens",
		Long: `Delete a user, with their tokens, shares and grants. The server refuses while
they own credentials, environment variables or connections, unless
--transfer-to names another user: in the same step, that user becomes the
owner of everything the deleted user owned. Each move is in the audit trail
under its object. It is refused, and nothing changes, when the new owner may
not use the credential of a connection that moves to them.`,
		Example: `  credflow user delete bob --transfer-to carol`,
		Args:    exactArgs("NAME"),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Format = f.format()
			opts.Name = args[0]
			if cmd.Flags().Changed("transfer-to") && opts.TransferTo == "" {
				return usageErrorf("--transfer-to needs a user name")
			}
			if runF != nil {
				return runF(opts)
			}
			return userDeleteRun(cmd.Context(), opts)
		},
	}
	cmd.Flags().StringVar(&opts.TransferTo, "transfer-to", "", "the user who becomes the owner of everything the deleted user owns")
	return cmd
}

func userDeleteRun(ctx context.Context, opts *userDeleteOptions) error {
	c, err := opts.Client()
	if err != nil {
		return err
	}
	if opts.TransferTo == "" {
		err := c.DeleteUser(ctx, opts.Name)
		var apiErr *client.Error
		if errors.As(err, &apiErr) && apiErr.Code == "in_use" {
			return fmt.Errorf("user %s still owns credentials, environment variables or connections: "+
				"delete with --transfer-to USER to make another user their owner in the same step", opts.Name)
		}
		if err != nil {
			return err
		}
		printDone(opts.IO, opts.Format, "Deleted user %s.", opts.Name)
		return nil
	}
	if err := c.DeleteUserTransferring(ctx, opts.Name, opts.TransferTo); err != nil {
		return err
	}
	printDone(opts.IO, opts.Format, "Deleted user %s; %s now owns everything they owned.", opts.Name, opts.TransferTo)
	return nil
}
