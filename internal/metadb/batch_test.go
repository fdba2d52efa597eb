package metadb_test

import (
	"context"
	"sync"
	"testing"

	"github.com/credflow/credflow/internal/metadb"
	"github.com/credflow/credflow/internal/metadb/metadbtest"
)

// TestExecBatched: writes made at once share transactions, each caller
// returns with its own write committed, and a write that fails fails alone.
func TestExecBatched(t *testing.T) {
	for _, e := range metadbtest.Engines(t) {
		t.Run(e.Name, func(t *testing.T) {
			ctx := context.Background()
			db, err := metadb.Open(ctx, e.DSN(t), t.TempDir(), nil)
			if err != nil {
				t.Fatal(err)
			}
			defer db.Close()
			if _, err := db.SQL().ExecContext(ctx, `CREATE TABLE batch_test (id INTEGER PRIMARY KEY, v INTEGER NOT NULL)`); err != nil {
				t.Fatal(err)
			}
			const n = 200
			for i := range n {
				if _, err := db.SQL().ExecContext(ctx, metadb.Rebind(db.Dialect(), `INSERT INTO batch_test (id, v) VALUES ($1, $1)`), i); err != nil {
					t.Fatal(err)
				}
			}
			// write runs every write at once, those with fail(i) setting
			// NULL, which the table refuses, and checks each outcome.
			write := func(round int, fail func(i int) bool) {
				t.Helper()
				errs := make([]error, n)
				var wg sync.WaitGroup
				for i := range n {
					wg.Add(1)
					go func() {
						defer wg.Done()
						if fail(i) {
							errs[i] = metadb.ExecBatched(ctx, db, `UPDATE batch_test SET v = NULL WHERE id = $1`, i)
							return
						}
						errs[i] = metadb.ExecBatched(ctx, db, `UPDATE batch_test SET v = $2 WHERE id = $1`, i, round*n+i)
					}()
				}
				wg.Wait()
				for i := range n {
					var v int
					if err := db.SQL().QueryRowContext(ctx, metadb.Rebind(db.Dialect(), `SELECT v FROM batch_test WHERE id = $1`), i).Scan(&v); err != nil {
						t.Fatal(err)
					}
					switch {
					case fail(i) && (errs[i] == nil || v != (round-1)*n+i):
						t.Errorf("round %d, write %d: err %v, v %d; want its failure alone", round, i, errs[i], v)
					case !fail(i) && (errs[i] != nil || v != round*n+i):
						t.Errorf("round %d, write %d: err %v, v %d; want %d", round, i, errs[i], v, round*n+i)
					}
				}
			}
			before := metadb.Batches(db)
			write(1, func(int) bool { return false })
			if got := metadb.Batches(db) - before; got > n/2 {
				t.Errorf("%d transactions for %d writes made at once: not batched", got, n)
			}
			write(2, func(i int) bool { return i%50 == 7 })
		})
	}
}
