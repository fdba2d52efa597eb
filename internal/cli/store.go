package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/credflow/credflow/client"
)

func newCmdStore(f *factory) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "store",
		Short: "Register and check secret stores, write secrets to the built-in one, grant their use",
		RunE:  runGroup,
	}
	cmd.AddCommand(
		newCmdStoreAdd(f, nil),
		newCmdStoreList(f, nil),
		newCmdShow(f, &cobra.Command{
			Use:   "get NAME",
			Short: "Show a secret store (by name or id): its settings and cache",
			Args:  exactArgs("NAME"),
		}, (*client.Client).GetStore, storeFields),
		newCmdStoreUpdate(f, nil),
		newCmdDelete(f, &cobra.Command{
			Use:   "remove NAME",
			Short: "Remove a store no environment variable references (admins)",
			Args:  exactArgs("NAME"),
		}, (*client.Client).DeleteStore, "Removed store"),
		newCmdStoreCheck(f, nil),
		newCmdStoreSecret(f),
		newCmdStoreGrant(f, nil),
		newCmdStoreRevoke(f, nil),
		newCmdItems(f, &cobra.Command{
			Use:   "grants STORE",
			Short: "List who may reference a store's secrets (admins)",
			Args:  exactArgs("STORE"),
		}, (*client.Client).StoreGrants, storeGrantTable),
	)
	return cmd
}

// storeListOptions is `credflow store list`.
type storeListOptions struct {
	IO     *Streams
	Client func() (*client.Client, error)
	Format outputFormat
}

func newCmdStoreList(f *factory, runF func(*storeListOptions) error) *cobra.Command {
	opts := &storeListOptions{IO: f.streams, Client: f.client}
	return &cobra.Command{
		Use:   "list",
		Short: "List the secret stores",
		Args:  exactArgs(),
		RunE: func(cmd *cobra.Command, _ []string) error {
			opts.Format = f.format()
			if runF != nil {
				return runF(opts)
			}
			return storeListRun(cmd.Context(), opts)
		},
	}
}

func storeListRun(ctx context.Context, opts *storeListOptions) error {
	c, err := opts.Client()
	if err != nil {
		return err
	}
	stores, err := c.ListStores(ctx)
	if err != nil {
		return err
	}
	return writeList(opts.IO, opts.Format, stores, tableOf[client.Store]{
		none:    "No stores.",
		headers: []string{"NAME", "KIND", "STATUS"},
		row:     func(s client.Store) []string { return []string{s.Name, s.Kind, storeStatus(&s)} },
	})
}

// storeStatus is a store's status with, when it is not ready, the step
// that failed: "degraded (reach the vault)".
func storeStatus(s *client.Store) string {
	if s.Status != client.StoreReady && s.LastCheck != nil && s.LastCheck.Step != "" {
		return string(s.Status) + " (" + s.LastCheck.Step + ")"
	}
	return string(s.Status)
}

func storeFields(s *client.Store) []field {
	fields := []field{
		{"ID", s.ID},
		{"Name", s.Name},
		{"Kind", s.Kind},
		{"Status", string(s.Status)},
	}
	if lc := s.LastCheck; lc != nil {
		if lc.CheckedAt != nil {
			fields = append(fields, field{"Last checked", formatTime(*lc.CheckedAt)})
		}
		if lc.Step != "" {
			fields = append(fields, field{"Failing step", lc.Step}, field{"Detail", lc.Detail})
		}
		if lc.Hint != "" {
			fields = append(fields, field{"Fix", lc.Hint})
		}
	}
	fields = append(fields, []field{
		{"Cache TTL", formatDuration(s.CacheTTL, "no cache")},
		{"Stale if error", formatDuration(s.StaleIfError, "never")},
	}...)
	fields = append(fields, settingsFields(s.Settings)...)
	return append(fields,
		field{"Created", formatTime(s.CreatedAt)},
		field{"Updated", formatTime(s.UpdatedAt)},
	)
}

// formatDuration prints d without zero units ("1m", not "1m0s"), and what
// zero means.
func formatDuration(d time.Duration, zero string) string {
	if d == 0 {
		return "0s (" + zero + ")"
	}
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = strings.TrimSuffix(s, "0s")
	}
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	return s
}

// settingsFields lists a store's settings one per line, nested objects
// flattened to dotted names, in the order the server sent them.
func settingsFields(raw json.RawMessage) []field {
	var out []field
	if len(bytes.TrimSpace(raw)) == 0 {
		return []field{{"Settings", "none"}}
	}
	if err := flattenObject(raw, "", &out); err != nil {
		return []field{{"Settings", string(raw)}}
	}
	if len(out) == 0 {
		return []field{{"Settings", "none"}}
	}
	return append([]field{{"Settings", ""}}, out...)
}

func flattenObject(raw json.RawMessage, prefix string, out *[]field) error {
	dec := json.NewDecoder(bytes.NewReader(raw))
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		return errors.New("not a JSON object")
	}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return err
		}
		key, _ := tok.(string)
		var v json.RawMessage
		if err := dec.Decode(&v); err != nil {
			return err
		}
		var str string
		switch {
		case bytes.HasPrefix(v, []byte("{")):
			if err := flattenObject(v, prefix+key+".", out); err != nil {
				return err
			}
			continue
		case bytes.HasPrefix(v, []byte(`"`)):
			if err := json.Unmarshal(v, &str); err != nil {
				return err
			}
		default:
			var b bytes.Buffer
			if err := json.Compact(&b, v); err != nil {
				return err
			}
			str = b.String()
		}
		*out = append(*out, field{"  " + prefix + key, str})
	}
	return nil
}

