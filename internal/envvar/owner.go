package envvar

import (
	"context"
	"fmt"

	"github.com/credflow/credflow/internal/access"
)

// TransferOwner makes the user to names the owner of a variable; p must
// hold the owner role on it. The previous owner keeps it as co-owner.
func (s *Service) TransferOwner(ctx context.Context, p access.Principal, idOrName, to string) (Variable, error) {
	v, err := s.Get(ctx, p, idOrName)
	if err != nil {
		return Variable{}, err
	}
	owner := access.PrincipalRef{Kind: access.PrincipalUser, ID: v.OwnerID, Name: v.Owner}
	if err := s.access.TransferOwner(ctx, p, Object(v), owner, to); err != nil {
		return Variable{}, fmt.Errorf("transfer environment variable %s: %w", v.SchemaName, err)
	}
	return s.repo.Get(ctx, v.ID)
}
