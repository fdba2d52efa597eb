package metadb

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/credflow/credflow/internal/access"
	"github.com/credflow/credflow/internal/audit"
)

// Every write transaction of this process runs on one goroutine, the
// writer, which commits whatever is queued when it comes free as one
// transaction: one commit, one sync of the log, for a whole group of
// writes. Each write runs inside a savepoint of its own, so a write that
// fails is undone alone and reports its own error, while the others of its
// group commit; a write's caller hears back only after the group's commit,
// so nothing is acknowledged before it is durable.
//
// On SQLite this replaces writers that queue on the database lock by
// polling (the busy timeout), which made a write's latency a lottery under
// load; on PostgreSQL, where every audited write serialises on the audit
// chain's lock until its commit, it turns one log flush per write into one
// per group.

// writeQueue bounds the writes waiting for the writer, in each lane; a
// caller past it waits to queue (or gives up with its context).
const writeQueue = 1024

// maxGroup bounds the writes committed together, so that one commit's
// latency stays bounded however deep the queue.
const maxGroup = 256

// urgentBudget bounds the time a group holding urgent writes spends on the
// changes queued behind them before it commits: changes still share the
// urgent writes' commit, but cannot hold it back for long.
const urgentBudget = time.Millisecond

// errClosed answers writes queued when the database is closed.
var errClosed = errors.New("database is closed")

// writeJob is one write transaction's body, queued for the writer.
type writeJob struct {
	ctx    context.Context
	fn     func(tx *sql.Tx) error
	urgent bool
	done   chan error // buffered: the writer never waits for the caller
	// rows, when set, is what fn writes, as rows: the writer may then run
	// the job together with its neighbours' in multi-row statements, and
	// falls back to fn, job by job, when that fails.
	rows *rowWrite
	// state is jobQueued until the writer takes the job to run it
	// (jobTaken) or its caller gives up waiting first (jobWithdrawn): a
	// caller never returns while its fn may still run, since fn writes the
	// caller's variables.
	state atomic.Int32
	// panicked holds what fn panicked with, set before done is sent: the
	// caller panics with it in its own goroutine, where a panic in a write
	// always surfaced, rather than the writer taking the process down.
	panicked any
}

const (
	jobQueued int32 = iota
	jobTaken
	jobWithdrawn
)

// startWriter starts the writer goroutine; stopWriter ends it.
func (db *DB) startWriter() {
	db.writes = make(chan *writeJob, writeQueue)
	db.urgent = make(chan *writeJob, writeQueue)
	ctx, cancel := context.WithCancel(context.Background())
	db.stopWriter, db.writerDone = cancel, make(chan struct{})
	go db.runWriter(ctx)
}

// writeTx runs fn in a transaction on the writer and returns fn's error, or
// the commit's. A caller whose context ends while its write waits gets the
// context's error; a write already committed by then stays committed, as
// any write whose answer is lost on the way back.
func (db *DB) writeTx(ctx context.Context, fn func(tx *sql.Tx) error) error {
	return db.queueWrite(ctx, &writeJob{ctx: ctx, fn: fn, done: make(chan error, 1)})
}

// urgentTx is writeTx for the run-time records a resolve waits on: they go
// ahead of queued changes, and a group of changes in progress is cut short
// for them, so that a resolve never waits behind a burst of writes for more
// than one change, urgentBudget of changes and two commits.
func (db *DB) urgentTx(ctx context.Context, fn func(tx *sql.Tx) error) error {
	return db.queueWrite(ctx, &writeJob{ctx: ctx, fn: fn, urgent: true, done: make(chan error, 1)})
}

// rowWrite is a write that only inserts new rows and appends audit
// records: creating an object with its owner's share.
type rowWrite struct {
	inserts []tableRows // in the order they must go in
	records []pendingRecord
}

