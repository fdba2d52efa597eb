package envvar_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/credflow/credflow/internal/envvar"
	"github.com/credflow/credflow/internal/secretstore"
)

func TestStatusOf(t *testing.T) {
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	checked := now.Add(-time.Hour)
	for _, tc := range []struct {
		name string
		typ  envvar.Type
		ref  *envvar.SecretRef
		want envvar.Status
	}{
		{"text", envvar.TypeText, nil, envvar.StatusOK},
		{"secret never checked", envvar.TypeSecret, &envvar.SecretRef{Enabled: true}, envvar.StatusPending},
		{"secret read", envvar.TypeSecret, &envvar.SecretRef{Enabled: true, CheckedAt: checked}, envvar.StatusOK},
		{"expires later", envvar.TypeSecret, &envvar.SecretRef{Enabled: true, CheckedAt: checked, ExpiresAt: now.Add(time.Second)}, envvar.StatusOK},
		{"expires now", envvar.TypeSecret, &envvar.SecretRef{Enabled: true, CheckedAt: checked, ExpiresAt: now}, envvar.StatusExpired},
		{"expired", envvar.TypeSecret, &envvar.SecretRef{Enabled: true, CheckedAt: checked, ExpiresAt: now.Add(-time.Minute)}, envvar.StatusExpired},
		{"disabled in the store", envvar.TypeSecret, &envvar.SecretRef{CheckedAt: checked}, envvar.StatusSecretDisabled},
		{"disabled beats expired", envvar.TypeSecret, &envvar.SecretRef{CheckedAt: checked, ExpiresAt: now.Add(-time.Minute)}, envvar.StatusSecretDisabled},
		{"refused: not found", envvar.TypeSecret, &envvar.SecretRef{Enabled: true, CheckedAt: checked, Problem: envvar.StatusNotFound}, envvar.StatusNotFound},
		{"refused: access denied", envvar.TypeSecret, &envvar.SecretRef{Enabled: true, CheckedAt: checked, Problem: envvar.StatusAccessDenied}, envvar.StatusAccessDenied},
		{"refused: disabled", envvar.TypeSecret, &envvar.SecretRef{Enabled: true, CheckedAt: checked, Problem: envvar.StatusSecretDisabled}, envvar.StatusSecretDisabled},
		{"announced near expiry", envvar.TypeSecret, &envvar.SecretRef{Enabled: true, CheckedAt: checked, ExpiresAt: now.Add(time.Hour), Notice: envvar.StatusExpiring}, envvar.StatusExpiring},
		{"announced expired", envvar.TypeSecret, &envvar.SecretRef{Enabled: true, CheckedAt: checked, Notice: envvar.StatusExpired}, envvar.StatusExpired},
		{"past expiry beats a near-expiry notice", envvar.TypeSecret, &envvar.SecretRef{Enabled: true, CheckedAt: checked, ExpiresAt: now, Notice: envvar.StatusExpiring}, envvar.StatusExpired},
		{"disabled beats a notice", envvar.TypeSecret, &envvar.SecretRef{CheckedAt: checked, Notice: envvar.StatusExpiring}, envvar.StatusSecretDisabled},
		{"refusal beats expiry", envvar.TypeSecret, &envvar.SecretRef{Enabled: true, CheckedAt: checked, ExpiresAt: now.Add(-time.Minute), Problem: envvar.StatusNotFound}, envvar.StatusNotFound},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := envvar.StatusOf(tc.typ, tc.ref, now); got != tc.want {
				t.Errorf("StatusOf = %q, want %q", got, tc.want)
			}
		})
	}
}

