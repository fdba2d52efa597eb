package metadb

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/credflow/credflow/internal/access"
	"github.com/credflow/credflow/internal/audit"
)

// AccessRepo implements access.Repository.
type AccessRepo struct{ db *DB }

var _ access.Repository = AccessRepo{}

// Access returns the users, groups, tokens, shares and grants repository.
func (db *DB) Access() AccessRepo { return AccessRepo{db} }

// write runs fn and appends e in one transaction.
func (db *DB) write(ctx context.Context, e audit.Entry, fn func(tx *sql.Tx) error) error {
	return db.inTx(ctx, func(tx *sql.Tx) error {
		if err := fn(tx); err != nil {
			return err
		}
		return db.appendAudit(ctx, tx, e)
	})
}

// Generation implements access.Repository.
func (r AccessRepo) Generation() (uint64, bool) { return r.db.Generation() }

// Record implements access.Repository.
func (r AccessRepo) Record(ctx context.Context, entries ...audit.Entry) error {
	return r.db.Audit().Record(ctx, entries...)
}

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
		if err := insertUser(ctx, r.db, tx, u); err != nil {
			if errors.Is(err, access.ErrNameTaken) {
				return nil // another replica bootstrapped first
			}
			return err
		}
		if err := insertToken(ctx, r.db, tx, t); err != nil {
			return err
		}
		created = true
		return r.db.appendAudit(ctx, tx, audit.Entry{Actor: "system", Action: "user.create", Resource: "user:" + u.Name,
			Outcome: audit.Success, Reason: "first start: initial admin and token"})
	})
	return created, err
}

func insertUser(ctx context.Context, db *DB, tx *sql.Tx, u access.User) error {
	_, err := db.exec(ctx, tx, `INSERT INTO users (id, name, display_name, role, source, created_at, runner_group_id) VALUES ($1, $2, $3, $4, $5, $6, $7)`,
		u.ID, u.Name, u.DisplayName, string(u.Role), u.Source, u.CreatedAt, nullString(u.RunnerGroupID))
	if isUniqueViolation(err) {
		return fmt.Errorf("%w: user %q", access.ErrNameTaken, u.Name)
	}
	if err != nil {
		return fmt.Errorf("insert user: %w", err)
	}
	return nil
}

func insertToken(ctx context.Context, db *DB, tx *sql.Tx, t access.TokenRecord) error {
	if _, err := db.exec(ctx, tx, `INSERT INTO api_tokens (id, user_id, name, hash, expires_at, created_at) VALUES ($1, $2, $3, $4, $5, $6)`,
		t.ID, t.UserID, t.Name, t.Hash, nullTime(t.ExpiresAt), t.CreatedAt); err != nil {
		return fmt.Errorf("insert token: %w", err)
	}
	return nil
}

func nullString(s string) sql.NullString { return sql.NullString{String: s, Valid: s != ""} }

func nullTime(t time.Time) sql.NullTime {
	return sql.NullTime{Time: t.UTC(), Valid: !t.IsZero()}
}

// CreateUser implements access.Repository.
func (r AccessRepo) CreateUser(ctx context.Context, u access.User, e audit.Entry) error {
	return r.db.write(ctx, e, func(tx *sql.Tx) error { return insertUser(ctx, r.db, tx, u) })
}

const userColumns = `u.id, u.name, u.display_name, u.role, u.source, u.created_at, COALESCE(u.runner_group_id, ''), COALESCE(rg.name, '')
	FROM users u LEFT JOIN runner_groups rg ON rg.id = u.runner_group_id`

func scanUser(row interface{ Scan(...any) error }) (access.User, error) {
	var (
		u    access.User
		role string
	)
	err := row.Scan(&u.ID, &u.Name, &u.DisplayName, &role, &u.Source, &u.CreatedAt, &u.RunnerGroupID, &u.RunnerGroup)
	u.Role, u.CreatedAt = access.Role(role), u.CreatedAt.UTC()
	return u, err
}

