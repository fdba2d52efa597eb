package azurekv

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/runtime"

	"github.com/credflow/credflow/internal/secretstore"
)

// Key Vault's inner error codes, which tell its 403s apart.
const (
	CodeForbiddenByRbac       = "ForbiddenByRbac"
	CodeAccessDenied          = "AccessDenied"
	CodeSecretDisabled        = "SecretDisabled"
	CodeForbiddenByFirewall   = "ForbiddenByFirewall"
	CodeForbiddenByConnection = "ForbiddenByConnection"
	CodeSecretNotFound        = "SecretNotFound"
)

// SecretsUserRole is the built-in role that lets an identity read secret
// values.
const SecretsUserRole = "Key Vault Secrets User"

// ErrAuthentication: credflow could not get a token for the vault. Errors
// matching it also match secretstore.ErrUnavailable.
var ErrAuthentication = errors.New("cannot authenticate to the vault")

// Principal is the identity credflow used, read from the claims of its
// access token (never verified, never logged) or from Key Vault's refusal.
type Principal struct {
	AppID    string `json:"appId,omitempty"`
	ObjectID string `json:"objectId,omitempty"`
	TenantID string `json:"tenantId,omitempty"`
	// Name is the user principal name, for a user's token.
	Name string `json:"name,omitempty"`
}

// IsZero reports whether nothing is known of the principal.
func (p Principal) IsZero() bool { return p == Principal{} }

// String names the principal for people, e.g. "application 1b2c... (object id 9f8e...)".
func (p Principal) String() string {
	var parts []string
	switch {
	case p.Name != "":
		parts = append(parts, "user "+p.Name)
	case p.AppID != "":
		parts = append(parts, "application (client) id "+p.AppID)
	}
	if p.ObjectID != "" {
		parts = append(parts, "object id "+p.ObjectID)
	}
	if len(parts) == 0 {
		return "credflow's identity"
	}
	return strings.Join(parts, ", ")
}

// Error is Key Vault's refusal of one read, reduced to its status and
// codes: it never carries the response body. It matches the secretstore
// sentinel it maps to with errors.Is (ErrForbidden, ErrDisabled,
// ErrNetworkDenied, ErrNotFound, ErrUnavailable), and a 429 also gives a
// *secretstore.ThrottledError with errors.As.
type Error struct {
	Op        string // "get" or "stat"
	Secret    string // name[/version]
	Vault     string
	Status    int
	Code      string // Key Vault's error.code
	InnerCode string // Key Vault's error.innererror.code
	// Principal is the identity credflow used, when known.
	Principal Principal
	kind      error
}

func (e *Error) Error() string {
	codes := e.Code
	if e.InnerCode != "" {
		codes += "/" + e.InnerCode
	}
	msg := fmt.Sprintf("azurekv: %s %s in vault %s: %v (HTTP %d %s)", e.Op, e.Secret, e.Vault, e.kind, e.Status, codes)
	if !e.Principal.IsZero() && (errors.Is(e.kind, secretstore.ErrForbidden) || errors.Is(e.kind, secretstore.ErrNetworkDenied)) {
		msg += "; credflow used " + e.Principal.String()
	}
	return msg
}

// Unwrap returns the sentinel (or *secretstore.ThrottledError).
func (e *Error) Unwrap() error { return e.kind }

// Hint says how to fix the refusal, for people.
func (e *Error) Hint() string {
	who := e.Principal.String()
	switch {
	case e.InnerCode == CodeAccessDenied:
		return fmt.Sprintf("Vault %s uses access policies: add one for %s with the secret permission Get (Access policies > Create), or switch the vault to Azure role-based access control and grant %q.", e.Vault, who, SecretsUserRole)
	case e.Status == http.StatusUnauthorized:
		return "Key Vault rejected credflow's token: check that tenantId is the vault's tenant and that the identity belongs to it."
	case errors.Is(e.kind, secretstore.ErrForbidden):
		return fmt.Sprintf("Grant the role %q to %s on vault %s (Access control (IAM) > Add role assignment), or on the secret itself; role assignments can take a few minutes to apply.", SecretsUserRole, who, e.Vault)
	case errors.Is(e.kind, secretstore.ErrDisabled):
		return "The secret (or this version of it) is disabled in the vault: enable it, or reference an enabled version."
	case errors.Is(e.kind, secretstore.ErrNetworkDenied):
		return fmt.Sprintf("Vault %s's firewall refused credflow's network: under Networking, allow credflow's public IP address or virtual network, or reach the vault through a private endpoint whose private DNS zone (privatelink.vaultcore.azure.net) credflow's network resolves.", e.Vault)
	case errors.Is(e.kind, secretstore.ErrNotFound):
		return "Check the secret's name and version; a deleted secret must be recovered before it can be read."
	case errors.Is(e.kind, secretstore.ErrThrottled):
		return "Key Vault is throttling this vault (about 4000 reads per 10 seconds): lower the store's readBudget or raise the cache TTL."
	}
	return "Key Vault could not serve the request; try again later, and check Azure's service health for Key Vault."
}

