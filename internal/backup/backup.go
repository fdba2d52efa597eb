// Package backup makes, checks and restores copies of an SQLite credflow
// instance: a consistent snapshot of the database taken while the server
// serves, packed in one tar file with the audit checkpoints that anchor its
// chain; the check of such a file (SQLite's integrity check, the audit chain
// against its checkpoints, the master key against the database, every
// built-in secret opened); and its restore into a new data directory.
//
// A backup holds what the database holds: the built-in store's values only
// as ciphertexts, wrapped by the master key, which is never in a backup and
// must be kept apart. PostgreSQL is backed up with pg_dump; this package
// refuses it.
package backup

import (
	"archive/tar"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"github.com/credflow/credflow/internal/audit"
)

// Names of the files inside a backup, in this order.
const (
	manifestName    = "manifest.json"
	databaseName    = "credflow.db"
	checkpointsName = "audit-checkpoints"
)

// Format names the backup format in its manifest.
const Format = "credflow-backup-v1"

// Errors checked with errors.Is.
var (
	// ErrNotBackup: the file is not a credflow backup, or is cut short.
	ErrNotBackup = errors.New("backup: not a complete credflow backup")
	// ErrTargetNotEmpty: a restore was asked to overwrite a database.
	ErrTargetNotEmpty = errors.New("backup: the data directory already holds a database")
	// ErrUnsupported: the instance runs on PostgreSQL, which is backed up
	// with pg_dump.
	ErrUnsupported = errors.New("backup: the database is PostgreSQL, which is backed up with pg_dump")
)

// Manifest describes a backup.
type Manifest struct {
	Format    string    `json:"format"`
	CreatedAt time.Time `json:"createdAt"`
	Version   string    `json:"credflowVersion"`
	// Database is the engine the copy is of: always "sqlite".
	Database string `json:"database"`
}

// Snapshotter copies the live database consistently into a new file.
// metadb.DB implements it.
type Snapshotter interface {
	Snapshot(ctx context.Context, path string) error
}

// Auditor records audit entries in a transaction of their own.
type Auditor interface {
	Record(ctx context.Context, entries ...audit.Entry) error
}

// Maker writes backups of one instance.
type Maker struct {
	db    Snapshotter // nil on PostgreSQL
	audit Auditor
	// scratch is where the snapshot is made before it is sent: the data
	// directory, which has room for the database already.
	scratch     string
	checkpoints string
	version     string
}

// NewMaker returns a Maker of db's backups, which snapshots into the
// directory scratch and includes the checkpoint file at checkpoints. db is
// nil when the instance runs on PostgreSQL: Write then refuses.
func NewMaker(db Snapshotter, a Auditor, scratch, checkpoints, version string) *Maker {
	return &Maker{db: db, audit: a, scratch: scratch, checkpoints: checkpoints, version: version}
}

// Write records that actor takes a backup, snapshots the database (which
// thus holds that record) and writes the backup to w. The snapshot is
// complete before the first byte is written, so an error before then
// leaves w untouched.
func (m *Maker) Write(ctx context.Context, actor string, w io.Writer) error {
	if m.db == nil {
		return ErrUnsupported
	}
	if err := m.audit.Record(ctx, audit.Entry{Actor: actor, Action: "backup.create", Resource: "database", Outcome: audit.Success}); err != nil {
		return fmt.Errorf("backup: %w", err)
	}
	// The checkpoints are read before the snapshot is taken: every one
	// of them then anchors records the snapshot holds.
	cps, err := completeLines(m.checkpoints)
	if err != nil {
		return err
	}
	var b [8]byte
	_, _ = rand.Read(b[:])
	tmp := filepath.Join(m.scratch, ".backup-"+hex.EncodeToString(b[:])+".db")
	defer os.Remove(tmp)
	if err := m.db.Snapshot(ctx, tmp); err != nil {
		return fmt.Errorf("backup: %w", err)
	}
	f, err := os.Open(tmp)
	if err != nil {
		return fmt.Errorf("backup: %w", err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return fmt.Errorf("backup: %w", err)
	}
	man, err := json.Marshal(Manifest{Format: Format, CreatedAt: time.Now().UTC(), Version: m.version, Database: "sqlite"})
	if err != nil {
		return fmt.Errorf("backup: %w", err)
	}
	tw := tar.NewWriter(w)
	now := time.Now().UTC()
	put := func(name string, size int64, r io.Reader) error {
		if err := tw.WriteHeader(&tar.Header{Name: name, Mode: 0o600, Size: size, ModTime: now, Typeflag: tar.TypeReg, Format: tar.FormatPAX}); err != nil {
			return err
		}
		_, err := io.CopyN(tw, r, size)
		return err
	}
	if err := put(manifestName, int64(len(man)), bytes.NewReader(man)); err != nil {
		return fmt.Errorf("backup: write: %w", err)
	}
	if err := put(databaseName, st.Size(), f); err != nil {
		return fmt.Errorf("backup: write: %w", err)
	}
	if err := put(checkpointsName, int64(len(cps)), bytes.NewReader(cps)); err != nil {
		return fmt.Errorf("backup: write: %w", err)
	}
	if err := tw.Close(); err != nil {
		return fmt.Errorf("backup: write: %w", err)
	}
	return nil
}

// completeLines returns the file's content up to its last newline: a line
// being appended right now is left out. A missing file is empty.
func completeLines(path string) ([]byte, error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("backup: read audit checkpoints: %w", err)
	}
	return b[:bytes.LastIndexByte(b, '\n')+1], nil
}

