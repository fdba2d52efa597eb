package metadb

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
)

// metaValue returns the value of key in the meta table (facts about the
// instance itself) and whether it is set.
func (db *DB) metaValue(ctx context.Context, key string) (string, bool, error) {
	var v string
	err := db.sql.QueryRowContext(ctx, db.q(`SELECT value FROM meta WHERE key = $1`), key).Scan(&v)
	if errors.Is(err, sql.ErrNoRows) {
		return "", false, nil
	}
	if err != nil {
		return "", false, fmt.Errorf("read meta %s: %w", key, err)
	}
	return v, true, nil
}

// BoundKey returns the ID of the master key the built-in store's
// ciphertexts belong to, and whether one is bound yet. A database with a
// bound key must never get a freshly generated key.
func (r *BuiltinRepo) BoundKey(ctx context.Context) (string, bool, error) {
	return r.db.metaValue(ctx, builtinKeyID)
}