// writeCheck prints a check's steps: "✓ name — detail", and under a failing
// step how to fix it.
func writeCheck(w io.Writer, r *client.CheckReport) {
	for _, st := range r.Steps {
		mark := "✓"
		if !st.OK {
			mark = "✗"
		}
		line := mark + " " + oneLine(st.Name)
		if st.Detail != "" {
			line += " — " + oneLine(st.Detail)
		}
		fmt.Fprintln(w, line)
		if !st.OK && st.Hint != "" {
			fmt.Fprintln(w, "  fix: "+oneLine(st.Hint))
		}
	}
}

// failedStep names the first failing step of a report that did not pass.
func failedStep(r *client.CheckReport) string {
	if st := r.FirstFailure(); st != nil {
		return fmt.Sprintf("%q", oneLine(st.Name))
	}
	return "a step"
}

// kindFlags are the flags that build one kind's settings.
type kindFlags interface {
	// changed returns the first of the flags that was given, or "".
	changed(fl *pflag.FlagSet) string
	build() (json.RawMessage, error)
}

// kindFlagSets lists each kind's flags: the kind, how messages name its
// flags, and the flags.
type kindFlagSets []struct {
	kind, noun string
	flags      kindFlags
}

// kindFlagsGiven returns the flags of the one kind whose flags were given
// (nil when none were), refusing flags of two kinds, kind flags beside
// --settings/--settings-file, and flags of another kind than --kind.
func kindFlagsGiven(fl *pflag.FlagSet, kind string, settingsGiven bool, sets kindFlagSets) (kindFlags, error) {
	var given []int
	for i, s := range sets {
		if s.flags.changed(fl) != "" {
			given = append(given, i)
		}
	}
	switch {
	case len(given) == 0:
		return nil, nil
	case len(given) > 1:
		return nil, usageErrorf("--%s and --%s are for different kinds of store",
			sets[given[0]].flags.changed(fl), sets[given[1]].flags.changed(fl))
	}
	s := sets[given[0]]
	set := s.flags.changed(fl)
	switch {
	case settingsGiven:
		return nil, usageErrorf("--%s builds the settings: give the %s flags or --settings/--settings-file, not both", set, s.noun)
	case kind != s.kind:
		return nil, usageErrorf("--%s is for --kind %s", set, s.kind)
	}
	found := s.flags
	return found, nil
}

// The kind whose settings the Key Vault flags build.
const kindKeyVault = "azure-keyvault"

// storeAddOptions is `credflow store add`.
type storeAddOptions struct {
	IO     *Streams
	Client func() (*client.Client, error)
	Format outputFormat

	Request client.CreateStoreRequest
}

func newCmdStoreAdd(f *factory, runF func(*storeAddOptions) error) *cobra.Command {
	opts := &storeAddOptions{IO: f.streams, Client: f.client}
	var (
		kind     string
		settings settingsFlags
		kv       keyVaultFlags
		cj       conjurFlags
		hv       vaultFlags
		ccp      ccpFlags
		cache    cacheFlags
	)
	cmd := &cobra.Command{
		Use:   "add NAME --kind KIND [--settings-file FILE | --settings JSON | Key Vault, CCP, Conjur or Vault flags] [--cache-ttl D] [--stale-if-error D] [--poll-interval D]",
		Short: "Register a secret store and check it (admins)",
		Long: `Register a secret store and check it at once, step by step: can credflow
reach it, sign in, and is it the right tenant. The store is saved even when a
step fails; the report says which, and how to fix it.

The settings are the kind's own JSON object, from --settings-file ('-' for
standard input) or --settings. For Azure Key Vault, CyberArk CCP, CyberArk
Conjur and HashiCorp Vault the flags below build it instead. Settings never
hold a secret: a client secret, API key, token or secret id is named by the
path of a file on the server (--client-secret-file, --conjur-api-key-file,
--vault-secret-id-file, ...) or by the name of an environment variable of
the server (--client-secret-env, --conjur-api-key-env, ...); a client
certificate and its key are files (--ccp-client-cert-file).

Values read from the store are cached for a minute unless --cache-ttl says
otherwise, and never served stale unless --stale-if-error allows it.`,
		Example: `  credflow store add kv --kind azure-keyvault --tenant-id $TENANT \
      --subscription-id $SUB --resource-group rg-secrets --vault-name myvault \
      --auth managed-identity
  credflow store add kv --kind azure-keyvault --settings-file kv.json --cache-ttl 5m
  credflow store add kv --kind azure-keyvault --auth client-secret --client-id $APP \
      --client-secret-file /etc/credflow/kv-secret --tenant-id $TENANT ...
  credflow store add conjur --kind cyberark-conjur --conjur-url https://conjur.example.com \
      --conjur-account conjur --conjur-login host/credflow/robots \
      --conjur-api-key-file /etc/credflow/conjur-api-key --conjur-ca-file /etc/credflow/conjur-ca.pem

  credflow store add vault --kind hashicorp-vault --vault-address https://vault.example.com:8200 \
      --vault-auth approle --vault-role-id $ROLE_ID --vault-secret-id-file /etc/credflow/vault-secret-id
  credflow store add ccp --kind cyberark-ccp --ccp-url https://ccp.example.com \
      --ccp-app-id credflow --ccp-safe Robots --ccp-client-cert-file /etc/credflow/ccp.pem \
      --ccp-client-key-file /etc/credflow/ccp-key.pem --ccp-ca-file /etc/credflow/ccp-ca.pem`,
		Args: exactArgs("NAME"),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Format = f.format()
			fl := cmd.Flags()
			r := client.CreateStoreRequest{Name: args[0], Kind: kind}
			kf, err := kindFlagsGiven(fl, kind, settings.given(fl), kindFlagSets{
				{kindKeyVault, "Key Vault", &kv}, {kindCCP, "CCP", &ccp}, {kindConjur, "Conjur", &cj}, {kindHashiCorpVault, "Vault", &hv},
			})
			if err != nil {
				return err
			}
			if kf != nil {
				r.Settings, err = kf.build()
			} else {
				r.Settings, err = settings.read(fl, f.streams.In)
			}
			if err != nil {
				return err
			}
			r.CacheTTL, r.StaleIfError, r.PollInterval = cache.values(fl)
			opts.Request = r
			if runF != nil {
				return runF(opts)
			}
			return storeAddRun(cmd.Context(), opts)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&kind, "kind", "", "the kind of store, e.g. "+kindKeyVault+" (required)")
	_ = cmd.MarkFlagRequired("kind")
	settings.add(cmd)
	kv.add(fl)
	cj.add(fl)
	hv.add(fl)
	ccp.add(fl)
	cache.add(fl)
	return cmd
}

