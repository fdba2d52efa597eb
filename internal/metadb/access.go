package metadb

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/credflow/credflow/internal/access"
)

// AccessRepo implements access.Repository.
type AccessRepo struct{ db *DB }

var _ access.Repository = AccessRepo{}

// Access returns the users-and-tokens repository.
func (db *DB) Access() AccessRepo { return AccessRepo{db} }

// Bootstrap implements access.Repository.
func (r AccessRepo) Bootstrap(ctx context.Context, u access.User, t access.TokenRecord) (bool, error) {
	created := false
	err := r.db.inTx(ctx, func(tx *sql.Tx) error {
		var n int
		if err := tx.QueryRowContext(ctx, `SELECT count(*) FROM users`).Scan(&n); err != nil {
			return fmt.Errorf("count users: %w", err)
		}
		if n > 0 {
			return nil
		}
		if _, err := r.db.exec(ctx, tx, `INSERT INTO users (id, name, display_name, role, created_at) VALUES ($1, $2, $3, $4, $5)`,
			u.ID, u.Name, u.DisplayName, string(u.Role), u.CreatedAt); err != nil {
			if isUniqueViolation(err) {
				return nil // another replica bootstrapped first
			}
			return fmt.Errorf("insert user: %w", err)
		}
		if _, err := r.db.exec(ctx, tx, `INSERT INTO api_tokens (id, user_id, name, hash, created_at) VALUES ($1, $2, $3, $4, $5)`,
			t.ID, t.UserID, t.Name, t.Hash, t.CreatedAt); err != nil {
			return fmt.Errorf("insert token: %w", err)
		}
		created = true
		return nil
	})
	return created, err
}

// Token implements access.Repository.
func (r AccessRepo) Token(ctx context.Context, id string) (access.TokenRecord, access.User, error) {
	var (
		t                access.TokenRecord
		u                access.User
		role             string
		expires, revoked sql.NullTime
	)
	err := r.db.sql.QueryRowContext(ctx, r.db.q(`
		SELECT t.id, t.user_id, t.name, t.hash, t.expires_at, t.revoked_at, t.created_at,
		       u.id, u.name, u.display_name, u.role, u.created_at
		FROM api_tokens t JOIN users u ON u.id = t.user_id
		WHERE t.id = $1`), id).Scan(
		&t.ID, &t.UserID, &t.Name, &t.Hash, &expires, &revoked, &t.CreatedAt,
		&u.ID, &u.Name, &u.DisplayName, &role, &u.CreatedAt)
	if errors.Is(err, sql.ErrNoRows) {
		return t, u, fmt.Errorf("token %s: %w", id, access.ErrNotFound)
	}
	if err != nil {
		return t, u, fmt.Errorf("read token: %w", err)
	}
	u.Role = access.Role(role)
	t.ExpiresAt, t.RevokedAt = expires.Time, revoked.Time
	return t, u, nil
}
