package cli

import (
	"context"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/credflow/credflow/client"
)

func newCmdGroup(f *factory) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "group",
		Short: "Manage groups of users (admins)",
		Long: `A group is a named set of users: share a credential or grant a store to
group:<name> and every member holds it.`,
		RunE: runGroup,
	}
	cmd.AddCommand(
		newCmdGroupCreate(f, nil),
		newCmdGroupList(f, nil),
		newCmdGroupGet(f, nil),
		newCmdGroupDelete(f, nil),
		newCmdGroupMembers(f, nil),
		newCmdGroupAddMember(f, nil),
		newCmdGroupRemoveMember(f, nil),
	)
	return cmd
}

// groupCreateOptions is `credflow group create`.
type groupCreateOptions struct {
	IO     *Streams
	Client func() (*client.Client, error)
	Format outputFormat

	Name string
}

func newCmdGroupCreate(f *factory, runF func(*groupCreateOptions) error) *cobra.Command {
	opts := &groupCreateOptions{IO: f.streams, Client: f.client}
	return &cobra.Command{
		Use:   "create NAME",
		Short: "Create a group",
		Args:  exactArgs("NAME"),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Format = f.format()
			opts.Name = args[0]
			if runF != nil {
				return runF(opts)
			}
			return groupCreateRun(cmd.Context(), opts)
		},
	}
}

func groupCreateRun(ctx context.Context, opts *groupCreateOptions) error {
	c, err := opts.Client()
	if err != nil {
		return err
	}
	g, err := c.CreateGroup(ctx, opts.Name)
	if err != nil {
		return err
	}
	return printGroup(opts.IO, opts.Format, g)
}

// groupListOptions is `credflow group list`.
type groupListOptions struct {
	IO     *Streams
	Client func() (*client.Client, error)
	Format outputFormat

	List client.ListOptions
}

func newCmdGroupList(f *factory, runF func(*groupListOptions) error) *cobra.Command {
	opts := &groupListOptions{IO: f.streams, Client: f.client}
	cmd := &cobra.Command{
		Use:   "list [--limit N] [--cursor C]",
		Short: "List groups",
		Args:  exactArgs(),
		RunE: func(cmd *cobra.Command, _ []string) error {
			opts.Format = f.format()
			if opts.List.Limit < 0 {
				return usageErrorf("--limit must not be negative")
			}
			if runF != nil {
				return runF(opts)
			}
			return groupListRun(cmd.Context(), opts)
		},
	}
	addPageFlags(cmd, &opts.List)
	return cmd
}

func groupListRun(ctx context.Context, opts *groupListOptions) error {
	c, err := opts.Client()
	if err != nil {
		return err
	}
	page, err := c.ListGroups(ctx, opts.List)
	if err != nil {
		return err
	}
	if page.Items == nil {
		page.Items = []client.Group{}
	}
	if opts.Format == formatJSON {
		return writeJSON(opts.IO.Out, page)
	}
	if len(page.Items) == 0 {
		fmt.Fprintln(opts.IO.Out, "No groups.")
		return nil
	}
	t := newTable(opts.IO.Out, "NAME", "ID", "CREATED")
	for _, g := range page.Items {
		t.row(g.Name, g.ID, formatTime(g.CreatedAt))
	}
	if err := t.flush(); err != nil {
		return err
	}
	nextPageHint(opts.IO, page.NextCursor)
	return nil
}

// groupGetOptions is `credflow group get`.
type groupGetOptions struct {
	IO     *Streams
	Client func() (*client.Client, error)
	Format outputFormat

	Name string
}

func newCmdGroupGet(f *factory, runF func(*groupGetOptions) error) *cobra.Command {
	opts := &groupGetOptions{IO: f.streams, Client: f.client}
	return &cobra.Command{
		Use:   "get NAME",
		Short: "Show a group (by name or id)",
		Args:  exactArgs("NAME"),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Format = f.format()
			opts.Name = args[0]
			if runF != nil {
				return runF(opts)
			}
			return groupGetRun(cmd.Context(), opts)
		},
	}
}

func groupGetRun(ctx context.Context, opts *groupGetOptions) error {
	c, err := opts.Client()
	if err != nil {
		return err
	}
	g, err := c.GetGroup(ctx, opts.Name)
	if err != nil {
		return err
	}
	return printGroup(opts.IO, opts.Format, g)
}

// groupDeleteOptions is `credflow group delete`.
type groupDeleteOptions struct {
	IO     *Streams
	Client func() (*client.Client, error)
	Format outputFormat

	Name string
}