func storeAddRun(ctx context.Context, opts *storeAddOptions) error {
	c, err := opts.Client()
	if err != nil {
		return err
	}
	s, err := c.CreateStore(ctx, opts.Request)
	if err != nil {
		return err
	}
	return printSavedStore(opts.IO, opts.Format, s)
}

// printSavedStore prints a store that was just added or changed, with the
// check the server ran on it. A failed check is an error: the store is
// saved, the report says what is left to fix, and the exit code tells a
// script that it cannot be used yet.
func printSavedStore(io *Streams, format outputFormat, s *client.Store) error {
	var err error
	if format == formatJSON {
		err = writeJSON(io.Out, s)
	} else {
		err = writeFields(io.Out, storeFields(s))
		if err == nil && s.Check != nil {
			fmt.Fprintln(io.Out, "\nCheck:")
			writeCheck(io.Out, s.Check)
		}
	}
	if err == nil && s.Check != nil && !s.Check.OK {
		name := printable(s.Name)
		return fmt.Errorf("store %s was saved, but its check failed at %s: fix it with 'credflow store update %s', then run 'credflow store check %s'",
			name, failedStep(s.Check), name, name)
	}
	return err
}

// storeUpdateOptions is `credflow store update`; only the flags given are sent.
type storeUpdateOptions struct {
	IO     *Streams
	Client func() (*client.Client, error)
	Format outputFormat

	Name    string
	Request client.UpdateStoreRequest
	// KeyVault, when set, lays the Key Vault flags given over the store's
	// current settings before the update is sent.
	KeyVault func(current json.RawMessage) (json.RawMessage, error)
}

func newCmdStoreUpdate(f *factory, runF func(*storeUpdateOptions) error) *cobra.Command {
	opts := &storeUpdateOptions{IO: f.streams, Client: f.client}
	var (
		settings settingsFlags
		kv       keyVaultFlags
		cache    cacheFlags
	)
	cmd := &cobra.Command{
		Use:   "update NAME [--settings-file FILE | --settings JSON | Key Vault flags] [--cache-ttl D] [--stale-if-error D] [--poll-interval D]",
		Short: "Change a store's settings or run-time cache (admins)",
		Long: `Change a store's settings or how long its values are cached. Settings from
--settings or --settings-file replace the old ones whole; the Key Vault flags
of 'credflow store add' change only what they name (--auth starts the
sign-in settings afresh; a new --vault-name or --cloud without --vault-url
derives the vault's URL again). New settings are checked at once, as by
'credflow store add'; a failed check exits 1 and says which step failed.`,
		Example: `  credflow store update kv --cache-ttl 5m --stale-if-error 1h
  credflow store update kv --settings-file kv.json
  credflow store update kv --auth client-secret --client-id $APP --client-secret-env KV_SECRET`,
		Args: exactArgs("NAME"),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Format = f.format()
			opts.Name = args[0]
			fl := cmd.Flags()
			r := client.UpdateStoreRequest{}
			var err error
			if set := kv.changed(fl); set != "" {
				if settings.given(fl) {
					return usageErrorf("--%s changes the settings: give the Key Vault flags or --settings/--settings-file, not both", set)
				}
				if err := kv.check(); err != nil {
					return err
				}
				opts.KeyVault = func(current json.RawMessage) (json.RawMessage, error) { return kv.overlay(fl, current) }
			} else if r.Settings, err = settings.read(fl, f.streams.In); err != nil {
				return err
			}
			r.CacheTTL, r.StaleIfError, r.PollInterval = cache.values(fl)
			if r.Settings == nil && opts.KeyVault == nil && r.CacheTTL == nil && r.StaleIfError == nil && r.PollInterval == nil {
				return usageErrorf("nothing to update: give at least one of --settings, --settings-file, the Key Vault flags, --cache-ttl, --stale-if-error and --poll-interval")
			}
			opts.Request = r
			if runF != nil {
				return runF(opts)
			}
			return storeUpdateRun(cmd.Context(), opts)
		},
	}
	settings.add(cmd)
	kv.add(cmd.Flags())
	cache.add(cmd.Flags())
	return cmd
}

