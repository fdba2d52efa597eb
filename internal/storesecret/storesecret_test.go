package storesecret_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/credflow/credflow/internal/access"
	"github.com/credflow/credflow/internal/audit"
	"github.com/credflow/credflow/internal/secretstore"
	"github.com/credflow/credflow/internal/storesecret"
	"github.com/credflow/credflow/internal/validation"
)

// fakeStore is a writable store in memory that keeps the audit entries it
// is handed. Versions count on after a delete, as the built-in store's do.
type fakeStore struct {
	versions map[string]int // latest version by name; absent: no secret
	last     map[string]int // highest version ever, deleted or not
	entries  []audit.Entry
	lists    int // List calls
}

func newFakeStore(names ...string) *fakeStore {
	f := &fakeStore{versions: map[string]int{}, last: map[string]int{}}
	for _, n := range names {
		f.versions[n], f.last[n] = 1, 1
	}
	return f
}

func (f *fakeStore) ParseRef(ref string) (secretstore.Ref, error) {
	name, version, _ := strings.Cut(ref, "/")
	if name == "" || strings.ContainsAny(name, " !") {
		return secretstore.Ref{}, &secretstore.RefError{Ref: ref, Rule: "a name is letters, digits and '-'"}
	}
	return secretstore.Ref{Name: name, Version: version}, nil
}

func (f *fakeStore) Get(context.Context, secretstore.Ref) (secretstore.Secret, error) {
	return secretstore.Secret{}, errors.New("not used")
}

func (f *fakeStore) Put(_ context.Context, name string, _ secretstore.Value, e audit.Entry) (secretstore.Written, error) {
	if _, err := f.ParseRef(name); err != nil {
		return secretstore.Written{}, err
	}
	_, existed := f.versions[name]
	f.last[name]++
	f.versions[name] = f.last[name]
	f.entries = append(f.entries, e)
	return secretstore.Written{Meta: secretstore.Meta{Version: strconv.Itoa(f.last[name]), Enabled: true}, Created: !existed}, nil
}

func (f *fakeStore) Delete(_ context.Context, name string, e audit.Entry) error {
	if _, ok := f.versions[name]; !ok {
		return fmt.Errorf("delete %s: %w", name, secretstore.ErrNotFound)
	}
	delete(f.versions, name)
	f.entries = append(f.entries, e)
	return nil
}

func (f *fakeStore) List(_ context.Context, after string, limit int) ([]secretstore.Entry, error) {
	f.lists++
	var names []string
	for n := range f.versions {
		if n > after {
			names = append(names, n)
		}
	}
	sort.Strings(names)
	if len(names) > limit {
		names = names[:limit]
	}
	out := make([]secretstore.Entry, len(names))
	for i, n := range names {
		out[i] = secretstore.Entry{Name: n, Version: strconv.Itoa(f.versions[n])}
	}
	return out, nil
}

// readOnly is a store credflow only reads.
type readOnly struct{ secretstore.Store }

// fakeStores is the registry: one writable store, one read-only one.
type fakeStores struct {
	store       *fakeStore
	invalidated []string
}

func (r *fakeStores) Lookup(name string) (secretstore.Store, secretstore.Info, error) {
	switch name {
	case "local":
		return r.store, secretstore.Info{ID: "s-local", Name: "local", Kind: "builtin"}, nil
	case "kv":
		return readOnly{r.store}, secretstore.Info{ID: "s-kv", Name: "kv", Kind: "azure-keyvault"}, nil
	}
	return nil, secretstore.Info{}, fmt.Errorf("%w: %q", secretstore.ErrStoreNotFound, name)
}

func (r *fakeStores) Invalidate(store, secret string) {
	r.invalidated = append(r.invalidated, store+"/"+secret)
}

// fakeGrants gives each principal, by name, a list of prefixes on "local";
// admins hold every name.
type fakeGrants map[string][]string

func (g fakeGrants) GrantedPrefixes(_ context.Context, p access.Principal, storeID string) ([]string, error) {
	if p.IsAdmin() {
		return []string{""}, nil
	}
	if storeID != "s-local" {
		return nil, nil
	}
	return g[p.Name], nil
}

func (g fakeGrants) CheckGrant(ctx context.Context, p access.Principal, storeID, storeName, secret string) error {
	prefixes, _ := g.GrantedPrefixes(ctx, p, storeID)
	for _, pre := range prefixes {
		if strings.HasPrefix(secret, pre) {
			return nil
		}
	}
	return fmt.Errorf("%s may not reference %s: %w", p.Name, secret, access.ErrStoreNotGranted)
}

// fakeRefs holds variable references to "local" by schema name.
type fakeRefs map[string]string

func (f fakeRefs) SecretReferences(_ context.Context, storeID, prefix string) ([]storesecret.Reference, error) {
	var out []storesecret.Reference
	if storeID != "s-local" {
		return nil, nil
	}
	for v, ref := range f {
		if strings.HasPrefix(ref, prefix) {
			out = append(out, storesecret.Reference{Variable: v, Ref: ref})
		}
	}
	return out, nil
}

