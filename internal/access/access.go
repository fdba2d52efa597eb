// Package access decides who is calling and what they may do: principals and
// their instance roles, API tokens (stored only as hashes), and the
// permission check every API route goes through. It knows no HTTP: the API
// hands it a bearer token and a permission and gets a Principal or an error.
package access

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/google/uuid"
)

// Sentinel errors, matched with errors.Is.
var (
	// ErrUnauthenticated: no token, a malformed one, an unknown one, or an
	// expired or revoked one. Callers must not say which.
	ErrUnauthenticated = errors.New("access: unauthenticated")
	// ErrForbidden: the principal is known but lacks the permission.
	ErrForbidden = errors.New("access: forbidden")
	// ErrNotFound: no such user or token.
	ErrNotFound = errors.New("access: not found")
)

// Role is an instance role.
type Role string

// The instance roles.
const (
	RoleAdmin  Role = "admin"
	RoleMaker  Role = "maker"
	RoleRunner Role = "runner"
)

// Principal is an authenticated caller.
type Principal struct {
	ID   string
	Name string
	Role Role
}

// User is a person or machine known to credflow.
type User struct {
	ID          string
	Name        string
	DisplayName string
	Role        Role
	CreatedAt   time.Time
}

// TokenRecord is an API token as stored: its hash, never its value.
type TokenRecord struct {
	ID        string
	UserID    string
	Name      string
	Hash      []byte
	ExpiresAt time.Time // zero: never
	RevokedAt time.Time // zero: not revoked
	CreatedAt time.Time
}

// Repository is the storage access needs.
type Repository interface {
	// Bootstrap creates u and t in one transaction if no user exists yet and
	// reports whether it did.
	Bootstrap(ctx context.Context, u User, t TokenRecord) (bool, error)
	// Token returns a token and its user, or an error wrapping ErrNotFound.
	Token(ctx context.Context, id string) (TokenRecord, User, error)
}

// Permission names what a route does.
type Permission string

// The permissions routes declare.
const (
	PermVariableRead    Permission = "variable:read"
	PermVariableWrite   Permission = "variable:write"
	PermCredentialRead  Permission = "credential:read"
	PermCredentialWrite Permission = "credential:write"
	PermStoreRead       Permission = "store:read"
	PermSecretWrite     Permission = "store:secret-write"
)

// rolePermissions is the instance-role policy. Admins may do everything.
var rolePermissions = map[Role]map[Permission]bool{
	RoleMaker: {
		PermVariableRead: true, PermVariableWrite: true,
		PermCredentialRead: true, PermCredentialWrite: true,
		PermStoreRead: true, PermSecretWrite: true,
	},
	RoleRunner: {},
}

// Service authenticates callers and checks permissions.
type Service struct {
	repo Repository
	now  func() time.Time
}

// NewService returns a Service over repo.
func NewService(repo Repository) *Service {
	return &Service{repo: repo, now: time.Now}
}

// tokenPrefix starts every credflow API token, so that secret scanners and
// people can tell one apart.
const tokenPrefix = "cft_"

// Bootstrap creates the first admin user and an API token for it when the
// database has no user yet. It returns the token's value (shown once) and
// true, or "" and false when users already exist.
func (s *Service) Bootstrap(ctx context.Context) (string, bool, error) {
	now := s.now().UTC()
	u := User{ID: newID(), Name: "admin", DisplayName: "Administrator", Role: RoleAdmin, CreatedAt: now}
	value, rec, err := newToken(u.ID, "initial-admin", now)
	if err != nil {
		return "", false, err
	}
	created, err := s.repo.Bootstrap(ctx, u, rec)
	if err != nil {
		return "", false, fmt.Errorf("bootstrap admin: %w", err)
	}
	if !created {
		return "", false, nil
	}
	return value, true, nil
}

// newToken makes a token value and the record that stores its hash. The
// value is cft_<id>_<secret>: the id finds the row, and the secret's hash is
// compared in constant time.
func newToken(userID, name string, now time.Time) (string, TokenRecord, error) {
	var secret [32]byte
	if _, err := rand.Read(secret[:]); err != nil {
		return "", TokenRecord{}, fmt.Errorf("generate token: %w", err)
	}
	id := strings.ReplaceAll(newID(), "-", "")
	enc := base64.RawURLEncoding.EncodeToString(secret[:])
	sum := sha256.Sum256([]byte(enc))
	rec := TokenRecord{ID: id, UserID: userID, Name: name, Hash: sum[:], CreatedAt: now}
	return tokenPrefix + id + "_" + enc, rec, nil
}

// dummyHash is compared against when a token's id is unknown, so that an
// unknown id costs the same work as a wrong secret.
var dummyHash = sha256.Sum256([]byte("credflow-unknown-token"))

// Authenticate returns the principal a bearer token belongs to, or an error
// wrapping ErrUnauthenticated whatever the cause.
func (s *Service) Authenticate(ctx context.Context, bearer string) (Principal, error) {
	id, secret, ok := parseToken(bearer)
	if !ok {
		return Principal{}, ErrUnauthenticated
	}
	sum := sha256.Sum256([]byte(secret))
	rec, u, err := s.repo.Token(ctx, id)
	if errors.Is(err, ErrNotFound) {
		subtle.ConstantTimeCompare(sum[:], dummyHash[:])
		return Principal{}, ErrUnauthenticated
	}
	if err != nil {
		return Principal{}, fmt.Errorf("authenticate: %w", err)
	}
	if subtle.ConstantTimeCompare(sum[:], rec.Hash) != 1 {
		return Principal{}, ErrUnauthenticated
	}
	now := s.now()
	if !rec.RevokedAt.IsZero() || (!rec.ExpiresAt.IsZero() && !now.Before(rec.ExpiresAt)) {
		return Principal{}, ErrUnauthenticated
	}
	return Principal{ID: u.ID, Name: u.Name, Role: u.Role}, nil
}

func parseToken(v string) (id, secret string, ok bool) {
	rest, ok := strings.CutPrefix(v, tokenPrefix)
	if !ok {
		return "", "", false
	}
	id, secret, ok = strings.Cut(rest, "_")
	if !ok || len(id) != 32 || len(secret) != 43 {
		return "", "", false
	}
	if _, err := hex.DecodeString(id); err != nil {
		return "", "", false
	}
	return id, secret, true
}

// Authorize reports whether p holds perm, as an error wrapping ErrForbidden
// when not.
func (s *Service) Authorize(p Principal, perm Permission) error {
	if p.Role == RoleAdmin || rolePermissions[p.Role][perm] {
		return nil
	}
	return fmt.Errorf("%s may not %s: %w", p.Role, perm, ErrForbidden)
}

func newID() string { return uuid.Must(uuid.NewV7()).String() }