// ownedRows is the row write of a new object with its owner: its row,
// its owner's share and its audit record.
func ownedRows(ctx context.Context, object tableRows, owner access.Share, e audit.Entry) *rowWrite {
	return &rowWrite{
		inserts: []tableRows{object, {"shares", shareColumns, [][]any{shareRow(owner)}}},
		records: []pendingRecord{{Entry: e, Request: audit.RequestFrom(ctx)}},
	}
}

// tableRows are rows for one table, each len(cols) values.
type tableRows struct {
	table string
	cols  []string
	rows  [][]any
}

// writeRows runs w as a write of its own, as writeTx does: alone it runs
// fn, which must write exactly w; in a group of such writes the writer
// inserts all their rows with a few multi-row statements, and when that
// fails it runs each one's fn in its own savepoint, so that each caller
// hears its own error. Like inTxQuiet it leaves the caches alone: it is for
// new objects (a fresh ID, its owner's share, its audit record), which no
// token, principal or resolve plan that the caches hold can mention, and a
// miss is never cached. Moving the generation on would make every resolve
// read its plan again while objects are created.
func (db *DB) writeRows(ctx context.Context, w *rowWrite, fn func(tx *sql.Tx) error) error {
	return db.queueWrite(ctx, &writeJob{ctx: ctx, fn: fn, rows: w, done: make(chan error, 1)})
}

// sameShape reports whether a and b insert into the same tables in the
// same order, so that their rows can go in together.
func (a *rowWrite) sameShape(b *rowWrite) bool {
	if len(a.inserts) != len(b.inserts) {
		return false
	}
	for i := range a.inserts {
		if a.inserts[i].table != b.inserts[i].table {
			return false
		}
	}
	return true
}

// maxRunWhileUrgent bounds the row writes run together in a group that
// holds urgent writes (see urgentBudget).
const maxRunWhileUrgent = 8

// takeRun returns the jobs from group[i] on that can run with it as one
// row write: row writes of its shape, changes not urgent, taken from their
// callers here. It stops at the first that is not.
func takeRun(group []*writeJob, i, limit int) []*writeJob {
	first := group[i]
	end := i
	for end < len(group) && end-i < limit {
		j := group[end]
		if j.rows == nil || j.urgent || !first.rows.sameShape(j.rows) {
			break
		}
		if !j.state.CompareAndSwap(jobQueued, jobTaken) && j.state.Load() != jobTaken {
			break // withdrawn: the group's loop passes over it
		}
		if j.ctx.Err() != nil {
			break // the group's loop answers it
		}
		end++
	}
	return group[i:end]
}

// runRows writes the rows and records of run's jobs in multi-row
// statements.
func (db *DB) runRows(ctx context.Context, tx *sql.Tx, run []*writeJob) error {
	for t := range run[0].rows.inserts {
		var rows [][]any
		for _, j := range run {
			rows = append(rows, j.rows.inserts[t].rows...)
		}
		ins := run[0].rows.inserts[t]
		if err := db.insertRows(ctx, tx, ins.table, ins.cols, rows); err != nil {
			return err
		}
	}
	var records []pendingRecord
	for _, j := range run {
		records = append(records, j.rows.records...)
	}
	return db.appendRecords(ctx, tx, records)
}

func (db *DB) queueWrite(ctx context.Context, j *writeJob) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	select {
	case <-db.writerDone:
		return errClosed
	default:
	}
	lane := db.writes
	if j.urgent {
		lane = db.urgent
	}
	select {
	case lane <- j:
	case <-db.writerDone:
		return errClosed
	case <-ctx.Done():
		return ctx.Err()
	}
	answer := func(err error) error {
		if j.panicked != nil {
			panic(j.panicked)
		}
		return err
	}
	select {
	case err := <-j.done:
		return answer(err)
	case <-db.writerDone:
		// Queued as the writer stopped: answered, or never to be.
		select {
		case err := <-j.done:
			return answer(err)
		default:
			return errClosed
		}
	case <-ctx.Done():
		if j.state.CompareAndSwap(jobQueued, jobWithdrawn) {
			return ctx.Err()
		}
		// Taken: it ends soon, its context being done, unless it is
		// committed already; either way its answer is the truth.
		return answer(<-j.done)
	}
}