// User implements access.Repository.
func (r AccessRepo) User(ctx context.Context, idOrName string) (access.User, error) {
	u, err := scanUser(r.db.queryRow(ctx, `SELECT `+userColumns+` WHERE u.id = $1 OR lower(u.name) = lower($1)`, idOrName))
	if errors.Is(err, sql.ErrNoRows) {
		return u, fmt.Errorf("%w: user %q", access.ErrNotFound, idOrName)
	}
	if err != nil {
		return u, fmt.Errorf("read user: %w", err)
	}
	return u, nil
}

// UserByName implements access.Repository.
func (r AccessRepo) UserByName(ctx context.Context, name string) (access.User, error) {
	u, err := scanUser(r.db.queryRow(ctx, `SELECT `+userColumns+` WHERE lower(u.name) = lower($1)`, name))
	if errors.Is(err, sql.ErrNoRows) {
		return u, fmt.Errorf("%w: user %q", access.ErrNotFound, name)
	}
	if err != nil {
		return u, fmt.Errorf("read user: %w", err)
	}
	return u, nil
}

// Users implements access.Repository.
func (r AccessRepo) Users(ctx context.Context, after string, limit int) ([]access.User, error) {
	return queryList(ctx, r.db, scanUser, `SELECT `+userColumns+` WHERE u.id > $1 ORDER BY u.id LIMIT $2`, after, limit)
}

// scanAll runs query on q (the database or a transaction) and scans every
// row with scan.
func scanAll[T any](ctx context.Context, q interface {
	QueryContext(context.Context, string, ...any) (*sql.Rows, error)
}, query string, scan func(interface{ Scan(...any) error }) (T, error), args ...any) ([]T, error) {
	rows, err := q.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, fmt.Errorf("query: %w", err)
	}
	return scanRows(rows, scan)
}

// UpdateUser implements access.Repository.
func (r AccessRepo) UpdateUser(ctx context.Context, u access.User, e audit.Entry) error {
	return r.db.write(ctx, e, func(tx *sql.Tx) error {
		res, err := r.db.exec(ctx, tx, `UPDATE users SET display_name = $2, role = $3, runner_group_id = $4 WHERE id = $1`,
			u.ID, u.DisplayName, string(u.Role), nullString(u.RunnerGroupID))
		if err != nil {
			return fmt.Errorf("update user: %w", err)
		}
		return mustAffect(res, fmt.Errorf("%w: user %q", access.ErrNotFound, u.Name))
	})
}

// DeleteUser implements access.Repository.
func (r AccessRepo) DeleteUser(ctx context.Context, id string, e audit.Entry) error {
	return r.db.write(ctx, e, func(tx *sql.Tx) error { return deleteUser(ctx, r.db, tx, id) })
}

// deleteUser deletes a user who owns nothing, with their shares and grants
// (their tokens and memberships go by cascade).
func deleteUser(ctx context.Context, db *DB, tx *sql.Tx, id string) error {
	for _, q := range []string{
		`DELETE FROM shares WHERE principal_kind = 'user' AND principal_id = $1`,
		`DELETE FROM store_grants WHERE principal_kind = 'user' AND principal_id = $1`,
	} {
		if _, err := db.exec(ctx, tx, q, id); err != nil {
			return fmt.Errorf("delete user: %w", err)
		}
	}
	res, err := db.exec(ctx, tx, `DELETE FROM users WHERE id = $1`, id)
	if isForeignKeyViolation(err) {
		return fmt.Errorf("%w: the user still owns environment variables, credentials or connections; "+
			"delete the user with transferTo=<user> to give everything they own to another user", access.ErrInUse)
	}
	if err != nil {
		return fmt.Errorf("delete user: %w", err)
	}
	return mustAffect(res, fmt.Errorf("%w: user %s", access.ErrNotFound, id))
}

// CreateGroup implements access.Repository.
func (r AccessRepo) CreateGroup(ctx context.Context, g access.Group, e audit.Entry) error {
	return r.db.write(ctx, e, func(tx *sql.Tx) error {
		_, err := r.db.exec(ctx, tx, `INSERT INTO groups (id, name, created_at) VALUES ($1, $2, $3)`, g.ID, g.Name, g.CreatedAt)
		if isUniqueViolation(err) {
			return fmt.Errorf("%w: group %q", access.ErrNameTaken, g.Name)
		}
		if err != nil {
			return fmt.Errorf("insert group: %w", err)
		}
		return nil
	})
}

