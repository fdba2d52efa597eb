package storeadmin_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/credflow/credflow/internal/access"
	"github.com/credflow/credflow/internal/audit"
	"github.com/credflow/credflow/internal/secretstore"
	"github.com/credflow/credflow/internal/storeadmin"
)

func TestResultOf(t *testing.T) {
	at := time.Now().UTC()
	for _, tc := range []struct {
		name  string
		steps []secretstore.Step
		want  storeadmin.CheckResult
	}{
		{"all pass", []secretstore.Step{{Name: "reach", OK: true}, {Name: "token", OK: true}}, storeadmin.CheckResult{OK: true, At: at}},
		{"first failing store step", []secretstore.Step{{Name: "reach", OK: true}, {Name: "token", Detail: "no identity", Hint: "give one"}, {Name: "tenant"}},
			storeadmin.CheckResult{At: at, Step: "token", Detail: "no identity", Hint: "give one"}},
		{"a failing secret step is no store failure", []secretstore.Step{{Name: "reach", OK: true}, {Name: "read secret", Secret: true, Detail: "secret not found"}},
			storeadmin.CheckResult{OK: true, At: at}},
		{"store step after a secret step", []secretstore.Step{{Name: "read secret", Secret: true}, {Name: "unsealed", Detail: "sealed"}},
			storeadmin.CheckResult{At: at, Step: "unsealed", Detail: "sealed"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := storeadmin.ResultOf(secretstore.Report{Steps: tc.steps}, at); got != tc.want {
				t.Errorf("ResultOf = %+v, want %+v", got, tc.want)
			}
		})
	}
}

// fakeStore is a store with a scripted check, optionally sealed or unopened.
type fakeStore struct {
	report  secretstore.Report
	sealed  bool
	openErr error
}

func (s *fakeStore) ParseRef(ref string) (secretstore.Ref, error) {
	return secretstore.Ref{Name: ref}, nil
}
func (s *fakeStore) Get(context.Context, secretstore.Ref) (secretstore.Secret, error) {
	return secretstore.Secret{}, secretstore.ErrNotFound
}
func (s *fakeStore) Check(context.Context, string) secretstore.Report { return s.report }
func (s *fakeStore) Sealed() bool                                     { return s.sealed }
func (s *fakeStore) OpenError() error                                 { return s.openErr }

func TestHealthOf(t *testing.T) {
	at := time.Now().UTC()
	failed := &storeadmin.CheckResult{At: at, Step: "reach the vault", Detail: "connection refused", Hint: "open the path"}
	passed := &storeadmin.CheckResult{OK: true, At: at}
	for _, tc := range []struct {
		name    string
		last    *storeadmin.CheckResult
		running secretstore.Store
		want    storeadmin.Health
	}{
		{"never checked", nil, &fakeStore{}, storeadmin.Health{Status: storeadmin.StatusReady}},
		{"last check passed", passed, &fakeStore{}, storeadmin.Health{Status: storeadmin.StatusReady, CheckedAt: at}},
		{"last check failed", failed, &fakeStore{}, storeadmin.Health{Status: storeadmin.StatusDegraded, Step: "reach the vault",
			Detail: "connection refused", Hint: "open the path", CheckedAt: at}},
		{"not running here", passed, nil, storeadmin.Health{Status: storeadmin.StatusUnknown, Detail: "the store is not registered on this server", CheckedAt: at}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := storeadmin.HealthOf(storeadmin.Store{Name: "kv", LastCheck: tc.last}, tc.running); got != tc.want {
				t.Errorf("HealthOf = %+v, want %+v", got, tc.want)
			}
		})
	}
	// What this server cannot use at all comes before the last check.
	if h := storeadmin.HealthOf(storeadmin.Store{LastCheck: failed}, &fakeStore{sealed: true}); h.Status != storeadmin.StatusSealed {
		t.Errorf("sealed: %+v", h)
	}
	h := storeadmin.HealthOf(storeadmin.Store{LastCheck: passed}, &fakeStore{openErr: errors.New("file gone")})
	if h.Status != storeadmin.StatusUnavailable || h.Step != "open the store" || h.Detail != "file gone" {
		t.Errorf("unopened: %+v", h)
	}
}

// memRepo is an in-memory storeadmin.Repository that records checks.
type memRepo struct {
	stores map[string]storeadmin.Store
}

func (r *memRepo) Create(_ context.Context, s storeadmin.Store, _ audit.Entry) error {
	r.stores[s.Name] = s
	return nil
}

func (r *memRepo) Get(_ context.Context, idOrName string) (storeadmin.Store, error) {
	for _, s := range r.stores {
		if s.ID == idOrName || strings.EqualFold(s.Name, idOrName) {
			return s, nil
		}
	}
	return storeadmin.Store{}, fmt.Errorf("%w: %s", secretstore.ErrStoreNotFound, idOrName)
}

func (r *memRepo) List(context.Context) ([]storeadmin.Store, error) {
	var out []storeadmin.Store
	for _, s := range r.stores {
		out = append(out, s)
	}
	return out, nil
}

func (r *memRepo) Update(_ context.Context, s storeadmin.Store, _ audit.Entry) error {
	r.stores[s.Name] = s
	return nil
}

func (r *memRepo) Delete(_ context.Context, id string, _ audit.Entry) error { return nil }

func (r *memRepo) RecordCheck(_ context.Context, id string, c storeadmin.CheckResult) error {
	for n, s := range r.stores {
		if s.ID == id {
			s.LastCheck = &c
			r.stores[n] = s
			return nil
		}
	}
	return secretstore.ErrStoreNotFound
}

