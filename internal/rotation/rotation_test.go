package rotation_test

import (
	"context"
	"errors"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/credflow/credflow/internal/audit"
	"github.com/credflow/credflow/internal/envvar"
	"github.com/credflow/credflow/internal/rotation"
	"github.com/credflow/credflow/internal/secretstore"
	"github.com/credflow/credflow/internal/secretstore/cache"
	"github.com/credflow/credflow/internal/secretstore/memstore"
)

// fakeVars is an in-memory variable repository: variables and, per
// variable id, the connections that use it.
type fakeVars struct {
	mu    sync.Mutex
	vars  []envvar.Variable
	conns map[string][]envvar.Named
	fail  error
}

func (f *fakeVars) ReferencingSecret(_ context.Context, storeID, secret string) ([]envvar.Variable, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.fail != nil {
		return nil, f.fail
	}
	var out []envvar.Variable
	for _, v := range f.vars {
		if v.Secret != nil && v.Secret.StoreID == storeID && strings.Contains(strings.ToLower(v.Secret.Ref), strings.ToLower(secret)) {
			out = append(out, v)
		}
	}
	return out, nil
}

func (f *fakeVars) SetSecretNotice(_ context.Context, ids []string, notice envvar.Status) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	for i := range f.vars {
		if slices.Contains(ids, f.vars[i].ID) {
			ref := *f.vars[i].Secret
			ref.Notice = notice
			f.vars[i].Secret = &ref
		}
	}
	return nil
}

func (f *fakeVars) Dependencies(_ context.Context, id string) (envvar.Dependencies, error) {
	return envvar.Dependencies{Connections: f.conns[id]}, nil
}

func (f *fakeVars) status(name string) envvar.Status {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, v := range f.vars {
		if v.SchemaName == name {
			return v.Status(time.Now())
		}
	}
	return ""
}

type fakeConns struct{ checked []string }

func (f *fakeConns) Check(_ context.Context, id string) error {
	f.checked = append(f.checked, id)
	return nil
}

type fakeAudit struct{ entries []audit.Entry }

func (f *fakeAudit) Record(_ context.Context, e ...audit.Entry) error {
	f.entries = append(f.entries, e...)
	return nil
}

type fakeAnnouncer struct{ said []string }

func (f *fakeAnnouncer) AnnounceSecretChange(_ context.Context, store, secret string, _ time.Time) error {
	f.said = append(f.said, store+"/"+secret)
	return nil
}

func secretVar(id, name, storeID, ref string) envvar.Variable {
	return envvar.Variable{ID: id, SchemaName: name, Type: envvar.TypeSecret,
		Secret: &envvar.SecretRef{StoreID: storeID, Store: "vault", Ref: ref, Enabled: true, CheckedAt: time.Now().Add(-time.Hour)}}
}

type fixture struct {
	vault  *memstore.Store
	cached *cache.Store
	reg    *secretstore.Registry
	vars   *fakeVars
	conns  *fakeConns
	audit  *fakeAudit
	ann    *fakeAnnouncer
	svc    *rotation.Service
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	f := &fixture{vault: memstore.New(), reg: secretstore.NewRegistry(), conns: &fakeConns{}, audit: &fakeAudit{}, ann: &fakeAnnouncer{}}
	f.cached = cache.New(f.vault, cache.Options{TTL: time.Hour})
	f.reg.AddWithReader(secretstore.Info{ID: "s1", Name: "vault", Kind: "memory"}, f.vault, f.cached)
	f.vars = &fakeVars{
		vars: []envvar.Variable{
			secretVar("v1", "cf_Latest", "s1", "db-pass"),
			secretVar("v2", "cf_Pinned", "s1", "db-pass/1"),
			secretVar("v3", "cf_Other", "s1", "db-pass-old"),
			secretVar("v4", "cf_OtherStore", "s2", "db-pass"),
			secretVar("v5", "cf_AlsoLatest", "s1", "db-pass"),
		},
		conns: map[string][]envvar.Named{
			"v1": {{ID: "c1", Name: "build"}, {ID: "c2", Name: "deploy"}},
			"v2": {{ID: "c3", Name: "pinned"}},
			"v3": {{ID: "c4", Name: "other"}},
			"v5": {{ID: "c1", Name: "build"}},
		},
	}
	f.svc = rotation.New(f.vars, f.reg, f.conns, f.audit, rotation.WithAnnouncer(f.ann))
	return f
}

