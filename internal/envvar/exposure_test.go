package envvar

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/credflow/credflow/internal/access"
)

// fakeRepo serves one variable and its reach; other methods are left to the
// embedded nil interface.
type fakeRepo struct {
	Repository
	v     Variable
	reach Reach
}

func (r fakeRepo) Get(_ context.Context, idOrName string) (Variable, error) {
	if idOrName != r.v.ID && idOrName != r.v.SchemaName {
		return Variable{}, fmt.Errorf("%w: %q", ErrNotFound, idOrName)
	}
	return r.v, nil
}

func (r fakeRepo) Reach(context.Context, string) (Reach, error) { return r.reach, nil }

// fakeAccess answers roles from a table keyed "principal-id object-id".
type fakeAccess struct {
	Access
	shares []access.Share
	roles  map[string]access.ObjectRole
	denied []string
}

func (a *fakeAccess) role(p access.Principal, obj access.Object) access.ObjectRole {
	return a.roles[p.ID+" "+obj.ID]
}

func (a *fakeAccess) Require(ctx context.Context, p access.Principal, obj access.Object, action string, ok func(access.ObjectRole) bool) (access.ObjectRole, error) {
	r := a.role(p, obj)
	switch {
	case !r.CanUse():
		a.denied = append(a.denied, p.Name)
		return "", access.ErrNotFound
	case !ok(r):
		a.denied = append(a.denied, p.Name)
		return "", access.ErrForbidden
	}
	return r, nil
}

func (a *fakeAccess) Shares(context.Context, access.Principal, access.Object) ([]access.Share, error) {
	return a.shares, nil
}

func (a *fakeAccess) RoleOn(_ context.Context, p access.Principal, obj access.Object) (access.ObjectRole, error) {
	return a.role(p, obj), nil
}

func (a *fakeAccess) PrincipalOf(_ context.Context, id string) (access.Principal, error) {
	return access.Principal{ID: id, Name: id}, nil
}

func TestExposure(t *testing.T) {
	now := time.Date(2026, 1, 2, 10, 0, 0, 0, time.UTC)
	v := Variable{ID: "VP", SchemaName: "cf_Pass", Type: TypeSecret}
	user := func(id string) access.PrincipalRef {
		return access.PrincipalRef{Kind: access.PrincipalUser, ID: id, Name: id}
	}
	dba := access.PrincipalRef{Kind: access.PrincipalGroup, ID: "G", Name: "dba"}
	cred := access.Object{Kind: access.KindCredential, ID: "C", Name: "DB"}
	acc := &fakeAccess{
		shares: []access.Share{
			{Principal: user("alice"), Role: access.RoleOwner},
			{Principal: user("bob"), Role: access.RoleUser, Via: cred, ExpiresAt: now.Add(time.Hour)},
			{Principal: user("old"), Role: access.RoleCoOwner, ExpiresAt: now.Add(-time.Hour)},
			{Principal: dba, Role: access.RoleUser, Via: cred},
		},
		roles: map[string]access.ObjectRole{
			"alice VP": access.RoleOwner, "bob VP": access.RoleUser, "co VP": access.RoleCoOwner,
			"alice C": access.RoleOwner, "alice VU": access.RoleOwner,
			"bob C": access.RoleUser, // but not the username variable
		},
	}
	conn := func(name, owner string, enabled bool) ConnectionPath {
		return ConnectionPath{Connection: Named{ID: name, Name: name}, RunnerGroup: "rg-" + name, Credential: Named{ID: "C", Name: "DB"},
			CredentialEnabled: enabled, UsernameVarID: "VU", PasswordVarID: "VP", Owner: Named{ID: owner, Name: owner}}
	}
	repo := fakeRepo{v: v, reach: Reach{
		Members: map[string][]Named{"G": {{ID: "carol", Name: "carol"}}},
		Admins:  []Named{{ID: "root", Name: "root"}},
		Connections: []ConnectionPath{
			conn("alice-conn", "alice", true),
			conn("bob-conn", "bob", true),
			conn("off-conn", "alice", false),
			conn("eve-conn", "eve", true),
		},
	}}
	s := NewService(repo, nil, acc, "cf")
	s.now = func() time.Time { return now }

	for _, tc := range []struct {
		caller  string
		wantErr error
	}{
		{"alice", nil},
		{"co", nil},
		{"bob", access.ErrForbidden},
		{"stranger", access.ErrNotFound},
	} {
		t.Run(tc.caller, func(t *testing.T) {
			x, err := s.Exposure(context.Background(), access.Principal{ID: tc.caller, Name: tc.caller}, "cf_Pass")
			if tc.wantErr != nil {
				if !errors.Is(err, tc.wantErr) && !errors.Is(err, ErrNotFound) {
					t.Fatalf("error %v, want %v", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var holders []string
			for _, h := range x.Holders {
				s := h.Principal.String() + " " + string(h.Role)
				if h.Group.ID != "" {
					s += " group=" + h.Group.Name
				}
				if h.Via.ID != "" {
					s += " via=" + h.Via.Name
				}
				if h.Admin {
					s += " admin"
				}
				holders = append(holders, s)
			}
			want := "user:alice owner; user:bob user via=DB; group:dba user via=DB; user:carol user group=dba via=DB; user:root owner admin"
			if got := strings.Join(holders, "; "); got != want {
				t.Errorf("holders\n got %s\nwant %s", got, want)
			}
			var paths []string
			for _, c := range x.RunnerGroups {
				s := c.Connection.Name + " " + fmt.Sprint(c.CanResolve)
				if c.Reason != "" {
					s += " (" + c.Reason + ")"
				}
				paths = append(paths, s)
			}
			want = "alice-conn true; bob-conn false (the connection's owner may no longer use one of its credential's variables); " +
				"off-conn false (the credential is disabled); eve-conn false (the connection's owner may no longer use its credential)"
			if got := strings.Join(paths, "; "); got != want {
				t.Errorf("runner groups\n got %s\nwant %s", got, want)
			}
		})
	}
	if strings.Join(acc.denied, ",") != "bob,stranger" {
		t.Errorf("denials %q", acc.denied)
	}
}
