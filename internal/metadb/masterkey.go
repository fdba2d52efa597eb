package metadb

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/credflow/credflow/internal/audit"
	"github.com/credflow/credflow/internal/secretstore/builtin"
)

// Meta keys about the master key, beside builtinKeyID.
const (
	// builtinRotationKey holds the rotation under way (JSON), if any.
	builtinRotationKey = "builtin.rotation"
	// wrappedPrefix starts the meta keys of values kept wrapped under the
	// master key (JSON: the key's ID and the wrapped bytes).
	wrappedPrefix = "wrapped."
)

// masterKeyPayload announces to other replicas that a rotation began or
// finished: they reload the master-key state.
const masterKeyPayload = "master-key"

var _ builtin.KeyRepository = (*BuiltinRepo)(nil)

type wrappedJSON struct {
	KeyID   string `json:"keyId"`
	Wrapped []byte `json:"wrapped"`
}

// OnMasterKeyChange sets what to do when another replica announces that a
// master-key rotation began or finished (reload the keys).
func (db *DB) OnMasterKeyChange(fn func()) { db.onMasterKey.Store(fn) }

func (db *DB) masterKeyChanged(payload string) bool {
	if payload != masterKeyPayload {
		return false
	}
	if fn, _ := db.onMasterKey.Load().(func()); fn != nil {
		fn()
	}
	return true
}

// KeyState implements builtin.KeyRepository.
func (r *BuiltinRepo) KeyState(ctx context.Context) (builtin.KeyState, error) {
	return r.keyState(ctx, r.db.sql)
}

func (r *BuiltinRepo) keyState(ctx context.Context, q queryer) (builtin.KeyState, error) {
	var st builtin.KeyState
	rows, err := q.QueryContext(ctx, r.db.q(`SELECT key, value FROM meta WHERE key IN ($1, $2)`), builtinKeyID, builtinRotationKey)
	if err != nil {
		return st, fmt.Errorf("read master-key state: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var k, v string
		if err := rows.Scan(&k, &v); err != nil {
			return st, fmt.Errorf("read master-key state: %w", err)
		}
		if k == builtinKeyID {
			st.Bound = v
			continue
		}
		st.Rotation = new(builtin.Rotation)
		if err := json.Unmarshal([]byte(v), st.Rotation); err != nil {
			return st, fmt.Errorf("read master-key rotation: %w", err)
		}
	}
	if err := rows.Err(); err != nil {
		return st, fmt.Errorf("read master-key state: %w", err)
	}
	return st, nil
}

// lockKeys takes, on PostgreSQL, the lock that orders key changes against
// writes; SQLite's write transactions are serial already.
func (r *BuiltinRepo) lockKeys(ctx context.Context, tx *sql.Tx, exclusive bool) error {
	if r.db.dialect != Postgres {
		return nil
	}
	lock := `SELECT pg_advisory_xact_lock_shared($1)`
	if exclusive {
		lock = `SELECT pg_advisory_xact_lock($1)`
	}
	if _, err := tx.ExecContext(ctx, lock, int64(masterKeyLock)); err != nil {
		return fmt.Errorf("lock master key: %w", err)
	}
	return nil
}

// masterKeyLock is the PostgreSQL advisory lock that a write takes shared
// and a change of the master key exclusive, so that no row is written under
// a key that stopped being the database's.
const masterKeyLock = 0x6d6b6579 // "mkey"

// checkWriteKey refuses, with builtin.ErrKeyChanged, a row wrapped under
// another key than the database's.
func (r *BuiltinRepo) checkWriteKey(ctx context.Context, tx *sql.Tx, keyID string) error {
	if err := r.lockKeys(ctx, tx, false); err != nil {
		return err
	}
	var bound string
	err := tx.QueryRowContext(ctx, r.db.q(`SELECT value FROM meta WHERE key = $1`), builtinKeyID).Scan(&bound)
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return fmt.Errorf("read master key: %w", err)
	}
	if err == nil && bound != keyID {
		return fmt.Errorf("written under master key %s, the database's is %s: %w", keyID, bound, builtin.ErrKeyChanged)
	}
	return nil
}