// runWriter takes what is queued, urgent writes first, commits it as one
// group, and starts over, until ctx ends; writes still queued then are
// refused.
func (db *DB) runWriter(ctx context.Context) {
	defer close(db.writerDone)
	var carry []*writeJob // taken but not yet run
	for {
		var group []*writeJob
		if len(carry) == 0 {
			select {
			case j := <-db.urgent:
				group = append(group, j)
			case j := <-db.writes:
				group = append(group, j)
			case <-ctx.Done():
				db.refuseQueued()
				return
			}
		}
		group = takeAll(db.urgent, group)
		group = append(group, carry...)
		group = takeAll(db.writes, group)
		carry = db.commitGroup(group)
	}
}

// takeAll appends what lane holds to group, up to maxGroup.
func takeAll(lane chan *writeJob, group []*writeJob) []*writeJob {
	for len(group) < maxGroup {
		select {
		case j := <-lane:
			group = append(group, j)
		default:
			return group
		}
	}
	return group
}

// refuseQueued answers every queued write: the writer has stopped.
func (db *DB) refuseQueued() {
	for {
		select {
		case j := <-db.urgent:
			j.done <- errClosed
		case j := <-db.writes:
			j.done <- errClosed
		default:
			return
		}
	}
}

// commitGroup runs the jobs in one transaction and commits it. It returns
// the jobs it did not run, for the next group:
//   - when a job's failure took the whole transaction with it (SQLite rolls
//     back a transaction whose statement is interrupted, a connection can
//     drop), that job fails and the others, whose work went with the
//     transaction, go into a new one;
//   - when an urgent write arrives while the group runs changes, the group
//     is committed at once and the changes not yet run wait for the next;
//     a group holding urgent writes runs changes for urgentBudget at most.
//
// Every round runs or fails at least one job, so the writer moves on.
func (db *DB) commitGroup(group []*writeJob) (rest []*writeJob) {
	ctx := context.Background()
	db.writeGroups.Add(1)
	tx, err := db.sql.BeginTx(ctx, nil)
	if err != nil {
		for _, j := range group {
			j.done <- fmt.Errorf("begin transaction: %w", err)
		}
		return nil
	}
	// A lone write needs no savepoint: its failure rolls back everything.
	alone := len(group) == 1
	sp := spNone
	ran := make([]*writeJob, 0, len(group))
	var (
		failed   []*writeJob
		failures []error
	)
	broken := func(i int, j *writeJob, err error) []*writeJob {
		_ = tx.Rollback()
		db.chainCommitted(tx, false)
		j.done <- err
		db.tell(failed, failures)
		return append(ran, group[i+1:]...)
	}
	start := time.Now()
	urgent := false // the group holds urgent writes
	oneByOne := 0   // group[:oneByOne] run job by job: their run failed
	// savepoint begins the next write (or run of row writes) in the
	// savepoint "write". The one that held the previous write is released
	// as the next is made, in one round trip; the commit releases the last.
	savepoint := func() error {
		var err error
		switch sp {
		case spNone:
			_, err = tx.ExecContext(ctx, `SAVEPOINT write`)
		case spHeld:
			_, err = tx.ExecContext(ctx, `RELEASE SAVEPOINT write; SAVEPOINT write`)
		}
		return err
	}
	for i := 0; i < len(group); i++ {
		j := group[i]
		if !j.urgent && len(ran)+len(failed) > 0 &&
			(urgent && time.Since(start) > urgentBudget || !urgent && len(db.urgent) > 0) {
			rest = group[i:]
			break
		}
		urgent = urgent || j.urgent
		if !j.state.CompareAndSwap(jobQueued, jobTaken) && j.state.Load() != jobTaken {
			continue // withdrawn by its caller
		}
		if err := j.ctx.Err(); err != nil {
			j.done <- err
			continue
		}
		if alone {
			if err := db.runJob(j, tx); err != nil {
				_ = tx.Rollback()
				db.chainCommitted(tx, false)
				j.done <- err
				return nil
			}
			ran = append(ran, j)
			break
		}
		if j.rows != nil && !j.urgent && i >= oneByOne {
			limit := maxGroup
			if urgent {
				limit = maxRunWhileUrgent
			}
			if run := takeRun(group, i, limit); len(run) > 1 {
				if err := savepoint(); err != nil {
					return broken(i, j, fmt.Errorf("begin write: %w", err))
				}
				mark := db.chainMark(tx)
				if db.runRows(ctx, tx, run) == nil {
					db.rowRuns.Add(1)
					sp = spHeld
					ran = append(ran, run...)
					i += len(run) - 1
					continue
				}
				// One of them failed: each runs alone, to hear its own
				// error.
				if _, err := tx.ExecContext(ctx, `ROLLBACK TO SAVEPOINT write`); err != nil {
					return broken(i, j, fmt.Errorf("undo writes run together: %w", err))
				}
				db.chainReset(tx, mark)
				sp = spEmpty
				oneByOne = i + len(run)
			}
		}
		if err := savepoint(); err != nil {
			return broken(i, j, fmt.Errorf("begin write: %w", err))
		}
		mark := db.chainMark(tx)
		jobErr := db.runJob(j, tx)
		if jobErr == nil {
			sp = spHeld
			ran = append(ran, j)
			continue
		}
		// Rolled back to, the savepoint stays, empty, for the next write.
		if _, err := tx.ExecContext(ctx, `ROLLBACK TO SAVEPOINT write`); err != nil {
			return broken(i, j, jobErr)
		}
		db.chainReset(tx, mark)
		sp = spEmpty
		failed = append(failed, j)
		failures = append(failures, jobErr)
	}
	if len(ran) == 0 {
		_ = tx.Rollback()
		db.chainCommitted(tx, false)
	} else {
		if err = db.chainBeforeCommit(ctx, tx); err != nil {
			_ = tx.Rollback()
		} else if err = tx.Commit(); err != nil {
			err = fmt.Errorf("commit: %w", err)
		}
		db.chainCommitted(tx, err == nil)
	}
	for _, j := range ran {
		j.done <- err
	}
	// The failed writes hear back only now, so that a caller who retries
	// (an optimistic writer that lost a race) reads what its group wrote.
	db.tell(failed, failures)
	return rest
}

// The savepoint a group's next write finds.
const (
	spNone  = iota // none: make one
	spHeld         // one holding the previous write: release it, make one
	spEmpty        // one rolled back to, empty: use it
)

// tell answers each failed job with its error.
func (db *DB) tell(failed []*writeJob, failures []error) {
	for i, j := range failed {
		j.done <- failures[i]
	}
}

// runJob runs one job's body in tx. A job whose caller left while it ran is
// undone, as a transaction is whose context ends before its commit.
func (db *DB) runJob(j *writeJob, tx *sql.Tx) (err error) {
	defer func() {
		if p := recover(); p != nil {
			j.panicked = p
			err = errors.New("write panicked")
		}
	}()
	if err := j.fn(tx); err != nil {
		return err
	}
	return j.ctx.Err()
}

// writeExec runs one statement as a write of its own, on the writer: on
// SQLite a statement outside the writer would queue for the database lock
// by polling, behind every group.
func (db *DB) writeExec(ctx context.Context, query string, args ...any) (sql.Result, error) {
	var res sql.Result
	err := db.inTxQuiet(ctx, func(tx *sql.Tx) error {
		var err error
		res, err = db.exec(ctx, tx, query, args...)
		return err
	})
	return res, err
}
