package cli

import (
	"context"
	"fmt"
	"io"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/credflow/credflow/client"
)

// shareable is a kind of object that can be shared: credentials and
// environment variables offer the same three commands.
type shareable struct {
	noun   string // "credential", "environment variable"
	idHelp string // how the object is named on the command line
	share  func(c *client.Client, ctx context.Context, id, principal string, req client.ShareRequest) (*client.Share, error)
	// unshare removes a share; for a credential it answers with the shares
	// of its variables that remain (nil for a variable).
	unshare func(c *client.Client, ctx context.Context, id, principal string, withVariables bool) (*client.CredentialUnshare, error)
	shares  func(c *client.Client, ctx context.Context, id string) ([]client.Share, error)
}

var (
	credentialShares = shareable{
		noun: "credential", idHelp: "id or name",
		share: (*client.Client).ShareCredential,
		unshare: func(c *client.Client, ctx context.Context, id, principal string, withVariables bool) (*client.CredentialUnshare, error) {
			return c.UnshareCredential(ctx, id, principal, client.UnshareCredentialOptions{WithVariables: withVariables})
		},
		shares: (*client.Client).CredentialShares,
	}
	variableShares = shareable{
		noun: "environment variable", idHelp: "id or schema name",
		share: (*client.Client).ShareEnvironmentVariable,
		unshare: func(c *client.Client, ctx context.Context, id, principal string, _ bool) (*client.CredentialUnshare, error) {
			return nil, c.UnshareEnvironmentVariable(ctx, id, principal)
		},
		shares: (*client.Client).EnvironmentVariableShares,
	}
)

const principalHelp = `PRINCIPAL is user:<name> or group:<name>.`

// checkShareRole refuses a share role the server does not know, before
// anything is sent.
func checkShareRole(r client.ShareRole) error {
	switch r {
	case client.ShareOwner, client.ShareCoOwner, client.ShareUserShare, client.ShareUser:
		return nil
	}
	return usageErrorf("--role must be owner, co-owner, user-share or user, not %q", r)
}

// shareOptions is `credflow credential share` and `credflow env share`.
type shareOptions struct {
	IO     *Streams
	Client func() (*client.Client, error)
	Format outputFormat
	Kind   shareable

	ID        string
	Principal string
	Request   client.ShareRequest
}

func newCmdShare(f *factory, kind shareable, runF func(*shareOptions) error) *cobra.Command {
	opts := &shareOptions{IO: f.streams, Client: f.client, Kind: kind}
	var role, expiresAt string
	long := fmt.Sprintf(`Give a user or group a role on %s, replacing the role they held. %s

Roles: owner and co-owner use, edit, share and delete; user-share uses and
shares as user or user-share; user only uses.`, withArticle(kind.noun), principalHelp)
	if kind.noun == credentialShares.noun {
		long += `
Sharing a credential also gives the use of its variables.`
	}
	cmd := &cobra.Command{
		Use:   "share ID PRINCIPAL --role owner|co-owner|user-share|user [--expires-at TIME]",
		Short: fmt.Sprintf("Share %s with a user or group", withArticle(kind.noun)),
		Long:  long,
		Args:  exactArgs("ID", "PRINCIPAL"),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Format = f.format()
			opts.ID, opts.Principal = args[0], args[1]
			opts.Request = client.ShareRequest{Role: client.ShareRole(role)}
			if err := checkShareRole(opts.Request.Role); err != nil {
				return err
			}
			if expiresAt != "" {
				t, err := parseTimeFlag("expires-at", expiresAt)
				if err != nil {
					return err
				}
				opts.Request.ExpiresAt = &t
			}
			if runF != nil {
				return runF(opts)
			}
			return shareRun(cmd.Context(), opts)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&role, "role", "", "owner, co-owner, user-share or user (required)")
	fl.StringVar(&expiresAt, "expires-at", "", "when the share ends, RFC 3339 (default: never)")
	_ = cmd.MarkFlagRequired("role")
	return cmd
}

func shareRun(ctx context.Context, opts *shareOptions) error {
	c, err := opts.Client()
	if err != nil {
		return err
	}
	s, err := opts.Kind.share(c, ctx, opts.ID, opts.Principal, opts.Request)
	if err != nil {
		return err
	}
	if opts.Format == formatJSON {
		return writeJSON(opts.IO.Out, s)
	}
	until := ""
	if s.ExpiresAt != nil {
		until = " until " + s.ExpiresAt.Format(time.RFC3339)
	}
	sayf(opts.IO.Out, "Shared %s %s with %s as %s%s.\n", opts.Kind.noun, opts.ID, s.Principal, s.Role, until)
	return nil
}

// unshareOptions is `credflow credential unshare` and `credflow env unshare`.
type unshareOptions struct {
	IO     *Streams
	Client func() (*client.Client, error)
	Format outputFormat
	Kind   shareable

	ID            string
	Principal     string
	WithVariables bool // credentials only
}

