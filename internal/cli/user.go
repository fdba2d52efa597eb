package cli

import (
	"context"

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
		newCmdList(f, &cobra.Command{
			Use:   "list [--limit N] [--cursor C]",
			Short: "List users",
		}, (*client.Client).ListUsers, func(*listOptions) tableOf[client.User] { return userTable("No users.") }),
		newCmdShow(f, &cobra.Command{
			Use:   "get NAME",
			Short: "Show a user (by name or id)",
			Args:  exactArgs("NAME"),
		}, (*client.Client).GetUser, userFields),
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
	return printDetail(opts.IO, opts.Format, u, userFields)
}

func userFields(u *client.User) []field {
	return []field{
		{"ID", u.ID},
		{"Name", u.Name},
		{"Display name", u.DisplayName},
		{"Role", string(u.Role)},
		{"Runner group", u.RunnerGroup},
		{"Source", u.Source},
		{"Created", formatTime(u.CreatedAt)},
	}
}

// userTable prints users, or none when there are none.
func userTable(none string) tableOf[client.User] {
	return tableOf[client.User]{
		none:    none,
		headers: []string{"NAME", "ROLE", "DISPLAY NAME", "RUNNER GROUP", "SOURCE"},
		row: func(u client.User) []string {
			return []string{u.Name, string(u.Role), u.DisplayName, u.RunnerGroup, u.Source}
		},
	}
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
	return printDetail(opts.IO, opts.Format, u, userFields)
}
