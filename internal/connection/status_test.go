package connection_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/credflow/credflow/internal/access"
	"github.com/credflow/credflow/internal/audit"
	"github.com/credflow/credflow/internal/connection"
	"github.com/credflow/credflow/internal/credential"
	"github.com/credflow/credflow/internal/envvar"
	"github.com/credflow/credflow/internal/secretstore"
	"github.com/credflow/credflow/internal/secretstore/memstore"
)

// fakeRepo keeps one connection's target and what the service asked it to
// write.
type fakeRepo struct {
	target connection.Target

	mu       sync.Mutex
	records  []connection.Resolution
	statuses []writtenStatus
	// fail, when set, is what Record answers.
	fail error
}

type writtenStatus struct {
	id, status, version, failure string
}

func (r *fakeRepo) Create(context.Context, connection.Connection, audit.Entry) error { return nil }
func (r *fakeRepo) Get(ctx context.Context, idOrName string) (connection.Connection, error) {
	t, err := r.Target(ctx, idOrName)
	return t.Connection, err
}
func (r *fakeRepo) List(context.Context, access.Viewer, string, int) ([]connection.Connection, error) {
	return []connection.Connection{r.target.Connection}, nil
}
func (r *fakeRepo) Delete(context.Context, string, audit.Entry) error { return nil }
func (r *fakeRepo) Target(_ context.Context, idOrName string) (connection.Target, error) {
	if idOrName != r.target.Connection.ID && idOrName != r.target.Connection.Name {
		return connection.Target{}, connection.ErrNotFound
	}
	return r.target, nil
}
func (r *fakeRepo) Runners(context.Context, string) ([]connection.RunnerState, error) {
	return nil, nil
}
func (r *fakeRepo) Record(_ context.Context, res connection.Resolution) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.fail != nil {
		return r.fail
	}
	r.records = append(r.records, res)
	return nil
}
func (r *fakeRepo) SetStatus(_ context.Context, id, status string, _ time.Time, version, failure string) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.statuses = append(r.statuses, writtenStatus{id, status, version, failure})
	return nil
}
func (r *fakeRepo) IDs(context.Context) ([]string, error) {
	return []string{r.target.Connection.ID}, nil
}
func (r *fakeRepo) Generation() (uint64, bool) { return 0, false }

// fakeAccess gives the connection's owner one role on every object.
type fakeAccess struct{ ownerRole access.ObjectRole }

func (a fakeAccess) Require(context.Context, access.Principal, access.Object, string, func(access.ObjectRole) bool) (access.ObjectRole, error) {
	return a.ownerRole, nil
}
func (a fakeAccess) RoleOnUntil(context.Context, access.Principal, access.Object) (access.ObjectRole, time.Time, error) {
	return a.ownerRole, time.Time{}, nil
}
func (a fakeAccess) PrincipalOf(_ context.Context, id string) (access.Principal, error) {
	return access.Principal{ID: id, Name: "owner", Role: access.RoleMaker}, nil
}
func (a fakeAccess) RunnerGroup(context.Context, string) (access.RunnerGroup, error) {
	return access.RunnerGroup{}, access.ErrNotFound
}
func (a fakeAccess) ViewerOf(p access.Principal) access.Viewer                      { return access.Viewer{UserID: p.ID} }
func (a fakeAccess) Deny(context.Context, access.Principal, string, string, string) {}
func (a fakeAccess) NewOwner(context.Context, string, string) (access.Principal, error) {
	return access.Principal{}, access.ErrNotFound
}
func (a fakeAccess) CanUseAll(context.Context, access.Principal, ...access.Object) (access.Object, bool, error) {
	return access.Object{}, a.ownerRole.CanUse(), nil
}
func (a fakeAccess) ChangeOwner(context.Context, access.Principal, access.OwnerChange) error {
	return nil
}

type noCredentials struct{}

func (noCredentials) Get(context.Context, access.Principal, string) (credential.Credential, error) {
	return credential.Credential{}, credential.ErrNotFound
}

func newTarget() connection.Target {
	return connection.Target{
		Connection: connection.Connection{ID: "c1", Name: "reports", CredentialID: "cr1", Credential: "SQL",
			RunnerGroupID: "rg1", RunnerGroup: "agents", OwnerID: "u1", Owner: "owner"},
		Credential: credential.Credential{ID: "cr1", Name: "SQL", UsernameVarID: "v1", PasswordVarID: "v2", Enabled: true},
		Username:   envvar.Variable{ID: "v1", SchemaName: "cf_User", Type: envvar.TypeText, Value: "svc"},
		Password: envvar.Variable{ID: "v2", SchemaName: "cf_Password", Type: envvar.TypeSecret,
			Secret: &envvar.SecretRef{StoreID: "s1", Store: "mem", Ref: "db-password"}},
	}
}

