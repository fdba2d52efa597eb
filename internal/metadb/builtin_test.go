package metadb_test

import (
	"context"
	"crypto/rand"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/credflow/credflow/internal/audit"
	"github.com/credflow/credflow/internal/metadb"
	"github.com/credflow/credflow/internal/metadb/metadbtest"
	"github.com/credflow/credflow/internal/secretstore"
	"github.com/credflow/credflow/internal/secretstore/builtin"
	"github.com/credflow/credflow/internal/secretstore/storetest"
)

type builtinHarness struct {
	db    *metadb.DB
	repo  *metadb.BuiltinRepo
	store *builtin.Store
}

var (
	_ storetest.Sealer  = builtinHarness{}
	_ storetest.Auditor = builtinHarness{}
)

// Audited counts the audit records equal to e.
func (h builtinHarness) Audited(t *testing.T, e audit.Entry) int {
	t.Helper()
	// Filtered here, not in SQL: the suite's invalid names (a NUL byte, say)
	// are not for a query parameter.
	recs, err := h.db.Audit().List(t.Context(), audit.Filter{Action: e.Action, Limit: 100000})
	if err != nil {
		t.Fatalf("list audit records: %v", err)
	}
	n := 0
	for _, r := range recs {
		if r.Entry == e {
			n++
		}
	}
	return n
}

func (h builtinHarness) Store() secretstore.Store { return h.store }

func (h builtinHarness) Seed(t *testing.T, name, value string) string {
	t.Helper()
	m, err := h.store.Put(t.Context(), name, secretstore.NewValue(value), audit.Entry{Actor: "seed", Action: "seed", Resource: name})
	if err != nil {
		t.Fatalf("seed %s: %v", name, err)
	}
	return m.Version
}

func (builtinHarness) AbsentVersion(*testing.T, string) string { return "2147483647" }

func (h builtinHarness) SealedStore(t *testing.T) secretstore.Store {
	s, err := builtin.New(h.repo, nil)
	if err != nil {
		t.Fatalf("new sealed store: %v", err)
	}
	return s
}

func newKey(t *testing.T) []byte {
	key := make([]byte, builtin.KeySize)
	rand.Read(key)
	return key
}

func openBuiltin(t *testing.T, e metadbtest.Engine) (*metadb.DB, *builtin.Store) {
	t.Helper()
	db := metadbtest.Open(t, e)
	s, err := builtin.Open(t.Context(), db.BuiltinSecrets(), newKey(t))
	if err != nil {
		t.Fatalf("open builtin store: %v", err)
	}
	return db, s
}

func TestBuiltinStoreConformance(t *testing.T) {
	for _, e := range metadbtest.Engines(t) {
		t.Run(e.Name, func(t *testing.T) {
			storetest.Run(t, func(t *testing.T) storetest.Harness {
				db, s := openBuiltin(t, e)
				return builtinHarness{db: db, repo: db.BuiltinSecrets(), store: s}
			})
		})
	}
}

