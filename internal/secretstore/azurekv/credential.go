package azurekv

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strings"
	"sync/atomic"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/cloud"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"
)

// newCredential builds the azidentity credential the auth settings
// describe. What it cannot build (a missing secret file, an unset
// variable, a certificate that does not parse) becomes a credential that
// fails every token request with that reason: the store can still be
// registered, and its check shows the failing step.
func newCredential(s Settings, opts Options) azcore.TokenCredential {
	cred, err := buildCredential(s, opts)
	if err != nil {
		return failing{err}
	}
	return cred
}

func buildCredential(s Settings, opts Options) (azcore.TokenCredential, error) {
	// Without Options.Retry the credentials keep azidentity's own retry
	// defaults (the instance metadata service has its own).
	co := azcore.ClientOptions{Cloud: cloudConfig(s.cloud())}
	if opts.Retry != nil {
		co.Retry = *opts.Retry
	}
	a := s.Auth
	switch a.Kind {
	case AuthDefault:
		return azidentity.NewDefaultAzureCredential(&azidentity.DefaultAzureCredentialOptions{ClientOptions: co, TenantID: s.TenantID})
	case AuthManagedIdentity:
		o := &azidentity.ManagedIdentityCredentialOptions{ClientOptions: co}
		if a.ClientID != "" {
			o.ID = azidentity.ClientID(a.ClientID)
		}
		return azidentity.NewManagedIdentityCredential(o)
	case AuthWorkloadIdentity:
		return azidentity.NewWorkloadIdentityCredential(&azidentity.WorkloadIdentityCredentialOptions{ClientOptions: co,
			ClientID: a.ClientID, TenantID: s.TenantID})
	case AuthClientSecret:
		secret, err := readSecret("client secret", a.ClientSecretFile, a.ClientSecretEnv, opts.lookupEnv)
		if err != nil {
			return nil, err
		}
		return azidentity.NewClientSecretCredential(s.TenantID, a.ClientID, secret,
			&azidentity.ClientSecretCredentialOptions{ClientOptions: co})
	case AuthClientCertificate:
		data, err := os.ReadFile(a.CertificateFile)
		if err != nil {
			return nil, fmt.Errorf("read the certificate file: %w", pathError(err))
		}
		var password []byte
		if a.CertificatePasswordEnv != "" {
			p, ok := opts.lookupEnv(a.CertificatePasswordEnv)
			if !ok {
				return nil, fmt.Errorf("the environment variable %s (certificatePasswordEnv) is not set", a.CertificatePasswordEnv)
			}
			password = []byte(p)
		}
		certs, key, err := azidentity.ParseCertificates(data, password)
		if err != nil {
			return nil, errors.New("the certificate file holds no certificate with its private key, or its password is wrong")
		}
		return azidentity.NewClientCertificateCredential(s.TenantID, a.ClientID, certs, key,
			&azidentity.ClientCertificateCredentialOptions{ClientOptions: co})
	}
	return nil, fmt.Errorf("unknown auth kind %q", a.Kind)
}

// readSecret reads a secret from a file (trailing newlines dropped, as
// files written by editors and `echo` have them) or an environment
// variable. Errors never show the secret.
func readSecret(what, file, env string, lookup func(string) (string, bool)) (string, error) {
	if file != "" {
		b, err := os.ReadFile(file)
		if err != nil {
			return "", fmt.Errorf("read the %s file: %w", what, pathError(err))
		}
		s := strings.TrimRight(string(b), "\r\n")
		if s == "" {
			return "", fmt.Errorf("the %s file %s is empty", what, file)
		}
		return s, nil
	}
	s, ok := lookup(env)
	if !ok || s == "" {
		return "", fmt.Errorf("the environment variable %s holding the %s is not set", env, what)
	}
	return s, nil
}

// pathError keeps an *os.PathError's operation, path and reason.
func pathError(err error) error {
	var pe *os.PathError
	if errors.As(err, &pe) {
		return fmt.Errorf("%s: %w", pe.Path, pe.Err)
	}
	return err
}

func cloudConfig(name string) cloud.Configuration {
	switch name {
	case CloudChina:
		return cloud.AzureChina
	case CloudUSGov:
		return cloud.AzureGovernment
	}
	return cloud.AzurePublic
}

// failing is a credential that could not be built.
type failing struct{ err error }

func (f failing) GetToken(context.Context, policy.TokenRequestOptions) (azcore.AccessToken, error) {
	return azcore.AccessToken{}, f.err
}

// identity wraps the credential the store authenticates with. It refuses
// to ask for a token in a tenant other than the configured one (the vault's
// challenge decides the tenant, so a vault of another tenant shows up
// here), turns failures into *AuthError, and remembers who the last token
// was for, from its claims, to name the identity in refusals. It never
// keeps or logs a token.
type identity struct {
	inner  azcore.TokenCredential
	kind   string
	tenant string
	last   atomic.Pointer[Principal]
}

func (c *identity) GetToken(ctx context.Context, opts policy.TokenRequestOptions) (azcore.AccessToken, error) {
	tenant := opts.TenantID
	if tenant == "" {
		tenant = c.tenant
	}
	if !strings.EqualFold(tenant, c.tenant) {
		return azcore.AccessToken{}, &AuthError{Auth: c.kind, Tenant: tenant, Err: &TenantError{Configured: c.tenant, Vault: tenant}}
	}
	opts.TenantID = c.tenant
	tok, err := c.inner.GetToken(ctx, opts)
	if err != nil {
		return azcore.AccessToken{}, &AuthError{Auth: c.kind, Tenant: c.tenant, Err: err}
	}
	if p, ok := claims(tok.Token); ok {
		c.last.Store(&p)
	}
	return tok, nil
}

// principal is who the last token was for, or zero.
func (c *identity) principal() Principal {
	if p := c.last.Load(); p != nil {
		return *p
	}
	return Principal{}
}

// claims reads the identity claims of a JWT access token without verifying
// it: credflow only names the identity in messages with them.
func claims(token string) (Principal, bool) {
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		return Principal{}, false
	}
	payload, err := base64.RawURLEncoding.DecodeString(strings.TrimRight(parts[1], "="))
	if err != nil {
		return Principal{}, false
	}
	var c struct {
		AppID string `json:"appid"`
		AZP   string `json:"azp"`
		OID   string `json:"oid"`
		TID   string `json:"tid"`
		UPN   string `json:"upn"`
	}
	if err := json.Unmarshal(payload, &c); err != nil {
		return Principal{}, false
	}
	p := Principal{AppID: c.AppID, ObjectID: c.OID, TenantID: c.TID, Name: c.UPN}
	if p.AppID == "" {
		p.AppID = c.AZP
	}
	return p, !p.IsZero()
}
