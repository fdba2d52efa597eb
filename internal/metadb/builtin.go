package metadb

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/credflow/credflow/internal/audit"
	"github.com/credflow/credflow/internal/secretstore"
	"github.com/credflow/credflow/internal/secretstore/builtin"
)

// BuiltinRepo keeps the built-in store's ciphertexts in builtin_secrets. It
// never sees a value.
type BuiltinRepo struct {
	db *DB
}

var _ builtin.Repository = (*BuiltinRepo)(nil)

// BuiltinSecrets returns the built-in store's repository.
func (db *DB) BuiltinSecrets() *BuiltinRepo { return &BuiltinRepo{db: db} }

// Insert adds one version and the audit entry e in one transaction, and
// reports whether the secret had no other version.
func (r *BuiltinRepo) Insert(ctx context.Context, rec builtin.Record, e audit.Entry) (created bool, err error) {
	err = r.db.inTxAnnounce(ctx, secretChangePrefix+rec.Name, func(tx *sql.Tx) error {
		if err := r.checkWriteKey(ctx, tx, rec.KeyID); err != nil {
			return fmt.Errorf("insert builtin secret %q version %d: %w", rec.Name, rec.Version, err)
		}
		_, err := r.db.exec(ctx, tx, `INSERT INTO builtin_secrets (name, version, key_id, wrapped_key, ciphertext, created_at)
			VALUES ($1, $2, $3, $4, $5, $6)`,
			rec.Name, rec.Version, rec.KeyID, rec.WrappedKey, rec.Ciphertext, rec.CreatedAt.UTC())
		if isUniqueViolation(err) {
			return fmt.Errorf("insert builtin secret %q version %d: %w", rec.Name, rec.Version, builtin.ErrVersionTaken)
		}
		if err != nil {
			return fmt.Errorf("insert builtin secret %q version %d: %w", rec.Name, rec.Version, err)
		}
		// A concurrent writer's version is either committed, and seen here,
		// or conflicts with this one's on insert: two writes cannot both
		// see themselves alone.
		var others int
		if err := tx.QueryRowContext(ctx, r.db.q(`SELECT count(*) FROM builtin_secrets WHERE name = $1 AND version <> $2`),
			rec.Name, rec.Version).Scan(&others); err != nil {
			return fmt.Errorf("insert builtin secret %q version %d: %w", rec.Name, rec.Version, err)
		}
		created = others == 0
		return r.db.appendAudit(ctx, tx, e)
	})
	return created, err
}

// Get returns one version, the highest when version is 0.
func (r *BuiltinRepo) Get(ctx context.Context, name string, version int) (builtin.Record, error) {
	const cols = `SELECT name, version, key_id, wrapped_key, ciphertext, created_at FROM builtin_secrets`
	var row *sql.Row
	if version == 0 {
		row = r.db.queryRow(ctx, cols+` WHERE name = $1 ORDER BY version DESC LIMIT 1`, name)
	} else {
		row = r.db.queryRow(ctx, cols+` WHERE name = $1 AND version = $2`, name, version)
	}
	var rec builtin.Record
	err := row.Scan(&rec.Name, &rec.Version, &rec.KeyID, &rec.WrappedKey, &rec.Ciphertext, &rec.CreatedAt)
	if errors.Is(err, sql.ErrNoRows) {
		if version == 0 {
			return builtin.Record{}, fmt.Errorf("builtin secret %q: %w", name, secretstore.ErrNotFound)
		}
		return builtin.Record{}, fmt.Errorf("builtin secret %q version %d: %w", name, version, secretstore.ErrNotFound)
	}
	if err != nil {
		return builtin.Record{}, fmt.Errorf("get builtin secret %q: %w", name, err)
	}
	rec.CreatedAt = rec.CreatedAt.UTC()
	return rec, nil
}

