package httpapi_test

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/credflow/credflow/internal/audit"
	"github.com/credflow/credflow/internal/config"
	"github.com/credflow/credflow/internal/metadb"
	"github.com/credflow/credflow/internal/metadb/metadbtest"
	"github.com/credflow/credflow/internal/server/servertest"
)

// sqlFor adapts a query written with $N placeholders to the engine.
func sqlFor(e metadbtest.Engine, q string) string {
	if e.Name == "sqlite" {
		return regexp.MustCompile(`\$(\d)`).ReplaceAllString(q, "?$1")
	}
	return q
}

// lastCheckpointSeq returns the sequence number of the newest line in the
// checkpoint file (0 when there is none).
func lastCheckpointSeq(t *testing.T, path string) int64 {
	t.Helper()
	f, err := os.Open(path)
	if os.IsNotExist(err) {
		return 0
	}
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var seq int64
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		var cp struct{ Seq int64 }
		if err := json.Unmarshal(sc.Bytes(), &cp); err != nil {
			t.Fatalf("checkpoint line %q: %v", sc.Text(), err)
		}
		seq = max(seq, cp.Seq)
	}
	return seq
}

// checkpointed starts a server that checkpoints after every record,
// populates it, and waits until the newest checkpoint covers every record.
func checkpointed(t *testing.T, e metadbtest.Engine) (*servertest.Instance, api, int64) {
	t.Helper()
	inst, admin := start(t, e, func(c *config.Config) { c.AuditCheckpointRecords = 1 })
	populate(t, admin)
	var last int64
	if err := inst.Server.DB().SQL().QueryRow(`SELECT max(seq) FROM audit_log`).Scan(&last); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for lastCheckpointSeq(t, inst.Config.CheckpointFile()) < last {
		if time.Now().After(deadline) {
			t.Fatalf("no checkpoint of record %d after 10s; log:\n%s", last, inst.Log())
		}
		time.Sleep(20 * time.Millisecond)
	}
	if v := admin.must(200, "GET", "/api/v1/audit/verify", nil); v.body["ok"] != true || v.body["full"] != false ||
		v.body["checkpoint"].(map[string]any)["seq"] != float64(last) || v.body["records"] != float64(last) {
		t.Fatalf("untouched trail: %s", v.raw)
	}
	return inst, admin, last
}

// rewrite edits record from (when edit is set) and recomputes the links of
// every record from it on with key (nil: plain SHA-256), as someone with
// write access to the database but without the audit key would; link, when
// set, is what the link column is made to say. The recorded head follows.
func rewrite(t *testing.T, inst *servertest.Instance, e metadbtest.Engine, from int64, edit func(*audit.Record), key *audit.Key, link string) {
	t.Helper()
	ctx := context.Background()
	var recs []audit.Record
	if err := inst.Server.DB().Audit().Walk(ctx, 0, 0, func(r audit.Record) bool { recs = append(recs, r); return true }); err != nil {
		t.Fatal(err)
	}
	var prev []byte
	for _, r := range recs {
		if r.Seq < from {
			prev = r.Hash
			continue
		}
		if r.Seq == from && edit != nil {
			edit(&r)
		}
		r.PrevHash = prev
		audit.Seal(&r, key)
		if link != "" {
			r.Link = link
		}
		if _, err := inst.Server.DB().SQL().Exec(sqlFor(e, `UPDATE audit_log SET actor = $1, link = $2, prev_hash = $3, hash = $4 WHERE seq = $5`),
			r.Actor, r.Link, r.PrevHash, r.Hash, r.Seq); err != nil {
			t.Fatal(err)
		}
		prev = r.Hash
		if _, err := inst.Server.DB().SQL().Exec(sqlFor(e, `UPDATE meta SET value = $1 WHERE key = 'audit.head'`), audit.Head(r)); err != nil {
			t.Fatal(err)
		}
	}
}

