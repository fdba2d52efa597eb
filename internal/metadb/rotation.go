package metadb

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/credflow/credflow/internal/rotation"
)

// rotationPrefix starts the payload announcing that a secret of a store
// changed (an event, a notification or a poll found a new version); a JSON
// object {"store","secret","at"} follows, secret "" meaning every secret and
// at the change's time in microseconds since the epoch.
const rotationPrefix = "rotated:"

type rotationPayload struct {
	Store  string `json:"store"`
	Secret string `json:"secret"`
	At     int64  `json:"at,omitempty"`
}

// AnnounceSecretChange tells the other replicas to drop the cached values
// of a store's secret (every secret of it when secret is ""), and when
// credflow learnt of the change. It changes no metadata, so it moves no
// generation. On SQLite there are no other replicas and it does nothing.
func (db *DB) AnnounceSecretChange(ctx context.Context, store, secret string, at time.Time) error {
	if db.dialect != Postgres {
		return nil
	}
	b, err := json.Marshal(rotationPayload{Store: store, Secret: secret, At: at.UnixMicro()})
	if err != nil {
		return err
	}
	if _, err := db.sql.ExecContext(ctx, `SELECT pg_notify($1, $2)`, db.channel, rotationPrefix+string(b)); err != nil {
		return fmt.Errorf("notify replicas: %w", err)
	}
	return nil
}

// OnStoreSecretChange sets what to do when another replica announces that a
// store's secret changed (secret "" for all of the store's) and when it
// learnt of it (the time of the announcement's arrival if it did not say).
func (db *DB) OnStoreSecretChange(fn func(store, secret string, at time.Time)) {
	db.onRotation.Store(fn)
}

// OnListen sets what to do each time the change listener (re)connects:
// announcements made while it was away were missed, so whatever was cached
// from them must go.
func (db *DB) OnListen(fn func()) { db.onListen.Store(fn) }

// rotated handles a rotation announcement; it reports whether payload was
// one.
func (db *DB) rotated(payload string) bool {
	rest, ok := strings.CutPrefix(payload, rotationPrefix)
	if !ok {
		return false
	}
	var p rotationPayload
	if err := json.Unmarshal([]byte(rest), &p); err != nil {
		return true
	}
	at := time.Now()
	if p.At > 0 {
		at = time.UnixMicro(p.At)
	}
	if fn, _ := db.onRotation.Load().(func(string, string, time.Time)); fn != nil {
		fn(p.Store, p.Secret, at)
	}
	return true
}

// listened runs the OnListen hook.
func (db *DB) listened() {
	if fn, _ := db.onListen.Load().(func()); fn != nil {
		fn()
	}
}

// Propagation is the repository of how long secret changes took to reach a
// run.
func (db *DB) Propagation() Propagation { return Propagation{db} }

// Propagation keeps each secret's last change and the first resolve after
// it, one row per secret, the times in microseconds since the epoch.
type Propagation struct{ db *DB }

var _ rotation.PropagationRepository = Propagation{}

// RecordChange records a change; it replaces an older change of the secret
// and that change's figure, and keeps the figure of the same change (which
// a replica may have recorded first).
func (p Propagation) RecordChange(ctx context.Context, store, secret string, at time.Time, source rotation.Source) error {
	_, err := p.db.writeExec(ctx, `INSERT INTO secret_propagation
	(store, secret_key, secret, changed_us, source, reached_us, version, runner, connection)
	VALUES ($1, $2, $3, $4, $5, NULL, '', '', '')
	ON CONFLICT (store, secret_key) DO UPDATE SET
	secret = excluded.secret, source = excluded.source,
	reached_us = CASE WHEN secret_propagation.changed_us = excluded.changed_us THEN secret_propagation.reached_us END,
	version = CASE WHEN secret_propagation.changed_us = excluded.changed_us THEN secret_propagation.version ELSE '' END,
	runner = CASE WHEN secret_propagation.changed_us = excluded.changed_us THEN secret_propagation.runner ELSE '' END,
	connection = CASE WHEN secret_propagation.changed_us = excluded.changed_us THEN secret_propagation.connection ELSE '' END,
	changed_us = excluded.changed_us
	WHERE secret_propagation.changed_us <= excluded.changed_us`,
		store, strings.ToLower(secret), secret, at.UnixMicro(), string(source))
	if err != nil {
		return fmt.Errorf("record secret change: %w", err)
	}
	return nil
}

// RecordReached records the first resolve after a change: it fills the
// change's row unless a resolve did already, and stands for a change of
// which this database has no row yet (the replica that learnt of it has not
// written it) until that row comes.
func (p Propagation) RecordReached(ctx context.Context, r rotation.Reached) error {
	_, err := p.db.writeExec(ctx, `INSERT INTO secret_propagation
	(store, secret_key, secret, changed_us, source, reached_us, version, runner, connection)
	VALUES ($1, $2, $3, $4, '', $5, $6, $7, $8)
	ON CONFLICT (store, secret_key) DO UPDATE SET
	reached_us = excluded.reached_us, version = excluded.version, runner = excluded.runner,
	connection = excluded.connection,
	source = CASE WHEN secret_propagation.changed_us = excluded.changed_us THEN secret_propagation.source ELSE '' END,
	changed_us = excluded.changed_us
	WHERE secret_propagation.changed_us < excluded.changed_us
	OR (secret_propagation.changed_us = excluded.changed_us AND secret_propagation.reached_us IS NULL)`,
		r.Store, strings.ToLower(r.Secret), r.Secret, r.ChangedAt.UnixMicro(), r.At.UnixMicro(), r.Version, r.Runner, r.Connection)
	if err != nil {
		return fmt.Errorf("record secret change reached: %w", err)
	}
	return nil
}

// Propagations lists the most recent changes, newest first.
func (p Propagation) Propagations(ctx context.Context, limit int) ([]rotation.Propagated, error) {
	rows, err := p.db.sql.QueryContext(ctx, p.db.q(`SELECT store, secret, changed_us, source, reached_us, version, runner, connection
	FROM secret_propagation ORDER BY changed_us DESC, store, secret_key LIMIT $1`), limit)
	if err != nil {
		return nil, fmt.Errorf("list secret changes: %w", err)
	}
	defer rows.Close()
	var out []rotation.Propagated
	for rows.Next() {
		var (
			pr      rotation.Propagated
			changed int64
			reached sql.NullInt64
			source  string
			r       rotation.Reached
		)
		if err := rows.Scan(&pr.Store, &pr.Secret, &changed, &source, &reached, &r.Version, &r.Runner, &r.Connection); err != nil {
			return nil, fmt.Errorf("list secret changes: %w", err)
		}
		pr.ChangedAt, pr.Source = time.UnixMicro(changed).UTC(), rotation.Source(source)
		if reached.Valid {
			r.Store, r.Secret, r.ChangedAt, r.At = pr.Store, pr.Secret, pr.ChangedAt, time.UnixMicro(reached.Int64).UTC()
			pr.Reached = &r
		}
		out = append(out, pr)
	}
	return out, rows.Err()
}
