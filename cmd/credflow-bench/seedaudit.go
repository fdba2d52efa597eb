package main

import (
	"cmp"
	"context"
	"encoding/hex"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"os"
	"time"

	"github.com/credflow/credflow/internal/audit"
	"github.com/credflow/credflow/internal/config"
	"github.com/credflow/credflow/internal/metadb"
	"github.com/credflow/credflow/internal/secretstore/builtin"
	"github.com/credflow/credflow/internal/server"
)

// seedAuditCmd appends N resolve records straight to a stopped server's
// database, chained and sealed as the server seals them, then writes a
// checkpoint of the new head, as the server would after checking them.
func seedAuditCmd(args []string) int {
	fs := flag.NewFlagSet("credflow-bench seed-audit", flag.ContinueOnError)
	dataDir := fs.String("data-dir", "credflow-data", "the server's data directory (its master key, checkpoint file, and SQLite database)")
	dsn := fs.String("database", "", "a postgres:// URL instead of SQLite in the data directory")
	n := fs.Int64("n", 1_000_000, "records to append")
	batch := fs.Int("batch", 10_000, "records per transaction")
	conns := fs.Int("connections", 1000, "connections the resolves are spread over")
	actors := fs.Int("actors", 100, "runners the resolves are spread over (each connection has one)")
	checkpoint := fs.Bool("checkpoint", true, "check the new records and write a checkpoint of the new head, as the server does")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if *n < 0 || *conns < 1 || *actors < 1 {
		fmt.Fprintln(os.Stderr, "credflow-bench seed-audit: -n must not be negative, -connections and -actors must be positive")
		return 2
	}
	if err := seedAudit(context.Background(), seedAuditOptions{DataDir: *dataDir, DSN: *dsn, N: *n, Batch: *batch,
		Connections: *conns, Actors: *actors, Checkpoint: *checkpoint}, os.Stdout); err != nil {
		fmt.Fprintf(os.Stderr, "credflow-bench seed-audit: %v\n", err)
		return 1
	}
	return 0
}

// seedChunk is how many records are appended between two checkpoints of
// SQLite's write-ahead log.
const seedChunk = 200_000

type seedAuditOptions struct {
	DataDir, DSN        string
	N                   int64
	Batch               int
	Connections, Actors int
	Checkpoint          bool
	// Chunk is how many records go in between two checkpoints of SQLite's
	// write-ahead log (0: seedChunk).
	Chunk int64
}

func seedAudit(ctx context.Context, o seedAuditOptions, out io.Writer) error {
	cfg := config.Defaults()
	cfg.DataDir, cfg.Database = o.DataDir, o.DSN
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	db, err := metadb.Open(ctx, cfg.Database, cfg.DataDir, quiet)
	if err != nil {
		return err
	}
	defer db.Close()
	key, err := auditKeyOf(ctx, db, cfg.KeyFile())
	if err != nil {
		return err
	}
	if err := db.Audit().UseKey(ctx, key); err != nil {
		return err
	}
	t0 := time.Now()
	next := resolveRecords(o.N, o.Connections, o.Actors)
	var loaded int64
	for loaded < o.N {
		// A chunk at a time: between chunks SQLite's write-ahead log is
		// copied into the database and emptied, or it would grow by
		// gigabytes (every batch touches pages all over the indexes) and
		// slow every read of it.
		chunk := min(o.N-loaded, cmp.Or(o.Chunk, seedChunk))
		var taken int64
		n, err := db.Audit().Load(ctx, o.Batch, func() (metadb.LoadItem, bool) {
			if taken == chunk {
				return metadb.LoadItem{}, false
			}
			taken++
			return next()
		})
		loaded += n
		if err != nil {
			return err
		}
		if db.Dialect() == metadb.SQLite {
			if _, err := db.SQL().ExecContext(ctx, `PRAGMA wal_checkpoint(TRUNCATE)`); err != nil {
				return fmt.Errorf("checkpoint the write-ahead log: %w", err)
			}
		}
	}
	el := time.Since(t0)
	fmt.Fprintf(out, "seeded %d audit records in %.1f s (%.0f records/s)\n", loaded, el.Seconds(), float64(loaded)/el.Seconds())
	if !o.Checkpoint {
		return nil
	}
	cp, err := audit.NewTrail(db.Audit(), key, cfg.CheckpointFile()).NewCheckpointer(audit.CheckpointOptions{
		Log: slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))})
	if err != nil {
		return err
	}
	t0 = time.Now()
	cp.Checkpoint(ctx)
	last, ok, err := db.Audit().Last(ctx)
	if err != nil {
		return err
	}
	written, err := audit.ReadCheckpoints(cfg.CheckpointFile(), key)
	if err != nil {
		return err
	}
	if ok && (written == nil || written.Seq != last.Seq) {
		return fmt.Errorf("no checkpoint was written at record %d (see the log above)", last.Seq)
	}
	fmt.Fprintf(out, "checked the chain and wrote a checkpoint in %.1f s\n", time.Since(t0).Seconds())
	return nil
}

// auditKeyOf opens the built-in store with the master key in path and
// returns its audit key, the one the server seals records with.
func auditKeyOf(ctx context.Context, db *metadb.DB, path string) (*audit.Key, error) {
	master, _, err := builtin.LoadOrCreateKey(path, false)
	if err != nil {
		return nil, fmt.Errorf("master key (start the server once on the data directory first): %w", err)
	}
	defer clear(master)
	st, err := builtin.Open(ctx, db.BuiltinSecrets(), master)
	if err != nil {
		return nil, err
	}
	return server.AuditKey(ctx, st, master)
}

// resolveRecords yields n records shaped like the server's resolve records:
// a runner resolving one of conns connections by name, each connection
// resolved by the runner of its group, mostly successfully, from one of a
// few hosts, each with its own request id. The sequence is the same on
// every run.
func resolveRecords(n int64, conns, actors int) func() (metadb.LoadItem, bool) {
	rng := rand.New(rand.NewPCG(1, 2))
	var i int64
	var rid [12]byte
	return func() (metadb.LoadItem, bool) {
		if i >= n {
			return metadb.LoadItem{}, false
		}
		i++
		c := rng.IntN(conns)
		e := audit.Entry{Actor: fmt.Sprintf("runner-%03d", c%actors), Action: "connection.resolve",
			Resource: fmt.Sprintf("connection:scale-%07d", c), Outcome: audit.Success}
		if rng.IntN(100) == 0 {
			e.Outcome, e.Reason = audit.Denied, "connection not found"
		}
		for j := range rid {
			rid[j] = byte(rng.Uint32())
		}
		return metadb.LoadItem{Entry: e, Request: audit.Request{RequestID: hex.EncodeToString(rid[:]),
			Client: fmt.Sprintf("10.0.%d.%d", c%actors/250, c%actors%250+1)}}, true
	}
}
