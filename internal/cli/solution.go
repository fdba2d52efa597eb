package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"strings"

	"github.com/spf13/cobra"

	"github.com/credflow/credflow/client"
)

func newCmdSolution(f *factory) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "solution",
		Short: "Move credentials and environment variables between environments as packages",
		Long: `A solution is a named, versioned set of credentials and environment
variables. 'export' writes it as a zip that never holds a secret value (a
secret variable carries its store's name and its reference); 'settings' writes
a deployment-settings template to edit per environment; 'import' checks a
package with its settings completely and writes it in one transaction.`,
		RunE: runGroup,
	}
	cmd.AddCommand(
		newCmdSolutionCreate(f, nil),
		newCmdList(f, &cobra.Command{
			Use:   "list [--limit N] [--cursor C]",
			Short: "List your solutions (all, for admins)",
		}, (*client.Client).ListSolutions, solutionTable),
		newCmdShow(f, &cobra.Command{
			Use:     "show NAME",
			Aliases: []string{"get"},
			Short:   "Show a solution and its components",
			Args:    exactArgs("NAME"),
		}, (*client.Client).GetSolution, solutionFields),
		newCmdSolutionUpdate(f, nil),
		newCmdSolutionComponent(f, "add", nil),
		newCmdSolutionComponent(f, "remove", nil),
		newCmdSolutionExport(f, nil),
		newCmdSolutionSettings(f, nil),
		newCmdSolutionImport(f, nil),
	)
	return cmd
}

func solutionFields(s *client.Solution) []field {
	fields := []field{{"ID", s.ID}, {"Name", s.Name}, {"Version", s.Version}, {"Publisher", s.Publisher},
		{"Description", s.Description}, {"Owner", s.Owner}}
	for _, c := range s.Components {
		v := c.Kind + " " + c.Name
		if c.Required {
			v += " (required: lives in another solution)"
		}
		fields = append(fields, field{"Component", v})
	}
	return append(fields, field{"Created", formatTime(s.CreatedAt)}, field{"Updated", formatTime(s.UpdatedAt)})
}

func solutionTable(*listOptions) tableOf[client.Solution] {
	return tableOf[client.Solution]{
		none:    "No solutions.",
		headers: []string{"NAME", "VERSION", "PUBLISHER", "COMPONENTS", "OWNER"},
		row: func(s client.Solution) []string {
			return []string{s.Name, s.Version, s.Publisher, fmt.Sprint(len(s.Components)), s.Owner}
		},
	}
}

// solutionCreateOptions is `credflow solution create`.
type solutionCreateOptions struct {
	IO     *Streams
	Client func() (*client.Client, error)
	Format outputFormat

	Request client.CreateSolutionRequest
}

func newCmdSolutionCreate(f *factory, runF func(*solutionCreateOptions) error) *cobra.Command {
	opts := &solutionCreateOptions{IO: f.streams, Client: f.client}
	cmd := &cobra.Command{
		Use:     "create NAME --version V --prefix P",
		Short:   "Create an empty solution",
		Example: `  credflow solution create Reporting --version 1.0.0.0 --prefix cf`,
		Args:    exactArgs("NAME"),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Format = f.format()
			opts.Request.Name = args[0]
			if runF != nil {
				return runF(opts)
			}
			c, err := opts.Client()
			if err != nil {
				return err
			}
			s, err := c.CreateSolution(cmd.Context(), opts.Request)
			if err != nil {
				return err
			}
			return printDetail(opts.IO, opts.Format, s, solutionFields)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&opts.Request.Version, "version", "", "major.minor.build.revision, such as 1.0.0.0 (required)")
	fl.StringVar(&opts.Request.Publisher, "prefix", "", "the publisher's prefix, such as cf (required)")
	fl.StringVar(&opts.Request.Description, "description", "", "description")
	_ = cmd.MarkFlagRequired("version")
	_ = cmd.MarkFlagRequired("prefix")
	return cmd
}

// solutionUpdateOptions is `credflow solution update`; only the flags given
// are sent.
type solutionUpdateOptions struct {
	IO     *Streams
	Client func() (*client.Client, error)
	Format outputFormat

	Name    string
	Request client.UpdateSolutionRequest
}

func newCmdSolutionUpdate(f *factory, runF func(*solutionUpdateOptions) error) *cobra.Command {
	opts := &solutionUpdateOptions{IO: f.streams, Client: f.client}
	var version, description string
	cmd := &cobra.Command{
		Use:     "update NAME [--version V] [--description D]",
		Short:   "Change a solution's version or description",
		Example: `  credflow solution update Reporting --version 1.1.0.0`,
		Args:    exactArgs("NAME"),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Format = f.format()
			opts.Name = args[0]
			if cmd.Flags().Changed("version") {
				opts.Request.Version = &version
			}
			if cmd.Flags().Changed("description") {
				opts.Request.Description = &description
			}
			if opts.Request.Version == nil && opts.Request.Description == nil {
				return usageErrorf("give --version or --description")
			}
			if runF != nil {
				return runF(opts)
			}
			c, err := opts.Client()
			if err != nil {
				return err
			}
			s, err := c.UpdateSolution(cmd.Context(), opts.Name, opts.Request)
			if err != nil {
				return err
			}
			return printDetail(opts.IO, opts.Format, s, solutionFields)
		},
	}
	cmd.Flags().StringVar(&version, "version", "", "the new version, major.minor.build.revision")
	cmd.Flags().StringVar(&description, "description", "", "the new description")
	return cmd
}