// TestBuiltinCiphertextMovedToAnotherRow copies a row's ciphertexts under
// the repository, the way someone with write access to the database might,
// and checks that the store refuses them rather than serve another secret.
func TestBuiltinCiphertextMovedToAnotherRow(t *testing.T) {
	for _, e := range metadbtest.Engines(t) {
		t.Run(e.Name, func(t *testing.T) {
			db, s := openBuiltin(t, e)
			q := func(query string) string {
				if db.Dialect() == metadb.SQLite {
					return strings.ReplaceAll(query, "$", "?")
				}
				return query
			}
			put := func(name, value string) {
				t.Helper()
				if _, err := s.Put(t.Context(), name, secretstore.NewValue(value), audit.Entry{Actor: "test", Action: "put", Resource: name}); err != nil {
					t.Fatalf("put %s: %v", name, err)
				}
			}
			values := []string{"value-of-a-1-Zq8", "value-of-a-2-Kp3", "value-of-b-1-Wm5"}

			for _, tc := range []struct {
				label   string
				columns string // copied from a/1
				target  secretstore.Ref
				readAs  []secretstore.Ref
			}{
				{"onto another name", "key_id, wrapped_key, ciphertext", secretstore.Ref{Name: "b", Version: "1"},
					[]secretstore.Ref{{Name: "b"}, {Name: "b", Version: "1"}}},
				{"onto another version", "key_id, wrapped_key, ciphertext", secretstore.Ref{Name: "a", Version: "2"},
					[]secretstore.Ref{{Name: "a"}, {Name: "a", Version: "2"}}},
				{"value only, onto another name", "ciphertext", secretstore.Ref{Name: "b", Version: "1"},
					[]secretstore.Ref{{Name: "b", Version: "1"}}},
				{"wrapped key only, onto another version", "wrapped_key", secretstore.Ref{Name: "a", Version: "2"},
					[]secretstore.Ref{{Name: "a", Version: "2"}}},
			} {
				t.Run(tc.label, func(t *testing.T) {
					if _, err := db.SQL().ExecContext(t.Context(), `DELETE FROM builtin_secrets`); err != nil {
						t.Fatal(err)
					}
					put("a", values[0])
					put("a", values[1])
					put("b", values[2])

					var set []string
					for c := range strings.SplitSeq(tc.columns, ", ") {
						set = append(set, c+" = (SELECT "+c+" FROM builtin_secrets WHERE name = 'a' AND version = 1)")
					}
					res, err := db.SQL().ExecContext(t.Context(),
						q(`UPDATE builtin_secrets SET `+strings.Join(set, ", ")+` WHERE name = $1 AND version = $2`),
						tc.target.Name, tc.target.Version)
					if err != nil {
						t.Fatalf("tamper: %v", err)
					}
					if n, _ := res.RowsAffected(); n != 1 {
						t.Fatalf("tamper updated %d rows, want 1", n)
					}

					for _, ref := range tc.readAs {
						sec, err := s.Get(t.Context(), ref)
						if !errors.Is(err, secretstore.ErrCorrupt) {
							t.Fatalf("Get(%v) after tampering: error = %v, want ErrCorrupt", ref, err)
						}
						if !sec.Value.IsZero() {
							t.Fatalf("Get(%v) after tampering returned a value", ref)
						}
						for _, v := range values {
							if strings.Contains(err.Error(), v) {
								t.Fatalf("Get(%v) error shows a secret value: %v", ref, err)
							}
						}
					}
					// The source row is untouched and still reads.
					sec, err := s.Get(t.Context(), secretstore.Ref{Name: "a", Version: "1"})
					if err != nil || sec.Value.Reveal() != values[0] {
						t.Fatalf("Get(a/1) after tampering elsewhere: err = %v", err)
					}
				})
			}
		})
	}
}

