package access

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/credflow/credflow/internal/audit"
	"github.com/credflow/credflow/internal/validation"
)

// ownerRepo is an in-memory Repository with just what transfers use; any
// other method panics through the nil embedded interface.
type ownerRepo struct {
	Repository
	users   map[string]User
	groups  map[string][]string // user id -> group ids
	shares  []Share
	owned   []Owned
	set     []OwnerChange
	deleted []string
	entries []audit.Entry
}

func (r *ownerRepo) User(_ context.Context, idOrName string) (User, error) {
	for _, u := range r.users {
		if u.ID == idOrName || strings.EqualFold(u.Name, idOrName) {
			return u, nil
		}
	}
	return User{}, fmt.Errorf("%w: user %q", ErrNotFound, idOrName)
}

func (r *ownerRepo) Group(_ context.Context, idOrName string) (Group, error) {
	if idOrName == "ops" {
		return Group{ID: "g-ops", Name: "ops"}, nil
	}
	return Group{}, fmt.Errorf("%w: group %q", ErrNotFound, idOrName)
}

func (r *ownerRepo) GroupIDsOf(_ context.Context, userID string) ([]string, error) {
	return r.groups[userID], nil
}

func (r *ownerRepo) Shares(_ context.Context, kind ObjectKind, id string) ([]Share, error) {
	var out []Share
	for _, s := range r.shares {
		if s.Object.Kind == kind && s.Object.ID == id {
			out = append(out, s)
		}
	}
	return out, nil
}

func (r *ownerRepo) Record(_ context.Context, entries ...audit.Entry) error {
	r.entries = append(r.entries, entries...)
	return nil
}

func (r *ownerRepo) SetOwner(_ context.Context, ch OwnerChange, e audit.Entry) error {
	r.set = append(r.set, ch)
	r.entries = append(r.entries, e)
	return nil
}

func (r *ownerRepo) Owned(context.Context, string, time.Time) ([]Owned, error) { return r.owned, nil }

func (r *ownerRepo) DeleteUser(_ context.Context, id string, e audit.Entry) error {
	r.deleted = append(r.deleted, id)
	r.entries = append(r.entries, e)
	return nil
}

func (r *ownerRepo) DeleteUserHandingOver(_ context.Context, userID string, changes []OwnerChange, entries []audit.Entry) error {
	r.set = append(r.set, changes...)
	r.deleted = append(r.deleted, userID)
	r.entries = append(r.entries, entries...)
	return nil
}

var (
	mona   = User{ID: "u-mona", Name: "mona", Role: RoleMaker}
	carol  = User{ID: "u-carol", Name: "carol", Role: RoleMaker}
	boss   = User{ID: "u-boss", Name: "boss", Role: RoleAdmin}
	agent  = User{ID: "u-agent", Name: "agent", Role: RoleRunner}
	cred   = Object{Kind: KindCredential, ID: "c1", Name: "SQL"}
	uvar   = Object{Kind: KindVariable, ID: "v1", Name: "cf_User"}
	pvar   = Object{Kind: KindVariable, ID: "v2", Name: "cf_Pass"}
	conn   = Object{Kind: KindConnection, ID: "k1", Name: "sql-build"}
	future = time.Date(2100, 1, 1, 0, 0, 0, 0, time.UTC)
	past   = time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC)
)

func principalOf(u User) Principal { return Principal{ID: u.ID, Name: u.Name, Role: u.Role} }

func ownerShare(obj Object, u User, role ObjectRole, expires time.Time) Share {
	return Share{Object: obj, Principal: PrincipalRef{Kind: PrincipalUser, ID: u.ID, Name: u.Name}, Role: role, ExpiresAt: expires}
}

func newOwnerService(shares ...Share) (*Service, *ownerRepo) {
	repo := &ownerRepo{users: map[string]User{}, groups: map[string][]string{}, shares: shares}
	for _, u := range []User{mona, carol, boss, agent} {
		repo.users[u.ID] = u
	}
	return NewService(repo, Options{}), repo
}

func wantField(t *testing.T, err error, field string) {
	t.Helper()
	ve, ok := validation.As(err)
	if !ok || len(ve.Fields) != 1 || ve.Fields[0].Field != field {
		t.Fatalf("error %v, want a validation error on %s", err, field)
	}
}

