package metadb

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/credflow/credflow/internal/audit"
)

// Meta keys about the audit chain.
const (
	// auditHeadKey holds the chain's last "<seq>:<hash>", so that removing
	// records from the end of the chain is detected too.
	auditHeadKey = "audit.head"
	// auditKeyedFromKey holds the sequence number of the record that
	// switched the chain to keyed links.
	auditKeyedFromKey = "audit.keyed_from"
	// auditCheckpointedKey holds the sequence number of the newest
	// checkpoint written to a checkpoint file.
	auditCheckpointedKey = "audit.checkpointed"
	// auditArchivedKey holds the sealed anchor (JSON) of the last record
	// moved out to an archive.
	auditArchivedKey = "audit.archived"
)

// auditLock is the PostgreSQL advisory lock that serialises appends to the
// chain; SQLite's write transactions are serial already.
const auditLock = 0x6175646974 // "audit"

// appendAudit adds entries to the chain inside tx, the transaction of the
// change they describe, stamped with ctx's request.
func (db *DB) appendAudit(ctx context.Context, tx *sql.Tx, entries ...audit.Entry) error {
	req := audit.RequestFrom(ctx)
	items := make([]pendingRecord, len(entries))
	for i, e := range entries {
		items[i] = pendingRecord{Entry: e, Request: req}
	}
	return db.appendRecords(ctx, tx, items)
}

// pendingRecord is an entry with the request it came from.
type pendingRecord struct {
	audit.Entry
	audit.Request
}

const headQuery = `SELECT seq, hash, at FROM audit_log ORDER BY seq DESC LIMIT 1`

// auditColumns are the columns an append writes.
var auditAppendColumns = []string{"seq", "at", "actor", "action", "resource", "outcome", "reason", "request_id", "client", "link", "prev_hash", "hash"}

// chainState is what one write transaction knows of the audit chain. The
// writer commits many writes in one transaction, and each appends its
// records: the head read by the first append serves the others, the
// PostgreSQL lock is taken once, and the head is recorded in meta once,
// before the commit (see chainBeforeCommit). The writer saves and restores
// it around each write's savepoint.
type chainState struct {
	appended int64 // records appended in this transaction
	locked   bool  // the PostgreSQL chain lock is held
	known    bool  // seq and prev are the chain's head as tx sees it
	seq      int64
	prev     []byte
	at       time.Time // the time of the chain's last record
	head     string    // audit.Head of the last record appended; "" if none
	// rows are the records appended and not yet inserted: a group's
	// records go in together, in multi-row statements, before its commit
	// (or before anything in the transaction reads the table).
	rows [][]any
}

// chain returns tx's chain state, made on first use.
func (db *DB) chain(tx *sql.Tx) *chainState {
	st, _ := db.chains.LoadOrStore(tx, &chainState{})
	return st.(*chainState)
}

// flushChain inserts the records tx appended and has not inserted yet; a
// write that reads the audit table calls it first.
func (db *DB) flushChain(ctx context.Context, tx *sql.Tx) error {
	st := db.chain(tx)
	if len(st.rows) == 0 {
		return nil
	}
	if err := db.insertRows(ctx, tx, "audit_log", auditAppendColumns, st.rows); err != nil {
		return fmt.Errorf("audit: append: %w", err)
	}
	st.rows = nil
	return nil
}

