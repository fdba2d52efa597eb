// Package metadb keeps credflow's metadata (users, tokens, stores,
// environment variables, credentials, the built-in store's ciphertexts) in a
// SQL database: embedded SQLite by default, PostgreSQL for many replicas. It
// opens the database with the settings each engine needs, runs the embedded
// schema migrations, and implements the repository interfaces that the domain
// packages declare. It holds no business rules.
package metadb

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"embed"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net/url"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/stdlib" // also registers the "pgx" driver
	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/credflow/credflow/internal/audit"
)

// Dialect names the SQL engine.
type Dialect string

// The supported engines.
const (
	SQLite   Dialect = "sqlite"
	Postgres Dialect = "postgres"
)

// DB is an open metadata database.
type DB struct {
	sql     *sql.DB
	dialect Dialect
	log     *slog.Logger

	stmts  sync.Map // query -> *sql.Stmt
	nstmts atomic.Int64

	onSecretChange atomic.Value // func(name string)
	onStoreChange  atomic.Value // func(name string)
	onRotation     atomic.Value // func(store, secret string)
	onListen       atomic.Value // func()
	onMasterKey    atomic.Value // func()

	// auditKey seals the audit chain's links (nil: plain SHA-256, when the
	// master key is not available); see Audit.UseKey.
	auditKey atomic.Pointer[audit.Key]
	// auditAppended counts appended audit records; auditWake is signalled
	// after appends (for the checkpoint writer).
	auditAppended atomic.Int64
	auditWake     chan struct{}
	// chains holds, per open write transaction, what it knows of the audit
	// chain (see chainState).
	chains sync.Map // *sql.Tx -> *chainState

	gen       atomic.Uint64
	listening atomic.Bool
	// channel is the PostgreSQL notification channel of this database's
	// schema (see changeChannelOf).
	channel string
	// stopListen ends the background goroutine (the PostgreSQL change
	// listener, or the SQLite checkpointer); listenDone closes when it has.
	stopListen context.CancelFunc
	listenDone chan struct{}

	// writes and urgent queue write transactions for the writer goroutine
	// (see writer.go); stopWriter ends it and writerDone closes when it has.
	writes      chan *writeJob
	urgent      chan *writeJob
	writeGroups atomic.Int64
	// rowRuns counts the runs of row writes committed together.
	rowRuns    atomic.Int64
	stopWriter context.CancelFunc
	writerDone chan struct{}
}

//go:embed migrations
var migrations embed.FS

// sqliteIdleConns is how many SQLite connections stay open between
// requests; each holds a page cache of a few MiB at most.
const sqliteIdleConns = 16

// SQLitePragmas are applied by the driver to every pooled connection when it
// is opened, not once per database.
var SQLitePragmas = []string{
	"journal_mode(WAL)",
	"foreign_keys(1)",
	"synchronous(FULL)",
	"busy_timeout(10000)",
	// Checkpoints run in the background (see checkpoint), not in whichever
	// commit happens to cross the threshold.
	"wal_autocheckpoint(0)",
}