func storeUpdateRun(ctx context.Context, opts *storeUpdateOptions) error {
	c, err := opts.Client()
	if err != nil {
		return err
	}
	if opts.KeyVault != nil {
		cur, err := c.GetStore(ctx, opts.Name)
		if err != nil {
			return err
		}
		if cur.Kind != kindKeyVault {
			return &refusalError{fmt.Errorf("the Key Vault flags are for stores of kind %s; %s is of kind %s: use --settings or --settings-file",
				kindKeyVault, printable(cur.Name), printable(cur.Kind))}
		}
		if opts.Request.Settings, err = opts.KeyVault(cur.Settings); err != nil {
			return err
		}
	}
	s, err := c.UpdateStore(ctx, opts.Name, opts.Request)
	if err != nil {
		return err
	}
	return printSavedStore(opts.IO, opts.Format, s)
}

// storeCheckOptions is `credflow store check`.
type storeCheckOptions struct {
	IO     *Streams
	Client func() (*client.Client, error)
	Format outputFormat

	Store  string
	Secret string
}

func newCmdStoreCheck(f *factory, runF func(*storeCheckOptions) error) *cobra.Command {
	opts := &storeCheckOptions{IO: f.streams, Client: f.client}
	cmd := &cobra.Command{
		Use:   "check NAME [--secret NAME]",
		Short: "Check a store step by step, optionally reading one secret (admins)",
		Long: `Check a store step by step: can credflow reach it, sign in, is it the right
tenant, and with --secret can it read that secret (its value is not shown).
Exits 1 when a step fails, naming it; each failing step says how to fix it.`,
		Example: `  credflow store check kv --secret sql-password`,
		Args:    exactArgs("NAME"),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Format = f.format()
			opts.Store = args[0]
			if runF != nil {
				return runF(opts)
			}
			return storeCheckRun(cmd.Context(), opts)
		},
	}
	cmd.Flags().StringVar(&opts.Secret, "secret", "", "also read this secret (by its reference in the store)")
	return cmd
}

func storeCheckRun(ctx context.Context, opts *storeCheckOptions) error {
	c, err := opts.Client()
	if err != nil {
		return err
	}
	r, err := c.CheckStore(ctx, opts.Store, opts.Secret)
	if err != nil {
		return err
	}
	if opts.Format == formatJSON {
		if err := writeJSON(opts.IO.Out, r); err != nil {
			return err
		}
	} else {
		writeCheck(opts.IO.Out, r)
	}
	if !r.OK {
		msg := fmt.Sprintf("store %s failed its check at %s", opts.Store, failedStep(r))
		if st := r.FirstFailure(); st != nil && st.Detail != "" {
			msg += ": " + st.Detail
		}
		return errors.New(msg)
	}
	return nil
}

// settingsFlags are --settings and --settings-file: a store's settings
// object, inline or from a file.
type settingsFlags struct {
	inline, file string
}

// maxSettings bounds a settings file.
const maxSettings = 64 << 10

func (s *settingsFlags) add(cmd *cobra.Command) {
	fl := cmd.Flags()
	fl.StringVar(&s.file, "settings-file", "", "read the settings JSON object from this file ('-': standard input)")
	fl.StringVar(&s.inline, "settings", "", "the settings, as a JSON object")
	cmd.MarkFlagsMutuallyExclusive("settings", "settings-file")
}

func (s *settingsFlags) given(fl *pflag.FlagSet) bool {
	return fl.Changed("settings") || fl.Changed("settings-file")
}

// read returns the settings given, nil when none were. Its errors never
// repeat the input: a secret may have been pasted into it by mistake.
func (s *settingsFlags) read(fl *pflag.FlagSet, stdin io.Reader) (json.RawMessage, error) {
	var (
		b    []byte
		from string
	)
	switch {
	case fl.Changed("settings"):
		b, from = []byte(s.inline), "--settings"
	case fl.Changed("settings-file"):
		from = "--settings-file " + s.file
		var rd io.Reader
		if s.file == "-" {
			from, rd = "--settings-file - (standard input)", stdin
		} else {
			fh, err := os.Open(s.file)
			if err != nil {
				return nil, usageErrorf("--settings-file: %v", err)
			}
			defer fh.Close()
			rd = fh
		}
		var err error
		if b, err = io.ReadAll(io.LimitReader(rd, maxSettings+1)); err != nil {
			return nil, usageErrorf("%s: %v", from, err)
		}
		if len(b) > maxSettings {
			return nil, usageErrorf("%s: longer than %d bytes", from, maxSettings)
		}
	default:
		return nil, nil
	}
	return settingsObject(b, from)
}

