package cli

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/credflow/credflow/client"
	"github.com/credflow/credflow/internal/metadb/metadbtest"
	"github.com/credflow/credflow/internal/server/servertest"
)

func TestAuditArchiveEndToEnd(t *testing.T) {
	for _, e := range metadbtest.Engines(t) {
		t.Run(e.Name, func(t *testing.T) {
			inst := servertest.Start(t, e)
			admin, runner := runtimeSetup(t, inst)
			c, err := client.New(inst.URL, runner.inv.env[envToken])
			if err != nil {
				t.Fatal(err)
			}
			resolve := func(n int) {
				for range n {
					if _, err := c.Resolve(context.Background(), "sql-build"); err != nil {
						t.Fatal(err)
					}
				}
			}
			resolve(5)
			// Resolve records are written by a group committer: wait until
			// they are in before taking the boundary.
			count := func() int {
				var n int
				if err := inst.Server.DB().SQL().QueryRow(`SELECT count(*) FROM audit_log`).Scan(&n); err != nil {
					t.Fatal(err)
				}
				return n
			}
			waitFor(t, func() bool { return count() >= 5 })
			time.Sleep(5 * time.Millisecond)
			boundary := time.Now().UTC()
			time.Sleep(5 * time.Millisecond)
			resolve(3)
			before := count()

			dir := t.TempDir()
			first := filepath.Join(dir, "a1.jsonl")
			out := admin.ok("audit", "archive", "--before", boundary.Format(time.RFC3339Nano), "--out", first)
			wantLines(t, out, `Archived \d+ records \(1 to \d+\) into `+first+` and removed them from the database; the chain continues from record \d+\.`)
			if after := count(); after >= before {
				t.Fatalf("audit_log holds %d records after the archive, %d before", after, before)
			}
			var oldest int64
			recs, err := adminClient(t, inst).ListAudit(context.Background(), client.AuditListOptions{Limit: 1})
			if err != nil || len(recs.Items) != 1 {
				t.Fatalf("list: %v", err)
			}
			oldest = recs.Items[0].Seq
			if !recs.Items[0].Time.After(boundary) && recs.Items[0].Action != "audit.archive" {
				t.Errorf("the oldest record left (%d, %s) is older than the boundary %s", oldest, recs.Items[0].Time, boundary)
			}
			for _, args := range [][]string{{"audit", "verify"}, {"audit", "verify", "--full"}} {
				if out := admin.ok(args...); !strings.HasPrefix(out, "ok: ") {
					t.Errorf("%v after the archive: %q", args, out)
				}
			}
			wantLines(t, admin.ok("audit", "verify", "--archive", first), `ok: archive `+first+`: records 1 to \d+ verified \(\d+ since the chain began\), sealed \S+`)
			if admin.fails("audit", "archive", "--before", "2000-01-01", "--out", filepath.Join(dir, "none.jsonl")) == "" {
				t.Error("an empty archive did not fail")
			}
			if _, err := os.Stat(filepath.Join(dir, "none.jsonl")); err == nil {
				t.Error("an archive with nothing to archive left a file")
			}
			if r := admin.run(invocation{}, "audit", "archive", "--before", "2099-01-01", "--out", first); r.code != exitUsage || !strings.Contains(r.stderr, "exists") {
				t.Errorf("archive over a file: exit %d, %q", r.code, r.stderr)
			}

			// A second archive continues from the first's end.
			resolve(2)
			second := filepath.Join(dir, "a2.jsonl")
			admin.ok("audit", "archive", "--before", time.Now().UTC().Add(time.Hour).Format(time.RFC3339), "--out", second)
			wantLines(t, admin.ok("audit", "verify", "--archive", second), `ok: archive `+second+`: records \d+ to \d+ verified \(\d+ since the chain began\), sealed \S+`)
			var v client.AuditVerification
			admin.json(&v, "audit", "verify", "--full")
			if !v.OK || v.Records < int64(before) {
				t.Errorf("verify --full after two archives: %+v; want ok and at least the %d records ever written", v, before)
			}

			// An archive committed again is refused: its records are gone.
			raw, err := os.ReadFile(first)
			if err != nil {
				t.Fatal(err)
			}
			lines := strings.Split(strings.TrimSuffix(string(raw), "\n"), "\n")
			var end struct{ End client.AuditAnchor }
			if err := json.Unmarshal([]byte(lines[len(lines)-1]), &end); err != nil {
				t.Fatal(err)
			}
			_, err = adminClient(t, inst).CommitAuditArchive(context.Background(), end.End)
			if ce, ok := err.(*client.Error); !ok || ce.Code != "archive_stale" || ce.Status != 409 {
				t.Errorf("commit again: %v; want a 409 archive_stale", err)
			}

			// Tampering with the archive file is found.
			tamper := func(name string, edit func([]string) []string) string {
				p := filepath.Join(dir, name)
				if err := os.WriteFile(p, []byte(strings.Join(edit(append([]string(nil), lines...)), "\n")+"\n"), 0o600); err != nil {
					t.Fatal(err)
				}
				return admin.fails("audit", "verify", "--archive", p)
			}
			for _, tc := range []struct {
				name, want string
				edit       func([]string) []string
			}{
				{"edited", "(edited)", func(l []string) []string { l[2] = strings.Replace(l[2], `"actor":"`, `"actor":"x`, 1); return l }},
				{"deleted", "(deleted)", func(l []string) []string { return append(l[:2], l[3:]...) }},
				{"cut", "(truncated)", func(l []string) []string { return l[:len(l)-1] }},
				{"count", "(archive_anchor_tampered)", func(l []string) []string {
					l[len(l)-1] = strings.Replace(l[len(l)-1], `"records":`, `"records":1`, 1)
					return l
				}},
				{"header", "(not_an_archive)", func(l []string) []string { return l[1:] }},
			} {
				if msg := tamper(tc.name+".jsonl", tc.edit); !strings.Contains(msg, tc.want) {
					t.Errorf("%s archive: %q, want %s", tc.name, msg, tc.want)
				}
			}
			for _, l := range lines {
				if strings.Contains(l, runtimePassword) {
					t.Fatal("the archive holds a secret value")
				}
			}

			// A restart keeps the checkpoint writer and verify working.
			inst.Server.Close()
			again := servertest.StartConfig(t, inst.Config)
			a := admin.as(inst.AdminToken)
			a.inv.env[envAddr] = again.URL
			if out := a.ok("audit", "verify", "--full"); !strings.HasPrefix(out, "ok: ") {
				t.Errorf("verify after a restart: %q", out)
			}
			if strings.Contains(again.Log(), "audit checkpoint not written") {
				t.Errorf("the checkpoint writer complains after the archive:\n%s", again.Log())
			}

			// Moving the database's anchor is found.
			if _, err := again.Server.DB().SQL().Exec(`UPDATE meta SET value = replace(value, '"records":', '"records":1') WHERE key = 'audit.archived'`); err != nil {
				t.Fatal(err)
			}
			if msg := a.fails("audit", "verify", "--full"); !strings.Contains(msg, "archive_anchor_tampered") {
				t.Errorf("verify with an edited anchor: %q", msg)
			}
		})
	}
}

func adminClient(t *testing.T, inst *servertest.Instance) *client.Client {
	t.Helper()
	c, err := client.New(inst.URL, inst.AdminToken)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not met in 10s")
		}
		time.Sleep(10 * time.Millisecond)
	}
}