var (
	admin = access.Principal{ID: "u0", Name: "admin", Role: access.RoleAdmin}
	alice = access.Principal{ID: "u1", Name: "alice", Role: access.RoleMaker}
	bob   = access.Principal{ID: "u2", Name: "bob", Role: access.RoleMaker}
	carol = access.Principal{ID: "u3", Name: "carol", Role: access.RoleMaker}
)

var grants = fakeGrants{
	"alice": {"team-a-"},
	"bob":   {"team-b-", "shared", "team-b-x-"},
}

func newService(store *fakeStore, refs fakeRefs) (*storesecret.Service, *fakeStores) {
	stores := &fakeStores{store: store}
	return storesecret.New(stores, grants, refs), stores
}

func TestPut(t *testing.T) {
	for _, tc := range []struct {
		name        string
		existing    []string
		deleted     []string // written and deleted before
		caller      access.Principal
		store       string
		secret      string
		wantErr     error
		wantField   string
		wantVersion string
		wantCreated bool
	}{
		{name: "new secret", caller: alice, store: "local", secret: "team-a-db",
			wantVersion: "1", wantCreated: true},
		{name: "new version", existing: []string{"team-a-db"}, caller: alice, store: "local", secret: "team-a-db",
			wantVersion: "2", wantCreated: false},
		{name: "recreated after a delete, version not 1", deleted: []string{"team-a-db"}, caller: alice, store: "local",
			secret: "team-a-db", wantVersion: "2", wantCreated: true},
		{name: "outside the grants", caller: alice, store: "local", secret: "team-b-db", wantErr: access.ErrStoreNotGranted},
		{name: "no grant at all", caller: carol, store: "local", secret: "team-a-db", wantErr: access.ErrStoreNotGranted},
		{name: "admin anywhere", caller: admin, store: "local", secret: "anything", wantVersion: "1", wantCreated: true},
		{name: "read-only store", caller: admin, store: "kv", secret: "x", wantErr: secretstore.ErrReadOnly},
		{name: "unknown store", caller: admin, store: "nope", secret: "x", wantErr: secretstore.ErrStoreNotFound},
		{name: "invalid name", caller: admin, store: "local", secret: "bad name", wantField: "name"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fs := newFakeStore(tc.existing...)
			for _, n := range tc.deleted {
				fs.versions[n], fs.last[n] = 1, 1
				delete(fs.versions, n)
			}
			svc, stores := newService(fs, nil)
			w, err := svc.Put(t.Context(), tc.caller, tc.store, tc.secret, secretstore.NewValue("s3cret-value"))
			var ve *validation.Error
			switch {
			case tc.wantField != "":
				if !errors.As(err, &ve) || len(ve.Fields) != 1 || ve.Fields[0].Field != tc.wantField {
					t.Fatalf("Put error = %v, want a validation error on %s", err, tc.wantField)
				}
			case tc.wantErr != nil:
				if !errors.Is(err, tc.wantErr) {
					t.Fatalf("Put error = %v, want %v", err, tc.wantErr)
				}
			case err != nil:
				t.Fatalf("Put: %v", err)
			}
			if err != nil {
				if len(fs.entries) != 0 || len(stores.invalidated) != 0 {
					t.Fatalf("a refused Put wrote %v and invalidated %v", fs.entries, stores.invalidated)
				}
				if strings.Contains(err.Error(), "s3cret-value") {
					t.Fatalf("the error shows the value: %v", err)
				}
				return
			}
			if w.Version != tc.wantVersion || w.Created != tc.wantCreated {
				t.Fatalf("Put = version %s, created %v; want %s, %v", w.Version, w.Created, tc.wantVersion, tc.wantCreated)
			}
			want := audit.Entry{Actor: tc.caller.Name, Action: "store.secret.put", Resource: "store:local secret:" + tc.secret, Outcome: audit.Success}
			if !slices.Equal(fs.entries, []audit.Entry{want}) {
				t.Fatalf("audit entries handed to the store = %+v, want %+v", fs.entries, want)
			}
			if !slices.Equal(stores.invalidated, []string{"local/" + tc.secret}) {
				t.Fatalf("invalidated %v, want local/%s", stores.invalidated, tc.secret)
			}
		})
	}
}