// settingsObject checks that b is one JSON object and compacts it.
func settingsObject(b []byte, from string) (json.RawMessage, error) {
	var obj map[string]json.RawMessage
	if err := json.Unmarshal(b, &obj); err != nil {
		var se *json.SyntaxError
		if errors.As(err, &se) {
			return nil, usageErrorf("%s: not valid JSON (at byte %d); want one object such as {\"tenantId\": \"...\"}", from, se.Offset)
		}
		return nil, usageErrorf("%s: want one JSON object such as {\"tenantId\": \"...\"}", from)
	}
	if obj == nil {
		return nil, usageErrorf("%s: want one JSON object, not null", from)
	}
	var out bytes.Buffer
	if err := json.Compact(&out, b); err != nil {
		return nil, usageErrorf("%s: not valid JSON", from)
	}
	return out.Bytes(), nil
}

// cacheFlags are --cache-ttl, --stale-if-error and --poll-interval.
type cacheFlags struct {
	ttl, stale, poll time.Duration
}

func (c *cacheFlags) add(fl *pflag.FlagSet) {
	fl.DurationVar(&c.ttl, "cache-ttl", 0, "reuse a value read from the store this long, e.g. 60s or 5m; 0s: no cache")
	fl.DurationVar(&c.stale, "stale-if-error", 0, "serve an expired value this long while the store fails; 0s: never")
	fl.DurationVar(&c.poll, "poll-interval", 0, "compare the referenced secrets' versions this often, for changes no event announced (default 5m); 0s: never")
}

// values returns the durations given, nil for those that were not.
func (c *cacheFlags) values(fl *pflag.FlagSet) (ttl, stale, poll *time.Duration) {
	if fl.Changed("cache-ttl") {
		ttl = &c.ttl
	}
	if fl.Changed("stale-if-error") {
		stale = &c.stale
	}
	if fl.Changed("poll-interval") {
		poll = &c.poll
	}
	return ttl, stale, poll
}

// keyVaultFlags build the settings of an Azure Key Vault store, so that
// nobody has to write its JSON.
type keyVaultFlags struct {
	settings keyVaultSettings
	auth     keyVaultAuth
}

// keyVaultSettings is the settings object of the azure-keyvault kind, with
// only the fields that were given.
type keyVaultSettings struct {
	TenantID             string        `json:"tenantId,omitempty"`
	SubscriptionID       string        `json:"subscriptionId,omitempty"`
	ResourceGroup        string        `json:"resourceGroup,omitempty"`
	VaultName            string        `json:"vaultName,omitempty"`
	VaultURL             string        `json:"vaultUrl,omitempty"`
	AllowCustomVaultHost bool          `json:"allowCustomVaultHost,omitempty"`
	Cloud                string        `json:"cloud,omitempty"`
	Auth                 *keyVaultAuth `json:"auth,omitempty"`
}

type keyVaultAuth struct {
	Kind                   string `json:"kind,omitempty"`
	ClientID               string `json:"clientId,omitempty"`
	ClientSecretFile       string `json:"clientSecretFile,omitempty"`
	ClientSecretEnv        string `json:"clientSecretEnv,omitempty"`
	CertificateFile        string `json:"certificateFile,omitempty"`
	CertificatePasswordEnv string `json:"certificatePasswordEnv,omitempty"`
}

// The Key Vault flags, in the order people give them; the auth ones last.
var (
	keyVaultSettingFlags = []string{"tenant-id", "subscription-id", "resource-group", "vault-name", "vault-url", "allow-custom-vault-host", "cloud"}
	keyVaultAuthFlags    = []string{"auth", "client-id", "client-secret-file", "client-secret-env", "certificate-file", "certificate-password-env"}
)

var (
	keyVaultClouds = []string{"public", "china", "usgov"}
	keyVaultAuths  = []string{"default", "managed-identity", "workload-identity", "client-secret", "client-certificate"}
)

func (k *keyVaultFlags) add(fl *pflag.FlagSet) {
	s := &k.settings
	fl.StringVar(&s.TenantID, "tenant-id", "", "Key Vault: the vault's Entra ID tenant (a GUID)")
	fl.StringVar(&s.SubscriptionID, "subscription-id", "", "Key Vault: the vault's subscription (a GUID)")
	fl.StringVar(&s.ResourceGroup, "resource-group", "", "Key Vault: the vault's resource group")
	fl.StringVar(&s.VaultName, "vault-name", "", "Key Vault: the vault's name")
	fl.StringVar(&s.VaultURL, "vault-url", "", "Key Vault: the vault's URL, when not https://NAME.vault.azure.net/ (a private endpoint, a proxy)")
	fl.BoolVar(&s.AllowCustomVaultHost, "allow-custom-vault-host", false, "Key Vault: accept a --vault-url outside the cloud's vault domain (weakens a check; not for real vaults)")
	fl.StringVar(&s.Cloud, "cloud", "", "Key Vault: "+strings.Join(keyVaultClouds, ", ")+" (default public)")
	fl.StringVar(&k.auth.Kind, "auth", "", "Key Vault: how credflow signs in: "+strings.Join(keyVaultAuths, ", "))
	fl.StringVar(&k.auth.ClientID, "client-id", "", "Key Vault: the application (client) id of the service principal or user-assigned identity")
	fl.StringVar(&k.auth.ClientSecretFile, "client-secret-file", "", "Key Vault: absolute path, on the server, of the file holding the client secret")
	fl.StringVar(&k.auth.ClientSecretEnv, "client-secret-env", "", "Key Vault: name of the server's environment variable holding the client secret")
	fl.StringVar(&k.auth.CertificateFile, "certificate-file", "", "Key Vault: absolute path, on the server, of the client certificate (PEM or PKCS#12)")
	fl.StringVar(&k.auth.CertificatePasswordEnv, "certificate-password-env", "", "Key Vault: name of the server's environment variable holding the certificate's password")
}

