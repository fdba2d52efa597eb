package client

import (
	"context"
	"net/http"
	"net/url"
	"time"
)

// Token is an API token as listed: never its value. Prefix is the start of
// the value, safe to show, to tell tokens apart.
type Token struct {
	ID         string     `json:"id"`
	Name       string     `json:"name"`
	User       string     `json:"user"`
	Prefix     string     `json:"prefix"`
	ExpiresAt  *time.Time `json:"expiresAt,omitempty"`
	LastUsedAt *time.Time `json:"lastUsedAt,omitempty"`
	RevokedAt  *time.Time `json:"revokedAt,omitempty"`
	CreatedAt  time.Time  `json:"createdAt"`
}

// CreatedToken is a new token with its value, which the server shows in this
// answer only. Value prints as [redacted]; Value.Reveal() is the bearer token.
type CreatedToken struct {
	Token
	Value Sensitive `json:"token"`
}

// CreateTokenRequest describes a new API token. User names another user (id
// or name), which only admins may do; "" means the caller. A nil ExpiresAt
// means the token never expires.
type CreateTokenRequest struct {
	Name      string     `json:"name"`
	User      string     `json:"user,omitempty"`
	ExpiresAt *time.Time `json:"expiresAt,omitempty"`
}

// TokenListOptions selects whose tokens to list: the caller's by default;
// admins may name a User or ask for All.
type TokenListOptions struct {
	User string
	All  bool
}

const tokensPath = "/api/v1/tokens"

// CreateToken creates an API token and returns it with its value.
func (c *Client) CreateToken(ctx context.Context, req CreateTokenRequest) (*CreatedToken, error) {
	var t CreatedToken
	if err := c.do(ctx, http.MethodPost, tokensPath, req, &t); err != nil {
		return nil, err
	}
	return &t, nil
}

// ListTokens lists API tokens, revoked and expired ones included.
func (c *Client) ListTokens(ctx context.Context, opts TokenListOptions) ([]Token, error) {
	q := url.Values{}
	if opts.User != "" {
		q.Set("user", opts.User)
	}
	if opts.All {
		q.Set("all", "true")
	}
	path := tokensPath
	if len(q) > 0 {
		path += "?" + q.Encode()
	}
	var p Page[Token]
	if err := c.do(ctx, http.MethodGet, path, nil, &p); err != nil {
		return nil, err
	}
	return p.Items, nil
}

// RevokeToken revokes an API token by id: the caller's own, or any for an
// admin. Requests made with it fail from then on.
func (c *Client) RevokeToken(ctx context.Context, id string) error {
	if err := need("token id", id); err != nil {
		return err
	}
	return c.do(ctx, http.MethodDelete, tokensPath+"/"+escape(id), nil, nil)
}