// AuthError says credflow could not get a token for the vault. It matches
// ErrAuthentication and secretstore.ErrUnavailable, and whatever the cause
// matches (such as context.DeadlineExceeded).
type AuthError struct {
	Auth   string // the auth kind
	Tenant string // the tenant the token was asked for
	Err    error
}

func (e *AuthError) Error() string {
	return fmt.Sprintf("azurekv: %v (auth %s, tenant %s): %s", ErrAuthentication, e.Auth, e.Tenant, summary(e.Err))
}

// Unwrap returns the sentinels and the cause.
func (e *AuthError) Unwrap() []error {
	return []error{ErrAuthentication, secretstore.ErrUnavailable, e.Err}
}

// Hint says how to fix the failure, for people.
func (e *AuthError) Hint() string {
	var te *TenantError
	if errors.As(e.Err, &te) {
		return te.Hint()
	}
	return authHint(e.Auth)
}

func authHint(kind string) string {
	switch kind {
	case AuthManagedIdentity:
		return "credflow must run on an Azure resource with a managed identity turned on (the identity endpoint, IDENTITY_ENDPOINT or the instance metadata service, must answer); for a user-assigned identity set auth.clientId to its client id. On a host with an HTTP proxy, exclude 169.254.169.254 and the identity endpoint with NO_PROXY."
	case AuthWorkloadIdentity:
		return "Workload identity needs AZURE_FEDERATED_TOKEN_FILE (and AZURE_CLIENT_ID unless auth.clientId is set) in credflow's environment, as the AKS workload identity webhook injects them, and a federated credential on the application or managed identity for credflow's service account."
	case AuthClientSecret:
		return "Check that the client secret file or environment variable is there and holds the current secret of the application (client secrets expire), and that auth.clientId is the application's client id in this tenant."
	case AuthClientCertificate:
		return "Check that the certificate file holds the certificate with its private key (PEM or PKCS#12, with certificatePasswordEnv set when it is encrypted), that it is uploaded to the application's Certificates & secrets, and that it has not expired."
	}
	return "The default credential chain found no usable identity: give credflow a managed identity or workload identity, or set AZURE_CLIENT_ID, AZURE_TENANT_ID and AZURE_CLIENT_SECRET; or pick an explicit auth kind."
}

// TenantError: the vault's challenge names a tenant other than the store's
// tenantId, the classic "wrong tenant". credflow asks for no token then.
type TenantError struct {
	Configured string // settings.tenantId
	Vault      string // the tenant in the vault's challenge
}

func (e *TenantError) Error() string {
	return fmt.Sprintf("wrong tenant: the vault belongs to tenant %s but the store is configured for tenant %s", e.Vault, e.Configured)
}

// Hint says how to fix it.
func (e *TenantError) Hint() string {
	return fmt.Sprintf("Set tenantId to %s (the vault's tenant, shown on the vault's Overview page as Directory ID), or check vaultName: it may name another organisation's vault. The identity credflow uses must belong to that tenant.", e.Vault)
}

// summary is the first line of an error's text, bounded: the Azure
// libraries' errors carry whole response bodies and troubleshooting text.
func summary(err error) string {
	if err == nil {
		return ""
	}
	s := err.Error()
	if i := strings.IndexAny(s, "\r\n"); i >= 0 {
		s = s[:i]
	}
	s = strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(s), ":"))
	if len(s) > 300 {
		s = s[:300] + "..."
	}
	return s
}

