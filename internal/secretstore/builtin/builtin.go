// Package builtin provides credflow's own encrypted secret store, kind
// "builtin", which the server registers by default under the name "local".
//
// Values are encrypted with envelope encryption: every version gets a fresh
// AES-256-GCM data key, and the data key is wrapped with a 32-byte master key
// that lives in a file (see LoadOrCreateKey), never in the database. Both
// ciphertexts are bound to the secret's name and version, so a ciphertext
// copied onto another row fails to decrypt with secretstore.ErrCorrupt.
// Without a master key the store is sealed: it lists and deletes secrets but
// refuses to read or write a value with secretstore.ErrSealed. It never
// falls back to plaintext.
//
// The package does not persist anything itself: it needs a Repository, which
// metadb implements. A Repository that is also a KeyRepository lets the
// store rotate its master key (Rotate) while it serves, and keep other
// values wrapped under it (Wrap, Unwrap).
package builtin

import (
	"context"
	"crypto/cipher"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"time"

	"github.com/credflow/credflow/internal/audit"
	"github.com/credflow/credflow/internal/secretstore"
)

// Kind is the store kind; DefaultName the name it is registered under.
const (
	Kind        = "builtin"
	DefaultName = "local"
)

// Errors checked with errors.Is.
var (
	// ErrEmptyValue: Put was given an empty value.
	ErrEmptyValue = errors.New("builtin: secret value is empty")
	// ErrWrongKey: Open was given another master key than the one the
	// database is bound to, for example a key file recreated after a loss.
	ErrWrongKey = errors.New("builtin: master key is not the one this database was written with")
)

// putAttempts bounds Put's retries when concurrent writers of the same secret
// take the version it chose; every round lets at least one writer through.
const putAttempts = 10

// Store is the built-in store. It is safe for concurrent use.
type Store struct {
	repo Repository
	// loaded is the master key the store was opened with (nil when
	// sealed), loadedID its ID.
	loaded   cipher.AEAD
	loadedID string

	mu sync.RWMutex
	// keys holds every master key the store can open rows with: the
	// loaded one and, during or after a rotation, the other; keyID is
	// the one new rows are written under.
	keys  map[string]cipher.AEAD
	keyID string
	// source reads the key file again (nil: never); see SetKeySource.
	source func() ([]byte, error)
}

var (
	_ secretstore.Store    = (*Store)(nil)
	_ secretstore.Stater   = (*Store)(nil)
	_ secretstore.Writer   = (*Store)(nil)
	_ secretstore.Lister   = (*Store)(nil)
	_ secretstore.Deleter  = (*Store)(nil)
	_ secretstore.Sealable = (*Store)(nil)
)

// New returns a store over repo. An empty key (nil) gives a sealed store;
// otherwise the key must be KeySize bytes. The store keeps no reference to
// key. New does not touch the database; see Open.
func New(repo Repository, key []byte) (*Store, error) {
	if repo == nil {
		return nil, errors.New("builtin: new store: no repository")
	}
	s := &Store{repo: repo}
	if len(key) == 0 {
		return s, nil
	}
	if len(key) != KeySize {
		return nil, fmt.Errorf("builtin: new store: master key is %d bytes, want %d", len(key), KeySize)
	}
	aead, err := newGCM(key)
	if err != nil {
		return nil, fmt.Errorf("builtin: new store: %w", err)
	}
	s.loaded, s.loadedID = aead, KeyID(key)
	s.keys, s.keyID = map[string]cipher.AEAD{s.loadedID: aead}, s.loadedID
	return s, nil
}

