package cli

import (
	"context"
	"fmt"
	"strconv"

	"github.com/spf13/cobra"

	"github.com/credflow/credflow/client"
)

func newCmdAudit(f *factory) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "audit",
		Short: "Read and verify the audit trail (admins)",
		Long: `Every change, share, grant and resolve is an audit record, chained to the one
before it by an HMAC under a key derived from the master key, so that an
edited, deleted or reordered record shows, and a chain recomputed without the
key too. Checkpoints of the chain are kept in a file outside the database, so
that records removed from the end show as well. Records never hold a value.`,
		RunE: runGroup,
	}
	cmd.AddCommand(
		newCmdAuditList(f, nil),
		newCmdAuditVerify(f, nil),
		newCmdAuditArchive(f, nil),
	)
	return cmd
}

// auditListOptions is `credflow audit list`.
type auditListOptions struct {
	IO     *Streams
	Client func() (*client.Client, error)
	Format outputFormat

	List client.AuditListOptions
}

func newCmdAuditList(f *factory, runF func(*auditListOptions) error) *cobra.Command {
	opts := &auditListOptions{IO: f.streams, Client: f.client}
	var from, to string
	cmd := &cobra.Command{
		Use:   "list [--actor A] [--action A] [--resource R] [--from TIME] [--to TIME] [--newest] [--limit N] [--cursor C]",
		Short: "List audit records, oldest first (--newest: newest first)",
		Example: `  credflow audit list --actor bob --from 2026-01-01T00:00:00Z
  credflow audit list --action credential.share
  credflow audit list --resource "credential:SQL prod user:bob"`,
		Args: exactArgs(),
		RunE: func(cmd *cobra.Command, _ []string) error {
			opts.Format = f.format()
			var err error
			if from != "" {
				if opts.List.From, err = parseTimeFlag("from", from); err != nil {
					return err
				}
			}
			if to != "" {
				if opts.List.To, err = parseTimeFlag("to", to); err != nil {
					return err
				}
			}
			if err := checkLimit(opts.List.Limit); err != nil {
				return err
			}
			if runF != nil {
				return runF(opts)
			}
			return auditListRun(cmd.Context(), opts)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&opts.List.Actor, "actor", "", "only records of this actor (a user name)")
	fl.StringVar(&opts.List.Action, "action", "", "only this action, such as credential.share")
	fl.StringVar(&opts.List.Resource, "resource", "", "only this resource, exactly as listed")
	fl.StringVar(&from, "from", "", "from this time, RFC 3339, inclusive")
	fl.StringVar(&to, "to", "", "before this time, RFC 3339")
	fl.BoolVar(&opts.List.Newest, "newest", false, "newest first (give it again with --cursor)")
	fl.IntVar(&opts.List.Limit, "limit", 0, "at most this many records (default: the server's page size)")
	fl.StringVar(&opts.List.Cursor, "cursor", "", "continue from a previous listing's cursor")
	return cmd
}

func auditListRun(ctx context.Context, opts *auditListOptions) error {
	c, err := opts.Client()
	if err != nil {
		return err
	}
	page, err := c.ListAudit(ctx, opts.List)
	if err != nil {
		return err
	}
	return writePage(opts.IO, opts.Format, page, tableOf[client.AuditRecord]{
		none:    "No audit records.",
		headers: []string{"SEQ", "TIME", "ACTOR", "ACTION", "RESOURCE", "OUTCOME", "REASON"},
		row: func(r client.AuditRecord) []string {
			return []string{strconv.FormatInt(r.Seq, 10), formatTime(r.Time), r.Actor, r.Action, r.Resource, r.Outcome,
				truncate(r.Reason, 60, opts.IO.OutTTY)}
		},
	})
}

// auditVerifyOptions is `credflow audit verify`.
type auditVerifyOptions struct {
	IO     *Streams
	Client func() (*client.Client, error)
	Format outputFormat

	Verify client.AuditVerifyOptions
	// Archive, when set, is an archive file to check instead of the trail.
	Archive string
}

func newCmdAuditVerify(f *factory, runF func(*auditVerifyOptions) error) *cobra.Command {
	opts := &auditVerifyOptions{IO: f.streams, Client: f.client}
	cmd := &cobra.Command{
		Use:   "verify [--full]",
		Short: "Check the audit trail against its newest checkpoint; exit 1 if it was tampered with",
		Long: `Check the audit trail: that the database still holds the records the newest
checkpoint anchors (nothing removed from the end), and that every record after
it links to the one before under the audit key. --full checks every record.
Exits 1 and says what was found (truncated, deleted, recomputed, edited, ...)
when the trail does not verify.

--archive FILE checks an archive made by 'credflow audit archive' on its own,
without the records in the database: the seals of its anchors, every record's
link, and its count. The server's audit key is needed, so the server checks it.`,
		Args: exactArgs(),
		RunE: func(cmd *cobra.Command, _ []string) error {
			opts.Format = f.format()
			if runF != nil {
				return runF(opts)
			}
			return auditVerifyRun(cmd.Context(), opts)
		},
	}
	cmd.Flags().BoolVar(&opts.Verify.Full, "full", false, "check every record, not only those after the newest checkpoint")
	cmd.Flags().StringVar(&opts.Archive, "archive", "", "check this archive file (made by 'audit archive') on its own instead")
	cmd.MarkFlagsMutuallyExclusive("full", "archive")
	return cmd
}

func auditVerifyRun(ctx context.Context, opts *auditVerifyOptions) error {
	c, err := opts.Client()
	if err != nil {
		return err
	}
	if opts.Archive != "" {
		return auditVerifyArchive(ctx, c, opts)
	}
	v, err := c.VerifyAudit(ctx, opts.Verify)
	if err != nil {
		return err
	}
	if opts.Format == formatJSON {
		if err := writeJSON(opts.IO.Out, v); err != nil {
			return err
		}
	} else if v.OK {
		switch cp := v.Checkpoint; {
		case v.Full && cp != nil:
			fmt.Fprintf(opts.IO.Out, "ok: %d records verified, every one checked, matching the checkpoint of %s at record %d\n",
				v.Records, formatTime(cp.Time), cp.Seq)
		case v.Full:
			fmt.Fprintf(opts.IO.Out, "ok: %d records verified, every one checked (no checkpoint yet)\n", v.Records)
		default:
			fmt.Fprintf(opts.IO.Out, "ok: %d records verified: the checkpoint of %s anchors records 1 to %d, and the %d after it were checked (--full checks every record)\n",
				v.Records, formatTime(cp.Time), cp.Seq, v.Checked)
		}
	}
	if !v.OK {
		where := ""
		if v.FirstBadRecord > 0 {
			where = fmt.Sprintf(" at record %d", v.FirstBadRecord)
		}
		return fmt.Errorf("the audit trail is broken%s (%s): %s", where, v.Finding, v.Problem)
	}
	return nil
}
