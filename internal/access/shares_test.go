package access

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/credflow/credflow/internal/audit"
)

// fakeRepo keeps users, groups and shares in memory. ChangeShares holds a
// mutex for its whole run, as the database holds the object's lock for its
// transaction. Methods the share rules do not use are left to the embedded
// nil interface and panic if called.
type fakeRepo struct {
	Repository

	mu      sync.Mutex
	users   map[string]User
	shares  []Share
	records []audit.Entry
}

func newFakeRepo(users ...string) *fakeRepo {
	r := &fakeRepo{users: map[string]User{}}
	for _, u := range users {
		r.users[u] = User{ID: "id-" + u, Name: u, Role: RoleMaker}
	}
	return r
}

func (r *fakeRepo) User(_ context.Context, idOrName string) (User, error) {
	for _, u := range r.users {
		if u.ID == idOrName || u.Name == idOrName {
			return u, nil
		}
	}
	return User{}, fmt.Errorf("%w: user %q", ErrNotFound, idOrName)
}

func (r *fakeRepo) Group(_ context.Context, idOrName string) (Group, error) {
	return Group{}, fmt.Errorf("%w: group %q", ErrNotFound, idOrName)
}

func (r *fakeRepo) Record(_ context.Context, entries ...audit.Entry) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.records = append(r.records, entries...)
	return nil
}

func (r *fakeRepo) Shares(_ context.Context, kind ObjectKind, id string) ([]Share, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []Share
	for _, sh := range r.shares {
		if sh.Object.Kind == kind && sh.Object.ID == id {
			out = append(out, sh)
		}
	}
	return out, nil
}

func sameShare(a, b Share) bool {
	return a.Object.Kind == b.Object.Kind && a.Object.ID == b.Object.ID && a.Principal.Kind == b.Principal.Kind &&
		a.Principal.ID == b.Principal.ID && a.Via.ID == b.Via.ID
}

func (r *fakeRepo) ChangeShares(_ context.Context, obj Object, related []Object, decide func([]Share) (ShareChange, error)) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	var current []Share
	for _, sh := range r.shares {
		for _, o := range append([]Object{obj}, related...) {
			if sh.Object.Kind == o.Kind && sh.Object.ID == o.ID {
				current = append(current, sh)
			}
		}
	}
	ch, err := decide(current)
	if err != nil {
		return err
	}
	var kept []Share
	for _, sh := range r.shares {
		gone := false
		for _, d := range ch.Delete {
			gone = gone || sameShare(sh, d)
		}
		if !gone {
			kept = append(kept, sh)
		}
	}
	for _, p := range ch.Put {
		replaced := false
		for i, sh := range kept {
			if sameShare(sh, p) {
				kept[i].Role, kept[i].ExpiresAt, replaced = p.Role, p.ExpiresAt, true
			}
		}
		if !replaced {
			kept = append(kept, p)
		}
	}
	r.shares = kept
	r.records = append(r.records, ch.Audit)
	return nil
}

// heldOn lists who holds what on one object, in a form tests compare:
// "bob user via=C1 until=..." sorted by insertion.
func (r *fakeRepo) heldOn(obj Object, principal string) []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []string
	for _, sh := range r.shares {
		if sh.Object.ID != obj.ID || sh.Principal.Name != principal {
			continue
		}
		s := string(sh.Role)
		if !sh.Direct() {
			s += " via " + sh.Via.ID
		}
		if !sh.ExpiresAt.IsZero() {
			s += " until " + sh.ExpiresAt.Format("15:04")
		}
		out = append(out, s)
	}
	return out
}

var (
	t0    = time.Date(2026, 1, 2, 10, 0, 0, 0, time.UTC)
	cred1 = Object{Kind: KindCredential, ID: "C1", Name: "DB"}
	cred2 = Object{Kind: KindCredential, ID: "C2", Name: "DB copy"}
	uVar  = Object{Kind: KindVariable, ID: "VU", Name: "cf_User"}
	pVar  = Object{Kind: KindVariable, ID: "VP", Name: "cf_Pass"}
	vars  = []Object{uVar, pVar}
)