var runner = access.Principal{ID: "r1", Name: "build-01", Role: access.RoleRunner, RunnerGroupID: "rg1"}

// TestResolveTellsTheRepositoryTheStatus checks that the service, not the
// repository, decides what a resolve says of the connection's status.
func TestResolveTellsTheRepositoryTheStatus(t *testing.T) {
	for _, tc := range []struct {
		name        string
		caller      access.Principal
		ownerRole   access.ObjectRole
		store       func(m *memstore.Store)
		wantErr     error
		wantStatus  string
		wantVersion string
		wantFailure string
	}{
		{name: "values read", caller: runner, ownerRole: access.RoleOwner,
			wantStatus: connection.StatusConnected, wantVersion: "1"},
		{name: "store unavailable", caller: runner, ownerRole: access.RoleOwner,
			store:   func(m *memstore.Store) { m.Fail(secretstore.ErrUnavailable) },
			wantErr: secretstore.ErrUnavailable, wantStatus: connection.StatusError,
			wantFailure: `store unavailable: secret "db-password" in store "mem"`},
		{name: "secret denied by the store", caller: runner, ownerRole: access.RoleOwner,
			store:   func(m *memstore.Store) { m.Deny("db-password") },
			wantErr: secretstore.ErrForbidden, wantStatus: connection.StatusError,
			wantFailure: `access denied by the store: secret "db-password" in store "mem"`},
		{name: "caller outside the runner group", ownerRole: access.RoleOwner,
			caller:  access.Principal{ID: "r2", Name: "other", Role: access.RoleRunner, RunnerGroupID: "rg2"},
			wantErr: connection.ErrNotFound, wantStatus: "", wantFailure: "resolve failed"},
		{name: "owner lost access", caller: runner, ownerRole: "",
			wantErr: connection.ErrOwnerLostAccess, wantStatus: "", wantFailure: "resolve failed"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := memstore.New()
			m.Set("db-password", "pw")
			if tc.store != nil {
				tc.store(m)
			}
			reg := secretstore.NewRegistry()
			reg.Add(secretstore.Info{ID: "s1", Name: "mem", Kind: "memory"}, m)
			repo := &fakeRepo{target: newTarget()}
			svc := connection.NewService(repo, fakeAccess{ownerRole: tc.ownerRole}, noCredentials{}, reg)

			_, err := svc.Resolve(t.Context(), tc.caller, "reports")
			if tc.wantErr == nil && err != nil || tc.wantErr != nil && !errors.Is(err, tc.wantErr) {
				t.Fatalf("Resolve error = %v, want %v", err, tc.wantErr)
			}
			if len(repo.records) != 1 {
				t.Fatalf("%d resolutions recorded, want 1", len(repo.records))
			}
			r := repo.records[0]
			if r.ConnectionID != "c1" || r.Status != tc.wantStatus || r.SecretVersion != tc.wantVersion || r.Failure != tc.wantFailure {
				t.Fatalf("recorded connection %q status %q version %q failure %q; want c1, %q, %q, %q",
					r.ConnectionID, r.Status, r.SecretVersion, r.Failure, tc.wantStatus, tc.wantVersion, tc.wantFailure)
			}
			if strings.Contains(r.Failure, "pw") || strings.Contains(r.Audit.Reason, "pw") {
				t.Fatalf("the record shows the value: %+v", r)
			}
		})
	}
}

func TestCheckTellsTheRepositoryTheStatus(t *testing.T) {
	for _, tc := range []struct {
		name        string
		fail        error
		wantStatus  string
		wantVersion string
		wantFailure string
	}{
		{name: "readable", wantStatus: connection.StatusConnected, wantVersion: "1"},
		{name: "store unavailable", fail: secretstore.ErrUnavailable, wantStatus: connection.StatusError,
			wantFailure: `store unavailable: secret "db-password" in store "mem"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := memstore.New()
			m.Set("db-password", "pw")
			m.Fail(tc.fail)
			reg := secretstore.NewRegistry()
			reg.Add(secretstore.Info{ID: "s1", Name: "mem", Kind: "memory"}, m)
			repo := &fakeRepo{target: newTarget()}
			svc := connection.NewService(repo, fakeAccess{ownerRole: access.RoleOwner}, noCredentials{}, reg)
			if err := svc.CheckAll(t.Context()); err != nil {
				t.Fatalf("CheckAll: %v", err)
			}
			want := []writtenStatus{{"c1", tc.wantStatus, tc.wantVersion, tc.wantFailure}}
			if len(repo.statuses) != 1 || repo.statuses[0] != want[0] {
				t.Fatalf("statuses written = %+v, want %+v", repo.statuses, want)
			}
		})
	}
}
