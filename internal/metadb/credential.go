package metadb

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/credflow/credflow/internal/access"
	"github.com/credflow/credflow/internal/audit"
	"github.com/credflow/credflow/internal/credential"
	"github.com/credflow/credflow/internal/envvar"
)

// Credentials implements credential.Repository.
type Credentials struct{ db *DB }

var _ credential.Repository = Credentials{}

// Credentials returns the credential repository.
func (db *DB) Credentials() Credentials { return Credentials{db} }

const credentialColumns = `
	c.id, c.name, c.description, c.username_var_id, uv.schema_name, c.password_var_id, pv.schema_name,
	COALESCE(s.name, ''), c.owner_id, u.name, c.enabled, c.created_at, c.updated_at,
	uv.type, uv.secret_enabled, uv.secret_expires_at, uv.secret_checked_at, uv.secret_problem, uv.secret_notice,
	pv.secret_enabled, pv.secret_expires_at, pv.secret_checked_at, pv.secret_problem, pv.secret_notice
	FROM credentials c
	JOIN environment_variables uv ON uv.id = c.username_var_id
	JOIN environment_variables pv ON pv.id = c.password_var_id
	LEFT JOIN stores s ON s.id = pv.store_id
	JOIN users u ON u.id = c.owner_id`

func scanCredential(row interface{ Scan(...any) error }) (credential.Credential, error) {
	var (
		c        credential.Credential
		userType string
		us, ps   secretStateColumns
	)
	err := row.Scan(&c.ID, &c.Name, &c.Description, &c.UsernameVarID, &c.Username, &c.PasswordVarID, &c.Password,
		&c.Store, &c.OwnerID, &c.Owner, &c.Enabled, &c.CreatedAt, &c.UpdatedAt,
		&userType, &us.enabled, &us.expires, &us.checked, &us.problem, &us.notice,
		&ps.enabled, &ps.expires, &ps.checked, &ps.problem, &ps.notice)
	c.CreatedAt, c.UpdatedAt = c.CreatedAt.UTC(), c.UpdatedAt.UTC()
	if envvar.Type(userType) == envvar.TypeSecret {
		c.UsernameSecret = us.ref()
	}
	c.PasswordSecret = ps.ref()
	return c, err
}

// secretStateColumns are a variable's secret_* columns.
type secretStateColumns struct {
	enabled          sql.NullBool
	expires, checked sql.NullTime
	problem, notice  string
}

func (s secretStateColumns) ref() *envvar.SecretRef {
	return &envvar.SecretRef{Enabled: !s.enabled.Valid || s.enabled.Bool, ExpiresAt: utcOrZero(s.expires),
		CheckedAt: utcOrZero(s.checked), Problem: envvar.Status(s.problem), Notice: envvar.Status(s.notice)}
}

// Create implements credential.Repository.
//
// Concurrent creates are written together, as variables' are (see
// writeRows), and a create leaves the caches alone: a new credential is in
// no cached plan or principal, and a miss is never cached.
func (r Credentials) Create(ctx context.Context, c credential.Credential, owner access.Share, e audit.Entry) error {
	w := ownedRows(ctx, tableRows{"credentials", credentialInsertColumns, [][]any{credentialInsertRow(c)}}, owner, e)
	return r.db.writeRows(ctx, w, func(tx *sql.Tx) error {
		if err := insertCredential(ctx, r.db, tx, c); err != nil {
			return err
		}
		if err := insertNewShares(ctx, r.db, tx, []access.Share{owner}); err != nil {
			return err
		}
		return r.db.appendAudit(ctx, tx, e)
	})
}

// credentialInsertColumns are the columns a new credential is written with.
var credentialInsertColumns = []string{"id", "name", "description", "username_var_id", "password_var_id", "owner_id", "enabled", "created_at", "updated_at"}

// credentialInsertRow is c as the values of credentialInsertColumns.
func credentialInsertRow(c credential.Credential) []any {
	return []any{c.ID, c.Name, c.Description, c.UsernameVarID, c.PasswordVarID, c.OwnerID, c.Enabled, c.CreatedAt, c.UpdatedAt}
}

func insertCredential(ctx context.Context, db *DB, tx *sql.Tx, c credential.Credential) error {
	_, err := db.exec(ctx, tx, insertSQL("credentials", credentialInsertColumns, 1), credentialInsertRow(c)...)
	if isUniqueViolation(err) {
		return fmt.Errorf("%w: %q", credential.ErrNameTaken, c.Name)
	}
	if err != nil {
		return fmt.Errorf("insert credential: %w", err)
	}
	return nil
}

// Get implements credential.Repository.
func (r Credentials) Get(ctx context.Context, idOrName string) (credential.Credential, error) {
	c, err := scanCredential(r.db.queryRow(ctx, `SELECT `+credentialColumns+`
		WHERE c.id = $1 OR lower(c.name) = lower($1)`, idOrName))
	if errors.Is(err, sql.ErrNoRows) {
		return c, fmt.Errorf("%w: %q", credential.ErrNotFound, idOrName)
	}
	if err != nil {
		return c, fmt.Errorf("read credential: %w", err)
	}
	return c, nil
}