// changed returns the first Key Vault flag given, or "".
func (k *keyVaultFlags) changed(fl *pflag.FlagSet) string {
	for _, name := range append(append([]string{}, keyVaultSettingFlags...), keyVaultAuthFlags...) {
		if fl.Changed(name) {
			return name
		}
	}
	return ""
}

// check refuses a --cloud or --auth the kind does not know.
func (k *keyVaultFlags) check() error {
	if s := k.settings; s.Cloud != "" && !slices.Contains(keyVaultClouds, s.Cloud) {
		return usageErrorf("--cloud must be %s, not %q", strings.Join(keyVaultClouds, ", "), s.Cloud)
	}
	if k.auth.Kind != "" && !slices.Contains(keyVaultAuths, k.auth.Kind) {
		return usageErrorf("--auth must be %s, not %q", strings.Join(keyVaultAuths, ", "), k.auth.Kind)
	}
	return nil
}

// build returns the settings object of the flags given; the server checks
// that it is complete.
func (k *keyVaultFlags) build() (json.RawMessage, error) {
	if err := k.check(); err != nil {
		return nil, err
	}
	s := k.settings
	if k.auth != (keyVaultAuth{}) {
		a := k.auth
		s.Auth = &a
	}
	b, err := json.Marshal(s)
	if err != nil {
		return nil, fmt.Errorf("build the Key Vault settings: %w", err)
	}
	return b, nil
}

// overlay lays the Key Vault flags that were given over a store's current
// settings, for `store update`: the settings the server keeps stay as they
// are unless a flag changes them. --auth starts the auth object afresh (the
// fields of one way of signing in mean nothing to another); the other auth
// flags change the current one. A new --vault-name or --cloud without
// --vault-url lets the server derive the vault's URL again.
func (k *keyVaultFlags) overlay(fl *pflag.FlagSet, current json.RawMessage) (json.RawMessage, error) {
	if err := k.check(); err != nil {
		return nil, err
	}
	var cur map[string]any
	if err := json.Unmarshal(current, &cur); err != nil || cur == nil {
		return nil, fmt.Errorf("read the store's current settings: not a JSON object")
	}
	given, err := json.Marshal(k.settings)
	if err != nil {
		return nil, err
	}
	var set map[string]any
	_ = json.Unmarshal(given, &set)
	keys := map[string]string{"tenant-id": "tenantId", "subscription-id": "subscriptionId", "resource-group": "resourceGroup",
		"vault-name": "vaultName", "vault-url": "vaultUrl", "allow-custom-vault-host": "allowCustomVaultHost", "cloud": "cloud"}
	for flag, key := range keys {
		if fl.Changed(flag) {
			cur[key] = set[key]
			if set[key] == nil { // an empty or false value: back to the default
				delete(cur, key)
			}
		}
	}
	if (fl.Changed("vault-name") || fl.Changed("cloud")) && !fl.Changed("vault-url") {
		delete(cur, "vaultUrl")
	}
	auth, _ := cur["auth"].(map[string]any)
	if auth == nil || fl.Changed("auth") {
		auth = map[string]any{}
	}
	authGiven, _ := json.Marshal(k.auth)
	var authSet map[string]any
	_ = json.Unmarshal(authGiven, &authSet)
	authKeys := map[string]string{"auth": "kind", "client-id": "clientId", "client-secret-file": "clientSecretFile",
		"client-secret-env": "clientSecretEnv", "certificate-file": "certificateFile", "certificate-password-env": "certificatePasswordEnv"}
	for flag, key := range authKeys {
		if fl.Changed(flag) {
			auth[key] = authSet[key]
			if authSet[key] == nil {
				delete(auth, key)
			}
		}
	}
	cur["auth"] = auth
	b, err := json.Marshal(cur)
	if err != nil {
		return nil, fmt.Errorf("build the Key Vault settings: %w", err)
	}
	return b, nil
}

const defaultStore = "local"

func newCmdStoreSecret(f *factory) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "secret",
		Short: "Write, list and delete secrets in a store that credflow writes to",
		Long: `Secrets are write-only: their values go in, and nothing reads them back
out except a runner resolving a connection.`,
		RunE: runGroup,
	}
	cmd.AddCommand(
		newCmdSecretPut(f, nil),
		newCmdSecretList(f, nil),
		newCmdSecretDelete(f, nil),
	)
	return cmd
}

// secretPutOptions is `credflow store secret put`. The value comes from
// standard input, or from a masked prompt on a terminal: never from an
// argument, which would leave it in shell history and the process list.
type secretPutOptions struct {
	IO     *Streams
	Client func() (*client.Client, error)
	Format outputFormat

	Store string
	Name  string
}

