package credential

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/credflow/credflow/internal/access"
	"github.com/credflow/credflow/internal/envvar"
)

// fakeRepo serves credentials by id; other methods are left to the
// embedded nil interface.
type fakeRepo struct {
	Repository
	creds map[string]Credential
}

func (r fakeRepo) Get(_ context.Context, idOrName string) (Credential, error) {
	if c, ok := r.creds[idOrName]; ok {
		return c, nil
	}
	return Credential{}, fmt.Errorf("%w: %q", ErrNotFound, idOrName)
}

// fakeAccess lets everyone use everything and records what a share or
// unshare was asked to reach.
type fakeAccess struct {
	envvar.Access
	cascade []access.Object
	with    bool
}

func (a *fakeAccess) Require(context.Context, access.Principal, access.Object, string, func(access.ObjectRole) bool) (access.ObjectRole, error) {
	return access.RoleOwner, nil
}

func (a *fakeAccess) Share(_ context.Context, _ access.Principal, obj access.Object, in access.ShareInput, cascade ...access.Object) (access.Share, error) {
	a.cascade = cascade
	return access.Share{Object: obj, Role: in.Role}, nil
}

func (a *fakeAccess) Unshare(_ context.Context, _ access.Principal, _ access.Object, _ string, opts access.UnshareOptions) (access.Unshared, error) {
	a.cascade, a.with = opts.Cascade, opts.WithCascade
	return access.Unshared{}, nil
}

func names(objs []access.Object) string {
	var out []string
	for _, o := range objs {
		out = append(out, string(o.Kind)+":"+o.Name)
	}
	return strings.Join(out, ",")
}

func TestSharingReachesTheVariables(t *testing.T) {
	repo := fakeRepo{creds: map[string]Credential{
		"DB":   {ID: "C1", Name: "DB", UsernameVarID: "VU", Username: "cf_User", PasswordVarID: "VP", Password: "cf_Pass"},
		"Same": {ID: "C2", Name: "Same", UsernameVarID: "VP", Username: "cf_Pass", PasswordVarID: "VP", Password: "cf_Pass"},
	}}
	alice := access.Principal{ID: "alice", Name: "alice", Role: access.RoleMaker}
	for _, tc := range []struct {
		name, cred, want string
		with             bool
		unshare          bool
	}{
		{name: "a share reaches both variables", cred: "DB", want: "variable:cf_User,variable:cf_Pass"},
		{name: "one variable in both fields is reached once", cred: "Same", want: "variable:cf_Pass"},
		{name: "an unshare names both variables, keeping their shares", cred: "DB", unshare: true, want: "variable:cf_User,variable:cf_Pass"},
		{name: "an unshare with variables asks for them to go", cred: "DB", unshare: true, with: true, want: "variable:cf_User,variable:cf_Pass"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			acc := &fakeAccess{}
			s := NewService(repo, nil, acc)
			var err error
			if tc.unshare {
				_, err = s.Unshare(context.Background(), alice, tc.cred, "user:bob", tc.with)
			} else {
				_, err = s.Share(context.Background(), alice, tc.cred, access.ShareInput{Principal: "user:bob", Role: access.RoleUser})
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := names(acc.cascade); got != tc.want || acc.with != tc.with {
				t.Errorf("reached %s (with variables %v), want %s (%v)", got, acc.with, tc.want, tc.with)
			}
		})
	}
}
