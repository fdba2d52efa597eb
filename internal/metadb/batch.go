package metadb

import (
	"context"
	"database/sql"
	"sync"
)

// writeBatch gathers the run-time writes that callers make on their own,
// outside any transaction (a connection's status, a secret's checked
// state), so that those made at the same moment share one transaction and
// one sync to disk instead of paying for one each: the periodic check of
// every connection makes two per connection. The first caller to find no
// batch being written writes every write queued meanwhile, then those
// queued while it wrote, and so on; each caller returns once its own write
// is committed, as before.
type writeBatch struct {
	mu      sync.Mutex
	pending []*batchedWrite
	writing bool
}

type batchedWrite struct {
	query string
	args  []any
	// done carries the write's outcome, or first the turn to write the
	// queue (lead).
	done chan batchResult
}

type batchResult struct {
	err  error
	lead bool
}

// maxWriteBatch bounds the writes of one transaction.
const maxWriteBatch = 256

// execBatched runs one write (see exec) in a transaction shared with the
// writes that other callers make meanwhile, and returns when it is
// committed. A caller writes the queue until its own write is committed,
// then hands the queue to the next caller waiting in it: nobody writes for
// others for long. A batch that fails is written again one write at a time,
// so that one write's failure is its own.
func (db *DB) execBatched(ctx context.Context, query string, args ...any) error {
	w := &batchedWrite{query: query, args: args, done: make(chan batchResult, 1)}
	b := &db.batch
	b.mu.Lock()
	b.pending = append(b.pending, w)
	if b.writing {
		b.mu.Unlock()
		r := <-w.done
		if !r.lead {
			return r.err
		}
		b.mu.Lock()
	}
	b.writing = true
	for {
		n := min(len(b.pending), maxWriteBatch)
		batch := b.pending[:n:n]
		b.pending = b.pending[n:]
		b.mu.Unlock()
		db.writeBatch(context.WithoutCancel(ctx), batch)
		b.mu.Lock()
		for _, x := range batch {
			if x != w {
				continue
			}
			if len(b.pending) > 0 {
				b.pending[0].done <- batchResult{lead: true}
			} else {
				b.writing = false
			}
			b.mu.Unlock()
			return (<-w.done).err
		}
	}
}

// writeBatch writes batch in one transaction, or, when that fails, each
// write in a transaction of its own, and tells every caller its outcome.
func (db *DB) writeBatch(ctx context.Context, batch []*batchedWrite) {
	db.batches.Add(1)
	err := db.inTxQuiet(ctx, func(tx *sql.Tx) error {
		for _, w := range batch {
			if _, err := db.exec(ctx, tx, w.query, w.args...); err != nil {
				return err
			}
		}
		return nil
	})
	if err == nil || len(batch) == 1 {
		for _, w := range batch {
			w.done <- batchResult{err: err}
		}
		return
	}
	for _, w := range batch {
		db.batches.Add(1)
		_, err := db.exec(ctx, db.sql, w.query, w.args...)
		w.done <- batchResult{err: err}
	}
}