// Open connects to the database named by dsn and brings its schema up to
// date. An empty dsn means SQLite in dataDir/credflow.db; a dsn starting with
// postgres:// or postgresql:// means PostgreSQL. log is where the database
// reports trouble it recovers from (nil: slog's default logger); it is set
// before the background goroutine starts and never changes.
func Open(ctx context.Context, dsn, dataDir string, log *slog.Logger) (*DB, error) {
	if log == nil {
		log = slog.Default()
	}
	var db *DB
	switch {
	case dsn == "":
		path := filepath.Join(dataDir, "credflow.db")
		q := url.Values{}
		for _, p := range SQLitePragmas {
			q.Add("_pragma", p)
		}
		// Writers take the lock when they begin, so that two read-then-write
		// transactions never deadlock on a lock upgrade.
		q.Set("_txlock", "immediate")
		s, err := sql.Open("sqlite", "file:"+path+"?"+q.Encode())
		if err != nil {
			return nil, fmt.Errorf("open sqlite %s: %w", path, err)
		}
		// database/sql keeps two idle connections by default: under a few
		// concurrent requests the others were closed after each use and
		// opened again for the next, each open paying for the pragmas, the
		// schema's parse and its prepared statements anew.
		s.SetMaxIdleConns(sqliteIdleConns)
		db = &DB{sql: s, dialect: SQLite, log: log, auditWake: make(chan struct{}, 1)}
	case strings.HasPrefix(dsn, "postgres://"), strings.HasPrefix(dsn, "postgresql://"):
		s, err := sql.Open("pgx", dsn)
		if err != nil {
			return nil, fmt.Errorf("open postgres: %w", err)
		}
		s.SetMaxOpenConns(20)
		s.SetMaxIdleConns(20)
		s.SetConnMaxIdleTime(5 * time.Minute)
		db = &DB{sql: s, dialect: Postgres, log: log, auditWake: make(chan struct{}, 1)}
	default:
		return nil, fmt.Errorf("database %q: want empty (SQLite in the data directory) or a postgres:// URL", redactDSN(dsn))
	}
	pingCtx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := db.sql.PingContext(pingCtx); err != nil {
		db.sql.Close()
		return nil, fmt.Errorf("connect to %s database: %w", db.dialect, err)
	}
	if db.dialect == Postgres {
		var schema string
		if err := db.sql.QueryRowContext(pingCtx, `SELECT current_schema()`).Scan(&schema); err != nil {
			db.sql.Close()
			return nil, fmt.Errorf("read the PostgreSQL schema: %w", err)
		}
		db.channel = changeChannelOf(schema)
	}
	if err := db.migrate(ctx); err != nil {
		db.sql.Close()
		return nil, err
	}
	db.startWriter()
	lctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	db.stopListen, db.listenDone = cancel, make(chan struct{})
	if db.dialect == Postgres {
		go db.listen(lctx)
	} else {
		go db.checkpoint(lctx)
	}
	return db, nil
}

// checkpointEvery is how often SQLite's write-ahead log is copied back into
// the database file.
const checkpointEvery = time.Second

// checkpoint copies the write-ahead log into the database file now and
// then, without blocking writers, until ctx ends.
func (db *DB) checkpoint(ctx context.Context) {
	defer close(db.listenDone)
	t := time.NewTicker(checkpointEvery)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if _, err := db.sql.ExecContext(ctx, `PRAGMA wal_checkpoint(PASSIVE)`); err != nil && ctx.Err() == nil {
				db.log.Warn("sqlite checkpoint failed", slog.String("error", err.Error()))
			}
		}
	}
}

// redactDSN drops a password from a URL-shaped DSN so it can appear in errors.
func redactDSN(dsn string) string {
	u, err := url.Parse(dsn)
	if err != nil || u.User == nil {
		return dsn
	}
	return u.Redacted()
}

// Close stops the change listener and closes the database.
func (db *DB) Close() error {
	if db.stopListen != nil {
		db.stopListen()
		<-db.listenDone
	}
	if db.stopWriter != nil {
		db.stopWriter()
		<-db.writerDone
	}
	db.stmts.Range(func(_, st any) bool {
		st.(*sql.Stmt).Close()
		return true
	})
	return db.sql.Close()
}

// Dialect reports the engine.
func (db *DB) Dialect() Dialect { return db.dialect }

// SQL exposes the pool, for tests that must reach under the repositories
// (tampering with a row, counting connections).
func (db *DB) SQL() *sql.DB { return db.sql }

// Ping checks that the database answers.
func (db *DB) Ping(ctx context.Context) error {
	if err := db.sql.PingContext(ctx); err != nil {
		return fmt.Errorf("ping %s database: %w", db.dialect, err)
	}
	return nil
}