func (f *fixture) read(t *testing.T) string {
	t.Helper()
	s, err := f.cached.Get(context.Background(), secretstore.Ref{Name: "db-pass"})
	if err != nil {
		t.Fatal(err)
	}
	return s.Value.Reveal()
}

func TestSecretChanged(t *testing.T) {
	for _, tc := range []struct {
		name          string
		change        rotation.Change
		wantVars      []string
		wantConns     []string
		wantAction    string
		wantActor     string
		wantStatus    envvar.Status // of cf_Latest afterwards
		wantDropped   bool          // the cached value is dropped
		wantAnnounced []string
		wantErr       error
	}{
		{name: "new version from an event", change: rotation.Change{Store: "vault", Secret: "db-pass", Kind: rotation.NewVersion, Source: rotation.SourceEventGrid},
			wantVars: []string{"cf_Latest", "cf_AlsoLatest"}, wantConns: []string{"c1", "c2"}, wantAction: "secret.rotate", wantActor: "system",
			wantStatus: envvar.StatusOK, wantDropped: true, wantAnnounced: []string{"vault/db-pass"}},
		{name: "names compared without case, caches told their own spelling", change: rotation.Change{Store: "VAULT", Secret: "DB-PASS", Kind: rotation.NewVersion, Source: rotation.SourceNotification, Actor: "ada"},
			wantVars: []string{"cf_Latest", "cf_AlsoLatest"}, wantConns: []string{"c1", "c2"}, wantAction: "secret.rotate", wantActor: "ada",
			wantStatus: envvar.StatusOK, wantDropped: true, wantAnnounced: []string{"vault/DB-PASS", "vault/db-pass"}},
		{name: "near expiry marks the variables", change: rotation.Change{Store: "vault", Secret: "db-pass", Kind: rotation.NearExpiry, Source: rotation.SourceEventGrid},
			wantVars: []string{"cf_Latest", "cf_AlsoLatest"}, wantAction: "secret.expiring", wantActor: "system", wantStatus: envvar.StatusExpiring},
		{name: "expired marks the variables", change: rotation.Change{Store: "vault", Secret: "db-pass", Kind: rotation.Expired, Source: rotation.SourceEventGrid},
			wantVars: []string{"cf_Latest", "cf_AlsoLatest"}, wantAction: "secret.expired", wantActor: "system", wantStatus: envvar.StatusExpired},
		{name: "a secret nothing references is still dropped and audited", change: rotation.Change{Store: "vault", Secret: "unused", Kind: rotation.NewVersion, Source: rotation.SourcePoll},
			wantAction: "secret.rotate", wantActor: "system", wantStatus: envvar.StatusOK, wantAnnounced: []string{"vault/unused"}},
		{name: "unknown store", change: rotation.Change{Store: "nope", Secret: "db-pass", Kind: rotation.NewVersion}, wantErr: secretstore.ErrStoreNotFound, wantStatus: envvar.StatusOK},
		{name: "unknown kind", change: rotation.Change{Store: "vault", Secret: "db-pass", Kind: "deleted"}, wantErr: rotation.ErrUnknownKind,
			wantVars: []string{"cf_Latest", "cf_AlsoLatest"}, wantStatus: envvar.StatusOK},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t)
			f.vault.Set("db-pass", "one")
			if got := f.read(t); got != "one" {
				t.Fatalf("first read %q", got)
			}
			f.vault.Set("db-pass", "two")
			res, err := f.svc.SecretChanged(context.Background(), tc.change)
			if !errors.Is(err, tc.wantErr) {
				t.Fatalf("err %v, want %v", err, tc.wantErr)
			}
			if !slices.Equal(res.Variables, tc.wantVars) {
				t.Errorf("variables %v, want %v", res.Variables, tc.wantVars)
			}
			slices.Sort(f.conns.checked)
			if !slices.Equal(f.conns.checked, tc.wantConns) {
				t.Errorf("connections checked %v, want %v", f.conns.checked, tc.wantConns)
			}
			if want := map[bool]string{true: "two", false: "one"}[tc.wantDropped]; f.read(t) != want {
				t.Errorf("the next read gives %q, want %q", f.read(t), want)
			}
			if !slices.Equal(f.ann.said, tc.wantAnnounced) {
				t.Errorf("announced %v, want %v", f.ann.said, tc.wantAnnounced)
			}
			if got := f.vars.status("cf_Latest"); got != tc.wantStatus {
				t.Errorf("cf_Latest status %q, want %q", got, tc.wantStatus)
			}
			if got := f.vars.status("cf_Pinned"); got != envvar.StatusOK {
				t.Errorf("a pinned version's variable changed: %q", got)
			}
			if tc.wantErr != nil {
				if len(f.audit.entries) != 0 {
					t.Errorf("a refused change was audited: %v", f.audit.entries)
				}
				return
			}
			if len(f.audit.entries) != 1 {
				t.Fatalf("audit %v", f.audit.entries)
			}
			e := f.audit.entries[0]
			if e.Action != tc.wantAction || e.Actor != tc.wantActor || e.Outcome != "Success" || !strings.HasPrefix(e.Resource, "secret:vault/") ||
				!strings.Contains(e.Reason, string(tc.change.Source)) {
				t.Errorf("audit entry %+v", e)
			}
			if strings.Contains(e.Reason, "one") || strings.Contains(e.Reason, "two") {
				t.Errorf("the audit entry holds a value: %+v", e)
			}
		})
	}
}