func TestWorst(t *testing.T) {
	for _, tc := range []struct {
		in   []envvar.Status
		want envvar.Status
	}{
		{nil, envvar.StatusOK},
		{[]envvar.Status{envvar.StatusOK, envvar.StatusOK}, envvar.StatusOK},
		{[]envvar.Status{envvar.StatusOK, envvar.StatusPending}, envvar.StatusPending},
		{[]envvar.Status{envvar.StatusExpiring, envvar.StatusOK}, envvar.StatusExpiring},
		{[]envvar.Status{envvar.StatusExpiring, envvar.StatusExpired}, envvar.StatusExpired},
		{[]envvar.Status{envvar.StatusExpired, envvar.StatusPending}, envvar.StatusExpired},
		{[]envvar.Status{envvar.StatusSecretDisabled, envvar.StatusExpired}, envvar.StatusSecretDisabled},
		{[]envvar.Status{envvar.StatusSecretDisabled, envvar.StatusAccessDenied}, envvar.StatusAccessDenied},
		{[]envvar.Status{envvar.StatusNotFound, envvar.StatusAccessDenied}, envvar.StatusNotFound},
	} {
		t.Run(fmt.Sprint(tc.in), func(t *testing.T) {
			if got := envvar.Worst(tc.in...); got != tc.want {
				t.Errorf("Worst = %q, want %q", got, tc.want)
			}
		})
	}
}

func TestProblemOf(t *testing.T) {
	for _, tc := range []struct {
		name    string
		err     error
		want    envvar.Status
		meaning bool
	}{
		{"read", nil, "", true},
		{"not found", fmt.Errorf("get x: %w", secretstore.ErrNotFound), envvar.StatusNotFound, true},
		{"disabled", fmt.Errorf("get x: %w", secretstore.ErrDisabled), envvar.StatusSecretDisabled, true},
		{"forbidden", fmt.Errorf("get x: %w", secretstore.ErrForbidden), envvar.StatusAccessDenied, true},
		{"unavailable", fmt.Errorf("get x: %w", secretstore.ErrUnavailable), "", false},
		{"timeout", secretstore.ErrTimeout, "", false},
		{"throttled", &secretstore.ThrottledError{RetryAfter: time.Second}, "", false},
		{"network denied", secretstore.ErrNetworkDenied, "", false},
		{"other", errors.New("boom"), "", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, ok := envvar.ProblemOf(tc.err)
			if got != tc.want || ok != tc.meaning {
				t.Errorf("ProblemOf = %q, %v; want %q, %v", got, ok, tc.want, tc.meaning)
			}
		})
	}
}

// stateRepo is an in-memory envvar.Repository that keeps recorded secret
// states; only RecordSecretState is implemented.
type stateRepo struct {
	envvar.Repository
	recorded []envvar.SecretRef
	fail     error
}

func (r *stateRepo) RecordSecretState(_ context.Context, id string, st envvar.SecretRef) error {
	if r.fail != nil {
		return r.fail
	}
	r.recorded = append(r.recorded, st)
	return nil
}