// q adapts a query written with PostgreSQL's $N placeholders to the engine.
// On SQLite, $1, $2, ... $n written once each and in that order become
// plain ? placeholders, which SQLite numbers the same way; any other use
// (a number twice, or out of order) becomes ?N, which means what $N does.
// The plain form matters for multi-row INSERTs: the driver asks SQLite for
// each parameter's name, and SQLite finds a ?N's name by walking the list
// of every name in the statement, so binding n numbered parameters costs
// n²/2 steps (a 64-row INSERT of 12 columns spent more time there than in
// the insert).
func (db *DB) q(query string) string {
	if db.dialect != SQLite {
		return query
	}
	// placeholder returns the number of the $N at query[i] and where it
	// ends, or ok false when there is none.
	placeholder := func(i int) (n, end int, ok bool) {
		if query[i] != '$' || i+1 == len(query) || query[i+1] < '0' || query[i+1] > '9' {
			return 0, i, false
		}
		for end = i + 1; end < len(query) && query[end] >= '0' && query[end] <= '9'; end++ {
			n = n*10 + int(query[end]-'0')
		}
		return n, end, true
	}
	plain, want := true, 1
	for i := 0; i < len(query) && plain; i++ {
		if n, end, ok := placeholder(i); ok {
			plain, want, i = n == want, want+1, end-1
		}
	}
	b := make([]byte, 0, len(query))
	for i := 0; i < len(query); i++ {
		_, end, ok := placeholder(i)
		switch {
		case !ok:
			b = append(b, query[i])
		case plain:
			b, i = append(b, '?'), end-1
		default:
			b = append(b, '?')
		}
	}
	return string(b)
}

func (db *DB) exec(ctx context.Context, tx queryer, query string, args ...any) (sql.Result, error) {
	switch t := tx.(type) {
	case *sql.Tx:
		if st := db.prepared(ctx, query); st != nil {
			return t.StmtContext(ctx, st).ExecContext(ctx, args...)
		}
	case *sql.DB:
		// A write of its own (a connection's status, a secret's checked
		// state): the periodic check makes one per connection.
		if t == db.sql {
			if st := db.prepared(ctx, query); st != nil {
				return st.ExecContext(ctx, args...)
			}
		}
	}
	return tx.ExecContext(ctx, db.q(query), args...)
}

// stmtIn returns query as a statement of tx, prepared once for the pool
// when the cache has room.
func (db *DB) stmtIn(ctx context.Context, tx *sql.Tx, query string) (*sql.Stmt, error) {
	if st := db.prepared(ctx, query); st != nil {
		return tx.StmtContext(ctx, st), nil
	}
	st, err := tx.PrepareContext(ctx, db.q(query))
	if err != nil {
		return nil, fmt.Errorf("prepare: %w", err)
	}
	return st, nil
}

// maxPrepared bounds the statements kept prepared; queries past it are
// parsed on every use, as before.
const maxPrepared = 256

// prepared returns a statement for query prepared once for the pool (and,
// by database/sql, once per connection that runs it), or nil when the cache
// is full or preparing failed. Parsing is a large part of a small write's
// cost, and the run-time batch writes the same few statements all day.
func (db *DB) prepared(ctx context.Context, query string) *sql.Stmt {
	if st, ok := db.stmts.Load(query); ok {
		return st.(*sql.Stmt)
	}
	if db.nstmts.Load() >= maxPrepared {
		return nil
	}
	st, err := db.sql.PrepareContext(context.WithoutCancel(ctx), db.q(query))
	if err != nil {
		return nil
	}
	if prev, loaded := db.stmts.LoadOrStore(query, st); loaded {
		st.Close()
		return prev.(*sql.Stmt)
	}
	db.nstmts.Add(1)
	return st
}

// queryer is what *sql.DB and *sql.Tx share.
type queryer interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

// inTx runs fn in a transaction, committing when fn returns nil. The
// change may touch what the in-memory caches of authorization data hold,
// so a commit moves the generation on (and, on PostgreSQL, tells the other
// replicas to do the same).
func (db *DB) inTx(ctx context.Context, fn func(tx *sql.Tx) error) error {
	return db.inTxAnnounce(ctx, "", fn)
}

