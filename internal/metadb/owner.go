package metadb

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"github.com/credflow/credflow/internal/access"
	"github.com/credflow/credflow/internal/audit"
)

// ownerTables names, per kind, the table whose owner_id column holds an
// object's owner of record.
var ownerTables = map[access.ObjectKind]string{
	access.KindCredential: "credentials",
	access.KindVariable:   "environment_variables",
	access.KindConnection: "connections",
	access.KindSolution:   "solutions",
}

// SetOwner implements access.Owners.
func (r AccessRepo) SetOwner(ctx context.Context, ch access.OwnerChange, e audit.Entry) error {
	return r.db.write(ctx, e, func(tx *sql.Tx) error { return setOwner(ctx, r.db, tx, ch) })
}

// setOwner writes one change of owner. The owner of record changes only
// if it is still ch.From (a compare-and-set, so that two transfers of one
// object cannot both win); the shares are changed by conditional writes,
// never from a list read earlier.
func setOwner(ctx context.Context, db *DB, tx *sql.Tx, ch access.OwnerChange) error {
	table, ok := ownerTables[ch.Object.Kind]
	if !ok {
		return fmt.Errorf("set owner: unknown kind %q", ch.Object.Kind)
	}
	if ch.Primary {
		res, err := db.exec(ctx, tx, `UPDATE `+table+` SET owner_id = $3, updated_at = $4 WHERE id = $1 AND owner_id = $2`,
			ch.Object.ID, ch.From.ID, ch.To.ID, ch.At)
		if err != nil {
			return fmt.Errorf("set owner of %s: %w", ch.Object.Kind, err)
		}
		if err := mustAffect(res, fmt.Errorf("%s %q: %w", ch.Object.Kind, ch.Object.Name, access.ErrOwnerChanged)); err != nil {
			return err
		}
	}
	if ch.Object.Kind == access.KindConnection || ch.Object.Kind == access.KindSolution {
		return nil // connections and solutions have no shares
	}
	if _, err := db.exec(ctx, tx, `INSERT INTO shares (object_kind, object_id, principal_kind, principal_id, role, expires_at, created_at, via_credential)
		VALUES ($1, $2, 'user', $3, 'owner', NULL, $4, '')
		ON CONFLICT (object_kind, object_id, principal_kind, principal_id, via_credential) DO UPDATE SET role = 'owner', expires_at = NULL`,
		string(ch.Object.Kind), ch.Object.ID, ch.To.ID, ch.At); err != nil {
		return fmt.Errorf("give the owner share: %w", err)
	}
	var err error
	if ch.FromKeeps != "" {
		_, err = db.exec(ctx, tx, `UPDATE shares SET role = $4 WHERE object_kind = $1 AND object_id = $2
			AND principal_kind = 'user' AND principal_id = $3 AND role = 'owner' AND via_credential = ''`,
			string(ch.Object.Kind), ch.Object.ID, ch.From.ID, string(ch.FromKeeps))
	} else {
		_, err = db.exec(ctx, tx, `DELETE FROM shares WHERE object_kind = $1 AND object_id = $2
			AND principal_kind = 'user' AND principal_id = $3`, string(ch.Object.Kind), ch.Object.ID, ch.From.ID)
	}
	if err != nil {
		return fmt.Errorf("change the previous owner's share: %w", err)
	}
	for _, c := range ch.Cascade {
		if err := giveUse(ctx, db, tx, c, ch.To, ch.Object.ID, ch.At); err != nil {
			return err
		}
	}
	return nil
}

// giveUse makes sure p may use obj for good, as the new owner of the
// credential via uses it: a share of the user role that came from that
// credential, without expiry (a direct share p holds stays as it is).
func giveUse(ctx context.Context, db *DB, tx *sql.Tx, obj access.Object, p access.PrincipalRef, via string, at time.Time) error {
	if _, err := db.exec(ctx, tx, `INSERT INTO shares (object_kind, object_id, principal_kind, principal_id, role, expires_at, created_at, via_credential)
		VALUES ($1, $2, $3, $4, 'user', NULL, $5, $6)
		ON CONFLICT (object_kind, object_id, principal_kind, principal_id, via_credential) DO UPDATE SET role = 'user', expires_at = NULL`,
		string(obj.Kind), obj.ID, string(p.Kind), p.ID, at, via); err != nil {
		return fmt.Errorf("give the use of %s %q: %w", obj.Kind, obj.Name, err)
	}
	return nil
}

