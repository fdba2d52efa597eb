// Package access decides who is calling and what they may do: principals
// (users and groups) and their instance roles, API tokens (stored only as
// hashes) and OIDC bearer tokens, the roles a principal holds on a shared
// object, and the store grants that limit which secrets a maker may
// reference. It knows no HTTP: the API hands it a bearer token or a question
// and gets a Principal, a role or an error.
package access

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/google/uuid"

	"github.com/credflow/credflow/internal/audit"
)

// Sentinel errors, matched with errors.Is.
var (
	// ErrUnauthenticated: no token, a malformed one, an unknown one, or an
	// expired or revoked one. Callers must not say which.
	ErrUnauthenticated = errors.New("unauthenticated")
	// ErrForbidden: the principal is known but may not do this.
	ErrForbidden = errors.New("forbidden")
	// ErrNotFound: no such user, group, token, share or grant (or one the
	// caller may not see).
	ErrNotFound = errors.New("not found")
	// ErrNameTaken: a user or group of that name exists.
	ErrNameTaken = errors.New("name already taken")
	// ErrLastOwner: the change would leave an object without an owner or
	// co-owner.
	ErrLastOwner = errors.New("the last owner or co-owner cannot be removed")
	// ErrStoreNotGranted: the caller may not reference that secret.
	ErrStoreNotGranted = errors.New("store not granted")
	// ErrInUse: the user still owns objects.
	ErrInUse = errors.New("in use")
)

// Role is an instance role.
type Role string

// The instance roles.
const (
	RoleAdmin  Role = "admin"
	RoleMaker  Role = "maker"
	RoleRunner Role = "runner"
)

// Valid reports whether r is an instance role.
func (r Role) Valid() bool { return r == RoleAdmin || r == RoleMaker || r == RoleRunner }

// Principal is an authenticated caller.
type Principal struct {
	ID     string
	Name   string
	Role   Role
	Groups []string // ids of the groups the caller is in, for this request
	// RunnerGroupID is the runner group of a runner ("" for others).
	RunnerGroupID string
}

// IsAdmin reports whether p holds the admin instance role.
func (p Principal) IsAdmin() bool { return p.Role == RoleAdmin }

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
	PermConnectionRead  Permission = "connection:read"
	PermSolutionRead    Permission = "solution:read"
	PermSolutionWrite   Permission = "solution:write" // create, change, import
	PermConnectionWrite Permission = "connection:write"
	PermResolve         Permission = "connection:resolve"
	PermTokenSelf       Permission = "token:self" // manage one's own API tokens
	PermAdmin           Permission = "admin"      // users, groups, grants, audit
)

// permissionText says what each permission allows, for refusals.
var permissionText = map[Permission]string{
	PermVariableRead:    "read environment variables",
	PermVariableWrite:   "change environment variables",
	PermCredentialRead:  "read credentials",
	PermCredentialWrite: "change credentials",
	PermStoreRead:       "read secret stores",
	PermSecretWrite:     "write secrets",
	PermConnectionRead:  "read connections",
	PermSolutionRead:    "read solutions",
	PermSolutionWrite:   "change or import solutions",
	PermConnectionWrite: "change connections",
	PermResolve:         "resolve connections",
	PermTokenSelf:       "manage API tokens",
	PermAdmin:           "do this: it needs the admin role",
}

// Text says what the permission allows, in words; "" for an unknown one.
func (p Permission) Text() string { return permissionText[p] }

// rolePermissions is the instance-role policy. Admins may do everything.
var rolePermissions = map[Role][]Permission{
	// Makers hold PermResolve so that a resolve by anyone but a runner of the
	// connection's group is answered 404 by the connection itself, exactly
	// like a missing connection, rather than 403 here.
	RoleMaker: {PermVariableRead, PermVariableWrite, PermCredentialRead, PermCredentialWrite,
		PermStoreRead, PermSecretWrite, PermConnectionRead, PermConnectionWrite, PermResolve, PermTokenSelf,
		PermSolutionRead, PermSolutionWrite},
	RoleRunner: {PermResolve, PermTokenSelf},
}

// Service authenticates callers and answers authorization questions.
type Service struct {
	repo Repository
	oidc *OIDC
	// autoCreate makes a verified OIDC user unknown to credflow a maker.
	autoCreate bool
	now        func() time.Time

	// tokens caches API tokens by id, each valid while the repository's
	// generation is the one it was read at. Bounded: see maxCachedTokens.
	tokensMu sync.Mutex
	tokens   map[string]cachedToken
}

// cachedToken is a token and the principal it stands for.
type cachedToken struct {
	gen       uint64
	rec       TokenRecord
	principal Principal
}

// maxCachedTokens bounds the token cache; past it the cache starts over.
const maxCachedTokens = 10000

// Options configures a Service.
type Options struct {
	// OIDC, when set, makes the service accept JWTs from its issuer.
	OIDC *OIDC
	// OIDCAutoCreate creates unknown OIDC users as makers.
	OIDCAutoCreate bool
}

// NewService returns a Service over repo.
func NewService(repo Repository, opts Options) *Service {
	return &Service{repo: repo, oidc: opts.OIDC, autoCreate: opts.OIDCAutoCreate, now: time.Now, tokens: map[string]cachedToken{}}
}

// Authorize reports whether p holds perm, as an error wrapping ErrForbidden
// when not; a denial is audited.
func (s *Service) Authorize(ctx context.Context, p Principal, perm Permission) error {
	if p.IsAdmin() || slices.Contains(rolePermissions[p.Role], perm) {
		return nil
	}
	s.deny(ctx, p, string(perm), "", fmt.Sprintf("the %s role does not include %s", p.Role, perm))
	return fmt.Errorf("%w: the %s role may not %s", ErrForbidden, p.Role, perm.Text())
}

// deny records a denied action; a failure to record is not the caller's
// problem (the request is refused either way), so it is dropped.
func (s *Service) deny(ctx context.Context, p Principal, action, resource, reason string) {
	_ = s.repo.Record(ctx, audit.Entry{Actor: actorName(p), Action: action, Resource: resource, Outcome: audit.Denied, Reason: reason})
}

// Deny records that p was refused action on resource, for the domain
// services' object-level checks.
func (s *Service) Deny(ctx context.Context, p Principal, action, resource, reason string) {
	s.deny(ctx, p, action, resource, reason)
}

func actorName(p Principal) string {
	if p.Name == "" {
		return "anonymous"
	}
	return p.Name
}

func newID() string { return uuid.Must(uuid.NewV7()).String() }

// PrincipalOf returns the principal a user acts as, with their groups, for
// checks made on their behalf (a connection's owner at resolve time).
func (s *Service) PrincipalOf(ctx context.Context, userID string) (Principal, error) {
	u, err := s.repo.User(ctx, userID)
	if err != nil {
		return Principal{}, err
	}
	groups, err := s.repo.GroupIDsOf(ctx, u.ID)
	if err != nil {
		return Principal{}, err
	}
	return Principal{ID: u.ID, Name: u.Name, Role: u.Role, Groups: groups, RunnerGroupID: u.RunnerGroupID}, nil
}