// Open is New, then binds the database to the master key on first use and
// refuses, with an error matching ErrWrongKey, a key other than the bound
// one. It thus stops a lost key file from being silently replaced by a new
// key, which would leave old secrets unreadable and mix keys in one table.
// A sealed store (no key) is not checked.
func Open(ctx context.Context, repo Repository, key []byte) (*Store, error) {
	s, err := New(repo, key)
	if err != nil || s.Sealed() {
		return s, err
	}
	bound, err := repo.BindKey(ctx, s.loadedID)
	if err != nil {
		return nil, fmt.Errorf("builtin: open store: %w", err)
	}
	if err := s.loadKeys(ctx); err != nil {
		return nil, fmt.Errorf("builtin: open store: %w", err)
	}
	// During a rotation either key opens the store: each is kept wrapped
	// under the other until it finishes.
	if keys, _ := s.keyring(); keys[bound] == nil {
		return nil, fmt.Errorf("builtin: open store: the master key has ID %s, the database is bound to %s: %w", s.loadedID, bound, ErrWrongKey)
	}
	return s, nil
}

// Sealed reports whether the store has no master key.
func (s *Store) Sealed() bool { return s.loaded == nil }

// KeyID identifies the master key new rows are written under; "" when
// sealed.
func (s *Store) KeyID() string {
	_, id := s.keyring()
	return id
}

// Get decrypts the pinned or latest version. A row that does not decrypt
// under its own name and version, or that was written under another master
// key than the loaded one, gives an error matching secretstore.ErrCorrupt.
func (s *Store) Get(ctx context.Context, ref secretstore.Ref) (secretstore.Secret, error) {
	rec, err := s.read(ctx, "get", ref)
	if err != nil {
		return secretstore.Secret{}, err
	}
	master, err := s.key(ctx, rec.KeyID)
	if errors.Is(err, ErrKeyUnknown) {
		return secretstore.Secret{}, fmt.Errorf("builtin: get secret %q version %d: written under master key %s, but the loaded key is %s: %w",
			ref.Name, rec.Version, rec.KeyID, s.KeyID(), secretstore.ErrCorrupt)
	}
	if err != nil {
		return secretstore.Secret{}, fmt.Errorf("builtin: get secret %q: %w", ref.Name, err)
	}
	plaintext, err := decrypt(master, ref.Name, rec.Version, rec.WrappedKey, rec.Ciphertext)
	if err != nil {
		// The cause (an authentication failure) says nothing more useful
		// and is left out on purpose.
		return secretstore.Secret{}, fmt.Errorf("builtin: get secret %q version %d: stored ciphertext does not decrypt for this name and version: %w",
			ref.Name, rec.Version, secretstore.ErrCorrupt)
	}
	v := secretstore.NewValue(string(plaintext))
	clear(plaintext)
	return secretstore.Secret{Value: v, Meta: meta(rec)}, nil
}

// Stat returns a version's metadata without decrypting it. It refuses, like
// Get, while the store is sealed.
func (s *Store) Stat(ctx context.Context, ref secretstore.Ref) (secretstore.Meta, error) {
	rec, err := s.read(ctx, "stat", ref)
	if err != nil {
		return secretstore.Meta{}, err
	}
	return meta(rec), nil
}

func (s *Store) read(ctx context.Context, op string, ref secretstore.Ref) (Record, error) {
	if err := ctx.Err(); err != nil {
		return Record{}, fmt.Errorf("builtin: %s secret %q: %w", op, ref.String(), err)
	}
	version, err := checkRef(ref)
	if err != nil {
		return Record{}, fmt.Errorf("builtin: %s secret: %w", op, err)
	}
	if s.Sealed() {
		return Record{}, fmt.Errorf("builtin: %s secret %q: %w", op, ref.String(), secretstore.ErrSealed)
	}
	rec, err := s.repo.Get(ctx, ref.Name, version)
	if err != nil {
		return Record{}, fmt.Errorf("builtin: %s secret %q: %w", op, ref.String(), err)
	}
	return rec, nil
}

func meta(r Record) secretstore.Meta {
	return secretstore.Meta{Version: strconv.Itoa(r.Version), Enabled: true, UpdatedAt: r.CreatedAt}
}

