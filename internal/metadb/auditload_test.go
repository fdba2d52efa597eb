package metadb_test

import (
	"context"
	"crypto/rand"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/credflow/credflow/internal/audit"
	"github.com/credflow/credflow/internal/metadb"
	"github.com/credflow/credflow/internal/metadb/metadbtest"
)

func testAuditKey(t testing.TB) *audit.Key {
	t.Helper()
	master := make([]byte, 32)
	_, _ = rand.Read(master)
	k, err := audit.DeriveKey(master)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// resolves yields n resolve-shaped records over conns connections and
// actors runners.
func resolves(n, conns, actors int) func() (metadb.LoadItem, bool) {
	i := 0
	return func() (metadb.LoadItem, bool) {
		if i >= n {
			return metadb.LoadItem{}, false
		}
		i++
		c := (i * 7919) % conns
		return metadb.LoadItem{
			Entry: audit.Entry{Actor: fmt.Sprintf("Runner-%03d", c%actors), Action: "connection.resolve",
				Resource: fmt.Sprintf("connection:c%04d", c), Outcome: audit.Success},
			Request: audit.Request{RequestID: strconv.Itoa(i), Client: "10.0.0.1"},
		}, true
	}
}

// loadedTrail is a database whose chain was keyed, then loaded with n
// resolve records, and its trail with a checkpoint file of its own.
func loadedTrail(t testing.TB, e metadbtest.Engine, n int) (*metadb.DB, *audit.Trail, *audit.Key) {
	t.Helper()
	ctx := context.Background()
	db := metadbtest.Open(t, e)
	key := testAuditKey(t)
	if err := db.Audit().UseKey(ctx, key); err != nil {
		t.Fatal(err)
	}
	got, err := db.Audit().Load(ctx, 700, resolves(n, 50, 7))
	if err != nil || got != int64(n) {
		t.Fatalf("Load = %d, %v; want %d", got, err, n)
	}
	return db, audit.NewTrail(db.Audit(), key, filepath.Join(t.TempDir(), "checkpoints")), key
}

// TestAuditLoad: a loaded chain continues the keyed chain and verifies,
// fully and from a checkpoint, and an edit to a loaded record is found.
func TestAuditLoad(t *testing.T) {
	for _, e := range metadbtest.Engines(t) {
		t.Run(e.Name, func(t *testing.T) {
			ctx := context.Background()
			const n = 2500
			db, trail, _ := loadedTrail(t, e, n)
			v, err := trail.Verify(ctx, audit.VerifyOptions{Full: true})
			if err != nil || !v.OK || v.Records != n+1 || v.KeyedFrom != 1 {
				t.Fatalf("full verify of the loaded chain = %+v, %v; want OK with %d records keyed from 1", v, err, n+1)
			}
			cp, err := trail.NewCheckpointer(audit.CheckpointOptions{})
			if err != nil {
				t.Fatal(err)
			}
			cp.Checkpoint(ctx)
			if v, err := trail.Verify(ctx, audit.VerifyOptions{}); err != nil || !v.OK || v.Full || v.From != n+1 || v.Records != n+1 {
				t.Fatalf("verify from the checkpoint = %+v, %v; want OK from record %d", v, err, n+1)
			}
			if _, err := db.SQL().ExecContext(ctx, metadb.Rebind(db.Dialect(), `UPDATE audit_log SET resource = 'connection:other' WHERE seq = $1`), 1234); err != nil {
				t.Fatal(err)
			}
			v, err = trail.Verify(ctx, audit.VerifyOptions{Full: true})
			if err != nil || v.OK || v.FirstBad != 1234 || v.Finding != audit.FindingEdited {
				t.Fatalf("full verify after an edit = %+v, %v; want record 1234 %s", v, err, audit.FindingEdited)
			}
		})
	}
}

// benchRecords is how many records the verify benchmarks load
// (CREDFLOW_BENCH_AUDIT_RECORDS, default 100,000).
func benchRecords(b *testing.B) int {
	n := 100_000
	if s := os.Getenv("CREDFLOW_BENCH_AUDIT_RECORDS"); s != "" {
		var err error
		if n, err = strconv.Atoi(s); err != nil {
			b.Fatalf("CREDFLOW_BENCH_AUDIT_RECORDS: %v", err)
		}
	}
	return n
}

// BenchmarkAuditVerify measures a full check of a chain of resolve
// records, and reports records checked per second.
func BenchmarkAuditVerify(b *testing.B) {
	for _, e := range metadbtest.Engines(b) {
		b.Run(e.Name, func(b *testing.B) {
			n := benchRecords(b)
			_, trail, _ := loadedTrail(b, e, n)
			ctx := context.Background()
			b.ReportAllocs()
			cpu := cpuTime()
			for b.Loop() {
				v, err := trail.Verify(ctx, audit.VerifyOptions{Full: true})
				if err != nil || !v.OK {
					b.Fatalf("verify = %+v, %v", v, err)
				}
			}
			reportRates(b, n+1, cpu)
		})
	}
}

// BenchmarkAuditWalk is what a full verify's reading costs alone: the
// repository's walk over the same chain, nothing checked.
func BenchmarkAuditWalk(b *testing.B) {
	for _, e := range metadbtest.Engines(b) {
		b.Run(e.Name, func(b *testing.B) {
			n := benchRecords(b)
			db, _, _ := loadedTrail(b, e, n)
			ctx := context.Background()
			b.ReportAllocs()
			cpu := cpuTime()
			for b.Loop() {
				if err := db.Audit().Walk(ctx, 0, 0, func(audit.Record) bool { return true }); err != nil {
					b.Fatal(err)
				}
			}
			reportRates(b, n+1, cpu)
		})
	}
}

// cpuTime is the CPU time this process has used so far.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// reportRates reports records per second of wall time and CPU time used
// per record since cpu: on a machine shared with other work the CPU time
// is the steadier figure.
func reportRates(b *testing.B, records int, cpu time.Duration) {
	total := float64(records) * float64(b.N)
	b.ReportMetric(total/b.Elapsed().Seconds(), "records/s")
	b.ReportMetric(float64(cpuTime()-cpu)/total, "cpu-ns/record")
}

// BenchmarkAuditScan is the plain ceiling of BenchmarkAuditVerify: the
// same rows read with a bare SELECT of the twelve columns into reused
// variables, nothing checked.
func BenchmarkAuditScan(b *testing.B) {
	for _, e := range metadbtest.Engines(b) {
		b.Run(e.Name, func(b *testing.B) {
			n := benchRecords(b)
			db, _, _ := loadedTrail(b, e, n)
			ctx := context.Background()
			b.ReportAllocs()
			cpu := cpuTime()
			for b.Loop() {
				rows, err := db.SQL().QueryContext(ctx, `SELECT seq, at, actor, action, resource, outcome, reason, request_id, client, link, prev_hash, hash FROM audit_log ORDER BY seq`)
				if err != nil {
					b.Fatal(err)
				}
				var (
					seq                                                             int64
					at, actor, action, resource, outcome, reason, rid, client, link any
					prev, hash                                                      []byte
				)
				for rows.Next() {
					if err := rows.Scan(&seq, &at, &actor, &action, &resource, &outcome, &reason, &rid, &client, &link, &prev, &hash); err != nil {
						b.Fatal(err)
					}
				}
				if err := rows.Err(); err != nil {
					b.Fatal(err)
				}
				rows.Close()
			}
			reportRates(b, n+1, cpu)
		})
	}
}

// TestAuditWalkReadsEveryByte: a walk over the chain returns each record
// exactly as reading it alone does, whatever bytes its text holds (a NUL
// included, which SQLite's packed walk must not split on) and whatever
// type SQLite holds its links in, and the chain verifies.
func TestAuditWalkReadsEveryByte(t *testing.T) {
	odd := []LoadItemCase{
		{audit.Entry{Actor: "a\x00b", Action: "x.do", Resource: "r", Outcome: audit.Success}, audit.Request{}},
		{audit.Entry{Actor: "", Action: "", Resource: "", Outcome: ""}, audit.Request{}},
		{audit.Entry{Actor: "runner", Action: "connection.resolve", Resource: "connection:\x00", Outcome: audit.Denied, Reason: "\x00\x00"}, audit.Request{RequestID: "r\x00", Client: "\x00"}},
		{audit.Entry{Actor: "ünï", Action: "x.do", Resource: "connection:\"q\"", Outcome: audit.Failure, Reason: "line\nbreak"}, audit.Request{RequestID: "id", Client: "::1"}},
		{audit.Entry{Actor: "x", Action: "y", Resource: "z", Outcome: audit.Success}, audit.Request{Client: "end\x00"}},
	}
	for _, e := range metadbtest.Engines(t) {
		t.Run(e.Name, func(t *testing.T) {
			ctx := context.Background()
			db := metadbtest.Open(t, e)
			key := testAuditKey(t)
			if err := db.Audit().UseKey(ctx, key); err != nil {
				t.Fatal(err)
			}
			i := 0
			if _, err := db.Audit().Load(ctx, 2, func() (metadb.LoadItem, bool) {
				if i == len(odd) {
					return metadb.LoadItem{}, false
				}
				i++
				it := metadb.LoadItem{Entry: odd[i-1].Entry, Request: odd[i-1].Request}
				if db.Dialect() == metadb.Postgres {
					// PostgreSQL's text holds no NUL.
					for _, f := range []*string{&it.Actor, &it.Resource, &it.Reason, &it.RequestID, &it.Client} {
						*f = strings.ReplaceAll(*f, "\x00", "0")
					}
				}
				return it, true
			}); err != nil {
				t.Fatal(err)
			}
			if db.Dialect() == metadb.SQLite {
				// A link stored as text, not as a blob (SQLite keeps a
				// column's bytes whatever type it is given): the walk,
				// which reads blobs below database/sql, must read it as
				// reading the record alone does.
				if _, err := db.SQL().ExecContext(ctx, `UPDATE audit_log SET prev_hash = CAST(prev_hash AS TEXT) WHERE seq = 3`); err != nil {
					t.Fatal(err)
				}
				if _, err := db.SQL().ExecContext(ctx, `UPDATE audit_log SET hash = CAST(hash AS TEXT) WHERE seq = 5`); err != nil {
					t.Fatal(err)
				}
			}
			var walked []audit.Record
			if err := db.Audit().Walk(ctx, 0, 0, func(r audit.Record) bool { walked = append(walked, r); return true }); err != nil {
				t.Fatal(err)
			}
			if len(walked) != len(odd)+1 {
				t.Fatalf("walked %d records, want %d", len(walked), len(odd)+1)
			}
			for _, w := range walked {
				r, err := db.Audit().Get(ctx, w.Seq)
				if err != nil {
					t.Fatal(err)
				}
				if !reflect.DeepEqual(w, r) {
					t.Errorf("record %d walked as %+v, read alone as %+v", w.Seq, w, r)
				}
			}
			trail := audit.NewTrail(db.Audit(), key, filepath.Join(t.TempDir(), "checkpoints"))
			if v, err := trail.Verify(ctx, audit.VerifyOptions{Full: true}); err != nil || !v.OK {
				t.Fatalf("verify = %+v, %v", v, err)
			}
		})
	}
}

// LoadItemCase is one record of TestAuditWalkReadsEveryByte.
type LoadItemCase struct {
	audit.Entry
	audit.Request
}