// inTxAnnounce is inTx whose announcement to other replicas carries a
// payload (see OnSecretChange).
func (db *DB) inTxAnnounce(ctx context.Context, payload string, fn func(tx *sql.Tx) error) error {
	err := db.inTxQuiet(ctx, func(tx *sql.Tx) error {
		if err := fn(tx); err != nil {
			return err
		}
		if db.dialect == Postgres {
			if _, err := tx.ExecContext(ctx, `SELECT pg_notify($1, $2)`, db.channel, payload); err != nil {
				return fmt.Errorf("notify replicas: %w", err)
			}
		}
		return nil
	})
	if err == nil {
		db.gen.Add(1)
	}
	return err
}

// inTxQuiet is inTx for writes that change no authorization data (audit
// records, run-time status): they leave the caches alone. Like every write
// transaction it runs on the writer, committed with whatever else is queued.
func (db *DB) inTxQuiet(ctx context.Context, fn func(tx *sql.Tx) error) error {
	return db.writeTx(ctx, fn)
}

// Generation identifies the state of the metadata as far as this process
// knows: it moves on after every change committed here or, on PostgreSQL,
// announced by another replica. ok is false while changes by other
// replicas could go unnoticed (the PostgreSQL listener is not connected);
// caches must not serve then.
func (db *DB) Generation() (gen uint64, ok bool) {
	if db.dialect == Postgres && !db.listening.Load() {
		return 0, false
	}
	return db.gen.Load(), true
}

// secretChangePrefix starts the payload announcing a new version (or the
// deletion) of a built-in store secret; the secret's name follows.
const secretChangePrefix = "builtin-secret:"

// storeChangePrefix starts the payload announcing that a store was added,
// changed or removed; the store's name follows.
const storeChangePrefix = "store:"

// OnStoreChange sets what to do when another replica announces that a
// store was added, changed or removed (register it anew).
func (db *DB) OnStoreChange(fn func(name string)) { db.onStoreChange.Store(fn) }

// OnSecretChange sets what to do when another replica announces that a
// built-in store secret changed (drop its cached values). Replicas on
// SQLite do not exist, so there it is never called.
func (db *DB) OnSecretChange(fn func(name string)) { db.onSecretChange.Store(fn) }

// changeChannel is the PostgreSQL notification channel on which replicas
// of a credflow whose tables are in the schema public announce committed
// changes.
const changeChannel = "credflow_changes"

// changeChannelOf is the notification channel of the credflow whose tables
// are in schema. Notifications reach every session of the database, so
// each schema has its own: credflow instances in other schemas of the same
// database (a staging and a production one, say) do not hear each other's
// changes, while the replicas of one instance do.
func changeChannelOf(schema string) string {
	if schema == "public" || schema == "" {
		return changeChannel
	}
	ch := changeChannel + "." + schema
	if len(ch) > 63 { // PostgreSQL's longest identifier
		sum := sha256.Sum256([]byte(schema))
		ch = changeChannel + "." + hex.EncodeToString(sum[:16])
	}
	return ch
}

// listen follows other replicas' changes until ctx ends, moving the
// generation on for each, and reconnects after failures.
func (db *DB) listen(ctx context.Context) {
	defer close(db.listenDone)
	for ctx.Err() == nil {
		err := db.listenOnce(ctx)
		db.listening.Store(false)
		db.gen.Add(1)
		if ctx.Err() != nil {
			return
		}
		db.log.Warn("lost the PostgreSQL change listener; caches are off until it is back", slog.String("error", err.Error()))
		select {
		case <-ctx.Done():
			return
		case <-time.After(time.Second):
		}
	}
}

func (db *DB) listenOnce(ctx context.Context) error {
	conn, err := db.sql.Conn(ctx)
	if err != nil {
		return err
	}
	defer conn.Close()
	return conn.Raw(func(dc any) error {
		pc := dc.(*stdlib.Conn).Conn()
		if _, err := pc.Exec(ctx, "LISTEN "+pgx.Identifier{db.channel}.Sanitize()); err != nil {
			return err
		}
		// Changes made before LISTEN took effect were not announced.
		db.gen.Add(1)
		db.listening.Store(true)
		db.listened()
		for {
			n, err := pc.WaitForNotification(ctx)
			if err != nil {
				return err
			}
			if db.rotated(n.Payload) {
				continue
			}
			if db.masterKeyChanged(n.Payload) {
				db.gen.Add(1)
				continue
			}
			db.gen.Add(1)
			if name, ok := strings.CutPrefix(n.Payload, secretChangePrefix); ok {
				if fn, _ := db.onSecretChange.Load().(func(string)); fn != nil {
					fn(name)
				}
			}
			if name, ok := strings.CutPrefix(n.Payload, storeChangePrefix); ok {
				if fn, _ := db.onStoreChange.Load().(func(string)); fn != nil {
					fn(name)
				}
			}
		}
	})
}