func TestObserve(t *testing.T) {
	saved := time.Now().Add(-time.Hour).UTC()
	exp := time.Now().Add(30 * 24 * time.Hour).UTC().Truncate(time.Second)
	secretVar := func(ref envvar.SecretRef) envvar.Variable {
		ref.StoreID, ref.Store, ref.Ref = "s1", "vault", "sql-pass"
		return envvar.Variable{ID: "v1", SchemaName: "cf_Pass", Type: envvar.TypeSecret, Secret: &ref}
	}
	okVar := secretVar(envvar.SecretRef{Enabled: true, ExpiresAt: exp, CheckedAt: saved})
	for _, tc := range []struct {
		name    string
		v       envvar.Variable
		meta    secretstore.Meta
		err     error
		always  bool
		writes  bool
		problem envvar.Status
		status  envvar.Status
	}{
		{"a read that tells nothing new writes nothing", okVar, secretstore.Meta{Enabled: true, ExpiresAt: exp}, nil, false, false, "", ""},
		{"the periodic check always writes", okVar, secretstore.Meta{Enabled: true, ExpiresAt: exp}, nil, true, true, "", envvar.StatusOK},
		{"a new expiry is news", okVar, secretstore.Meta{Enabled: true, ExpiresAt: exp.Add(time.Hour)}, nil, false, true, "", envvar.StatusOK},
		{"an expiry in the past", okVar, secretstore.Meta{Enabled: true, ExpiresAt: time.Now().Add(-time.Minute)}, nil, false, true, "", envvar.StatusExpired},
		{"disabled", okVar, secretstore.Meta{}, fmt.Errorf("read: %w", secretstore.ErrDisabled), false, true, envvar.StatusSecretDisabled, envvar.StatusSecretDisabled},
		{"gone", okVar, secretstore.Meta{}, secretstore.ErrNotFound, false, true, envvar.StatusNotFound, envvar.StatusNotFound},
		{"denied", okVar, secretstore.Meta{}, secretstore.ErrForbidden, false, true, envvar.StatusAccessDenied, envvar.StatusAccessDenied},
		{"an unreachable store tells nothing", okVar, secretstore.Meta{}, secretstore.ErrUnavailable, true, false, "", ""},
		{"read again after a refusal", secretVar(envvar.SecretRef{Enabled: true, ExpiresAt: exp, CheckedAt: saved, Problem: envvar.StatusNotFound}),
			secretstore.Meta{Enabled: true, ExpiresAt: exp}, nil, false, true, "", envvar.StatusOK},
		{"a never checked secret is news", secretVar(envvar.SecretRef{Enabled: true}), secretstore.Meta{Enabled: true}, nil, false, true, "", envvar.StatusOK},
		{"a failed read leaves a pending validation pending", secretVar(envvar.SecretRef{Enabled: true, CheckedAt: saved, Problem: envvar.StatusPendingValidation}),
			secretstore.Meta{}, secretstore.ErrNotFound, true, false, "", ""},
		{"a successful read completes a pending validation", secretVar(envvar.SecretRef{Enabled: true, CheckedAt: saved, Problem: envvar.StatusPendingValidation}),
			secretstore.Meta{Enabled: true}, nil, true, true, "", envvar.StatusOK},
		{"a text variable has no secret", envvar.Variable{ID: "v2", Type: envvar.TypeText}, secretstore.Meta{}, secretstore.ErrNotFound, true, false, "", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			repo := &stateRepo{}
			s := envvar.NewService(repo, nil, nil, "cf")
			wrote, err := s.Observe(t.Context(), tc.v, tc.meta, tc.err, tc.always)
			if err != nil {
				t.Fatal(err)
			}
			if wrote != tc.writes || len(repo.recorded) != map[bool]int{false: 0, true: 1}[tc.writes] {
				t.Fatalf("wrote %v (%d records), want %v", wrote, len(repo.recorded), tc.writes)
			}
			if !tc.writes {
				return
			}
			got := repo.recorded[0]
			if got.Problem != tc.problem || got.StoreID != "s1" || got.Ref != "sql-pass" || !got.CheckedAt.After(saved) {
				t.Errorf("recorded %+v", got)
			}
			if st := envvar.StatusOf(envvar.TypeSecret, &got, time.Now()); st != tc.status {
				t.Errorf("status %q, want %q", st, tc.status)
			}
		})
	}
}

// TestObserveRemembers: a resolve served from caches that predate the last
// write does not write the same news again.
func TestObserveRemembers(t *testing.T) {
	repo := &stateRepo{}
	s := envvar.NewService(repo, nil, nil, "cf")
	v := envvar.Variable{ID: "v1", SchemaName: "cf_Pass", Type: envvar.TypeSecret,
		Secret: &envvar.SecretRef{StoreID: "s1", Store: "vault", Ref: "p", Enabled: true, CheckedAt: time.Now().Add(-time.Hour)}}
	for i := 0; i < 3; i++ {
		if _, err := s.Observe(t.Context(), v, secretstore.Meta{}, secretstore.ErrDisabled, false); err != nil {
			t.Fatal(err)
		}
	}
	if len(repo.recorded) != 1 {
		t.Fatalf("%d writes of the same news, want 1", len(repo.recorded))
	}
	// Back to readable: news again, once.
	for i := 0; i < 2; i++ {
		if _, err := s.Observe(t.Context(), v, secretstore.Meta{Enabled: true}, nil, false); err != nil {
			t.Fatal(err)
		}
	}
	if len(repo.recorded) != 2 || repo.recorded[1].Problem != "" {
		t.Fatalf("records %+v", repo.recorded)
	}
	// A failure to record is the caller's to know.
	repo.fail = errors.New("disk full")
	if _, err := s.Observe(t.Context(), v, secretstore.Meta{}, secretstore.ErrNotFound, false); err == nil {
		t.Error("a failed write was not reported")
	}
}
