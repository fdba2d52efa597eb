package metadb_test

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/credflow/credflow/internal/metadb"
	"github.com/credflow/credflow/internal/metadb/metadbtest"
)

// TestPlaceholders: a query's $N placeholders become SQLite's plain ?
// only when they are $1, $2, ... in order, each once; otherwise ?N, which
// SQLite reads as $N. PostgreSQL gets the query as written.
func TestPlaceholders(t *testing.T) {
	cases := []struct {
		name, in, sqlite string
	}{
		{"none", `SELECT 1`, `SELECT 1`},
		{"one", `SELECT a FROM t WHERE id = $1`, `SELECT a FROM t WHERE id = ?`},
		{"in order", `INSERT INTO t (a, b, c) VALUES ($1, $2, $3)`, `INSERT INTO t (a, b, c) VALUES (?, ?, ?)`},
		{"past nine", `VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11)`, `VALUES (?,?,?,?,?,?,?,?,?,?,?)`},
		{"used twice", `SELECT a FROM t WHERE b = $1 OR c = $1`, `SELECT a FROM t WHERE b = ?1 OR c = ?1`},
		{"out of order", `UPDATE t SET a = $2 WHERE id = $1`, `UPDATE t SET a = ?2 WHERE id = ?1`},
		{"a gap", `SELECT $1, $3`, `SELECT ?1, ?3`},
		{"not from one", `SELECT $2`, `SELECT ?2`},
		{"a dollar without a number", `SELECT '$x', $1, 'a$'`, `SELECT '$x', ?, 'a$'`},
		{"a dollar at the end", `SELECT $1 || '$'`, `SELECT ? || '$'`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := metadb.Rebind(metadb.SQLite, c.in); got != c.sqlite {
				t.Errorf("SQLite: %q became %q; want %q", c.in, got, c.sqlite)
			}
			if got := metadb.Rebind(metadb.Postgres, c.in); got != c.in {
				t.Errorf("PostgreSQL: %q became %q; want it unchanged", c.in, got)
			}
		})
	}
}

// TestPlaceholdersBind: on both engines, each rewritten form binds the
// values its $N name, plain and numbered.
func TestPlaceholdersBind(t *testing.T) {
	cases := []struct {
		name  string
		order []int // the placeholders' numbers, in the query's order
		want  string
	}{
		{"in order", []int{1, 2, 3}, "a-b-c"},
		{"out of order", []int{3, 1, 2}, "c-a-b"},
		{"used twice", []int{1, 2, 1}, "a-b-a"},
		{"twelve in order", []int{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12}, "a-b-c-d-e-f-g-h-i-j-k-l"},
	}
	for _, e := range metadbtest.Engines(t) {
		t.Run(e.Name, func(t *testing.T) {
			db := metadbtest.Open(t, e)
			for _, c := range cases {
				// SELECT CAST($3 AS TEXT) || '-' || CAST($1 AS TEXT) ...: the
				// cast tells PostgreSQL the parameters' type.
				parts := make([]string, len(c.order))
				var args []any
				for i, n := range c.order {
					parts[i] = fmt.Sprintf("CAST($%d AS TEXT)", n)
					for len(args) < n {
						args = append(args, string(rune('a'+len(args))))
					}
				}
				q := metadb.Rebind(db.Dialect(), "SELECT "+strings.Join(parts, " || '-' || "))
				var got string
				if err := db.SQL().QueryRowContext(context.Background(), q, args...).Scan(&got); err != nil {
					t.Fatalf("%s: %s: %v", c.name, q, err)
				}
				if got != c.want {
					t.Errorf("%s: %s gave %q; want %q", c.name, q, got, c.want)
				}
			}
		})
	}
}
