package metadb

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"

	"github.com/credflow/credflow/internal/access"
	"github.com/credflow/credflow/internal/audit"
	"github.com/credflow/credflow/internal/credential"
	"github.com/credflow/credflow/internal/envvar"
	"github.com/credflow/credflow/internal/solution"
)

// Solutions implements solution.Repository.
type Solutions struct{ db *DB }

var _ solution.Repository = Solutions{}

// Solutions returns the solution repository.
func (db *DB) Solutions() Solutions { return Solutions{db} }

const solutionColumns = `s.id, s.name, s.description, s.version, s.publisher, s.owner_id, u.name, s.created_at, s.updated_at
	FROM solutions s JOIN users u ON u.id = s.owner_id`

func scanSolution(row interface{ Scan(...any) error }) (solution.Solution, error) {
	var (
		s       solution.Solution
		version string
	)
	if err := row.Scan(&s.ID, &s.Name, &s.Description, &version, &s.Publisher, &s.OwnerID, &s.Owner, &s.CreatedAt, &s.UpdatedAt); err != nil {
		return s, err
	}
	v, err := solution.ParseVersion(version)
	if err != nil {
		return s, fmt.Errorf("solution %s: stored %w", s.Name, err)
	}
	s.Version, s.CreatedAt, s.UpdatedAt = v, s.CreatedAt.UTC(), s.UpdatedAt.UTC()
	return s, nil
}

func insertSolution(ctx context.Context, db *DB, tx *sql.Tx, s solution.Solution) error {
	_, err := db.exec(ctx, tx, `INSERT INTO solutions (id, name, description, version, publisher, owner_id, created_at, updated_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`, s.ID, s.Name, s.Description, s.Version.String(), s.Publisher, s.OwnerID, s.CreatedAt, s.UpdatedAt)
	if isUniqueViolation(err) {
		return fmt.Errorf("%w: %q", solution.ErrNameTaken, s.Name)
	}
	if err != nil {
		return fmt.Errorf("insert solution: %w", err)
	}
	return nil
}

// Create implements solution.Repository.
func (r Solutions) Create(ctx context.Context, s solution.Solution, e audit.Entry) error {
	return r.db.write(ctx, e, func(tx *sql.Tx) error { return insertSolution(ctx, r.db, tx, s) })
}

// Get implements solution.Repository.
func (r Solutions) Get(ctx context.Context, idOrName string) (solution.Solution, error) {
	s, err := scanSolution(r.db.queryRow(ctx, `SELECT `+solutionColumns+`
		WHERE s.id = $1 OR lower(s.name) = lower($1)`, idOrName))
	if errors.Is(err, sql.ErrNoRows) {
		return s, fmt.Errorf("%w: %q", solution.ErrNotFound, idOrName)
	}
	if err != nil {
		return s, fmt.Errorf("read solution: %w", err)
	}
	return s, r.withComponents(ctx, &s)
}

// withComponents fills s's components, variables first.
func (r Solutions) withComponents(ctx context.Context, s *solution.Solution) error {
	var err error
	s.Components, err = queryList(ctx, r.db, func(row interface{ Scan(...any) error }) (solution.Component, error) {
		var c solution.Component
		err := row.Scan(&c.Kind, &c.ID, &c.Name, &c.Required)
		return c, err
	}, `SELECT 'variable', v.id, v.schema_name, sc.required FROM solution_components sc
			JOIN environment_variables v ON v.id = sc.variable_id WHERE sc.solution_id = $1
		UNION ALL
		SELECT 'credential', c.id, c.name, sc.required FROM solution_components sc
			JOIN credentials c ON c.id = sc.credential_id WHERE sc.solution_id = $1
		ORDER BY 1 DESC, 3`, s.ID)
	if err != nil {
		return fmt.Errorf("read solution %s's components: %w", s.Name, err)
	}
	return nil
}

// List implements solution.Repository.
func (r Solutions) List(ctx context.Context, ownerID, after string, limit int) ([]solution.Solution, error) {
	sols, err := queryList(ctx, r.db, scanSolution, `SELECT `+solutionColumns+`
		WHERE s.id > $1 AND ($2 = '' OR s.owner_id = $2) ORDER BY s.id LIMIT $3`, after, ownerID, limit)
	if err != nil {
		return nil, fmt.Errorf("list solutions: %w", err)
	}
	for i := range sols {
		if err := r.withComponents(ctx, &sols[i]); err != nil {
			return nil, err
		}
	}
	return sols, nil
}

// SetComponents implements solution.Repository.
func (r Solutions) SetComponents(ctx context.Context, s solution.Solution, e audit.Entry) error {
	return r.db.write(ctx, e, func(tx *sql.Tx) error { return updateSolution(ctx, r.db, tx, s) })
}

