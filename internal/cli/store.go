package cli

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/spf13/cobra"

	"github.com/credflow/credflow/client"
)

func newCmdStore(f *factory) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "store",
		Short: "List secret stores, write secrets to the built-in one, grant their use",
		RunE:  runGroup,
	}
	cmd.AddCommand(
		newCmdStoreList(f, nil),
		newCmdShow(f, &cobra.Command{
			Use:   "get NAME",
			Short: "Show a secret store (by name or id)",
			Args:  exactArgs("NAME"),
		}, (*client.Client).GetStore, storeFields),
		newCmdStoreSecret(f),
		newCmdStoreGrant(f, nil),
		newCmdStoreRevoke(f, nil),
		newCmdItems(f, &cobra.Command{
			Use:   "grants STORE",
			Short: "List who may reference a store's secrets (admins)",
			Args:  exactArgs("STORE"),
		}, (*client.Client).StoreGrants, storeGrantTable),
	)
	return cmd
}

// storeListOptions is `credflow store list`.
type storeListOptions struct {
	IO     *Streams
	Client func() (*client.Client, error)
	Format outputFormat
}

func newCmdStoreList(f *factory, runF func(*storeListOptions) error) *cobra.Command {
	opts := &storeListOptions{IO: f.streams, Client: f.client}
	return &cobra.Command{
		Use:   "list",
		Short: "List the secret stores",
		Args:  exactArgs(),
		RunE: func(cmd *cobra.Command, _ []string) error {
			opts.Format = f.format()
			if runF != nil {
				return runF(opts)
			}
			return storeListRun(cmd.Context(), opts)
		},
	}
}

func storeListRun(ctx context.Context, opts *storeListOptions) error {
	c, err := opts.Client()
	if err != nil {
		return err
	}
	stores, err := c.ListStores(ctx)
	if err != nil {
		return err
	}
	return writeList(opts.IO, opts.Format, stores, tableOf[client.Store]{
		none:    "No stores.",
		headers: []string{"NAME", "KIND", "STATUS"},
		row:     func(s client.Store) []string { return []string{s.Name, s.Kind, string(s.Status)} },
	})
}

func storeFields(s *client.Store) []field {
	return []field{
		{"ID", s.ID},
		{"Name", s.Name},
		{"Kind", s.Kind},
		{"Status", string(s.Status)},
	}
}

const defaultStore = "local"

func newCmdStoreSecret(f *factory) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "secret",
		Short: "Write, list and delete secrets in a store that credflow writes to",
		Long: `Secrets are write-only: their values go in, and nothing reads them back
out except a runner resolving a connection.`,
		RunE: runGroup,
	}
	cmd.AddCommand(
		newCmdSecretPut(f, nil),
		newCmdSecretList(f, nil),
		newCmdSecretDelete(f, nil),
	)
	return cmd
}

// secretPutOptions is `credflow store secret put`. The value comes from
// standard input, or from a masked prompt on a terminal: never from an
// argument, which would leave it in shell history and the process list.
type secretPutOptions struct {
	IO     *Streams
	Client func() (*client.Client, error)
	Format outputFormat

	Store string
	Name  string
}

func newCmdSecretPut(f *factory, runF func(*secretPutOptions) error) *cobra.Command {
	opts := &secretPutOptions{IO: f.streams, Client: f.client}
	cmd := &cobra.Command{
		Use:   "put NAME [--store STORE]",
		Short: "Write a new version of a secret, its value read from standard input",
		Long: `Write a new version of a secret. The value is read from standard input (all
of it, less one trailing newline) or, on a terminal, typed twice at a prompt
that does not echo it. It is never taken from the command line.`,
		Example: `  credflow store secret put sql-password            # prompts twice
  credflow store secret put sql-password < password.txt
  vault-export | credflow store secret put sql-password --store local`,
		Args: exactArgs("NAME"),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Format = f.format()
			opts.Name = args[0]
			if runF != nil {
				return runF(opts)
			}
			return secretPutRun(cmd.Context(), opts)
		},
	}
	cmd.Flags().StringVar(&opts.Store, "store", defaultStore, "the store to write to")
	return cmd
}

func secretPutRun(ctx context.Context, opts *secretPutOptions) error {
	c, err := opts.Client()
	if err != nil {
		return err
	}
	value, err := readSecretValue(ctx, opts.IO, opts.Name)
	if err != nil {
		return err
	}
	v, err := c.PutSecret(ctx, opts.Store, opts.Name, value)
	if err != nil {
		return err
	}
	if opts.Format == formatJSON {
		return writeJSON(opts.IO.Out, v)
	}
	fmt.Fprintf(opts.IO.Out, "Stored %s version %s in %s.\n", v.Name, v.Version, opts.Store)
	return nil
}

