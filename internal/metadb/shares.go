package metadb

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"

	"github.com/credflow/credflow/internal/access"
)

// sharesSQL selects shares (alias x) with their principal's name and, for a
// share given through a credential, that credential's name ("" once it is
// deleted).
const sharesSQL = `SELECT x.object_kind, x.object_id, x.principal_kind, x.principal_id, ` + principalNameSQL + `, x.role, x.expires_at, x.created_at,
		x.via_credential, COALESCE(vc.name, '')
		FROM shares x` + principalJoins + `
		LEFT JOIN credentials vc ON x.via_credential <> '' AND vc.id = x.via_credential`

func scanShare(row interface{ Scan(...any) error }) (access.Share, error) {
	var (
		s            access.Share
		okind, pkind string
		role         string
		expires      sql.NullTime
	)
	err := row.Scan(&okind, &s.Object.ID, &pkind, &s.Principal.ID, &s.Principal.Name, &role, &expires, &s.CreatedAt, &s.Via.ID, &s.Via.Name)
	s.Object.Kind, s.Principal.Kind, s.Role = access.ObjectKind(okind), access.PrincipalKind(pkind), access.ObjectRole(role)
	s.ExpiresAt, s.CreatedAt = utcOrZero(expires), s.CreatedAt.UTC()
	if s.Via.ID != "" {
		s.Via.Kind = access.KindCredential
	}
	return s, err
}

// objectTables names the table of each shared kind, for the lock a change
// of shares takes.
var objectTables = map[access.ObjectKind]string{
	access.KindCredential: "credentials",
	access.KindVariable:   "environment_variables",
}

// ChangeShares implements access.Repository. The object's row is locked
// (SELECT ... FOR UPDATE on PostgreSQL; SQLite's write transactions begin
// IMMEDIATE and so run one at a time), so the shares decide sees are the
// ones its changes apply to.
func (r AccessRepo) ChangeShares(ctx context.Context, obj access.Object, related []access.Object, decide func([]access.Share) (access.ShareChange, error)) error {
	table, ok := objectTables[obj.Kind]
	if !ok {
		return fmt.Errorf("change shares: %s objects are not shared", obj.Kind)
	}
	var ch access.ShareChange
	return r.db.inTx(ctx, func(tx *sql.Tx) error {
		lock := `SELECT id FROM ` + table + ` WHERE id = $1`
		if r.db.dialect == Postgres {
			lock += ` FOR UPDATE`
		}
		var id string
		err := tx.QueryRowContext(ctx, r.db.q(lock), obj.ID).Scan(&id)
		if errors.Is(err, sql.ErrNoRows) {
			return fmt.Errorf("%w: %s %s", access.ErrNotFound, obj.Kind, obj.Name)
		}
		if err != nil {
			return fmt.Errorf("lock %s: %w", obj.Kind, err)
		}
		objs := append([]access.Object{obj}, related...)
		conds := make([]string, len(objs))
		args := make([]any, 0, 2*len(objs))
		for i, o := range objs {
			conds[i] = fmt.Sprintf("(x.object_kind = $%d AND x.object_id = $%d)", 2*i+1, 2*i+2)
			args = append(args, string(o.Kind), o.ID)
		}
		current, err := queryListIn(ctx, r.db, tx, scanShare, sharesSQL+` WHERE `+strings.Join(conds, " OR ")+`
			ORDER BY x.created_at, x.principal_id, x.via_credential`, args...)
		if err != nil {
			return fmt.Errorf("read shares: %w", err)
		}
		if ch, err = decide(current); err != nil {
			return err
		}
		for _, s := range ch.Delete {
			if _, err := r.db.exec(ctx, tx, `DELETE FROM shares WHERE object_kind = $1 AND object_id = $2
				AND principal_kind = $3 AND principal_id = $4 AND via_credential = $5`,
				string(s.Object.Kind), s.Object.ID, string(s.Principal.Kind), s.Principal.ID, s.Via.ID); err != nil {
				return fmt.Errorf("delete share: %w", err)
			}
		}
		if err := putShares(ctx, r.db, tx, ch.Put...); err != nil {
			return err
		}
		return r.db.appendAudit(ctx, tx, ch.Audit)
	})
}

// queryListIn is queryList inside a transaction.
func queryListIn[T any](ctx context.Context, db *DB, tx *sql.Tx, scan func(interface{ Scan(...any) error }) (T, error), query string, args ...any) ([]T, error) {
	return scanAll(ctx, tx, db.q(query), scan, args...)
}
