package audit

import (
	"crypto/hkdf"
	"crypto/sha256"
	"fmt"
	"log/slog"
)

// HKDF labels of the keys derived from the master key. Each use has its own
// label, so that no key serves two purposes and the master key itself is
// never used for the audit trail.
const (
	chainKeyLabel      = "credflow audit chain link v1"
	checkpointKeyLabel = "credflow audit checkpoint v1"
)

// Key holds the keys that seal the audit chain's links and its checkpoints.
// It redacts itself when printed or logged.
type Key struct {
	chain      []byte
	checkpoint []byte
}

// DeriveKey derives the audit keys from the built-in store's master key
// with HKDF-SHA-256. The caller may clear master afterwards. A database
// keeps the key it derived first wrapped under its master key, so that a
// rotated master key still opens the same audit key.
func DeriveKey(master []byte) (*Key, error) {
	if len(master) < 32 {
		return nil, fmt.Errorf("audit: derive key: the master key is %d bytes, want at least 32", len(master))
	}
	chain, err := hkdf.Key(sha256.New, master, nil, chainKeyLabel, 32)
	if err != nil {
		return nil, fmt.Errorf("audit: derive chain key: %w", err)
	}
	cp, err := hkdf.Key(sha256.New, master, nil, checkpointKeyLabel, 32)
	if err != nil {
		return nil, fmt.Errorf("audit: derive checkpoint key: %w", err)
	}
	return &Key{chain: chain, checkpoint: cp}, nil
}

func (*Key) String() string               { return "[redacted]" }
func (*Key) GoString() string             { return "[redacted]" }
func (*Key) LogValue() slog.Value         { return slog.StringValue("[redacted]") }
func (*Key) MarshalJSON() ([]byte, error) { return []byte(`"[redacted]"`), nil }

// Format prints [redacted] whatever the verb.
func (*Key) Format(f fmt.State, _ rune) { _, _ = f.Write([]byte("[redacted]")) }

// keyBytes is the length of Bytes' result.
const keyBytes = 64

// Bytes returns the key's material, for keeping it wrapped under the
// master key (so that it outlives a rotation of the master key). The caller
// should clear it.
func (k *Key) Bytes() []byte {
	return append(append(make([]byte, 0, keyBytes), k.chain...), k.checkpoint...)
}

// KeyFromBytes is the inverse of Bytes.
func KeyFromBytes(b []byte) (*Key, error) {
	if len(b) != keyBytes {
		return nil, fmt.Errorf("audit: key material is %d bytes, want %d", len(b), keyBytes)
	}
	return &Key{chain: append([]byte(nil), b[:32]...), checkpoint: append([]byte(nil), b[32:]...)}, nil
}
