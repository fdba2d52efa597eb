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
		newCmdShow(f, &cobra.Command{
			Use:   "create NAME",
			Short: "Create a group",
			Args:  exactArgs("NAME"),
		}, (*client.Client).CreateGroup, groupFields),
		newCmdList(f, &cobra.Command{
			Use:   "list [--limit N] [--cursor C]",
			Short: "List groups",
		}, (*client.Client).ListGroups, groupTable),
		newCmdShow(f, &cobra.Command{
			Use:   "get NAME",
			Short: "Show a group (by name or id)",
			Args:  exactArgs("NAME"),
		}, (*client.Client).GetGroup, groupFields),
		newCmdDelete(f, &cobra.Command{
			Use:   "delete NAME",
			Short: "Delete a group with its memberships, shares and grants",
			Args:  exactArgs("NAME"),
		}, (*client.Client).DeleteGroup, "Deleted group"),
		newCmdItems(f, &cobra.Command{
			Use:   "members GROUP",
			Short: "List a group's members",
			Args:  exactArgs("GROUP"),
		}, (*client.Client).GroupMembers, func(o *idOptions) tableOf[client.User] {
			return userTable(fmt.Sprintf("Group %s has no members.", o.ID))
		}),
		newCmdGroupAddMember(f, nil),
		newCmdGroupRemoveMember(f, nil),
	)
	return cmd
}

func groupFields(g *client.Group) []field {
	return []field{
		{"ID", g.ID},
		{"Name", g.Name},
		{"Created", formatTime(g.CreatedAt)},
	}
}

func groupTable(*listOptions) tableOf[client.Group] {
	return tableOf[client.Group]{
		none:    "No groups.",
		headers: []string{"NAME", "ID", "CREATED"},
		row:     func(g client.Group) []string { return []string{g.Name, g.ID, formatTime(g.CreatedAt)} },
	}
}

// groupMemberOptions is `credflow group add-member` and `remove-member`.
type groupMemberOptions struct {
	IO     *Streams
	Client func() (*client.Client, error)
	Format outputFormat

	Group string
	User  string
	// Remove is set by remove-member.
	Remove bool
}

func newCmdGroupAddMember(f *factory, runF func(*groupMemberOptions) error) *cobra.Command {
	return groupMemberCmd(f, runF, "add-member", "Add a user to a group")
}

func newCmdGroupRemoveMember(f *factory, runF func(*groupMemberOptions) error) *cobra.Command {
	return groupMemberCmd(f, runF, "remove-member", "Remove a user from a group")
}

func groupMemberCmd(f *factory, runF func(*groupMemberOptions) error, verb, short string) *cobra.Command {
	opts := &groupMemberOptions{IO: f.streams, Client: f.client, Remove: verb == "remove-member"}
	return &cobra.Command{
		Use:   verb + " GROUP USER",
		Short: short,
		Args:  exactArgs("GROUP", "USER"),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Format = f.format()
			opts.Group, opts.User = args[0], args[1]
			if runF != nil {
				return runF(opts)
			}
			return groupMemberRun(cmd.Context(), opts)
		},
	}
}

func groupMemberRun(ctx context.Context, opts *groupMemberOptions) error {
	c, err := opts.Client()
	if err != nil {
		return err
	}
	change, done := c.AddGroupMember, "Added %s to group %s."
	if opts.Remove {
		change, done = c.RemoveGroupMember, "Removed %s from group %s."
	}
	if err := change(ctx, opts.Group, opts.User); err != nil {
		return err
	}
	printDone(opts.IO, opts.Format, done, opts.User, opts.Group)
	return nil
}
