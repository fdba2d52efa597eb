package server_test

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/credflow/credflow/client"
	"github.com/credflow/credflow/internal/metadb"
	"github.com/credflow/credflow/internal/metadb/metadbtest"
	"github.com/credflow/credflow/internal/server/servertest"
)

// BenchmarkAuditGrowth measures how much the database grows per resolve:
// every resolve writes one audit record. It reports bytes per resolve and
// MiB per million resolves (the table with its indexes on PostgreSQL, the
// used pages of the database file on SQLite). Run it with a fixed count,
// e.g. -benchtime 200000x; docs/operations.md records the figures.
func BenchmarkAuditGrowth(b *testing.B) {
	for _, e := range metadbtest.Engines(b) {
		b.Run(e.Name, func(b *testing.B) {
			inst := servertest.Start(b, e)
			ctx := context.Background()
			admin, err := client.New(inst.URL, inst.AdminToken)
			if err != nil {
				b.Fatal(err)
			}
			must := func(_ any, err error) {
				b.Helper()
				if err != nil {
					b.Fatal(err)
				}
			}
			must(admin.CreateRunnerGroup(ctx, "build"))
			must(admin.CreateUser(ctx, client.CreateUserRequest{Name: "build-01", Role: "runner", RunnerGroup: "build"}))
			tok, err := admin.CreateToken(ctx, client.CreateTokenRequest{Name: "machine", User: "build-01"})
			if err != nil {
				b.Fatal(err)
			}
			must(admin.PutSecret(ctx, "local", "sql-password", "growth-secret"))
			must(admin.CreateEnvironmentVariable(ctx, client.CreateEnvironmentVariableRequest{SchemaName: "cf_SQLUser", DisplayName: "SQL User", Type: client.TypeText, Value: "app"}))
			must(admin.CreateEnvironmentVariable(ctx, client.CreateEnvironmentVariableRequest{SchemaName: "cf_SQLPassword", DisplayName: "SQL Password",
				Type: client.TypeSecret, SecretRef: &client.SecretRef{Store: "local", Ref: "sql-password"}}))
			must(admin.CreateCredential(ctx, client.CreateCredentialRequest{Name: "SQL", Username: "cf_SQLUser", Password: "cf_SQLPassword"}))
			must(admin.CreateConnection(ctx, client.CreateConnectionRequest{Name: "sql-build", Credential: "SQL", RunnerGroup: "build"}))
			runner, err := client.New(inst.URL, tok.Value.Reveal())
			if err != nil {
				b.Fatal(err)
			}
			db := inst.Server.DB()
			records := func() int64 {
				var n int64
				if err := db.SQL().QueryRow(`SELECT count(*) FROM audit_log`).Scan(&n); err != nil {
					b.Fatal(err)
				}
				return n
			}
			start, size0 := records(), dbSize(b, db)

			b.ResetTimer()
			var next atomic.Int64
			var wg sync.WaitGroup
			for range 16 {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for next.Add(1) <= int64(b.N) {
						if _, err := runner.Resolve(ctx, "sql-build"); err != nil {
							b.Error(err)
							return
						}
					}
				}()
			}
			wg.Wait()
			b.StopTimer()
			deadline := time.Now().Add(30 * time.Second)
			for records()-start < int64(b.N) && time.Now().Before(deadline) {
				time.Sleep(50 * time.Millisecond)
			}
			added := records() - start
			grown := dbSize(b, db) - size0
			b.ReportMetric(float64(added)/float64(b.N), "records/resolve")
			b.ReportMetric(float64(grown)/float64(b.N), "bytes/resolve")
			b.ReportMetric(float64(grown)/float64(b.N)*1e6/(1<<20), "MiB/1M-resolves")
		})
	}
}

// dbSize is the space the database uses: on SQLite the used pages after a
// full checkpoint, on PostgreSQL the audit table with its indexes.
func dbSize(b *testing.B, db *metadb.DB) int64 {
	b.Helper()
	var n int64
	if db.Dialect() == metadb.SQLite {
		if _, err := db.SQL().Exec(`PRAGMA wal_checkpoint(TRUNCATE)`); err != nil {
			b.Fatal(err)
		}
		if err := db.SQL().QueryRow(`SELECT (SELECT page_count FROM pragma_page_count()) - (SELECT freelist_count FROM pragma_freelist_count())`).Scan(&n); err != nil {
			b.Fatal(err)
		}
		var ps int64
		if err := db.SQL().QueryRow(`PRAGMA page_size`).Scan(&ps); err != nil {
			b.Fatal(err)
		}
		return n * ps
	}
	if _, err := db.SQL().Exec(`VACUUM ANALYZE audit_log`); err != nil {
		b.Fatal(err)
	}
	if err := db.SQL().QueryRow(`SELECT pg_total_relation_size('audit_log')`).Scan(&n); err != nil {
		b.Fatal(err)
	}
	return n
}
