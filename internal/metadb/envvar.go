package metadb

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"

	"github.com/credflow/credflow/internal/access"
	"github.com/credflow/credflow/internal/audit"
	"github.com/credflow/credflow/internal/envvar"
)

// Variables implements envvar.Repository.
type Variables struct{ db *DB }

var _ envvar.Repository = Variables{}

// Variables returns the environment-variable repository.
func (db *DB) Variables() Variables { return Variables{db} }

const variableColumns = `
	v.id, v.schema_name, v.display_name, v.description, v.type, v.value,
	v.store_id, s.name, v.secret_ref, v.secret_enabled, v.secret_expires_at, v.secret_checked_at, v.secret_problem, v.secret_notice,
	v.owner_id, u.name, v.created_at, v.updated_at, v.from_store_id, fs.name, v.from_ref, v.from_field
	FROM environment_variables v
	JOIN users u ON u.id = v.owner_id
	LEFT JOIN stores s ON s.id = v.store_id
	LEFT JOIN stores fs ON fs.id = v.from_store_id`

func scanVariable(row interface{ Scan(...any) error }) (envvar.Variable, error) {
	var (
		v                         envvar.Variable
		typ                       string
		value, storeID, storeName sql.NullString
		ref                       sql.NullString
		enabled                   sql.NullBool
		expires, checked          sql.NullTime
		problem, notice           string
		fromStoreID, fromStore    sql.NullString
		fromRef, fromField        sql.NullString
	)
	if err := row.Scan(&v.ID, &v.SchemaName, &v.DisplayName, &v.Description, &typ, &value,
		&storeID, &storeName, &ref, &enabled, &expires, &checked, &problem, &notice, &v.OwnerID, &v.Owner, &v.CreatedAt, &v.UpdatedAt,
		&fromStoreID, &fromStore, &fromRef, &fromField); err != nil {
		return v, err
	}
	if fromStoreID.Valid {
		v.From = &envvar.StoreField{StoreID: fromStoreID.String, Store: fromStore.String, Ref: fromRef.String, Field: fromField.String}
	}
	v.Type = envvar.Type(typ)
	v.Value = value.String
	if storeID.Valid {
		v.Secret = &envvar.SecretRef{StoreID: storeID.String, Store: storeName.String, Ref: ref.String,
			Enabled: !enabled.Valid || enabled.Bool, ExpiresAt: utcOrZero(expires), CheckedAt: utcOrZero(checked),
			Problem: envvar.Status(problem), Notice: envvar.Status(notice)}
	}
	v.CreatedAt, v.UpdatedAt = v.CreatedAt.UTC(), v.UpdatedAt.UTC()
	return v, nil
}

// variableColumnsFor splits v into the value/store/ref columns.
func variableColumnsFor(v envvar.Variable) (value, storeID, ref any) {
	if v.Type == envvar.TypeText {
		return v.Value, nil, nil
	}
	return nil, v.Secret.StoreID, v.Secret.Ref
}

// secretMetaColumns are what the store said of a secret variable's secret.
func secretMetaColumns(v envvar.Variable) (enabled, expires, checked, problem, notice any) {
	if v.Secret == nil {
		return nil, nil, nil, "", ""
	}
	return v.Secret.Enabled, nullTime(v.Secret.ExpiresAt), nullTime(v.Secret.CheckedAt), string(v.Secret.Problem), string(v.Secret.Notice)
}

// Create implements envvar.Repository.
//
// Concurrent creates are written together: their variables, shares and
// audit records in a few multi-row statements (see writeRows). Like
// writeNew, a create leaves the caches alone.
func (r Variables) Create(ctx context.Context, v envvar.Variable, owner access.Share, e audit.Entry) error {
	w := ownedRows(ctx, tableRows{"environment_variables", variableInsertColumns, [][]any{variableInsertRow(v)}}, owner, e)
	return r.db.writeRows(ctx, w, func(tx *sql.Tx) error {
		if err := r.insert(ctx, tx, v); err != nil {
			return err
		}
		if err := insertNewShares(ctx, r.db, tx, []access.Share{owner}); err != nil {
			return err
		}
		return r.db.appendAudit(ctx, tx, e)
	})
}

