package metadb

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"

	"github.com/credflow/credflow/internal/audit"
	"github.com/credflow/credflow/internal/secretstore"
	"github.com/credflow/credflow/internal/storeadmin"
)

// Stores is the table of registered secret stores; it implements
// storeadmin.Repository.
type Stores struct{ db *DB }

var _ storeadmin.Repository = Stores{}

// Stores returns the store table.
func (db *DB) Stores() Stores { return Stores{db} }

// Ensure registers a store of that name and kind unless one exists, and
// returns the stored row.
func (s Stores) Ensure(ctx context.Context, name, kind string) (secretstore.Info, error) {
	now := time.Now().UTC()
	if _, err := s.db.writeExec(ctx, `
		INSERT INTO stores (id, name, kind, settings, created_at, updated_at)
		VALUES ($1, $2, $3, '{}', $4, $4) ON CONFLICT DO NOTHING`,
		uuid.Must(uuid.NewV7()).String(), name, kind, now); err != nil {
		return secretstore.Info{}, fmt.Errorf("register store %s: %w", name, err)
	}
	st, err := s.Get(ctx, name)
	if err != nil {
		return secretstore.Info{}, err
	}
	if st.Kind != kind {
		return secretstore.Info{}, fmt.Errorf("store %s is registered with kind %s, not %s", name, st.Kind, kind)
	}
	return secretstore.Info{ID: st.ID, Name: st.Name, Kind: st.Kind}, nil
}

const storeColumns = `id, name, kind, settings, cache_ttl_ms, stale_if_error_ms, poll_interval_ms, created_at, updated_at,
	check_ok, checked_at, check_step, check_detail, check_hint FROM stores`

func scanStore(row interface{ Scan(...any) error }) (storeadmin.Store, error) {
	var (
		st         storeadmin.Store
		settings   string
		ttl, stale int64
		poll       int64
		checkOK    sql.NullBool
		checkedAt  sql.NullTime
		check      storeadmin.CheckResult
	)
	err := row.Scan(&st.ID, &st.Name, &st.Kind, &settings, &ttl, &stale, &poll, &st.CreatedAt, &st.UpdatedAt,
		&checkOK, &checkedAt, &check.Step, &check.Detail, &check.Hint)
	if checkOK.Valid {
		check.OK, check.At = checkOK.Bool, utcOrZero(checkedAt)
		st.LastCheck = &check
	}
	st.Settings = []byte(settings)
	st.CacheTTL, st.StaleIfError = time.Duration(ttl)*time.Millisecond, time.Duration(stale)*time.Millisecond
	st.PollInterval = time.Duration(poll) * time.Millisecond
	st.CreatedAt, st.UpdatedAt = st.CreatedAt.UTC(), st.UpdatedAt.UTC()
	return st, err
}

// Create implements storeadmin.Repository.
func (s Stores) Create(ctx context.Context, st storeadmin.Store, e audit.Entry) error {
	return s.db.inTxAnnounce(ctx, storeChangePrefix+st.Name, func(tx *sql.Tx) error {
		_, err := s.db.exec(ctx, tx, `INSERT INTO stores (id, name, kind, settings, cache_ttl_ms, stale_if_error_ms, poll_interval_ms, created_at, updated_at)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`, st.ID, st.Name, st.Kind, string(st.Settings),
			st.CacheTTL.Milliseconds(), st.StaleIfError.Milliseconds(), st.PollInterval.Milliseconds(), st.CreatedAt, st.UpdatedAt)
		if isUniqueViolation(err) {
			return fmt.Errorf("%w: %q", storeadmin.ErrNameTaken, st.Name)
		}
		if err != nil {
			return fmt.Errorf("insert store: %w", err)
		}
		return s.db.appendAudit(ctx, tx, e)
	})
}

// Get implements storeadmin.Repository.
func (s Stores) Get(ctx context.Context, idOrName string) (storeadmin.Store, error) {
	st, err := scanStore(s.db.queryRow(ctx, `SELECT `+storeColumns+` WHERE id = $1 OR lower(name) = lower($1)`, idOrName))
	if errors.Is(err, sql.ErrNoRows) {
		return st, fmt.Errorf("%w: %q", secretstore.ErrStoreNotFound, idOrName)
	}
	if err != nil {
		return st, fmt.Errorf("read store: %w", err)
	}
	return st, nil
}

// List implements storeadmin.Repository.
func (s Stores) List(ctx context.Context) ([]storeadmin.Store, error) {
	return queryList(ctx, s.db, scanStore, `SELECT `+storeColumns+` ORDER BY lower(name)`)
}

var _ storeadmin.CheckRecorder = Stores{}

// RecordCheck implements storeadmin.CheckRecorder. A check's outcome is
// read from the table by whoever asks next, on any replica, so it changes
// nothing the caches hold.
func (s Stores) RecordCheck(ctx context.Context, id string, c storeadmin.CheckResult) error {
	res, err := s.db.writeExec(ctx, `UPDATE stores SET check_ok = $2, checked_at = $3, check_step = $4, check_detail = $5, check_hint = $6
		WHERE id = $1`, id, c.OK, c.At, c.Step, c.Detail, c.Hint)
	if err != nil {
		return fmt.Errorf("record store check: %w", err)
	}
	return mustAffect(res, fmt.Errorf("%w: %s", secretstore.ErrStoreNotFound, id))
}

// Update implements storeadmin.Repository.
func (s Stores) Update(ctx context.Context, st storeadmin.Store, e audit.Entry) error {
	return s.db.inTxAnnounce(ctx, storeChangePrefix+st.Name, func(tx *sql.Tx) error {
		res, err := s.db.exec(ctx, tx, `UPDATE stores SET settings = $2, cache_ttl_ms = $3, stale_if_error_ms = $4, poll_interval_ms = $6, updated_at = $5 WHERE id = $1`,
			st.ID, string(st.Settings), st.CacheTTL.Milliseconds(), st.StaleIfError.Milliseconds(), st.UpdatedAt, st.PollInterval.Milliseconds())
		if err != nil {
			return fmt.Errorf("update store: %w", err)
		}
		if err := mustAffect(res, fmt.Errorf("%w: %q", secretstore.ErrStoreNotFound, st.Name)); err != nil {
			return err
		}
		return s.db.appendAudit(ctx, tx, e)
	})
}

// Delete implements storeadmin.Repository.
func (s Stores) Delete(ctx context.Context, id string, e audit.Entry) error {
	var name string
	if err := s.db.queryRow(ctx, `SELECT name FROM stores WHERE id = $1`, id).Scan(&name); err != nil {
		return fmt.Errorf("%w: %s", secretstore.ErrStoreNotFound, id)
	}
	return s.db.inTxAnnounce(ctx, storeChangePrefix+name, func(tx *sql.Tx) error {
		for _, q := range []string{`DELETE FROM store_grants WHERE store_id = $1`, `DELETE FROM stores WHERE id = $1`} {
			if _, err := s.db.exec(ctx, tx, q, id); err != nil {
				if isForeignKeyViolation(err) {
					return fmt.Errorf("%w: delete or change the variables that reference it first", storeadmin.ErrInUse)
				}
				return fmt.Errorf("delete store: %w", err)
			}
		}
		return s.db.appendAudit(ctx, tx, e)
	})
}
