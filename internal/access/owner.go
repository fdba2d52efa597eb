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

// Ownership transfer. Every credential, environment variable and connection
// has one owner of record (the user shown as its owner). A credential or
// variable's owner also holds the owner role through a share; a connection
// has no shares. Transferring an object makes another user its owner:
//
//   - the new owner must be a user who may build on objects: not a group, not
//     a runner;
//   - the new owner of a credential or variable gets the owner role (any
//     share they held is replaced, its expiry dropped), and the new owner of
//     a credential the use of its variables, as a share would give;
//   - the previous owner keeps the object as co-owner (their owner share
//     becomes co-owner), the way GitHub and Power Platform keep the previous
//     owner on; they can leave it like any share. When the previous owner is
//     being deleted, their shares go with them;
//   - the new owner of a connection must be able to use its credential and
//     the credential's two variables, else every resolve would fail.

var (
	// ErrNewOwnerLacksAccess: the new owner of a connection may not use what
	// the connection is built on.
	ErrNewOwnerLacksAccess = errors.New("the new owner may not use what it is built on")
	// ErrOwnerChanged: the object's owner changed while the transfer was
	// being decided; reading it again and retrying is safe.
	ErrOwnerChanged = errors.New("the owner changed meanwhile; try again")
)

// OwnerChange is one object's change of owner, written in one transaction
// with its audit record.
type OwnerChange struct {
	Object Object
	From   PrincipalRef // the previous owner, a user
	To     PrincipalRef // the new owner, a user
	// Primary: From is the owner of record, which becomes To. The write
	// fails with ErrOwnerChanged when the owner of record is no longer From.
	Primary bool
	// FromKeeps is the role From keeps in place of an owner share on a
	// credential or variable; "" takes their share away.
	FromKeeps ObjectRole
	// Cascade lists objects To gets the use of (a credential's variables):
	// the user role where they hold no active share, and no expiry on a
	// share they hold.
	Cascade []Object
	At      time.Time
}

// Owned is an object a user owns: as its owner of record, or through an
// active owner share.
type Owned struct {
	Object  Object
	Primary bool // the user is the owner of record
	// Uses lists what the object is built on: a credential's two
	// variables; a connection's credential and its two variables (none for
	// a broken connection).
	Uses []Object
}

// Owners is the storage ownership transfers need.
type Owners interface {
	// SetOwner writes ch and e in one transaction.
	SetOwner(ctx context.Context, ch OwnerChange, e audit.Entry) error
	// Owned lists what the user owns at time now.
	Owned(ctx context.Context, userID string, now time.Time) ([]Owned, error)
	// DeleteUserHandingOver writes every change, deletes the user with
	// their shares, grants and tokens, and appends entries, all in one
	// transaction. An object the user came to own meanwhile makes it fail
	// with ErrInUse.
	DeleteUserHandingOver(ctx context.Context, userID string, changes []OwnerChange, entries []audit.Entry) error
}

// newOwnerProblem says why u (named by a reference of kind kind) cannot own
// objects, or "".
func newOwnerProblem(kind PrincipalKind, u User) string {
	switch {
	case kind != PrincipalUser:
		return "must be a user (user:<name>): a group cannot own an object; share it with the group instead"
	case u.Role == RoleRunner:
		return fmt.Sprintf("names %s, a runner: a runner only resolves connections and cannot own objects", u.Name)
	}
	return ""
}

// NewOwner finds the user ref names and checks that they may own objects.
// field names the request field, for the error.
func (s *Service) NewOwner(ctx context.Context, field, ref string) (Principal, error) {
	if strings.TrimSpace(ref) == "" {
		return Principal{}, validation.Field(field, "is required: the new owner, as user:<name>")
	}
	target, err := s.ResolvePrincipal(ctx, ref)
	if errors.Is(err, ErrNotFound) {
		return Principal{}, validation.Field(field, fmt.Sprintf("names no user (%q)", ref))
	}
	var ve *validation.Error
	if errors.As(err, &ve) {
		return Principal{}, validation.Field(field, "must be user:<name>")
	}
	if err != nil {
		return Principal{}, err
	}
	var u User
	if target.Kind == PrincipalUser {
		if u, err = s.repo.User(ctx, target.ID); err != nil {
			return Principal{}, err
		}
	}
	if msg := newOwnerProblem(target.Kind, u); msg != "" {
		return Principal{}, validation.Field(field, msg)
	}
	return s.PrincipalOf(ctx, u.ID)
}

