package cli

import (
	"context"
	"fmt"
	"path/filepath"

	"github.com/spf13/cobra"

	"github.com/credflow/credflow/client"
)

// adminRotateKeyOptions is `credflow admin rotate-master-key`.
type adminRotateKeyOptions struct {
	IO     *Streams
	Client func() (*client.Client, error)
	Format outputFormat

	NewKeyFile string
	Batch      int
}

func newCmdAdminRotateKey(f *factory, runF func(*adminRotateKeyOptions) error) *cobra.Command {
	opts := &adminRotateKeyOptions{IO: f.streams, Client: f.client}
	cmd := &cobra.Command{
		Use:   "rotate-master-key --new-key-file FILE",
		Short: "Rewrap every data key under a new master key, while the server serves",
		Long: `Have the server rewrap every data key of the built-in store (and the audit key)
under the master key in FILE, in batches of their own transactions, while it
serves: from the first batch on, new secrets are written under the new key and
every secret stays readable. FILE is read by the server, on its machine: the
key never travels over the API. Make it with 32 random bytes in base64, mode
0600, e.g.  (umask 077; head -c 32 /dev/urandom | base64 > FILE)

When the command returns, no data key is wrapped under the old key and the
database no longer holds it in any form; every server must then be started
with --master-key-file FILE. An interrupted rotation (a crash, a lost
connection) is resumed by running the command again with the same FILE. See
docs/operations.md for the order of steps with several replicas.`,
		Example: `  credflow admin rotate-master-key --new-key-file /etc/credflow/master-2026.key`,
		Args:    exactArgs(),
		RunE: func(cmd *cobra.Command, _ []string) error {
			opts.Format = f.format()
			if opts.NewKeyFile == "" {
				return usageErrorf("--new-key-file is required")
			}
			if opts.Batch < 0 {
				return usageErrorf("--batch-size must be positive")
			}
			abs, err := filepath.Abs(opts.NewKeyFile)
			if err != nil {
				return usageErrorf("--new-key-file: %v", err)
			}
			opts.NewKeyFile = abs
			if runF != nil {
				return runF(opts)
			}
			return adminRotateKeyRun(cmd.Context(), opts)
		},
	}
	cmd.Flags().StringVar(&opts.NewKeyFile, "new-key-file", "", "the new master key file, as the server's machine names it")
	cmd.Flags().IntVar(&opts.Batch, "batch-size", 0, "rows rewrapped per transaction (default: the server's, 500)")
	return cmd
}

func adminRotateKeyRun(ctx context.Context, opts *adminRotateKeyOptions) error {
	c, err := opts.Client()
	if err != nil {
		return err
	}
	res, err := c.RotateMasterKey(ctx, opts.NewKeyFile, opts.Batch)
	if err != nil {
		return err
	}
	if opts.Format == formatJSON {
		return writeJSON(opts.IO.Out, res)
	}
	resumed := ""
	if res.Resumed {
		resumed = " (resumed)"
	}
	fmt.Fprintf(opts.IO.Out, "Rotated the master key from %s to %s%s: %d data keys rewrapped in %d batches. "+
		"Start every server with --master-key-file %s from now on; keep the old key only to restore backups made before the rotation.\n",
		res.From, res.To, resumed, res.Rewrapped, res.Batches, opts.NewKeyFile)
	return nil
}