// variableInsertColumns are the columns insert and insertMany write.
var variableInsertColumns = []string{"id", "schema_name", "display_name", "description", "type", "value", "store_id", "secret_ref",
	"owner_id", "created_at", "updated_at", "secret_enabled", "secret_expires_at", "secret_checked_at", "secret_problem",
	"secret_notice", "from_store_id", "from_ref", "from_field"}

// variableInsertRow is v as the values of variableInsertColumns.
func variableInsertRow(v envvar.Variable) []any {
	value, storeID, ref := variableColumnsFor(v)
	enabled, expires, checked, problem, notice := secretMetaColumns(v)
	var fromStoreID, fromRef, fromField any
	if v.From != nil {
		fromStoreID, fromRef, fromField = v.From.StoreID, v.From.Ref, v.From.Field
	}
	return []any{v.ID, v.SchemaName, v.DisplayName, v.Description, string(v.Type), value, storeID, ref, v.OwnerID, v.CreatedAt, v.UpdatedAt,
		enabled, expires, checked, problem, notice, fromStoreID, fromRef, fromField}
}

// insertMany inserts new variables with their owners' shares, many rows
// per statement (a bulk import). A name taken meanwhile fails them all.
func (r Variables) insertMany(ctx context.Context, tx *sql.Tx, vs []envvar.Variable, owners []access.Share) error {
	rows := make([][]any, len(vs))
	for i, v := range vs {
		rows[i] = variableInsertRow(v)
	}
	err := r.db.insertRows(ctx, tx, "environment_variables", variableInsertColumns, rows)
	if isUniqueViolation(err) {
		return fmt.Errorf("%w: a variable of the same name was created meanwhile", envvar.ErrNameTaken)
	}
	if err != nil {
		return fmt.Errorf("insert environment variables: %w", err)
	}
	return insertNewShares(ctx, r.db, tx, owners)
}

func (r Variables) insert(ctx context.Context, tx *sql.Tx, v envvar.Variable) error {
	err := r.db.insertRows(ctx, tx, "environment_variables", variableInsertColumns, [][]any{variableInsertRow(v)})
	if isUniqueViolation(err) {
		return fmt.Errorf("%w: %s", envvar.ErrNameTaken, v.SchemaName)
	}
	if err != nil {
		return fmt.Errorf("insert environment variable: %w", err)
	}
	return nil
}

var _ envvar.StateRecorder = Variables{}

// RecordSecretState implements envvar.StateRecorder: run-time state, which
// changes no authorization data and leaves the caches alone.
func (r Variables) RecordSecretState(ctx context.Context, id string, st envvar.SecretRef) error {
	_, err := r.db.writeExec(ctx, `UPDATE environment_variables
		SET secret_enabled = $2, secret_expires_at = $3, secret_checked_at = $4, secret_problem = $5
		WHERE id = $1 AND store_id = $6 AND secret_ref = $7`,
		id, st.Enabled, nullTime(st.ExpiresAt), nullTime(st.CheckedAt), string(st.Problem), st.StoreID, st.Ref)
	if err != nil {
		return fmt.Errorf("record secret state: %w", err)
	}
	return nil
}

