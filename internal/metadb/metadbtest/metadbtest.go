// Package metadbtest gives tests a fresh, empty metadata database on every
// engine available: SQLite always, PostgreSQL when CREDFLOW_TEST_POSTGRES_URL
// names a server. Under CI=true PostgreSQL is required, so a missing URL
// fails the test instead of skipping it.
package metadbtest

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"fmt"
	"net/url"
	"os"
	"sync"
	"testing"

	"github.com/credflow/credflow/internal/metadb"
)

// EnvPostgresURL names the variable holding the PostgreSQL test server URL.
const EnvPostgresURL = "CREDFLOW_TEST_POSTGRES_URL"

// Engine is one database engine to run a test against.
type Engine struct {
	Name string
	// DSN returns a connection string to a fresh, empty database ("" for
	// SQLite, which lives in the data directory the test passes to Open).
	DSN func(t testing.TB) string
}

var skipNote sync.Once

// Engines lists the engines to run against.
func Engines(t testing.TB) []Engine {
	t.Helper()
	engines := []Engine{{Name: "sqlite", DSN: func(testing.TB) string { return "" }}}
	base := os.Getenv(EnvPostgresURL)
	if base == "" {
		if os.Getenv("CI") == "true" {
			t.Fatalf("%s is not set, and CI=true requires the PostgreSQL tests to run", EnvPostgresURL)
		}
		skipNote.Do(func() {
			fmt.Fprintf(os.Stderr, "NOTE: PostgreSQL tests skipped: set %s (e.g. postgres://postgres@127.0.0.1:5432/test) to run them\n", EnvPostgresURL)
		})
		return engines
	}
	return append(engines, Engine{Name: "postgres", DSN: func(t testing.TB) string { return freshSchema(t, base) }})
}

// freshSchema creates a schema of its own for one test and returns a URL whose
// connections use it; the schema is dropped when the test ends.
func freshSchema(t testing.TB, base string) string {
	t.Helper()
	admin, err := sql.Open("pgx", base)
	if err != nil {
		t.Fatalf("open postgres: %v", err)
	}
	defer admin.Close()
	var b [6]byte
	_, _ = rand.Read(b[:])
	schema := "t_" + hex.EncodeToString(b[:])
	if _, err := admin.ExecContext(context.Background(), "CREATE SCHEMA "+schema); err != nil {
		t.Fatalf("create schema on %s: %v", EnvPostgresURL, err)
	}
	t.Cleanup(func() {
		a, err := sql.Open("pgx", base)
		if err != nil {
			return
		}
		defer a.Close()
		_, _ = a.ExecContext(context.Background(), "DROP SCHEMA "+schema+" CASCADE")
	})
	u, err := url.Parse(base)
	if err != nil {
		t.Fatalf("parse %s: %v", EnvPostgresURL, err)
	}
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	return u.String()
}

// Open opens a fresh database on engine e, closed when the test ends.
func Open(t testing.TB, e Engine) *metadb.DB {
	t.Helper()
	db, err := metadb.Open(context.Background(), e.DSN(t), t.TempDir(), nil)
	if err != nil {
		t.Fatalf("open %s: %v", e.Name, err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}