// Unpack reads the backup at path and writes its database and checkpoint
// file into dir, which must not hold a database yet, as the files a data
// directory holds (credflow.db, audit-checkpoints). It returns the
// manifest. A file that is not a complete backup gives an error matching
// ErrNotBackup, and leaves nothing behind in dir. With dir "" the backup is
// only read through, to check that it is whole.
func Unpack(path, dir string) (Manifest, error) {
	var man Manifest
	if dir == "" {
		return unpack(path, "")
	}
	if _, err := os.Stat(filepath.Join(dir, databaseName)); err == nil {
		return man, fmt.Errorf("backup: restore into %s: %w", dir, ErrTargetNotEmpty)
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return man, fmt.Errorf("backup: restore: %w", err)
	}
	return unpack(path, dir)
}

func unpack(path, dir string) (Manifest, error) {
	var man Manifest
	f, err := os.Open(path)
	if err != nil {
		return man, fmt.Errorf("backup: %w", err)
	}
	defer f.Close()
	tr := tar.NewReader(f)
	var written []string
	fail := func(err error) (Manifest, error) {
		for _, p := range written {
			os.Remove(p)
		}
		return Manifest{}, err
	}
	for _, want := range []string{manifestName, databaseName, checkpointsName} {
		h, err := tr.Next()
		if err != nil || h.Name != want || h.Typeflag != tar.TypeReg {
			return fail(fmt.Errorf("backup: %s: %s is missing or out of place: %w", path, want, ErrNotBackup))
		}
		if want == manifestName {
			dec := json.NewDecoder(io.LimitReader(tr, 64<<10))
			dec.DisallowUnknownFields()
			if err := dec.Decode(&man); err != nil || man.Format != Format {
				return fail(fmt.Errorf("backup: %s: the manifest is not a %s manifest: %w", path, Format, ErrNotBackup))
			}
			continue
		}
		if dir == "" {
			n, err := io.Copy(io.Discard, tr)
			if err != nil || n != h.Size {
				return fail(fmt.Errorf("backup: %s: %s is cut short: %w", path, want, ErrNotBackup))
			}
			continue
		}
		dst := filepath.Join(dir, want)
		out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
		if err != nil {
			return fail(fmt.Errorf("backup: restore: %w", err))
		}
		written = append(written, dst)
		n, err := io.Copy(out, tr)
		if err == nil && n != h.Size {
			err = io.ErrUnexpectedEOF
		}
		if err == nil {
			err = out.Sync()
		}
		if cerr := out.Close(); err == nil {
			err = cerr
		}
		if errors.Is(err, io.ErrUnexpectedEOF) {
			return fail(fmt.Errorf("backup: %s: %s is cut short: %w", path, want, ErrNotBackup))
		}
		if err != nil {
			return fail(fmt.Errorf("backup: restore %s: %w", want, err))
		}
	}
	if _, err := tr.Next(); !errors.Is(err, io.EOF) {
		return fail(fmt.Errorf("backup: %s: unexpected content after the checkpoints: %w", path, ErrNotBackup))
	}
	if dir != "" {
		if d, err := os.Open(dir); err == nil {
			_ = d.Sync()
			d.Close()
		}
	}
	return man, nil
}
