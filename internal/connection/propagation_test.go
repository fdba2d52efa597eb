package connection

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/credflow/credflow/internal/access"
	"github.com/credflow/credflow/internal/envvar"
	"github.com/credflow/credflow/internal/rotation"
)

// fakePropagation records what resolves tell it.
type fakePropagation struct {
	waiting bool
	served  []rotation.Reached
	started []time.Time
}

func (f *fakePropagation) Waiting() bool { return f.waiting }
func (f *fakePropagation) Served(started time.Time, r rotation.Reached) {
	f.started = append(f.started, started)
	f.served = append(f.served, r)
}

// checkedRepo is fakeRepo that also records a connection's status.
type checkedRepo struct{ *fakeRepo }

func (checkedRepo) SetStatus(context.Context, string, string, time.Time, string, string) error {
	return nil
}

// TestResolveTellsPropagation: a resolve tells which secrets it received,
// at their latest version, only while a change waits for a run; a text
// value or a pinned version tells nothing, and a connection check (not a
// run) never tells.
func TestResolveTellsPropagation(t *testing.T) {
	all := map[string]grant{"C": {role: access.RoleOwner}, "VU": {role: access.RoleUser}, "VP": {role: access.RoleUser}}
	for _, tc := range []struct {
		name       string
		waiting    bool
		passRef    string
		userSecret bool // the username is a secret variable too
		wantSecret []string
	}{
		{name: "no change waits", passRef: "pw"},
		{name: "the password's secret", waiting: true, passRef: "pw", wantSecret: []string{"pw"}},
		{name: "a pinned version tells nothing", waiting: true, passRef: "pw/1"},
		{name: "both secrets", waiting: true, passRef: "pw", userSecret: true, wantSecret: []string{"user", "pw"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, repo, _, now := newResolveFixture(all)
			vault := s.readers.(readers).s
			vault.Set("user", "svc")
			repo.t.Password.Secret.Ref = tc.passRef
			if tc.userSecret {
				repo.t.Username = envvar.Variable{ID: "VU", SchemaName: "cf_User", Type: envvar.TypeSecret, Secret: &envvar.SecretRef{Store: "vault", Ref: "user"}}
			}
			prop := &fakePropagation{waiting: tc.waiting}
			s.prop = prop
			s.repo = checkedRepo{repo}
			if _, err := s.Resolve(context.Background(), runner, "conn"); err != nil {
				t.Fatal(err)
			}
			var got []string
			for i, r := range prop.served {
				got = append(got, r.Secret)
				if r.Store != "vault" || r.Runner != "runner-1" || r.Connection != "conn" || !prop.started[i].Equal(*now) || r.Version == "" {
					t.Errorf("served %+v started %v", r, prop.started[i])
				}
			}
			if !slices.Equal(got, tc.wantSecret) {
				t.Errorf("told %v, want %v", got, tc.wantSecret)
			}
			prop.served = nil
			if err := s.Check(context.Background(), "K"); err != nil {
				t.Fatal(err)
			}
			if len(prop.served) != 0 {
				t.Errorf("a connection check told %v", prop.served)
			}
		})
	}
}