func TestNewVersionClearsExpiryNotice(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	if _, err := f.svc.SecretChanged(ctx, rotation.Change{Store: "vault", Secret: "db-pass", Kind: rotation.NearExpiry}); err != nil {
		t.Fatal(err)
	}
	if got := f.vars.status("cf_AlsoLatest"); got != envvar.StatusExpiring {
		t.Fatalf("status %q after the notice", got)
	}
	if _, err := f.svc.SecretChanged(ctx, rotation.Change{Store: "vault", Secret: "db-pass", Kind: rotation.NewVersion}); err != nil {
		t.Fatal(err)
	}
	if got := f.vars.status("cf_AlsoLatest"); got != envvar.StatusOK {
		t.Errorf("status %q after a new version", got)
	}
}

func TestRepositoryFailureIsReturned(t *testing.T) {
	f := newFixture(t)
	boom := errors.New("database down")
	f.vars.fail = boom
	if _, err := f.svc.SecretChanged(context.Background(), rotation.Change{Store: "vault", Secret: "db-pass", Kind: rotation.NewVersion}); !errors.Is(err, boom) {
		t.Fatalf("err %v", err)
	}
	if len(f.audit.entries) != 0 {
		t.Errorf("audited %v", f.audit.entries)
	}
}

func TestStoreChangedDropsEveryValue(t *testing.T) {
	f := newFixture(t)
	f.vault.Set("db-pass", "one")
	f.read(t)
	f.vault.Set("db-pass", "two")
	if err := f.svc.StoreChanged(context.Background(), "Vault", rotation.SourceEventGrid); err != nil {
		t.Fatal(err)
	}
	if got := f.read(t); got != "two" {
		t.Errorf("next read %q", got)
	}
	if !slices.Equal(f.ann.said, []string{"vault/"}) || len(f.audit.entries) != 1 || f.audit.entries[0].Resource != "store:vault" {
		t.Errorf("announced %v, audited %+v", f.ann.said, f.audit.entries)
	}
	if err := f.svc.StoreChanged(context.Background(), "nope", rotation.SourceEventGrid); !errors.Is(err, secretstore.ErrStoreNotFound) {
		t.Errorf("unknown store: %v", err)
	}
}
