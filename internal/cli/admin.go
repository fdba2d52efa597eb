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
	"strings"

	"github.com/spf13/cobra"

	"github.com/credflow/credflow/client"
	"github.com/credflow/credflow/internal/backup"
	"github.com/credflow/credflow/internal/config"
	"github.com/credflow/credflow/internal/secretstore/builtin"
	"github.com/credflow/credflow/internal/server"
)

func newCmdAdmin(f *factory) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "admin",
		Short: "Operate an instance: backups, restores, master-key rotation (admins)",
		RunE:  runGroup,
	}
	bk := newCmdAdminBackup(f, nil)
	bk.AddCommand(newCmdAdminBackupVerify(f, nil))
	cmd.AddCommand(bk, newCmdAdminRestore(f, nil), newCmdAdminRotateKey(f, nil))
	return cmd
}

// adminBackupOptions is `credflow admin backup FILE`.
type adminBackupOptions struct {
	IO     *Streams
	Client func() (*client.Client, error)
	File   string
}

func newCmdAdminBackup(f *factory, runF func(*adminBackupOptions) error) *cobra.Command {
	opts := &adminBackupOptions{IO: f.streams, Client: f.client}
	return &cobra.Command{
		Use:   "backup FILE",
		Short: "Copy the server's SQLite database, while it serves, into FILE",
		Long: `Ask the server for a consistent copy of its SQLite database, taken while it
serves, with the audit checkpoints that anchor its chain, and write it to FILE
(a tar file, mode 0600). FILE is replaced only once the whole copy has arrived.

The copy holds the built-in store's values encrypted under the master key; the
master key itself is not in it: keep it apart. Check a copy with
'credflow admin backup verify FILE'; restore it with 'credflow admin restore'.
A server on PostgreSQL refuses: back PostgreSQL up with pg_dump.`,
		Example: `  credflow admin backup /backups/credflow-$(date +%F).tar`,
		Args:    exactArgs("FILE"),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.File = args[0]
			if runF != nil {
				return runF(opts)
			}
			return adminBackupRun(cmd.Context(), opts)
		},
	}
}

func adminBackupRun(ctx context.Context, opts *adminBackupOptions) error {
	c, err := opts.Client()
	if err != nil {
		return err
	}
	var b [6]byte
	_, _ = rand.Read(b[:])
	tmp := filepath.Join(filepath.Dir(opts.File), "."+filepath.Base(opts.File)+"."+hex.EncodeToString(b[:]))
	out, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return fmt.Errorf("backup: %w", err)
	}
	defer os.Remove(tmp)
	n, err := c.Backup(ctx, out)
	if err == nil {
		err = out.Sync()
	}
	if cerr := out.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return err
	}
	// A connection cut mid-way leaves a partial file: check it is whole
	// before it takes FILE's place.
	if _, err := backup.Unpack(tmp, ""); err != nil {
		return fmt.Errorf("the server's answer is not a whole backup, FILE was not written: %w", err)
	}
	if err := os.Rename(tmp, opts.File); err != nil {
		return fmt.Errorf("backup: %w", err)
	}
	if d, err := os.Open(filepath.Dir(opts.File)); err == nil {
		_ = d.Sync()
		d.Close()
	}
	fmt.Fprintf(opts.IO.Out, "Backup written to %s (%d bytes). Keep the master key apart from it; check it with: credflow admin backup verify %s --master-key-file KEYFILE\n",
		opts.File, n, opts.File)
	return nil
}

// masterKeyPath is --master-key-file, or else the variable the server
// reads.
func masterKeyPath(f *factory, flag string) string {
	if flag != "" {
		return flag
	}
	return f.getenv(config.EnvMasterKeyFile)
}

// adminBackupVerifyOptions is `credflow admin backup verify FILE`.
type adminBackupVerifyOptions struct {
	IO      *Streams
	Format  outputFormat
	File    string
	KeyFile string
}

func newCmdAdminBackupVerify(f *factory, runF func(*adminBackupVerifyOptions) error) *cobra.Command {
	opts := &adminBackupVerifyOptions{IO: f.streams}
	var keyFile string
	cmd := &cobra.Command{
		Use:   "verify FILE --master-key-file KEYFILE",
		Short: "Check a backup on this machine: the file, the master key, the secrets, the audit chain",
		Long: `Check a backup without a server: SQLite's integrity and foreign-key checks,
that the master key is the database's, that the latest version of every
built-in secret opens with it, and every record of the audit chain against
the checkpoints in the backup. The file is not changed. Exits 1 when anything
does not hold.`,
		Args: exactArgs("FILE"),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Format, opts.File = f.format(), args[0]
			opts.KeyFile = masterKeyPath(f, keyFile)
			if opts.KeyFile == "" {
				return usageErrorf("--master-key-file is required (or $%s): without the master key neither the secrets nor the audit chain can be checked", config.EnvMasterKeyFile)
			}
			if runF != nil {
				return runF(opts)
			}
			return adminBackupVerifyRun(cmd.Context(), opts)
		},
	}
	cmd.Flags().StringVar(&keyFile, "master-key-file", "", "the master key the backed-up server used ($"+config.EnvMasterKeyFile+")")
	return cmd
}

