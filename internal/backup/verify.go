package backup

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"

	"github.com/credflow/credflow/internal/audit"
	"github.com/credflow/credflow/internal/metadb"
	"github.com/credflow/credflow/internal/secretstore"
	"github.com/credflow/credflow/internal/secretstore/builtin"
)

// Report is what Verify found in a backup.
type Report struct {
	Manifest Manifest `json:"manifest"`
	// Integrity lists what SQLite's integrity and foreign-key checks found;
	// empty when the file is sound.
	Integrity []string `json:"integrity"`
	// BoundKeyID is the ID of the master key the database is bound to.
	BoundKeyID string `json:"boundKeyId"`
	// KeyGiven says whether a master key was given, KeyMatches whether it
	// is the database's.
	KeyGiven   bool `json:"keyGiven"`
	KeyMatches bool `json:"keyMatches"`
	// Secrets counts the built-in secrets whose latest version was opened
	// with the key; Unreadable names those that did not open.
	Secrets    int      `json:"secrets"`
	Unreadable []string `json:"unreadable,omitempty"`
	// Audit is the full check of the audit chain against the backup's
	// checkpoints.
	Audit audit.Verification `json:"audit"`
}

// OK reports whether the backup can be restored as it is: a sound file, the
// master key that opens it, every built-in secret readable, and an audit
// chain that verifies.
func (r Report) OK() bool {
	return len(r.Integrity) == 0 && r.KeyMatches && len(r.Unreadable) == 0 && r.Audit.OK
}

// AuditKeyFunc returns the audit key of the built-in store st, opened
// with master.
type AuditKeyFunc func(ctx context.Context, st *builtin.Store, master []byte) (*audit.Key, error)

// Verify unpacks the backup at path into a scratch directory and checks it:
// SQLite's integrity check, the master key (nil: not given) against the
// database, the latest version of every built-in secret opened with it,
// and a full check of the audit chain against the checkpoints in the
// backup, with the audit key auditKey finds. The backup file itself is
// never changed.
func Verify(ctx context.Context, path string, master []byte, auditKey AuditKeyFunc) (Report, error) {
	var rep Report
	dir, err := os.MkdirTemp("", "credflow-backup-verify-")
	if err != nil {
		return rep, fmt.Errorf("backup: verify: %w", err)
	}
	defer os.RemoveAll(dir)
	if rep.Manifest, err = Unpack(path, dir); err != nil {
		return rep, err
	}
	db, err := metadb.Open(ctx, "", dir, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		return rep, fmt.Errorf("backup: verify: open the copy: %w", err)
	}
	defer db.Close()
	if rep.Integrity, err = db.IntegrityCheck(ctx); err != nil {
		return rep, err
	}
	if rep.Integrity == nil {
		rep.Integrity = []string{}
	}
	repo := db.BuiltinSecrets()
	rep.BoundKeyID, _, err = repo.BoundKey(ctx)
	if err != nil {
		return rep, err
	}
	var ak *audit.Key
	if rep.KeyGiven = len(master) > 0; rep.KeyGiven {
		// During a rotation either key opens the store.
		st, err := builtin.Open(ctx, repo, master)
		switch {
		case errors.Is(err, builtin.ErrWrongKey):
		case err != nil:
			return rep, err
		default:
			rep.KeyMatches = true
			if err := readSecrets(ctx, st, &rep); err != nil {
				return rep, err
			}
			if ak, err = auditKey(ctx, st, master); err != nil {
				return rep, err
			}
		}
	}
	rep.Audit, err = audit.NewTrail(db.Audit(), ak, filepath.Join(dir, checkpointsName)).Verify(ctx, audit.VerifyOptions{Full: true})
	if err != nil {
		return rep, fmt.Errorf("backup: verify the audit chain: %w", err)
	}
	return rep, nil
}

// readSecrets opens the latest version of every built-in secret.
func readSecrets(ctx context.Context, st *builtin.Store, rep *Report) error {
	after := ""
	for {
		page, err := st.List(ctx, after, 500)
		if err != nil {
			return err
		}
		for _, e := range page {
			if _, err := st.Get(ctx, secretstore.Ref{Name: e.Name}); err != nil {
				rep.Unreadable = append(rep.Unreadable, e.Name)
				continue
			}
			rep.Secrets++
		}
		if len(page) < 500 {
			return nil
		}
		after = page[len(page)-1].Name
	}
}
