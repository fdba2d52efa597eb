package connection

import (
	"context"
	"fmt"

	"github.com/credflow/credflow/internal/access"
	"github.com/credflow/credflow/internal/credential"
)

// TransferOwner makes the user to names the owner of a connection p owns
// (any, for an admin). The new owner must be able to use the connection's
// credential and both its variables, since every resolve checks that the
// owner still may; a broken connection moves as it is.
func (s *Service) TransferOwner(ctx context.Context, p access.Principal, idOrName, to string) (Connection, error) {
	c, err := s.visible(ctx, p, idOrName, "connection.owner.transfer")
	if err != nil {
		return Connection{}, err
	}
	target, err := s.access.NewOwner(ctx, "principal", to)
	if err != nil {
		return Connection{}, err
	}
	if target.ID == c.OwnerID {
		return c, nil
	}
	if c.CredentialID != "" {
		t, err := s.repo.Target(ctx, c.ID)
		if err != nil {
			return Connection{}, err
		}
		if err := s.newOwnerMayUse(ctx, target, t); err != nil {
			return Connection{}, err
		}
	}
	ch := access.OwnerChange{Object: Object(c), Primary: true,
		From: access.PrincipalRef{Kind: access.PrincipalUser, ID: c.OwnerID, Name: c.Owner},
		To:   access.PrincipalRef{Kind: access.PrincipalUser, ID: target.ID, Name: target.Name}}
	if err := s.access.ChangeOwner(ctx, p, ch); err != nil {
		return Connection{}, fmt.Errorf("transfer connection %q: %w", c.Name, err)
	}
	return s.repo.Get(ctx, c.ID)
}

// newOwnerMayUse checks that owner may use what the connection t is built
// on: its credential and the credential's two variables.
func (s *Service) newOwnerMayUse(ctx context.Context, owner access.Principal, t Target) error {
	builtOn := []access.Object{credential.Object(t.Credential),
		{Kind: access.KindVariable, ID: t.Username.ID, Name: t.Username.SchemaName},
		{Kind: access.KindVariable, ID: t.Password.ID, Name: t.Password.SchemaName}}
	lacking, ok, err := s.access.CanUseAll(ctx, owner, builtOn...)
	if err != nil {
		return err
	}
	if !ok {
		return access.LacksAccess(owner.Name, Object(t.Connection), lacking)
	}
	return nil
}