func scanGroup(row interface{ Scan(...any) error }) (access.Group, error) {
	var g access.Group
	err := row.Scan(&g.ID, &g.Name, &g.CreatedAt)
	g.CreatedAt = g.CreatedAt.UTC()
	return g, err
}

// Group implements access.Repository.
func (r AccessRepo) Group(ctx context.Context, idOrName string) (access.Group, error) {
	g, err := scanGroup(r.db.queryRow(ctx, `SELECT id, name, created_at FROM groups WHERE id = $1 OR lower(name) = lower($1)`, idOrName))
	if errors.Is(err, sql.ErrNoRows) {
		return g, fmt.Errorf("%w: group %q", access.ErrNotFound, idOrName)
	}
	if err != nil {
		return g, fmt.Errorf("read group: %w", err)
	}
	return g, nil
}

// Groups implements access.Repository.
func (r AccessRepo) Groups(ctx context.Context, after string, limit int) ([]access.Group, error) {
	return queryList(ctx, r.db, scanGroup, `SELECT id, name, created_at FROM groups WHERE id > $1 ORDER BY id LIMIT $2`, after, limit)
}

// GroupsByName implements access.Repository.
func (r AccessRepo) GroupsByName(ctx context.Context, names []string) ([]access.Group, error) {
	if len(names) == 0 {
		return nil, nil
	}
	ph, args := placeholders(1, lowerAll(names))
	return queryList(ctx, r.db, scanGroup, `SELECT id, name, created_at FROM groups WHERE lower(name) IN (`+ph+`)`, args...)
}

func lowerAll(in []string) []string {
	out := make([]string, len(in))
	for i, s := range in {
		out[i] = strings.ToLower(s)
	}
	return out
}

// placeholders returns "$first, $first+1, ..." for values, and the values as args.
func placeholders(first int, values []string) (string, []any) {
	ph := make([]string, len(values))
	args := make([]any, len(values))
	for i, v := range values {
		ph[i] = fmt.Sprintf("$%d", first+i)
		args[i] = v
	}
	return strings.Join(ph, ", "), args
}

// DeleteGroup implements access.Repository.
func (r AccessRepo) DeleteGroup(ctx context.Context, id string, e audit.Entry) error {
	return r.db.write(ctx, e, func(tx *sql.Tx) error {
		if err := r.groupIsNoLastOwner(ctx, tx, id); err != nil {
			return err
		}
		for _, q := range []string{
			`DELETE FROM shares WHERE principal_kind = 'group' AND principal_id = $1`,
			`DELETE FROM store_grants WHERE principal_kind = 'group' AND principal_id = $1`,
		} {
			if _, err := r.db.exec(ctx, tx, q, id); err != nil {
				return fmt.Errorf("delete group: %w", err)
			}
		}
		res, err := r.db.exec(ctx, tx, `DELETE FROM groups WHERE id = $1`, id)
		if err != nil {
			return fmt.Errorf("delete group: %w", err)
		}
		return mustAffect(res, fmt.Errorf("%w: group %s", access.ErrNotFound, id))
	})
}

