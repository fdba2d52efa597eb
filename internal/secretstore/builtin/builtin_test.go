package builtin_test

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/credflow/credflow/internal/audit"
	"github.com/credflow/credflow/internal/metadb/metadbtest"
	"github.com/credflow/credflow/internal/secretstore"
	"github.com/credflow/credflow/internal/secretstore/builtin"
)

// newRepo returns the real repository on a fresh SQLite database; the
// conformance suite in metadb runs every engine.
func newRepo(t *testing.T) builtin.Repository {
	return metadbtest.Open(t, metadbtest.Engines(t)[0]).BuiltinSecrets()
}

// note is the audit entry the tests hand writes.
var note = audit.Entry{Actor: "test", Action: "store.secret.test", Resource: "secret:test", Outcome: audit.Success}

func newKey() []byte {
	key := make([]byte, builtin.KeySize)
	rand.Read(key)
	return key
}

func newStore(t *testing.T, repo builtin.Repository, key []byte) *builtin.Store {
	t.Helper()
	s, err := builtin.New(repo, key)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return s
}

func put(t *testing.T, s *builtin.Store, name, value string) secretstore.Written {
	t.Helper()
	m, err := s.Put(t.Context(), name, secretstore.NewValue(value), note)
	if err != nil {
		t.Fatalf("Put(%s): %v", name, err)
	}
	return m
}

// noValue fails when err's text shows one of the values.
func noValue(t *testing.T, err error, values ...string) {
	t.Helper()
	for _, v := range values {
		if strings.Contains(fmt.Sprintf("%+v", err), v) {
			t.Fatalf("error shows a secret value: %v", err)
		}
	}
}

func TestParseRef(t *testing.T) {
	s := newStore(t, newRepo(t), nil) // parsing needs no key
	long := strings.Repeat("a", 127)
	for _, tc := range []struct {
		ref  string
		want secretstore.Ref // zero: must be rejected
	}{
		{"db-password", secretstore.Ref{Name: "db-password"}},
		{"DB_Password.v2", secretstore.Ref{Name: "DB_Password.v2"}},
		{"0day", secretstore.Ref{Name: "0day"}},
		{"a", secretstore.Ref{Name: "a"}},
		{long, secretstore.Ref{Name: long}},
		{"db/1", secretstore.Ref{Name: "db", Version: "1"}},
		{"db/42", secretstore.Ref{Name: "db", Version: "42"}},
		{"db/2147483647", secretstore.Ref{Name: "db", Version: "2147483647"}},
		{"", secretstore.Ref{}},
		{long + "a", secretstore.Ref{}},
		{"-db", secretstore.Ref{}},
		{".db", secretstore.Ref{}},
		{"_db", secretstore.Ref{}},
		{"d b", secretstore.Ref{}},
		{"db!", secretstore.Ref{}},
		{"dé", secretstore.Ref{}},
		{"db\n", secretstore.Ref{}},
		{"db/", secretstore.Ref{}},
		{"/1", secretstore.Ref{}},
		{"db/0", secretstore.Ref{}},
		{"db/01", secretstore.Ref{}},
		{"db/-1", secretstore.Ref{}},
		{"db/+1", secretstore.Ref{}},
		{"db/1.0", secretstore.Ref{}},
		{"db/latest", secretstore.Ref{}},
		{"db/2147483648", secretstore.Ref{}},
		{"db/1/2", secretstore.Ref{}},
	} {
		t.Run(fmt.Sprintf("%q", tc.ref), func(t *testing.T) {
			got, err := s.ParseRef(tc.ref)
			if tc.want == (secretstore.Ref{}) {
				var re *secretstore.RefError
				if !errors.As(err, &re) || !errors.Is(err, secretstore.ErrInvalidRef) || re.Rule == "" || re.Ref != tc.ref {
					t.Fatalf("ParseRef = %#v, %v; want a *RefError for the whole reference, with a rule", got, err)
				}
				return
			}
			if err != nil || got != tc.want {
				t.Fatalf("ParseRef = %#v, %v; want %#v", got, err, tc.want)
			}
		})
	}
}