func TestTransferOwnerRules(t *testing.T) {
	monaOwns := ownerShare(cred, mona, RoleOwner, time.Time{})
	monaRef := PrincipalRef{Kind: PrincipalUser, ID: mona.ID, Name: mona.Name}
	for _, c := range []struct {
		name    string
		caller  User
		shares  []Share
		to      string
		wantErr error  // a sentinel, or nil
		field   string // a validation error on this field
		noop    bool
	}{
		{name: "owner to a maker", caller: mona, shares: []Share{monaOwns}, to: "user:carol"},
		{name: "by a bare name", caller: mona, shares: []Share{monaOwns}, to: "carol"},
		{name: "admin without a share", caller: boss, shares: []Share{monaOwns}, to: "user:carol"},
		{name: "owner through a second owner share", caller: carol, shares: []Share{monaOwns, ownerShare(cred, carol, RoleOwner, time.Time{})}, to: "user:carol"},
		{name: "to an admin", caller: mona, shares: []Share{monaOwns}, to: "user:boss"},
		{name: "to the owner is a no-op", caller: mona, shares: []Share{monaOwns}, to: "user:mona", noop: true},
		{name: "co-owner may not", caller: carol, shares: []Share{monaOwns, ownerShare(cred, carol, RoleCoOwner, time.Time{})}, to: "user:carol", wantErr: ErrForbidden},
		{name: "user-share may not", caller: carol, shares: []Share{monaOwns, ownerShare(cred, carol, RoleUserShare, time.Time{})}, to: "user:carol", wantErr: ErrForbidden},
		{name: "expired owner share may not", caller: carol, shares: []Share{monaOwns, ownerShare(cred, carol, RoleOwner, past)}, to: "user:carol", wantErr: ErrNotFound},
		{name: "no role sees nothing", caller: carol, shares: []Share{monaOwns}, to: "user:carol", wantErr: ErrNotFound},
		{name: "to a group", caller: mona, shares: []Share{monaOwns}, to: "group:ops", field: "principal"},
		{name: "to a runner", caller: mona, shares: []Share{monaOwns}, to: "user:agent", field: "principal"},
		{name: "to nobody", caller: mona, shares: []Share{monaOwns}, to: "user:ghost", field: "principal"},
		{name: "to nothing", caller: mona, shares: []Share{monaOwns}, to: " ", field: "principal"},
		{name: "to a bad kind", caller: mona, shares: []Share{monaOwns}, to: "robot:x", field: "principal"},
	} {
		t.Run(c.name, func(t *testing.T) {
			s, repo := newOwnerService(c.shares...)
			err := s.TransferOwner(context.Background(), principalOf(c.caller), cred, monaRef, c.to, uvar, pvar)
			switch {
			case c.field != "":
				wantField(t, err, c.field)
			case c.wantErr != nil:
				if !errors.Is(err, c.wantErr) {
					t.Fatalf("error %v, want %v", err, c.wantErr)
				}
			case err != nil:
				t.Fatal(err)
			}
			if c.field != "" || c.wantErr != nil || c.noop {
				if len(repo.set) != 0 {
					t.Fatalf("wrote %+v", repo.set)
				}
				return
			}
			if len(repo.set) != 1 {
				t.Fatalf("wrote %d changes", len(repo.set))
			}
			ch := repo.set[0]
			if ch.From != monaRef || ch.To.Kind != PrincipalUser || ch.To.Name == "" || !ch.Primary ||
				ch.FromKeeps != RoleCoOwner || len(ch.Cascade) != 2 || ch.At.IsZero() {
				t.Errorf("change %+v", ch)
			}
			e := repo.entries[len(repo.entries)-1]
			if e.Action != "credential.owner.transfer" || e.Resource != "credential:SQL" || e.Actor != c.caller.Name ||
				!strings.Contains(e.Reason, "from user:mona to user:"+ch.To.Name+"; user:mona keeps co-owner") {
				t.Errorf("entry %+v", e)
			}
		})
	}
}

