package access

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/credflow/credflow/internal/audit"
	"github.com/credflow/credflow/internal/validation"
)

// ObjectKind names the kinds of objects that are shared.
type ObjectKind string

// The shared kinds.
const (
	KindCredential ObjectKind = "credential"
	KindVariable   ObjectKind = "variable"
	KindConnection ObjectKind = "connection" // owned, not shared
	KindSolution   ObjectKind = "solution"   // owned, not shared
)

// Object identifies one shared object.
type Object struct {
	Kind ObjectKind
	ID   string
	Name string // for audit records and messages
}

func (o Object) resource() string { return string(o.Kind) + ":" + o.Name }

// ObjectRole is a role a principal holds on one object.
type ObjectRole string

// The object roles, strongest first. The zero ObjectRole is "no role".
const (
	RoleOwner     ObjectRole = "owner"
	RoleCoOwner   ObjectRole = "co-owner"
	RoleUserShare ObjectRole = "user-share"
	RoleUser      ObjectRole = "user"
)

func (r ObjectRole) rank() int {
	switch r {
	case RoleOwner:
		return 4
	case RoleCoOwner:
		return 3
	case RoleUserShare:
		return 2
	case RoleUser:
		return 1
	}
	return 0
}

// withArticle is the role with its indefinite article: "an owner", "a user".
func (r ObjectRole) withArticle() string {
	if r == RoleOwner {
		return "an " + string(r)
	}
	return "a " + string(r)
}

// Valid reports whether r is an object role.
func (r ObjectRole) Valid() bool { return r.rank() > 0 }

// CanUse reports whether r may use the object (see it, build on it).
func (r ObjectRole) CanUse() bool { return r.rank() >= 1 }

// CanShare reports whether r may share the object at all.
func (r ObjectRole) CanShare() bool { return r.rank() >= 2 }

// CanEdit reports whether r may change or delete the object.
func (r ObjectRole) CanEdit() bool { return r.rank() >= 3 }

// CanGrant reports whether r may give (or take away) role g: owners any
// role, co-owners up to co-owner, user-share holders user or user-share.
func (r ObjectRole) CanGrant(g ObjectRole) bool {
	return r.CanShare() && g.Valid() && g.rank() <= r.rank()
}

// PrincipalKind is user or group.
type PrincipalKind string

// The principal kinds.
const (
	PrincipalUser  PrincipalKind = "user"
	PrincipalGroup PrincipalKind = "group"
)

// PrincipalRef names a user or a group.
type PrincipalRef struct {
	Kind PrincipalKind
	ID   string
	Name string
}

// String renders the reference the way paths and audit records name it.
func (p PrincipalRef) String() string { return string(p.Kind) + ":" + p.Name }

// Share is one principal's role on one object.
type Share struct {
	Object    Object
	Principal PrincipalRef
	Role      ObjectRole
	ExpiresAt time.Time // zero: never
	CreatedAt time.Time
	// Via is the credential whose share gave this share of one of its
	// variables; zero for a share given directly.
	Via Object
}

// Direct reports whether the share was given directly, not through a
// credential's share.
func (s Share) Direct() bool { return s.Via.ID == "" }

// Active reports whether the share counts at time now.
func (s Share) Active(now time.Time) bool { return s.ExpiresAt.IsZero() || now.Before(s.ExpiresAt) }

// holds reports whether the share is held by p, directly or through a group.
func (s Share) heldBy(p Principal) bool {
	switch s.Principal.Kind {
	case PrincipalUser:
		return s.Principal.ID == p.ID
	case PrincipalGroup:
		return containsString(p.Groups, s.Principal.ID)
	}
	return false
}

// ResolvePrincipal finds the user or group that ref names: "user:<name>",
// "group:<name>", or a bare id of either.
func (s *Service) ResolvePrincipal(ctx context.Context, ref string) (PrincipalRef, error) {
	kind, name, ok := strings.Cut(ref, ":")
	if !ok {
		if u, err := s.repo.User(ctx, ref); err == nil {
			return PrincipalRef{Kind: PrincipalUser, ID: u.ID, Name: u.Name}, nil
		}
		if g, err := s.repo.Group(ctx, ref); err == nil {
			return PrincipalRef{Kind: PrincipalGroup, ID: g.ID, Name: g.Name}, nil
		}
		return PrincipalRef{}, fmt.Errorf("%w: principal %q (write user:<name> or group:<name>)", ErrNotFound, ref)
	}
	switch PrincipalKind(kind) {
	case PrincipalUser:
		u, err := s.repo.User(ctx, name)
		if err != nil {
			return PrincipalRef{}, fmt.Errorf("%w: user %q", ErrNotFound, name)
		}
		return PrincipalRef{Kind: PrincipalUser, ID: u.ID, Name: u.Name}, nil
	case PrincipalGroup:
		g, err := s.repo.Group(ctx, name)
		if err != nil {
			return PrincipalRef{}, fmt.Errorf("%w: group %q", ErrNotFound, name)
		}
		return PrincipalRef{Kind: PrincipalGroup, ID: g.ID, Name: g.Name}, nil
	}
	return PrincipalRef{}, validation.Field("principal", "must be user:<name> or group:<name>")
}