// userRef names a user principal.
func userRef(p Principal) PrincipalRef {
	return PrincipalRef{Kind: PrincipalUser, ID: p.ID, Name: p.Name}
}

// TransferOwner makes the user to names the owner of obj, a credential or
// an environment variable whose owner of record is owner. p must hold the
// owner role on it (admins do). The previous owner keeps it as co-owner; a
// credential's new owner gets the use of the variables in cascade.
// Transferring to the current owner changes nothing.
func (s *Service) TransferOwner(ctx context.Context, p Principal, obj Object, owner PrincipalRef, to string, cascade ...Object) error {
	action := string(obj.Kind) + ".owner.transfer"
	if _, err := s.Require(ctx, p, obj, action, func(r ObjectRole) bool { return r == RoleOwner }); err != nil {
		return err
	}
	target, err := s.NewOwner(ctx, "principal", to)
	if err != nil {
		return err
	}
	if target.ID == owner.ID {
		return nil
	}
	ch := OwnerChange{Object: obj, From: owner, To: userRef(target), Primary: true, FromKeeps: RoleCoOwner,
		Cascade: cascade, At: s.now().UTC()}
	return s.repo.SetOwner(ctx, ch, ownerEntry(p, ch, "user:"+owner.Name+" keeps co-owner"))
}

// ChangeOwner writes ch, decided by the caller's own rules (a connection's
// service), with its audit record.
func (s *Service) ChangeOwner(ctx context.Context, p Principal, ch OwnerChange) error {
	if ch.At.IsZero() {
		ch.At = s.now().UTC()
	}
	return s.repo.SetOwner(ctx, ch, ownerEntry(p, ch, ""))
}

func ownerEntry(p Principal, ch OwnerChange, note string) audit.Entry {
	reason := "from " + ch.From.String() + " to " + ch.To.String()
	if note != "" {
		reason += "; " + note
	}
	return audit.Entry{Actor: p.Name, Action: string(ch.Object.Kind) + ".owner.transfer", Resource: ch.Object.resource(),
		Outcome: audit.Success, Reason: reason}
}

// CanUseAll reports the first of objs that p may not use, or ok.
func (s *Service) CanUseAll(ctx context.Context, p Principal, objs ...Object) (Object, bool, error) {
	for _, o := range objs {
		role, err := s.RoleOn(ctx, p, o)
		if err != nil {
			return o, false, err
		}
		if !role.CanUse() {
			return o, false, nil
		}
	}
	return Object{}, true, nil
}

// LacksAccess is the error for a new owner who may not use obj, which the
// object being transferred is built on.
func LacksAccess(newOwner string, obj, builtOn Object) error {
	return fmt.Errorf("%w: user:%s may not use %s %q, which %s %q uses; share it with them first",
		ErrNewOwnerLacksAccess, newOwner, kindWords(builtOn.Kind), builtOn.Name, kindWords(obj.Kind), obj.Name)
}

func kindWords(k ObjectKind) string {
	if k == KindVariable {
		return "environment variable"
	}
	return string(k)
}