// groupIsNoLastOwner refuses, with access.ErrLastOwner naming them, to
// delete a group that is the last owner or co-owner of an object: the
// objects' rows are locked first (PostgreSQL; SQLite runs one write
// transaction at a time), as a change of their shares locks them, so a
// concurrent removal of another owner cannot slip between check and delete.
func (r AccessRepo) groupIsNoLastOwner(ctx context.Context, tx *sql.Tx, groupID string) error {
	const held = `SELECT object_id FROM shares WHERE object_kind = '%s' AND principal_kind = 'group' AND principal_id = $1
		AND role IN ('owner', 'co-owner')`
	if r.db.dialect == Postgres {
		for kind, table := range objectTables {
			if _, err := r.db.exec(ctx, tx, `SELECT id FROM `+table+` WHERE id IN (`+fmt.Sprintf(held, kind)+`) FOR UPDATE`, groupID); err != nil {
				return fmt.Errorf("delete group: lock its objects: %w", err)
			}
		}
	}
	now := time.Now().UTC()
	active := func(t string) string {
		return t + `.role IN ('owner', 'co-owner') AND (` + t + `.expires_at IS NULL OR ` + t + `.expires_at > $2)`
	}
	orphans, err := queryListIn(ctx, r.db, tx, scanString, `SELECT x.object_kind || ':' || COALESCE(c.name, v.schema_name, x.object_id) FROM shares x
		LEFT JOIN credentials c ON x.object_kind = 'credential' AND c.id = x.object_id
		LEFT JOIN environment_variables v ON x.object_kind = 'variable' AND v.id = x.object_id
		WHERE x.principal_kind = 'group' AND x.principal_id = $1 AND `+active("x")+`
		AND NOT EXISTS (SELECT 1 FROM shares y WHERE y.object_kind = x.object_kind AND y.object_id = x.object_id
			AND NOT (y.principal_kind = 'group' AND y.principal_id = $1) AND `+active("y")+`)
		ORDER BY 1`, groupID, now)
	if err != nil {
		return fmt.Errorf("delete group: %w", err)
	}
	if len(orphans) > 0 {
		return fmt.Errorf("the group is the last owner or co-owner of %s: give another user or group that role first: %w",
			strings.Join(orphans, ", "), access.ErrLastOwner)
	}
	return nil
}

// AddMember implements access.Repository.
func (r AccessRepo) AddMember(ctx context.Context, groupID, userID string, e audit.Entry) error {
	return r.db.write(ctx, e, func(tx *sql.Tx) error {
		if _, err := r.db.exec(ctx, tx, `INSERT INTO group_members (group_id, user_id) VALUES ($1, $2) ON CONFLICT DO NOTHING`, groupID, userID); err != nil {
			return fmt.Errorf("add member: %w", err)
		}
		return nil
	})
}

// RemoveMember implements access.Repository: it ends the membership
// whether an admin or the identity provider made it (the provider's comes
// back at the user's next sign-in if their token still names the group).
func (r AccessRepo) RemoveMember(ctx context.Context, groupID, userID string, e audit.Entry) error {
	return r.db.write(ctx, e, func(tx *sql.Tx) error {
		var n int64
		for _, q := range []string{
			`DELETE FROM group_members WHERE group_id = $1 AND user_id = $2`,
			`DELETE FROM oidc_group_members WHERE group_id = $1 AND user_id = $2`,
		} {
			res, err := r.db.exec(ctx, tx, q, groupID, userID)
			if err != nil {
				return fmt.Errorf("remove member: %w", err)
			}
			k, err := res.RowsAffected()
			if err != nil {
				return fmt.Errorf("remove member: %w", err)
			}
			n += k
		}
		if n == 0 {
			return fmt.Errorf("%w: the user is not a member of the group", access.ErrNotFound)
		}
		return nil
	})
}

// Members implements access.Repository: members an admin added and members
// the identity provider asserted.
func (r AccessRepo) Members(ctx context.Context, groupID string) ([]access.User, error) {
	return queryList(ctx, r.db, scanUser, `SELECT `+userColumns+` JOIN (
		SELECT user_id FROM group_members WHERE group_id = $1 UNION SELECT user_id FROM oidc_group_members WHERE group_id = $1
	) m ON m.user_id = u.id ORDER BY lower(u.name)`, groupID)
}

// GroupIDsOf implements access.Repository: the groups an admin put the user
// in and those the identity provider named at their last sign-in.
func (r AccessRepo) GroupIDsOf(ctx context.Context, userID string) ([]string, error) {
	return queryList(ctx, r.db, scanString,
		`SELECT group_id FROM group_members WHERE user_id = $1 UNION SELECT group_id FROM oidc_group_members WHERE user_id = $1`, userID)
}

// OIDCGroupIDsOf implements access.Repository.
func (r AccessRepo) OIDCGroupIDsOf(ctx context.Context, userID string) ([]string, error) {
	return queryList(ctx, r.db, scanString, `SELECT group_id FROM oidc_group_members WHERE user_id = $1 ORDER BY group_id`, userID)
}

