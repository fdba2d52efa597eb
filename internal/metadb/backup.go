package metadb

import (
	"context"
	"errors"
	"fmt"
	"strings"
)

// ErrNotSQLite: the operation copies or checks an SQLite database file, and
// the database is PostgreSQL (whose own tools, pg_dump and pg_restore, do
// that job).
var ErrNotSQLite = errors.New("metadb: the database is PostgreSQL, not SQLite")

// Snapshot writes a consistent copy of the SQLite database to path, which
// must not exist, while other connections go on reading and writing: VACUUM
// INTO reads one snapshot of the write-ahead log and the database file, and
// the copy holds every transaction committed before it started and none
// after. The copy is a plain database file without a write-ahead log.
func (db *DB) Snapshot(ctx context.Context, path string) error {
	if db.dialect != SQLite {
		return fmt.Errorf("snapshot: %w", ErrNotSQLite)
	}
	if _, err := db.sql.ExecContext(ctx, `VACUUM INTO ?`, path); err != nil {
		return fmt.Errorf("snapshot sqlite database: %w", err)
	}
	return nil
}

// IntegrityCheck runs SQLite's PRAGMA integrity_check and foreign_key_check
// and returns what they found (nothing when the file is sound).
func (db *DB) IntegrityCheck(ctx context.Context) ([]string, error) {
	if db.dialect != SQLite {
		return nil, fmt.Errorf("integrity check: %w", ErrNotSQLite)
	}
	rows, err := db.sql.QueryContext(ctx, `PRAGMA integrity_check`)
	if err != nil {
		return nil, fmt.Errorf("integrity check: %w", err)
	}
	var found []string
	for rows.Next() {
		var s string
		if err := rows.Scan(&s); err != nil {
			rows.Close()
			return nil, fmt.Errorf("integrity check: %w", err)
		}
		if s != "ok" {
			found = append(found, s)
		}
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("integrity check: %w", err)
	}
	fk, err := db.sql.QueryContext(ctx, `PRAGMA foreign_key_check`)
	if err != nil {
		return nil, fmt.Errorf("foreign key check: %w", err)
	}
	defer fk.Close()
	cols, _ := fk.Columns()
	for fk.Next() {
		vals := make([]any, len(cols))
		ptrs := make([]any, len(cols))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		if err := fk.Scan(ptrs...); err != nil {
			return nil, fmt.Errorf("foreign key check: %w", err)
		}
		parts := make([]string, len(vals))
		for i, v := range vals {
			parts[i] = fmt.Sprint(v)
		}
		found = append(found, "foreign key violation: "+strings.Join(parts, " "))
	}
	if err := fk.Err(); err != nil {
		return nil, fmt.Errorf("foreign key check: %w", err)
	}
	return found, nil
}
