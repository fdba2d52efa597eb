package metadb

// Migrations exposes the embedded migrations, for tests that build a
// database as an older release left it.
var Migrations = migrations

// Rebind adapts a query written with $N placeholders to dialect d.
func Rebind(d Dialect, query string) string { return (&DB{dialect: d}).q(query) }
