package client

import (
	"context"
	"encoding/base64"
	"fmt"
	"net/http"
	"time"
)

// ConnectionStatus says whether a connection's credential could be read the
// last time the server tried.
type ConnectionStatus string

// The connection statuses.
const (
	ConnectionUnknown   ConnectionStatus = "unknown"
	ConnectionConnected ConnectionStatus = "connected"
	// ConnectionError: the last check or resolve failed; see LastError.
	ConnectionError ConnectionStatus = "error"
	// ConnectionBroken: its credential was deleted.
	ConnectionBroken ConnectionStatus = "broken"
	// ConnectionDisabled: its credential is disabled.
	ConnectionDisabled ConnectionStatus = "disabled"
)

// Connection binds a credential to the runner group whose runners may
// resolve it.
type Connection struct {
	ID                string           `json:"id"`
	Name              string           `json:"name"`
	Credential        string           `json:"credential"`
	RunnerGroup       string           `json:"runnerGroup"`
	Owner             string           `json:"owner"`
	Status            ConnectionStatus `json:"status"`
	LastError         string           `json:"lastError,omitempty"`
	LastErrorAt       *time.Time       `json:"lastErrorAt,omitempty"`
	LastResolvedAt    *time.Time       `json:"lastResolvedAt,omitempty"`
	LastSecretVersion string           `json:"lastSecretVersion,omitempty"`
	CreatedAt         time.Time        `json:"createdAt"`
	UpdatedAt         time.Time        `json:"updatedAt"`
}

// CreateConnectionRequest describes a new connection: a credential and a
// runner group, each by id or name.
type CreateConnectionRequest struct {
	Name        string `json:"name"`
	Credential  string `json:"credential"`
	RunnerGroup string `json:"runnerGroup"`
}

// ConnectionRunner is what one runner last received through a connection.
type ConnectionRunner struct {
	Runner        string    `json:"runner"`
	SecretVersion string    `json:"secretVersion"`
	ResolvedAt    time.Time `json:"resolvedAt"`
}

// Resolved is a connection's credential as a runner receives it. Username
// and Password print as [redacted] (through fmt, encoding/json and
// log/slog), so a Resolved can be logged whole; call Reveal on them to hand
// the values on.
type Resolved struct {
	Username Sensitive `json:"username"`
	Password Sensitive `json:"password"`
	// Credential is the credential's name.
	Credential string `json:"credential"`
	// SecretVersion is the password secret's version.
	SecretVersion string    `json:"secretVersion"`
	ResolvedAt    time.Time `json:"resolvedAt"`
	// Stale is true when the store failed and the server answered with the
	// last value it read, within the store's stale-if-error window.
	Stale bool `json:"stale"`
}

const connectionsPath = "/api/v1/connections"

// CreateConnection creates a connection; the caller becomes its owner and
// must be able to use the credential.
func (c *Client) CreateConnection(ctx context.Context, req CreateConnectionRequest) (*Connection, error) {
	var cn Connection
	if err := c.do(ctx, http.MethodPost, connectionsPath, req, &cn); err != nil {
		return nil, err
	}
	return &cn, nil
}

// ListConnections returns one page of the connections the caller may see.
// opts.Type is ignored.
func (c *Client) ListConnections(ctx context.Context, opts ListOptions) (*Page[Connection], error) {
	var p Page[Connection]
	if err := c.do(ctx, http.MethodGet, connectionsPath+opts.query(false), nil, &p); err != nil {
		return nil, err
	}
	return &p, nil
}

// GetConnection returns the connection with this id or name.
func (c *Client) GetConnection(ctx context.Context, idOrName string) (*Connection, error) {
	if err := need("connection id or name", idOrName); err != nil {
		return nil, err
	}
	var cn Connection
	if err := c.do(ctx, http.MethodGet, connectionsPath+"/"+escape(idOrName), nil, &cn); err != nil {
		return nil, err
	}
	return &cn, nil
}

// DeleteConnection deletes a connection.
func (c *Client) DeleteConnection(ctx context.Context, idOrName string) error {
	if err := need("connection id or name", idOrName); err != nil {
		return err
	}
	return c.do(ctx, http.MethodDelete, connectionsPath+"/"+escape(idOrName), nil, nil)
}

// ConnectionRunners lists what each runner last received through a
// connection: the secret version and when.
func (c *Client) ConnectionRunners(ctx context.Context, idOrName string) ([]ConnectionRunner, error) {
	if err := need("connection id or name", idOrName); err != nil {
		return nil, err
	}
	var p Page[ConnectionRunner]
	if err := c.do(ctx, http.MethodGet, connectionsPath+"/"+escape(idOrName)+"/runners", nil, &p); err != nil {
		return nil, err
	}
	return p.Items, nil
}

// Resolve reads a connection's username and password, as a runner of its
// runner group (other callers are refused). The server reads the secrets
// from their store now, or from its short cache. The values come back as
// Sensitive: they print as [redacted] until revealed.
func (c *Client) Resolve(ctx context.Context, connection string) (*Resolved, error) {
	if err := need("connection id or name", connection); err != nil {
		return nil, err
	}
	var r struct {
		Resolved
		// A value that is not valid UTF-8 comes base64-encoded.
		UsernameBase64 Sensitive `json:"usernameBase64"`
		PasswordBase64 Sensitive `json:"passwordBase64"`
	}
	if err := c.do(ctx, http.MethodPost, connectionsPath+"/"+escape(connection)+"/resolve", nil, &r); err != nil {
		return nil, err
	}
	for _, v := range []struct {
		dst  *Sensitive
		b64  Sensitive
		name string
	}{{&r.Username, r.UsernameBase64, "usernameBase64"}, {&r.Password, r.PasswordBase64, "passwordBase64"}} {
		if v.b64.IsEmpty() {
			continue
		}
		b, err := base64.StdEncoding.DecodeString(v.b64.Reveal())
		if err != nil {
			// The decoder's error would quote the input: name the field only.
			return nil, fmt.Errorf("client: resolve %s: the server sent a %s that is not base64", connection, v.name)
		}
		*v.dst = Sensitive{value: string(b)}
	}
	return &r.Resolved, nil
}
