package connection_test

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/credflow/credflow/internal/access"
	"github.com/credflow/credflow/internal/connection"
	"github.com/credflow/credflow/internal/credential"
	"github.com/credflow/credflow/internal/envvar"
	"github.com/credflow/credflow/internal/secretstore"
)

func TestEffectiveStatus(t *testing.T) {
	for _, tc := range []struct {
		name string
		c    connection.Connection
		want string
	}{
		{"never resolved", connection.Connection{CredentialID: "c", CredentialEnabled: true, Status: connection.StatusUnknown}, connection.StatusUnknown},
		{"connected", connection.Connection{CredentialID: "c", CredentialEnabled: true, Status: connection.StatusConnected}, connection.StatusConnected},
		{"error", connection.Connection{CredentialID: "c", CredentialEnabled: true, Status: connection.StatusError}, connection.StatusError},
		{"credential disabled after a success", connection.Connection{CredentialID: "c", Status: connection.StatusConnected}, connection.StatusDisabled},
		{"credential disabled after an error", connection.Connection{CredentialID: "c", Status: connection.StatusError}, connection.StatusDisabled},
		{"credential deleted", connection.Connection{Status: connection.StatusConnected}, connection.StatusBroken},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := connection.EffectiveStatus(tc.c); got != tc.want {
				t.Errorf("EffectiveStatus = %q, want %q", got, tc.want)
			}
		})
	}
}

// stateRepo is an in-memory connection.Repository holding one target.
type stateRepo struct {
	connection.Repository
	t       connection.Target
	mu      sync.Mutex
	records []connection.Resolution
}

func (r *stateRepo) Target(context.Context, string) (connection.Target, error) { return r.t, nil }
func (r *stateRepo) Get(context.Context, string) (connection.Connection, error) {
	return r.t.Connection, nil
}
func (r *stateRepo) List(context.Context, access.Viewer, string, int) ([]connection.Connection, error) {
	return []connection.Connection{r.t.Connection}, nil
}
func (r *stateRepo) Generation() (uint64, bool) { return 0, false }
func (r *stateRepo) Record(_ context.Context, res connection.Resolution) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.records = append(r.records, res)
	return nil
}
func (r *stateRepo) SetStatus(context.Context, string, string, time.Time, string, string) error {
	return nil
}

// viewAllAccess lets the owner use everything.
type viewAllAccess struct{ connection.Access }

func (viewAllAccess) PrincipalOf(context.Context, string) (access.Principal, error) {
	return access.Principal{ID: "u1", Name: "mona", Role: access.RoleMaker}, nil
}
func (viewAllAccess) RoleOnUntil(context.Context, access.Principal, access.Object) (access.ObjectRole, time.Time, error) {
	return access.RoleOwner, time.Time{}, nil
}
func (viewAllAccess) ViewerOf(p access.Principal) access.Viewer { return access.Viewer{All: true} }

// failingStore fails every read with err.
type failingStore struct{ err error }

func (s failingStore) ParseRef(ref string) (secretstore.Ref, error) {
	return secretstore.Ref{Name: ref}, nil
}
func (s failingStore) Get(context.Context, secretstore.Ref) (secretstore.Secret, error) {
	return secretstore.Secret{}, s.err
}

type readers struct{ s secretstore.Store }

func (r readers) Reader(name string) (secretstore.Store, secretstore.Info, error) {
	return r.s, secretstore.Info{Name: name}, nil
}

// observed records what the service reported of the secrets.
type observed struct {
	mu   sync.Mutex
	errs []error
	all  []bool
}

func (o *observed) Observe(_ context.Context, _ envvar.Variable, _ secretstore.Meta, err error, always bool) (bool, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.errs, o.all = append(o.errs, err), append(o.all, always)
	return true, nil
}