// fixture: alice owns both credentials and both variables.
func newShareFixture(t *testing.T) (*Service, *fakeRepo, Principal) {
	t.Helper()
	repo := newFakeRepo("alice", "bob", "carol")
	s := NewService(repo, Options{})
	s.now = func() time.Time { return t0 }
	alice := principalOf(repo.users["alice"])
	for _, o := range []Object{cred1, cred2, uVar, pVar} {
		repo.shares = append(repo.shares, Own(alice, o, t0))
	}
	return s, repo, alice
}

func at(h int) time.Time { return t0.Add(time.Duration(h) * time.Hour) }

type step func(t *testing.T, s *Service, alice Principal) error

func share(obj Object, who string, role ObjectRole, until time.Time, cascade ...Object) step {
	return func(t *testing.T, s *Service, alice Principal) error {
		_, err := s.Share(context.Background(), alice, obj, ShareInput{Principal: "user:" + who, Role: role, ExpiresAt: until}, cascade...)
		return err
	}
}

func unshare(obj Object, who string, opts UnshareOptions) step {
	return func(t *testing.T, s *Service, alice Principal) error {
		_, err := s.Unshare(context.Background(), alice, obj, "user:"+who, opts)
		return err
	}
}

func TestCredentialShareCascade(t *testing.T) {
	for _, tc := range []struct {
		name       string
		steps      []step
		wantUser   []string // bob's shares of cf_User
		wantPass   []string // bob's shares of cf_Pass
		wantBobUse bool     // bob can use cf_Pass at t0
	}{
		{
			name:     "a credential share gives its variables with its expiry and origin",
			steps:    []step{share(cred1, "bob", RoleUser, at(2), vars...)},
			wantUser: []string{"user via C1 until 12:00"}, wantPass: []string{"user via C1 until 12:00"}, wantBobUse: true,
		},
		{
			name:     "sharing again with an expiry sets it on the variable shares",
			steps:    []step{share(cred1, "bob", RoleUser, time.Time{}, vars...), share(cred1, "bob", RoleUserShare, at(1), vars...)},
			wantUser: []string{"user via C1 until 11:00"}, wantPass: []string{"user via C1 until 11:00"}, wantBobUse: true,
		},
		{
			name:     "sharing again without an expiry lifts it",
			steps:    []step{share(cred1, "bob", RoleUser, at(1), vars...), share(cred1, "bob", RoleCoOwner, time.Time{}, vars...)},
			wantUser: []string{"user via C1"}, wantPass: []string{"user via C1"}, wantBobUse: true,
		},
		{
			name: "a direct share is never lowered by the cascade",
			steps: []step{share(pVar, "bob", RoleCoOwner, time.Time{}),
				share(cred1, "bob", RoleUser, at(1), vars...)},
			wantUser: []string{"user via C1 until 11:00"}, wantPass: []string{"co-owner", "user via C1 until 11:00"}, wantBobUse: true,
		},
		{
			name: "removing with variables leaves a direct share",
			steps: []step{share(pVar, "bob", RoleUser, time.Time{}), share(cred1, "bob", RoleUser, time.Time{}, vars...),
				unshare(cred1, "bob", UnshareOptions{Cascade: vars, WithCascade: true})},
			wantUser: nil, wantPass: []string{"user"}, wantBobUse: true,
		},
		{
			name: "removing without variables leaves the shares it gave",
			steps: []step{share(cred1, "bob", RoleUser, time.Time{}, vars...),
				unshare(cred1, "bob", UnshareOptions{Cascade: vars})},
			wantUser: []string{"user via C1"}, wantPass: []string{"user via C1"}, wantBobUse: true,
		},
		{
			name: "a variable given by two credentials stays while one of them does",
			steps: []step{share(cred1, "bob", RoleUser, time.Time{}, vars...), share(cred2, "bob", RoleUser, at(3), pVar),
				unshare(cred1, "bob", UnshareOptions{Cascade: vars, WithCascade: true})},
			wantUser: nil, wantPass: []string{"user via C2 until 13:00"}, wantBobUse: true,
		},
		{
			name: "a variable share given by a credential expires with it",
			steps: []step{share(cred1, "bob", RoleUser, at(1), vars...),
				func(t *testing.T, s *Service, _ Principal) error {
					s.now = func() time.Time { return at(2) }
					return nil
				}},
			wantUser: []string{"user via C1 until 11:00"}, wantPass: []string{"user via C1 until 11:00"}, wantBobUse: false,
		},
		{
			name: "removing a variable share removes the direct one and those credentials gave",
			steps: []step{share(pVar, "bob", RoleUser, time.Time{}), share(cred1, "bob", RoleUser, time.Time{}, vars...),
				unshare(pVar, "bob", UnshareOptions{})},
			wantUser: []string{"user via C1"}, wantPass: nil, wantBobUse: false,
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, repo, alice := newShareFixture(t)
			for i, st := range tc.steps {
				if err := st(t, s, alice); err != nil {
					t.Fatalf("step %d: %v", i, err)
				}
			}
			if got := repo.heldOn(uVar, "bob"); strings.Join(got, "; ") != strings.Join(tc.wantUser, "; ") {
				t.Errorf("bob's shares of cf_User: %q, want %q", got, tc.wantUser)
			}
			if got := repo.heldOn(pVar, "bob"); strings.Join(got, "; ") != strings.Join(tc.wantPass, "; ") {
				t.Errorf("bob's shares of cf_Pass: %q, want %q", got, tc.wantPass)
			}
			role, err := s.RoleOn(context.Background(), principalOf(repo.users["bob"]), pVar)
			if err != nil {
				t.Fatal(err)
			}
			if role.CanUse() != tc.wantBobUse {
				t.Errorf("bob's role on cf_Pass %q; want use=%v", role, tc.wantBobUse)
			}
		})
	}
}