// appendRecords chains items onto the audit trail inside tx.
func (db *DB) appendRecords(ctx context.Context, tx *sql.Tx, items []pendingRecord) error {
	if len(items) == 0 {
		return nil
	}
	st := db.chain(tx)
	if db.dialect == Postgres && !st.locked {
		if _, err := tx.ExecContext(ctx, `SELECT pg_advisory_xact_lock($1)`, int64(auditLock)); err != nil {
			return fmt.Errorf("audit: lock chain: %w", err)
		}
		st.locked = true
	}
	if !st.known {
		head, err := db.stmtIn(ctx, tx, headQuery)
		if err != nil {
			return fmt.Errorf("audit: read chain head: %w", err)
		}
		var (
			seq  int64
			prev []byte
			last sql.NullTime
		)
		err = head.QueryRowContext(ctx).Scan(&seq, &prev, &last)
		if err != nil && !errors.Is(err, sql.ErrNoRows) {
			return fmt.Errorf("audit: read chain head: %w", err)
		}
		if prev == nil {
			prev = []byte{}
		}
		st.seq, st.prev, st.at, st.known = seq, prev, last.Time.UTC(), true
	}
	// Times never go back along the chain, even when the clock does: a
	// filter by time finds its range of sequence numbers by a binary
	// search (see seqFrom).
	at := audit.Now()
	if at.Before(st.at) {
		at = st.at
	}
	key := db.auditKey.Load()
	seq, prev := st.seq, st.prev
	var last audit.Record
	rows := st.rows
	for _, it := range items {
		seq++
		r := audit.Record{Seq: seq, Time: at, Entry: it.Entry, RequestID: it.RequestID, Client: it.Client, PrevHash: prev}
		audit.Seal(&r, key)
		rows = append(rows, []any{r.Seq, r.Time, r.Actor, r.Action, r.Resource, r.Outcome, r.Reason, r.RequestID, r.Client, r.Link, r.PrevHash, r.Hash})
		prev, last = r.Hash, r
	}
	st.seq, st.prev, st.at, st.head, st.rows = seq, prev, at, audit.Head(last), rows
	st.appended += int64(len(items))
	return nil
}

// chainBeforeCommit records the chain's head in meta, once per
// transaction, so that removing records from the end of the chain is
// detected too.
func (db *DB) chainBeforeCommit(ctx context.Context, tx *sql.Tx) error {
	st, ok := db.chains.Load(tx)
	if !ok || st.(*chainState).head == "" {
		return nil
	}
	if err := db.flushChain(ctx, tx); err != nil {
		return err
	}
	if err := db.setMeta(ctx, tx, auditHeadKey, st.(*chainState).head); err != nil {
		return fmt.Errorf("audit: record chain head: %w", err)
	}
	return nil
}

// chainCommitted counts the records tx appended, now that it committed (or
// forgets them, when it did not), and wakes the checkpoint writer, which
// finds the records once they are committed.
func (db *DB) chainCommitted(tx *sql.Tx, committed bool) {
	st, ok := db.chains.LoadAndDelete(tx)
	if !ok || !committed || st.(*chainState).appended == 0 {
		return
	}
	db.auditAppended.Add(st.(*chainState).appended)
	select {
	case db.auditWake <- struct{}{}:
	default:
	}
}

// chainMark saves tx's chain state before one write of a group, and
// chainReset goes back to it when that write is undone by its savepoint.
func (db *DB) chainMark(tx *sql.Tx) chainState { return *db.chain(tx) }

func (db *DB) chainReset(tx *sql.Tx, mark chainState) { *db.chain(tx) = mark }

// setMeta sets key to value in the meta table inside q.
func (db *DB) setMeta(ctx context.Context, q queryer, key, value string) error {
	_, err := db.exec(ctx, q, `INSERT INTO meta (key, value) VALUES ($1, $2) ON CONFLICT (key) DO UPDATE SET value = excluded.value`, key, value)
	return err
}

// UseKey makes every record appended from now on linked with an HMAC under
// key. The first time a database's chain gets a key, the switch is recorded
// as a record of its own (the first keyed one, action audit.SwitchAction),
// and its sequence number is kept in meta, so that the plain links before it
// stay verifiable and a plain link after it is not accepted.
func (a Audit) UseKey(ctx context.Context, key *audit.Key) error {
	db := a.db
	err := db.inTxQuiet(ctx, func(tx *sql.Tx) error {
		if db.dialect == Postgres {
			if _, err := tx.ExecContext(ctx, `SELECT pg_advisory_xact_lock($1)`, int64(auditLock)); err != nil {
				return fmt.Errorf("audit: lock chain: %w", err)
			}
		}
		var v string
		err := tx.QueryRowContext(ctx, db.q(`SELECT value FROM meta WHERE key = $1`), auditKeyedFromKey).Scan(&v)
		if err == nil {
			return nil
		}
		if !errors.Is(err, sql.ErrNoRows) {
			return fmt.Errorf("audit: read chain state: %w", err)
		}
		if err := db.flushChain(ctx, tx); err != nil {
			return err
		}
		var before int64
		if err := tx.QueryRowContext(ctx, `SELECT count(*) FROM audit_log`).Scan(&before); err != nil {
			return fmt.Errorf("audit: count records: %w", err)
		}
		db.auditKey.Store(key)
		reason := "records from here on are linked with HMAC-SHA-256 under a key derived from the master key"
		if before > 0 {
			reason += fmt.Sprintf("; the %d records before this one keep their plain SHA-256 links", before)
		}
		if err := db.appendRecords(ctx, tx, []pendingRecord{{Entry: audit.Entry{Actor: "system", Action: audit.SwitchAction,
			Resource: "audit", Outcome: audit.Success, Reason: reason}}}); err != nil {
			return err
		}
		return db.setMeta(ctx, tx, auditKeyedFromKey, strconv.FormatInt(db.chain(tx).seq, 10))
	})
	if err != nil {
		db.auditKey.Store(nil)
		return err
	}
	db.auditKey.Store(key)
	return nil
}

