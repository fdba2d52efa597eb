package envvar

import (
	"context"
	"time"

	"github.com/credflow/credflow/internal/access"
)

// Reach is what can reach a variable beyond its own shares, as the
// repository reads it.
type Reach struct {
	// Members lists, for each group holding a share of the variable, the
	// users in it (by group id).
	Members map[string][]Named
	// Admins lists the users with the admin instance role.
	Admins []Named
	// Connections lists the connections whose credential uses the variable.
	Connections []ConnectionPath
}

// ConnectionPath is a connection through which a runner group reaches a
// variable.
type ConnectionPath struct {
	Connection        Named
	RunnerGroup       string
	Credential        Named
	CredentialEnabled bool
	UsernameVarID     string
	PasswordVarID     string
	Owner             Named
	// CanResolve is true when a runner of the group can resolve it now:
	// the credential is enabled and its owner may use the credential and
	// both variables. Reason says why not.
	CanResolve bool
	Reason     string
}

// Holder is one principal that can use a variable, and the path by which.
type Holder struct {
	Principal access.PrincipalRef
	// Role is the role the path gives; admins hold every right.
	Role      access.ObjectRole
	ExpiresAt time.Time // zero: never
	// Group is the group whose share a user holds it through; zero when
	// the principal holds the share itself.
	Group access.PrincipalRef
	// Via is the credential whose share gave the share; zero for a share
	// given directly.
	Via access.Object
	// Admin marks a user who holds it by the admin instance role.
	Admin bool
}

// Exposure answers who can use a variable: every principal, by every path,
// and every runner group that reaches it through a connection.
type Exposure struct {
	Variable     Variable
	Holders      []Holder
	RunnerGroups []ConnectionPath
}

// Exposure tells the owners and co-owners of a variable (and admins) who
// can use it and how: shares given directly, through a group, or through a
// credential's share; admins; and the runner groups of the connections whose
// credential uses it. Expired shares are left out.
func (s *Service) Exposure(ctx context.Context, p access.Principal, idOrName string) (Exposure, error) {
	v, err := s.get(ctx, p, idOrName, "variable.access", access.ObjectRole.CanEdit)
	if err != nil {
		return Exposure{}, err
	}
	shares, err := s.access.Shares(ctx, p, Object(v))
	if err != nil {
		return Exposure{}, err
	}
	reach, err := s.repo.Reach(ctx, v.ID)
	if err != nil {
		return Exposure{}, err
	}
	now := s.now()
	out := Exposure{Variable: v, Holders: []Holder{}, RunnerGroups: []ConnectionPath{}}
	for _, sh := range shares {
		if !sh.Active(now) {
			continue
		}
		h := Holder{Principal: sh.Principal, Role: sh.Role, ExpiresAt: sh.ExpiresAt, Via: sh.Via}
		out.Holders = append(out.Holders, h)
		if sh.Principal.Kind != access.PrincipalGroup {
			continue
		}
		for _, m := range reach.Members[sh.Principal.ID] {
			mh := h
			mh.Principal = access.PrincipalRef{Kind: access.PrincipalUser, ID: m.ID, Name: m.Name}
			mh.Group = sh.Principal
			out.Holders = append(out.Holders, mh)
		}
	}
	for _, a := range reach.Admins {
		out.Holders = append(out.Holders, Holder{Principal: access.PrincipalRef{Kind: access.PrincipalUser, ID: a.ID, Name: a.Name},
			Role: access.RoleOwner, Admin: true})
	}
	for _, c := range reach.Connections {
		c.CanResolve, c.Reason, err = s.canResolve(ctx, c)
		if err != nil {
			return Exposure{}, err
		}
		out.RunnerGroups = append(out.RunnerGroups, c)
	}
	return out, nil
}

// canResolve applies the resolve rule to a connection path: the credential
// is enabled and its owner may use the credential and both its variables.
func (s *Service) canResolve(ctx context.Context, c ConnectionPath) (bool, string, error) {
	if !c.CredentialEnabled {
		return false, "the credential is disabled", nil
	}
	owner, err := s.access.PrincipalOf(ctx, c.Owner.ID)
	if err != nil {
		return false, "", err
	}
	for _, o := range []access.Object{
		{Kind: access.KindCredential, ID: c.Credential.ID, Name: c.Credential.Name},
		{Kind: access.KindVariable, ID: c.UsernameVarID},
		{Kind: access.KindVariable, ID: c.PasswordVarID},
	} {
		role, err := s.access.RoleOn(ctx, owner, o)
		if err != nil {
			return false, "", err
		}
		if !role.CanUse() {
			what := "its credential"
			if o.Kind == access.KindVariable {
				what = "one of its credential's variables"
			}
			return false, "the connection's owner may no longer use " + what, nil
		}
	}
	return true, "", nil
}