// RoleOn returns the strongest role p holds on the object through active
// shares, directly or through a group. Admins hold every right, reported as
// owner.
func (s *Service) RoleOn(ctx context.Context, p Principal, obj Object) (ObjectRole, error) {
	if p.IsAdmin() {
		return RoleOwner, nil
	}
	shares, err := s.repo.Shares(ctx, obj.Kind, obj.ID)
	if err != nil {
		return "", err
	}
	return strongest(shares, p, s.now()), nil
}

func strongest(shares []Share, p Principal, now time.Time) ObjectRole {
	role, _ := strongestUntil(shares, p, now)
	return role
}

// strongestUntil is strongest, and the time until which it holds: the
// earliest expiry of the shares it was drawn from (zero: no expiry).
func strongestUntil(shares []Share, p Principal, now time.Time) (ObjectRole, time.Time) {
	var (
		best  ObjectRole
		until time.Time
	)
	for _, sh := range shares {
		if !sh.Active(now) || !sh.heldBy(p) {
			continue
		}
		if sh.Role.rank() > best.rank() {
			best = sh.Role
		}
		if !sh.ExpiresAt.IsZero() && (until.IsZero() || sh.ExpiresAt.Before(until)) {
			until = sh.ExpiresAt
		}
	}
	return best, until
}

// RoleOnUntil is RoleOn, and the time until which the answer holds if
// nothing changes (zero: until something changes).
func (s *Service) RoleOnUntil(ctx context.Context, p Principal, obj Object) (ObjectRole, time.Time, error) {
	if p.IsAdmin() {
		return RoleOwner, time.Time{}, nil
	}
	shares, err := s.repo.Shares(ctx, obj.Kind, obj.ID)
	if err != nil {
		return "", time.Time{}, err
	}
	role, until := strongestUntil(shares, p, s.now())
	return role, until, nil
}

// Require returns p's role on obj if it satisfies ok. A caller with no role
// at all gets ErrNotFound, exactly as for a missing object; one with too
// weak a role gets ErrForbidden. Both are audited.
func (s *Service) Require(ctx context.Context, p Principal, obj Object, action string, ok func(ObjectRole) bool) (ObjectRole, error) {
	role, err := s.RoleOn(ctx, p, obj)
	if err != nil {
		return "", err
	}
	if !role.CanUse() {
		s.deny(ctx, p, action, obj.resource(), "no role on the object")
		return "", fmt.Errorf("%s %w", obj.Kind, ErrNotFound)
	}
	if !ok(role) {
		s.deny(ctx, p, action, obj.resource(), "role "+string(role)+" does not allow it")
		return "", fmt.Errorf("%w: your role on %s %q (%s) does not allow this", ErrForbidden, obj.Kind, obj.Name, role)
	}
	return role, nil
}

// Shares lists an object's shares for a caller who may see the object.
func (s *Service) Shares(ctx context.Context, p Principal, obj Object) ([]Share, error) {
	if _, err := s.Require(ctx, p, obj, string(obj.Kind)+".shares", ObjectRole.CanUse); err != nil {
		return nil, err
	}
	return s.repo.Shares(ctx, obj.Kind, obj.ID)
}

// ShareInput is a share to create or change.
type ShareInput struct {
	Principal string // user:<name>, group:<name> or an id
	Role      ObjectRole
	ExpiresAt time.Time // zero: never
}

// ShareChange is what one change of shares writes, in one transaction.
type ShareChange struct {
	// Put writes shares, each replacing the share its principal held of
	// the same object from the same origin (Via).
	Put []Share
	// Delete removes shares: the share of Object held by Principal from
	// origin Via.
	Delete []Share
	Audit  audit.Entry
}

// denial is a refusal decided inside a change of shares; it is audited once
// the transaction is over, since the audit write needs one of its own.
type denial struct {
	reason string
	err    error
}

func (d *denial) Error() string { return d.err.Error() }
func (d *denial) Unwrap() error { return d.err }

