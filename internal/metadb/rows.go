package metadb

import (
	"context"
	"database/sql"
	"fmt"
	"strconv"
	"strings"
	"sync"
)

// maxRowsPerInsert bounds the rows one INSERT carries; the row counts used
// are powers of two below it, so that a table's multi-row statements come
// in a handful of shapes, each prepared once.
const maxRowsPerInsert = 64

// maxParams keeps a statement under SQLite's historical limit of host
// parameters (PostgreSQL allows far more).
const maxParams = 999

// insertRows inserts rows (each a slice of len(cols) values) into table
// inside tx with multi-row INSERT statements. Writing many rows one
// statement at a time spends most of the time on the statement, not the
// row: a bulk import writes 100,000 variables with their shares, audit
// records and solution components.
func (db *DB) insertRows(ctx context.Context, tx *sql.Tx, table string, cols []string, rows [][]any) error {
	per := maxRowsPerInsert
	for per > 1 && per*len(cols) > maxParams {
		per /= 2
	}
	for len(rows) > 0 {
		n := per
		for n > len(rows) {
			n /= 2
		}
		if _, err := db.exec(ctx, tx, insertSQL(table, cols, n), flatten(rows[:n])...); err != nil {
			return err
		}
		rows = rows[n:]
	}
	return nil
}

// insertSQLs caches insertSQL's statements by table and row count: a
// resolve's group commit asks for one, and building it is not free.
var insertSQLs sync.Map // "table/n" -> string

// insertSQL is an INSERT of n rows of cols into table, with $N
// placeholders. A table is always written with the same columns.
func insertSQL(table string, cols []string, n int) string {
	key := table + "/" + strconv.Itoa(n)
	if q, ok := insertSQLs.Load(key); ok {
		return q.(string)
	}
	q := buildInsertSQL(table, cols, n)
	insertSQLs.Store(key, q)
	return q
}

func buildInsertSQL(table string, cols []string, n int) string {
	var b strings.Builder
	fmt.Fprintf(&b, "INSERT INTO %s (%s) VALUES ", table, strings.Join(cols, ", "))
	p := 1
	for i := range n {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteByte('(')
		for j := range cols {
			if j > 0 {
				b.WriteString(", ")
			}
			fmt.Fprintf(&b, "$%d", p)
			p++
		}
		b.WriteByte(')')
	}
	return b.String()
}

func flatten(rows [][]any) []any {
	out := make([]any, 0, len(rows)*len(rows[0]))
	for _, r := range rows {
		out = append(out, r...)
	}
	return out
}