func updateSolution(ctx context.Context, db *DB, tx *sql.Tx, s solution.Solution) error {
	res, err := db.exec(ctx, tx, `UPDATE solutions SET description = $2, version = $3, publisher = $4, updated_at = $5 WHERE id = $1`,
		s.ID, s.Description, s.Version.String(), s.Publisher, s.UpdatedAt)
	if err != nil {
		return fmt.Errorf("update solution: %w", err)
	}
	if err := mustAffect(res, fmt.Errorf("%w: %q", solution.ErrNotFound, s.Name)); err != nil {
		return err
	}
	return putComponents(ctx, db, tx, s)
}

func putComponents(ctx context.Context, db *DB, tx *sql.Tx, s solution.Solution) error {
	if _, err := db.exec(ctx, tx, `DELETE FROM solution_components WHERE solution_id = $1`, s.ID); err != nil {
		return fmt.Errorf("replace solution components: %w", err)
	}
	rows := make([][]any, 0, len(s.Components))
	for _, c := range s.Components {
		var varID, credID any
		if c.Kind == solution.KindVariable {
			varID = c.ID
		} else {
			credID = c.ID
		}
		rows = append(rows, []any{s.ID, varID, credID, c.Required})
	}
	if err := db.insertRows(ctx, tx, "solution_components", []string{"solution_id", "variable_id", "credential_id", "required"}, rows); err != nil {
		return fmt.Errorf("insert the components of solution %s: %w", s.Name, err)
	}
	return nil
}

// Holders implements solution.Repository.
func (r Solutions) Holders(ctx context.Context, kind solution.Kind, objectID, except string) ([]string, error) {
	col := "sc.variable_id"
	if kind == solution.KindCredential {
		col = "sc.credential_id"
	}
	return queryList(ctx, r.db, scanString, `SELECT s.name FROM solution_components sc JOIN solutions s ON s.id = sc.solution_id
		WHERE `+col+` = $1 AND NOT sc.required AND s.id <> $2 ORDER BY lower(s.name)`, objectID, except)
}

// VariablesNamed implements solution.Repository: a few queries for a
// package of any size, rather than one per variable.
func (r Solutions) VariablesNamed(ctx context.Context, names []string) (map[string]envvar.Variable, error) {
	const chunk = 500
	out := make(map[string]envvar.Variable)
	for len(names) > 0 {
		n := min(chunk, len(names))
		lower := make([]string, n)
		for i, name := range names[:n] {
			lower[i] = strings.ToLower(name)
		}
		ph, args := placeholders(1, lower)
		vars, err := queryList(ctx, r.db, scanVariable, `SELECT `+variableColumns+` WHERE lower(v.schema_name) IN (`+ph+`)`, args...)
		if err != nil {
			return nil, fmt.Errorf("find the package's variables: %w", err)
		}
		for _, v := range vars {
			out[strings.ToLower(v.SchemaName)] = v
		}
		names = names[n:]
	}
	return out, nil
}

// Credential implements solution.Repository.
func (r Solutions) Credential(ctx context.Context, idOrName string) (credential.Credential, error) {
	return r.db.Credentials().Get(ctx, idOrName)
}

// Apply implements solution.Repository: the whole import, or nothing.
func (r Solutions) Apply(ctx context.Context, p solution.Plan) error {
	return r.db.inTx(ctx, func(tx *sql.Tx) error {
		var (
			created []envvar.Variable
			owners  []access.Share
		)
		for _, pv := range p.Variables {
			if pv.Created {
				created, owners = append(created, pv.Variable), append(owners, pv.Owner)
				continue
			}
			if err := updateVariable(ctx, r.db, tx, pv.Variable); err != nil {
				return err
			}
		}
		if err := r.db.Variables().insertMany(ctx, tx, created, owners); err != nil {
			return err
		}
		for _, pc := range p.Credentials {
			if pc.Created {
				if err := insertCredential(ctx, r.db, tx, pc.Credential); err != nil {
					return err
				}
				if err := putShares(ctx, r.db, tx, pc.Owner); err != nil {
					return err
				}
				continue
			}
			if err := updateCredential(ctx, r.db, tx, pc.Credential); err != nil {
				return err
			}
		}
		if p.NewSolution {
			if err := insertSolution(ctx, r.db, tx, p.Solution); err != nil {
				return err
			}
			if err := putComponents(ctx, r.db, tx, p.Solution); err != nil {
				return err
			}
		} else if err := updateSolution(ctx, r.db, tx, p.Solution); err != nil {
			return err
		}
		return r.db.appendAudit(ctx, tx, p.Entries...)
	})
}
