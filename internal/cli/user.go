package cli

import (
	"context"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/credflow/credflow/client"
)

func newCmdUser(f *factory) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "user",
		Short: "Manage users (admins)",
		Long: `Users are people and machines. Each holds one instance role: admin (stores,
users, groups, grants, audit; sees everything), maker (variables, credentials,
connections) or runner (resolves connections, from its runner group only).`,
		RunE: runGroup,
	}
	cmd.AddCommand(
		newCmdUserCreate(f, nil),
		newCmdUserList(f, nil),
		newCmdUserGet(f, nil),
		newCmdUserUpdate(f, nil),
		newCmdUserDelete(f, nil),
	)
	return cmd
}

// checkRole refuses an instance role the server does not know, before
// anything is sent.
func checkRole(r client.Role) error {
	switch r {
	case client.RoleAdmin, client.RoleMaker, client.RoleRunner:
		return nil
	}
	return usageErrorf("--role must be admin, maker or runner, not %q", r)
}

// userCreateOptions is `credflow user create`.
type userCreateOptions struct {
	IO     *Streams
	Client func() (*client.Client, error)
	Format outputFormat

	Request client.CreateUserRequest
}

func newCmdUserCreate(f *factory, runF func(*userCreateOptions) error) *cobra.Command {
	opts := &userCreateOptions{IO: f.streams, Client: f.client}
	var role string
	cmd := &cobra.Command{
		Use:   "create NAME --role admin|maker|runner [--display-name D] [--runner-group G]",
		Short: "Create a user",
		Example: `  credflow user create bob --role maker --display-name "Bob Smith"
  credflow user create build-agent-1 --role runner --runner-group build-agents`,
		Args: exactArgs("NAME"),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Format = f.format()
			opts.Request.Name = args[0]
			opts.Request.Role = client.Role(role)
			if err := checkRole(opts.Request.Role); err != nil {
				return err
			}
			if opts.Request.RunnerGroup != "" && opts.Request.Role != client.RoleRunner {
				return usageErrorf("--runner-group is only for --role runner")
			}
			if runF != nil {
				return runF(opts)
			}
			return userCreateRun(cmd.Context(), opts)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&role, "role", "", "instance role: admin, maker or runner (required)")
	fl.StringVar(&opts.Request.DisplayName, "display-name", "", "display name")
	fl.StringVar(&opts.Request.RunnerGroup, "runner-group", "", "a runner's runner group, by name or id")
	_ = cmd.MarkFlagRequired("role")
	return cmd
}

func userCreateRun(ctx context.Context, opts *userCreateOptions) error {
	c, err := opts.Client()
	if err != nil {
		return err
	}
	u, err := c.CreateUser(ctx, opts.Request)
	if err != nil {
		return err
	}
	return printUser(opts.IO, opts.Format, u)
}

func printUser(s *Streams, format outputFormat, u *client.User) error {
	if format == formatJSON {
		return writeJSON(s.Out, u)
	}
	return writeFields(s.Out, []field{
		{"ID", u.ID},
		{"Name", u.Name},
		{"Display name", u.DisplayName},
		{"Role", string(u.Role)},
		{"Runner group", u.RunnerGroup},
		{"Source", u.Source},
		{"Created", formatTime(u.CreatedAt)},
	})
}

// userListOptions is `credflow user list`.
type userListOptions struct {
	IO     *Streams
	Client func() (*client.Client, error)
	Format outputFormat

	List client.ListOptions
}

func newCmdUserList(f *factory, runF func(*userListOptions) error) *cobra.Command {
	opts := &userListOptions{IO: f.streams, Client: f.client}
	cmd := &cobra.Command{
		Use:   "list [--limit N] [--cursor C]",
		Short: "List users",
		Args:  exactArgs(),
		RunE: func(cmd *cobra.Command, _ []string) error {
			opts.Format = f.format()
			if opts.List.Limit < 0 {
				return usageErrorf("--limit must not be negative")
			}
			if runF != nil {
				return runF(opts)
			}
			return userListRun(cmd.Context(), opts)
		},
	}
	addPageFlags(cmd, &opts.List)
	return cmd
}

func userListRun(ctx context.Context, opts *userListOptions) error {
	c, err := opts.Client()
	if err != nil {
		return err
	}
	page, err := c.ListUsers(ctx, opts.List)
	if err != nil {
		return err
	}
	if page.Items == nil {
		page.Items = []client.User{}
	}
	if opts.Format == formatJSON {
		return writeJSON(opts.IO.Out, page)
	}
	if err := writeUsers(opts.IO, page.Items, "No users."); err != nil {
		return err
	}
	nextPageHint(opts.IO, page.NextCursor)
	return nil
}

