package client

import (
	"context"
	"net/http"
	"time"
)

// Credential pairs a username variable with a password variable. Username and
// Password are the variables' schema names; Store is the password's store.
type Credential struct {
	ID          string         `json:"id"`
	Name        string         `json:"name"`
	Description string         `json:"description"`
	Store       string         `json:"store"`
	Username    string         `json:"username"`
	Password    string         `json:"password"`
	Owner       string         `json:"owner"`
	Enabled     bool           `json:"enabled"`
	Status      VariableStatus `json:"status,omitempty"` // the worse of its two variables'; says nothing of Enabled
	CreatedAt   time.Time      `json:"createdAt"`
	UpdatedAt   time.Time      `json:"updatedAt"`
}

// CreateCredentialRequest describes a new credential. Username and Password
// name environment variables (id or schema name), not values; Password must
// be a secret variable.
type CreateCredentialRequest struct {
	Name        string `json:"name"`
	Description string `json:"description,omitempty"`
	Username    string `json:"username"`
	Password    string `json:"password"`
}

// UpdateCredentialRequest changes the fields that are not nil. A credential's
// variables cannot change after creation: setting Username or Password makes
// the server answer 409 immutable_field unless they name the same variables.
type UpdateCredentialRequest struct {
	Name        *string `json:"name,omitempty"`
	Description *string `json:"description,omitempty"`
	Username    *string `json:"username,omitempty"`
	Password    *string `json:"password,omitempty"`
}

// CredentialDependencies lists the connections that use a credential.
type CredentialDependencies struct {
	Connections []Dependent `json:"connections"`
}

const credentialsPath = "/api/v1/credentials"

// CreateCredential creates a credential.
func (c *Client) CreateCredential(ctx context.Context, req CreateCredentialRequest) (*Credential, error) {
	var cr Credential
	if err := c.do(ctx, http.MethodPost, credentialsPath, req, &cr); err != nil {
		return nil, err
	}
	return &cr, nil
}

// ListCredentials returns one page of the credentials the caller may see.
// opts.Type is ignored.
func (c *Client) ListCredentials(ctx context.Context, opts ListOptions) (*Page[Credential], error) {
	var p Page[Credential]
	if err := c.do(ctx, http.MethodGet, credentialsPath+opts.query(false), nil, &p); err != nil {
		return nil, err
	}
	return &p, nil
}

// GetCredential returns the credential with this id or name.
func (c *Client) GetCredential(ctx context.Context, idOrName string) (*Credential, error) {
	if err := need("credential id or name", idOrName); err != nil {
		return nil, err
	}
	var cr Credential
	if err := c.do(ctx, http.MethodGet, credentialsPath+"/"+escape(idOrName), nil, &cr); err != nil {
		return nil, err
	}
	return &cr, nil
}

// UpdateCredential changes the fields of req that are set and returns the
// credential as saved.
func (c *Client) UpdateCredential(ctx context.Context, idOrName string, req UpdateCredentialRequest) (*Credential, error) {
	if err := need("credential id or name", idOrName); err != nil {
		return nil, err
	}
	var cr Credential
	if err := c.do(ctx, http.MethodPatch, credentialsPath+"/"+escape(idOrName), req, &cr); err != nil {
		return nil, err
	}
	return &cr, nil
}

// DeleteCredential deletes a credential; its variables stay. The server
// refuses (409 in_use) while a connection uses it: see ForceDeleteCredential.
func (c *Client) DeleteCredential(ctx context.Context, idOrName string) error {
	if err := need("credential id or name", idOrName); err != nil {
		return err
	}
	return c.do(ctx, http.MethodDelete, credentialsPath+"/"+escape(idOrName), nil, nil)
}

// CredentialDependencies lists the connections that use a credential.
func (c *Client) CredentialDependencies(ctx context.Context, idOrName string) (*CredentialDependencies, error) {
	if err := need("credential id or name", idOrName); err != nil {
		return nil, err
	}
	var d CredentialDependencies
	if err := c.do(ctx, http.MethodGet, credentialsPath+"/"+escape(idOrName)+"/dependencies", nil, &d); err != nil {
		return nil, err
	}
	return &d, nil
}

// ForceDeleteCredential deletes a credential even while connections use it;
// those connections are marked broken. Its variables stay.
func (c *Client) ForceDeleteCredential(ctx context.Context, idOrName string) error {
	if err := need("credential id or name", idOrName); err != nil {
		return err
	}
	return c.do(ctx, http.MethodDelete, credentialsPath+"/"+escape(idOrName)+"?force=true", nil, nil)
}

// DisableCredential disables a credential: resolving a connection that uses
// it fails (credential_disabled) until it is enabled again.
func (c *Client) DisableCredential(ctx context.Context, idOrName string) (*Credential, error) {
	return c.credentialAction(ctx, idOrName, "disable")
}

// EnableCredential enables a disabled credential.
func (c *Client) EnableCredential(ctx context.Context, idOrName string) (*Credential, error) {
	return c.credentialAction(ctx, idOrName, "enable")
}

func (c *Client) credentialAction(ctx context.Context, idOrName, action string) (*Credential, error) {
	if err := need("credential id or name", idOrName); err != nil {
		return nil, err
	}
	var cr Credential
	if err := c.do(ctx, http.MethodPost, credentialsPath+"/"+escape(idOrName)+"/"+action, nil, &cr); err != nil {
		return nil, err
	}
	return &cr, nil
}