// solutionComponentOptions is `credflow solution add` and `remove`.
type solutionComponentOptions struct {
	IO     *Streams
	Client func() (*client.Client, error)
	Format outputFormat

	Name       string
	Credential string
	Variable   string
}

// kindName is the one component the flags name.
func (o *solutionComponentOptions) kindName() (kind, name string, err error) {
	switch {
	case o.Credential != "" && o.Variable != "":
		return "", "", usageErrorf("give --credential or --env-var, not both")
	case o.Credential != "":
		return "credential", o.Credential, nil
	case o.Variable != "":
		return "variable", o.Variable, nil
	}
	return "", "", usageErrorf("give --credential NAME or --env-var SCHEMA_NAME")
}

func newCmdSolutionComponent(f *factory, verb string, runF func(*solutionComponentOptions) error) *cobra.Command {
	opts := &solutionComponentOptions{IO: f.streams, Client: f.client}
	short := "Add a credential (with its two variables) or an environment variable to a solution"
	if verb == "remove" {
		short = "Take a credential or an environment variable out of a solution"
	}
	cmd := &cobra.Command{
		Use:     verb + " NAME (--credential NAME | --env-var SCHEMA_NAME)",
		Short:   short,
		Example: fmt.Sprintf(`  credflow solution %s Reporting --credential "SQL reporting"`, verb),
		Args:    exactArgs("NAME"),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Format = f.format()
			opts.Name = args[0]
			kind, name, err := opts.kindName()
			if err != nil {
				return err
			}
			if runF != nil {
				return runF(opts)
			}
			c, err := opts.Client()
			if err != nil {
				return err
			}
			call := c.AddSolutionComponent
			if verb == "remove" {
				call = c.RemoveSolutionComponent
			}
			s, err := call(cmd.Context(), opts.Name, kind, name)
			if err != nil {
				return err
			}
			return printDetail(opts.IO, opts.Format, s, solutionFields)
		},
	}
	cmd.Flags().StringVar(&opts.Credential, "credential", "", "a credential, by name or id")
	cmd.Flags().StringVar(&opts.Variable, "env-var", "", "an environment variable, by schema name or id")
	return cmd
}

// solutionFileOptions is `credflow solution export` and `settings`: they
// write a file named by -o (which here names the file, not the format).
type solutionFileOptions struct {
	IO     *Streams
	Client func() (*client.Client, error)

	Name          string
	File          string
	WithoutValues bool
}

func newCmdSolutionExport(f *factory, runF func(*solutionFileOptions) error) *cobra.Command {
	opts := &solutionFileOptions{IO: f.streams, Client: f.client}
	cmd := &cobra.Command{
		Use:   "export NAME -o FILE.zip [--without-values]",
		Short: "Write a solution's package: definitions only, never a secret value",
		Long: `Write a solution as a zip: solution.json (name, version, publisher, the
components in dependency order, and the components it requires from other
solutions) and one JSON file per component. The same content always gives
the same bytes. A secret variable is its store's name and its reference;
--without-values leaves text variables' values out too.`,
		Example: `  credflow solution export Reporting -o reporting.zip`,
		Args:    exactArgs("NAME"),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Name = args[0]
			if runF != nil {
				return runF(opts)
			}
			return solutionFileRun(cmd.Context(), opts, func(c *client.Client) ([]byte, error) {
				return c.ExportSolution(cmd.Context(), opts.Name, opts.WithoutValues)
			})
		},
	}
	cmd.Flags().StringVarP(&opts.File, "output", "o", "", "the file to write (required)")
	cmd.Flags().BoolVar(&opts.WithoutValues, "without-values", false, "leave text variables' values out too")
	_ = cmd.MarkFlagRequired("output")
	return cmd
}

func newCmdSolutionSettings(f *factory, runF func(*solutionFileOptions) error) *cobra.Command {
	opts := &solutionFileOptions{IO: f.streams, Client: f.client}
	cmd := &cobra.Command{
		Use:   "settings NAME -o FILE.json",
		Short: "Write a deployment-settings template: every variable with its value or reference",
		Long: `Write the deployment settings of a solution as it is here: every
environment variable of its own with its text value or its secret's store
and reference. Edit a copy per environment (a store named dev-kv here may be
prod-kv there) and give it to 'credflow solution import --settings'. A
settings file never holds a secret's value, and import refuses one that does.`,
		Example: `  credflow solution settings Reporting -o prod.json`,
		Args:    exactArgs("NAME"),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Name = args[0]
			if runF != nil {
				return runF(opts)
			}
			return solutionFileRun(cmd.Context(), opts, func(c *client.Client) ([]byte, error) {
				b, err := c.SolutionSettings(cmd.Context(), opts.Name)
				if err != nil {
					return nil, err
				}
				// Indented, for people to edit.
				var out bytes.Buffer
				if err := json.Indent(&out, b, "", "  "); err != nil {
					return nil, fmt.Errorf("settings of %s: %w", opts.Name, err)
				}
				return out.Bytes(), nil
			})
		},
	}
	cmd.Flags().StringVarP(&opts.File, "output", "o", "", "the file to write (required)")
	_ = cmd.MarkFlagRequired("output")
	return cmd
}

