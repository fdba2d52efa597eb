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
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/credflow/credflow/internal/audit"
	"github.com/credflow/credflow/internal/validation"
)

// TokenRecord is an API token as stored: its hash, never its value.
type TokenRecord struct {
	ID         string
	UserID     string
	User       string // the user's name, filled by the repository
	Name       string
	Hash       []byte
	ExpiresAt  time.Time // zero: never
	RevokedAt  time.Time // zero: not revoked
	LastUsedAt time.Time // zero: never used
	CreatedAt  time.Time
}

// Prefix is the start of the token's value that is safe to show: it names
// the token without revealing its secret part.
func (t TokenRecord) Prefix() string { return tokenPrefix + t.ID[:8] }

// tokenPrefix starts every credflow API token, so that secret scanners and
// people can tell one apart.
const tokenPrefix = "cft_"

// touchEvery bounds how often a token's last-used time is written.
const touchEvery = time.Minute

// Bootstrap creates the first admin user and an API token for it when the
// database has no user yet. It returns the token's value (shown once) and
// true, or "" and false when users already exist.
func (s *Service) Bootstrap(ctx context.Context) (string, bool, error) {
	now := s.now().UTC()
	u := User{ID: newID(), Name: "admin", DisplayName: "Administrator", Role: RoleAdmin, Source: SourceLocal, CreatedAt: now}
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
	var rawID [16]byte
	if _, err := rand.Read(secret[:]); err != nil {
		return "", TokenRecord{}, fmt.Errorf("generate token: %w", err)
	}
	if _, err := rand.Read(rawID[:]); err != nil {
		return "", TokenRecord{}, fmt.Errorf("generate token: %w", err)
	}
	// A random id (not a time-ordered one) makes its first characters, shown
	// as the token's prefix, tell tokens apart.
	id := hex.EncodeToString(rawID[:])
	enc := base64.RawURLEncoding.EncodeToString(secret[:])
	sum := sha256.Sum256([]byte(enc))
	rec := TokenRecord{ID: id, UserID: userID, Name: name, Hash: sum[:], CreatedAt: now}
	return tokenPrefix + id + "_" + enc, rec, nil
}

// dummyHash is compared against when a token's id is unknown, so that an
// unknown id costs the same work as a wrong secret.
var dummyHash = sha256.Sum256([]byte("credflow-unknown-token"))

// Authenticate returns the principal a bearer token (an API token or, when
// OIDC is configured, a JWT from the issuer) belongs to, or an error wrapping
// ErrUnauthenticated whatever the cause.
func (s *Service) Authenticate(ctx context.Context, bearer string) (Principal, error) {
	if s.oidc != nil && LooksLikeJWT(bearer) {
		return s.authenticateOIDC(ctx, bearer)
	}
	id, secret, ok := parseToken(bearer)
	if !ok {
		return Principal{}, ErrUnauthenticated
	}
	sum := sha256.Sum256([]byte(secret))
	t, err := s.token(ctx, id)
	if errors.Is(err, ErrNotFound) {
		subtle.ConstantTimeCompare(sum[:], dummyHash[:])
		return Principal{}, ErrUnauthenticated
	}
	if err != nil {
		return Principal{}, fmt.Errorf("authenticate: %w", err)
	}
	if subtle.ConstantTimeCompare(sum[:], t.rec.Hash) != 1 {
		return Principal{}, ErrUnauthenticated
	}
	now := s.now()
	if !t.rec.RevokedAt.IsZero() || (!t.rec.ExpiresAt.IsZero() && !now.Before(t.rec.ExpiresAt)) {
		return Principal{}, ErrUnauthenticated
	}
	if now.Sub(t.rec.LastUsedAt) >= touchEvery {
		if err := s.repo.TouchToken(ctx, t.rec.ID, now.UTC()); err != nil {
			return Principal{}, fmt.Errorf("authenticate: %w", err)
		}
		s.tokensMu.Lock()
		if c, ok := s.tokens[id]; ok {
			c.rec.LastUsedAt = now.UTC()
			s.tokens[id] = c
		}
		s.tokensMu.Unlock()
	}
	return t.principal, nil
}

