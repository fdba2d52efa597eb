package storetest

import (
	"context"
	"strings"
	"sync"
	"testing"

	"github.com/credflow/credflow/internal/secretstore"
)

func (s suite) runRead(t *testing.T) {
	t.Run("missing secret", func(t *testing.T) {
		n := name("missing")
		_, err := s.store.Get(t.Context(), secretstore.Ref{Name: n})
		wantErr(t, "Get of a missing secret", err, secretstore.ErrNotFound)
		_, err = s.store.Get(t.Context(), secretstore.Ref{Name: n, Version: s.h.AbsentVersion(t, n)})
		wantErr(t, "Get of a pinned version of a missing secret", err, secretstore.ErrNotFound)
		if st, ok := s.store.(secretstore.Stater); ok {
			_, err := st.Stat(t.Context(), secretstore.Ref{Name: n})
			wantErr(t, "Stat of a missing secret", err, secretstore.ErrNotFound)
		}
	})

	t.Run("latest version", func(t *testing.T) {
		n := name("latest")
		versions, values := s.seedVersions(t, n, 3)
		s.mustGet(t, secretstore.Ref{Name: n}, values[2], versions[2])
	})

	if s.versioned() {
		t.Run("pinned versions", s.pinnedVersions)
	} else {
		t.Run("no versions kept", func(t *testing.T) {
			n := name("unversioned")
			_, values := s.seedVersions(t, n, 2)
			s.mustGet(t, secretstore.Ref{Name: n}, values[1], "")
			_, err := s.store.Get(t.Context(), secretstore.Ref{Name: n, Version: s.h.AbsentVersion(t, n)})
			wantErr(t, "Get of a pinned version", err, secretstore.ErrNotFound, values...)
		})
	}

	t.Run("unknown version", func(t *testing.T) {
		n := name("unknown")
		_, values := s.seedVersions(t, n, 1)
		ref := secretstore.Ref{Name: n, Version: s.h.AbsentVersion(t, n)}
		_, err := s.store.Get(t.Context(), ref)
		wantErr(t, "Get of an unknown version", err, secretstore.ErrNotFound, values...)
		if st, ok := s.store.(secretstore.Stater); ok {
			_, err := st.Stat(t.Context(), ref)
			wantErr(t, "Stat of an unknown version", err, secretstore.ErrNotFound, values...)
		}
	})

	t.Run("values round trip", func(t *testing.T) {
		for _, tc := range []struct{ label, value string }{
			{"ascii", "p@ssw0rd!#$%^&*()"},
			{"unicode", "mot de passe: déjà vu, 密码, 🔑"},
			{"multi-line", "-----BEGIN KEY-----\nAAAA\nBBBB\n-----END KEY-----\n"},
			{"surrounding spaces", "  padded\t "},
			{"quotes and backslashes", `"'\` + "`" + `\n`},
			{"4 KiB", strings.Repeat("0123456789abcdef", 256)},
		} {
			t.Run(tc.label, func(t *testing.T) {
				n := name("roundtrip")
				v := s.h.Seed(t, n, tc.value)
				s.mustGet(t, secretstore.Ref{Name: n}, tc.value, v)
			})
		}
	})

	t.Run("parse ref", s.parseRef)

	if st, ok := s.store.(secretstore.Stater); ok {
		t.Run("stat matches get", func(t *testing.T) {
			n := name("stat")
			versions, _ := s.seedVersions(t, n, 2)
			refs := []secretstore.Ref{{Name: n}}
			for _, v := range versions {
				refs = append(refs, secretstore.Ref{Name: n, Version: v})
			}
			for _, ref := range refs {
				t.Run(ref.String(), func(t *testing.T) {
					sec, err := s.store.Get(t.Context(), ref)
					if err != nil {
						t.Fatalf("Get(%v): %v", ref, err)
					}
					m, err := st.Stat(t.Context(), ref)
					if err != nil {
						t.Fatalf("Stat(%v): %v", ref, err)
					}
					if !sameMeta(m, sec.Meta) {
						t.Errorf("Stat(%v) = %+v, Get's meta = %+v", ref, m, sec.Meta)
					}
				})
			}
		})
	}

	t.Run("concurrent gets", func(t *testing.T) {
		n := name("concurrent")
		versions, values := s.seedVersions(t, n, 2)
		var wg sync.WaitGroup
		for i := range 50 {
			ref, want := secretstore.Ref{Name: n}, values[1]
			if i%2 == 1 && s.versioned() {
				ref, want = secretstore.Ref{Name: n, Version: versions[0]}, values[0]
			}
			wg.Go(func() {
				sec, err := s.store.Get(t.Context(), ref)
				switch {
				case err != nil:
					t.Errorf("Get(%v): %v", ref, err)
				case sec.Value.Reveal() != want:
					t.Errorf("Get(%v) returned another version's value", ref)
				}
			})
		}
		wg.Wait()
	})

	t.Run("cancelled context", func(t *testing.T) {
		n := name("cancel")
		versions, values := s.seedVersions(t, n, 1)
		ctx, cancel := context.WithCancel(t.Context())
		cancel()
		check := func(op string, err error) {
			t.Helper()
			wantErr(t, op+" with a cancelled context", err, context.Canceled, values...)
		}
		_, err := s.store.Get(ctx, secretstore.Ref{Name: n})
		check("Get", err)
		_, err = s.store.Get(ctx, secretstore.Ref{Name: n, Version: versions[0]})
		check("Get pinned", err)
		if st, ok := s.store.(secretstore.Stater); ok {
			_, err := st.Stat(ctx, secretstore.Ref{Name: n})
			check("Stat", err)
		}
		if w, ok := s.store.(secretstore.Writer); ok {
			_, err := w.Put(ctx, n, secretstore.NewValue(value("cancelled")), note("put", n))
			check("Put", err)
		}
		if l, ok := s.store.(secretstore.Lister); ok {
			_, err := l.List(ctx, "", 10)
			check("List", err)
		}
		if d, ok := s.store.(secretstore.Deleter); ok {
			check("Delete", d.Delete(ctx, n, note("delete", n)))
		}
		// Nothing above may have taken effect.
		s.mustGet(t, secretstore.Ref{Name: n}, values[0], versions[0])
		s.wantAudited(t, note("put", n), 0)
		s.wantAudited(t, note("delete", n), 0)
	})

	t.Run("values never printed", func(t *testing.T) {
		n := name("redact")
		_, values := s.seedVersions(t, n, 1)
		sec, err := s.store.Get(t.Context(), secretstore.Ref{Name: n})
		if err != nil {
			t.Fatalf("Get: %v", err)
		}
		noLeak(t, "Secret", sec, values...)
		noLeak(t, "*Secret", &sec, values...)
		noLeak(t, "Value", sec.Value, values...)
		_, err = s.store.Get(t.Context(), secretstore.Ref{Name: n, Version: s.h.AbsentVersion(t, n)})
		wantErr(t, "Get of an unknown version", err, secretstore.ErrNotFound, values...)
	})
}

func (s suite) pinnedVersions(t *testing.T) {
	n := name("pinned")
	versions, values := s.seedVersions(t, n, 3)
	for i, v := range versions {
		t.Run("version "+v, func(t *testing.T) {
			s.mustGet(t, secretstore.Ref{Name: n, Version: v}, values[i], v)
		})
	}
}

func (s suite) parseRef(t *testing.T) {
	n := name("parse")
	versions, _ := s.seedVersions(t, n, 1)
	for _, want := range []secretstore.Ref{{Name: n}, {Name: n, Version: versions[0]}} {
		// A kind with its own way of writing a reference must read it back;
		// the others read back Ref.String().
		written := want.String()
		if d, ok := s.store.(secretstore.RefDisplayer); ok {
			written = d.DisplayRef(want)
		}
		t.Run("accepts "+written, func(t *testing.T) {
			got, err := s.store.ParseRef(written)
			if err != nil {
				t.Fatalf("ParseRef(%q): %v", written, err)
			}
			if got != want {
				t.Fatalf("ParseRef(%q) = %#v, want %#v", written, got, want)
			}
		})
	}
	for _, tc := range []struct{ label, ref string }{
		{"empty", ""},
		{"blank", "   "},
		{"NUL", "\x00"},
		{"newline", "bad\nref"},
		{"tab", "bad\tref"},
		{"lone slash", "/"},
	} {
		t.Run("rejects "+tc.label, func(t *testing.T) {
			_, err := s.store.ParseRef(tc.ref)
			if !isErr(err, secretstore.ErrInvalidRef) {
				t.Fatalf("ParseRef(%q): error = %v, want one matching ErrInvalidRef", tc.ref, err)
			}
		})
	}
}

func sameMeta(a, b secretstore.Meta) bool {
	return a.Version == b.Version && a.Enabled == b.Enabled &&
		a.ExpiresAt.Equal(b.ExpiresAt) && a.NotBefore.Equal(b.NotBefore) && a.UpdatedAt.Equal(b.UpdatedAt)
}
