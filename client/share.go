package client

import (
	"context"
	"net/http"
	"time"
)

// ShareRole is a role a user or group holds on one credential or variable.
type ShareRole string

// The share roles, strongest first.
const (
	// ShareOwner and ShareCoOwner use, edit, share (any role) and delete.
	ShareOwner   ShareRole = "owner"
	ShareCoOwner ShareRole = "co-owner"
	// ShareUserShare uses, and shares as ShareUser or ShareUserShare.
	ShareUserShare ShareRole = "user-share"
	// ShareUser uses: creates credentials or connections with it.
	ShareUser ShareRole = "user"
)

// Share is one principal's role on an object. Principal is "user:<name>" or
// "group:<name>".
type Share struct {
	Principal string     `json:"principal"`
	Role      ShareRole  `json:"role"`
	ExpiresAt *time.Time `json:"expiresAt,omitempty"`
	CreatedAt time.Time  `json:"createdAt"`
	// ViaCredential names the credential whose share gave this share of a
	// variable ("credential:<name>"); "" for a share given directly.
	ViaCredential string `json:"viaCredential,omitempty"`
}

// VariableShare is a principal's share of one of a credential's variables.
type VariableShare struct {
	Variable string `json:"variable"`
	Share
}

// CredentialUnshare is what removing a credential share answers: the share
// removed, the variable shares removed with it (with WithVariables), and the
// shares of the credential's variables the principal still holds.
type CredentialUnshare struct {
	Removed                 Share           `json:"removed"`
	RemovedVariableShares   []VariableShare `json:"removedVariableShares"`
	RemainingVariableShares []VariableShare `json:"remainingVariableShares"`
}

// UnshareCredentialOptions says how far removing a credential share reaches.
type UnshareCredentialOptions struct {
	// WithVariables also removes, in the same step, the shares of the
	// credential's variables that this credential share gave; shares of
	// them given directly or through another credential stay.
	WithVariables bool
}

// ShareRequest gives a principal a role; a nil ExpiresAt never expires.
type ShareRequest struct {
	Role      ShareRole  `json:"role"`
	ExpiresAt *time.Time `json:"expiresAt,omitempty"`
}

// Grant lets a principal reference a store's secrets whose names start with
// Prefix ("" for all of them).
type Grant struct {
	Store     string    `json:"store"`
	Principal string    `json:"principal"`
	Prefix    string    `json:"prefix"`
	CreatedAt time.Time `json:"createdAt"`
}

// ShareCredential gives principal ("user:<name>", "group:<name>" or an id) a
// role on a credential, and the use of its variables. Sharing again replaces
// the principal's role.
func (c *Client) ShareCredential(ctx context.Context, credential, principal string, req ShareRequest) (*Share, error) {
	return c.share(ctx, credentialsPath, "credential id or name", credential, principal, req)
}

// UnshareCredential removes principal's share of a credential. The shares it
// gave on the credential's variables stay unless opts.WithVariables; the
// answer lists those the principal still holds.
func (c *Client) UnshareCredential(ctx context.Context, credential, principal string, opts UnshareCredentialOptions) (*CredentialUnshare, error) {
	if err := need("credential id or name", credential); err != nil {
		return nil, err
	}
	if err := need("principal", principal); err != nil {
		return nil, err
	}
	path := credentialsPath + "/" + escape(credential) + "/shares/" + escape(principal)
	if opts.WithVariables {
		path += "?withVariables=true"
	}
	var u CredentialUnshare
	if err := c.do(ctx, http.MethodDelete, path, nil, &u); err != nil {
		return nil, err
	}
	return &u, nil
}

// CredentialShares lists who holds which role on a credential, expired
// shares included.
func (c *Client) CredentialShares(ctx context.Context, credential string) ([]Share, error) {
	return c.shares(ctx, credentialsPath, "credential id or name", credential)
}

// ShareEnvironmentVariable gives principal a role on a variable.
func (c *Client) ShareEnvironmentVariable(ctx context.Context, variable, principal string, req ShareRequest) (*Share, error) {
	return c.share(ctx, envVarsPath, "environment variable id or schema name", variable, principal, req)
}

// UnshareEnvironmentVariable removes principal's shares of a variable: the
// one given directly and those credential shares gave.
func (c *Client) UnshareEnvironmentVariable(ctx context.Context, variable, principal string) error {
	if err := need("environment variable id or schema name", variable); err != nil {
		return err
	}
	if err := need("principal", principal); err != nil {
		return err
	}
	return c.do(ctx, http.MethodDelete, envVarsPath+"/"+escape(variable)+"/shares/"+escape(principal), nil, nil)
}

// EnvironmentVariableShares lists who holds which role on a variable.
func (c *Client) EnvironmentVariableShares(ctx context.Context, variable string) ([]Share, error) {
	return c.shares(ctx, envVarsPath, "environment variable id or schema name", variable)
}

func (c *Client) share(ctx context.Context, base, what, object, principal string, req ShareRequest) (*Share, error) {
	if err := need(what, object); err != nil {
		return nil, err
	}
	if err := need("principal", principal); err != nil {
		return nil, err
	}
	var s Share
	if err := c.do(ctx, http.MethodPut, base+"/"+escape(object)+"/shares/"+escape(principal), req, &s); err != nil {
		return nil, err
	}
	return &s, nil
}

func (c *Client) shares(ctx context.Context, base, what, object string) ([]Share, error) {
	if err := need(what, object); err != nil {
		return nil, err
	}
	var p Page[Share]
	if err := c.do(ctx, http.MethodGet, base+"/"+escape(object)+"/shares", nil, &p); err != nil {
		return nil, err
	}
	return p.Items, nil
}

// GrantStore lets principal reference the secrets of a store whose names
// start with prefix ("" for all), replacing any grant it had (admins only).
func (c *Client) GrantStore(ctx context.Context, store, principal, prefix string) (*Grant, error) {
	if err := grantPathOK(store, principal); err != nil {
		return nil, err
	}
	body := struct {
		Prefix string `json:"prefix"`
	}{prefix}
	var g Grant
	if err := c.do(ctx, http.MethodPut, grantPath(store, principal), body, &g); err != nil {
		return nil, err
	}
	return &g, nil
}

// RevokeStoreGrant takes a principal's store grant away (admins only).
func (c *Client) RevokeStoreGrant(ctx context.Context, store, principal string) error {
	if err := grantPathOK(store, principal); err != nil {
		return err
	}
	return c.do(ctx, http.MethodDelete, grantPath(store, principal), nil, nil)
}

// StoreGrants lists who may reference a store's secrets (admins only).
func (c *Client) StoreGrants(ctx context.Context, store string) ([]Grant, error) {
	if err := need("store", store); err != nil {
		return nil, err
	}
	var p Page[Grant]
	if err := c.do(ctx, http.MethodGet, storesPath+"/"+escape(store)+"/grants", nil, &p); err != nil {
		return nil, err
	}
	return p.Items, nil
}

func grantPathOK(store, principal string) error {
	if err := need("store", store); err != nil {
		return err
	}
	return need("principal", principal)
}

func grantPath(store, principal string) string {
	return storesPath + "/" + escape(store) + "/grants/" + escape(principal)
}