// token returns a token with its principal, from the cache while the
// repository's generation says nothing changed since it was read.
func (s *Service) token(ctx context.Context, id string) (cachedToken, error) {
	gen, cacheable := s.repo.Generation()
	if cacheable {
		s.tokensMu.Lock()
		c, ok := s.tokens[id]
		s.tokensMu.Unlock()
		if ok && c.gen == gen {
			return c, nil
		}
	}
	rec, u, err := s.repo.Token(ctx, id)
	if err != nil {
		return cachedToken{}, err
	}
	groups, err := s.repo.GroupIDsOf(ctx, u.ID)
	if err != nil {
		return cachedToken{}, err
	}
	c := cachedToken{gen: gen, rec: rec,
		principal: Principal{ID: u.ID, Name: u.Name, Role: u.Role, Groups: groups, RunnerGroupID: u.RunnerGroupID}}
	if cacheable {
		s.tokensMu.Lock()
		if len(s.tokens) >= maxCachedTokens {
			clear(s.tokens)
		}
		s.tokens[id] = c
		s.tokensMu.Unlock()
	}
	return c, nil
}

// authenticateOIDC maps a verified JWT to a credflow user, creating it as a
// maker when allowed. The token's groups add the credflow groups of the
// same names to the user's own memberships, for this request only.
func (s *Service) authenticateOIDC(ctx context.Context, raw string) (Principal, error) {
	id, err := s.oidc.Verify(ctx, raw)
	if err != nil {
		return Principal{}, err
	}
	return s.oidcPrincipal(ctx, id)
}

// ErrNoOIDC: the server trusts no OpenID Connect issuer.
var ErrNoOIDC = errors.New("no OpenID Connect issuer is configured")

// OIDCFlow returns the configured issuer's authorization code flow, for a
// browser's sign-in; ErrNoOIDC when there is none.
func (s *Service) OIDCFlow(ctx context.Context) (OIDCFlow, error) {
	if s.oidc == nil {
		return OIDCFlow{}, ErrNoOIDC
	}
	return s.oidc.Flow(ctx)
}

// OIDCEnabled reports whether an OpenID Connect issuer is configured.
func (s *Service) OIDCEnabled() bool { return s.oidc != nil }

// SignInOIDC is Authenticate for the ID token a browser's sign-in got from
// the token endpoint: it must also carry the nonce the sign-in sent.
func (s *Service) SignInOIDC(ctx context.Context, rawIDToken, nonce string) (Principal, error) {
	if s.oidc == nil {
		return Principal{}, ErrNoOIDC
	}
	id, err := s.oidc.Verify(ctx, rawIDToken)
	if err != nil {
		return Principal{}, err
	}
	if nonce == "" || subtle.ConstantTimeCompare([]byte(id.Nonce), []byte(nonce)) != 1 {
		return Principal{}, fmt.Errorf("oidc sign-in: the ID token's nonce is not the one sent: %w", ErrUnauthenticated)
	}
	return s.oidcPrincipal(ctx, id)
}

// oidcPrincipal maps a verified identity to its user.
func (s *Service) oidcPrincipal(ctx context.Context, id Identity) (Principal, error) {
	if msg := principalNameProblem(id.Name); msg != "" {
		return Principal{}, fmt.Errorf("oidc user name %q %s: %w", id.Name, msg, ErrUnauthenticated)
	}
	// By name only: a token must never reach a user through its id.
	u, err := s.repo.UserByName(ctx, id.Name)
	if errors.Is(err, ErrNotFound) {
		if !s.autoCreate {
			return Principal{}, fmt.Errorf("oidc user %q is not known to credflow and auto-create is off: %w", id.Name, ErrUnauthenticated)
		}
		u = User{ID: newID(), Name: id.Name, Role: RoleMaker, Source: SourceOIDC, CreatedAt: s.now().UTC()}
		err = s.repo.CreateUser(ctx, u, audit.Entry{Actor: u.Name, Action: "user.create", Resource: "user:" + u.Name,
			Outcome: audit.Success, Reason: "first OIDC sign-in"})
		if errors.Is(err, ErrNameTaken) { // a concurrent first sign-in won
			u, err = s.repo.UserByName(ctx, id.Name)
		}
	}
	if err != nil {
		return Principal{}, fmt.Errorf("authenticate oidc user: %w", err)
	}
	if err := s.syncOIDCGroups(ctx, u, id.Groups); err != nil {
		return Principal{}, fmt.Errorf("authenticate: %w", err)
	}
	groups, err := s.repo.GroupIDsOf(ctx, u.ID)
	if err != nil {
		return Principal{}, fmt.Errorf("authenticate: %w", err)
	}
	return Principal{ID: u.ID, Name: u.Name, Role: u.Role, Groups: groups, RunnerGroupID: u.RunnerGroupID}, nil
}