// isUniqueViolation reports whether err is a unique or primary-key violation.
func isUniqueViolation(err error) bool {
	var se *sqlite.Error
	if errors.As(err, &se) {
		return se.Code() == sqlite3.SQLITE_CONSTRAINT_UNIQUE || se.Code() == sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY
	}
	var pe *pgconn.PgError
	return errors.As(err, &pe) && pe.Code == "23505"
}

// isForeignKeyViolation reports whether err is a foreign-key violation.
func isForeignKeyViolation(err error) bool {
	var se *sqlite.Error
	if errors.As(err, &se) {
		return se.Code() == sqlite3.SQLITE_CONSTRAINT_FOREIGNKEY
	}
	var pe *pgconn.PgError
	return errors.As(err, &pe) && pe.Code == "23503"
}

// migrationLock is the PostgreSQL advisory lock key that serialises
// migrations across replicas starting together.
const migrationLock = 0x63726564666c6f77 // "credflow"

func (db *DB) migrate(ctx context.Context) error {
	dir := "migrations/" + string(db.dialect)
	entries, err := fs.ReadDir(migrations, dir)
	if err != nil {
		return fmt.Errorf("read migrations: %w", err)
	}
	type migration struct {
		version int
		name    string
	}
	var todo []migration
	for _, e := range entries {
		n, err := strconv.Atoi(strings.SplitN(e.Name(), "_", 2)[0])
		if err != nil {
			return fmt.Errorf("migration %s: name must start with its number", e.Name())
		}
		todo = append(todo, migration{n, e.Name()})
	}
	sort.Slice(todo, func(i, j int) bool { return todo[i].version < todo[j].version })

	conn, err := db.sql.Conn(ctx)
	if err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	defer conn.Close()
	if db.dialect == Postgres {
		if _, err := conn.ExecContext(ctx, "SELECT pg_advisory_lock($1)", int64(migrationLock)); err != nil {
			return fmt.Errorf("migrate: take lock: %w", err)
		}
		defer conn.ExecContext(context.WithoutCancel(ctx), "SELECT pg_advisory_unlock($1)", int64(migrationLock)) //nolint:errcheck
	}
	if _, err := conn.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL)`); err != nil {
		return fmt.Errorf("migrate: create schema_migrations: %w", err)
	}
	for _, m := range todo {
		body, err := migrations.ReadFile(dir + "/" + m.name)
		if err != nil {
			return fmt.Errorf("read migration %s: %w", m.name, err)
		}
		tx, err := conn.BeginTx(ctx, nil)
		if err != nil {
			return fmt.Errorf("migration %s: %w", m.name, err)
		}
		var n int
		if err := tx.QueryRowContext(ctx, db.q(`SELECT count(*) FROM schema_migrations WHERE version = $1`), m.version).Scan(&n); err != nil {
			tx.Rollback()
			return fmt.Errorf("migration %s: %w", m.name, err)
		}
		if n > 0 {
			tx.Rollback()
			continue
		}
		if _, err := tx.ExecContext(ctx, string(body)); err != nil {
			tx.Rollback()
			return fmt.Errorf("apply migration %s: %w", m.name, err)
		}
		if _, err := tx.ExecContext(ctx, db.q(`INSERT INTO schema_migrations (version, name) VALUES ($1, $2)`), m.version, m.name); err != nil {
			tx.Rollback()
			return fmt.Errorf("record migration %s: %w", m.name, err)
		}
		if err := tx.Commit(); err != nil {
			return fmt.Errorf("commit migration %s: %w", m.name, err)
		}
	}
	return nil
}