// List summarises secrets by name in byte order. The first and latest
// versions' times are joined from their rows rather than taken with min()
// and max(), because SQLite returns an aggregate of a TIMESTAMP column as
// untyped text.
func (r *BuiltinRepo) List(ctx context.Context, after string, limit int) ([]builtin.Summary, error) {
	// PostgreSQL compares by the database's collation, which need not be
	// byte order; "C" makes both engines agree.
	collate := ""
	if r.db.dialect == Postgres {
		collate = ` COLLATE "C"`
	}
	rows, err := r.db.query(ctx, `
		SELECT s.name, s.latest, s.versions, f.created_at, l.created_at
		FROM (
			SELECT name, min(version) AS first, max(version) AS latest, count(*) AS versions
			FROM builtin_secrets
			WHERE name`+collate+` > $1
			GROUP BY name
			ORDER BY name`+collate+`
			LIMIT $2
		) s
		JOIN builtin_secrets f ON f.name = s.name AND f.version = s.first
		JOIN builtin_secrets l ON l.name = s.name AND l.version = s.latest
		ORDER BY s.name`+collate, after, limit)
	if err != nil {
		return nil, fmt.Errorf("list builtin secrets: %w", err)
	}
	defer rows.Close()
	var out []builtin.Summary
	for rows.Next() {
		var m builtin.Summary
		if err := rows.Scan(&m.Name, &m.Latest, &m.Versions, &m.CreatedAt, &m.UpdatedAt); err != nil {
			return nil, fmt.Errorf("list builtin secrets: %w", err)
		}
		m.CreatedAt, m.UpdatedAt = m.CreatedAt.UTC(), m.UpdatedAt.UTC()
		out = append(out, m)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list builtin secrets: %w", err)
	}
	return out, nil
}

// Delete removes every version of name and remembers its last version; the
// audit entry e is written in the same transaction.
func (r *BuiltinRepo) Delete(ctx context.Context, name string, e audit.Entry) error {
	return r.db.inTxAnnounce(ctx, secretChangePrefix+name, func(tx *sql.Tx) error {
		var last sql.NullInt64
		if err := tx.QueryRowContext(ctx, r.db.q(`SELECT max(version) FROM builtin_secrets WHERE name = $1`), name).Scan(&last); err != nil {
			return fmt.Errorf("delete builtin secret %q: %w", name, err)
		}
		if !last.Valid {
			return fmt.Errorf("builtin secret %q: %w", name, secretstore.ErrNotFound)
		}
		if _, err := r.db.exec(ctx, tx, `INSERT INTO builtin_deleted (name, last_version) VALUES ($1, $2)
			ON CONFLICT (name) DO UPDATE SET last_version = excluded.last_version`, name, last.Int64); err != nil {
			return fmt.Errorf("delete builtin secret %q: %w", name, err)
		}
		if _, err := r.db.exec(ctx, tx, `DELETE FROM builtin_secrets WHERE name = $1`, name); err != nil {
			return fmt.Errorf("delete builtin secret %q: %w", name, err)
		}
		return r.db.appendAudit(ctx, tx, e)
	})
}

// NextVersion returns the version the next write of name gets: one more than
// the highest it has, or had before it was deleted.
func (r *BuiltinRepo) NextVersion(ctx context.Context, name string) (int, error) {
	var next int
	err := r.db.queryRow(ctx, `
		SELECT 1 + max(v) FROM (
			SELECT COALESCE(max(version), 0) AS v FROM builtin_secrets WHERE name = $1
			UNION ALL
			SELECT COALESCE(max(last_version), 0) FROM builtin_deleted WHERE name = $1
		) AS versions`, name).Scan(&next)
	if err != nil {
		return 0, fmt.Errorf("next version of builtin secret %q: %w", name, err)
	}
	return next, nil
}

// builtinKeyID is the meta key holding the ID of the built-in store's master
// key.
const builtinKeyID = "builtin.master_key_id"

// BindKey records keyID unless a key ID is recorded already, and returns the
// recorded one. Concurrent callers agree on the first writer's.
func (r *BuiltinRepo) BindKey(ctx context.Context, keyID string) (string, error) {
	if _, err := r.db.writeExec(ctx, `INSERT INTO meta (key, value) VALUES ($1, $2) ON CONFLICT (key) DO NOTHING`, builtinKeyID, keyID); err != nil {
		return "", fmt.Errorf("bind builtin master key: %w", err)
	}
	var bound string
	if err := r.db.queryRow(ctx, `SELECT value FROM meta WHERE key = $1`, builtinKeyID).Scan(&bound); err != nil {
		return "", fmt.Errorf("bind builtin master key: %w", err)
	}
	return bound, nil
}