// syncOIDCGroups makes the credflow groups named in the user's token (names
// no credflow group has are ignored) the user's provider-asserted
// memberships, so that they count where the user is not the caller too:
// for a connection's owner at resolve time. They are written only when
// they change, with an audit record.
func (s *Service) syncOIDCGroups(ctx context.Context, u User, names []string) error {
	var want []string
	var wantNames []string
	if len(names) > 0 {
		mapped, err := s.repo.GroupsByName(ctx, names)
		if err != nil {
			return err
		}
		for _, g := range mapped {
			if !slices.Contains(want, g.ID) {
				want = append(want, g.ID)
				wantNames = append(wantNames, g.Name)
			}
		}
	}
	have, err := s.repo.OIDCGroupIDsOf(ctx, u.ID)
	if err != nil {
		return err
	}
	slices.Sort(want)
	slices.Sort(have)
	if slices.Equal(want, have) {
		return nil
	}
	slices.Sort(wantNames)
	reason := "the identity provider names no credflow group"
	if len(wantNames) > 0 {
		reason = "groups named by the identity provider: " + strings.Join(wantNames, ", ")
	}
	return s.repo.SetOIDCGroups(ctx, u.ID, want, audit.Entry{Actor: u.Name, Action: "group.member.oidc-sync",
		Resource: "user:" + u.Name, Outcome: audit.Success, Reason: reason})
}

func containsString(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
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

// CreateTokenInput describes a new API token.
type CreateTokenInput struct {
	Name      string
	User      string    // id or name; "" means the caller. Only admins may name another user.
	ExpiresAt time.Time // zero: never
}

// CreateToken makes an API token and returns its value (shown once) with the
// stored record.
func (s *Service) CreateToken(ctx context.Context, p Principal, in CreateTokenInput) (string, TokenRecord, error) {
	var ve validation.Error
	if strings.TrimSpace(in.Name) == "" {
		ve.Add("name", "is required")
	} else if utf8.RuneCountInString(in.Name) > 100 {
		ve.Add("name", "must be at most 100 characters")
	} else if validation.HasControl(in.Name) {
		ve.Add("name", validation.ControlRule)
	}
	now := s.now().UTC()
	if !in.ExpiresAt.IsZero() && !in.ExpiresAt.After(now) {
		ve.Add("expiresAt", "must be in the future")
	}
	if err := ve.Err(); err != nil {
		return "", TokenRecord{}, err
	}
	owner := User{ID: p.ID, Name: p.Name}
	if in.User != "" && in.User != p.ID && !strings.EqualFold(in.User, p.Name) {
		if !p.IsAdmin() {
			s.deny(ctx, p, "token.create", "user:"+in.User, "only admins create tokens for other users")
			return "", TokenRecord{}, fmt.Errorf("%w: only admins create tokens for other users", ErrForbidden)
		}
		u, err := s.repo.User(ctx, in.User)
		if err != nil {
			return "", TokenRecord{}, err
		}
		owner = u
	}
	value, rec, err := newToken(owner.ID, in.Name, now)
	if err != nil {
		return "", TokenRecord{}, err
	}
	rec.ExpiresAt = in.ExpiresAt.UTC()
	rec.User = owner.Name
	if err := s.repo.CreateToken(ctx, rec, audit.Entry{Actor: p.Name, Action: "token.create",
		Resource: "token:" + rec.Prefix() + " user:" + owner.Name, Outcome: audit.Success}); err != nil {
		return "", TokenRecord{}, fmt.Errorf("create token: %w", err)
	}
	return value, rec, nil
}

// ListTokens lists the caller's tokens; an admin may name another user or
// "" with all=true for every token.
func (s *Service) ListTokens(ctx context.Context, p Principal, user string, all bool) ([]TokenRecord, error) {
	switch {
	case all || (user != "" && user != p.ID && !strings.EqualFold(user, p.Name)):
		if !p.IsAdmin() {
			return nil, fmt.Errorf("%w: only admins list other users' tokens", ErrForbidden)
		}
		if all {
			return s.repo.Tokens(ctx, "")
		}
		u, err := s.repo.User(ctx, user)
		if err != nil {
			return nil, err
		}
		return s.repo.Tokens(ctx, u.ID)
	default:
		return s.repo.Tokens(ctx, p.ID)
	}
}

// RevokeToken revokes a token of the caller's (any token, for an admin).
// Another user's token is not found, so its id cannot be probed.
func (s *Service) RevokeToken(ctx context.Context, p Principal, id string) error {
	rec, _, err := s.repo.Token(ctx, id)
	if err == nil && rec.UserID != p.ID && !p.IsAdmin() {
		s.deny(ctx, p, "token.revoke", "token:"+id, "not the caller's token")
		err = fmt.Errorf("token %s: %w", id, ErrNotFound)
	}
	if err != nil {
		return err
	}
	return s.repo.RevokeToken(ctx, rec.ID, s.now().UTC(), audit.Entry{Actor: p.Name, Action: "token.revoke",
		Resource: "token:" + rec.Prefix(), Outcome: audit.Success})
}
