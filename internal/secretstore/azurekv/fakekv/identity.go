package fakekv

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
)

// IdentityAPIVersion is the App Service managed-identity protocol version
// the token endpoint speaks.
const IdentityAPIVersion = "2019-08-01"

// IdentityHandler serves an App Service–style managed-identity token
// endpoint: GET ?resource=...&api-version=2019-08-01[&client_id=...] with
// the X-IDENTITY-HEADER header, answering {access_token, expires_on,
// resource, token_type, client_id}. Point IDENTITY_ENDPOINT at it and set
// IDENTITY_HEADER to IdentityHeader(). The tokens are unsigned JWTs whose
// claims name the vault's tenant and the identity; a client_id yields a
// user-assigned identity of that client id.
func (s *Server) IdentityHandler() http.Handler {
	return http.HandlerFunc(s.serveIdentity)
}

func (s *Server) serveIdentity(w http.ResponseWriter, r *http.Request) {
	s.count(RouteToken)
	s.mu.Lock()
	down := s.identityDown
	s.mu.Unlock()
	if down {
		// A dead endpoint: the connection closes without an answer.
		if conn, _, err := http.NewResponseController(w).Hijack(); err == nil {
			_ = conn.Close()
			return
		}
		panic(http.ErrAbortHandler)
	}
	q := r.URL.Query()
	req := IdentityRequest{Resource: q.Get("resource"), ClientID: q.Get("client_id")}
	defer func() {
		s.mu.Lock()
		s.identityReqs = append(s.identityReqs, req)
		s.mu.Unlock()
	}()
	switch {
	case r.Method != http.MethodGet:
		identityError(w, http.StatusMethodNotAllowed, "only GET is supported")
		return
	case r.Header.Get("X-IDENTITY-HEADER") != s.opts.IdentityHeader:
		identityError(w, http.StatusUnauthorized, "the X-IDENTITY-HEADER header is missing or wrong")
		return
	case q.Get("api-version") != IdentityAPIVersion:
		identityError(w, http.StatusBadRequest, "api-version must be "+IdentityAPIVersion)
		return
	case req.Resource == "":
		identityError(w, http.StatusBadRequest, "the resource parameter is required")
		return
	}
	id := s.opts.Identity
	if req.ClientID != "" {
		id = Identity{ClientID: req.ClientID, ObjectID: derivedUUID(req.ClientID)}
	}
	exp := time.Now().Add(time.Hour)
	token := MintToken(Claims{TenantID: s.opts.TenantID, Audience: req.Resource, AppID: id.ClientID, ObjectID: id.ObjectID, Expires: exp})
	req.OK = true
	writeJSON(w, http.StatusOK, map[string]string{
		"access_token": token,
		"expires_on":   strconv.FormatInt(exp.Unix(), 10),
		"resource":     req.Resource,
		"token_type":   "Bearer",
		"client_id":    id.ClientID,
	})
}

func identityError(w http.ResponseWriter, status int, msg string) {
	writeJSON(w, status, map[string]any{"statusCode": status, "message": msg})
}

// derivedUUID gives a stable object id to a client id.
func derivedUUID(seed string) string {
	sum := sha256.Sum256([]byte("fakekv:" + seed))
	b := sum[:16]
	b[6] = b[6]&0x0f | 0x50
	b[8] = b[8]&0x3f | 0x80
	h := hex.EncodeToString(b)
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
}

// Claims are the claims of a token MintToken makes.
type Claims struct {
	TenantID string
	Audience string // e.g. https://vault.azure.net
	AppID    string
	ObjectID string
	Expires  time.Time
}

// MintToken returns an unsigned JWT (alg "none") carrying c, in the shape
// of an Entra ID access token for an application. Nothing may trust it:
// the emulator reads its claims only.
func MintToken(c Claims) string {
	now := time.Now()
	header, _ := json.Marshal(map[string]string{"alg": "none", "typ": "JWT"})
	payload, _ := json.Marshal(map[string]any{
		"aud":   c.Audience,
		"iss":   "https://sts.windows.net/" + c.TenantID + "/",
		"iat":   now.Unix(),
		"nbf":   now.Unix(),
		"exp":   c.Expires.Unix(),
		"appid": c.AppID,
		"oid":   c.ObjectID,
		"sub":   c.ObjectID,
		"tid":   c.TenantID,
		"idtyp": "app",
		"ver":   "1.0",
	})
	enc := base64.RawURLEncoding
	return enc.EncodeToString(header) + "." + enc.EncodeToString(payload) + "."
}

// Credential is an azcore.TokenCredential standing in for Entra ID: it
// hands out MintToken tokens for the tenant and scope asked, as an
// application with AppID and ObjectID, and records every request. Use it
// where a real credential would need Entra ID itself.
type Credential struct {
	AppID    string
	ObjectID string

	mu       sync.Mutex
	requests []policy.TokenRequestOptions
	err      error
	opaque   bool
}

var _ azcore.TokenCredential = (*Credential)(nil)

// NewCredential returns a credential for an application with generated ids.
func NewCredential() *Credential {
	return &Credential{AppID: newUUID(), ObjectID: newUUID()}
}

// GetToken implements azcore.TokenCredential.
func (c *Credential) GetToken(ctx context.Context, opts policy.TokenRequestOptions) (azcore.AccessToken, error) {
	c.mu.Lock()
	c.requests = append(c.requests, opts)
	err, opaque := c.err, c.opaque
	c.mu.Unlock()
	if err := ctx.Err(); err != nil {
		return azcore.AccessToken{}, err
	}
	if err != nil {
		return azcore.AccessToken{}, err
	}
	if len(opts.Scopes) == 0 {
		return azcore.AccessToken{}, errors.New("fakekv credential: no scope requested")
	}
	exp := time.Now().Add(time.Hour)
	if opaque {
		return azcore.AccessToken{Token: "opaque-" + randomHex(16), ExpiresOn: exp}, nil
	}
	tok := MintToken(Claims{TenantID: opts.TenantID, Audience: strings.TrimSuffix(opts.Scopes[0], "/.default"),
		AppID: c.AppID, ObjectID: c.ObjectID, Expires: exp})
	return azcore.AccessToken{Token: tok, ExpiresOn: exp}, nil
}

// Fail makes every later GetToken fail with err (nil: succeed again).
func (c *Credential) Fail(err error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.err = err
}

// SetOpaque makes the credential hand out tokens that are not JWTs, whose
// claims nobody can read.
func (c *Credential) SetOpaque(on bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.opaque = on
}

// Requests lists the token requests received, oldest first.
func (c *Credential) Requests() []policy.TokenRequestOptions {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]policy.TokenRequestOptions(nil), c.requests...)
}