// writeUsers prints a table of users, or none when there are none.
func writeUsers(s *Streams, users []client.User, none string) error {
	if len(users) == 0 {
		fmt.Fprintln(s.Out, none)
		return nil
	}
	t := newTable(s.Out, "NAME", "ROLE", "DISPLAY NAME", "RUNNER GROUP", "SOURCE")
	for _, u := range users {
		t.row(u.Name, string(u.Role), u.DisplayName, u.RunnerGroup, u.Source)
	}
	return t.flush()
}

// userGetOptions is `credflow user get`.
type userGetOptions struct {
	IO     *Streams
	Client func() (*client.Client, error)
	Format outputFormat

	Name string
}

func newCmdUserGet(f *factory, runF func(*userGetOptions) error) *cobra.Command {
	opts := &userGetOptions{IO: f.streams, Client: f.client}
	return &cobra.Command{
		Use:   "get NAME",
		Short: "Show a user (by name or id)",
		Args:  exactArgs("NAME"),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Format = f.format()
			opts.Name = args[0]
			if runF != nil {
				return runF(opts)
			}
			return userGetRun(cmd.Context(), opts)
		},
	}
}

func userGetRun(ctx context.Context, opts *userGetOptions) error {
	c, err := opts.Client()
	if err != nil {
		return err
	}
	u, err := c.GetUser(ctx, opts.Name)
	if err != nil {
		return err
	}
	return printUser(opts.IO, opts.Format, u)
}

// userUpdateOptions is `credflow user update`; only the flags given are
// sent.
type userUpdateOptions struct {
	IO     *Streams
	Client func() (*client.Client, error)
	Format outputFormat

	Name    string
	Request client.UpdateUserRequest
}

func newCmdUserUpdate(f *factory, runF func(*userUpdateOptions) error) *cobra.Command {
	opts := &userUpdateOptions{IO: f.streams, Client: f.client}
	var role, displayName, runnerGroup string
	cmd := &cobra.Command{
		Use:   "update NAME [--role R] [--display-name D] [--runner-group G]",
		Short: "Change a user's role, display name or runner group",
		Long: `Change a user's role, display name or runner group. A runner made a maker
or admin leaves its runner group; --runner-group "" takes a runner out of its
group.`,
		Args: exactArgs("NAME"),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Format = f.format()
			opts.Name = args[0]
			fl := cmd.Flags()
			r := client.UpdateUserRequest{}
			if fl.Changed("role") {
				rl := client.Role(role)
				if err := checkRole(rl); err != nil {
					return err
				}
				r.Role = &rl
			}
			if fl.Changed("display-name") {
				r.DisplayName = &displayName
			}
			if fl.Changed("runner-group") {
				r.RunnerGroup = &runnerGroup
			}
			if r == (client.UpdateUserRequest{}) {
				return usageErrorf("nothing to update: give at least one of --role, --display-name and --runner-group")
			}
			opts.Request = r
			if runF != nil {
				return runF(opts)
			}
			return userUpdateRun(cmd.Context(), opts)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&role, "role", "", "new instance role: admin, maker or runner")
	fl.StringVar(&displayName, "display-name", "", "new display name")
	fl.StringVar(&runnerGroup, "runner-group", "", "new runner group of a runner, by name or id")
	return cmd
}

func userUpdateRun(ctx context.Context, opts *userUpdateOptions) error {
	c, err := opts.Client()
	if err != nil {
		return err
	}
	u, err := c.UpdateUser(ctx, opts.Name, opts.Request)
	if err != nil {
		return err
	}
	return printUser(opts.IO, opts.Format, u)
}

// userDeleteOptions is `credflow user delete`.
type userDeleteOptions struct {
	IO     *Streams
	Client func() (*client.Client, error)
	Format outputFormat

	Name string
}

func newCmdUserDelete(f *factory, runF func(*userDeleteOptions) error) *cobra.Command {
	opts := &userDeleteOptions{IO: f.streams, Client: f.client}
	return &cobra.Command{
		Use:   "delete NAME",
		Short: "Delete a user who owns nothing, with their tokens",
		Args:  exactArgs("NAME"),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Format = f.format()
			opts.Name = args[0]
			if runF != nil {
				return runF(opts)
			}
			return userDeleteRun(cmd.Context(), opts)
		},
	}
}

func userDeleteRun(ctx context.Context, opts *userDeleteOptions) error {
	c, err := opts.Client()
	if err != nil {
		return err
	}
	if err := c.DeleteUser(ctx, opts.Name); err != nil {
		return err
	}
	if opts.Format == formatTable {
		fmt.Fprintf(opts.IO.Out, "Deleted user %s.\n", opts.Name)
	}
	return nil
}
