package storetest

import (
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/credflow/credflow/internal/secretstore"
)

func (s suite) runWrite(t *testing.T) {
	w := s.store.(secretstore.Writer)

	t.Run("put then get", func(t *testing.T) {
		n, v := name("put"), value("put")
		m, err := w.Put(t.Context(), n, secretstore.NewValue(v), note("put", n))
		if err != nil {
			t.Fatalf("Put: %v", err)
		}
		if m.Version == "" || !m.Enabled {
			t.Fatalf("Put returned %+v, want a version and Enabled", m)
		}
		if !m.Created {
			t.Errorf("the first Put of %s says it did not create the secret", n)
		}
		sec := s.mustGet(t, secretstore.Ref{Name: n}, v, m.Version)
		s.mustGet(t, secretstore.Ref{Name: n, Version: m.Version}, v, m.Version)
		if !m.UpdatedAt.IsZero() && !m.UpdatedAt.Equal(sec.UpdatedAt) {
			t.Errorf("Put's UpdatedAt = %v, Get's = %v", m.UpdatedAt, sec.UpdatedAt)
		}
		s.wantAudited(t, note("put", n), 1)
		m2, err := w.Put(t.Context(), n, secretstore.NewValue(value("put2")), note("put", n))
		if err != nil {
			t.Fatalf("second Put: %v", err)
		}
		if m2.Created {
			t.Errorf("the second Put of %s says it created the secret", n)
		}
		s.wantAudited(t, note("put", n), 2)
	})

	t.Run("versions increase", func(t *testing.T) {
		n := name("versions")
		var versions, values []string
		for i := range 3 {
			v := value("v" + strconv.Itoa(i))
			m, err := w.Put(t.Context(), n, secretstore.NewValue(v), note("put", n))
			if err != nil {
				t.Fatalf("Put %d: %v", i, err)
			}
			versions, values = append(versions, m.Version), append(values, v)
		}
		seen := map[string]bool{}
		for _, v := range versions {
			if seen[v] {
				t.Fatalf("Put returned version %q twice: %q", v, versions)
			}
			seen[v] = true
		}
		// Versions need not be numbers; when they are, they must grow.
		if a, b, c, ok := numbers(versions); ok && !(a < b && b < c) {
			t.Fatalf("numeric versions %q do not increase", versions)
		}
		s.mustGet(t, secretstore.Ref{Name: n}, values[2], versions[2])
		for i, v := range versions {
			s.mustGet(t, secretstore.Ref{Name: n, Version: v}, values[i], v)
		}
	})

	t.Run("concurrent puts", func(t *testing.T) {
		n := name("concurrent-put")
		const writers = 8
		versions, values := make([]string, writers), make([]string, writers)
		var (
			wg      sync.WaitGroup
			created atomic.Int32
		)
		for i := range writers {
			values[i] = value("w" + strconv.Itoa(i))
			wg.Go(func() {
				m, err := w.Put(t.Context(), n, secretstore.NewValue(values[i]), note("put", n))
				if err != nil {
					t.Errorf("Put %d: %v", i, err)
					return
				}
				versions[i] = m.Version
				if m.Created {
					created.Add(1)
				}
			})
		}
		wg.Wait()
		if t.Failed() {
			return
		}
		if c := created.Load(); c != 1 {
			t.Errorf("%d of %d concurrent first Puts say they created the secret, want 1", c, writers)
		}
		seen := map[string]bool{}
		for i, v := range versions {
			if seen[v] {
				t.Fatalf("concurrent Puts returned version %q twice: %q", v, versions)
			}
			seen[v] = true
			s.mustGet(t, secretstore.Ref{Name: n, Version: v}, values[i], v)
		}
	})

	t.Run("invalid name", func(t *testing.T) {
		v := value("badname")
		for _, bad := range []string{"", "bad\nname", "bad\x00name"} {
			_, err := w.Put(t.Context(), bad, secretstore.NewValue(v), note("put", bad))
			wantErr(t, "Put with name "+strconv.Quote(bad), err, secretstore.ErrInvalidRef, v)
			s.wantAudited(t, note("put", bad), 0)
		}
	})
}

func numbers(vs []string) (a, b, c int, ok bool) {
	var n [3]int
	for i, v := range vs[:3] {
		x, err := strconv.Atoi(v)
		if err != nil {
			return 0, 0, 0, false
		}
		n[i] = x
	}
	return n[0], n[1], n[2], true
}

