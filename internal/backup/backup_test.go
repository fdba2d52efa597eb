package backup

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/credflow/credflow/internal/audit"
)

// fakeDB "snapshots" by writing fixed bytes.
type fakeDB struct{ content []byte }

func (f fakeDB) Snapshot(_ context.Context, path string) error {
	return os.WriteFile(path, f.content, 0o600)
}

type fakeAudit struct{ entries []audit.Entry }

func (f *fakeAudit) Record(_ context.Context, e ...audit.Entry) error {
	f.entries = append(f.entries, e...)
	return nil
}

func TestWriteAndUnpack(t *testing.T) {
	dir := t.TempDir()
	cps := filepath.Join(dir, "cps")
	// The last line is being written: it stays out of the backup.
	if err := os.WriteFile(cps, []byte("{\"seq\":1}\n{\"seq\":2"), 0o600); err != nil {
		t.Fatal(err)
	}
	a := &fakeAudit{}
	var buf bytes.Buffer
	if err := NewMaker(fakeDB{[]byte("sqlite bytes")}, a, dir, cps, "test").Write(context.Background(), "alice", &buf); err != nil {
		t.Fatal(err)
	}
	if len(a.entries) != 1 || a.entries[0].Actor != "alice" || a.entries[0].Action != "backup.create" {
		t.Errorf("audit = %+v", a.entries)
	}
	if left, _ := filepath.Glob(filepath.Join(dir, ".backup-*")); len(left) != 0 {
		t.Errorf("the snapshot was left behind: %v", left)
	}
	file := filepath.Join(dir, "b.tar")
	if err := os.WriteFile(file, buf.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name    string
		content []byte
		dir     string
		want    error
	}{
		{"whole", buf.Bytes(), filepath.Join(dir, "r1"), nil},
		{"check only", buf.Bytes(), "", nil},
		{"cut short", buf.Bytes()[:len(buf.Bytes())/2], filepath.Join(dir, "r2"), ErrNotBackup},
		{"not a tar", []byte("hello"), filepath.Join(dir, "r3"), ErrNotBackup},
		{"over a database", buf.Bytes(), filepath.Join(dir, "r1"), ErrTargetNotEmpty},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := filepath.Join(t.TempDir(), "in.tar")
			if err := os.WriteFile(p, tc.content, 0o600); err != nil {
				t.Fatal(err)
			}
			man, err := Unpack(p, tc.dir)
			if !errors.Is(err, tc.want) {
				t.Fatalf("Unpack = %v, want %v", err, tc.want)
			}
			if tc.want != nil {
				if tc.want == ErrNotBackup {
					if left, _ := os.ReadDir(tc.dir); len(left) != 0 {
						t.Errorf("a failed restore left %d files", len(left))
					}
				}
				return
			}
			if man.Format != Format || man.Database != "sqlite" || man.Version != "test" {
				t.Errorf("manifest = %+v", man)
			}
			if tc.dir == "" {
				return
			}
			db, _ := os.ReadFile(filepath.Join(tc.dir, "credflow.db"))
			cp, _ := os.ReadFile(filepath.Join(tc.dir, "audit-checkpoints"))
			if string(db) != "sqlite bytes" || string(cp) != "{\"seq\":1}\n" {
				t.Errorf("unpacked %q and %q", db, cp)
			}
		})
	}
	if err := NewMaker(nil, a, dir, cps, "test").Write(context.Background(), "alice", &bytes.Buffer{}); !errors.Is(err, ErrUnsupported) {
		t.Errorf("Write on PostgreSQL = %v, want ErrUnsupported", err)
	}
}