// Audit reads and records the audit trail.
type Audit struct{ db *DB }

// Audit returns the audit trail.
func (db *DB) Audit() Audit { return Audit{db} }

// Record appends entries in a transaction of their own, for events that
// change nothing else (a denied request, a failed sign-in).
func (a Audit) Record(ctx context.Context, entries ...audit.Entry) error {
	return a.db.inTxQuiet(ctx, func(tx *sql.Tx) error { return a.db.appendAudit(ctx, tx, entries...) })
}

// List returns records matching f in sequence order (or newest first).
func (a Audit) List(ctx context.Context, f audit.Filter) ([]audit.Record, error) {
	var b seqBounds
	var err error
	if !f.From.IsZero() {
		if b.from, _, err = a.seqFrom(ctx, f.From); err != nil {
			return nil, err
		}
	}
	if !f.To.IsZero() {
		if b.to, _, err = a.seqFrom(ctx, f.To); err != nil {
			return nil, err
		}
	}
	q, args := a.db.listAuditQuery(f, b)
	rows, err := a.db.sql.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("list audit records: %w", err)
	}
	defer rows.Close()
	var out []audit.Record
	for rows.Next() {
		r, err := scanAudit(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, r)
	}
	return out, rows.Err()
}

// seqBounds are the sequence numbers a filter by time stands for: from
// the first record at or after f.From, to before the first at or after
// f.To (0: no bound).
type seqBounds struct{ from, to int64 }

// seqFrom returns the sequence number of the first record at or after t,
// or one past the last record when none is, and the last record's (0 for
// an empty log). The chain's times do not go back along its sequence
// numbers (appendRecords), so a binary search finds it with a few point
// reads, at any size of the log.
func (a Audit) seqFrom(ctx context.Context, t time.Time) (from, last int64, err error) {
	var lo, hi sql.NullInt64
	if err := a.db.queryRow(ctx, `SELECT min(seq), max(seq) FROM audit_log`).Scan(&lo, &hi); err != nil {
		return 0, 0, fmt.Errorf("audit: find records by time: %w", err)
	}
	if !lo.Valid {
		return 1, 0, nil
	}
	// The smallest n in [lo, hi+1] such that the first record at or
	// after n is at or after t (hi+1 stands for no such record).
	l, h := lo.Int64, hi.Int64+1
	for l < h {
		mid := l + (h-l)/2
		var at time.Time
		err := a.db.queryRow(ctx, `SELECT at FROM audit_log WHERE seq >= $1 ORDER BY seq LIMIT 1`, mid).Scan(&at)
		if err != nil && !errors.Is(err, sql.ErrNoRows) {
			return 0, 0, fmt.Errorf("audit: find records by time: %w", err)
		}
		if err == nil && at.Before(t) {
			l = mid + 1
		} else {
			h = mid
		}
	}
	return l, hi.Int64, nil
}

// listAuditQuery is List's query, with b the sequence numbers of its time
// bounds. A filter by resource or by actor is answered from its index
// (migration 0014), walked in sequence order from the cursor, so that a
// page costs the same at any size of the log; a filter by time is a range
// of sequence numbers.
func (db *DB) listAuditQuery(f audit.Filter, b seqBounds) (string, []any) {
	var (
		where []string
		args  []any
	)
	add := func(cond string, v any) {
		args = append(args, v)
		where = append(where, strings.ReplaceAll(cond, "?", fmt.Sprintf("$%d", len(args))))
	}
	order := "seq"
	switch {
	case f.Newest && f.BeforeSeq > 0:
		add("seq < ?", f.BeforeSeq)
		order = "seq DESC"
	case f.Newest:
		add("seq > ?", 0)
		order = "seq DESC"
	default:
		add("seq > ?", f.AfterSeq)
	}
	if f.Actor != "" {
		add("lower(actor) = lower(?)", f.Actor)
	}
	if f.Action != "" {
		add("action = ?", f.Action)
	}
	if f.Resource != "" {
		add("resource = ?", f.Resource)
	}
	if b.from > 0 {
		add("seq >= ?", b.from)
	}
	if b.to > 0 {
		add("seq < ?", b.to)
	}
	args = append(args, f.Limit)
	return db.q(`SELECT ` + auditColumns + ` FROM audit_log WHERE ` + strings.Join(where, " AND ") +
		fmt.Sprintf(` ORDER BY %s LIMIT $%d`, order, len(args))), args
}

