package metadb

import (
	"context"
	"database/sql"
	"fmt"

	"github.com/credflow/credflow/internal/audit"
)

// LoadItem is one record to load: what happened, and the request it came
// from.
type LoadItem struct {
	audit.Entry
	audit.Request
}

// Load appends the records next yields, batch of them per transaction,
// until next reports no more; it returns how many it appended. It is for
// putting millions of records in a trail at once (the benchmarks seed a
// database so) without a request or a transaction per record: each record
// is chained and sealed by the same code as every append, under the key
// given to UseKey, so the loaded chain verifies like any other.
func (a Audit) Load(ctx context.Context, batch int, next func() (LoadItem, bool)) (int64, error) {
	if batch < 1 {
		batch = 1
	}
	items := make([]pendingRecord, 0, batch)
	var n int64
	for done := false; !done; {
		items = items[:0]
		for len(items) < batch {
			it, ok := next()
			if !ok {
				done = true
				break
			}
			items = append(items, pendingRecord{Entry: it.Entry, Request: it.Request})
		}
		if len(items) == 0 {
			break
		}
		if err := a.db.inTxQuiet(ctx, func(tx *sql.Tx) error { return a.db.appendRecords(ctx, tx, items) }); err != nil {
			return n, fmt.Errorf("load audit records: %w", err)
		}
		n += int64(len(items))
	}
	return n, nil
}
