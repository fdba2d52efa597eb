package builtin

import (
	"bytes"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

// LoadOrCreateKey reads the master key from path: one line holding the
// KeySize-byte key in standard base64 (with padding), then a newline.
//
// When the file does not exist and create is true, it makes a new random key
// and writes it with mode 0600, atomically: the key goes to a temporary file
// in the same directory, is synced, and is then hard-linked into place, which
// fails rather than replace a file another process created meanwhile (that
// file is then loaded instead). An existing file is never overwritten.
// created reports whether this call wrote the file.
//
// When the file does not exist and create is false, the error matches
// fs.ErrNotExist. Errors never contain the file's content.
func LoadOrCreateKey(path string, create bool) (key []byte, created bool, err error) {
	key, err = readKey(path)
	if err == nil || !create || !errors.Is(err, fs.ErrNotExist) {
		return key, false, err
	}
	key = make([]byte, KeySize)
	rand.Read(key)
	err = writeKeyOnce(path, key)
	if errors.Is(err, fs.ErrExist) {
		clear(key)
		key, err = readKey(path)
		return key, false, err
	}
	if err != nil {
		clear(key)
		return nil, false, err
	}
	return key, true, nil
}

func readKey(path string) ([]byte, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read master key: %w", err)
	}
	defer clear(b)
	text := bytes.TrimSpace(b)
	key := make([]byte, base64.StdEncoding.DecodedLen(len(text)))
	n, err := base64.StdEncoding.Decode(key, text)
	if err != nil {
		clear(key)
		// The decoder's error quotes an offset, never content; it is still
		// left out, since the whole file is secret.
		return nil, fmt.Errorf("read master key %s: not a base64-encoded key", path)
	}
	if n != KeySize {
		clear(key)
		return nil, fmt.Errorf("read master key %s: holds %d bytes, want %d", path, n, KeySize)
	}
	return key[:n], nil
}

func writeKeyOnce(path string, key []byte) error {
	dir := filepath.Dir(path)
	tmp, err := os.CreateTemp(dir, ".credflow-master-key-*") // mode 0600
	if err != nil {
		return fmt.Errorf("create master key: %w", err)
	}
	defer os.Remove(tmp.Name())
	text := make([]byte, base64.StdEncoding.EncodedLen(len(key))+1)
	defer clear(text)
	base64.StdEncoding.Encode(text, key)
	text[len(text)-1] = '\n'
	if err := tmp.Chmod(0o600); err != nil {
		tmp.Close()
		return fmt.Errorf("create master key: %w", err)
	}
	if _, err := tmp.Write(text); err != nil {
		tmp.Close()
		return fmt.Errorf("create master key: %w", err)
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return fmt.Errorf("create master key: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("create master key: %w", err)
	}
	if err := os.Link(tmp.Name(), path); err != nil {
		return fmt.Errorf("create master key: %w", err)
	}
	// Make the new name durable too; not every platform can sync a
	// directory, and the key is already written, so a failure is ignored.
	if d, err := os.Open(dir); err == nil {
		_ = d.Sync()
		d.Close()
	}
	return nil
}