func (s suite) runList(t *testing.T) {
	l := s.store.(secretstore.Lister)

	t.Run("names and versions without values", func(t *testing.T) {
		prefix := name("list")
		// Seeded out of order; the listing must sort them.
		counts := map[string]int{prefix + "-c": 1, prefix + "-a": 3, prefix + "-b": 2}
		latest := map[string]string{}
		var values []string
		for n, c := range counts {
			versions, vs := s.seedVersions(t, n, c)
			latest[n] = versions[c-1]
			values = append(values, vs...)
		}

		// Page through the names after prefix, two at a time, until one
		// without the prefix shows that all of them were listed.
		var got []secretstore.Entry
		after, done := prefix, false
		for page := 0; !done; page++ {
			if page > 100 {
				t.Fatalf("List keeps returning pages")
			}
			entries, err := l.List(t.Context(), after, 2)
			if err != nil {
				t.Fatalf("List(%q, 2): %v", after, err)
			}
			if len(entries) > 2 {
				t.Fatalf("List(%q, 2) returned %d entries", after, len(entries))
			}
			noLeak(t, "List entries", entries, values...)
			for _, e := range entries {
				if e.Name <= after {
					t.Fatalf("List(%q, 2) returned %q, not after it or out of order", after, e.Name)
				}
				after = e.Name
				if !strings.HasPrefix(e.Name, prefix) {
					done = true
					break
				}
				got = append(got, e)
			}
			done = done || len(entries) < 2
		}

		want := []string{prefix + "-a", prefix + "-b", prefix + "-c"}
		if len(got) != len(want) {
			t.Fatalf("List shows %d of the %d seeded secrets: %+v", len(got), len(want), got)
		}
		for i, e := range got {
			if e.Name != want[i] {
				t.Errorf("entry %d is %q, want %q", i, e.Name, want[i])
			}
			if e.Version != latest[e.Name] {
				t.Errorf("%s: Version = %q, want the latest, %q", e.Name, e.Version, latest[e.Name])
			}
			// Versions 0 means the store does not count them.
			if e.Versions != 0 && e.Versions != counts[e.Name] {
				t.Errorf("%s: Versions = %d, want %d", e.Name, e.Versions, counts[e.Name])
			}
			if !e.CreatedAt.IsZero() && e.UpdatedAt.Before(e.CreatedAt) {
				t.Errorf("%s: UpdatedAt %v before CreatedAt %v", e.Name, e.UpdatedAt, e.CreatedAt)
			}
		}
	})

	t.Run("limit", func(t *testing.T) {
		prefix := name("limit")
		s.h.Seed(t, prefix+"-a", value("a"))
		s.h.Seed(t, prefix+"-b", value("b"))
		entries, err := l.List(t.Context(), prefix, 1)
		if err != nil {
			t.Fatalf("List: %v", err)
		}
		if len(entries) != 1 || entries[0].Name != prefix+"-a" {
			t.Fatalf("List(%q, 1) = %+v, want only %s-a", prefix, entries, prefix)
		}
	})
}