func TestBuiltinRepo(t *testing.T) {
	for _, e := range metadbtest.Engines(t) {
		t.Run(e.Name, func(t *testing.T) {
			db := metadbtest.Open(t, e)
			repo := db.BuiltinSecrets()
			ctx := t.Context()
			// Sub-second precision, given in another zone: read back equal, in UTC.
			t1 := time.Date(2024, 5, 6, 7, 8, 9, 123456000, time.FixedZone("UTC+2", 2*3600))
			t2 := t1.Add(90*time.Minute + 654321*time.Microsecond)
			rec := builtin.Record{Name: "n", Version: 1, KeyID: "k", WrappedKey: []byte{1, 2}, Ciphertext: []byte{3, 0, 4}, CreatedAt: t1}
			note := audit.Entry{Actor: "test", Action: "store.secret.test", Resource: "secret:n", Outcome: audit.Success}

			t.Run("insert and get", func(t *testing.T) {
				if created, err := repo.Insert(ctx, rec, note); err != nil || !created {
					t.Fatalf("Insert = %v, %v; want created", created, err)
				}
				r2 := rec
				r2.Version, r2.CreatedAt = 2, t2
				if created, err := repo.Insert(ctx, r2, note); err != nil || created {
					t.Fatalf("Insert v2 = %v, %v; want not created", created, err)
				}
				for _, tc := range []struct {
					version int
					want    builtin.Record
				}{{0, r2}, {1, rec}, {2, r2}} {
					got, err := repo.Get(ctx, "n", tc.version)
					if err != nil {
						t.Fatalf("Get(n, %d): %v", tc.version, err)
					}
					if got.Version != tc.want.Version || got.KeyID != tc.want.KeyID ||
						string(got.WrappedKey) != string(tc.want.WrappedKey) || string(got.Ciphertext) != string(tc.want.Ciphertext) {
						t.Errorf("Get(n, %d) = %+v, want %+v", tc.version, got, tc.want)
					}
					if !got.CreatedAt.Equal(tc.want.CreatedAt) || got.CreatedAt.Location() != time.UTC {
						t.Errorf("Get(n, %d).CreatedAt = %v, want %v in UTC", tc.version, got.CreatedAt, tc.want.CreatedAt.UTC())
					}
				}
			})

			t.Run("version taken", func(t *testing.T) {
				if _, err := repo.Insert(ctx, rec, note); !errors.Is(err, builtin.ErrVersionTaken) {
					t.Fatalf("second Insert of n/1: error = %v, want ErrVersionTaken", err)
				}
			})

			t.Run("missing", func(t *testing.T) {
				for _, v := range []int{0, 3} {
					if _, err := repo.Get(ctx, "nope", v); !errors.Is(err, secretstore.ErrNotFound) {
						t.Errorf("Get(nope, %d): error = %v, want ErrNotFound", v, err)
					}
				}
				if _, err := repo.Get(ctx, "n", 3); !errors.Is(err, secretstore.ErrNotFound) {
					t.Errorf("Get(n, 3): error = %v, want ErrNotFound", err)
				}
				if err := repo.Delete(ctx, "nope", note); !errors.Is(err, secretstore.ErrNotFound) {
					t.Errorf("Delete(nope): error = %v, want ErrNotFound", err)
				}
			})

			t.Run("list", func(t *testing.T) {
				// Byte order puts "N" and "a-b" before "ab", whatever the
				// database's collation says.
				for _, n := range []string{"ab", "a-b", "N"} {
					r := rec
					r.Name = n
					if _, err := repo.Insert(ctx, r, note); err != nil {
						t.Fatalf("Insert %s: %v", n, err)
					}
				}
				got, err := repo.List(ctx, "", 10)
				if err != nil {
					t.Fatalf("List: %v", err)
				}
				var names []string
				for _, m := range got {
					names = append(names, m.Name)
				}
				if want := "N a-b ab n"; strings.Join(names, " ") != want {
					t.Fatalf("List names = %q, want %q", names, want)
				}
				n := got[3]
				if n.Latest != 2 || n.Versions != 2 || !n.CreatedAt.Equal(t1) || !n.UpdatedAt.Equal(t2) ||
					n.CreatedAt.Location() != time.UTC || n.UpdatedAt.Location() != time.UTC {
					t.Errorf("List entry n = %+v, want latest 2 of 2, created %v, updated %v, in UTC", n, t1.UTC(), t2.UTC())
				}
				page, err := repo.List(ctx, "N", 2)
				if err != nil {
					t.Fatalf("List after N: %v", err)
				}
				if len(page) != 2 || page[0].Name != "a-b" || page[1].Name != "ab" {
					t.Errorf("List(N, 2) = %+v, want a-b and ab", page)
				}
			})

			t.Run("delete", func(t *testing.T) {
				if err := repo.Delete(ctx, "n", note); err != nil {
					t.Fatalf("Delete: %v", err)
				}
				if _, err := repo.Get(ctx, "n", 1); !errors.Is(err, secretstore.ErrNotFound) {
					t.Fatalf("Get after Delete: error = %v, want ErrNotFound", err)
				}
				if _, err := repo.Get(ctx, "ab", 1); err != nil {
					t.Fatalf("Delete of n removed ab: %v", err)
				}
			})

			t.Run("bind key", func(t *testing.T) {
				for _, tc := range []struct{ give, want string }{{"first", "first"}, {"second", "first"}, {"first", "first"}} {
					got, err := repo.BindKey(ctx, tc.give)
					if err != nil {
						t.Fatalf("BindKey(%s): %v", tc.give, err)
					}
					if got != tc.want {
						t.Fatalf("BindKey(%s) = %s, want %s", tc.give, got, tc.want)
					}
				}
			})

			t.Run("cancelled context", func(t *testing.T) {
				cctx, cancel := context.WithCancel(ctx)
				cancel()
				if _, err := repo.Get(cctx, "ab", 0); !errors.Is(err, context.Canceled) {
					t.Errorf("Get: error = %v, want context.Canceled", err)
				}
				if _, err := repo.Insert(cctx, builtin.Record{Name: "c", Version: 1, CreatedAt: t1}, note); !errors.Is(err, context.Canceled) {
					t.Errorf("Insert: error = %v, want context.Canceled", err)
				}
				if _, err := repo.List(cctx, "", 1); !errors.Is(err, context.Canceled) {
					t.Errorf("List: error = %v, want context.Canceled", err)
				}
			})
		})
	}
}
