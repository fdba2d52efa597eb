package access

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/credflow/credflow/internal/audit"
	"github.com/credflow/credflow/internal/validation"
)

// Grant lets a principal reference secrets of one store, optionally only
// those whose names start with Prefix. It guards against the confused
// deputy: credflow's own identity can read more than any one maker may.
type Grant struct {
	StoreID   string
	Store     string // the store's name, for messages
	Principal PrincipalRef
	Prefix    string
	CreatedAt time.Time
}

// Covers reports whether the grant allows the secret name.
func (g Grant) Covers(secretName string) bool { return strings.HasPrefix(secretName, g.Prefix) }

// PutGrant grants (or changes) a principal's right to reference a store.
func (s *Service) PutGrant(ctx context.Context, p Principal, storeID, storeName, principal, prefix string) (Grant, error) {
	if len(prefix) > 256 {
		return Grant{}, validation.Field("prefix", "must be at most 256 characters")
	}
	target, err := s.ResolvePrincipal(ctx, principal)
	if err != nil {
		return Grant{}, err
	}
	g := Grant{StoreID: storeID, Store: storeName, Principal: target, Prefix: prefix, CreatedAt: s.now().UTC()}
	reason := "all secrets"
	if prefix != "" {
		reason = "secrets starting with " + prefix
	}
	if err := s.repo.PutGrant(ctx, g, audit.Entry{Actor: p.Name, Action: "store.grant", Resource: "store:" + storeName + " " + target.String(),
		Outcome: audit.Success, Reason: reason}); err != nil {
		return Grant{}, fmt.Errorf("grant store %s: %w", storeName, err)
	}
	return g, nil
}

// DeleteGrant takes a principal's grant on a store away.
func (s *Service) DeleteGrant(ctx context.Context, p Principal, storeID, storeName, principal string) error {
	target, err := s.ResolvePrincipal(ctx, principal)
	if err != nil {
		return err
	}
	return s.repo.DeleteGrant(ctx, storeID, target, audit.Entry{Actor: p.Name, Action: "store.revoke",
		Resource: "store:" + storeName + " " + target.String(), Outcome: audit.Success})
}

// Grants lists a store's grants.
func (s *Service) Grants(ctx context.Context, storeID string) ([]Grant, error) {
	return s.repo.Grants(ctx, storeID)
}

// CheckGrant returns nil if p may reference secretName in the store, and
// otherwise an error wrapping ErrStoreNotGranted (audited).
func (s *Service) CheckGrant(ctx context.Context, p Principal, storeID, storeName, secretName string) error {
	if p.IsAdmin() {
		return nil
	}
	grants, err := s.repo.Grants(ctx, storeID)
	if err != nil {
		return err
	}
	for _, g := range grants {
		if g.heldBy(p) && g.Covers(secretName) {
			return nil
		}
	}
	s.deny(ctx, p, "store.reference", "store:"+storeName+" secret:"+secretName, "no store grant covers the secret")
	return fmt.Errorf("%s may not reference secret %q in store %q: %w", p.Name, secretName, storeName, ErrStoreNotGranted)
}

// heldBy reports whether the grant is p's, directly or through a group.
func (g Grant) heldBy(p Principal) bool {
	return (g.Principal.Kind == PrincipalUser && g.Principal.ID == p.ID) ||
		(g.Principal.Kind == PrincipalGroup && containsString(p.Groups, g.Principal.ID))
}

// GrantedPrefixes returns the secret-name prefixes that the store's grants
// held by p cover, directly or through a group: none when p may reference
// no secret of the store, and "" (every name) for an admin.
func (s *Service) GrantedPrefixes(ctx context.Context, p Principal, storeID string) ([]string, error) {
	if p.IsAdmin() {
		return []string{""}, nil
	}
	grants, err := s.repo.Grants(ctx, storeID)
	if err != nil {
		return nil, err
	}
	var out []string
	for _, g := range grants {
		if g.heldBy(p) {
			out = append(out, g.Prefix)
		}
	}
	return out, nil
}
