package cli

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/credflow/credflow/client"
	"github.com/credflow/credflow/internal/config"
	"github.com/credflow/credflow/internal/metadb/metadbtest"
	"github.com/credflow/credflow/internal/secretstore"
	"github.com/credflow/credflow/internal/secretstore/builtin"
	"github.com/credflow/credflow/internal/server"
	"github.com/credflow/credflow/internal/server/servertest"
)

func newKeyFile(t *testing.T) string {
	t.Helper()
	b := make([]byte, 32)
	rand.Read(b)
	p := filepath.Join(t.TempDir(), "new.key")
	if err := os.WriteFile(p, []byte(base64.StdEncoding.EncodeToString(b)+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// keyIDs counts the built-in store's rows by the master key that wraps them.
func keyIDs(t *testing.T, inst *servertest.Instance) map[string]int {
	t.Helper()
	rows, err := inst.Server.DB().SQL().Query(`SELECT key_id, count(*) FROM builtin_secrets GROUP BY key_id`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	out := map[string]int{}
	for rows.Next() {
		var id string
		var n int
		if err := rows.Scan(&id, &n); err != nil {
			t.Fatal(err)
		}
		out[id] = n
	}
	return out
}

func TestRotateMasterKeyEndToEnd(t *testing.T) {
	for _, e := range metadbtest.Engines(t) {
		t.Run(e.Name, func(t *testing.T) {
			cfg := config.Defaults()
			cfg.DataDir = t.TempDir()
			cfg.Database = e.DSN(t)
			// The first rotation stops after two batches, as a crash would.
			inst := servertest.StartConfig(t, cfg, server.WithRotationStop(2))
			admin, runner := runtimeSetup(t, inst)
			admin.ok("store", "update", "local", "--cache-ttl", "0s") // every resolve opens a row
			ac := adminClient(t, inst)
			for i := range 23 {
				if _, err := ac.PutSecret(context.Background(), "local", fmt.Sprintf("extra-%02d", i), "extra-value"); err != nil {
					t.Fatal(err)
				}
			}
			oldKey, _, err := builtin.LoadOrCreateKey(cfg.KeyFile(), false)
			if err != nil {
				t.Fatal(err)
			}
			oldID := builtin.KeyID(oldKey)
			newFile := newKeyFile(t)
			newKey, _, err := builtin.LoadOrCreateKey(newFile, false)
			if err != nil {
				t.Fatal(err)
			}
			newID := builtin.KeyID(newKey)

			stop := resolveWhile(t, inst.URL, runner)
			msg := admin.fails("admin", "rotate-master-key", "--new-key-file", newFile, "--batch-size", "5")
			stop()
			if !strings.Contains(msg, "failed to handle the request") {
				t.Errorf("stopped rotation: %q, want the server's internal error", msg)
			}
			if ids := keyIDs(t, inst); ids[oldID] == 0 || ids[newID] != 10 {
				t.Fatalf("after two batches of 5: rows by key %v; want 10 under the new key and the rest under the old", ids)
			}
			// Writes made meanwhile go under the new key.
			if _, err := ac.PutSecret(context.Background(), "local", "during", "during-value"); err != nil {
				t.Fatal(err)
			}
			if ids := keyIDs(t, inst); ids[newID] != 11 {
				t.Fatalf("a write during the rotation: rows by key %v; want it under the new key", ids)
			}

			// A crash: the server is started again, with the old key file.
			inst.Server.Close()
			again := servertest.StartConfig(t, cfg)
			retarget := func(s *session, url string) *session {
				c := s.as(s.inv.env[envToken])
				c.inv.env[envAddr] = url
				return c
			}
			a2, r2 := retarget(admin, again.URL), retarget(runner, again.URL)
			stop = resolveWhile(t, again.URL, r2)
			out := a2.ok("admin", "rotate-master-key", "--new-key-file", newFile, "--batch-size", "2")
			if n := stop(); n == 0 {
				t.Error("no resolve ran during the rotation")
			}
			wantLines(t, out, `Rotated the master key from `+oldID+` to `+newID+` \(resumed\): 14 data keys rewrapped in 7 batches\. .*`)
			if ids := keyIDs(t, again); len(ids) != 1 || ids[newID] != 25 {
				t.Fatalf("after the rotation: rows by key %v; want all 25 under the new key", ids)
			}
			var meta int
			if err := again.Server.DB().SQL().QueryRow(`SELECT count(*) FROM meta WHERE key = 'builtin.rotation'`).Scan(&meta); err != nil || meta != 0 {
				t.Fatalf("the rotation's cross-wrapped keys are still in the database (%d, %v)", meta, err)
			}
			// The old key opens nothing.
			old, err := builtin.New(again.Server.DB().BuiltinSecrets(), oldKey)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := old.Get(context.Background(), secretstore.Ref{Name: "sql-password"}); !errors.Is(err, secretstore.ErrCorrupt) {
				t.Errorf("the old key read a secret after the rotation: %v", err)
			}
			if msg := a2.fails("admin", "rotate-master-key", "--new-key-file", newFile); !strings.Contains(msg, "same_master_key") && !strings.Contains(msg, "current one") {
				t.Errorf("rotate to the current key: %q", msg)
			}
			if msg := a2.fails("admin", "rotate-master-key", "--new-key-file", filepath.Join(t.TempDir(), "missing.key")); !strings.Contains(msg, "cannot be used") {
				t.Errorf("rotate to a missing file: %q", msg)
			}
			var list client.Page[client.AuditRecord]
			a2.json(&list, "audit", "list", "--action", "master_key.rotate")
			if len(list.Items) != 1 || list.Items[0].Actor != "admin" {
				t.Errorf("audit of the rotation: %+v", list.Items)
			}
			a2.json(&list, "audit", "list", "--action", "master_key.rotate.begin")
			if len(list.Items) != 2 {
				t.Errorf("audit of the rotation's beginnings (first and resumed): %+v", list.Items)
			}

			// Restarted with the old key, the server refuses; with the new
			// one it serves, and the audit chain still verifies.
			again.Server.Close()
			if _, err := server.New(context.Background(), cfg, &strings.Builder{}); err == nil || !strings.Contains(err.Error(), "is not the one this database was created with") {
				t.Fatalf("start with the old key after the rotation: %v", err)
			}
			cfg.MasterKeyFile = newFile
			third := servertest.StartConfig(t, cfg)
			r3, a3 := retarget(runner, third.URL), retarget(admin, third.URL)
			env := map[string]string{"WANT": runtimePassword}
			for k, v := range r3.inv.env {
				env[k] = v
			}
			if res := r3.run(invocation{env: env}, "run", "--connection", "sql-build", "--", "sh", "-c", `test "$CREDFLOW_PASSWORD" = "$WANT"`); res.code != exitOK {
				t.Fatalf("resolve with the new key: exit %d, %s", res.code, res.stderr)
			}
			if out := a3.ok("audit", "verify", "--full"); !strings.HasPrefix(out, "ok: ") {
				t.Errorf("audit verify after the rotation: %q", out)
			}
		})
	}
}

// A replica started with the old key reads and writes through a rotation
// another replica runs, without a restart: it learns the new key from the
// database, where it is kept wrapped under the old one while the rotation
// lasts (and from the announcement the rotation makes).
func TestRotateMasterKeyReplicas(t *testing.T) {
	engines := metadbtest.Engines(t)
	if len(engines) < 2 {
		t.Skip("replicas need PostgreSQL, which is not configured")
	}
	cfg := config.Defaults()
	cfg.DataDir = t.TempDir()
	cfg.Database = engines[1].DSN(t)
	a := servertest.StartConfig(t, cfg)
	admin, runner := runtimeSetup(t, a)
	admin.ok("store", "update", "local", "--cache-ttl", "0s")
	cfgB := cfg
	cfgB.DataDir = t.TempDir()
	cfgB.MasterKeyFile = cfg.KeyFile()
	b := servertest.StartConfig(t, cfgB)
	rb := runner.as(runner.inv.env[envToken])
	rb.inv.env[envAddr] = b.URL

	stop := resolveWhile(t, b.URL, rb)
	admin.ok("admin", "rotate-master-key", "--new-key-file", newKeyFile(t), "--batch-size", "1")
	if n := stop(); n == 0 {
		t.Error("no resolve ran on the other replica during the rotation")
	}
	// After it: B reads the rewrapped row and writes under the new key.
	bc, err := client.New(b.URL, a.AdminToken)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := bc.PutSecret(context.Background(), "local", "sql-password", runtimePassword); err != nil {
		t.Fatalf("write on the other replica after the rotation: %v", err)
	}
	rc, err := client.New(b.URL, runner.inv.env[envToken])
	if err != nil {
		t.Fatal(err)
	}
	if r, err := rc.Resolve(context.Background(), "sql-build"); err != nil || r.Password.Reveal() != runtimePassword {
		t.Fatalf("resolve on the other replica after the rotation: %v", err)
	}
	if ids := keyIDs(t, b); len(ids) != 1 {
		t.Errorf("rows by key after the rotation and a write on the other replica: %v; want one key", ids)
	}
}