// TestCheckKeepsOutcome: every check's outcome is the store's last check;
// the periodic check brings a store back to ready once it passes.
func TestCheckKeepsOutcome(t *testing.T) {
	repo := &memRepo{stores: map[string]storeadmin.Store{"kv": {ID: "s1", Name: "kv", Kind: "fake"}}}
	store := &fakeStore{report: secretstore.Report{Steps: []secretstore.Step{{Name: "reach the vault", Detail: "refused", Hint: "fix"}}}}
	reg := secretstore.NewRegistry()
	reg.Add(secretstore.Info{ID: "s1", Name: "kv", Kind: "fake"}, store)
	s := storeadmin.New(repo, reg)
	health := func() storeadmin.Health {
		st, err := s.Get(t.Context(), "kv")
		if err != nil {
			t.Fatal(err)
		}
		return s.Health(st)
	}
	if h := health(); h.Status != storeadmin.StatusReady || !h.CheckedAt.IsZero() {
		t.Fatalf("before any check: %+v", h)
	}
	if _, err := s.Check(t.Context(), "kv", ""); err != nil {
		t.Fatal(err)
	}
	if h := health(); h.Status != storeadmin.StatusDegraded || h.Step != "reach the vault" || h.Detail != "refused" || h.CheckedAt.IsZero() {
		t.Fatalf("after a failed check: %+v", h)
	}
	// A check that fails only at the secret it was asked to read leaves
	// the store ready.
	store.report = secretstore.Report{Steps: []secretstore.Step{{Name: "reach the vault", OK: true}, {Name: "read secret", Secret: true, Detail: "secret not found"}}}
	if _, err := s.Check(t.Context(), "s1", "missing"); err != nil {
		t.Fatal(err)
	}
	if h := health(); h.Status != storeadmin.StatusReady {
		t.Fatalf("after a check that failed at the secret: %+v", h)
	}
	store.report = secretstore.Report{Steps: []secretstore.Step{{Name: "reach the vault", Detail: "refused"}}}
	if err := s.CheckAll(t.Context()); err != nil {
		t.Fatal(err)
	}
	if h := health(); h.Status != storeadmin.StatusDegraded {
		t.Fatalf("after the periodic check failed: %+v", h)
	}
	store.report = secretstore.Report{OK: true, Steps: []secretstore.Step{{Name: "reach the vault", OK: true}}}
	if err := s.CheckAll(t.Context()); err != nil {
		t.Fatal(err)
	}
	if h := health(); h.Status != storeadmin.StatusReady {
		t.Fatalf("after the periodic check passed: %+v", h)
	}
}

// TestReloadOwnChange: a server that hears of a change it made itself keeps
// the store it registered (and the values its cache holds); a change made
// elsewhere registers the store anew.
func TestReloadOwnChange(t *testing.T) {
	repo := &memRepo{stores: map[string]storeadmin.Store{}}
	opens := 0
	kind := storeadmin.Kind{Name: "fake", Open: func(string, json.RawMessage) (secretstore.Store, error) {
		opens++
		return &fakeStore{report: secretstore.Report{OK: true}}, nil
	}}
	reg := secretstore.NewRegistry()
	s := storeadmin.New(repo, reg, kind)
	admin := access.Principal{ID: "a1", Name: "admin", Role: access.RoleAdmin}
	if _, _, err := s.Create(t.Context(), admin, storeadmin.CreateInput{Name: "kv", Kind: "fake", Settings: json.RawMessage(`{"a":1}`)}); err != nil {
		t.Fatal(err)
	}
	before := opens
	if err := s.Reload(t.Context(), "kv"); err != nil {
		t.Fatal(err)
	}
	if opens != before {
		t.Errorf("reloading an unchanged store opened it %d more times", opens-before)
	}
	st := repo.stores["kv"]
	st.Settings = json.RawMessage(`{"a":2}`)
	repo.stores["kv"] = st
	if err := s.Reload(t.Context(), "kv"); err != nil {
		t.Fatal(err)
	}
	if opens != before+1 {
		t.Errorf("a change made elsewhere opened the store %d times, want 1", opens-before)
	}
}

// panickyChecker's check panics, as a store client with a bug might.
type panickyChecker struct{ fakeStore }

func (*panickyChecker) Check(context.Context, string) secretstore.Report { panic("client bug") }

// TestCheckAllSurvivesAPanickingStore: the periodic check runs in the
// background, where a store client's panic would end the process. The
// panicking store's check fails, and the other stores are still
// checked.
func TestCheckAllSurvivesAPanickingStore(t *testing.T) {
	repo := &memRepo{stores: map[string]storeadmin.Store{
		"a-bad": {ID: "s1", Name: "a-bad", Kind: "fake"}, "b-good": {ID: "s2", Name: "b-good", Kind: "fake"}}}
	reg := secretstore.NewRegistry()
	reg.Add(secretstore.Info{ID: "s1", Name: "a-bad", Kind: "fake"}, &panickyChecker{})
	reg.Add(secretstore.Info{ID: "s2", Name: "b-good", Kind: "fake"}, &fakeStore{report: secretstore.Report{OK: true}})
	s := storeadmin.New(repo, reg)
	err := s.CheckAll(t.Context())
	if !errors.Is(err, secretstore.ErrUnavailable) || !strings.Contains(err.Error(), "panicked") {
		t.Fatalf("CheckAll = %v, want the panic as an unavailable store", err)
	}
	good, err := s.Get(t.Context(), "b-good")
	if err != nil {
		t.Fatal(err)
	}
	if h := s.Health(good); h.CheckedAt.IsZero() || h.Status != storeadmin.StatusReady {
		t.Errorf("the other store was not checked: %+v", h)
	}
}
