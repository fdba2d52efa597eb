package credential

import (
	"context"
	"fmt"

	"github.com/credflow/credflow/internal/access"
)

// TransferOwner makes the user to names the owner of a credential; p must
// hold the owner role on it. The new owner also gets the use of its two
// variables, as a share of the credential gives; the previous owner keeps
// the credential as co-owner.
func (s *Service) TransferOwner(ctx context.Context, p access.Principal, idOrName, to string) (Credential, error) {
	c, err := s.Get(ctx, p, idOrName)
	if err != nil {
		return Credential{}, err
	}
	owner := access.PrincipalRef{Kind: access.PrincipalUser, ID: c.OwnerID, Name: c.Owner}
	if err := s.access.TransferOwner(ctx, p, Object(c), owner, to, variables(c)...); err != nil {
		return Credential{}, fmt.Errorf("transfer credential %q: %w", c.Name, err)
	}
	return s.repo.Get(ctx, c.ID)
}