// mapError turns what the SDK returned into credflow's errors.
func (s *Store) mapError(ctx context.Context, op string, ref secretstore.Ref, err error) error {
	prefix := fmt.Sprintf("azurekv: %s %s", op, ref)
	var (
		respErr  *azcore.ResponseError
		authErr  *AuthError
		throttle *secretstore.ThrottledError
		chErr    *challengeError
	)
	switch {
	case errors.As(err, &authErr):
		return authErr
	case errors.As(err, &respErr):
		return s.responseError(op, ref, respErr)
	case errors.As(err, &throttle):
		return fmt.Errorf("%s: credflow's read budget for vault %s is spent: %w", prefix, s.settings.VaultName, throttle)
	case errors.As(err, &chErr):
		return fmt.Errorf("%s: %w: %v", prefix, secretstore.ErrUnavailable, chErr)
	case errors.Is(err, context.DeadlineExceeded):
		return fmt.Errorf("%s: %w: %w", prefix, secretstore.ErrTimeout, context.DeadlineExceeded)
	case errors.Is(err, context.Canceled) || ctx.Err() != nil:
		cause := ctx.Err()
		if cause == nil {
			cause = context.Canceled
		}
		if errors.Is(cause, context.DeadlineExceeded) {
			return fmt.Errorf("%s: %w: %w", prefix, secretstore.ErrTimeout, cause)
		}
		return fmt.Errorf("%s: %w", prefix, cause)
	}
	if ce := secretstore.Connect(hostPort(s.vaultURL), err); ce != nil {
		return fmt.Errorf("%s: %w", prefix, ce)
	}
	return fmt.Errorf("%s: %w: %s", prefix, secretstore.ErrUnavailable, summary(err))
}

// hostPort is the host[:port] of a URL, for messages.
func hostPort(raw string) string {
	if u, err := url.Parse(raw); err == nil && u.Host != "" {
		return u.Host
	}
	return raw
}

func (s *Store) responseError(op string, ref secretstore.Ref, re *azcore.ResponseError) *Error {
	e := &Error{Op: op, Secret: ref.String(), Vault: s.settings.VaultName, Status: re.StatusCode, Code: re.ErrorCode}
	var body struct {
		Error struct {
			Code       string `json:"code"`
			Message    string `json:"message"`
			InnerError *struct {
				Code string `json:"code"`
			} `json:"innererror"`
		} `json:"error"`
	}
	var message string
	if re.RawResponse != nil {
		if b, err := runtime.Payload(re.RawResponse); err == nil && json.Unmarshal(b, &body) == nil {
			if body.Error.Code != "" {
				e.Code = body.Error.Code
			}
			if body.Error.InnerError != nil {
				e.InnerCode = body.Error.InnerError.Code
			}
			message = body.Error.Message
		}
	}
	switch {
	case re.StatusCode == http.StatusForbidden && e.InnerCode == CodeSecretDisabled:
		e.kind = secretstore.ErrDisabled
	case re.StatusCode == http.StatusForbidden && (e.InnerCode == CodeForbiddenByFirewall || e.InnerCode == CodeForbiddenByConnection):
		e.kind = secretstore.ErrNetworkDenied
	case re.StatusCode == http.StatusForbidden, re.StatusCode == http.StatusUnauthorized:
		e.kind = secretstore.ErrForbidden
	case re.StatusCode == http.StatusNotFound:
		e.kind = secretstore.ErrNotFound
	case re.StatusCode == http.StatusTooManyRequests:
		e.kind = &secretstore.ThrottledError{RetryAfter: retryAfter(re.RawResponse, time.Second)}
	default:
		e.kind = secretstore.ErrUnavailable
	}
	if errors.Is(e.kind, secretstore.ErrForbidden) || errors.Is(e.kind, secretstore.ErrNetworkDenied) {
		e.Principal = s.cred.principal()
		if e.Principal.IsZero() {
			e.Principal = callerFromMessage(message)
		}
	}
	return e
}

// callerRule finds "appid=...;oid=..." in Key Vault's 403 messages.
var callerRule = regexp.MustCompile(`appid=([0-9a-fA-F-]{36});oid=([0-9a-fA-F-]{36})`)

func callerFromMessage(msg string) Principal {
	m := callerRule.FindStringSubmatch(msg)
	if m == nil {
		return Principal{}
	}
	return Principal{AppID: m[1], ObjectID: m[2]}
}

// retryAfter reads how long the server asked to wait: retry-after-ms,
// x-ms-retry-after-ms, then Retry-After (seconds or an HTTP date). def
// when there is none.
func retryAfter(resp *http.Response, def time.Duration) time.Duration {
	if resp == nil {
		return def
	}
	for _, h := range []string{"Retry-After-Ms", "X-Ms-Retry-After-Ms"} {
		if ms, err := strconv.ParseInt(resp.Header.Get(h), 10, 64); err == nil && ms > 0 {
			return time.Duration(ms) * time.Millisecond
		}
	}
	v := strings.TrimSpace(resp.Header.Get("Retry-After"))
	if secs, err := strconv.ParseInt(v, 10, 64); err == nil && secs >= 0 {
		return time.Duration(secs) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil {
		if d := time.Until(t); d > 0 {
			return d
		}
		return 0
	}
	return def
}
