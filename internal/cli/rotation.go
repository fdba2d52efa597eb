package cli

import (
	"context"
	"strings"

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
