package cli

import (
	"archive/tar"
	"context"
	"database/sql"
	"encoding/base64"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/credflow/credflow/client"
	"github.com/credflow/credflow/internal/backup"
	"github.com/credflow/credflow/internal/config"
	"github.com/credflow/credflow/internal/metadb/metadbtest"
	"github.com/credflow/credflow/internal/server/servertest"
)

// resolveWhile resolves sql-build as the runner in a loop until stop is
// called, and fails the test on any error; it returns once the first
// resolve succeeded, and stop returns how many did.
func resolveWhile(t *testing.T, url string, runner *session) (stop func() int64) {
	t.Helper()
	c, err := client.New(url, runner.inv.env[envToken])
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	var (
		wg sync.WaitGroup
		n  atomic.Int64
	)
	for range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for ctx.Err() == nil {
				r, err := c.Resolve(ctx, "sql-build")
				if ctx.Err() != nil {
					return
				}
				if err != nil {
					t.Errorf("resolve during the backup: %v", err)
					return
				}
				if r.Password.Reveal() != runtimePassword {
					t.Errorf("resolve during the backup: wrong password")
					return
				}
				n.Add(1)
			}
		}()
	}
	// Resolves are flowing before whatever runs "during" them starts.
	for deadline := time.Now().Add(10 * time.Second); n.Load() == 0 && time.Now().Before(deadline); {
		time.Sleep(time.Millisecond)
	}
	return func() int64 {
		cancel()
		wg.Wait()
		return n.Load()
	}
}

