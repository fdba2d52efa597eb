package metadb

import "github.com/credflow/credflow/internal/audit"

// Migrations exposes the embedded migrations, for tests that build a
// database as an older release left it.
var Migrations = migrations

// Rebind adapts a query written with $N placeholders to dialect d.
func Rebind(d Dialect, query string) string { return (&DB{dialect: d}).q(query) }

// AuditListQuery is the query Audit.List runs for f on db, for tests of
// its plan.
func AuditListQuery(db *DB, f audit.Filter) (string, []any) { return db.listAuditQuery(f) }