func TestUnshareReportsWhatRemains(t *testing.T) {
	s, _, alice := newShareFixture(t)
	ctx := context.Background()
	for _, st := range []step{share(pVar, "bob", RoleUser, time.Time{}), share(cred1, "bob", RoleUser, at(5), vars...)} {
		if err := st(t, s, alice); err != nil {
			t.Fatal(err)
		}
	}
	describe := func(shares []Share) string {
		var out []string
		for _, sh := range shares {
			out = append(out, sh.Object.Name+" "+string(sh.Role)+" via="+sh.Via.ID)
		}
		return strings.Join(out, "; ")
	}
	u, err := s.Unshare(ctx, alice, cred1, "user:bob", UnshareOptions{Cascade: vars})
	if err != nil {
		t.Fatal(err)
	}
	if got, want := describe(u.Remaining), "cf_Pass user via=; cf_User user via=C1; cf_Pass user via=C1"; got != want {
		t.Errorf("remaining %q, want %q", got, want)
	}
	if len(u.RemovedCascade) != 0 || u.Removed.Role != RoleUser {
		t.Errorf("removed %+v, cascade %+v", u.Removed, u.RemovedCascade)
	}

	// Shared again, then removed with its variables: only the direct share remains.
	if err := share(cred1, "bob", RoleUser, time.Time{}, vars...)(t, s, alice); err != nil {
		t.Fatal(err)
	}
	u, err = s.Unshare(ctx, alice, cred1, "user:bob", UnshareOptions{Cascade: vars, WithCascade: true})
	if err != nil {
		t.Fatal(err)
	}
	if got, want := describe(u.Remaining), "cf_Pass user via="; got != want {
		t.Errorf("remaining %q, want %q", got, want)
	}
	if got, want := describe(u.RemovedCascade), "cf_User user via=C1; cf_Pass user via=C1"; got != want {
		t.Errorf("removed with it %q, want %q", got, want)
	}
}

