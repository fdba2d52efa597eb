package cli

import (
	"context"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/credflow/credflow/client"
)

// envValidateOptions is `credflow env validate`.
type envValidateOptions struct {
	IO     *Streams
	Client func() (*client.Client, error)
	Format outputFormat

	ID string // "" for every variable pending validation
}

func newCmdEnvValidate(f *factory, runF func(*envValidateOptions) error) *cobra.Command {
	opts := &envValidateOptions{IO: f.streams, Client: f.client}
	cmd := &cobra.Command{
		Use:   "validate [ID]",
		Short: "Check secret variables against their stores now; completes imports pending validation",
		Long: `Check a secret variable's secret against its store now, as a save does
(your store grants, then the store). Without an ID, every variable you may
see that is pending validation (imported with --defer-validation while its
store could not be read) is checked; those that pass resolve from then on.`,
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) > 1 {
				return usageErrorf("%s takes at most one argument (ID), got %d", cmd.CommandPath(), len(args))
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Format = f.format()
			if len(args) == 1 {
				opts.ID = args[0]
			}
			if runF != nil {
				return runF(opts)
			}
			return envValidateRun(cmd.Context(), opts)
		},
	}
	return cmd
}

func envValidateRun(ctx context.Context, opts *envValidateOptions) error {
	c, err := opts.Client()
	if err != nil {
		return err
	}
	if opts.ID != "" {
		v, err := c.ValidateEnvironmentVariable(ctx, opts.ID)
		if err != nil {
			return err
		}
		return printDetail(opts.IO, opts.Format, v, variableFields)
	}
	var pending []string
	for cursor := ""; ; {
		page, err := c.ListEnvironmentVariables(ctx, client.ListOptions{Type: client.TypeSecret, Cursor: cursor, Limit: 200})
		if err != nil {
			return err
		}
		for _, v := range page.Items {
			if v.Status == client.StatusPendingValidation {
				pending = append(pending, v.SchemaName)
			}
		}
		if cursor = page.NextCursor; cursor == "" {
			break
		}
	}
	validated := []client.EnvironmentVariable{}
	for _, name := range pending {
		v, err := c.ValidateEnvironmentVariable(ctx, name)
		if err != nil {
			sayf(opts.IO.ErrOut, "%s: %v\n", name, err)
			continue
		}
		validated = append(validated, *v)
	}
	if opts.Format == formatJSON {
		if err := writeJSON(opts.IO.Out, validated); err != nil {
			return err
		}
	} else if len(pending) == 0 {
		sayf(opts.IO.Out, "No variables pending validation.\n")
	}
	for _, v := range validated {
		printDone(opts.IO, opts.Format, "Validated %s.", v.SchemaName)
	}
	if len(validated) < len(pending) {
		return fmt.Errorf("%d of %d variables pending validation could not be validated", len(pending)-len(validated), len(pending))
	}
	return nil
}
