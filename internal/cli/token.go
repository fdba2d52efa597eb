package cli

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/credflow/credflow/client"
)

func newCmdToken(f *factory) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "token",
		Short: "Manage API tokens",
		Long: `API tokens authenticate the CLI, scripts and runners. A token's value is
shown once, when it is created; the server keeps only its hash.`,
		RunE: runGroup,
	}
	cmd.AddCommand(
		newCmdTokenCreate(f, nil),
		newCmdTokenList(f, nil),
		newCmdDelete(f, &cobra.Command{
			Use:   "revoke ID",
			Short: "Revoke an API token (see 'credflow token list' for ids)",
			Args:  exactArgs("ID"),
		}, (*client.Client).RevokeToken, "Revoked token"),
	)
	return cmd
}

// tokenCreateOptions is `credflow token create`. ExpiresIn, when set, is
// counted from the moment the request is sent.
type tokenCreateOptions struct {
	IO     *Streams
	Client func() (*client.Client, error)
	Format outputFormat
	Now    func() time.Time

	Name      string
	User      string
	ExpiresIn time.Duration
	ExpiresAt time.Time
}

func newCmdTokenCreate(f *factory, runF func(*tokenCreateOptions) error) *cobra.Command {
	opts := &tokenCreateOptions{IO: f.streams, Client: f.client, Now: time.Now}
	var expiresIn, expiresAt string
	cmd := &cobra.Command{
		Use:   "create --name N [--user U] [--expires-in DURATION | --expires-at TIME]",
		Short: "Create an API token and print its value, once",
		Long: `Create an API token. Its value is printed once, alone on a line on standard
output (with -o json, as the "token" field), and cannot be shown again.`,
		Example: `  credflow token create --name laptop --expires-in 30d
  CREDFLOW_TOKEN=$(credflow token create --name ci --user build-agent-1 --expires-at 2027-01-01T00:00:00Z)`,
		Args: exactArgs(),
		RunE: func(cmd *cobra.Command, _ []string) error {
			opts.Format = f.format()
			var err error
			if expiresIn != "" {
				if opts.ExpiresIn, err = parseLifetime(expiresIn); err != nil {
					return usageErrorf("--expires-in: %v", err)
				}
			}
			if expiresAt != "" {
				if opts.ExpiresAt, err = parseTimeFlag("expires-at", expiresAt); err != nil {
					return err
				}
			}
			if runF != nil {
				return runF(opts)
			}
			return tokenCreateRun(cmd.Context(), opts)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&opts.Name, "name", "", "what the token is for (required)")
	fl.StringVar(&opts.User, "user", "", "the user it authenticates, by name or id (admins; default: you)")
	fl.StringVar(&expiresIn, "expires-in", "", "lifetime, such as 90d, 12h or 30m (default: never expires)")
	fl.StringVar(&expiresAt, "expires-at", "", "expiry time, RFC 3339 (such as 2027-01-01T00:00:00Z)")
	_ = cmd.MarkFlagRequired("name")
	cmd.MarkFlagsMutuallyExclusive("expires-in", "expires-at")
	return cmd
}

// parseLifetime reads a duration as time.ParseDuration does, or a whole
// number of days ("30d"); it must be positive.
func parseLifetime(s string) (time.Duration, error) {
	var d time.Duration
	if n, ok := strings.CutSuffix(s, "d"); ok {
		days, err := strconv.Atoi(n)
		if err != nil || days > 100*366 {
			return 0, fmt.Errorf("%q: want a duration such as 90d, 12h or 30m", s)
		}
		d = time.Duration(days) * 24 * time.Hour
	} else {
		var err error
		if d, err = time.ParseDuration(s); err != nil {
			return 0, fmt.Errorf("%q: want a duration such as 90d, 12h or 30m", s)
		}
	}
	if d <= 0 {
		return 0, fmt.Errorf("%q: must be positive", s)
	}
	return d, nil
}

// parseTimeFlag reads an RFC 3339 time given to --name.
func parseTimeFlag(name, s string) (time.Time, error) {
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		return time.Time{}, usageErrorf("--%s %q: want an RFC 3339 time, such as 2027-01-02T15:04:05Z", name, s)
	}
	return t, nil
}

// createdTokenJSON is what `token create -o json` prints: the API's answer,
// the token's value included.
type createdTokenJSON struct {
	client.Token
	Value string `json:"token"`
}

func tokenCreateRun(ctx context.Context, opts *tokenCreateOptions) error {
	c, err := opts.Client()
	if err != nil {
		return err
	}
	req := client.CreateTokenRequest{Name: opts.Name, User: opts.User}
	switch {
	case opts.ExpiresIn > 0:
		at := opts.Now().Add(opts.ExpiresIn).UTC().Truncate(time.Second)
		req.ExpiresAt = &at
	case !opts.ExpiresAt.IsZero():
		req.ExpiresAt = &opts.ExpiresAt
	}
	t, err := c.CreateToken(ctx, req)
	if err != nil {
		return err
	}
	if opts.Format == formatJSON {
		err = writeJSON(opts.IO.Out, createdTokenJSON{Token: t.Token, Value: t.Value.Reveal()})
	} else {
		_, err = fmt.Fprintln(opts.IO.Out, t.Value.Reveal())
	}
	if err != nil {
		return err
	}
	sayf(opts.IO.ErrOut, "Created token %s (%s) for %s: copy it now, its value will not be shown again.\n", t.Name, t.ID, t.User)
	return nil
}

// tokenListOptions is `credflow token list`.
type tokenListOptions struct {
	IO     *Streams
	Client func() (*client.Client, error)
	Format outputFormat
	Now    func() time.Time

	List client.TokenListOptions
}

func newCmdTokenList(f *factory, runF func(*tokenListOptions) error) *cobra.Command {
	opts := &tokenListOptions{IO: f.streams, Client: f.client, Now: time.Now}
	cmd := &cobra.Command{
		Use:   "list [--user U | --all]",
		Short: "List API tokens (yours; admins: another user's or all)",
		Args:  exactArgs(),
		RunE: func(cmd *cobra.Command, _ []string) error {
			opts.Format = f.format()
			if runF != nil {
				return runF(opts)
			}
			return tokenListRun(cmd.Context(), opts)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&opts.List.User, "user", "", "another user's tokens (admins)")
	fl.BoolVar(&opts.List.All, "all", false, "every user's tokens (admins)")
	cmd.MarkFlagsMutuallyExclusive("user", "all")
	return cmd
}

func tokenListRun(ctx context.Context, opts *tokenListOptions) error {
	c, err := opts.Client()
	if err != nil {
		return err
	}
	tokens, err := c.ListTokens(ctx, opts.List)
	if err != nil {
		return err
	}
	now := opts.Now()
	return writeList(opts.IO, opts.Format, tokens, tableOf[client.Token]{
		none:    "No tokens.",
		headers: []string{"ID", "NAME", "USER", "PREFIX", "STATUS", "EXPIRES", "LAST USED"},
		row: func(tk client.Token) []string {
			return []string{tk.ID, tk.Name, tk.User, tk.Prefix, tokenStatus(tk, now), formatTimePtr(tk.ExpiresAt), formatTimePtr(tk.LastUsedAt)}
		},
	})
}

func tokenStatus(t client.Token, now time.Time) string {
	switch {
	case t.RevokedAt != nil:
		return "revoked"
	case t.ExpiresAt != nil && !now.Before(*t.ExpiresAt):
		return "expired"
	}
	return "active"
}