// maxSecretValue bounds what is read from standard input.
const maxSecretValue = 1 << 20

// readSecretValue reads a secret's value from a masked prompt, asked twice,
// when stdin is a terminal; otherwise all of stdin less one trailing newline.
// Its errors never contain the value.
func readSecretValue(ctx context.Context, s *Streams, name string) (string, error) {
	if s.InTTY {
		if s.ReadPassword == nil {
			return "", errors.New("cannot read from this terminal without echo; pipe the value in instead")
		}
		fmt.Fprintf(s.ErrOut, "Value of %s: ", name)
		first, err := s.ReadPassword(ctx)
		fmt.Fprintln(s.ErrOut)
		if err != nil {
			return "", fmt.Errorf("read value: %w", err)
		}
		if len(first) == 0 {
			return "", errors.New("empty value: nothing stored")
		}
		fmt.Fprint(s.ErrOut, "Again, to confirm: ")
		second, err := s.ReadPassword(ctx)
		fmt.Fprintln(s.ErrOut)
		if err != nil {
			return "", fmt.Errorf("read value: %w", err)
		}
		if !bytes.Equal(first, second) {
			return "", errors.New("the two values differ: nothing stored")
		}
		return string(first), nil
	}
	b, err := io.ReadAll(io.LimitReader(s.In, maxSecretValue+1))
	if err != nil {
		return "", fmt.Errorf("read value from standard input: %w", err)
	}
	if len(b) > maxSecretValue {
		return "", fmt.Errorf("value on standard input is longer than %d bytes: nothing stored", maxSecretValue)
	}
	b = trimNewline(b)
	if len(b) == 0 {
		return "", errors.New("no value on standard input: pipe the value in, or run in a terminal to be prompted")
	}
	return string(b), nil
}

// trimNewline removes one trailing "\n" or "\r\n", as `echo` or a text
// editor adds, and keeps any other whitespace: it may be part of the secret.
func trimNewline(b []byte) []byte {
	if bytes.HasSuffix(b, []byte("\r\n")) {
		return b[:len(b)-2]
	}
	return bytes.TrimSuffix(b, []byte("\n"))
}

// secretListOptions is `credflow store secret list`.
type secretListOptions struct {
	IO     *Streams
	Client func() (*client.Client, error)
	Format outputFormat

	Store string
	List  client.ListOptions
}

func newCmdSecretList(f *factory, runF func(*secretListOptions) error) *cobra.Command {
	opts := &secretListOptions{IO: f.streams, Client: f.client}
	cmd := &cobra.Command{
		Use:   "list [--store STORE] [--limit N] [--cursor C]",
		Short: "List the secrets in a store, without their values",
		Args:  exactArgs(),
		RunE: func(cmd *cobra.Command, _ []string) error {
			opts.Format = f.format()
			if err := checkLimit(opts.List.Limit); err != nil {
				return err
			}
			if runF != nil {
				return runF(opts)
			}
			return secretListRun(cmd.Context(), opts)
		},
	}
	cmd.Flags().StringVar(&opts.Store, "store", defaultStore, "the store to list")
	addPageFlags(cmd, &opts.List)
	return cmd
}

func secretListRun(ctx context.Context, opts *secretListOptions) error {
	c, err := opts.Client()
	if err != nil {
		return err
	}
	page, err := c.ListSecrets(ctx, opts.Store, opts.List)
	if err != nil {
		return err
	}
	return writePage(opts.IO, opts.Format, page, tableOf[client.SecretInfo]{
		none:    fmt.Sprintf("No secrets in %s.", opts.Store),
		headers: []string{"NAME", "VERSION", "VERSIONS", "UPDATED"},
		row: func(s client.SecretInfo) []string {
			return []string{s.Name, s.Version, fmt.Sprint(s.Versions), formatTime(s.UpdatedAt)}
		},
	})
}

// secretDeleteOptions is `credflow store secret delete`.
type secretDeleteOptions struct {
	IO     *Streams
	Client func() (*client.Client, error)
	Format outputFormat

	Store string
	Name  string
}