func TestNew(t *testing.T) {
	repo := newRepo(t)
	for _, n := range []int{1, 16, 31, 33, 64} {
		if _, err := builtin.New(repo, make([]byte, n)); err == nil {
			t.Errorf("New with a %d-byte key succeeded", n)
		}
	}
	if _, err := builtin.New(nil, newKey()); err == nil {
		t.Error("New without a repository succeeded")
	}
	key := newKey()
	s := newStore(t, repo, key)
	if s.Sealed() || s.KeyID() != builtin.KeyID(key) {
		t.Errorf("Sealed = %v, KeyID = %q; want unsealed with %q", s.Sealed(), s.KeyID(), builtin.KeyID(key))
	}
	clear(key) // the store must have its own copy
	put(t, s, "copy", "still-readable")
	if sec, err := s.Get(t.Context(), secretstore.Ref{Name: "copy"}); err != nil || sec.Value.Reveal() != "still-readable" {
		t.Fatalf("Get after the caller cleared its key: %v", err)
	}
}

func TestPut(t *testing.T) {
	s := newStore(t, newRepo(t), newKey())
	for i, want := range []string{"1", "2", "3"} {
		m := put(t, s, "counter", fmt.Sprintf("value-%d", i))
		if m.Version != want || !m.Enabled || m.UpdatedAt.IsZero() || m.Created != (i == 0) {
			t.Fatalf("Put %d = %+v, want version %s, enabled, with a time, created only by the first", i, m, want)
		}
	}
	other := put(t, s, "other", "x")
	if other.Version != "1" {
		t.Fatalf("first version of another secret = %s, want 1", other.Version)
	}

	t.Run("empty value", func(t *testing.T) {
		_, err := s.Put(t.Context(), "empty", secretstore.Value{}, note)
		if !errors.Is(err, builtin.ErrEmptyValue) {
			t.Fatalf("error = %v, want ErrEmptyValue", err)
		}
	})
	t.Run("invalid name", func(t *testing.T) {
		for _, name := range []string{"", "-x", "a/b", "a b", strings.Repeat("x", 128)} {
			_, err := s.Put(t.Context(), name, secretstore.NewValue("not-in-errors"), note)
			var re *secretstore.RefError
			if !errors.As(err, &re) || re.Rule == "" {
				t.Errorf("Put(%q): error = %v, want a *RefError", name, err)
			}
			noValue(t, err, "not-in-errors")
		}
	})
	t.Run("list limit", func(t *testing.T) {
		if _, err := s.List(t.Context(), "", 0); err == nil {
			t.Fatal("List with limit 0 succeeded")
		}
	})
}

// tamperRepo alters the records the real repository returns, as a damaged
// or hostile database would.
type tamperRepo struct {
	builtin.Repository
	tamper func(*builtin.Record)
}

func (r tamperRepo) Get(ctx context.Context, name string, version int) (builtin.Record, error) {
	rec, err := r.Repository.Get(ctx, name, version)
	if err == nil {
		r.tamper(&rec)
	}
	return rec, err
}

func flip(b []byte, i int) []byte {
	b = append([]byte(nil), b...)
	if i < 0 {
		i += len(b)
	}
	b[i] ^= 0x01
	return b
}

func TestTampering(t *testing.T) {
	repo, key := newRepo(t), newKey()
	s := newStore(t, repo, key)
	const v1, v2 = "first-value-Hq7", "second-value-Lx2"
	put(t, s, "db", v1)
	put(t, s, "db", v2)
	other, err := repo.Get(t.Context(), "db", 2)
	if err != nil {
		t.Fatal(err)
	}
	otherKey := newKey()

	for _, tc := range []struct {
		label  string
		tamper func(*builtin.Record)
	}{
		{"ciphertext nonce", func(r *builtin.Record) { r.Ciphertext = flip(r.Ciphertext, 0) }},
		{"ciphertext body", func(r *builtin.Record) { r.Ciphertext = flip(r.Ciphertext, 14) }},
		{"ciphertext tag", func(r *builtin.Record) { r.Ciphertext = flip(r.Ciphertext, -1) }},
		{"ciphertext truncated", func(r *builtin.Record) { r.Ciphertext = r.Ciphertext[:len(r.Ciphertext)-1] }},
		{"ciphertext empty", func(r *builtin.Record) { r.Ciphertext = nil }},
		{"wrapped key nonce", func(r *builtin.Record) { r.WrappedKey = flip(r.WrappedKey, 0) }},
		{"wrapped key body", func(r *builtin.Record) { r.WrappedKey = flip(r.WrappedKey, 20) }},
		{"wrapped key tag", func(r *builtin.Record) { r.WrappedKey = flip(r.WrappedKey, -1) }},
		{"wrapped key empty", func(r *builtin.Record) { r.WrappedKey = nil }},
		{"ciphertext of another version", func(r *builtin.Record) { r.Ciphertext = other.Ciphertext }},
		{"wrapped key of another version", func(r *builtin.Record) { r.WrappedKey = other.WrappedKey }},
		{"row claims another version", func(r *builtin.Record) { r.Version = 2 }},
		{"key ID of another key", func(r *builtin.Record) { r.KeyID = builtin.KeyID(otherKey) }},
		{"key ID empty", func(r *builtin.Record) { r.KeyID = "" }},
	} {
		t.Run(tc.label, func(t *testing.T) {
			ts := newStore(t, tamperRepo{repo, tc.tamper}, key)
			sec, err := ts.Get(t.Context(), secretstore.Ref{Name: "db", Version: "1"})
			if !errors.Is(err, secretstore.ErrCorrupt) {
				t.Fatalf("Get: error = %v, want ErrCorrupt", err)
			}
			if !sec.Value.IsZero() {
				t.Fatal("Get returned a value")
			}
			noValue(t, err, v1, v2)
		})
	}

	t.Run("wrong master key", func(t *testing.T) {
		for _, tc := range []struct {
			label  string
			tamper func(*builtin.Record)
		}{
			{"key ID differs", func(*builtin.Record) {}},
			// Even a row claiming the loaded key's ID does not decrypt.
			{"key ID forged", func(r *builtin.Record) { r.KeyID = builtin.KeyID(otherKey) }},
		} {
			t.Run(tc.label, func(t *testing.T) {
				wrong := newStore(t, tamperRepo{repo, tc.tamper}, otherKey)
				_, err := wrong.Get(t.Context(), secretstore.Ref{Name: "db"})
				if !errors.Is(err, secretstore.ErrCorrupt) {
					t.Fatalf("Get: error = %v, want ErrCorrupt", err)
				}
				noValue(t, err, v1, v2)
			})
		}
	})
}

