package metadb

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"

	"github.com/credflow/credflow/internal/audit"
)

// auditHeadKey is the meta key holding the chain's last "<seq>:<hash>", so
// that removing records from the end of the chain is detected too.
const auditHeadKey = "audit.head"

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

const headQuery = `SELECT seq, hash FROM audit_log ORDER BY seq DESC LIMIT 1`

// appendRecords chains items onto the audit trail inside tx.
func (db *DB) appendRecords(ctx context.Context, tx *sql.Tx, items []pendingRecord) error {
	if len(items) == 0 {
		return nil
	}
	if db.dialect == Postgres {
		if _, err := tx.ExecContext(ctx, `SELECT pg_advisory_xact_lock($1)`, int64(auditLock)); err != nil {
			return fmt.Errorf("audit: lock chain: %w", err)
		}
	}
	var (
		seq  int64
		prev []byte
	)
	head, err := db.stmtIn(ctx, tx, headQuery)
	if err != nil {
		return fmt.Errorf("audit: read chain head: %w", err)
	}
	err = head.QueryRowContext(ctx).Scan(&seq, &prev)
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return fmt.Errorf("audit: read chain head: %w", err)
	}
	if prev == nil {
		prev = []byte{}
	}
	at := audit.Now()
	stmt, err := db.stmtIn(ctx, tx, `INSERT INTO audit_log (seq, at, actor, action, resource, outcome, reason, request_id, client, prev_hash, hash)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)`)
	if err != nil {
		return fmt.Errorf("audit: append: %w", err)
	}
	var last audit.Record
	for _, it := range items {
		seq++
		r := audit.Record{Seq: seq, Time: at, Entry: it.Entry, RequestID: it.RequestID, Client: it.Client, PrevHash: prev}
		audit.Seal(&r)
		if _, err := stmt.ExecContext(ctx, r.Seq, r.Time, r.Actor, r.Action, r.Resource, r.Outcome, r.Reason, r.RequestID, r.Client, r.PrevHash, r.Hash); err != nil {
			return fmt.Errorf("audit: append: %w", err)
		}
		prev, last = r.Hash, r
	}
	if _, err := db.exec(ctx, tx, `INSERT INTO meta (key, value) VALUES ($1, $2) ON CONFLICT (key) DO UPDATE SET value = excluded.value`,
		auditHeadKey, audit.Head(last)); err != nil {
		return fmt.Errorf("audit: record chain head: %w", err)
	}
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
	if !f.From.IsZero() {
		add("at >= ?", f.From.UTC())
	}
	if !f.To.IsZero() {
		add("at < ?", f.To.UTC())
	}
	args = append(args, f.Limit)
	rows, err := a.db.sql.QueryContext(ctx, a.db.q(`SELECT seq, at, actor, action, resource, outcome, reason, request_id, client, prev_hash, hash
		FROM audit_log WHERE `+strings.Join(where, " AND ")+fmt.Sprintf(` ORDER BY %s LIMIT $%d`, order, len(args))), args...)
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

func scanAudit(rows *sql.Rows) (audit.Record, error) {
	var r audit.Record
	if err := rows.Scan(&r.Seq, &r.Time, &r.Actor, &r.Action, &r.Resource, &r.Outcome, &r.Reason, &r.RequestID, &r.Client, &r.PrevHash, &r.Hash); err != nil {
		return r, fmt.Errorf("read audit record: %w", err)
	}
	r.Time = r.Time.UTC()
	return r, nil
}

// Verify walks the whole chain and checks every link and the recorded head.
func (a Audit) Verify(ctx context.Context) (audit.Verification, error) {
	rows, err := a.db.sql.QueryContext(ctx, `SELECT seq, at, actor, action, resource, outcome, reason, request_id, client, prev_hash, hash
		FROM audit_log ORDER BY seq`)
	if err != nil {
		return audit.Verification{}, fmt.Errorf("verify audit chain: %w", err)
	}
	defer rows.Close()
	v := audit.NewVerifier()
	for rows.Next() {
		r, err := scanAudit(rows)
		if err != nil {
			return audit.Verification{}, err
		}
		if !v.Add(r) {
			break
		}
	}
	if err := rows.Err(); err != nil {
		return audit.Verification{}, fmt.Errorf("verify audit chain: %w", err)
	}
	head, _, err := a.db.metaValue(ctx, auditHeadKey)
	if err != nil {
		return audit.Verification{}, err
	}
	return v.Finish(head), nil
}