func (s suite) runDelete(t *testing.T) {
	d := s.store.(secretstore.Deleter)

	t.Run("delete then get", func(t *testing.T) {
		n := name("delete")
		versions, values := s.seedVersions(t, n, 2)
		if err := d.Delete(t.Context(), n, note("delete", n)); err != nil {
			t.Fatalf("Delete: %v", err)
		}
		_, err := s.store.Get(t.Context(), secretstore.Ref{Name: n})
		wantErr(t, "Get after Delete", err, secretstore.ErrNotFound, values...)
		for _, v := range versions {
			_, err := s.store.Get(t.Context(), secretstore.Ref{Name: n, Version: v})
			wantErr(t, "Get of version "+v+" after Delete", err, secretstore.ErrNotFound, values...)
		}
		if st, ok := s.store.(secretstore.Stater); ok {
			_, err := st.Stat(t.Context(), secretstore.Ref{Name: n})
			wantErr(t, "Stat after Delete", err, secretstore.ErrNotFound, values...)
		}
		if l, ok := s.store.(secretstore.Lister); ok {
			entries, err := l.List(t.Context(), n[:len(n)-1], 10)
			if err != nil {
				t.Fatalf("List: %v", err)
			}
			for _, e := range entries {
				if e.Name == n {
					t.Fatalf("List still shows %s after Delete", n)
				}
			}
		}
		s.wantAudited(t, note("delete", n), 1)
		wantErr(t, "second Delete", d.Delete(t.Context(), n, note("delete", n)), secretstore.ErrNotFound)
		s.wantAudited(t, note("delete", n), 1)
	})

	if w, ok := s.store.(secretstore.Writer); ok {
		t.Run("put after delete creates", func(t *testing.T) {
			n := name("recreate")
			s.seedVersions(t, n, 2)
			if err := d.Delete(t.Context(), n, note("delete", n)); err != nil {
				t.Fatalf("Delete: %v", err)
			}
			v := value("again")
			m, err := w.Put(t.Context(), n, secretstore.NewValue(v), note("put", n))
			if err != nil {
				t.Fatalf("Put after Delete: %v", err)
			}
			if !m.Created {
				t.Errorf("Put after Delete (version %s) says it did not create the secret", m.Version)
			}
			s.mustGet(t, secretstore.Ref{Name: n}, v, m.Version)
		})
	}

	t.Run("missing secret", func(t *testing.T) {
		n := name("delete-missing")
		wantErr(t, "Delete of a missing secret", d.Delete(t.Context(), n, note("delete", n)), secretstore.ErrNotFound)
		s.wantAudited(t, note("delete", n), 0)
	})

	t.Run("leaves other secrets", func(t *testing.T) {
		gone, kept := name("delete-gone"), name("delete-kept")
		s.h.Seed(t, gone, value("gone"))
		v := value("kept")
		version := s.h.Seed(t, kept, v)
		if err := d.Delete(t.Context(), gone, note("delete", gone)); err != nil {
			t.Fatalf("Delete: %v", err)
		}
		s.mustGet(t, secretstore.Ref{Name: kept}, v, version)
	})
}

func (s suite) runDisabled(t *testing.T) {
	n := name("disabled")
	versions, values := s.seedVersions(t, n, 2)
	s.h.(Disabler).Disable(t, n, versions[0])

	_, err := s.store.Get(t.Context(), secretstore.Ref{Name: n, Version: versions[0]})
	wantErr(t, "Get of a disabled version", err, secretstore.ErrDisabled, values...)
	s.mustGet(t, secretstore.Ref{Name: n, Version: versions[1]}, values[1], versions[1])
	if st, ok := s.store.(secretstore.Stater); ok {
		// A store may describe a disabled version or refuse to.
		m, err := st.Stat(t.Context(), secretstore.Ref{Name: n, Version: versions[0]})
		switch {
		case err != nil:
			wantErr(t, "Stat of a disabled version", err, secretstore.ErrDisabled, values...)
		case m.Enabled:
			t.Errorf("Stat of a disabled version: Enabled = true")
		}
	}
}

func (s suite) runDenied(t *testing.T) {
	n := name("denied")
	versions, values := s.seedVersions(t, n, 1)
	s.h.(Denier).Deny(t, n)

	_, err := s.store.Get(t.Context(), secretstore.Ref{Name: n})
	wantErr(t, "Get of a denied secret", err, secretstore.ErrForbidden, values...)
	_, err = s.store.Get(t.Context(), secretstore.Ref{Name: n, Version: versions[0]})
	wantErr(t, "Get of a denied secret's version", err, secretstore.ErrForbidden, values...)
	if st, ok := s.store.(secretstore.Stater); ok {
		_, err := st.Stat(t.Context(), secretstore.Ref{Name: n})
		wantErr(t, "Stat of a denied secret", err, secretstore.ErrForbidden, values...)
	}
}

func (s suite) runSealed(t *testing.T) {
	n := name("sealed")
	versions, values := s.seedVersions(t, n, 1)
	sealed := s.h.(Sealer).SealedStore(t)

	if !secretstore.IsSealed(sealed) {
		t.Errorf("the sealed store does not report Sealed")
	}
	for _, ref := range []secretstore.Ref{{Name: n}, {Name: n, Version: versions[0]}} {
		sec, err := sealed.Get(t.Context(), ref)
		wantErr(t, "Get("+ref.String()+") while sealed", err, secretstore.ErrSealed, values...)
		if !sec.Value.IsZero() {
			t.Errorf("Get(%v) while sealed returned a value", ref)
		}
	}
	if w, ok := sealed.(secretstore.Writer); ok {
		_, err := w.Put(t.Context(), n, secretstore.NewValue(value("sealed")), note("put", n))
		wantErr(t, "Put while sealed", err, secretstore.ErrSealed, values...)
	}
	// The unsealed store still reads the secret, unchanged.
	s.mustGet(t, secretstore.Ref{Name: n}, values[0], versions[0])
}