// SetOIDCGroups implements access.Repository.
func (r AccessRepo) SetOIDCGroups(ctx context.Context, userID string, groupIDs []string, e audit.Entry) error {
	return r.db.write(ctx, e, func(tx *sql.Tx) error {
		if _, err := r.db.exec(ctx, tx, `DELETE FROM oidc_group_members WHERE user_id = $1`, userID); err != nil {
			return fmt.Errorf("set oidc groups: %w", err)
		}
		for _, g := range groupIDs {
			if _, err := r.db.exec(ctx, tx, `INSERT INTO oidc_group_members (group_id, user_id) VALUES ($1, $2) ON CONFLICT DO NOTHING`, g, userID); err != nil {
				return fmt.Errorf("set oidc groups: %w", err)
			}
		}
		return nil
	})
}

func scanString(row interface{ Scan(...any) error }) (string, error) {
	var s string
	return s, row.Scan(&s)
}

// CreateToken implements access.Repository.
func (r AccessRepo) CreateToken(ctx context.Context, t access.TokenRecord, e audit.Entry) error {
	return r.db.write(ctx, e, func(tx *sql.Tx) error { return insertToken(ctx, r.db, tx, t) })
}

const tokenColumns = `t.id, t.user_id, u.name, t.name, t.hash, t.expires_at, t.revoked_at, t.last_used_at, t.created_at`

func scanToken(row interface{ Scan(...any) error }) (access.TokenRecord, error) {
	var (
		t                      access.TokenRecord
		expires, revoked, used sql.NullTime
	)
	err := row.Scan(&t.ID, &t.UserID, &t.User, &t.Name, &t.Hash, &expires, &revoked, &used, &t.CreatedAt)
	t.ExpiresAt, t.RevokedAt, t.LastUsedAt = utcOrZero(expires), utcOrZero(revoked), utcOrZero(used)
	t.CreatedAt = t.CreatedAt.UTC()
	return t, err
}

func utcOrZero(t sql.NullTime) time.Time {
	if !t.Valid {
		return time.Time{}
	}
	return t.Time.UTC()
}

// Token implements access.Repository.
func (r AccessRepo) Token(ctx context.Context, id string) (access.TokenRecord, access.User, error) {
	var (
		t    access.TokenRecord
		u    access.User
		role string
	)
	row := r.db.queryRow(ctx, `SELECT `+tokenColumns+`, u.display_name, u.role, u.source, u.created_at,
		COALESCE(u.runner_group_id, '')
		FROM api_tokens t JOIN users u ON u.id = t.user_id WHERE t.id = $1`, id)
	var expires, revoked, used sql.NullTime
	err := row.Scan(&t.ID, &t.UserID, &t.User, &t.Name, &t.Hash, &expires, &revoked, &used, &t.CreatedAt,
		&u.DisplayName, &role, &u.Source, &u.CreatedAt, &u.RunnerGroupID)
	if errors.Is(err, sql.ErrNoRows) {
		return t, u, fmt.Errorf("%w: token %s", access.ErrNotFound, id)
	}
	if err != nil {
		return t, u, fmt.Errorf("read token: %w", err)
	}
	t.ExpiresAt, t.RevokedAt, t.LastUsedAt = utcOrZero(expires), utcOrZero(revoked), utcOrZero(used)
	u.ID, u.Name, u.Role = t.UserID, t.User, access.Role(role)
	return t, u, nil
}

// Tokens implements access.Repository.
func (r AccessRepo) Tokens(ctx context.Context, userID string) ([]access.TokenRecord, error) {
	return queryList(ctx, r.db, scanToken, `SELECT `+tokenColumns+` FROM api_tokens t JOIN users u ON u.id = t.user_id
		WHERE $1 = '' OR t.user_id = $1 ORDER BY t.created_at, t.id`, userID)
}

// TouchToken implements access.Repository.
func (r AccessRepo) TouchToken(ctx context.Context, id string, at time.Time) error {
	if _, err := r.db.writeExec(ctx, `UPDATE api_tokens SET last_used_at = $2 WHERE id = $1`, id, at); err != nil {
		return fmt.Errorf("touch token: %w", err)
	}
	return nil
}