func solutionFileRun(_ context.Context, opts *solutionFileOptions, get func(*client.Client) ([]byte, error)) error {
	c, err := opts.Client()
	if err != nil {
		return err
	}
	b, err := get(c)
	if err != nil {
		return err
	}
	if err := os.WriteFile(opts.File, b, 0o644); err != nil {
		return err
	}
	sayf(opts.IO.ErrOut, "Wrote %s (%d bytes).\n", opts.File, len(b))
	return nil
}

// solutionImportOptions is `credflow solution import`.
type solutionImportOptions struct {
	IO     *Streams
	Client func() (*client.Client, error)
	Format outputFormat

	File            string
	Settings        string
	AllowDowngrade  bool
	DeferValidation bool
}

func newCmdSolutionImport(f *factory, runF func(*solutionImportOptions) error) *cobra.Command {
	opts := &solutionImportOptions{IO: f.streams, Client: f.client}
	cmd := &cobra.Command{
		Use:   "import FILE.zip [--settings FILE.json] [--allow-downgrade] [--defer-validation]",
		Short: "Import a solution package, checked whole and written in one transaction",
		Long: `Import a package exported by 'credflow solution export'. Everything is
checked first (missing dependencies, unknown stores, your store grants, names,
objects of the same name owned by someone else, secret values in the
settings) and every problem is reported at once; only then is the package
written, all in one transaction. You own what is created. Importing the same
package twice changes nothing; a higher version upgrades in place; a lower
one is refused unless --allow-downgrade. With --defer-validation, secret
variables whose store cannot be read now are imported pending validation
(your grants are checked all the same); 'credflow env validate' completes them.`,
		Example: `  credflow solution import reporting.zip --settings prod.json`,
		Args:    exactArgs("FILE"),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Format = f.format()
			opts.File = args[0]
			if runF != nil {
				return runF(opts)
			}
			return solutionImportRun(cmd.Context(), opts)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&opts.Settings, "settings", "", "deployment settings for this environment (JSON)")
	fl.BoolVar(&opts.AllowDowngrade, "allow-downgrade", false, "let a lower version replace the installed one")
	fl.BoolVar(&opts.DeferValidation, "defer-validation", false, "import secret variables whose store cannot be read now, pending validation")
	return cmd
}

// maxListed bounds the objects an import's summary names one by one: a bulk
// import of 100,000 variables would otherwise print them all on one line.
const maxListed = 20

func solutionImportRun(ctx context.Context, opts *solutionImportOptions) error {
	pkg, err := os.ReadFile(opts.File)
	if err != nil {
		return err
	}
	in := client.ImportOptions{AllowDowngrade: opts.AllowDowngrade, DeferValidation: opts.DeferValidation}
	if opts.Settings != "" {
		if in.Settings, err = os.ReadFile(opts.Settings); err != nil {
			return err
		}
	}
	c, err := opts.Client()
	if err != nil {
		return err
	}
	res, err := c.ImportSolution(ctx, pkg, in)
	if err != nil {
		return err
	}
	if opts.Format == formatJSON {
		return writeJSON(opts.IO.Out, res)
	}
	s := res.Solution
	switch {
	case res.Unchanged:
		sayf(opts.IO.Out, "Solution %s %s is already installed as the package says: nothing changed.\n", s.Name, s.Version)
	case res.PreviousVersion != "":
		sayf(opts.IO.Out, "Imported solution %s %s (was %s).\n", s.Name, s.Version, res.PreviousVersion)
	default:
		sayf(opts.IO.Out, "Imported solution %s %s.\n", s.Name, s.Version)
	}
	for _, l := range []struct {
		what  string
		items []string
	}{{"Created", res.Created}, {"Updated", res.Updated}, {"Pending validation", res.PendingValidation}} {
		switch n := len(l.items); {
		case n > maxListed:
			sayf(opts.IO.Out, "%s: %d objects: %s, and %d more (-o json lists them all)\n", l.what, n, strings.Join(l.items[:maxListed], ", "), n-maxListed)
		case n > 0:
			sayf(opts.IO.Out, "%s: %s\n", l.what, strings.Join(l.items, ", "))
		}
	}
	if len(res.PendingValidation) > 0 {
		sayf(opts.IO.Out, "Run 'credflow env validate' once their stores can be read: until then they do not resolve.\n")
	}
	return nil
}
