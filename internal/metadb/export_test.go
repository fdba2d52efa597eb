package metadb

import (
	"context"
	"database/sql"

	"github.com/credflow/credflow/internal/audit"
)

// Migrations exposes the embedded migrations, for tests that build a
// database as an older release left it.
var Migrations = migrations

// Rebind adapts a query written with $N placeholders to dialect d.
func Rebind(d Dialect, query string) string { return (&DB{dialect: d}).q(query) }

// WriteTx runs fn as a write transaction on db's writer.
func WriteTx(db *DB, ctx context.Context, fn func(tx *sql.Tx) error) error {
	return db.writeTx(ctx, fn)
}

// WriteGroups counts the transactions the writer has committed or rolled back.
func WriteGroups(db *DB) int64 { return db.writeGroups.Load() }

// RowRuns counts the runs of row writes committed together.
func RowRuns(db *DB) int64 { return db.rowRuns.Load() }

// WriteQueued counts the writes waiting for the writer.
func WriteQueued(db *DB) int { return len(db.writes) }

// AppendAudit chains entries onto the audit trail inside tx.
func AppendAudit(db *DB, ctx context.Context, tx *sql.Tx, entries ...audit.Entry) error {
	return db.appendAudit(ctx, tx, entries...)
}

// UrgentTx runs fn as an urgent write transaction on db's writer.
func UrgentTx(db *DB, ctx context.Context, fn func(tx *sql.Tx) error) error {
	return db.urgentTx(ctx, fn)
}

// UrgentQueued counts the urgent writes waiting for the writer.
func UrgentQueued(db *DB) int { return len(db.urgent) }

// AuditListQuery is the query Audit.List runs for f on db, for tests of
// its plan.
func AuditListQuery(db *DB, f audit.Filter) (string, []any) { return db.listAuditQuery(f, seqBounds{}) }
