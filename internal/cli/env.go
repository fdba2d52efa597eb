package cli

import (
	"context"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/credflow/credflow/client"
)

func newCmdEnv(f *factory) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "env",
		Short: "Manage environment variables",
		Long: `Environment variables are named values that automation reads. A text
variable holds its value; a secret variable holds a reference to a secret in a
store (--store, --ref), never the value itself.`,
		RunE: runGroup,
	}
	cmd.AddCommand(
		newCmdEnvCreate(f, nil),
		newCmdEnvList(f, nil),
		newCmdShow(f, &cobra.Command{
			Use:   "get ID",
			Short: "Show an environment variable (by id or schema name)",
			Args:  exactArgs("ID"),
		}, (*client.Client).GetEnvironmentVariable, variableFields),
		newCmdEnvUpdate(f, nil),
		newCmdEnvValidate(f, nil),
		newCmdDelete(f, &cobra.Command{
			Use:   "delete ID",
			Short: "Delete an environment variable (refused while a credential uses it)",
			Args:  exactArgs("ID"),
		}, (*client.Client).DeleteEnvironmentVariable, "Deleted environment variable"),
		newCmdID(f, &cobra.Command{
			Use:   "deps ID",
			Short: "List the credentials and connections that use an environment variable",
			Args:  exactArgs("ID"),
		}, envDepsRun),
		newCmdID(f, &cobra.Command{
			Use:   "access ID",
			Short: "List who can use an environment variable, and by which path",
			Long: `List every user or group that can use an environment variable (a direct
share, membership of a group that holds one, a share given through a
credential's share, or the admin role) and every runner group that reaches
it through a connection, with whether that connection can resolve now.
Owners, co-owners and admins may ask.`,
			Args: exactArgs("ID"),
		}, envAccessRun),
		newCmdShare(f, variableShares, nil),
		newCmdUnshare(f, variableShares, nil),
		newCmdShares(f, variableShares),
		newCmdOwner(f, variableOwner, nil),
	)
	return cmd
}

// envCreateOptions is `credflow env create`.
type envCreateOptions struct {
	IO     *Streams
	Client func() (*client.Client, error)
	Format outputFormat

	DisplayName string
	SchemaName  string
	Description string
	Type        client.VariableType
	Value       string
	Store       string
	Ref         string
	// The parts of a Key Vault secret, instead of Ref.
	SecretName     string
	SecretVersion  string
	VaultName      string
	SubscriptionID string
	ResourceGroup  string
}

// secretRef is the reference the flags give: Ref, or a Key Vault
// secret's parts.
func (o *envCreateOptions) secretRef() *client.SecretRef {
	return &client.SecretRef{Store: o.Store, Ref: o.Ref, SecretName: o.SecretName, SecretVersion: o.SecretVersion,
		VaultName: o.VaultName, SubscriptionID: o.SubscriptionID, ResourceGroup: o.ResourceGroup}
}

// The flags that name a Key Vault secret by its parts, --secret-name first.
var secretPartFlags = []string{"secret-name", "secret-version", "vault-name", "subscription-id", "resource-group"}

