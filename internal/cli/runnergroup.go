package cli

import (
	"github.com/spf13/cobra"

	"github.com/credflow/credflow/client"
)

func newCmdRunnerGroup(f *factory) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "runner-group",
		Short: "Manage runner groups: the machines a connection may be resolved from",
		Long: `A runner group is a set of runners (users with the runner role). A
connection names one runner group, and only its runners may resolve it.
Put a runner in a group with 'credflow user create NAME --role runner
--runner-group GROUP'.`,
		RunE: runGroup,
	}
	cmd.AddCommand(
		newCmdShow(f, &cobra.Command{
			Use:   "create NAME",
			Short: "Create a runner group (admins)",
			Args:  exactArgs("NAME"),
		}, (*client.Client).CreateRunnerGroup, runnerGroupFields),
		newCmdList(f, &cobra.Command{
			Use:   "list [--limit N] [--cursor C]",
			Short: "List runner groups",
		}, (*client.Client).ListRunnerGroups, runnerGroupTable),
		newCmdShow(f, &cobra.Command{
			Use:   "get NAME",
			Short: "Show a runner group (by name or id)",
			Args:  exactArgs("NAME"),
		}, (*client.Client).GetRunnerGroup, runnerGroupFields),
		newCmdDelete(f, &cobra.Command{
			Use:   "delete NAME",
			Short: "Delete a runner group no runner or connection uses (admins)",
			Args:  exactArgs("NAME"),
		}, (*client.Client).DeleteRunnerGroup, "Deleted runner group"),
	)
	return cmd
}

func runnerGroupFields(g *client.RunnerGroup) []field {
	return []field{
		{"ID", g.ID},
		{"Name", g.Name},
		{"Created", formatTime(g.CreatedAt)},
	}
}

func runnerGroupTable(*listOptions) tableOf[client.RunnerGroup] {
	return tableOf[client.RunnerGroup]{
		none:    "No runner groups.",
		headers: []string{"NAME", "ID", "CREATED"},
		row:     func(g client.RunnerGroup) []string { return []string{g.Name, g.ID, formatTime(g.CreatedAt)} },
	}
}