// auditColumns are the columns scanAudit reads, in its order.
const auditColumns = `seq, at, actor, action, resource, outcome, reason, request_id, client, link, prev_hash, hash`

type scanner interface{ Scan(dest ...any) error }

func scanAudit(rows scanner) (audit.Record, error) {
	var r audit.Record
	if err := rows.Scan(&r.Seq, &r.Time, &r.Actor, &r.Action, &r.Resource, &r.Outcome, &r.Reason, &r.RequestID, &r.Client, &r.Link, &r.PrevHash, &r.Hash); err != nil {
		return r, fmt.Errorf("read audit record: %w", err)
	}
	r.Time = r.Time.UTC()
	return r, nil
}

var _ audit.Repository = Audit{}

// Get implements audit.Repository.
func (a Audit) Get(ctx context.Context, seq int64) (audit.Record, error) {
	r, err := scanAudit(a.db.sql.QueryRowContext(ctx, a.db.q(`SELECT `+auditColumns+` FROM audit_log WHERE seq = $1`), seq))
	if errors.Is(err, sql.ErrNoRows) {
		return r, fmt.Errorf("audit record %d: %w", seq, audit.ErrNotFound)
	}
	return r, err
}

// Last implements audit.Repository.
func (a Audit) Last(ctx context.Context) (audit.Record, bool, error) {
	r, err := scanAudit(a.db.sql.QueryRowContext(ctx, `SELECT `+auditColumns+` FROM audit_log ORDER BY seq DESC LIMIT 1`))
	if errors.Is(err, sql.ErrNoRows) {
		return r, false, nil
	}
	return r, err == nil, err
}

