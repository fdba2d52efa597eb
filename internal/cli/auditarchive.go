package cli

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/spf13/cobra"

	"github.com/credflow/credflow/client"
)

// auditArchiveOptions is `credflow audit archive --before DATE --out FILE`.
type auditArchiveOptions struct {
	IO     *Streams
	Client func() (*client.Client, error)
	Format outputFormat

	Before string
	Out    string
}

func newCmdAuditArchive(f *factory, runF func(*auditArchiveOptions) error) *cobra.Command {
	opts := &auditArchiveOptions{IO: f.streams, Client: f.client}
	cmd := &cobra.Command{
		Use:   "archive --before DATE --out FILE",
		Short: "Move the audit records older than DATE out of the database into FILE",
		Long: `Write the audit records older than DATE (never the newest one) into FILE,
with their chain and an end anchor sealed under the audit key, check FILE with
the server, and only then remove those records from the database, in one step.
The chain left in the database continues from the archive's end anchor, so
'credflow audit verify' keeps passing; 'credflow audit verify --archive FILE'
checks the archive on its own. FILE must not exist. Records never hold a
value, so neither does an archive.`,
		Example: `  credflow audit archive --before 2026-01-01 --out audit-2025.jsonl`,
		Args:    exactArgs(),
		RunE: func(cmd *cobra.Command, _ []string) error {
			opts.Format = f.format()
			if opts.Before == "" || opts.Out == "" {
				return usageErrorf("--before and --out are both required")
			}
			if _, err := os.Stat(opts.Out); err == nil {
				return &refusalError{fmt.Errorf("%s exists: an archive never replaces a file; choose another --out", opts.Out)}
			}
			if runF != nil {
				return runF(opts)
			}
			return auditArchiveRun(cmd.Context(), opts)
		},
	}
	cmd.Flags().StringVar(&opts.Before, "before", "", "archive the records older than this: a date (2026-01-02, midnight UTC) or an RFC 3339 time")
	cmd.Flags().StringVar(&opts.Out, "out", "", "the archive file to write (JSON lines); must not exist")
	return cmd
}

func auditArchiveRun(ctx context.Context, opts *auditArchiveOptions) error {
	c, err := opts.Client()
	if err != nil {
		return err
	}
	var b [6]byte
	_, _ = rand.Read(b[:])
	tmp := filepath.Join(filepath.Dir(opts.Out), "."+filepath.Base(opts.Out)+"."+hex.EncodeToString(b[:]))
	out, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return fmt.Errorf("archive: %w", err)
	}
	defer os.Remove(tmp)
	end, err := c.ArchiveAudit(ctx, opts.Before, out)
	if err == nil {
		err = out.Sync()
	}
	if cerr := out.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return err
	}
	// What is on disk is what counts: the server checks the file as
	// written before anything is removed.
	in, err := os.Open(tmp)
	if err != nil {
		return fmt.Errorf("archive: %w", err)
	}
	v, err := c.VerifyAuditArchive(ctx, in)
	in.Close()
	if err != nil {
		return err
	}
	if !v.OK || v.End == nil || v.End.Seq != end.Seq || v.End.Head != end.Head || v.End.MAC != end.MAC {
		return fmt.Errorf("the archive as written does not verify (%s: %s): nothing was removed from the database", v.Finding, v.Problem)
	}
	// A hard link fails when the name is taken: an archive never replaces
	// a file, even one created meanwhile.
	if err := os.Link(tmp, opts.Out); err != nil {
		if errors.Is(err, fs.ErrExist) {
			return &refusalError{fmt.Errorf("%s exists: an archive never replaces a file; nothing was removed from the database", opts.Out)}
		}
		return fmt.Errorf("archive: %w", err)
	}
	if d, err := os.Open(filepath.Dir(opts.Out)); err == nil {
		_ = d.Sync()
		d.Close()
	}
	res, err := c.CommitAuditArchive(ctx, *end)
	if err != nil {
		return fmt.Errorf("%s is written, but the records were not removed from the database: %w", opts.Out, err)
	}
	if opts.Format == formatJSON {
		return writeJSON(opts.IO.Out, res)
	}
	first := int64(1)
	if v.From != nil {
		first = v.From.Seq + 1
	}
	fmt.Fprintf(opts.IO.Out, "Archived %d records (%d to %d) into %s and removed them from the database; the chain continues from record %d.\n",
		res.Removed, first, end.Seq, opts.Out, end.Seq)
	return nil
}

// auditVerifyArchive is `credflow audit verify --archive FILE`.
func auditVerifyArchive(ctx context.Context, c *client.Client, opts *auditVerifyOptions) error {
	in, err := os.Open(opts.Archive)
	if err != nil {
		return fmt.Errorf("archive: %w", err)
	}
	defer in.Close()
	v, err := c.VerifyAuditArchive(ctx, in)
	if err != nil {
		return err
	}
	if opts.Format == formatJSON {
		if err := writeJSON(opts.IO.Out, v); err != nil {
			return err
		}
	}
	if !v.OK {
		where := ""
		if v.FirstBadRecord > 0 {
			where = fmt.Sprintf(" at record %d", v.FirstBadRecord)
		}
		return fmt.Errorf("the archive %s is broken%s (%s): %s", opts.Archive, where, v.Finding, v.Problem)
	}
	if opts.Format != formatJSON {
		first := int64(1)
		if v.From != nil {
			first = v.From.Seq + 1
		}
		fmt.Fprintf(opts.IO.Out, "ok: archive %s: records %d to %d verified (%d since the chain began), sealed %s\n",
			opts.Archive, first, v.End.Seq, v.End.Records, formatTime(v.End.Time))
	}
	return nil
}