// change runs decide through the repository and audits a refusal it made.
func (s *Service) change(ctx context.Context, p Principal, action string, obj Object, related []Object, decide func([]Share) (ShareChange, error)) error {
	err := s.repo.ChangeShares(ctx, obj, related, decide)
	var d *denial
	if errors.As(err, &d) {
		s.deny(ctx, p, action, obj.resource(), d.reason)
	}
	return err
}

// cascadeRole is the role a share of a credential gives on its variables:
// the use of them, whatever the role on the credential.
func cascadeRole(ObjectRole) ObjectRole { return RoleUser }

// Share gives a principal a role on obj and, when obj is a credential, the
// use of each of its variables in cascade. The variable shares given this
// way remember the credential and carry the credential share's expiry: a
// change of the credential share changes them too, and leaves alone any
// share of the variable given directly or through another credential.
//
// The caller must be able to share and to grant both the new role and any
// role it replaces, and the object must keep an owner or co-owner; both are
// decided inside the write's transaction, so two concurrent changes cannot
// each remove one of the last two owners.
func (s *Service) Share(ctx context.Context, p Principal, obj Object, in ShareInput, cascade ...Object) (Share, error) {
	action := string(obj.Kind) + ".share"
	var ve validation.Error
	if !in.Role.Valid() {
		ve.Add("role", "must be owner, co-owner, user-share or user")
	}
	now := s.now().UTC()
	if !in.ExpiresAt.IsZero() && !in.ExpiresAt.After(now) {
		ve.Add("expiresAt", "must be in the future")
	}
	if err := ve.Err(); err != nil {
		return Share{}, err
	}
	role, err := s.Require(ctx, p, obj, action, ObjectRole.CanShare)
	if err != nil {
		return Share{}, err
	}
	target, err := s.ResolvePrincipal(ctx, in.Principal)
	if err != nil {
		return Share{}, err
	}
	if !role.CanGrant(in.Role) {
		s.deny(ctx, p, action, obj.resource(), fmt.Sprintf("%s cannot grant %s", role.withArticle(), in.Role))
		return Share{}, fmt.Errorf("%w: with the %s role you cannot grant the %s role", ErrForbidden, role, in.Role)
	}
	next := Share{Object: obj, Principal: target, Role: in.Role, ExpiresAt: in.ExpiresAt.UTC(), CreatedAt: now}
	reason := "role " + string(in.Role)
	if !next.ExpiresAt.IsZero() {
		reason += " until " + next.ExpiresAt.Format(time.RFC3339)
	}
	err = s.change(ctx, p, action, obj, cascade, func(current []Share) (ShareChange, error) {
		var after []Share
		for _, sh := range current {
			if sh.Object.Kind != obj.Kind || sh.Object.ID != obj.ID {
				continue
			}
			if sh.Principal.Kind == target.Kind && sh.Principal.ID == target.ID && sh.Direct() {
				if !role.CanGrant(sh.Role) {
					return ShareChange{}, &denial{fmt.Sprintf("%s cannot change %s share", role.withArticle(), sh.Role.withArticle()),
						fmt.Errorf("%w: with the %s role you cannot change %s share", ErrForbidden, role, sh.Role.withArticle())}
				}
				continue
			}
			after = append(after, sh)
		}
		if !hasOwner(append(after, next), now) {
			return ShareChange{}, fmt.Errorf("%s: %w", obj.resource(), ErrLastOwner)
		}
		ch := ShareChange{Put: []Share{next}, Audit: audit.Entry{Actor: p.Name, Action: action,
			Resource: obj.resource() + " " + target.String(), Outcome: audit.Success, Reason: reason}}
		for _, c := range cascade {
			ch.Put = append(ch.Put, Share{Object: c, Principal: target, Role: cascadeRole(in.Role),
				ExpiresAt: next.ExpiresAt, CreatedAt: now, Via: obj})
		}
		return ch, nil
	})
	switch {
	case errors.Is(err, ErrLastOwner), errors.Is(err, ErrForbidden):
		return Share{}, err // the rule's own words
	case err != nil:
		return Share{}, fmt.Errorf("share %s: %w", obj.resource(), err)
	}
	return next, nil
}

// UnshareOptions says how far an Unshare reaches.
type UnshareOptions struct {
	// Cascade names the objects a share of obj gave shares of (a
	// credential's variables).
	Cascade []Object
	// WithCascade also removes the shares of the Cascade objects that this
	// object's share gave; shares of them given directly or through
	// another credential stay.
	WithCascade bool
}