// handOver decides what deleting the user from hands over to the user to:
// every object from owns, each with its audit entry, and a summary entry
// for the deletion. canUse answers whether to may use an object today. A
// connection moves only if to may use what it is built on, today or
// through what moves with it.
func handOver(owned []Owned, from, to Principal, actor string, at time.Time, canUse func(Object) (bool, error)) ([]OwnerChange, []audit.Entry, error) {
	moving := map[Object]bool{}
	for _, o := range owned {
		moving[key(o.Object)] = true
		if o.Object.Kind == KindCredential {
			for _, u := range o.Uses {
				moving[key(u)] = true // the new owner gets their use in cascade
			}
		}
	}
	var (
		changes []OwnerChange
		entries []audit.Entry
		counts  = map[ObjectKind]int{}
	)
	for _, o := range owned {
		if o.Object.Kind == KindConnection {
			for _, u := range o.Uses {
				if moving[key(u)] {
					continue
				}
				ok, err := canUse(u)
				if err != nil {
					return nil, nil, err
				}
				if !ok {
					return nil, nil, LacksAccess(to.Name, o.Object, u)
				}
			}
		}
		ch := OwnerChange{Object: o.Object, From: userRef(from), To: userRef(to), Primary: o.Primary, At: at}
		if o.Object.Kind == KindCredential {
			ch.Cascade = o.Uses
		}
		changes = append(changes, ch)
		entries = append(entries, ownerEntry(Principal{Name: actor}, ch, "user:"+from.Name+" deleted"))
		counts[o.Object.Kind]++
	}
	summary := "owned nothing"
	if len(owned) > 0 {
		summary = fmt.Sprintf("handed over to user:%s: %s, %s, %s", to.Name,
			plural(counts[KindCredential], "credential"), plural(counts[KindVariable], "environment variable"),
			plural(counts[KindConnection], "connection"))
		if n := counts[KindSolution]; n > 0 {
			summary += ", " + plural(n, "solution")
		}
	}
	entries = append(entries, audit.Entry{Actor: actor, Action: "user.delete", Resource: "user:" + from.Name,
		Outcome: audit.Success, Reason: summary})
	return changes, entries, nil
}

// key is obj without its name, for set membership.
func key(o Object) Object { return Object{Kind: o.Kind, ID: o.ID} }

func plural(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return fmt.Sprintf("%d %ss", n, noun)
}

// DeleteUserHandingOver deletes a user and hands everything they own to
// the user transferTo names, in one transaction: each object's move is
// audited under the object, and the deletion under the user with the
// counts. A connection whose credential the new owner may not use stops
// it (ErrNewOwnerLacksAccess) before anything changes.
func (s *Service) DeleteUserHandingOver(ctx context.Context, p Principal, idOrName, transferTo string) error {
	u, err := s.repo.User(ctx, idOrName)
	if err != nil {
		return err
	}
	if u.ID == p.ID {
		return validation.Field("user", "an admin cannot delete their own user")
	}
	to, err := s.NewOwner(ctx, "transferTo", transferTo)
	if err != nil {
		return err
	}
	if to.ID == u.ID {
		return validation.Field("transferTo", "must name another user than the one being deleted")
	}
	from := Principal{ID: u.ID, Name: u.Name}
	now := s.now().UTC()
	owned, err := s.repo.Owned(ctx, u.ID, now)
	if err != nil {
		return err
	}
	changes, entries, err := handOver(owned, from, to, p.Name, now, func(o Object) (bool, error) {
		role, err := s.RoleOn(ctx, to, o)
		return role.CanUse(), err
	})
	if err != nil {
		return err
	}
	return s.repo.DeleteUserHandingOver(ctx, u.ID, changes, entries)
}

// ownsNothing refuses, with ErrInUse and what they own, a user who owns
// objects: deleting them would leave objects without the owner who manages
// them. (The database refuses too, for the owner of record.)
func (s *Service) ownsNothing(ctx context.Context, u User) error {
	owned, err := s.repo.Owned(ctx, u.ID, s.now().UTC())
	if err != nil || len(owned) == 0 {
		return err
	}
	counts := map[ObjectKind]int{}
	for _, o := range owned {
		counts[o.Object.Kind]++
	}
	what := fmt.Sprintf("%s, %s and %s", plural(counts[KindCredential], "credential"), plural(counts[KindVariable], "environment variable"),
		plural(counts[KindConnection], "connection"))
	if n := counts[KindSolution]; n > 0 {
		what = fmt.Sprintf("%s, %s, %s and %s", plural(counts[KindCredential], "credential"), plural(counts[KindVariable], "environment variable"),
			plural(counts[KindConnection], "connection"), plural(n, "solution"))
	}
	return fmt.Errorf("%w: user %s owns %s; delete the user with transferTo=<user> to give them to another user in the same step",
		ErrInUse, u.Name, what)
}