// BeginRotation implements builtin.KeyRepository.
func (r *BuiltinRepo) BeginRotation(ctx context.Context, rot builtin.Rotation, rewrap func(name string, wrapped []byte) ([]byte, error), e audit.Entry) (builtin.Rotation, bool, error) {
	var (
		cur     builtin.Rotation
		resumed bool
	)
	err := r.db.inTxAnnounce(ctx, masterKeyPayload, func(tx *sql.Tx) error {
		if err := r.lockKeys(ctx, tx, true); err != nil {
			return err
		}
		st, err := r.keyState(ctx, tx)
		if err != nil {
			return err
		}
		if st.Rotation != nil {
			if st.Rotation.To != rot.To {
				return fmt.Errorf("rotation from %s to %s: %w", st.Rotation.From, st.Rotation.To, builtin.ErrRotationInProgress)
			}
			cur, resumed = *st.Rotation, true
		} else {
			if st.Bound != rot.From {
				return fmt.Errorf("rotate from %s: the database's master key is %s: %w", rot.From, st.Bound, builtin.ErrWrongKey)
			}
			b, err := json.Marshal(rot)
			if err != nil {
				return fmt.Errorf("record rotation: %w", err)
			}
			if err := r.db.setMeta(ctx, tx, builtinRotationKey, string(b)); err != nil {
				return fmt.Errorf("record rotation: %w", err)
			}
			if err := r.db.setMeta(ctx, tx, builtinKeyID, rot.To); err != nil {
				return fmt.Errorf("record rotation: %w", err)
			}
			cur = rot
		}
		// Wrapped values are few: they move in this transaction.
		rows, err := tx.QueryContext(ctx, r.db.q(`SELECT key, value FROM meta WHERE substr(key, 1, length($1)) = $1`), wrappedPrefix)
		if err != nil {
			return fmt.Errorf("read wrapped values: %w", err)
		}
		type kv struct{ k, v string }
		var all []kv
		for rows.Next() {
			var x kv
			if err := rows.Scan(&x.k, &x.v); err != nil {
				rows.Close()
				return fmt.Errorf("read wrapped values: %w", err)
			}
			all = append(all, x)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return fmt.Errorf("read wrapped values: %w", err)
		}
		for _, x := range all {
			var w wrappedJSON
			if err := json.Unmarshal([]byte(x.v), &w); err != nil {
				return fmt.Errorf("read wrapped value %s: %w", x.k, err)
			}
			if w.KeyID == cur.To {
				continue
			}
			nw, err := rewrap(strings.TrimPrefix(x.k, wrappedPrefix), w.Wrapped)
			if err != nil {
				return err
			}
			b, err := json.Marshal(wrappedJSON{KeyID: cur.To, Wrapped: nw})
			if err != nil {
				return err
			}
			if err := r.db.setMeta(ctx, tx, x.k, string(b)); err != nil {
				return fmt.Errorf("rewrap %s: %w", x.k, err)
			}
		}
		return r.db.appendAudit(ctx, tx, e)
	})
	return cur, resumed, err
}

