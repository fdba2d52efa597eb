package metadb

import "context"

// Migrations exposes the embedded migrations, for tests that build a
// database as an older release left it.
var Migrations = migrations

// Rebind adapts a query written with $N placeholders to dialect d.
func Rebind(d Dialect, query string) string { return (&DB{dialect: d}).q(query) }

// ExecBatched exposes execBatched.
func ExecBatched(ctx context.Context, db *DB, query string, args ...any) error {
	return db.execBatched(ctx, query, args...)
}

// Batches counts the transactions execBatched wrote.
func Batches(db *DB) int64 { return db.batches.Load() }