// ReferencingSecret lists the secret variables of the store storeID whose
// reference mentions secretName, compared case-insensitively: a superset of
// those that reference that secret, which the caller narrows by parsing each
// reference with its store.
func (r Variables) ReferencingSecret(ctx context.Context, storeID, secretName string) ([]envvar.Variable, error) {
	esc := strings.NewReplacer(`\`, `\\`, "%", `\%`, "_", `\_`).Replace(strings.ToLower(secretName))
	rows, err := r.db.query(ctx, `SELECT `+variableColumns+`
		WHERE v.store_id = $1 AND lower(v.secret_ref) LIKE $2 ESCAPE '\' ORDER BY v.id`, storeID, "%"+esc+"%")
	if err != nil {
		return nil, fmt.Errorf("list variables referencing a secret: %w", err)
	}
	defer rows.Close()
	var out []envvar.Variable
	for rows.Next() {
		v, err := scanVariable(rows)
		if err != nil {
			return nil, fmt.Errorf("list variables referencing a secret: %w", err)
		}
		out = append(out, v)
	}
	return out, rows.Err()
}

// SetSecretNotice records what the store announced of the variables'
// secret's expiry (envvar.StatusExpiring, StatusExpired, or "" to clear
// it): run-time state, like RecordSecretState, that needs no audit record of
// its own here (the caller audits the announcement).
func (r Variables) SetSecretNotice(ctx context.Context, ids []string, notice envvar.Status) error {
	return r.db.inTxQuiet(ctx, func(tx *sql.Tx) error {
		for _, id := range ids {
			if _, err := r.db.exec(ctx, tx, `UPDATE environment_variables SET secret_notice = $2 WHERE id = $1`, id, string(notice)); err != nil {
				return fmt.Errorf("record secret notice: %w", err)
			}
		}
		return nil
	})
}

// SchemaNamesWithPrefix implements envvar.Repository.
func (r Variables) SchemaNamesWithPrefix(ctx context.Context, prefix string) ([]string, error) {
	// Schema names hold only letters, digits and '_'; '_' is LIKE's
	// one-character wildcard, so escape it.
	pattern := strings.ReplaceAll(strings.ToLower(prefix), "_", `\_`) + "%"
	rows, err := r.db.query(ctx, `SELECT schema_name FROM environment_variables WHERE lower(schema_name) LIKE $1 ESCAPE '\'`, pattern)
	if err != nil {
		return nil, fmt.Errorf("list schema names: %w", err)
	}
	defer rows.Close()
	var names []string
	for rows.Next() {
		var n string
		if err := rows.Scan(&n); err != nil {
			return nil, fmt.Errorf("list schema names: %w", err)
		}
		names = append(names, n)
	}
	return names, rows.Err()
}

// Get implements envvar.Repository.
func (r Variables) Get(ctx context.Context, idOrName string) (envvar.Variable, error) {
	v, err := scanVariable(r.db.queryRow(ctx, `SELECT `+variableColumns+`
		WHERE v.id = $1 OR lower(v.schema_name) = lower($1)`, idOrName))
	if errors.Is(err, sql.ErrNoRows) {
		return v, fmt.Errorf("%w: %q", envvar.ErrNotFound, idOrName)
	}
	if err != nil {
		return v, fmt.Errorf("read environment variable: %w", err)
	}
	return v, nil
}

// List implements envvar.Repository.
func (r Variables) List(ctx context.Context, q envvar.ListQuery) ([]envvar.Variable, error) {
	var (
		page []envvar.Variable
		err  error
	)
	typ := string(q.Type)
	full := func() ([]envvar.Variable, error) {
		ids, args := visibleIDs(q.Viewer, access.KindVariable, "$1", "", 4)
		return queryList(ctx, r.db, scanVariable, `SELECT `+variableColumns+`
			WHERE v.id > $1 AND ($2 = '' OR v.type = $2) AND v.id IN (`+ids+`)
			ORDER BY v.id LIMIT $3`, append([]any{q.After, typ, q.Limit}, args...)...)
	}
	switch {
	case q.Viewer.All:
		page, err = queryList(ctx, r.db, scanVariable, `SELECT `+variableColumns+`
			WHERE v.id > $1 AND ($2 = '' OR v.type = $2) ORDER BY v.id LIMIT $3`, q.After, typ, q.Limit)
	case typ != "":
		// A page of one type may need more visible ids than it has rows.
		page, err = full()
	default:
		page, err = listVisible(func() ([]envvar.Variable, error) {
			ids, args := visibleIDs(q.Viewer, access.KindVariable, "$1", "$2", 3)
			return queryList(ctx, r.db, scanVariable, `SELECT `+variableColumns+`
				WHERE v.id IN (`+ids+`) ORDER BY v.id`, append([]any{q.After, q.Limit}, args...)...)
		}, full, q.Limit)
	}
	if err != nil {
		return nil, fmt.Errorf("list environment variables: %w", err)
	}
	return page, nil
}

// Update implements envvar.Repository.
func (r Variables) Update(ctx context.Context, v envvar.Variable, e audit.Entry) error {
	return r.db.write(ctx, e, func(tx *sql.Tx) error { return updateVariable(ctx, r.db, tx, v) })
}

// updateVariable writes every field a variable may change after creation.
func updateVariable(ctx context.Context, db *DB, tx *sql.Tx, v envvar.Variable) error {
	value, storeID, ref := variableColumnsFor(v)
	enabled, expires, checked, problem, notice := secretMetaColumns(v)
	var fromStoreID, fromRef, fromField any
	if v.From != nil {
		fromStoreID, fromRef, fromField = v.From.StoreID, v.From.Ref, v.From.Field
	}
	res, err := db.exec(ctx, tx, `
		UPDATE environment_variables
		SET display_name = $2, description = $3, value = $4, store_id = $5, secret_ref = $6, updated_at = $7,
		    secret_enabled = $8, secret_expires_at = $9, secret_checked_at = $10, secret_problem = $11, secret_notice = $12,
		    from_store_id = $13, from_ref = $14, from_field = $15
		WHERE id = $1`, v.ID, v.DisplayName, v.Description, value, storeID, ref, v.UpdatedAt, enabled, expires, checked, problem, notice,
		fromStoreID, fromRef, fromField)
	if err != nil {
		return fmt.Errorf("update environment variable: %w", err)
	}
	return mustAffect(res, fmt.Errorf("%w: %s", envvar.ErrNotFound, v.SchemaName))
}

// Delete implements envvar.Repository.
func (r Variables) Delete(ctx context.Context, id string, e audit.Entry) error {
	return r.db.write(ctx, e, func(tx *sql.Tx) error {
		creds, err := credentialsUsing(ctx, r.db, tx, id)
		if err != nil {
			return err
		}
		if len(creds) > 0 {
			var name string
			if err := tx.QueryRowContext(ctx, r.db.q(`SELECT schema_name FROM environment_variables WHERE id = $1`), id).Scan(&name); err != nil {
				return fmt.Errorf("read environment variable: %w", err)
			}
			return &envvar.InUseError{SchemaName: name, Credentials: creds}
		}
		res, err := r.db.exec(ctx, tx, `DELETE FROM environment_variables WHERE id = $1`, id)
		if isForeignKeyViolation(err) {
			// A credential appeared between the check and the delete.
			return &envvar.InUseError{SchemaName: id}
		}
		if err != nil {
			return fmt.Errorf("delete environment variable: %w", err)
		}
		if err := mustAffect(res, fmt.Errorf("%w: %s", envvar.ErrNotFound, id)); err != nil {
			return err
		}
		return deleteShares(ctx, r.db, tx, access.KindVariable, id)
	})
}

// Dependencies implements envvar.Repository.
func (r Variables) Dependencies(ctx context.Context, id string) (envvar.Dependencies, error) {
	creds, err := credentialsUsing(ctx, r.db, r.db.sql, id)
	if err != nil {
		return envvar.Dependencies{}, err
	}
	conns, err := connectionsUsing(ctx, r.db, r.db.sql, `cr.username_var_id = $1 OR cr.password_var_id = $1`, id)
	return envvar.Dependencies{Credentials: creds, Connections: conns}, err
}

func credentialsUsing(ctx context.Context, db *DB, q queryer, varID string) ([]envvar.Named, error) {
	rows, err := q.QueryContext(ctx, db.q(`
		SELECT id, name FROM credentials WHERE username_var_id = $1 OR password_var_id = $1 ORDER BY lower(name)`), varID)
	if err != nil {
		return nil, fmt.Errorf("list dependent credentials: %w", err)
	}
	defer rows.Close()
	out := []envvar.Named{}
	for rows.Next() {
		var n envvar.Named
		if err := rows.Scan(&n.ID, &n.Name); err != nil {
			return nil, fmt.Errorf("list dependent credentials: %w", err)
		}
		out = append(out, n)
	}
	return out, rows.Err()
}

// mustAffect returns notFound when res changed no row.
func mustAffect(res sql.Result, notFound error) error {
	n, err := res.RowsAffected()
	if err != nil {
		return fmt.Errorf("rows affected: %w", err)
	}
	if n == 0 {
		return notFound
	}
	return nil
}

func deleteShares(ctx context.Context, db *DB, tx *sql.Tx, kind access.ObjectKind, id string) error {
	if _, err := db.exec(ctx, tx, `DELETE FROM shares WHERE object_kind = $1 AND object_id = $2`, string(kind), id); err != nil {
		return fmt.Errorf("delete shares: %w", err)
	}
	return nil
}