// RevokeToken implements access.Repository.
func (r AccessRepo) RevokeToken(ctx context.Context, id string, at time.Time, e audit.Entry) error {
	return r.db.write(ctx, e, func(tx *sql.Tx) error {
		res, err := r.db.exec(ctx, tx, `UPDATE api_tokens SET revoked_at = $2 WHERE id = $1 AND revoked_at IS NULL`, id, at)
		if err != nil {
			return fmt.Errorf("revoke token: %w", err)
		}
		return mustAffect(res, fmt.Errorf("%w: token %s (or it is revoked already)", access.ErrNotFound, id))
	})
}

// PutGrant implements access.Repository.
func (r AccessRepo) PutGrant(ctx context.Context, g access.Grant, e audit.Entry) error {
	return r.db.write(ctx, e, func(tx *sql.Tx) error {
		if _, err := r.db.exec(ctx, tx, `INSERT INTO store_grants (store_id, principal_kind, principal_id, prefix, created_at)
			VALUES ($1, $2, $3, $4, $5)
			ON CONFLICT (store_id, principal_kind, principal_id) DO UPDATE SET prefix = excluded.prefix`,
			g.StoreID, string(g.Principal.Kind), g.Principal.ID, g.Prefix, g.CreatedAt); err != nil {
			return fmt.Errorf("put grant: %w", err)
		}
		return nil
	})
}

// DeleteGrant implements access.Repository.
func (r AccessRepo) DeleteGrant(ctx context.Context, storeID string, p access.PrincipalRef, e audit.Entry) error {
	return r.db.write(ctx, e, func(tx *sql.Tx) error {
		res, err := r.db.exec(ctx, tx, `DELETE FROM store_grants WHERE store_id = $1 AND principal_kind = $2 AND principal_id = $3`,
			storeID, string(p.Kind), p.ID)
		if err != nil {
			return fmt.Errorf("delete grant: %w", err)
		}
		return mustAffect(res, fmt.Errorf("%w: %s holds no grant on the store", access.ErrNotFound, p))
	})
}

// principalNameSQL names a share's or grant's principal by joining users and groups.
const principalNameSQL = `COALESCE(pu.name, pg.name, '')`
const principalJoins = `
	LEFT JOIN users pu ON x.principal_kind = 'user' AND pu.id = x.principal_id
	LEFT JOIN groups pg ON x.principal_kind = 'group' AND pg.id = x.principal_id`

// Grants implements access.Repository.
func (r AccessRepo) Grants(ctx context.Context, storeID string) ([]access.Grant, error) {
	return queryList(ctx, r.db, func(row interface{ Scan(...any) error }) (access.Grant, error) {
		var (
			g    access.Grant
			kind string
		)
		err := row.Scan(&g.StoreID, &g.Store, &kind, &g.Principal.ID, &g.Principal.Name, &g.Prefix, &g.CreatedAt)
		g.Principal.Kind, g.CreatedAt = access.PrincipalKind(kind), g.CreatedAt.UTC()
		return g, err
	}, `SELECT x.store_id, s.name, x.principal_kind, x.principal_id, `+principalNameSQL+`, x.prefix, x.created_at
		FROM store_grants x JOIN stores s ON s.id = x.store_id`+principalJoins+`
		WHERE x.store_id = $1 ORDER BY x.principal_kind, 5`, storeID)
}

// Shares implements access.Repository.
func (r AccessRepo) Shares(ctx context.Context, kind access.ObjectKind, objectID string) ([]access.Share, error) {
	return queryList(ctx, r.db, scanShare, sharesSQL+`
		WHERE x.object_kind = $1 AND x.object_id = $2 ORDER BY x.created_at, x.principal_id, x.via_credential`, string(kind), objectID)
}

func putShares(ctx context.Context, db *DB, tx *sql.Tx, shares ...access.Share) error {
	for _, s := range shares {
		if _, err := db.exec(ctx, tx, putShareSQL,
			string(s.Object.Kind), s.Object.ID, string(s.Principal.Kind), s.Principal.ID, string(s.Role), nullTime(s.ExpiresAt), s.CreatedAt, s.Via.ID); err != nil {
			return fmt.Errorf("put share: %w", err)
		}
	}
	return nil
}