func TestShareRules(t *testing.T) {
	for _, tc := range []struct {
		name    string
		setup   []step
		do      func(s *Service, repo *fakeRepo, alice Principal) error
		wantErr error
	}{
		{
			name: "the last owner cannot leave",
			do: func(s *Service, _ *fakeRepo, alice Principal) error {
				_, err := s.Unshare(context.Background(), alice, cred1, "user:alice", UnshareOptions{})
				return err
			},
			wantErr: ErrLastOwner,
		},
		{
			name: "the last owner cannot demote themselves",
			do: func(s *Service, _ *fakeRepo, alice Principal) error {
				_, err := s.Share(context.Background(), alice, cred1, ShareInput{Principal: "user:alice", Role: RoleUser})
				return err
			},
			wantErr: ErrLastOwner,
		},
		{
			name:  "an owner leaves when a co-owner remains",
			setup: []step{share(cred1, "bob", RoleCoOwner, time.Time{})},
			do: func(s *Service, _ *fakeRepo, alice Principal) error {
				_, err := s.Unshare(context.Background(), alice, cred1, "user:alice", UnshareOptions{})
				return err
			},
		},
		{
			name:  "a co-owner whose share expired does not count",
			setup: []step{share(cred1, "bob", RoleCoOwner, at(1))},
			do: func(s *Service, _ *fakeRepo, alice Principal) error {
				s.now = func() time.Time { return at(2) }
				_, err := s.Unshare(context.Background(), alice, cred1, "user:alice", UnshareOptions{})
				return err
			},
			wantErr: ErrLastOwner,
		},
		{
			name:  "a user-share holder cannot remove an owner, and the refusal is audited",
			setup: []step{share(cred1, "bob", RoleUserShare, time.Time{})},
			do: func(s *Service, repo *fakeRepo, _ Principal) error {
				bob := principalOf(repo.users["bob"])
				_, err := s.Unshare(context.Background(), bob, cred1, "user:alice", UnshareOptions{})
				if n := len(repo.records); n == 0 || repo.records[n-1].Outcome != audit.Denied {
					return fmt.Errorf("no denied record: %v (%w)", repo.records, err)
				}
				return err
			},
			wantErr: ErrForbidden,
		},
		{
			name: "unsharing someone who holds nothing is not found",
			do: func(s *Service, _ *fakeRepo, alice Principal) error {
				_, err := s.Unshare(context.Background(), alice, cred1, "user:carol", UnshareOptions{})
				return err
			},
			wantErr: ErrNotFound,
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, repo, alice := newShareFixture(t)
			for _, st := range tc.setup {
				if err := st(t, s, alice); err != nil {
					t.Fatal(err)
				}
			}
			err := tc.do(s, repo, alice)
			if (tc.wantErr == nil && err != nil) || (tc.wantErr != nil && !errors.Is(err, tc.wantErr)) {
				t.Fatalf("error %v, want %v", err, tc.wantErr)
			}
		})
	}
}

// TestLastOwnerUnderConcurrency: two owners each removed at the same time;
// the rule is decided inside the change, so exactly one removal wins.
func TestLastOwnerUnderConcurrency(t *testing.T) {
	for i := 0; i < 50; i++ {
		s, repo, alice := newShareFixture(t)
		if err := share(cred1, "bob", RoleOwner, time.Time{})(t, s, alice); err != nil {
			t.Fatal(err)
		}
		bob := principalOf(repo.users["bob"])
		errs := make([]error, 2)
		var wg sync.WaitGroup
		for j, who := range []Principal{alice, bob} {
			wg.Add(1)
			go func() {
				defer wg.Done()
				_, errs[j] = s.Unshare(context.Background(), who, cred1, "user:"+who.Name, UnshareOptions{})
			}()
		}
		wg.Wait()
		ok, last := 0, 0
		for _, err := range errs {
			switch {
			case err == nil:
				ok++
			case errors.Is(err, ErrLastOwner):
				last++
			default:
				t.Fatalf("unexpected error %v", err)
			}
		}
		if ok != 1 || last != 1 {
			t.Fatalf("pair %d: %d succeeded, %d refused as last owner; want 1 and 1", i, ok, last)
		}
	}
}

func TestLastOwnerSaysSoOnce(t *testing.T) {
	s, _, alice := newShareFixture(t)
	want := "credential:DB: the last owner or co-owner cannot be removed"
	_, err := s.Share(context.Background(), alice, cred1, ShareInput{Principal: "user:alice", Role: RoleUser})
	if err == nil || err.Error() != want {
		t.Errorf("share: %v, want %q", err, want)
	}
	_, err = s.Unshare(context.Background(), alice, cred1, "user:alice", UnshareOptions{})
	if err == nil || err.Error() != want {
		t.Errorf("unshare: %v, want %q", err, want)
	}
}
