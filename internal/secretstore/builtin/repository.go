package builtin

import (
	"context"
	"errors"
	"time"

	"github.com/credflow/credflow/internal/audit"
)

// ErrVersionTaken is returned by Repository.Insert when the secret already
// has a row with that version; Put then retries with the next version.
// Checked with errors.Is.
var ErrVersionTaken = errors.New("builtin: secret version already exists")

// Record is one stored version of a secret: only ciphertexts, never a value.
type Record struct {
	Name       string
	Version    int
	KeyID      string // which master key wrapped WrappedKey
	WrappedKey []byte // nonce || AES-GCM(master key, data key)
	Ciphertext []byte // nonce || AES-GCM(data key, value)
	CreatedAt  time.Time
}

// Summary describes a stored secret in a listing.
type Summary struct {
	Name      string
	Latest    int // highest version
	Versions  int // number of versions kept
	CreatedAt time.Time
	UpdatedAt time.Time // when the latest version was written
}

// Repository keeps the records. metadb implements it.
type Repository interface {
	// Insert adds a record and the audit entry e in one transaction, and
	// reports whether the secret had no other version (the insert created
	// it); or it returns an error matching ErrVersionTaken when (Name,
	// Version) already exists.
	Insert(ctx context.Context, r Record, e audit.Entry) (created bool, err error)
	// Get returns one version of a secret, the highest when version is 0, or
	// an error matching secretstore.ErrNotFound.
	Get(ctx context.Context, name string, version int) (Record, error)
	// List summarises the secrets whose names sort after after (byte order),
	// ordered by name, at most limit of them.
	List(ctx context.Context, after string, limit int) ([]Summary, error)
	// Delete removes every version of a secret and adds the audit entry e in
	// one transaction, or returns an error matching secretstore.ErrNotFound
	// when there was none. The repository remembers the deleted secret's
	// last version for NextVersion.
	Delete(ctx context.Context, name string, e audit.Entry) error
	// NextVersion returns the version the next write of a secret gets: one
	// more than the highest it has or had, so that versions are never reused
	// after a delete.
	NextVersion(ctx context.Context, name string) (int, error)
	// BindKey records keyID as the master key's ID unless one is recorded
	// already, and returns the recorded one.
	BindKey(ctx context.Context, keyID string) (bound string, err error)
}