func execAll(t *testing.T, inst *servertest.Instance, stmts ...string) {
	t.Helper()
	for _, q := range stmts {
		if _, err := inst.Server.DB().SQL().Exec(q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
}

// TestAuditAttacksAreReported reproduces the attacks on the trail by
// writing to the database directly, and expects verify (from the newest
// checkpoint, and in full) to name each.
func TestAuditAttacksAreReported(t *testing.T) {
	var other [32]byte
	_, _ = rand.Read(other[:])
	wrongKey, err := audit.DeriveKey(other[:])
	if err != nil {
		t.Fatal(err)
	}
	mallory := func(r *audit.Record) { r.Actor = "mallory" }
	eachEngine(t, func(t *testing.T, e metadbtest.Engine) {
		cases := []struct {
			name   string
			attack func(t *testing.T, inst *servertest.Instance, last int64)
			// firstBad is a function of the last record before the attack.
			firstBad func(last int64) int64
			finding  string
			problem  string
			// fullOnly: the attack leaves the chain from the newest
			// checkpoint on intact, so only a full verify finds it.
			fullOnly bool
			// writerBlind: the checkpoint writer, which checks only the
			// records after its last checkpoint, does not see it.
			writerBlind bool
		}{
			{"every row and the recorded head deleted", func(t *testing.T, inst *servertest.Instance, _ int64) {
				execAll(t, inst, `DELETE FROM audit_log`, `DELETE FROM meta WHERE key LIKE 'audit.%'`)
			}, func(int64) int64 { return 1 }, audit.FindingTruncated,
				`^the log ends at record 0 but the checkpoint of \S+ was taken at record \d+ \(\d+ records\): records were removed from the end \(truncated\)$`, false, false},
			{"truncated with the head moved", func(t *testing.T, inst *servertest.Instance, _ int64) {
				var r audit.Record
				r, err := inst.Server.DB().Audit().Get(context.Background(), 5)
				if err != nil {
					t.Fatal(err)
				}
				execAll(t, inst, `DELETE FROM audit_log WHERE seq > 5`, fmt.Sprintf(`UPDATE meta SET value = '%s' WHERE key = 'audit.head'`, audit.Head(r)))
			}, func(int64) int64 { return 6 }, audit.FindingTruncated,
				`^the log ends at record 5 but the checkpoint of \S+ was taken at record \d+ \(\d+ records\): records were removed from the end \(truncated\)$`, false, false},
			{"edited and recomputed with plain SHA-256", func(t *testing.T, inst *servertest.Instance, _ int64) {
				rewrite(t, inst, e, 6, mallory, nil, "")
			}, func(int64) int64 { return 6 }, audit.FindingRecomputed,
				`^record 6 is linked with plain SHA-256 although the chain has been keyed since record 1: the chain was recomputed without the audit key`, false, false},
			{"edited and recomputed with plain SHA-256, marked keyed", func(t *testing.T, inst *servertest.Instance, _ int64) {
				rewrite(t, inst, e, 6, mallory, nil, audit.LinkHMAC)
			}, func(int64) int64 { return 6 }, audit.FindingRecomputed,
				`^record 6's link is plain SHA-256, not an HMAC under the audit key: the chain was recomputed without the key$`, false, false},
			{"edited and recomputed with a wrong key", func(t *testing.T, inst *servertest.Instance, _ int64) {
				rewrite(t, inst, e, 6, mallory, wrongKey, "")
			}, func(int64) int64 { return 6 }, audit.FindingRecomputed,
				`^record 6's link does not verify under the audit key, nor do the links after it: the chain was recomputed without the key`, false, false},
			{"edited without recomputing", func(t *testing.T, inst *servertest.Instance, _ int64) {
				execAll(t, inst, `UPDATE audit_log SET actor = 'mallory' WHERE seq = 6`)
			}, func(int64) int64 { return 6 }, audit.FindingEdited,
				`^record 6's link does not verify under the audit key: the record was edited$`, true, true},
			{"middle records deleted before the checkpoint", func(t *testing.T, inst *servertest.Instance, _ int64) {
				execAll(t, inst, `DELETE FROM audit_log WHERE seq IN (4, 5)`)
			}, func(int64) int64 { return 6 }, audit.FindingDeleted,
				`^expected record 4, found 6: records 4 to 5 are missing, so records were deleted$`, false, true},
		}
		for _, c := range cases {
			t.Run(c.name, func(t *testing.T) {
				inst, admin, last := checkpointed(t, e)
				c.attack(t, inst, last)
				if c.fullOnly {
					if v := admin.must(200, "GET", "/api/v1/audit/verify", nil); v.body["ok"] != true {
						t.Errorf("verify from the checkpoint: %s", v.raw)
					}
				}
				for _, path := range []string{"/api/v1/audit/verify", "/api/v1/audit/verify?full=true"} {
					if c.fullOnly && !strings.Contains(path, "full") {
						continue
					}
					v := admin.must(200, "GET", path, nil)
					if v.body["ok"] != false || v.body["firstBadRecord"] != float64(c.firstBad(last)) || v.str("finding") != c.finding ||
						!regexp.MustCompile(c.problem).MatchString(v.str("problem")) {
						t.Errorf("%s after the attack: %s\nwant first bad %d, finding %s, problem matching %s", path, v.raw, c.firstBad(last), c.finding, c.problem)
					}
				}
				if c.writerBlind {
					return
				}
				// The server goes on appending; the checkpoint writer must not
				// anchor the rewritten chain.
				admin.must(201, "POST", "/api/v1/environment-variables", map[string]any{"schemaName": "cf_After", "displayName": "after", "type": "text", "value": "v"})
				deadline := time.Now().Add(10 * time.Second)
				for !strings.Contains(inst.Log(), `"msg":"audit checkpoint not written"`) {
					if time.Now().After(deadline) {
						t.Fatalf("the checkpoint writer did not refuse the rewritten chain; log:\n%s", inst.Log())
					}
					time.Sleep(20 * time.Millisecond)
				}
				if got := lastCheckpointSeq(t, inst.Config.CheckpointFile()); got != last {
					t.Errorf("newest checkpoint at record %d after the attack, want %d", got, last)
				}
				for _, path := range []string{"/api/v1/audit/verify", "/api/v1/audit/verify?full=true"} {
					if v := admin.must(200, "GET", path, nil); v.body["ok"] != false || v.str("finding") != c.finding {
						t.Errorf("%s after more records: %s", path, v.raw)
					}
				}
			})
		}
	})
}

// TestAuditCheckpointFileTampering edits and removes the checkpoint file.
func TestAuditCheckpointFileTampering(t *testing.T) {
	eachEngine(t, func(t *testing.T, e metadbtest.Engine) {
		t.Run("edited", func(t *testing.T) {
			inst, admin, _ := checkpointed(t, e)
			path := inst.Config.CheckpointFile()
			b, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			// Claim fewer records at the first checkpoint, keeping its MAC.
			edited := regexp.MustCompile(`"records":\d+`).ReplaceAll(b, []byte(`"records":1`))
			if err := os.WriteFile(path, edited, 0o600); err != nil {
				t.Fatal(err)
			}
			v := admin.must(200, "GET", "/api/v1/audit/verify", nil)
			if v.body["ok"] != false || v.str("finding") != audit.FindingCheckpointBad ||
				!regexp.MustCompile(`^line \d+ of the checkpoint file .+ does not verify under the audit key: the file was edited$`).MatchString(v.str("problem")) {
				t.Errorf("verify with an edited checkpoint file: %s", v.raw)
			}
		})
		t.Run("removed", func(t *testing.T) {
			inst, admin, last := checkpointed(t, e)
			if err := os.Remove(inst.Config.CheckpointFile()); err != nil {
				t.Fatal(err)
			}
			v := admin.must(200, "GET", "/api/v1/audit/verify", nil)
			if v.body["ok"] != false || v.str("finding") != audit.FindingCheckpointMissing ||
				v.str("problem") != fmt.Sprintf("the checkpoint file %s is missing or empty, but checkpoints were written up to record %d: "+
					"the file was deleted, emptied or moved, and the chain cannot be checked against it", inst.Config.CheckpointFile(), last) {
				t.Errorf("verify without the checkpoint file: %s", v.raw)
			}
			// The running writer does not start a new file that would hide it.
			admin.must(201, "POST", "/api/v1/environment-variables", map[string]any{"schemaName": "cf_After", "displayName": "after", "type": "text", "value": "v"})
			deadline := time.Now().Add(10 * time.Second)
			for !strings.Contains(inst.Log(), "was removed while the server ran") {
				if time.Now().After(deadline) {
					t.Fatalf("the checkpoint writer did not notice the removed file; log:\n%s", inst.Log())
				}
				time.Sleep(20 * time.Millisecond)
			}
			if _, err := os.Stat(inst.Config.CheckpointFile()); !os.IsNotExist(err) {
				t.Errorf("the checkpoint file was recreated: %v", err)
			}
		})
	})
}

// TestAuditChainMigratesToKeyed starts a server on a database whose chain
// was written with plain SHA-256 links: the old records stay verifiable,
// the switch is a record of its own, and an edit before it still shows.
func TestAuditChainMigratesToKeyed(t *testing.T) {
	eachEngine(t, func(t *testing.T, e metadbtest.Engine) {
		ctx := context.Background()
		cfg := config.Defaults()
		cfg.DataDir = t.TempDir()
		cfg.Database = e.DSN(t)
		old, err := metadb.Open(ctx, cfg.Database, cfg.DataDir, slog.New(slog.DiscardHandler))
		if err != nil {
			t.Fatal(err)
		}
		for i := range 3 {
			if err := old.Audit().Record(ctx, audit.Entry{Actor: "system", Action: "test.old", Resource: fmt.Sprint("old:", i), Outcome: audit.Success}); err != nil {
				t.Fatal(err)
			}
		}
		old.Close()

		inst := servertest.StartConfig(t, cfg)
		admin := api{t: t, base: inst.URL, token: inst.AdminToken}
		sw := admin.must(200, "GET", "/api/v1/audit?action="+audit.SwitchAction, nil).body["items"].([]any)
		if len(sw) != 1 || sw[0].(map[string]any)["seq"] != 4.0 || sw[0].(map[string]any)["actor"] != "system" ||
			sw[0].(map[string]any)["reason"] != "records from here on are linked with HMAC-SHA-256 under a key derived from the master key; the 3 records before this one keep their plain SHA-256 links" {
			t.Fatalf("switch record: %v", sw)
		}
		admin.must(201, "POST", "/api/v1/environment-variables", map[string]any{"schemaName": "cf_New", "displayName": "new", "type": "text", "value": "v"})
		v := admin.must(200, "GET", "/api/v1/audit/verify?full=true", nil)
		if v.body["ok"] != true || v.body["keyedFrom"] != 4.0 || v.body["full"] != true || v.body["records"].(float64) < 6 {
			t.Errorf("verify after the switch: %s", v.raw)
		}
		var links []string
		rows, err := inst.Server.DB().SQL().Query(`SELECT link FROM audit_log ORDER BY seq`)
		if err != nil {
			t.Fatal(err)
		}
		for rows.Next() {
			var l string
			if err := rows.Scan(&l); err != nil {
				t.Fatal(err)
			}
			links = append(links, l)
		}
		rows.Close()
		if len(links) < 6 || strings.Join(links[:3], " ") != "sha256 sha256 sha256" {
			t.Errorf("links %v", links)
		}
		for _, l := range links[3:] {
			if l != audit.LinkHMAC {
				t.Errorf("links %v: after the switch, every link must be keyed", links)
			}
		}

		// A restart does not switch again.
		inst.Server.Close()
		again := servertest.StartConfig(t, cfg)
		b := api{t: t, base: again.URL, token: admin.token}
		if sw := b.must(200, "GET", "/api/v1/audit?action="+audit.SwitchAction, nil).body["items"].([]any); len(sw) != 1 {
			t.Errorf("switch records after a restart: %v", sw)
		}
		execAll(t, again, `UPDATE audit_log SET actor = 'mallory' WHERE seq = 2`)
		v = b.must(200, "GET", "/api/v1/audit/verify?full=true", nil)
		if v.body["ok"] != false || v.body["firstBadRecord"] != 2.0 || v.str("finding") != audit.FindingEdited {
			t.Errorf("verify after editing an old record: %s", v.raw)
		}
	})
}

// TestAuditVerifyFullParameter checks the full parameter's values.
func TestAuditVerifyFullParameter(t *testing.T) {
	eachEngine(t, func(t *testing.T, e metadbtest.Engine) {
		_, admin := start(t, e)
		wantProblem(t, admin.do("GET", "/api/v1/audit/verify?full=yes", nil), 400, "invalid_request", "full")
		if v := admin.must(200, "GET", "/api/v1/audit/verify?full=true", nil); v.body["ok"] != true || v.body["full"] != true {
			t.Errorf("full verify: %s", v.raw)
		}
	})
}
