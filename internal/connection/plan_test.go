package connection

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/credflow/credflow/internal/access"
	"github.com/credflow/credflow/internal/audit"
	"github.com/credflow/credflow/internal/credential"
	"github.com/credflow/credflow/internal/envvar"
	"github.com/credflow/credflow/internal/secretstore"
	"github.com/credflow/credflow/internal/secretstore/memstore"
)

// fakeRepo serves one target and counts what it is asked. Methods a resolve
// does not use are left to the embedded nil interface.
type fakeRepo struct {
	Repository
	t       Target
	gen     uint64
	targets int
	records []Resolution
}

func (r *fakeRepo) Target(context.Context, string) (Target, error) { r.targets++; return r.t, nil }
func (r *fakeRepo) Generation() (uint64, bool)                     { return r.gen, true }
func (r *fakeRepo) Record(_ context.Context, res Resolution) error {
	r.records = append(r.records, res)
	return nil
}

type grant struct {
	role  access.ObjectRole
	until time.Time
}

// fakeAccess answers the owner's role on each object by its id.
type fakeAccess struct {
	Access
	mu    sync.Mutex
	roles map[string]grant
	now   *time.Time
	asked int
}

func (a *fakeAccess) PrincipalOf(_ context.Context, id string) (access.Principal, error) {
	return access.Principal{ID: id, Name: "owner", Role: access.RoleMaker}, nil
}

func (a *fakeAccess) RoleOnUntil(_ context.Context, _ access.Principal, obj access.Object) (access.ObjectRole, time.Time, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.asked++
	g := a.roles[obj.ID]
	if !g.until.IsZero() && !a.now.Before(g.until) {
		return "", time.Time{}, nil
	}
	return g.role, g.until, nil
}

type readers struct{ s *memstore.Store }

func (r readers) Reader(string) (secretstore.Store, secretstore.Info, error) {
	return r.s, secretstore.Info{}, nil
}

func newResolveFixture(roles map[string]grant) (*Service, *fakeRepo, *fakeAccess, *time.Time) {
	now := time.Date(2026, 1, 2, 10, 0, 0, 0, time.UTC)
	vault := memstore.New()
	vault.Set("pw", "the-password")
	repo := &fakeRepo{gen: 1, t: Target{
		Connection: Connection{ID: "K", Name: "conn", CredentialID: "C", RunnerGroupID: "RG", OwnerID: "O", Owner: "owner"},
		Credential: credential.Credential{ID: "C", Name: "cred", UsernameVarID: "VU", PasswordVarID: "VP", Enabled: true},
		Username:   envvar.Variable{ID: "VU", SchemaName: "cf_User", Type: envvar.TypeText, Value: "svc"},
		Password:   envvar.Variable{ID: "VP", SchemaName: "cf_Pass", Type: envvar.TypeSecret, Secret: &envvar.SecretRef{Store: "vault", Ref: "pw"}},
	}}
	acc := &fakeAccess{roles: roles, now: &now}
	s := NewService(repo, acc, nil, readers{vault})
	s.now = func() time.Time { return now }
	return s, repo, acc, &now
}

var runner = access.Principal{ID: "R", Name: "runner-1", Role: access.RoleRunner, RunnerGroupID: "RG"}

func TestResolveNeedsTheOwnersUseOfAllThree(t *testing.T) {
	use := grant{role: access.RoleUser}
	for _, tc := range []struct {
		name     string
		roles    map[string]grant
		wantLost string // "" for a successful resolve
	}{
		{"owner may use the credential and both variables", map[string]grant{"C": {role: access.RoleOwner}, "VU": use, "VP": use}, ""},
		{"no role on the credential", map[string]grant{"VU": use, "VP": use}, "credential cred"},
		{"no role on the username variable", map[string]grant{"C": use, "VP": use}, "cf_User"},
		{"no role on the password variable", map[string]grant{"C": use, "VU": use}, "cf_Pass"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, repo, _, _ := newResolveFixture(tc.roles)
			got, err := s.Resolve(context.Background(), runner, "conn")
			if tc.wantLost == "" {
				if err != nil || got.Password.Reveal() != "the-password" {
					t.Fatalf("resolve: %v", err)
				}
				return
			}
			if !errors.Is(err, ErrOwnerLostAccess) || !strings.Contains(err.Error(), tc.wantLost) {
				t.Fatalf("error %v, want owner lost access naming %q", err, tc.wantLost)
			}
			if len(repo.records) != 1 || repo.records[0].Audit.Outcome != audit.Denied {
				t.Errorf("the refusal was not recorded: %+v", repo.records)
			}
		})
	}
}

func TestCachedPlanHonoursVariableChanges(t *testing.T) {
	use := grant{role: access.RoleUser}
	s, repo, acc, now := newResolveFixture(map[string]grant{"C": {role: access.RoleOwner}, "VU": use,
		"VP": {role: access.RoleUser, until: time.Date(2026, 1, 2, 11, 0, 0, 0, time.UTC)}})
	ctx := context.Background()
	if _, err := s.Resolve(ctx, runner, "conn"); err != nil {
		t.Fatal(err)
	}
	asked, targets := acc.asked, repo.targets
	if _, err := s.Resolve(ctx, runner, "conn"); err != nil {
		t.Fatal(err)
	}
	if acc.asked != asked || repo.targets != targets {
		t.Errorf("a cached resolve asked again: %d role questions, %d target reads", acc.asked-asked, repo.targets-targets)
	}

	// The password variable's share expires: refused without any change.
	*now = now.Add(time.Hour)
	if _, err := s.Resolve(ctx, runner, "conn"); !errors.Is(err, ErrOwnerLostAccess) {
		t.Fatalf("after the variable share expired: %v", err)
	}

	// A new generation (a share given again, then one removed) is seen at once.
	acc.mu.Lock()
	acc.roles["VP"] = use
	acc.mu.Unlock()
	repo.gen++
	if _, err := s.Resolve(ctx, runner, "conn"); err != nil {
		t.Fatal(err)
	}
	acc.mu.Lock()
	delete(acc.roles, "VU")
	acc.mu.Unlock()
	repo.gen++
	if _, err := s.Resolve(ctx, runner, "conn"); !errors.Is(err, ErrOwnerLostAccess) || !strings.Contains(err.Error(), "cf_User") {
		t.Fatalf("after the username share was removed: %v", err)
	}
}