func TestBackupRestoreEndToEnd(t *testing.T) {
	e := metadbtest.Engines(t)[0]
	inst := servertest.Start(t, e)
	admin, runner := runtimeSetup(t, inst)
	dir := t.TempDir()
	file := filepath.Join(dir, "b.tar")

	stop := resolveWhile(t, inst.URL, runner)
	out := admin.ok("admin", "backup", file)
	if n := stop(); n == 0 {
		t.Error("no resolve ran during the backup")
	}
	if !strings.HasPrefix(out, "Backup written to "+file+" (") {
		t.Errorf("backup: %q", out)
	}
	if st, err := os.Stat(file); err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("backup file: %v, %v; want mode 0600", st, err)
	}
	raw, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(raw), runtimePassword) {
		t.Fatal("the backup holds the secret value in the clear")
	}

	out = admin.ok("admin", "backup", "verify", file, "--master-key-file", inst.Config.KeyFile())
	wantLines(t, out, `ok: backup of \S+: database intact, master key [0-9a-f]{16} matches, 1 built-in secrets open, \d+ audit records verified`)
	var rep backupReportJSON
	admin.json(&rep, "admin", "backup", "verify", file, "--master-key-file", inst.Config.KeyFile())
	if !rep.OK || !rep.AuditOK || rep.Secrets != 1 || len(rep.Integrity) != 0 {
		t.Errorf("verify -o json: %+v", rep)
	}

	t.Run("restore, start, resolve", func(t *testing.T) {
		data := filepath.Join(t.TempDir(), "restored")
		out := admin.ok("admin", "restore", file, "--data-dir", data)
		if !strings.Contains(out, "Start it with: credflow serve --data-dir "+data+" --master-key-file KEYFILE") {
			t.Errorf("restore: %q", out)
		}
		if msg := admin.run(invocation{}, "admin", "restore", file, "--data-dir", data); msg.code != exitUsage ||
			!strings.Contains(msg.stderr, "already holds a database") {
			t.Errorf("restore over a database: exit %d, %q", msg.code, msg.stderr)
		}
		cfg := config.Defaults()
		cfg.DataDir = data
		cfg.MasterKeyFile = inst.Config.KeyFile()
		restored := servertest.StartConfig(t, cfg)
		if restored.AdminToken != "" {
			t.Error("the restored server made a new admin token: it did not see the restored users")
		}
		r := runner.as(runner.inv.env[envToken])
		r.inv.env[envAddr] = restored.URL
		env := map[string]string{"WANT": runtimePassword}
		for k, v := range r.inv.env {
			env[k] = v
		}
		res := r.run(invocation{env: env}, "run", "--connection", "sql-build", "--", "sh", "-c", `test "$CREDFLOW_PASSWORD" = "$WANT"`)
		if res.code != exitOK {
			t.Fatalf("resolve on the restored server: exit %d, %s", res.code, res.stderr)
		}
		a := admin.as(inst.AdminToken)
		a.inv.env[envAddr] = restored.URL
		if out := a.ok("audit", "verify", "--full"); !strings.HasPrefix(out, "ok: ") {
			t.Errorf("audit verify on the restored server: %q", out)
		}
	})

	t.Run("wrong master key", func(t *testing.T) {
		other := filepath.Join(t.TempDir(), "other.key")
		if err := os.WriteFile(other, []byte(base64.StdEncoding.EncodeToString([]byte(strings.Repeat("k", 32)))+"\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		msg := admin.fails("admin", "backup", "verify", file, "--master-key-file", other)
		if !strings.Contains(msg, "is not the database's") {
			t.Errorf("verify with another key: %q", msg)
		}
	})

	t.Run("cut short", func(t *testing.T) {
		cut := filepath.Join(t.TempDir(), "cut.tar")
		if err := os.WriteFile(cut, raw[:len(raw)/2], 0o600); err != nil {
			t.Fatal(err)
		}
		msg := admin.fails("admin", "backup", "verify", cut, "--master-key-file", inst.Config.KeyFile())
		if !strings.Contains(msg, "not a complete credflow backup") {
			t.Errorf("verify a cut file: %q", msg)
		}
	})

	t.Run("audit record edited in the copy", func(t *testing.T) {
		tampered := tamperBackup(t, file, `UPDATE audit_log SET actor = 'mallory' WHERE seq = 3`)
		msg := admin.fails("admin", "backup", "verify", tampered, "--master-key-file", inst.Config.KeyFile())
		if !strings.Contains(msg, "the audit chain is broken at record 3 (edited)") {
			t.Errorf("verify an edited copy: %q", msg)
		}
	})
}

// tamperBackup unpacks the backup, runs query on its database and packs it
// again, returning the new file.
func tamperBackup(t *testing.T, file, query string) string {
	t.Helper()
	dir := t.TempDir()
	if _, err := backup.Unpack(file, dir); err != nil {
		t.Fatal(err)
	}
	db, err := sql.Open("sqlite", filepath.Join(dir, "credflow.db"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec(query); err != nil {
		t.Fatal(err)
	}
	db.Close()
	src, err := os.Open(file)
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	outPath := filepath.Join(t.TempDir(), "tampered.tar")
	out, err := os.Create(outPath)
	if err != nil {
		t.Fatal(err)
	}
	defer out.Close()
	tr, tw := tar.NewReader(src), tar.NewWriter(out)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		body := io.Reader(tr)
		if h.Name == "credflow.db" {
			b, err := os.ReadFile(filepath.Join(dir, "credflow.db"))
			if err != nil {
				t.Fatal(err)
			}
			h.Size = int64(len(b))
			body = strings.NewReader(string(b))
		}
		if err := tw.WriteHeader(h); err != nil {
			t.Fatal(err)
		}
		if _, err := io.Copy(tw, body); err != nil {
			t.Fatal(err)
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	return outPath
}

func TestBackupRefusedOnPostgres(t *testing.T) {
	engines := metadbtest.Engines(t)
	if len(engines) < 2 {
		t.Skip("PostgreSQL is not configured")
	}
	inst := servertest.Start(t, engines[1])
	admin := &session{t: t, inv: invocation{env: map[string]string{envAddr: inst.URL, envToken: inst.AdminToken}}}
	msg := admin.fails("admin", "backup", filepath.Join(t.TempDir(), "b.tar"))
	if !strings.Contains(msg, "pg_dump") {
		t.Errorf("backup on PostgreSQL: %q", msg)
	}
}