func newCmdEnvCreate(f *factory, runF func(*envCreateOptions) error) *cobra.Command {
	opts := &envCreateOptions{IO: f.streams, Client: f.client}
	var typ string
	cmd := &cobra.Command{
		Use:   "create --display-name NAME --type text --value VALUE | --type secret --store STORE (--ref REF | --secret-name NAME ...)",
		Short: "Create an environment variable",
		Long: `Create an environment variable. A text variable holds --value. A secret
variable names a secret in a store, never its value: by --ref, in the store's
own syntax, or in a Key Vault store by --secret-name, optionally with
--secret-version (default: always the latest) and --vault-name,
--subscription-id and --resource-group (default: the store's). Saving it
checks that the secret exists and can be read.`,
		Example: `  credflow env create --display-name "API URL" --type text --value https://api.example.com
  credflow env create --display-name "SQL Password" --type secret --store local --ref sql-password
  credflow env create --display-name "SQL Password" --type secret --store kv --secret-name sql-password`,
		Args: exactArgs(),
		RunE: func(cmd *cobra.Command, _ []string) error {
			opts.Format = f.format()
			opts.Type = client.VariableType(typ)
			if err := checkVariableKind(cmd.Flags(), opts.Type); err != nil {
				return err
			}
			if runF != nil {
				return runF(opts)
			}
			return envCreateRun(cmd.Context(), opts)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&opts.DisplayName, "display-name", "", "display name (required)")
	fl.StringVar(&opts.SchemaName, "schema-name", "", "unique schema name (default: derived from the display name)")
	fl.StringVar(&opts.Description, "description", "", "description")
	fl.StringVar(&typ, "type", "", "text or secret (required)")
	fl.StringVar(&opts.Value, "value", "", "the value of a text variable")
	fl.StringVar(&opts.Store, "store", "", "the store holding a secret variable's secret")
	fl.StringVar(&opts.Ref, "ref", "", "the secret's reference in the store")
	fl.StringVar(&opts.SecretName, "secret-name", "", "Key Vault: the secret's name (instead of --ref)")
	fl.StringVar(&opts.SecretVersion, "secret-version", "", "Key Vault: pin this version of the secret (default: the latest)")
	fl.StringVar(&opts.VaultName, "vault-name", "", "Key Vault: the secret's vault (default: the store's)")
	fl.StringVar(&opts.SubscriptionID, "subscription-id", "", "Key Vault: the vault's subscription (default: the store's)")
	fl.StringVar(&opts.ResourceGroup, "resource-group", "", "Key Vault: the vault's resource group (default: the store's)")
	_ = cmd.MarkFlagRequired("display-name")
	_ = cmd.MarkFlagRequired("type")
	return cmd
}

// checkVariableKind checks that a text variable gets a value and a secret one
// a reference (--ref, or a Key Vault secret's parts), before anything is
// sent.
func checkVariableKind(fl *pflag.FlagSet, t client.VariableType) error {
	given := func(name string) bool { return fl.Changed(name) && fl.Lookup(name).Value.String() != "" }
	part := ""
	for _, name := range secretPartFlags {
		if given(name) {
			part = name
			break
		}
	}
	switch t {
	case client.TypeText:
		if !fl.Changed("value") {
			return usageErrorf("--type text needs --value")
		}
		if given("store") || given("ref") {
			return usageErrorf("--store and --ref are for --type secret")
		}
		if part != "" {
			return usageErrorf("--%s is for --type secret", part)
		}
	case client.TypeSecret:
		if fl.Changed("value") {
			return usageErrorf("a secret variable holds a reference, not a value: store the value with 'credflow store secret put', then pass --store and --ref")
		}
		switch {
		case given("ref") && part != "":
			return usageErrorf("--ref and --%s both name the secret: give --ref, or --secret-name with its parts", part)
		case part != "" && !given("secret-name"):
			return usageErrorf("--%s needs --secret-name", part)
		case !given("store") || (!given("ref") && part == ""):
			return usageErrorf("--type secret needs --store and --ref (or, for Key Vault, --secret-name)")
		}
	default:
		return usageErrorf("--type must be text or secret, not %q", t)
	}
	return nil
}

func envCreateRun(ctx context.Context, opts *envCreateOptions) error {
	c, err := opts.Client()
	if err != nil {
		return err
	}
	req := client.CreateEnvironmentVariableRequest{
		SchemaName:  opts.SchemaName,
		DisplayName: opts.DisplayName,
		Description: opts.Description,
		Type:        opts.Type,
	}
	if opts.Type == client.TypeSecret {
		req.SecretRef = opts.secretRef()
	} else {
		req.Value = opts.Value
	}
	v, err := c.CreateEnvironmentVariable(ctx, req)
	if err != nil {
		return err
	}
	return printDetail(opts.IO, opts.Format, v, variableFields)
}

// newCmdEnvList is `credflow env list`, which also filters by type.
func newCmdEnvList(f *factory, runF func(*listOptions) error) *cobra.Command {
	opts := &listOptions{IO: f.streams, Client: f.client}
	var typ string
	cmd := &cobra.Command{
		Use:   "list [--type text|secret] [--limit N] [--cursor C]",
		Short: "List environment variables",
		Args:  exactArgs(),
		RunE: func(cmd *cobra.Command, _ []string) error {
			opts.Format = f.format()
			switch t := client.VariableType(typ); t {
			case "", client.TypeText, client.TypeSecret:
				opts.List.Type = t
			default:
				return usageErrorf("--type must be text or secret, not %q", typ)
			}
			if err := checkLimit(opts.List.Limit); err != nil {
				return err
			}
			if runF != nil {
				return runF(opts)
			}
			return listRun(cmd.Context(), opts, (*client.Client).ListEnvironmentVariables, variableTable)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&typ, "type", "", "only variables of this type: text or secret")
	addPageFlags(cmd, &opts.List)
	return cmd
}

func variableTable(o *listOptions) tableOf[client.EnvironmentVariable] {
	return tableOf[client.EnvironmentVariable]{
		none:    "No environment variables.",
		headers: []string{"SCHEMA NAME", "DISPLAY NAME", "TYPE", "VALUE/REFERENCE", "OWNER", "STATUS"},
		row: func(v client.EnvironmentVariable) []string {
			return []string{v.SchemaName, v.DisplayName, string(v.Type), truncate(valueOrRef(&v), 60, o.IO.OutTTY), v.Owner, string(v.Status)}
		},
	}
}

func valueOrRef(v *client.EnvironmentVariable) string {
	if v.SecretRef != nil {
		return v.SecretRef.Store + ":" + v.SecretRef.Ref
	}
	return v.Value
}

func variableFields(v *client.EnvironmentVariable) []field {
	fields := []field{
		{"ID", v.ID},
		{"Schema name", v.SchemaName},
		{"Display name", v.DisplayName},
		{"Description", v.Description},
		{"Type", string(v.Type)},
	}
	if r := v.SecretRef; r != nil {
		fields = append(fields, field{"Store", r.Store}, field{"Reference", r.Ref})
		// What the store said of the secret when the variable was saved.
		if r.Enabled != nil {
			fields = append(fields, field{"Secret enabled", yesNo(*r.Enabled)})
		}
		if r.Enabled != nil || r.ExpiresAt != nil {
			expires := "never"
			if r.ExpiresAt != nil {
				expires = formatTime(*r.ExpiresAt)
			}
			fields = append(fields, field{"Secret expires", expires})
		}
	} else {
		fields = append(fields, field{"Value", v.Value})
	}
	if v.Status != "" {
		fields = append(fields, field{"Status", string(v.Status)})
	}
	fields = append(fields,
		field{"Owner", v.Owner},
		field{"Created", formatTime(v.CreatedAt)},
		field{"Updated", formatTime(v.UpdatedAt)},
	)
	return fields
}

// envUpdateOptions is `credflow env update`; only the flags given are sent.
type envUpdateOptions struct {
	IO     *Streams
	Client func() (*client.Client, error)
	Format outputFormat

	ID      string
	Request client.UpdateEnvironmentVariableRequest
}

func newCmdEnvUpdate(f *factory, runF func(*envUpdateOptions) error) *cobra.Command {
	opts := &envUpdateOptions{IO: f.streams, Client: f.client}
	var displayName, description, value, store, ref string
	cmd := &cobra.Command{
		Use:   "update ID [--display-name NAME] [--description D] [--value V | --store STORE --ref REF]",
		Short: "Change an environment variable",
		Args:  exactArgs("ID"),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Format = f.format()
			opts.ID = args[0]
			fl := cmd.Flags()
			r := client.UpdateEnvironmentVariableRequest{}
			if fl.Changed("display-name") {
				r.DisplayName = &displayName
			}
			if fl.Changed("description") {
				r.Description = &description
			}
			if fl.Changed("value") {
				r.Value = &value
			}
			if fl.Changed("ref") {
				r.SecretRef = &client.SecretRef{Store: store, Ref: ref}
			}
			if r == (client.UpdateEnvironmentVariableRequest{}) {
				return usageErrorf("nothing to update: give at least one of --display-name, --description, --value, --store and --ref")
			}
			opts.Request = r
			if runF != nil {
				return runF(opts)
			}
			return envUpdateRun(cmd.Context(), opts)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&displayName, "display-name", "", "new display name")
	fl.StringVar(&description, "description", "", "new description")
	fl.StringVar(&value, "value", "", "new value of a text variable")
	fl.StringVar(&store, "store", "", "new store of a secret variable (with --ref)")
	fl.StringVar(&ref, "ref", "", "new reference of a secret variable (with --store)")
	cmd.MarkFlagsRequiredTogether("store", "ref")
	cmd.MarkFlagsMutuallyExclusive("value", "ref")
	return cmd
}

func envUpdateRun(ctx context.Context, opts *envUpdateOptions) error {
	c, err := opts.Client()
	if err != nil {
		return err
	}
	v, err := c.UpdateEnvironmentVariable(ctx, opts.ID, opts.Request)
	if err != nil {
		return err
	}
	return printDetail(opts.IO, opts.Format, v, variableFields)
}

func envDepsRun(ctx context.Context, c *client.Client, opts *idOptions) error {
	d, err := c.EnvironmentVariableDependencies(ctx, opts.ID)
	if err != nil {
		return err
	}
	if d.Credentials == nil {
		d.Credentials = []client.Dependent{}
	}
	if d.Connections == nil {
		d.Connections = []client.Dependent{}
	}
	if opts.Format == formatJSON {
		return writeJSON(opts.IO.Out, d)
	}
	return writeDependents(opts.IO, opts.ID, map[string][]client.Dependent{
		"credential": d.Credentials,
		"connection": d.Connections,
	}, "credential", "connection")
}

func envAccessRun(ctx context.Context, c *client.Client, opts *idOptions) error {
	a, err := c.EnvironmentVariableAccess(ctx, opts.ID)
	if err != nil {
		return err
	}
	if opts.Format == formatJSON {
		return writeJSON(opts.IO.Out, a)
	}
	t := newTable(opts.IO.Out, "PRINCIPAL", "ROLE", "EXPIRES", "PATH")
	for _, p := range a.Principals {
		t.row(p.Principal, string(p.Role), formatTimePtr(p.ExpiresAt), p.Path)
	}
	if err := t.flush(); err != nil {
		return err
	}
	if len(a.RunnerGroups) == 0 {
		sayf(opts.IO.Out, "\nNo connection reaches %s.\n", a.Variable)
		return nil
	}
	sayf(opts.IO.Out, "\n")
	t = newTable(opts.IO.Out, "RUNNER GROUP", "CONNECTION", "CREDENTIAL", "OWNER", "CAN RESOLVE")
	for _, g := range a.RunnerGroups {
		can := "yes"
		if !g.CanResolve {
			can = "no: " + g.Reason
		}
		t.row(g.RunnerGroup, g.Connection, g.Credential, g.Owner, can)
	}
	return t.flush()
}

// writeDependents prints a KIND, ID, NAME table, kinds in the given order.
func writeDependents(s *Streams, of string, deps map[string][]client.Dependent, kinds ...string) error {
	n := 0
	for _, k := range kinds {
		n += len(deps[k])
	}
	if n == 0 {
		sayf(s.Out, "Nothing depends on %s.\n", of)
		return nil
	}
	t := newTable(s.Out, "KIND", "ID", "NAME")
	for _, k := range kinds {
		for _, d := range deps[k] {
			t.row(k, d.ID, d.Name)
		}
	}
	return t.flush()
}