// Unshared is what an Unshare removed, and what the principal still holds
// of the cascade objects.
type Unshared struct {
	Removed Share
	// RemovedCascade lists the shares of the cascade objects removed with it.
	RemovedCascade []Share
	// Remaining lists the principal's active shares of the cascade objects
	// after the change, whatever gave them.
	Remaining []Share
}

// Unshare removes a principal's share of obj: every share of it they hold,
// direct or given through a credential. The caller must be able to grant
// the strongest role removed, or be removing their own share; the object
// must keep an owner or co-owner, decided inside the write's transaction.
// Shares given on the cascade objects stay unless opts.WithCascade.
func (s *Service) Unshare(ctx context.Context, p Principal, obj Object, principal string, opts UnshareOptions) (Unshared, error) {
	action := string(obj.Kind) + ".unshare"
	role, err := s.Require(ctx, p, obj, action, ObjectRole.CanUse)
	if err != nil {
		return Unshared{}, err
	}
	target, err := s.ResolvePrincipal(ctx, principal)
	if err != nil {
		return Unshared{}, err
	}
	own := target.Kind == PrincipalUser && target.ID == p.ID
	now := s.now()
	names := map[string]string{}
	for _, c := range opts.Cascade {
		names[string(c.Kind)+":"+c.ID] = c.Name
	}
	var out Unshared
	err = s.change(ctx, p, action, obj, opts.Cascade, func(current []Share) (ShareChange, error) {
		out = Unshared{}
		var (
			removed []Share
			after   []Share
			ch      ShareChange
		)
		for _, sh := range current {
			switch {
			case sh.Object.Kind != obj.Kind || sh.Object.ID != obj.ID:
			case sh.Principal.Kind == target.Kind && sh.Principal.ID == target.ID:
				removed = append(removed, sh)
			default:
				after = append(after, sh)
			}
		}
		if len(removed) == 0 {
			return ShareChange{}, fmt.Errorf("%w: %s holds no share of %s", ErrNotFound, target, obj.resource())
		}
		strongest := removed[0]
		for _, sh := range removed[1:] {
			if sh.Role.rank() > strongest.Role.rank() {
				strongest = sh
			}
		}
		if !own && !role.CanGrant(strongest.Role) {
			return ShareChange{}, &denial{fmt.Sprintf("%s cannot remove %s share", role.withArticle(), strongest.Role.withArticle()),
				fmt.Errorf("%w: with the %s role you cannot remove %s share", ErrForbidden, role, strongest.Role.withArticle())}
		}
		if !hasOwner(after, now) {
			return ShareChange{}, fmt.Errorf("%s: %w", obj.resource(), ErrLastOwner)
		}
		out.Removed = strongest
		ch.Delete = removed
		reason := "was " + string(strongest.Role)
		for _, sh := range current {
			if sh.Object.Kind == obj.Kind && sh.Object.ID == obj.ID {
				continue
			}
			if sh.Principal.Kind != target.Kind || sh.Principal.ID != target.ID {
				continue
			}
			sh.Object.Name = names[string(sh.Object.Kind)+":"+sh.Object.ID]
			if opts.WithCascade && sh.Via.ID == obj.ID {
				ch.Delete = append(ch.Delete, sh)
				out.RemovedCascade = append(out.RemovedCascade, sh)
				reason += "; removed its share of " + sh.Object.resource()
				continue
			}
			if sh.Active(now) {
				out.Remaining = append(out.Remaining, sh)
			}
		}
		ch.Audit = audit.Entry{Actor: p.Name, Action: action,
			Resource: obj.resource() + " " + target.String(), Outcome: audit.Success, Reason: reason}
		return ch, nil
	})
	if err != nil {
		return Unshared{}, err
	}
	return out, nil
}

// Own records the creator of a new object as its owner; the repository that
// creates the object writes it in the same transaction.
func Own(p Principal, obj Object, now time.Time) Share {
	return Share{Object: obj, Principal: PrincipalRef{Kind: PrincipalUser, ID: p.ID, Name: p.Name}, Role: RoleOwner, CreatedAt: now}
}

func hasOwner(shares []Share, now time.Time) bool {
	for _, sh := range shares {
		if sh.Active(now) && sh.Role.CanEdit() {
			return true
		}
	}
	return false
}

// Viewer is what list queries need to show a caller only what they may see.
type Viewer struct {
	All    bool // admins see everything
	UserID string
	Groups []string
	Now    time.Time
}

// ViewerOf returns p's viewer.
func (s *Service) ViewerOf(p Principal) Viewer {
	return Viewer{All: p.IsAdmin(), UserID: p.ID, Groups: p.Groups, Now: s.now().UTC()}
}
