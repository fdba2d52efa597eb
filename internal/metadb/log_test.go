package metadb_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"log/slog"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/credflow/credflow/internal/metadb"
	"github.com/credflow/credflow/internal/metadb/metadbtest"
)

// messages is a slog handler that hands each record's message to a channel.
type messages chan string

func (m messages) Enabled(context.Context, slog.Level) bool { return true }
func (m messages) Handle(_ context.Context, r slog.Record) error {
	select {
	case m <- r.Message:
	default:
	}
	return nil
}
func (m messages) WithAttrs([]slog.Attr) slog.Handler { return m }
func (m messages) WithGroup(string) slog.Handler      { return m }

// TestOpenLogsToItsLogger checks that the trouble the database's background
// goroutine recovers from is reported to the logger given to Open, which
// that goroutine reads without a race (go test -race).
func TestOpenLogsToItsLogger(t *testing.T) {
	for _, e := range metadbtest.Engines(t) {
		t.Run(e.Name, func(t *testing.T) {
			dsn, app := e.DSN(t), ""
			if dsn != "" {
				var b [6]byte
				rand.Read(b[:])
				app = "credflow-log-test-" + hex.EncodeToString(b[:])
				u, err := url.Parse(dsn)
				if err != nil {
					t.Fatal(err)
				}
				q := u.Query()
				q.Set("application_name", app)
				u.RawQuery = q.Encode()
				dsn = u.String()
			}
			got := make(messages, 16)
			db, err := metadb.Open(t.Context(), dsn, t.TempDir(), slog.New(got))
			if err != nil {
				t.Fatalf("Open: %v", err)
			}
			defer db.Close()

			want := "sqlite checkpoint failed"
			if db.Dialect() == metadb.Postgres {
				want = "lost the PostgreSQL change listener"
				// Wait for the listener, then cut its connection.
				deadline := time.Now().Add(10 * time.Second)
				for {
					var n int
					if err := db.SQL().QueryRowContext(t.Context(), `SELECT count(*) FROM (
						SELECT pg_terminate_backend(pid) FROM pg_stat_activity
						WHERE application_name = $1 AND query LIKE 'LISTEN%') t`, app).Scan(&n); err != nil {
						t.Fatalf("terminate the listener: %v", err)
					}
					if n > 0 {
						break
					}
					if time.Now().After(deadline) {
						t.Fatal("the change listener never connected")
					}
					time.Sleep(50 * time.Millisecond)
				}
			} else {
				// Pull the pool from under the checkpointer.
				db.SQL().Close()
			}
			timeout := time.After(10 * time.Second)
			for {
				select {
				case m := <-got:
					if strings.Contains(m, want) {
						return
					}
				case <-timeout:
					t.Fatalf("no %q in the logger given to Open", want)
				}
			}
		})
	}
}