func target(enabled bool) connection.Target {
	return connection.Target{
		Connection: connection.Connection{ID: "k1", Name: "sql-build", CredentialID: "c1", CredentialEnabled: enabled,
			RunnerGroupID: "g1", OwnerID: "u1", Status: connection.StatusConnected},
		Credential: credential.Credential{ID: "c1", Name: "SQL", Enabled: enabled},
		Username:   envvar.Variable{ID: "v1", Type: envvar.TypeText, Value: "svc"},
		Password: envvar.Variable{ID: "v2", SchemaName: "cf_Pass", Type: envvar.TypeSecret,
			Secret: &envvar.SecretRef{Store: "vault", Ref: "sql-pass", Enabled: true}},
	}
}

var groupRunner = access.Principal{ID: "r1", Name: "build-01", Role: access.RoleRunner, RunnerGroupID: "g1"}

func TestDisabledCredentialShowsDisabled(t *testing.T) {
	for _, enabled := range []bool{true, false} {
		t.Run(fmt.Sprint("enabled=", enabled), func(t *testing.T) {
			s := connection.NewService(&stateRepo{t: target(enabled)}, viewAllAccess{}, nil, readers{})
			admin := access.Principal{ID: "a1", Name: "admin", Role: access.RoleAdmin}
			want := connection.StatusConnected
			if !enabled {
				want = connection.StatusDisabled
			}
			c, err := s.Get(t.Context(), admin, "sql-build")
			if err != nil || c.Status != want {
				t.Errorf("Get: %q, %v; want %q", c.Status, err, want)
			}
			cs, err := s.List(t.Context(), admin, "", 10)
			if err != nil || len(cs) != 1 || cs[0].Status != want {
				t.Errorf("List: %+v, %v; want %q", cs, err, want)
			}
		})
	}
}

// syncBuffer is a bytes.Buffer safe for concurrent writes.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

func TestStoreFailureWarnings(t *testing.T) {
	for _, tc := range []struct {
		name  string
		err   error
		warns bool
	}{
		{"unreachable", fmt.Errorf("azurekv: get sql-pass: %w: dial tcp 10.0.0.4:443: connect: connection refused", secretstore.ErrUnavailable), true},
		{"timeout", fmt.Errorf("read sql-pass: %w", secretstore.ErrTimeout), true},
		{"throttled", &secretstore.ThrottledError{RetryAfter: time.Second}, true},
		{"not found is the caller's to fix", secretstore.ErrNotFound, false},
		{"access denied is the caller's to fix", secretstore.ErrForbidden, false},
		{"disabled is the caller's to fix", secretstore.ErrDisabled, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var log syncBuffer
			obs := &observed{}
			repo := &stateRepo{t: target(true)}
			s := connection.NewService(repo, viewAllAccess{}, nil, readers{failingStore{tc.err}},
				connection.WithLogger(slog.New(slog.NewJSONHandler(&log, nil))), connection.WithSecretStates(obs))
			for i := 0; i < 5; i++ {
				if _, err := s.Resolve(t.Context(), groupRunner, "sql-build"); err == nil {
					t.Fatal("resolve succeeded")
				}
			}
			lines := strings.Count(log.String(), `"msg":"secret store failed"`)
			switch {
			case !tc.warns && lines != 0:
				t.Errorf("logged %d warnings:\n%s", lines, log.String())
			case tc.warns && lines != 1:
				// Five failures within warnEvery: one line.
				t.Errorf("logged %d warnings, want 1:\n%s", lines, log.String())
			case tc.warns && (!strings.Contains(log.String(), `"level":"WARN"`) || !strings.Contains(log.String(), `"store":"vault"`) ||
				!strings.Contains(log.String(), tc.err.Error())):
				t.Errorf("the warning does not name the store and the cause:\n%s", log.String())
			}
			// Every resolve reported what it learned of the password.
			if len(obs.errs) != 5 || obs.all[0] {
				t.Errorf("observed %d reads (always=%v), want 5 resolves", len(obs.errs), obs.all)
			}
			if len(repo.records) != 5 {
				t.Errorf("%d audit records, want 5", len(repo.records))
			}
		})
	}
}
