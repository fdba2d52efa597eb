package metadb

import (
	"context"
	"fmt"

	"github.com/credflow/credflow/internal/envvar"
)

// Reach implements envvar.Repository.
func (r Variables) Reach(ctx context.Context, id string) (envvar.Reach, error) {
	out := envvar.Reach{Members: map[string][]envvar.Named{}}
	type member struct {
		group string
		user  envvar.Named
	}
	members, err := queryList(ctx, r.db, func(row interface{ Scan(...any) error }) (member, error) {
		var m member
		return m, row.Scan(&m.group, &m.user.ID, &m.user.Name)
	}, `SELECT m.group_id, u.id, u.name FROM (
			SELECT group_id, user_id FROM group_members UNION SELECT group_id, user_id FROM oidc_group_members
		) m JOIN users u ON u.id = m.user_id
		WHERE m.group_id IN (SELECT principal_id FROM shares WHERE object_kind = 'variable' AND object_id = $1 AND principal_kind = 'group')
		ORDER BY lower(u.name)`, id)
	if err != nil {
		return out, fmt.Errorf("read group members: %w", err)
	}
	for _, m := range members {
		out.Members[m.group] = append(out.Members[m.group], m.user)
	}
	scanNamed := func(row interface{ Scan(...any) error }) (envvar.Named, error) {
		var n envvar.Named
		return n, row.Scan(&n.ID, &n.Name)
	}
	if out.Admins, err = queryList(ctx, r.db, scanNamed, `SELECT id, name FROM users WHERE role = 'admin' ORDER BY lower(name)`); err != nil {
		return out, fmt.Errorf("read admins: %w", err)
	}
	out.Connections, err = queryList(ctx, r.db, func(row interface{ Scan(...any) error }) (envvar.ConnectionPath, error) {
		var c envvar.ConnectionPath
		return c, row.Scan(&c.Connection.ID, &c.Connection.Name, &c.RunnerGroup, &c.Credential.ID, &c.Credential.Name, &c.CredentialEnabled,
			&c.UsernameVarID, &c.PasswordVarID, &c.Owner.ID, &c.Owner.Name)
	}, `SELECT k.id, k.name, rg.name, cr.id, cr.name, cr.enabled, cr.username_var_id, cr.password_var_id, u.id, u.name
		FROM connections k
		JOIN credentials cr ON cr.id = k.credential_id
		JOIN runner_groups rg ON rg.id = k.runner_group_id
		JOIN users u ON u.id = k.owner_id
		WHERE cr.username_var_id = $1 OR cr.password_var_id = $1
		ORDER BY lower(rg.name), lower(k.name)`, id)
	if err != nil {
		return out, fmt.Errorf("read connections: %w", err)
	}
	return out, nil
}
