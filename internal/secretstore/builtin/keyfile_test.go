package builtin_test

import (
	"bytes"
	"encoding/base64"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/credflow/credflow/internal/secretstore/builtin"
)

func TestLoadOrCreateKey(t *testing.T) {
	t.Run("created 0600 then reused", func(t *testing.T) {
		dir := t.TempDir()
		path := filepath.Join(dir, "master.key")
		key, created, err := builtin.LoadOrCreateKey(path, true)
		if err != nil || !created || len(key) != builtin.KeySize {
			t.Fatalf("create: %d-byte key, created = %v, %v", len(key), created, err)
		}
		fi, err := os.Stat(path)
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode().Perm() != 0o600 {
			t.Errorf("mode = %v, want 0600", fi.Mode().Perm())
		}
		text, _ := os.ReadFile(path)
		if want := base64.StdEncoding.EncodeToString(key) + "\n"; string(text) != want {
			t.Errorf("file is not the key in base64 with a newline")
		}
		for _, create := range []bool{true, false} {
			again, created, err := builtin.LoadOrCreateKey(path, create)
			if err != nil || created || !bytes.Equal(again, key) {
				t.Fatalf("load (create=%v): created = %v, same key = %v, %v", create, created, bytes.Equal(again, key), err)
			}
		}
		if entries, _ := os.ReadDir(dir); len(entries) != 1 {
			t.Errorf("directory holds %d files, want only the key", len(entries))
		}
	})

	t.Run("missing without create", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "master.key")
		if _, _, err := builtin.LoadOrCreateKey(path, false); !errors.Is(err, fs.ErrNotExist) {
			t.Fatalf("error = %v, want fs.ErrNotExist", err)
		}
		if _, err := os.Stat(path); !errors.Is(err, fs.ErrNotExist) {
			t.Fatalf("the file was created: %v", err)
		}
	})

	t.Run("bad files are rejected and kept", func(t *testing.T) {
		secretish := "c2VjcmV0LWxvb2tpbmctYnV0LXRvby1zaG9ydA=="
		for _, tc := range []struct{ label, content string }{
			{"16 bytes", base64.StdEncoding.EncodeToString(make([]byte, 16)) + "\n"},
			{"33 bytes", base64.StdEncoding.EncodeToString(make([]byte, 33)) + "\n"},
			{"empty", ""},
			{"not base64", "this is *not* base64!\n"},
			{"hex instead of base64", strings.Repeat("ab", 32) + "\n"},
			{"short, with content", secretish + "\n"},
		} {
			t.Run(tc.label, func(t *testing.T) {
				path := filepath.Join(t.TempDir(), "master.key")
				if err := os.WriteFile(path, []byte(tc.content), 0o600); err != nil {
					t.Fatal(err)
				}
				_, _, err := builtin.LoadOrCreateKey(path, true)
				if err == nil {
					t.Fatal("bad key file accepted")
				}
				if tc.content != "" && strings.Contains(err.Error(), strings.TrimSpace(tc.content)) {
					t.Fatalf("error shows the file's content: %v", err)
				}
				if got, _ := os.ReadFile(path); string(got) != tc.content {
					t.Fatal("bad key file was overwritten")
				}
			})
		}
	})

	t.Run("accepts surrounding whitespace", func(t *testing.T) {
		key := newKey()
		path := filepath.Join(t.TempDir(), "master.key")
		if err := os.WriteFile(path, []byte("  "+base64.StdEncoding.EncodeToString(key)+"\r\n\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		got, _, err := builtin.LoadOrCreateKey(path, false)
		if err != nil || !bytes.Equal(got, key) {
			t.Fatalf("load: %v", err)
		}
	})

	t.Run("missing directory", func(t *testing.T) {
		if _, _, err := builtin.LoadOrCreateKey(filepath.Join(t.TempDir(), "no", "master.key"), true); err == nil {
			t.Fatal("created a key in a missing directory")
		}
	})

	t.Run("concurrent creators agree", func(t *testing.T) {
		dir := t.TempDir()
		path := filepath.Join(dir, "master.key")
		const n = 8
		keys, created := make([][]byte, n), make([]bool, n)
		var wg sync.WaitGroup
		for i := range n {
			wg.Go(func() {
				var err error
				keys[i], created[i], err = builtin.LoadOrCreateKey(path, true)
				if err != nil {
					t.Errorf("creator %d: %v", i, err)
				}
			})
		}
		wg.Wait()
		creators := 0
		for i := range n {
			if created[i] {
				creators++
			}
			if !bytes.Equal(keys[i], keys[0]) {
				t.Errorf("creator %d got another key", i)
			}
		}
		if creators != 1 {
			t.Errorf("%d callers report creating the key, want 1", creators)
		}
		if entries, _ := os.ReadDir(dir); len(entries) != 1 {
			t.Errorf("directory holds %d files, want only the key", len(entries))
		}
	})
}