// Owned implements access.Owners.
func (r AccessRepo) Owned(ctx context.Context, userID string, now time.Time) ([]access.Owned, error) {
	ownerShare := func(kind, col string) string {
		return `EXISTS (SELECT 1 FROM shares s WHERE s.object_kind = '` + kind + `' AND s.object_id = ` + col + `
			AND s.principal_kind = 'user' AND s.principal_id = $1 AND s.role = 'owner'
			AND (s.expires_at IS NULL OR s.expires_at > $2))`
	}
	creds, err := queryList(ctx, r.db, func(row interface{ Scan(...any) error }) (access.Owned, error) {
		var (
			o          access.Owned
			user, pass access.Object
		)
		err := row.Scan(&o.Object.ID, &o.Object.Name, &o.Primary, &user.ID, &user.Name, &pass.ID, &pass.Name)
		o.Object.Kind, user.Kind, pass.Kind = access.KindCredential, access.KindVariable, access.KindVariable
		o.Uses = []access.Object{user, pass}
		return o, err
	}, `SELECT c.id, c.name, c.owner_id = $1, uv.id, uv.schema_name, pv.id, pv.schema_name FROM credentials c
		JOIN environment_variables uv ON uv.id = c.username_var_id
		JOIN environment_variables pv ON pv.id = c.password_var_id
		WHERE c.owner_id = $1 OR `+ownerShare("credential", "c.id")+` ORDER BY c.id`, userID, now)
	if err != nil {
		return nil, fmt.Errorf("list owned credentials: %w", err)
	}
	vars, err := queryList(ctx, r.db, func(row interface{ Scan(...any) error }) (access.Owned, error) {
		var o access.Owned
		err := row.Scan(&o.Object.ID, &o.Object.Name, &o.Primary)
		o.Object.Kind = access.KindVariable
		return o, err
	}, `SELECT v.id, v.schema_name, v.owner_id = $1 FROM environment_variables v
		WHERE v.owner_id = $1 OR `+ownerShare("variable", "v.id")+` ORDER BY v.id`, userID, now)
	if err != nil {
		return nil, fmt.Errorf("list owned environment variables: %w", err)
	}
	conns, err := queryList(ctx, r.db, func(row interface{ Scan(...any) error }) (access.Owned, error) {
		var (
			o                access.Owned
			cred, user, pass access.Object
		)
		err := row.Scan(&o.Object.ID, &o.Object.Name, &cred.ID, &cred.Name, &user.ID, &user.Name, &pass.ID, &pass.Name)
		o.Object.Kind, o.Primary = access.KindConnection, true
		if cred.ID != "" {
			cred.Kind, user.Kind, pass.Kind = access.KindCredential, access.KindVariable, access.KindVariable
			o.Uses = []access.Object{cred, user, pass}
		}
		return o, err
	}, `SELECT c.id, c.name, COALESCE(cr.id, ''), COALESCE(cr.name, ''), COALESCE(uv.id, ''), COALESCE(uv.schema_name, ''),
			COALESCE(pv.id, ''), COALESCE(pv.schema_name, '')
		FROM connections c
		LEFT JOIN credentials cr ON cr.id = c.credential_id
		LEFT JOIN environment_variables uv ON uv.id = cr.username_var_id
		LEFT JOIN environment_variables pv ON pv.id = cr.password_var_id
		WHERE c.owner_id = $1 ORDER BY c.id`, userID)
	if err != nil {
		return nil, fmt.Errorf("list owned connections: %w", err)
	}
	sols, err := queryList(ctx, r.db, func(row interface{ Scan(...any) error }) (access.Owned, error) {
		o := access.Owned{Object: access.Object{Kind: access.KindSolution}, Primary: true}
		err := row.Scan(&o.Object.ID, &o.Object.Name)
		return o, err
	}, `SELECT id, name FROM solutions WHERE owner_id = $1 ORDER BY id`, userID)
	if err != nil {
		return nil, fmt.Errorf("list owned solutions: %w", err)
	}
	return append(append(append(creds, vars...), conns...), sols...), nil
}

// DeleteUserHandingOver implements access.Owners.
func (r AccessRepo) DeleteUserHandingOver(ctx context.Context, userID string, changes []access.OwnerChange, entries []audit.Entry) error {
	return r.db.inTx(ctx, func(tx *sql.Tx) error {
		for _, ch := range changes {
			if err := setOwner(ctx, r.db, tx, ch); err != nil {
				return err
			}
		}
		if err := deleteUser(ctx, r.db, tx, userID); err != nil {
			return err
		}
		return r.db.appendAudit(ctx, tx, entries...)
	})
}