func newCmdSecretPut(f *factory, runF func(*secretPutOptions) error) *cobra.Command {
	opts := &secretPutOptions{IO: f.streams, Client: f.client}
	cmd := &cobra.Command{
		Use:   "put NAME [--store STORE]",
		Short: "Write a new version of a secret, its value read from standard input",
		Long: `Write a new version of a secret. The value is read from standard input (all
of it, less one trailing newline) or, on a terminal, typed twice at a prompt
that does not echo it. It is never taken from the command line. It is stored
byte for byte: a value that is not UTF-8 text (a binary key, say) is sent
base64-encoded and comes back to credflow run exactly as it was.`,
		Example: `  credflow store secret put sql-password            # prompts twice
  credflow store secret put sql-password < password.txt
  vault-export | credflow store secret put sql-password --store local`,
		Args: exactArgs("NAME"),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Format = f.format()
			opts.Name = args[0]
			if runF != nil {
				return runF(opts)
			}
			return secretPutRun(cmd.Context(), opts)
		},
	}
	cmd.Flags().StringVar(&opts.Store, "store", defaultStore, "the store to write to")
	return cmd
}

func secretPutRun(ctx context.Context, opts *secretPutOptions) error {
	c, err := opts.Client()
	if err != nil {
		return err
	}
	value, err := readSecretValue(ctx, opts.IO, opts.Name)
	if err != nil {
		return err
	}
	v, err := c.PutSecret(ctx, opts.Store, opts.Name, value)
	if err != nil {
		return err
	}
	if opts.Format == formatJSON {
		return writeJSON(opts.IO.Out, v)
	}
	sayf(opts.IO.Out, "Stored %s version %s in %s.\n", v.Name, v.Version, opts.Store)
	return nil
}

// maxSecretValue bounds what is read from standard input.
const maxSecretValue = 1 << 20

// readSecretValue reads a secret's value from a masked prompt, asked twice,
// when stdin is a terminal; otherwise all of stdin less one trailing newline.
// Its errors never contain the value.
func readSecretValue(ctx context.Context, s *Streams, name string) (string, error) {
	if s.InTTY {
		if s.ReadPassword == nil {
			return "", errors.New("cannot read from this terminal without echo; pipe the value in instead")
		}
		fmt.Fprintf(s.ErrOut, "Value of %s: ", name)
		first, err := s.ReadPassword(ctx)
		fmt.Fprintln(s.ErrOut)
		if err != nil {
			return "", fmt.Errorf("read value: %w", err)
		}
		if len(first) == 0 {
			return "", errors.New("empty value: nothing stored")
		}
		fmt.Fprint(s.ErrOut, "Again, to confirm: ")
		second, err := s.ReadPassword(ctx)
		fmt.Fprintln(s.ErrOut)
		if err != nil {
			return "", fmt.Errorf("read value: %w", err)
		}
		if !bytes.Equal(first, second) {
			return "", errors.New("the two values differ: nothing stored")
		}
		return string(first), nil
	}
	b, err := io.ReadAll(io.LimitReader(s.In, maxSecretValue+1))
	if err != nil {
		return "", fmt.Errorf("read value from standard input: %w", err)
	}
	if len(b) > maxSecretValue {
		return "", fmt.Errorf("value on standard input is longer than %d bytes: nothing stored", maxSecretValue)
	}
	b = trimNewline(b)
	if len(b) == 0 {
		return "", errors.New("no value on standard input: pipe the value in, or run in a terminal to be prompted")
	}
	return string(b), nil
}

// trimNewline removes one trailing "\n" or "\r\n", as `echo` or a text
// editor adds, and keeps any other whitespace: it may be part of the secret.
func trimNewline(b []byte) []byte {
	if bytes.HasSuffix(b, []byte("\r\n")) {
		return b[:len(b)-2]
	}
	return bytes.TrimSuffix(b, []byte("\n"))
}

// secretListOptions is `credflow store secret list`.
type secretListOptions struct {
	IO     *Streams
	Client func() (*client.Client, error)
	Format outputFormat

	Store string
	List  client.ListOptions
}

func newCmdSecretList(f *factory, runF func(*secretListOptions) error) *cobra.Command {
	opts := &secretListOptions{IO: f.streams, Client: f.client}
	cmd := &cobra.Command{
		Use:   "list [--store STORE] [--limit N] [--cursor C]",
		Short: "List the secrets in a store, without their values",
		Args:  exactArgs(),
		RunE: func(cmd *cobra.Command, _ []string) error {
			opts.Format = f.format()
			if err := checkLimit(opts.List.Limit); err != nil {
				return err
			}
			if runF != nil {
				return runF(opts)
			}
			return secretListRun(cmd.Context(), opts)
		},
	}
	cmd.Flags().StringVar(&opts.Store, "store", defaultStore, "the store to list")
	addPageFlags(cmd, &opts.List)
	return cmd
}

func secretListRun(ctx context.Context, opts *secretListOptions) error {
	c, err := opts.Client()
	if err != nil {
		return err
	}
	page, err := c.ListSecrets(ctx, opts.Store, opts.List)
	if err != nil {
		return err
	}
	return writePage(opts.IO, opts.Format, page, tableOf[client.SecretInfo]{
		none:    fmt.Sprintf("No secrets in %s.", opts.Store),
		headers: []string{"NAME", "VERSION", "VERSIONS", "UPDATED"},
		row: func(s client.SecretInfo) []string {
			return []string{s.Name, s.Version, fmt.Sprint(s.Versions), formatTime(s.UpdatedAt)}
		},
	})
}