func TestHandOverRules(t *testing.T) {
	credOwned := Owned{Object: cred, Primary: true, Uses: []Object{uvar, pvar}}
	connOwned := Owned{Object: conn, Primary: true, Uses: []Object{cred, uvar, pvar}}
	otherCred := Object{Kind: KindCredential, ID: "c2", Name: "Other"}
	connOnOther := Owned{Object: conn, Primary: true, Uses: []Object{otherCred, uvar, pvar}}
	shareOnly := Owned{Object: uvar, Primary: false}
	broken := Owned{Object: Object{Kind: KindConnection, ID: "k2", Name: "broken"}, Primary: true}
	for _, c := range []struct {
		name       string
		owned      []Owned
		canUse     map[Object]bool // what the new owner may use today
		wantLacks  string          // the object named when the new owner lacks access
		wantCounts string
	}{
		{name: "nothing owned", wantCounts: "owned nothing"},
		{name: "a connection on a credential that moves", owned: []Owned{credOwned, connOwned},
			wantCounts: "handed over to user:carol: 1 credential, 0 environment variables, 1 connection"},
		{name: "a connection on another's credential the new owner may use", owned: []Owned{connOnOther},
			canUse:     map[Object]bool{key(otherCred): true, key(uvar): true, key(pvar): true},
			wantCounts: "handed over to user:carol: 0 credentials, 0 environment variables, 1 connection"},
		{name: "a connection on another's credential the new owner may not use", owned: []Owned{connOnOther},
			canUse: map[Object]bool{key(uvar): true, key(pvar): true}, wantLacks: `credential "Other"`},
		{name: "a connection whose variable the new owner may not use", owned: []Owned{connOnOther},
			canUse: map[Object]bool{key(otherCred): true, key(uvar): true}, wantLacks: `environment variable "cf_Pass"`},
		{name: "a variable through an owner share and a broken connection", owned: []Owned{shareOnly, broken},
			wantCounts: "handed over to user:carol: 0 credentials, 1 environment variable, 1 connection"},
	} {
		t.Run(c.name, func(t *testing.T) {
			from, to := principalOf(mona), principalOf(carol)
			changes, entries, err := handOver(c.owned, from, to, "boss", time.Unix(1, 0), func(o Object) (bool, error) {
				return c.canUse[key(o)], nil
			})
			if c.wantLacks != "" {
				if !errors.Is(err, ErrNewOwnerLacksAccess) || !strings.Contains(err.Error(), c.wantLacks) {
					t.Fatalf("error %v, want one naming %s", err, c.wantLacks)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if len(changes) != len(c.owned) || len(entries) != len(c.owned)+1 {
				t.Fatalf("%d changes, %d entries for %d owned", len(changes), len(entries), len(c.owned))
			}
			for i, ch := range changes {
				o := c.owned[i]
				if ch.Object != o.Object || ch.Primary != o.Primary || ch.FromKeeps != "" || ch.From.ID != mona.ID || ch.To.ID != carol.ID {
					t.Errorf("change %+v for %+v", ch, o)
				}
				if (o.Object.Kind == KindCredential) != (len(ch.Cascade) == 2) {
					t.Errorf("cascade %v for %s", ch.Cascade, o.Object.Kind)
				}
				if e := entries[i]; e.Resource != o.Object.resource() || e.Action != string(o.Object.Kind)+".owner.transfer" ||
					e.Reason != "from user:mona to user:carol; user:mona deleted" {
					t.Errorf("entry %+v", e)
				}
			}
			last := entries[len(entries)-1]
			if last.Action != "user.delete" || last.Resource != "user:mona" || last.Reason != c.wantCounts || last.Actor != "boss" {
				t.Errorf("summary %+v, want reason %q", last, c.wantCounts)
			}
		})
	}
}

func TestDeleteUserHandingOverChecks(t *testing.T) {
	ctx := context.Background()
	for _, c := range []struct {
		name, user, to string
		field          string
	}{
		{"to a runner", "mona", "agent", "transferTo"},
		{"to a group", "mona", "group:ops", "transferTo"},
		{"to the user", "mona", "user:mona", "transferTo"},
		{"to nobody", "mona", "ghost", "transferTo"},
		{"to nothing", "mona", "", "transferTo"},
		{"oneself", "boss", "carol", "user"},
	} {
		t.Run(c.name, func(t *testing.T) {
			s, repo := newOwnerService()
			wantField(t, s.DeleteUserHandingOver(ctx, principalOf(boss), c.user, c.to), c.field)
			if len(repo.deleted) != 0 {
				t.Fatal("deleted")
			}
		})
	}
	t.Run("the new owner's groups count", func(t *testing.T) {
		otherCred := Object{Kind: KindCredential, ID: "c2", Name: "Other"}
		group := PrincipalRef{Kind: PrincipalGroup, ID: "g-ops", Name: "ops"}
		s, repo := newOwnerService(
			Share{Object: otherCred, Principal: group, Role: RoleUser},
			Share{Object: uvar, Principal: group, Role: RoleUser},
			ownerShare(pvar, carol, RoleUser, future))
		repo.groups[carol.ID] = []string{"g-ops"}
		repo.owned = []Owned{{Object: conn, Primary: true, Uses: []Object{otherCred, uvar, pvar}}}
		if err := s.DeleteUserHandingOver(ctx, principalOf(boss), "mona", "user:carol"); err != nil {
			t.Fatal(err)
		}
		if len(repo.deleted) != 1 || repo.deleted[0] != mona.ID || len(repo.set) != 1 {
			t.Fatalf("deleted %v, changes %+v", repo.deleted, repo.set)
		}
	})
}

func TestDeleteUserWhoOwnsSomething(t *testing.T) {
	for _, c := range []struct {
		name  string
		owned []Owned
		want  string // "" : deleted
	}{
		{"owns nothing", nil, ""},
		{"owner of record", []Owned{{Object: cred, Primary: true}}, "owns 1 credential, 0 environment variables and 0 connections"},
		{"only through the owner role", []Owned{{Object: uvar}, {Object: pvar}}, "owns 0 credentials, 2 environment variables and 0 connections"},
		{"a connection", []Owned{{Object: conn, Primary: true}}, "owns 0 credentials, 0 environment variables and 1 connection"},
	} {
		t.Run(c.name, func(t *testing.T) {
			s, repo := newOwnerService()
			repo.owned = c.owned
			err := s.DeleteUser(context.Background(), principalOf(boss), "mona")
			if c.want == "" {
				if err != nil || len(repo.deleted) != 1 {
					t.Fatalf("err %v, deleted %v", err, repo.deleted)
				}
				return
			}
			if !errors.Is(err, ErrInUse) || !strings.Contains(err.Error(), c.want) || !strings.Contains(err.Error(), "transferTo") {
				t.Fatalf("err %v, want in use: %s", err, c.want)
			}
			if len(repo.deleted) != 0 {
				t.Fatal("deleted")
			}
		})
	}
}
