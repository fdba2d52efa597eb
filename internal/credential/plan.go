package credential

import (
	"context"
	"fmt"

	"github.com/google/uuid"

	"github.com/credflow/credflow/internal/access"
	"github.com/credflow/credflow/internal/audit"
	"github.com/credflow/credflow/internal/envvar"
	"github.com/credflow/credflow/internal/validation"
)

// Planned is a credential checked by the rules of Create or Update but not
// saved: what an import writes, with the others, in one transaction.
type Planned struct {
	Credential Credential
	// Created is true for a new credential, whose owner share is Owner.
	Created bool
	Owner   access.Share
	// Changed is false when an existing credential already is as planned.
	Changed bool
	Entry   audit.Entry
}

// Plan checks a credential named in.Name over the variables user and pass
// (planned or existing ones, which the caller has checked p may use) and
// returns it to write: new and owned by p when existing is nil, else
// existing with its description changed. An existing credential's
// variables cannot change, and p must be allowed to edit it.
func (s *Service) Plan(ctx context.Context, p access.Principal, in CreateInput, user, pass envvar.Variable, existing *Credential, reason string) (Planned, error) {
	var ve validation.Error
	checkName(&ve, in.Name)
	checkDescription(&ve, in.Description)
	if err := ve.Err(); err != nil {
		return Planned{}, err
	}
	if pass.Type != envvar.TypeSecret {
		return Planned{}, fmt.Errorf("password variable %s is a %s variable: %w", pass.SchemaName, pass.Type, ErrPasswordMustBeSecret)
	}
	now := s.now().UTC()
	if existing == nil {
		c := Credential{ID: uuid.Must(uuid.NewV7()).String(), Name: in.Name, Description: in.Description,
			UsernameVarID: user.ID, PasswordVarID: pass.ID, Username: user.SchemaName, Password: pass.SchemaName,
			OwnerID: p.ID, Owner: p.Name, Enabled: true, CreatedAt: now, UpdatedAt: now}
		return Planned{Credential: c, Created: true, Changed: true, Owner: access.Own(p, Object(c), now),
			Entry: entry(p, "credential.create", c, reason)}, nil
	}
	c := *existing
	if _, err := s.access.Require(ctx, p, Object(c), "credential.update", access.ObjectRole.CanEdit); err != nil {
		return Planned{}, err
	}
	for _, f := range []struct{ field, have, want, name string }{
		{"username", c.UsernameVarID, user.ID, c.Username}, {"password", c.PasswordVarID, pass.ID, c.Password},
	} {
		if f.have != f.want {
			return Planned{}, &validation.ImmutableError{Field: f.field, Hint: fmt.Sprintf(immutableHint, f.field, f.field, f.name)}
		}
	}
	if c.Description == in.Description {
		return Planned{Credential: c}, nil
	}
	c.Description, c.UpdatedAt = in.Description, now
	return Planned{Credential: c, Changed: true, Entry: entry(p, "credential.update", c, reason)}, nil
}
