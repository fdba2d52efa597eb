package client

import (
	"context"
	"net/http"
	"net/url"
)

// transferRequest names the new owner of an object.
type transferRequest struct {
	Principal string `json:"principal"`
}

// TransferCredential makes user ("user:<name>", a name or an id) the owner
// of a credential; they also get the use of its two variables. The caller
// must hold the owner role on it, or be an admin. The previous owner keeps
// the credential as co-owner.
func (c *Client) TransferCredential(ctx context.Context, credential, user string) (*Credential, error) {
	var cr Credential
	if err := c.transfer(ctx, credentialsPath, "credential id or name", credential, user, &cr); err != nil {
		return nil, err
	}
	return &cr, nil
}

// TransferEnvironmentVariable makes user the owner of a variable, as
// TransferCredential does for a credential.
func (c *Client) TransferEnvironmentVariable(ctx context.Context, variable, user string) (*EnvironmentVariable, error) {
	var v EnvironmentVariable
	if err := c.transfer(ctx, envVarsPath, "environment variable id or schema name", variable, user, &v); err != nil {
		return nil, err
	}
	return &v, nil
}

// TransferConnection makes user the owner of a connection the caller owns
// (any, for an admin). The server refuses (409 new_owner_lacks_access) when
// user may not use the connection's credential or its variables.
func (c *Client) TransferConnection(ctx context.Context, connection, user string) (*Connection, error) {
	var cn Connection
	if err := c.transfer(ctx, connectionsPath, "connection id or name", connection, user, &cn); err != nil {
		return nil, err
	}
	return &cn, nil
}

func (c *Client) transfer(ctx context.Context, base, what, object, user string, out any) error {
	if err := need(what, object); err != nil {
		return err
	}
	if err := need("new owner", user); err != nil {
		return err
	}
	return c.do(ctx, http.MethodPost, base+"/"+escape(object)+"/owner", transferRequest{Principal: user}, out)
}

// DeleteUserTransferring deletes a user and, in the same transaction, makes
// the user transferTo the owner of every credential, environment variable
// and connection they own (admins only).
func (c *Client) DeleteUserTransferring(ctx context.Context, idOrName, transferTo string) error {
	if err := need("user id or name", idOrName); err != nil {
		return err
	}
	if err := need("user to transfer to", transferTo); err != nil {
		return err
	}
	return c.do(ctx, http.MethodDelete, usersPath+"/"+escape(idOrName)+"?transferTo="+url.QueryEscape(transferTo), nil, nil)
}