func newCmdUnshare(f *factory, kind shareable, runF func(*unshareOptions) error) *cobra.Command {
	opts := &unshareOptions{IO: f.streams, Client: f.client, Kind: kind}
	long := fmt.Sprintf("Remove a user's or group's share of %s. %s", withArticle(kind.noun), principalHelp)
	credential := kind.noun == credentialShares.noun
	if credential {
		long += `

The shares of the credential's variables that this share gave stay, unless
--with-variables; shares of them given directly or through another
credential stay either way. The command lists the variable shares that
remain, with the command that removes each.`
	} else {
		long += "\nThis removes the share given directly and those that credential shares gave."
	}
	cmd := &cobra.Command{
		Use:   "unshare ID PRINCIPAL",
		Short: fmt.Sprintf("Remove a share of %s", withArticle(kind.noun)),
		Long:  long,
		Args:  exactArgs("ID", "PRINCIPAL"),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Format = f.format()
			opts.ID, opts.Principal = args[0], args[1]
			if runF != nil {
				return runF(opts)
			}
			return unshareRun(cmd.Context(), opts)
		},
	}
	if credential {
		cmd.Use = "unshare ID PRINCIPAL [--with-variables]"
		cmd.Flags().BoolVar(&opts.WithVariables, "with-variables", false, "also remove the shares of the credential's variables that this share gave")
	}
	return cmd
}

func unshareRun(ctx context.Context, opts *unshareOptions) error {
	c, err := opts.Client()
	if err != nil {
		return err
	}
	u, err := opts.Kind.unshare(c, ctx, opts.ID, opts.Principal, opts.WithVariables)
	if err != nil {
		return err
	}
	if u != nil && opts.Format == formatJSON {
		return writeJSON(opts.IO.Out, u)
	}
	printDone(opts.IO, opts.Format, "Removed the share of %s %s held by %s.", opts.Kind.noun, opts.ID, opts.Principal)
	if u != nil {
		principal := u.Removed.Principal
		if principal == "" {
			principal = opts.Principal
		}
		printVariableShares(opts.IO.Out, principal, u)
	}
	return nil
}

// printVariableShares says which shares of a credential's variables went
// with a credential share and which remain, with the command that removes
// each one that remains.
func printVariableShares(w io.Writer, principal string, u *client.CredentialUnshare) {
	if len(u.RemovedVariableShares) > 0 {
		fmt.Fprintf(w, "Also removed the shares of its variables that it gave: %s.\n", cell(strings.Join(variableNames(u.RemovedVariableShares), ", ")))
	}
	if len(u.RemainingVariableShares) == 0 {
		return
	}
	fmt.Fprintf(w, "%s still holds these shares of the credential's variables:\n", cell(principal))
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	for _, s := range u.RemainingVariableShares {
		through := "directly"
		if s.ViaCredential != "" {
			through = "through " + s.ViaCredential
		}
		if s.ExpiresAt != nil {
			through += ", until " + s.ExpiresAt.Format(time.RFC3339)
		}
		fmt.Fprintf(tw, "  %s\t%s\t%s\n", cell(s.Variable), cell(string(s.Role)), cell(through))
	}
	tw.Flush()
	fmt.Fprintln(w, "To remove them:")
	for _, v := range variableNames(u.RemainingVariableShares) {
		fmt.Fprintf(w, "  credflow env unshare %s %s\n", shellWord(v), shellWord(principal))
	}
}

// variableNames lists the variables of shares once each, in order.
func variableNames(shares []client.VariableShare) []string {
	var out []string
	for _, s := range shares {
		if !slices.Contains(out, s.Variable) {
			out = append(out, s.Variable)
		}
	}
	return out
}

// shellWord quotes s for a POSIX shell when it needs it.
func shellWord(s string) string {
	if s != "" && strings.IndexFunc(s, func(r rune) bool {
		return !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("_-.:/@+=,", r))
	}) < 0 {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// newCmdShares is `credflow credential shares` and `credflow env shares`.
func newCmdShares(f *factory, kind shareable) *cobra.Command {
	return newCmdItems(f, &cobra.Command{
		Use:   "shares ID",
		Short: fmt.Sprintf("List who holds which role on %s (by %s)", withArticle(kind.noun), kind.idHelp),
		Args:  exactArgs("ID"),
	}, kind.shares, func(o *idOptions) tableOf[client.Share] { return shareTable(o, kind) })
}

// shareTable lists shares; a variable's also say how each was given
// (directly, or through a credential's share).
func shareTable(o *idOptions, kind shareable) tableOf[client.Share] {
	t := tableOf[client.Share]{
		none:    fmt.Sprintf("No shares of %s.", o.ID),
		headers: []string{"PRINCIPAL", "ROLE", "EXPIRES", "CREATED"},
		row: func(s client.Share) []string {
			return []string{s.Principal, string(s.Role), formatTimePtr(s.ExpiresAt), formatTime(s.CreatedAt)}
		},
	}
	if kind.noun == variableShares.noun {
		t.headers = append(t.headers, "GIVEN")
		t.row = func(s client.Share) []string {
			given := "directly"
			if s.ViaCredential != "" {
				given = "through " + s.ViaCredential
			}
			return []string{s.Principal, string(s.Role), formatTimePtr(s.ExpiresAt), formatTime(s.CreatedAt), given}
		}
	}
	return t
}

// withArticle puts "a" or "an" before a noun: "an environment variable".
func withArticle(noun string) string {
	if noun != "" && strings.ContainsRune("aeiou", rune(noun[0])) {
		return "an " + noun
	}
	return "a " + noun
}
