package metadb

import (
	"context"
	"fmt"
	"time"

	"github.com/google/uuid"

	"github.com/credflow/credflow/internal/secretstore"
)

// Stores is the table of registered secret stores.
type Stores struct{ db *DB }

// Stores returns the store table.
func (db *DB) Stores() Stores { return Stores{db} }

// Ensure registers a store of that name and kind unless one exists, and
// returns the stored row.
func (s Stores) Ensure(ctx context.Context, name, kind string) (secretstore.Info, error) {
	now := time.Now().UTC()
	if _, err := s.db.sql.ExecContext(ctx, s.db.q(`
		INSERT INTO stores (id, name, kind, settings, created_at, updated_at)
		VALUES ($1, $2, $3, '{}', $4, $4) ON CONFLICT DO NOTHING`),
		uuid.Must(uuid.NewV7()).String(), name, kind, now); err != nil {
		return secretstore.Info{}, fmt.Errorf("register store %s: %w", name, err)
	}
	var info secretstore.Info
	if err := s.db.sql.QueryRowContext(ctx, s.db.q(`SELECT id, name, kind FROM stores WHERE lower(name) = lower($1)`), name).
		Scan(&info.ID, &info.Name, &info.Kind); err != nil {
		return secretstore.Info{}, fmt.Errorf("read store %s: %w", name, err)
	}
	if info.Kind != kind {
		return secretstore.Info{}, fmt.Errorf("store %s is registered with kind %s, not %s", name, info.Kind, kind)
	}
	return info, nil
}