// secretDeleteOptions is `credflow store secret delete`.
type secretDeleteOptions struct {
	IO     *Streams
	Client func() (*client.Client, error)
	Format outputFormat

	Store string
	Name  string
	Force bool
}

func newCmdSecretDelete(f *factory, runF func(*secretDeleteOptions) error) *cobra.Command {
	opts := &secretDeleteOptions{IO: f.streams, Client: f.client}
	cmd := &cobra.Command{
		Use:   "delete NAME [--store STORE] [--force]",
		Short: "Delete a secret with all its versions",
		Long: `Delete a secret with all its versions. The server refuses while environment
variables reference it, and names them, unless --force, which deletes it
anyway: resolves through those variables then fail.`,
		Args: exactArgs("NAME"),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Format = f.format()
			opts.Name = args[0]
			if runF != nil {
				return runF(opts)
			}
			return secretDeleteRun(cmd.Context(), opts)
		},
	}
	cmd.Flags().StringVar(&opts.Store, "store", defaultStore, "the store to delete from")
	cmd.Flags().BoolVar(&opts.Force, "force", false, "delete even while environment variables reference it, breaking their resolves")
	return cmd
}

// secretInUseHint is the CLI's advice when variables reference the secret.
const secretInUseHint = "Change or delete those variables first, or run again with --force to delete the secret anyway: resolves through them will then fail."

func secretDeleteRun(ctx context.Context, opts *secretDeleteOptions) error {
	c, err := opts.Client()
	if err != nil {
		return err
	}
	del := c.DeleteSecret
	if opts.Force {
		del = c.ForceDeleteSecret
	}
	if err := del(ctx, opts.Store, opts.Name); err != nil {
		return withFlagHint(err, secretInUseHint)
	}
	printDone(opts.IO, opts.Format, "Deleted secret %s from %s.", opts.Name, opts.Store)
	return nil
}

// storeGrantOptions is `credflow store grant`.
type storeGrantOptions struct {
	IO     *Streams
	Client func() (*client.Client, error)
	Format outputFormat

	Store     string
	Principal string
	Prefix    string
}

func newCmdStoreGrant(f *factory, runF func(*storeGrantOptions) error) *cobra.Command {
	opts := &storeGrantOptions{IO: f.streams, Client: f.client}
	cmd := &cobra.Command{
		Use:   "grant STORE PRINCIPAL [--prefix P]",
		Short: "Let a user or group reference a store's secrets (admins)",
		Long: `Let a user or group reference the secrets of a store in their secret
variables: all of them, or with --prefix only those whose names start with it.
A new grant replaces the principal's old one. ` + principalHelp,
		Example: `  credflow store grant local user:bob
  credflow store grant local group:team-a --prefix team-a.`,
		Args: exactArgs("STORE", "PRINCIPAL"),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Format = f.format()
			opts.Store, opts.Principal = args[0], args[1]
			if runF != nil {
				return runF(opts)
			}
			return storeGrantRun(cmd.Context(), opts)
		},
	}
	cmd.Flags().StringVar(&opts.Prefix, "prefix", "", "only secrets whose names start with this")
	return cmd
}

func storeGrantRun(ctx context.Context, opts *storeGrantOptions) error {
	c, err := opts.Client()
	if err != nil {
		return err
	}
	g, err := c.GrantStore(ctx, opts.Store, opts.Principal, opts.Prefix)
	if err != nil {
		return err
	}
	if opts.Format == formatJSON {
		return writeJSON(opts.IO.Out, g)
	}
	which := "all secrets"
	if g.Prefix != "" {
		which = fmt.Sprintf("the secrets starting with %q", g.Prefix)
	}
	sayf(opts.IO.Out, "Granted %s the use of %s in %s.\n", g.Principal, which, g.Store)
	return nil
}

// storeRevokeOptions is `credflow store revoke`.
type storeRevokeOptions struct {
	IO     *Streams
	Client func() (*client.Client, error)
	Format outputFormat

	Store     string
	Principal string
}

func newCmdStoreRevoke(f *factory, runF func(*storeRevokeOptions) error) *cobra.Command {
	opts := &storeRevokeOptions{IO: f.streams, Client: f.client}
	return &cobra.Command{
		Use:   "revoke STORE PRINCIPAL",
		Short: "Take a store grant away (admins)",
		Args:  exactArgs("STORE", "PRINCIPAL"),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Format = f.format()
			opts.Store, opts.Principal = args[0], args[1]
			if runF != nil {
				return runF(opts)
			}
			return storeRevokeRun(cmd.Context(), opts)
		},
	}
}

func storeRevokeRun(ctx context.Context, opts *storeRevokeOptions) error {
	c, err := opts.Client()
	if err != nil {
		return err
	}
	if err := c.RevokeStoreGrant(ctx, opts.Store, opts.Principal); err != nil {
		return err
	}
	printDone(opts.IO, opts.Format, "Revoked the grant of %s to %s.", opts.Store, opts.Principal)
	return nil
}

func storeGrantTable(o *idOptions) tableOf[client.Grant] {
	return tableOf[client.Grant]{
		none:    fmt.Sprintf("No grants of %s.", o.ID),
		headers: []string{"PRINCIPAL", "PREFIX", "CREATED"},
		row:     func(g client.Grant) []string { return []string{g.Principal, g.Prefix, formatTime(g.CreatedAt)} },
	}
}