func newCmdSecretDelete(f *factory, runF func(*secretDeleteOptions) error) *cobra.Command {
	opts := &secretDeleteOptions{IO: f.streams, Client: f.client}
	cmd := &cobra.Command{
		Use:   "delete NAME [--store STORE]",
		Short: "Delete a secret with all its versions",
		Args:  exactArgs("NAME"),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Format = f.format()
			opts.Name = args[0]
			if runF != nil {
				return runF(opts)
			}
			return secretDeleteRun(cmd.Context(), opts)
		},
	}
	cmd.Flags().StringVar(&opts.Store, "store", defaultStore, "the store to delete from")
	return cmd
}

func secretDeleteRun(ctx context.Context, opts *secretDeleteOptions) error {
	c, err := opts.Client()
	if err != nil {
		return err
	}
	if err := c.DeleteSecret(ctx, opts.Store, opts.Name); err != nil {
		return err
	}
	printDone(opts.IO, opts.Format, "Deleted secret %s from %s.", opts.Name, opts.Store)
	return nil
}

// storeGrantOptions is `credflow store grant`.
type storeGrantOptions struct {
	IO     *Streams
	Client func() (*client.Client, error)
	Format outputFormat

	Store     string
	Principal string
	Prefix    string
}

func newCmdStoreGrant(f *factory, runF func(*storeGrantOptions) error) *cobra.Command {
	opts := &storeGrantOptions{IO: f.streams, Client: f.client}
	cmd := &cobra.Command{
		Use:   "grant STORE PRINCIPAL [--prefix P]",
		Short: "Let a user or group reference a store's secrets (admins)",
		Long: `Let a user or group reference the secrets of a store in their secret
variables: all of them, or with --prefix only those whose names start with it.
A new grant replaces the principal's old one. ` + principalHelp,
		Example: `  credflow store grant local user:bob
  credflow store grant local group:team-a --prefix team-a.`,
		Args: exactArgs("STORE", "PRINCIPAL"),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Format = f.format()
			opts.Store, opts.Principal = args[0], args[1]
			if runF != nil {
				return runF(opts)
			}
			return storeGrantRun(cmd.Context(), opts)
		},
	}
	cmd.Flags().StringVar(&opts.Prefix, "prefix", "", "only secrets whose names start with this")
	return cmd
}

func storeGrantRun(ctx context.Context, opts *storeGrantOptions) error {
	c, err := opts.Client()
	if err != nil {
		return err
	}
	g, err := c.GrantStore(ctx, opts.Store, opts.Principal, opts.Prefix)
	if err != nil {
		return err
	}
	if opts.Format == formatJSON {
		return writeJSON(opts.IO.Out, g)
	}
	which := "all secrets"
	if g.Prefix != "" {
		which = fmt.Sprintf("the secrets starting with %q", g.Prefix)
	}
	fmt.Fprintf(opts.IO.Out, "Granted %s the use of %s in %s.\n", g.Principal, which, g.Store)
	return nil
}

// storeRevokeOptions is `credflow store revoke`.
type storeRevokeOptions struct {
	IO     *Streams
	Client func() (*client.Client, error)
	Format outputFormat

	Store     string
	Principal string
}

func newCmdStoreRevoke(f *factory, runF func(*storeRevokeOptions) error) *cobra.Command {
	opts := &storeRevokeOptions{IO: f.streams, Client: f.client}
	return &cobra.Command{
		Use:   "revoke STORE PRINCIPAL",
		Short: "Take a store grant away (admins)",
		Args:  exactArgs("STORE", "PRINCIPAL"),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Format = f.format()
			opts.Store, opts.Principal = args[0], args[1]
			if runF != nil {
				return runF(opts)
			}
			return storeRevokeRun(cmd.Context(), opts)
		},
	}
}

func storeRevokeRun(ctx context.Context, opts *storeRevokeOptions) error {
	c, err := opts.Client()
	if err != nil {
		return err
	}
	if err := c.RevokeStoreGrant(ctx, opts.Store, opts.Principal); err != nil {
		return err
	}
	printDone(opts.IO, opts.Format, "Revoked the grant of %s to %s.", opts.Store, opts.Principal)
	return nil
}

func storeGrantTable(o *idOptions) tableOf[client.Grant] {
	return tableOf[client.Grant]{
		none:    fmt.Sprintf("No grants of %s.", o.ID),
		headers: []string{"PRINCIPAL", "PREFIX", "CREATED"},
		row:     func(g client.Grant) []string { return []string{g.Principal, g.Prefix, formatTime(g.CreatedAt)} },
	}
}