// Walk implements audit.Repository.
func (a Audit) Walk(ctx context.Context, after, upTo int64, fn func(audit.Record) bool) error {
	cols := auditColumns
	if a.db.dialect == SQLite {
		cols = packedAuditColumns
	}
	q, args := `SELECT `+cols+` FROM audit_log WHERE seq > $1 ORDER BY seq`, []any{after}
	if upTo > 0 {
		q, args = `SELECT `+cols+` FROM audit_log WHERE seq > $1 AND seq <= $2 ORDER BY seq`, []any{after, upTo}
	}
	if a.db.dialect == SQLite {
		return a.walkPacked(ctx, a.db.q(q), args, fn)
	}
	rows, err := a.db.sql.QueryContext(ctx, q, args...)
	if err != nil {
		return fmt.Errorf("walk audit chain: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		r, err := scanAudit(rows)
		if err != nil {
			return err
		}
		if !fn(r) {
			return nil
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("walk audit chain: %w", err)
	}
	return nil
}

// Count implements audit.Repository.
func (a Audit) Count(ctx context.Context) (int64, error) {
	var n int64
	if err := a.db.sql.QueryRowContext(ctx, `SELECT count(*) FROM audit_log`).Scan(&n); err != nil {
		return 0, fmt.Errorf("count audit records: %w", err)
	}
	return n, nil
}

// State implements audit.Repository.
func (a Audit) State(ctx context.Context) (audit.State, error) {
	var st audit.State
	head, _, err := a.db.metaValue(ctx, auditHeadKey)
	if err != nil {
		return st, err
	}
	st.Head = head
	archived, ok, err := a.db.metaValue(ctx, auditArchivedKey)
	if err != nil {
		return st, err
	}
	if ok {
		st.Archived = new(audit.Checkpoint)
		if err := json.Unmarshal([]byte(archived), st.Archived); err != nil {
			return st, fmt.Errorf("read meta %s: %w", auditArchivedKey, err)
		}
	}
	for _, m := range []struct {
		key string
		dst *int64
	}{{auditKeyedFromKey, &st.KeyedFrom}, {auditCheckpointedKey, &st.Checkpointed}} {
		v, ok, err := a.db.metaValue(ctx, m.key)
		if err != nil {
			return st, err
		}
		if ok {
			if *m.dst, err = strconv.ParseInt(v, 10, 64); err != nil {
				return st, fmt.Errorf("read meta %s: not a number", m.key)
			}
		}
	}
	return st, nil
}

// SetCheckpointed implements audit.Repository.
func (a Audit) SetCheckpointed(ctx context.Context, seq int64) error {
	if err := a.db.setMeta(ctx, a.db.sql, auditCheckpointedKey, strconv.FormatInt(seq, 10)); err != nil {
		return fmt.Errorf("record audit checkpoint: %w", err)
	}
	return nil
}

// Appended counts the records this process appended; Wake is signalled
// after appends. Together they tell the checkpoint writer when Every
// records went by, without a query per record.
func (a Audit) Appended() int64 { return a.db.auditAppended.Load() }

// Wake is signalled (without blocking) after records are appended.
func (a Audit) Wake() <-chan struct{} { return a.db.auditWake }

var _ audit.Archiver = Audit{}

// ArchiveBound implements audit.Archiver.
func (a Audit) ArchiveBound(ctx context.Context, before time.Time) (int64, error) {
	first, last, err := a.seqFrom(ctx, before)
	if err != nil {
		return 0, fmt.Errorf("find audit records to archive: %w", err)
	}
	// The newest record stays, so that the next one has a record to link to.
	return max(min(last-1, first-1), 0), nil
}

// RemoveArchived implements audit.Archiver.
func (a Audit) RemoveArchived(ctx context.Context, end audit.Checkpoint, e audit.Entry) (int64, error) {
	db := a.db
	var removed int64
	err := db.inTxQuiet(ctx, func(tx *sql.Tx) error {
		if db.dialect == Postgres {
			if _, err := tx.ExecContext(ctx, `SELECT pg_advisory_xact_lock($1)`, int64(auditLock)); err != nil {
				return fmt.Errorf("audit: lock chain: %w", err)
			}
		}
		var cur string
		err := tx.QueryRowContext(ctx, db.q(`SELECT value FROM meta WHERE key = $1`), auditArchivedKey).Scan(&cur)
		switch {
		case errors.Is(err, sql.ErrNoRows):
		case err != nil:
			return fmt.Errorf("audit: read archived anchor: %w", err)
		default:
			var prev audit.Checkpoint
			if err := json.Unmarshal([]byte(cur), &prev); err != nil {
				return fmt.Errorf("audit: read archived anchor: %w", err)
			}
			if prev.Seq >= end.Seq {
				return fmt.Errorf("audit: records up to %d are archived already, up to %d: %w", end.Seq, prev.Seq, audit.ErrArchiveStale)
			}
		}
		if err := db.flushChain(ctx, tx); err != nil {
			return err
		}
		var hash []byte
		err = tx.QueryRowContext(ctx, db.q(`SELECT hash FROM audit_log WHERE seq = $1`), end.Seq).Scan(&hash)
		if errors.Is(err, sql.ErrNoRows) || (err == nil && !bytes.Equal(hash, end.HeadBytes())) {
			return fmt.Errorf("audit: the archive ends at record %d, which the database does not hold as archived: %w", end.Seq, audit.ErrArchiveInvalid)
		}
		if err != nil {
			return fmt.Errorf("audit: read archived record: %w", err)
		}
		res, err := db.exec(ctx, tx, `DELETE FROM audit_log WHERE seq <= $1`, end.Seq)
		if err != nil {
			return fmt.Errorf("audit: remove archived records: %w", err)
		}
		if removed, err = res.RowsAffected(); err != nil {
			return fmt.Errorf("audit: remove archived records: %w", err)
		}
		anchor, err := json.Marshal(end)
		if err != nil {
			return fmt.Errorf("audit: record archived anchor: %w", err)
		}
		if err := db.setMeta(ctx, tx, auditArchivedKey, string(anchor)); err != nil {
			return fmt.Errorf("audit: record archived anchor: %w", err)
		}
		return db.appendAudit(ctx, tx, e)
	})
	return removed, err
}