// RewrapBatch implements builtin.KeyRepository.
func (r *BuiltinRepo) RewrapBatch(ctx context.Context, rot builtin.Rotation, after builtin.Cursor, n int, rewrap func(builtin.Record) ([]byte, error)) (builtin.Cursor, int, error) {
	done, next := 0, after
	err := r.db.inTxQuiet(ctx, func(tx *sql.Tx) error {
		lock := ""
		if r.db.dialect == Postgres {
			lock = " FOR UPDATE"
		}
		// The primary key's order, from the cursor on: each batch reads
		// on from where the last stopped, with no index on key_id.
		rows, err := tx.QueryContext(ctx, r.db.q(`SELECT name, version, key_id, wrapped_key, ciphertext, created_at FROM builtin_secrets
			WHERE (name, version) > ($1, $2) AND key_id = $3 ORDER BY name, version LIMIT $4`+lock), after.Name, after.Version, rot.From, n)
		if err != nil {
			return fmt.Errorf("read rows to rewrap: %w", err)
		}
		var recs []builtin.Record
		for rows.Next() {
			var rec builtin.Record
			if err := rows.Scan(&rec.Name, &rec.Version, &rec.KeyID, &rec.WrappedKey, &rec.Ciphertext, &rec.CreatedAt); err != nil {
				rows.Close()
				return fmt.Errorf("read rows to rewrap: %w", err)
			}
			recs = append(recs, rec)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return fmt.Errorf("read rows to rewrap: %w", err)
		}
		for _, rec := range recs {
			w, err := rewrap(rec)
			if err != nil {
				return fmt.Errorf("rewrap builtin secret %q version %d: %w", rec.Name, rec.Version, err)
			}
			if _, err := r.db.exec(ctx, tx, `UPDATE builtin_secrets SET key_id = $1, wrapped_key = $2 WHERE name = $3 AND version = $4 AND key_id = $5`,
				rot.To, w, rec.Name, rec.Version, rot.From); err != nil {
				return fmt.Errorf("rewrap builtin secret %q version %d: %w", rec.Name, rec.Version, err)
			}
		}
		done = len(recs)
		if done > 0 {
			next = builtin.Cursor{Name: recs[done-1].Name, Version: recs[done-1].Version}
		}
		return nil
	})
	return next, done, err
}

// FinishRotation implements builtin.KeyRepository.
func (r *BuiltinRepo) FinishRotation(ctx context.Context, rot builtin.Rotation, e audit.Entry) error {
	return r.db.inTxAnnounce(ctx, masterKeyPayload, func(tx *sql.Tx) error {
		if err := r.lockKeys(ctx, tx, true); err != nil {
			return err
		}
		var left int64
		if err := tx.QueryRowContext(ctx, r.db.q(`SELECT count(*) FROM builtin_secrets WHERE key_id <> $1`), rot.To).Scan(&left); err != nil {
			return fmt.Errorf("finish rotation: %w", err)
		}
		if left > 0 {
			return fmt.Errorf("finish rotation: %d rows are still wrapped under another key than %s", left, rot.To)
		}
		if _, err := r.db.exec(ctx, tx, `DELETE FROM meta WHERE key = $1`, builtinRotationKey); err != nil {
			return fmt.Errorf("finish rotation: %w", err)
		}
		return r.db.appendAudit(ctx, tx, e)
	})
}

// PutWrapped implements builtin.KeyRepository.
func (r *BuiltinRepo) PutWrapped(ctx context.Context, name, keyID string, wrapped []byte) error {
	b, err := json.Marshal(wrappedJSON{KeyID: keyID, Wrapped: wrapped})
	if err != nil {
		return err
	}
	return r.db.inTxQuiet(ctx, func(tx *sql.Tx) error {
		if err := r.checkWriteKey(ctx, tx, keyID); err != nil {
			return fmt.Errorf("keep %s wrapped: %w", name, err)
		}
		if _, err := r.db.exec(ctx, tx, `INSERT INTO meta (key, value) VALUES ($1, $2) ON CONFLICT (key) DO NOTHING`, wrappedPrefix+name, string(b)); err != nil {
			return fmt.Errorf("keep %s wrapped: %w", name, err)
		}
		return nil
	})
}

// GetWrapped implements builtin.KeyRepository.
func (r *BuiltinRepo) GetWrapped(ctx context.Context, name string) (string, []byte, bool, error) {
	v, ok, err := r.db.metaValue(ctx, wrappedPrefix+name)
	if err != nil || !ok {
		return "", nil, false, err
	}
	var w wrappedJSON
	if err := json.Unmarshal([]byte(v), &w); err != nil {
		return "", nil, false, fmt.Errorf("read wrapped %s: %w", name, err)
	}
	return w.KeyID, w.Wrapped, true, nil
}