// backupReportJSON is the -o json form of a backup check.
type backupReportJSON struct {
	OK          bool     `json:"ok"`
	CreatedAt   string   `json:"createdAt"`
	Integrity   []string `json:"integrity"`
	BoundKeyID  string   `json:"boundKeyId"`
	KeyMatches  bool     `json:"keyMatches"`
	Secrets     int      `json:"secrets"`
	Unreadable  []string `json:"unreadable,omitempty"`
	AuditOK     bool     `json:"auditOk"`
	AuditRecord int64    `json:"auditRecords"`
	Finding     string   `json:"auditFinding,omitempty"`
	Problem     string   `json:"auditProblem,omitempty"`
}

func adminBackupVerifyRun(ctx context.Context, opts *adminBackupVerifyOptions) error {
	key, _, err := builtin.LoadOrCreateKey(opts.KeyFile, false)
	if err != nil {
		return fmt.Errorf("master key: %w", err)
	}
	defer clear(key)
	rep, err := backup.Verify(ctx, opts.File, key, server.AuditKey)
	if err != nil {
		return err
	}
	if opts.Format == formatJSON {
		if err := writeJSON(opts.IO.Out, backupReportJSON{OK: rep.OK(), CreatedAt: rep.Manifest.CreatedAt.Format("2006-01-02T15:04:05Z07:00"),
			Integrity: rep.Integrity, BoundKeyID: rep.BoundKeyID, KeyMatches: rep.KeyMatches, Secrets: rep.Secrets, Unreadable: rep.Unreadable,
			AuditOK: rep.Audit.OK, AuditRecord: rep.Audit.Records, Finding: rep.Audit.Finding, Problem: rep.Audit.Problem}); err != nil {
			return err
		}
	}
	var bad []string
	if len(rep.Integrity) > 0 {
		bad = append(bad, "the database file is damaged: "+strings.Join(rep.Integrity, "; "))
	}
	if !rep.KeyMatches {
		bad = append(bad, fmt.Sprintf("the master key in %s is not the database's (the database is bound to key id %s)", opts.KeyFile, rep.BoundKeyID))
	}
	if len(rep.Unreadable) > 0 {
		bad = append(bad, fmt.Sprintf("%d built-in secrets do not open: %s", len(rep.Unreadable), strings.Join(rep.Unreadable, ", ")))
	}
	if !rep.Audit.OK {
		bad = append(bad, fmt.Sprintf("the audit chain is broken at record %d (%s): %s", rep.Audit.FirstBad, rep.Audit.Finding, rep.Audit.Problem))
	}
	if len(bad) > 0 {
		return errors.New("the backup does not verify: " + strings.Join(bad, "; "))
	}
	if opts.Format != formatJSON {
		fmt.Fprintf(opts.IO.Out, "ok: backup of %s: database intact, master key %s matches, %d built-in secrets open, %d audit records verified\n",
			formatTime(rep.Manifest.CreatedAt), rep.BoundKeyID, rep.Secrets, rep.Audit.Records)
	}
	return nil
}

// adminRestoreOptions is `credflow admin restore FILE --data-dir DIR`.
type adminRestoreOptions struct {
	IO      *Streams
	File    string
	DataDir string
}

func newCmdAdminRestore(f *factory, runF func(*adminRestoreOptions) error) *cobra.Command {
	opts := &adminRestoreOptions{IO: f.streams}
	cmd := &cobra.Command{
		Use:   "restore FILE --data-dir DIR",
		Short: "Unpack a backup into a new data directory, for 'credflow serve --data-dir DIR'",
		Long: `Unpack a backup made by 'credflow admin backup' into DIR: the SQLite database
and the audit checkpoint file. DIR must not hold a database already; nothing
is overwritten. The master key is not in the backup: start the server with
--master-key-file naming the key the backed-up server used (or copy it to
DIR/master.key, mode 0600).`,
		Args: exactArgs("FILE"),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.File = args[0]
			if opts.DataDir == "" {
				return usageErrorf("--data-dir is required: the new data directory to restore into")
			}
			if runF != nil {
				return runF(opts)
			}
			return adminRestoreRun(opts)
		},
	}
	cmd.Flags().StringVar(&opts.DataDir, "data-dir", "", "the new data directory")
	return cmd
}

func adminRestoreRun(opts *adminRestoreOptions) error {
	man, err := backup.Unpack(opts.File, opts.DataDir)
	if errors.Is(err, backup.ErrTargetNotEmpty) {
		return &refusalError{fmt.Errorf("%s already holds a database: restore into a new, empty data directory", opts.DataDir)}
	}
	if err != nil {
		return err
	}
	if _, err := os.Stat(filepath.Join(opts.DataDir, "master.key")); errors.Is(err, fs.ErrNotExist) {
		fmt.Fprintf(opts.IO.Out, "Restored the backup of %s into %s. Start it with: credflow serve --data-dir %s --master-key-file KEYFILE (the master key the backed-up server used)\n",
			formatTime(man.CreatedAt), opts.DataDir, opts.DataDir)
		return nil
	}
	fmt.Fprintf(opts.IO.Out, "Restored the backup of %s into %s. Start it with: credflow serve --data-dir %s\n", formatTime(man.CreatedAt), opts.DataDir, opts.DataDir)
	return nil
}