// shareColumns are the columns a share is written with.
var shareColumns = []string{"object_kind", "object_id", "principal_kind", "principal_id", "role", "expires_at", "created_at", "via_credential"}

// putShareSQL inserts one share or changes the one it replaces.
var putShareSQL = buildInsertSQL("shares", shareColumns, 1) + `
	ON CONFLICT (object_kind, object_id, principal_kind, principal_id, via_credential)
	DO UPDATE SET role = excluded.role, expires_at = excluded.expires_at`

// shareRow is s as the values of shareColumns.
func shareRow(s access.Share) []any {
	return []any{string(s.Object.Kind), s.Object.ID, string(s.Principal.Kind), s.Principal.ID, string(s.Role), nullTime(s.ExpiresAt), s.CreatedAt, s.Via.ID}
}

// insertNewShares inserts the shares of objects just created, many rows per
// statement: there is nothing for them to replace.
func insertNewShares(ctx context.Context, db *DB, tx *sql.Tx, shares []access.Share) error {
	rows := make([][]any, len(shares))
	for i, s := range shares {
		rows[i] = shareRow(s)
	}
	if err := db.insertRows(ctx, tx, "shares", shareColumns, rows); err != nil {
		return fmt.Errorf("put shares: %w", err)
	}
	return nil
}

// CreateRunnerGroup implements access.Repository.
func (r AccessRepo) CreateRunnerGroup(ctx context.Context, g access.RunnerGroup, e audit.Entry) error {
	return r.db.write(ctx, e, func(tx *sql.Tx) error {
		_, err := r.db.exec(ctx, tx, `INSERT INTO runner_groups (id, name, created_at) VALUES ($1, $2, $3)`, g.ID, g.Name, g.CreatedAt)
		if isUniqueViolation(err) {
			return fmt.Errorf("%w: runner group %q", access.ErrNameTaken, g.Name)
		}
		if err != nil {
			return fmt.Errorf("insert runner group: %w", err)
		}
		return nil
	})
}

func scanRunnerGroup(row interface{ Scan(...any) error }) (access.RunnerGroup, error) {
	var g access.RunnerGroup
	err := row.Scan(&g.ID, &g.Name, &g.CreatedAt)
	g.CreatedAt = g.CreatedAt.UTC()
	return g, err
}

// RunnerGroup implements access.Repository.
func (r AccessRepo) RunnerGroup(ctx context.Context, idOrName string) (access.RunnerGroup, error) {
	g, err := scanRunnerGroup(r.db.queryRow(ctx, `SELECT id, name, created_at FROM runner_groups WHERE id = $1 OR lower(name) = lower($1)`, idOrName))
	if errors.Is(err, sql.ErrNoRows) {
		return g, fmt.Errorf("%w: runner group %q", access.ErrNotFound, idOrName)
	}
	if err != nil {
		return g, fmt.Errorf("read runner group: %w", err)
	}
	return g, nil
}

// RunnerGroups implements access.Repository.
func (r AccessRepo) RunnerGroups(ctx context.Context, after string, limit int) ([]access.RunnerGroup, error) {
	return queryList(ctx, r.db, scanRunnerGroup, `SELECT id, name, created_at FROM runner_groups WHERE id > $1 ORDER BY id LIMIT $2`, after, limit)
}

// DeleteRunnerGroup implements access.Repository.
func (r AccessRepo) DeleteRunnerGroup(ctx context.Context, id string, e audit.Entry) error {
	return r.db.write(ctx, e, func(tx *sql.Tx) error {
		res, err := r.db.exec(ctx, tx, `DELETE FROM runner_groups WHERE id = $1`, id)
		if isForeignKeyViolation(err) {
			return fmt.Errorf("%w: runners or connections still use the runner group", access.ErrInUse)
		}
		if err != nil {
			return fmt.Errorf("delete runner group: %w", err)
		}
		return mustAffect(res, fmt.Errorf("%w: runner group %s", access.ErrNotFound, id))
	})
}