// Put stores v as the next version of name, with the audit entry e: 1 for
// a new secret, else one more than the highest version it has, or had
// before it was deleted.
func (s *Store) Put(ctx context.Context, name string, v secretstore.Value, e audit.Entry) (secretstore.Written, error) {
	if err := ctx.Err(); err != nil {
		return secretstore.Written{}, fmt.Errorf("builtin: put secret %q: %w", name, err)
	}
	if err := checkName(name); err != nil {
		return secretstore.Written{}, fmt.Errorf("builtin: put secret: %w", err)
	}
	if s.Sealed() {
		return secretstore.Written{}, fmt.Errorf("builtin: put secret %q: %w", name, secretstore.ErrSealed)
	}
	if v.IsZero() {
		return secretstore.Written{}, fmt.Errorf("builtin: put secret %q: %w", name, ErrEmptyValue)
	}
	plaintext := []byte(v.Reveal())
	defer clear(plaintext)
	for range putAttempts {
		next, err := s.repo.NextVersion(ctx, name)
		if err != nil {
			return secretstore.Written{}, fmt.Errorf("builtin: put secret %q: %w", name, err)
		}
		keys, keyID := s.keyring()
		rec := Record{
			Name:    name,
			Version: next,
			KeyID:   keyID,
			// Microseconds are what every engine keeps, so that the time
			// Put returns equals the one read back.
			CreatedAt: time.Now().UTC().Truncate(time.Microsecond),
		}
		rec.WrappedKey, rec.Ciphertext, err = encrypt(keys[keyID], name, rec.Version, plaintext)
		if err != nil {
			return secretstore.Written{}, fmt.Errorf("builtin: put secret %q: encrypt: %w", name, err)
		}
		created, err := s.repo.Insert(ctx, rec, e)
		if errors.Is(err, ErrVersionTaken) {
			continue
		}
		if errors.Is(err, ErrKeyChanged) {
			// A rotation began: write again under its key.
			if err := s.loadKeys(ctx); err != nil {
				return secretstore.Written{}, fmt.Errorf("builtin: put secret %q: %w", name, err)
			}
			continue
		}
		if err != nil {
			return secretstore.Written{}, fmt.Errorf("builtin: put secret %q: %w", name, err)
		}
		return secretstore.Written{Meta: meta(rec), Created: created}, nil
	}
	return secretstore.Written{}, fmt.Errorf("builtin: put secret %q: gave up after %d concurrent writers took the next version: %w", name, putAttempts, ErrVersionTaken)
}

// List lists secrets by name in byte order, without values. It works while
// sealed.
func (s *Store) List(ctx context.Context, after string, limit int) ([]secretstore.Entry, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("builtin: list secrets: %w", err)
	}
	if limit < 1 {
		return nil, fmt.Errorf("builtin: list secrets: limit is %d, want at least 1", limit)
	}
	sums, err := s.repo.List(ctx, after, limit)
	if err != nil {
		return nil, fmt.Errorf("builtin: list secrets: %w", err)
	}
	out := make([]secretstore.Entry, len(sums))
	for i, m := range sums {
		out[i] = secretstore.Entry{
			Name:      m.Name,
			Version:   strconv.Itoa(m.Latest),
			Versions:  m.Versions,
			CreatedAt: m.CreatedAt,
			UpdatedAt: m.UpdatedAt,
		}
	}
	return out, nil
}

// Delete removes every version of name, with the audit entry e. It works
// while sealed.
func (s *Store) Delete(ctx context.Context, name string, e audit.Entry) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("builtin: delete secret %q: %w", name, err)
	}
	if err := checkName(name); err != nil {
		return fmt.Errorf("builtin: delete secret: %w", err)
	}
	if err := s.repo.Delete(ctx, name, e); err != nil {
		return fmt.Errorf("builtin: delete secret %q: %w", name, err)
	}
	return nil
}
