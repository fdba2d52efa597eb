package client

import (
	"context"
	"net/http"
	"time"
)

// SecretChange names a Key Vault secret that has a new version. KeyVaultURL
// is the vault's URL or its resource id (an Event Grid event's topic).
type SecretChange struct {
	KeyVaultURL string `json:"keyVaultUrl"`
	SecretName  string `json:"secretName"`
}

// NotifiedStore is what a secret change reached in one store.
type NotifiedStore struct {
	Store       string   `json:"store"`
	Variables   []string `json:"variables"`
	Connections []string `json:"connections"`
}

// SecretChangeResult is the answer to NotifySecretChange.
type SecretChangeResult struct {
	Stores []NotifiedStore `json:"stores"`
}

// NotifySecretChange tells the server that a Key Vault secret has a new
// version (admins): its cached values are dropped on every replica and the
// connections that use it are checked again before the answer.
func (c *Client) NotifySecretChange(ctx context.Context, in SecretChange) (*SecretChangeResult, error) {
	var out SecretChangeResult
	if err := c.do(ctx, http.MethodPost, "/api/v1/environment-variables/notify-secret-change", in, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// EventStatus says whether the event wiring works.
type EventStatus struct {
	Endpoint EventEndpointStatus `json:"endpoint"`
	Stores   []EventStoreStatus  `json:"stores"`
	// Propagation lists the secrets' most recent new versions, newest
	// first, and how long each took to reach a run.
	Propagation []SecretPropagation `json:"propagation"`
}

// SecretPropagation is a secret's last new version and the first runner
// resolve that received it (ReachedAt nil while none has).
type SecretPropagation struct {
	Store      string     `json:"store"`
	Secret     string     `json:"secret"`
	ChangedAt  time.Time  `json:"changedAt"`
	Source     string     `json:"source,omitempty"`
	ReachedAt  *time.Time `json:"reachedAt,omitempty"`
	LatencyMs  *float64   `json:"latencyMs,omitempty"`
	Version    string     `json:"version,omitempty"`
	Runner     string     `json:"runner,omitempty"`
	Connection string     `json:"connection,omitempty"`
}

// EventEndpointStatus is the Event Grid endpoint's status.
type EventEndpointStatus struct {
	KeysConfigured bool `json:"keysConfigured"`
	// EntraSecured: Microsoft Entra-secured deliveries are accepted too.
	EntraSecured      bool       `json:"entraSecured"`
	LastHandshake     *time.Time `json:"lastHandshake,omitempty"`
	LastHandshakeKind string     `json:"lastHandshakeKind,omitempty"`
	Accepted          int64      `json:"accepted"`
	Ignored           int64      `json:"ignored"`
	Duplicate         int64      `json:"duplicate"`
	Rejected          int64      `json:"rejected"`
	Pending           int        `json:"pending"`
}

// EventStoreStatus is one store's part of the event status.
type EventStoreStatus struct {
	Store         string     `json:"store"`
	LastHandshake *time.Time `json:"lastHandshake,omitempty"`
	LastEvent     *time.Time `json:"lastEvent,omitempty"`
	LastEventType string     `json:"lastEventType,omitempty"`
	Accepted      int64      `json:"accepted"`
	Ignored       int64      `json:"ignored"`
	Duplicate     int64      `json:"duplicate"`
	Rejected      int64      `json:"rejected"`
	LastPoll      *time.Time `json:"lastPoll,omitempty"`
}

// EventStatus returns the event wiring's status (admins).
func (c *Client) EventStatus(ctx context.Context) (*EventStatus, error) {
	var out EventStatus
	if err := c.do(ctx, http.MethodGet, "/api/v1/events/status", nil, &out); err != nil {
		return nil, err
	}
	return &out, nil
}
