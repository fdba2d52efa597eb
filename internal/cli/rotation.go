package cli

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/credflow/credflow/client"
)

// notifyOptions is `credflow notify-secret-change`.
type notifyOptions struct {
	IO          *Streams
	Client      func() (*client.Client, error)
	Format      outputFormat
	KeyVaultURL string
	SecretName  string
}

func newCmdNotifySecretChange(f *factory, runF func(*notifyOptions) error) *cobra.Command {
	opts := &notifyOptions{IO: f.streams, Client: f.client}
	cmd := &cobra.Command{
		Use:   "notify-secret-change --key-vault-url URL --secret-name NAME",
		Short: "Tell credflow that a Key Vault secret has a new version (admins)",
		Long: `Tell credflow that a Key Vault secret has a new version: its cached values are
dropped on every server and the connections that use it are checked again,
before the command returns. For automation that receives Key Vault events
another way than credflow's Event Grid webhook.

--key-vault-url takes the vault's URL (https://myvault.vault.azure.net) or
its resource id, as an event's topic carries it.`,
		Args: exactArgs(),
		RunE: func(cmd *cobra.Command, _ []string) error {
			opts.Format = f.format()
			if opts.KeyVaultURL == "" || opts.SecretName == "" {
				return usageErrorf("--key-vault-url and --secret-name are required")
			}
			if runF != nil {
				return runF(opts)
			}
			return notifyRun(cmd.Context(), opts)
		},
	}
	cmd.Flags().StringVar(&opts.KeyVaultURL, "key-vault-url", "", "the vault's URL or resource id")
	cmd.Flags().StringVar(&opts.SecretName, "secret-name", "", "the secret's name in the vault")
	return cmd
}

func notifyRun(ctx context.Context, opts *notifyOptions) error {
	c, err := opts.Client()
	if err != nil {
		return err
	}
	res, err := c.NotifySecretChange(ctx, client.SecretChange{KeyVaultURL: opts.KeyVaultURL, SecretName: opts.SecretName})
	if err != nil {
		return err
	}
	return printDetail(opts.IO, opts.Format, res, func(r *client.SecretChangeResult) []field {
		var out []field
		for _, s := range r.Stores {
			out = append(out, field{"Store", s.Store},
				field{"Variables", strings.Join(s.Variables, ", ")},
				field{"Connections checked", strings.Join(s.Connections, ", ")})
		}
		return out
	})
}

// eventsStatusOptions is `credflow events status`.
type eventsStatusOptions struct {
	IO     *Streams
	Client func() (*client.Client, error)
	Format outputFormat
}

func newCmdEvents(f *factory) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "events",
		Short: "See whether secret-change events reach credflow, and how fast new versions reach runs",
		Args:  exactArgs(),
	}
	cmd.AddCommand(newCmdEventsStatus(f, nil))
	return cmd
}

func newCmdEventsStatus(f *factory, runF func(*eventsStatusOptions) error) *cobra.Command {
	opts := &eventsStatusOptions{IO: f.streams, Client: f.client}
	return &cobra.Command{
		Use:   "status",
		Short: "Show the Event Grid endpoint's and each store's event counts, and secret propagation (admins)",
		Long: `Show whether the event wiring works: the Event Grid endpoint's last validation
handshake and counts of accepted, ignored, duplicate and rejected deliveries;
per store, the last event and its type and the last version poll; and, per
secret, its most recent new version: when credflow learnt of it, from where
(eventgrid, notification, poll), and when the first runner received it, how
long after, with which version, through which connection. A secret with no
first run yet has not been resolved since it changed; "credflow connection
runners NAME" shows which version each runner last received.`,
		Args: exactArgs(),
		RunE: func(cmd *cobra.Command, _ []string) error {
			opts.Format = f.format()
			if runF != nil {
				return runF(opts)
			}
			return eventsStatusRun(cmd.Context(), opts)
		},
	}
}

func eventsStatusRun(ctx context.Context, opts *eventsStatusOptions) error {
	c, err := opts.Client()
	if err != nil {
		return err
	}
	st, err := c.EventStatus(ctx)
	if err != nil {
		return err
	}
	if opts.Format == formatJSON {
		return writeJSON(opts.IO.Out, st)
	}
	when := func(t *time.Time) string {
		if t == nil {
			return "never"
		}
		return t.UTC().Format(time.RFC3339)
	}
	ep := st.Endpoint
	keys := "no key configured: every delivery is refused"
	switch {
	case ep.KeysConfigured && ep.EntraSecured:
		keys = "configured; Microsoft Entra-secured deliveries accepted too"
	case ep.KeysConfigured:
		keys = "configured"
	case ep.EntraSecured:
		keys = "none: only Microsoft Entra-secured deliveries are accepted"
	}
	if err := writeFields(opts.IO.Out, []field{
		{"Webhook keys", keys},
		{"Last handshake", strings.TrimSpace(when(ep.LastHandshake) + " " + ep.LastHandshakeKind)},
		{"Events", fmt.Sprintf("%d accepted, %d ignored, %d duplicate; %d deliveries rejected; %d waiting",
			ep.Accepted, ep.Ignored, ep.Duplicate, ep.Rejected, ep.Pending)},
	}); err != nil {
		return err
	}
	fmt.Fprintln(opts.IO.Out)
	tb := newTable(opts.IO.Out, "STORE", "LAST EVENT", "TYPE", "ACCEPTED", "IGNORED", "DUPLICATE", "REJECTED", "LAST POLL")
	for _, s := range st.Stores {
		tb.row(cell(s.Store), when(s.LastEvent), cell(s.LastEventType), fmt.Sprint(s.Accepted), fmt.Sprint(s.Ignored),
			fmt.Sprint(s.Duplicate), fmt.Sprint(s.Rejected), when(s.LastPoll))
	}
	if err := tb.flush(); err != nil {
		return err
	}
	fmt.Fprintln(opts.IO.Out)
	if len(st.Propagation) == 0 {
		fmt.Fprintln(opts.IO.Out, "No secret has changed since credflow started keeping figures.")
		return nil
	}
	tb = newTable(opts.IO.Out, "STORE", "SECRET", "CHANGED", "FROM", "FIRST RUN", "AFTER", "VERSION", "RUNNER", "CONNECTION")
	for _, p := range st.Propagation {
		after := "-"
		if p.LatencyMs != nil {
			after = (time.Duration(*p.LatencyMs * float64(time.Millisecond))).Round(time.Millisecond).String()
		}
		first := "not yet"
		if p.ReachedAt != nil {
			first = when(p.ReachedAt)
		}
		tb.row(cell(p.Store), cell(p.Secret), when(&p.ChangedAt), cell(p.Source), first, after, cell(p.Version), cell(p.Runner), cell(p.Connection))
	}
	return tb.flush()
}