func TestDelete(t *testing.T) {
	refs := fakeRefs{
		"cf_DB":       "team-a-db",
		"cf_DBPinned": "team-a-db/3",
		"cf_DBLonger": "team-a-db-old", // another secret that starts with the name
		"cf_Other":    "team-a-other",
	}
	for _, tc := range []struct {
		name       string
		caller     access.Principal
		secret     string
		force      bool
		wantErr    error
		wantVars   []string
		wantReason string
	}{
		{name: "referenced", caller: alice, secret: "team-a-db", wantErr: storesecret.ErrInUse,
			wantVars: []string{"cf_DB", "cf_DBPinned"}},
		{name: "referenced, forced", caller: alice, secret: "team-a-db", force: true,
			wantReason: "forced while referenced by environment variables: cf_DB, cf_DBPinned"},
		{name: "only a longer name is referenced", caller: alice, secret: "team-a-d"},
		{name: "unreferenced", caller: alice, secret: "team-a-free"},
		{name: "outside the grants", caller: bob, secret: "team-a-free", wantErr: access.ErrStoreNotGranted},
		{name: "outside the grants, forced", caller: bob, secret: "team-a-db", force: true, wantErr: access.ErrStoreNotGranted},
		{name: "missing", caller: admin, secret: "team-a-missing", wantErr: secretstore.ErrNotFound},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fs := newFakeStore("team-a-db", "team-a-d", "team-a-free", "team-a-db-old", "team-a-other")
			svc, stores := newService(fs, refs)
			err := svc.Delete(t.Context(), tc.caller, "local", tc.secret, tc.force)
			if tc.wantErr == nil && err != nil || tc.wantErr != nil && !errors.Is(err, tc.wantErr) {
				t.Fatalf("Delete error = %v, want %v", err, tc.wantErr)
			}
			var iu *storesecret.InUseError
			if errors.As(err, &iu) != (tc.wantVars != nil) || iu != nil && !slices.Equal(iu.Variables, tc.wantVars) {
				t.Fatalf("Delete error = %#v, want variables %v", err, tc.wantVars)
			}
			if err != nil {
				if _, ok := fs.versions[tc.secret]; !ok && !errors.Is(err, secretstore.ErrNotFound) {
					t.Fatalf("a refused Delete deleted the secret")
				}
				if len(fs.entries) != 0 || len(stores.invalidated) != 0 {
					t.Fatalf("a refused Delete wrote %v and invalidated %v", fs.entries, stores.invalidated)
				}
				return
			}
			if _, ok := fs.versions[tc.secret]; ok {
				t.Fatal("the secret is still there")
			}
			want := audit.Entry{Actor: tc.caller.Name, Action: "store.secret.delete", Resource: "store:local secret:" + tc.secret,
				Outcome: audit.Success, Reason: tc.wantReason}
			if !slices.Equal(fs.entries, []audit.Entry{want}) {
				t.Fatalf("audit entries handed to the store = %+v, want %+v", fs.entries, want)
			}
			if !slices.Equal(stores.invalidated, []string{"local/" + tc.secret}) {
				t.Fatalf("invalidated %v, want local/%s", stores.invalidated, tc.secret)
			}
		})
	}
}

func TestList(t *testing.T) {
	names := []string{"a", "shared", "shared-x", "sharee", "team-a-1", "team-a-2", "team-a-3", "team-a", "team-a.", "team-b-1",
		"team-b-x-1", "team-b.", "team-c-1", "zz"}
	for _, tc := range []struct {
		name   string
		caller access.Principal
		want   []string
	}{
		{name: "admin sees all", caller: admin,
			want: []string{"a", "shared", "shared-x", "sharee", "team-a", "team-a-1", "team-a-2", "team-a-3", "team-a.", "team-b-1", "team-b-x-1", "team-b.", "team-c-1", "zz"}},
		{name: "one prefix", caller: alice, want: []string{"team-a-1", "team-a-2", "team-a-3"}},
		{name: "several prefixes, one inside another", caller: bob,
			want: []string{"shared", "shared-x", "team-b-1", "team-b-x-1"}},
		{name: "no grant", caller: carol, want: nil},
	} {
		for _, limit := range []int{1, 2, 3, 100} {
			t.Run(fmt.Sprintf("%s/limit %d", tc.name, limit), func(t *testing.T) {
				svc, _ := newService(newFakeStore(names...), nil)
				var got []string
				after := ""
				for pages := 0; ; pages++ {
					if pages > len(names)+1 {
						t.Fatalf("paging does not end: %v", got)
					}
					page, err := svc.List(t.Context(), tc.caller, "local", after, limit)
					if err != nil {
						t.Fatalf("List: %v", err)
					}
					if len(page) > limit {
						t.Fatalf("List returned %d entries, limit %d", len(page), limit)
					}
					for _, e := range page {
						got = append(got, e.Name)
					}
					if len(page) < limit {
						break
					}
					after = page[len(page)-1].Name
				}
				if !slices.Equal(got, tc.want) {
					t.Fatalf("listed %q, want %q", got, tc.want)
				}
			})
		}
	}

	t.Run("read-only store", func(t *testing.T) {
		svc, _ := newService(newFakeStore(), nil)
		if _, err := svc.List(t.Context(), admin, "kv", "", 10); !errors.Is(err, secretstore.ErrReadOnly) {
			t.Fatalf("List of a read-only store: %v, want ErrReadOnly", err)
		}
	})

	t.Run("skips to the prefix", func(t *testing.T) {
		var many []string
		for i := range 1000 {
			many = append(many, fmt.Sprintf("a-%04d", i))
		}
		fs := newFakeStore(append(many, "team-a-1")...)
		svc, _ := newService(fs, nil)
		page, err := svc.List(t.Context(), alice, "local", "", 10)
		if err != nil || len(page) != 1 || page[0].Name != "team-a-1" {
			t.Fatalf("List = %v, %v; want team-a-1", page, err)
		}
		if fs.lists != 1 {
			t.Fatalf("%d store listings, want 1: names before the prefix are not read", fs.lists)
		}
	})
}