// List implements credential.Repository.
func (r Credentials) List(ctx context.Context, v access.Viewer, after string, limit int) ([]credential.Credential, error) {
	var (
		page []credential.Credential
		err  error
	)
	if v.All {
		page, err = queryList(ctx, r.db, scanCredential, `SELECT `+credentialColumns+`
			WHERE c.id > $1 ORDER BY c.id LIMIT $2`, after, limit)
	} else {
		page, err = listVisible(func() ([]credential.Credential, error) {
			ids, args := visibleIDs(v, access.KindCredential, "$1", "$2", 3)
			return queryList(ctx, r.db, scanCredential, `SELECT `+credentialColumns+`
				WHERE c.id IN (`+ids+`) ORDER BY c.id`, append([]any{after, limit}, args...)...)
		}, func() ([]credential.Credential, error) {
			ids, args := visibleIDs(v, access.KindCredential, "$1", "", 3)
			return queryList(ctx, r.db, scanCredential, `SELECT `+credentialColumns+`
				WHERE c.id > $1 AND c.id IN (`+ids+`) ORDER BY c.id LIMIT $2`, append([]any{after, limit}, args...)...)
		}, limit)
	}
	if err != nil {
		return nil, fmt.Errorf("list credentials: %w", err)
	}
	return page, nil
}

// Update implements credential.Repository.
func (r Credentials) Update(ctx context.Context, c credential.Credential, e audit.Entry) error {
	return r.db.write(ctx, e, func(tx *sql.Tx) error { return updateCredential(ctx, r.db, tx, c) })
}

func updateCredential(ctx context.Context, db *DB, tx *sql.Tx, c credential.Credential) error {
	res, err := db.exec(ctx, tx, `
		UPDATE credentials SET name = $2, description = $3, enabled = $4, updated_at = $5 WHERE id = $1`,
		c.ID, c.Name, c.Description, c.Enabled, c.UpdatedAt)
	if isUniqueViolation(err) {
		return fmt.Errorf("%w: %q", credential.ErrNameTaken, c.Name)
	}
	if err != nil {
		return fmt.Errorf("update credential: %w", err)
	}
	return mustAffect(res, fmt.Errorf("%w: %q", credential.ErrNotFound, c.Name))
}

// Delete implements credential.Repository.
func (r Credentials) Delete(ctx context.Context, id string, force bool, e audit.Entry) error {
	return r.db.write(ctx, e, func(tx *sql.Tx) error {
		conns, err := connectionsUsing(ctx, r.db, tx, `c.credential_id = $1`, id)
		if err != nil {
			return err
		}
		if len(conns) > 0 {
			if !force {
				var name string
				if err := tx.QueryRowContext(ctx, r.db.q(`SELECT name FROM credentials WHERE id = $1`), id).Scan(&name); err != nil {
					return fmt.Errorf("read credential: %w", err)
				}
				return &credential.InUseError{Name: name, Connections: conns}
			}
			if _, err := r.db.exec(ctx, tx, `UPDATE connections SET credential_id = NULL, status = 'broken',
				last_error = 'its credential was deleted' WHERE credential_id = $1`, id); err != nil {
				return fmt.Errorf("break connections: %w", err)
			}
		}
		res, err := r.db.exec(ctx, tx, `DELETE FROM credentials WHERE id = $1`, id)
		if isForeignKeyViolation(err) {
			return &credential.InUseError{Name: id}
		}
		if err != nil {
			return fmt.Errorf("delete credential: %w", err)
		}
		if err := mustAffect(res, fmt.Errorf("%w: %s", credential.ErrNotFound, id)); err != nil {
			return err
		}
		return deleteShares(ctx, r.db, tx, access.KindCredential, id)
	})
}

// connectionsUsing lists the connections matching where (over connections c).
func connectionsUsing(ctx context.Context, db *DB, q queryer, where string, args ...any) ([]credential.Named, error) {
	rows, err := q.QueryContext(ctx, db.q(`SELECT DISTINCT c.id, c.name FROM connections c
		LEFT JOIN credentials cr ON cr.id = c.credential_id WHERE `+where+` ORDER BY c.name`), args...)
	if err != nil {
		return nil, fmt.Errorf("list dependent connections: %w", err)
	}
	defer rows.Close()
	out := []credential.Named{}
	for rows.Next() {
		var n credential.Named
		if err := rows.Scan(&n.ID, &n.Name); err != nil {
			return nil, fmt.Errorf("list dependent connections: %w", err)
		}
		out = append(out, n)
	}
	return out, rows.Err()
}

// Dependencies implements credential.Repository.
func (r Credentials) Dependencies(ctx context.Context, id string) (credential.Dependencies, error) {
	conns, err := connectionsUsing(ctx, r.db, r.db.sql, `c.credential_id = $1`, id)
	return credential.Dependencies{Connections: conns}, err
}
