package server_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/credflow/credflow/internal/config"
	"github.com/credflow/credflow/internal/metadb/metadbtest"
	"github.com/credflow/credflow/internal/server"
	"github.com/credflow/credflow/internal/server/servertest"
)

// checkpointSeqs returns the sequence numbers of the checkpoint file's lines.
func checkpointSeqs(t *testing.T, path string) []int64 {
	t.Helper()
	b, err := os.ReadFile(path)
	if os.IsNotExist(err) {
		return nil
	}
	if err != nil {
		t.Fatal(err)
	}
	if len(bytes.TrimSpace(b)) == 0 {
		// Created, its first line not written yet: the writer opens the
		// file with O_CREATE, then appends.
		return nil
	}
	var seqs []int64
	for _, line := range bytes.Split(bytes.TrimSpace(b), []byte("\n")) {
		var cp struct {
			Seq, Records int64
			Head, MAC    string
			Time         time.Time
		}
		if err := json.Unmarshal(line, &cp); err != nil || cp.Head == "" || cp.MAC == "" || cp.Time.IsZero() || cp.Records != cp.Seq {
			t.Fatalf("checkpoint line %q (%v)", line, err)
		}
		seqs = append(seqs, cp.Seq)
	}
	return seqs
}

func lastSeq(t *testing.T, inst *servertest.Instance) int64 {
	t.Helper()
	var n int64
	if err := inst.Server.DB().SQL().QueryRow(`SELECT max(seq) FROM audit_log`).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

func change(t *testing.T, inst *servertest.Instance, name string) {
	t.Helper()
	body := strings.NewReader(`{"schemaName": "` + name + `", "displayName": "` + name + `", "type": "text", "value": "v"}`)
	req, _ := http.NewRequest("POST", inst.URL+"/api/v1/environment-variables", body)
	req.Header.Set("Authorization", "Bearer "+inst.AdminToken)
	req.Header.Set("Content-Type", "application/json")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != 201 {
		t.Fatalf("create variable: %d", res.StatusCode)
	}
}

// TestAuditCheckpoints checks when checkpoints are written: at start, after
// the interval, after the number of records, and at a graceful shutdown, to
// the configured file, each logged at INFO.
func TestAuditCheckpoints(t *testing.T) {
	for _, e := range metadbtest.Engines(t) {
		t.Run(e.Name, func(t *testing.T) {
			for _, tc := range []struct {
				name     string
				records  int64
				interval time.Duration
				// close: the checkpoint of the newest record comes only
				// from the graceful shutdown.
				close bool
			}{
				{"interval", 1000, time.Second, false},
				{"records", 2, time.Hour, false},
				{"shutdown", 1000, time.Hour, true},
			} {
				t.Run(tc.name, func(t *testing.T) {
					cfg := config.Defaults()
					cfg.DataDir = t.TempDir()
					cfg.Database = e.DSN(t)
					cfg.AuditCheckpointFile = filepath.Join(t.TempDir(), "checkpoints")
					cfg.AuditCheckpointRecords, cfg.AuditCheckpointInterval = tc.records, tc.interval
					inst := servertest.StartConfig(t, cfg)
					start := lastSeq(t, inst)
					wait := func(seq int64) {
						t.Helper()
						deadline := time.Now().Add(10 * time.Second)
						for {
							seqs := checkpointSeqs(t, cfg.AuditCheckpointFile)
							if len(seqs) > 0 && seqs[len(seqs)-1] == seq {
								return
							}
							if time.Now().After(deadline) {
								t.Fatalf("no checkpoint of record %d: %v", seq, seqs)
							}
							time.Sleep(20 * time.Millisecond)
						}
					}
					wait(start)
					change(t, inst, "cf_A")
					change(t, inst, "cf_B")
					head := lastSeq(t, inst)
					if tc.close {
						time.Sleep(200 * time.Millisecond)
						if seqs := checkpointSeqs(t, cfg.AuditCheckpointFile); seqs[len(seqs)-1] != start {
							t.Fatalf("checkpoints before the shutdown: %v", seqs)
						}
						if err := inst.Server.Close(); err != nil {
							t.Fatal(err)
						}
					}
					wait(head)
					// The checkpoint is logged just after it is written to the
					// file: give the line the same time.
					logged := `"level":"INFO","msg":"audit checkpoint","file":"` + cfg.AuditCheckpointFile + `","seq":` + itoa(head) + `,"records":` + itoa(head) + `,"head":"`
					for deadline := time.Now().Add(10 * time.Second); !strings.Contains(inst.Log(), logged) && time.Now().Before(deadline); {
						time.Sleep(20 * time.Millisecond)
					}
					if !strings.Contains(inst.Log(), logged) {
						t.Errorf("checkpoint of record %d not logged:\n%s", head, inst.Log())
					}
					if st, err := os.Stat(cfg.AuditCheckpointFile); err != nil || st.Mode().Perm() != 0o600 {
						t.Errorf("checkpoint file: %v %v", st.Mode(), err)
					}
					if _, err := os.Stat(filepath.Join(cfg.DataDir, "audit-checkpoints")); !os.IsNotExist(err) {
						t.Errorf("a checkpoint file in the data directory although another was configured: %v", err)
					}
				})
			}
		})
	}
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

// TestAuditSwitchOnceAcrossReplicas starts replicas together on a database
// whose chain is not keyed yet: exactly one of them records the switch.
func TestAuditSwitchOnceAcrossReplicas(t *testing.T) {
	for _, e := range metadbtest.Engines(t) {
		t.Run(e.Name, func(t *testing.T) {
			cfg := config.Defaults()
			cfg.DataDir = t.TempDir()
			cfg.Database = e.DSN(t)
			first := servertest.StartConfig(t, cfg)
			countSwitches := func(inst *servertest.Instance) int {
				var n int
				if err := inst.Server.DB().SQL().QueryRow(`SELECT count(*) FROM audit_log WHERE action = 'audit.chain.keyed'`).Scan(&n); err != nil {
					t.Fatal(err)
				}
				return n
			}
			if n := countSwitches(first); n != 1 {
				t.Fatalf("%d switch records on a new database", n)
			}
			// Forget the switch, as on a database from before keyed links.
			if _, err := first.Server.DB().SQL().Exec(`DELETE FROM meta WHERE key = 'audit.keyed_from'`); err != nil {
				t.Fatal(err)
			}
			first.Server.Close()
			const replicas = 4
			errs := make([]error, replicas)
			var wg sync.WaitGroup
			for i := range errs {
				wg.Add(1)
				go func() {
					defer wg.Done()
					c := cfg
					c.AuditCheckpointFile = filepath.Join(t.TempDir(), "checkpoints")
					s, err := server.New(context.Background(), c, io.Discard)
					if err == nil {
						err = s.Close()
					}
					errs[i] = err
				}()
			}
			wg.Wait()
			for _, err := range errs {
				if err != nil {
					t.Fatalf("start a replica: %v", err)
				}
			}
			if n := countSwitches(servertest.StartConfig(t, cfg)); n != 2 {
				t.Errorf("%d switch records after %d replicas started together, want 2 (the first, and one more)", n, replicas)
			}
		})
	}
}