func newCmdGroupDelete(f *factory, runF func(*groupDeleteOptions) error) *cobra.Command {
	opts := &groupDeleteOptions{IO: f.streams, Client: f.client}
	return &cobra.Command{
		Use:   "delete NAME",
		Short: "Delete a group with its memberships, shares and grants",
		Args:  exactArgs("NAME"),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Format = f.format()
			opts.Name = args[0]
			if runF != nil {
				return runF(opts)
			}
			return groupDeleteRun(cmd.Context(), opts)
		},
	}
}

func groupDeleteRun(ctx context.Context, opts *groupDeleteOptions) error {
	c, err := opts.Client()
	if err != nil {
		return err
	}
	if err := c.DeleteGroup(ctx, opts.Name); err != nil {
		return err
	}
	if opts.Format == formatTable {
		fmt.Fprintf(opts.IO.Out, "Deleted group %s.\n", opts.Name)
	}
	return nil
}

// groupMembersOptions is `credflow group members`.
type groupMembersOptions struct {
	IO     *Streams
	Client func() (*client.Client, error)
	Format outputFormat

	Group string
}

func newCmdGroupMembers(f *factory, runF func(*groupMembersOptions) error) *cobra.Command {
	opts := &groupMembersOptions{IO: f.streams, Client: f.client}
	return &cobra.Command{
		Use:   "members GROUP",
		Short: "List a group's members",
		Args:  exactArgs("GROUP"),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Format = f.format()
			opts.Group = args[0]
			if runF != nil {
				return runF(opts)
			}
			return groupMembersRun(cmd.Context(), opts)
		},
	}
}

func groupMembersRun(ctx context.Context, opts *groupMembersOptions) error {
	c, err := opts.Client()
	if err != nil {
		return err
	}
	users, err := c.GroupMembers(ctx, opts.Group)
	if err != nil {
		return err
	}
	if users == nil {
		users = []client.User{}
	}
	if opts.Format == formatJSON {
		return writeJSON(opts.IO.Out, client.Page[client.User]{Items: users})
	}
	return writeUsers(opts.IO, users, fmt.Sprintf("Group %s has no members.", opts.Group))
}

// groupMemberOptions is `credflow group add-member` and `remove-member`.
type groupMemberOptions struct {
	IO     *Streams
	Client func() (*client.Client, error)
	Format outputFormat

	Group string
	User  string
}

func newCmdGroupAddMember(f *factory, runF func(*groupMemberOptions) error) *cobra.Command {
	opts := &groupMemberOptions{IO: f.streams, Client: f.client}
	return &cobra.Command{
		Use:   "add-member GROUP USER",
		Short: "Add a user to a group",
		Args:  exactArgs("GROUP", "USER"),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Format = f.format()
			opts.Group, opts.User = args[0], args[1]
			if runF != nil {
				return runF(opts)
			}
			return groupAddMemberRun(cmd.Context(), opts)
		},
	}
}

func groupAddMemberRun(ctx context.Context, opts *groupMemberOptions) error {
	c, err := opts.Client()
	if err != nil {
		return err
	}
	if err := c.AddGroupMember(ctx, opts.Group, opts.User); err != nil {
		return err
	}
	if opts.Format == formatTable {
		fmt.Fprintf(opts.IO.Out, "Added %s to group %s.\n", opts.User, opts.Group)
	}
	return nil
}

func newCmdGroupRemoveMember(f *factory, runF func(*groupMemberOptions) error) *cobra.Command {
	opts := &groupMemberOptions{IO: f.streams, Client: f.client}
	return &cobra.Command{
		Use:   "remove-member GROUP USER",
		Short: "Remove a user from a group",
		Args:  exactArgs("GROUP", "USER"),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Format = f.format()
			opts.Group, opts.User = args[0], args[1]
			if runF != nil {
				return runF(opts)
			}
			return groupRemoveMemberRun(cmd.Context(), opts)
		},
	}
}

func groupRemoveMemberRun(ctx context.Context, opts *groupMemberOptions) error {
	c, err := opts.Client()
	if err != nil {
		return err
	}
	if err := c.RemoveGroupMember(ctx, opts.Group, opts.User); err != nil {
		return err
	}
	if opts.Format == formatTable {
		fmt.Fprintf(opts.IO.Out, "Removed %s from group %s.\n", opts.User, opts.Group)
	}
	return nil
}

func printGroup(s *Streams, format outputFormat, g *client.Group) error {
	if format == formatJSON {
		return writeJSON(s.Out, g)
	}
	return writeFields(s.Out, []field{
		{"ID", g.ID},
		{"Name", g.Name},
		{"Created", formatTime(g.CreatedAt)},
	})
}