func TestSealed(t *testing.T) {
	repo := newRepo(t)
	put(t, newStore(t, repo, newKey()), "kept", "sealed-away-Tr4")
	for _, key := range [][]byte{nil, {}} {
		s := newStore(t, repo, key)
		if !s.Sealed() || s.KeyID() != "" || !secretstore.IsSealed(s) {
			t.Fatalf("store with key %v: Sealed = %v, KeyID = %q", key, s.Sealed(), s.KeyID())
		}
		_, err := s.Get(t.Context(), secretstore.Ref{Name: "kept"})
		if !errors.Is(err, secretstore.ErrSealed) {
			t.Errorf("Get: error = %v, want ErrSealed", err)
		}
		noValue(t, err, "sealed-away-Tr4")
		if _, err := s.Stat(t.Context(), secretstore.Ref{Name: "kept"}); !errors.Is(err, secretstore.ErrSealed) {
			t.Errorf("Stat: error = %v, want ErrSealed", err)
		}
		if _, err := s.Put(t.Context(), "new", secretstore.NewValue("v"), note); !errors.Is(err, secretstore.ErrSealed) {
			t.Errorf("Put: error = %v, want ErrSealed", err)
		}
		entries, err := s.List(t.Context(), "", 10)
		if err != nil || len(entries) != 1 || entries[0].Name != "kept" || entries[0].Version != "1" {
			t.Errorf("List while sealed = %+v, %v; want kept/1", entries, err)
		}
	}
	s := newStore(t, repo, nil)
	if err := s.Delete(t.Context(), "kept", note); err != nil {
		t.Fatalf("Delete while sealed: %v", err)
	}
	if err := s.Delete(t.Context(), "kept", note); !errors.Is(err, secretstore.ErrNotFound) {
		t.Fatalf("second Delete while sealed: error = %v, want ErrNotFound", err)
	}
}

func TestOpen(t *testing.T) {
	repo, key := newRepo(t), newKey()
	if _, err := builtin.Open(t.Context(), repo, nil); err != nil {
		t.Fatalf("Open sealed before any key is bound: %v", err)
	}
	s, err := builtin.Open(t.Context(), repo, key)
	if err != nil {
		t.Fatalf("first Open: %v", err)
	}
	put(t, s, "db", "v")
	if _, err := builtin.Open(t.Context(), repo, key); err != nil {
		t.Fatalf("Open with the same key: %v", err)
	}
	if _, err := builtin.Open(t.Context(), repo, newKey()); !errors.Is(err, builtin.ErrWrongKey) {
		t.Fatalf("Open with another key: error = %v, want ErrWrongKey", err)
	}
	if s, err := builtin.Open(t.Context(), repo, nil); err != nil || !s.Sealed() {
		t.Fatalf("Open sealed: %v", err)
	}
	if _, err := builtin.Open(t.Context(), repo, make([]byte, 5)); err == nil {
		t.Fatal("Open with a 5-byte key succeeded")
	}
}
