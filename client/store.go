package client

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"time"
	"unicode/utf8"
)

// StoreStatus says whether a store can serve secrets.
type StoreStatus string

// The store statuses.
const (
	StoreReady StoreStatus = "ready"
	// StoreDegraded: the store's last check failed; Store.LastCheck says
	// at which step.
	StoreDegraded StoreStatus = "degraded"
	// StoreUnavailable: the server could not open the store with its
	// settings.
	StoreUnavailable StoreStatus = "unavailable"
	// StoreSealed: the store cannot decrypt (its key is missing).
	StoreSealed StoreStatus = "sealed"
	// StoreUnknown: the store is not registered on the server that answered.
	StoreUnknown StoreStatus = "unknown"
)

// LastCheck is a store's last check, or why it cannot be used: when the
// store is not ready, the step that failed.
type LastCheck struct {
	OK        bool       `json:"ok"`
	CheckedAt *time.Time `json:"checkedAt,omitempty"`
	Step      string     `json:"step,omitempty"`
	Detail    string     `json:"detail,omitempty"`
	Hint      string     `json:"hint,omitempty"`
}

// Store is a registered secret store.
type Store struct {
	ID     string
	Name   string
	Kind   string
	Status StoreStatus
	// LastCheck is the outcome of the store's last check (nil when it
	// was never checked and is ready).
	LastCheck *LastCheck
	// Settings are the kind's own settings as the server shows them (for
	// Azure Key Vault: tenant, vault, how credflow signs in). They never
	// hold a secret: a client secret is named by file path or environment
	// variable.
	Settings json.RawMessage
	// CacheTTL is how long a value read from the store is reused (0: not
	// at all).
	CacheTTL time.Duration
	// StaleIfError is how long an expired value may still be served while
	// the store fails (0: never).
	StaleIfError time.Duration
	// PollInterval is how often the versions of the secrets variables
	// reference are compared for changes no event announced (0: never).
	PollInterval time.Duration
	CreatedAt    time.Time
	UpdatedAt    time.Time
	// Check is the check run when the store was added (CreateStore only;
	// nil for a kind without a check).
	Check *CheckReport
}

// storeJSON is the wire form of Store: durations as Go duration strings
// such as "1m0s".
type storeJSON struct {
	ID           string          `json:"id"`
	Name         string          `json:"name"`
	Kind         string          `json:"kind"`
	Status       StoreStatus     `json:"status"`
	LastCheck    *LastCheck      `json:"lastCheck,omitempty"`
	Settings     json.RawMessage `json:"settings,omitempty"`
	CacheTTL     string          `json:"cacheTTL,omitempty"`
	StaleIfError string          `json:"staleIfError,omitempty"`
	PollInterval string          `json:"pollInterval,omitempty"`
	CreatedAt    time.Time       `json:"createdAt"`
	UpdatedAt    time.Time       `json:"updatedAt"`
	Check        *CheckReport    `json:"check,omitempty"`
}

// MarshalJSON writes the store as the API does.
func (s Store) MarshalJSON() ([]byte, error) {
	return json.Marshal(storeJSON{ID: s.ID, Name: s.Name, Kind: s.Kind, Status: s.Status, LastCheck: s.LastCheck, Settings: s.Settings,
		CacheTTL: s.CacheTTL.String(), StaleIfError: s.StaleIfError.String(), PollInterval: s.PollInterval.String(),
		CreatedAt: s.CreatedAt, UpdatedAt: s.UpdatedAt, Check: s.Check})
}

// UnmarshalJSON reads the store as the API writes it.
func (s *Store) UnmarshalJSON(b []byte) error {
	var w storeJSON
	if err := json.Unmarshal(b, &w); err != nil {
		return err
	}
	ttl, err := optionalDuration("cacheTTL", w.CacheTTL)
	if err != nil {
		return err
	}
	stale, err := optionalDuration("staleIfError", w.StaleIfError)
	if err != nil {
		return err
	}
	poll, err := optionalDuration("pollInterval", w.PollInterval)
	if err != nil {
		return err
	}
	*s = Store{ID: w.ID, Name: w.Name, Kind: w.Kind, Status: w.Status, LastCheck: w.LastCheck, Settings: w.Settings,
		CacheTTL: ttl, StaleIfError: stale, PollInterval: poll, CreatedAt: w.CreatedAt, UpdatedAt: w.UpdatedAt, Check: w.Check}
	return nil
}

// optionalDuration reads a duration the server may leave out (older
// servers do).
func optionalDuration(field, v string) (time.Duration, error) {
	if v == "" {
		return 0, nil
	}
	d, err := time.ParseDuration(v)
	if err != nil {
		return 0, fmt.Errorf("client: store %s: %w", field, err)
	}
	return d, nil
}

// CheckReport is the outcome of a store's check, step by step: can credflow
// reach the store, sign in, and read a secret. OK is true when every step
// passed.
type CheckReport struct {
	OK    bool        `json:"ok"`
	Steps []CheckStep `json:"steps"`
}

// FirstFailure returns the first step that failed, or nil.
func (r *CheckReport) FirstFailure() *CheckStep {
	for i := range r.Steps {
		if !r.Steps[i].OK {
			return &r.Steps[i]
		}
	}
	return nil
}

// CheckStep is one step of a check. Hint says how to fix a failing step.
type CheckStep struct {
	Name   string `json:"name"`
	OK     bool   `json:"ok"`
	Detail string `json:"detail,omitempty"`
	Hint   string `json:"hint,omitempty"`
}

// CreateStoreRequest registers a store. Settings is the kind's settings
// object (nil: none). CacheTTL and StaleIfError, when nil, take the server's
// defaults.
type CreateStoreRequest struct {
	Name         string
	Kind         string
	Settings     json.RawMessage
	CacheTTL     *time.Duration
	StaleIfError *time.Duration
	PollInterval *time.Duration
}

// MarshalJSON writes the request as the API reads it.
func (r CreateStoreRequest) MarshalJSON() ([]byte, error) {
	return json.Marshal(struct {
		Name         string          `json:"name"`
		Kind         string          `json:"kind"`
		Settings     json.RawMessage `json:"settings,omitempty"`
		CacheTTL     *string         `json:"cacheTTL,omitempty"`
		StaleIfError *string         `json:"staleIfError,omitempty"`
		PollInterval *string         `json:"pollInterval,omitempty"`
	}{r.Name, r.Kind, r.Settings, durationString(r.CacheTTL), durationString(r.StaleIfError), durationString(r.PollInterval)})
}

// UpdateStoreRequest changes the fields that are not nil. Settings replace
// the store's settings whole.
type UpdateStoreRequest struct {
	Settings     json.RawMessage
	CacheTTL     *time.Duration
	StaleIfError *time.Duration
	PollInterval *time.Duration
}

// MarshalJSON writes the request as the API reads it.
func (r UpdateStoreRequest) MarshalJSON() ([]byte, error) {
	return json.Marshal(struct {
		Settings     json.RawMessage `json:"settings,omitempty"`
		CacheTTL     *string         `json:"cacheTTL,omitempty"`
		StaleIfError *string         `json:"staleIfError,omitempty"`
		PollInterval *string         `json:"pollInterval,omitempty"`
	}{r.Settings, durationString(r.CacheTTL), durationString(r.StaleIfError), durationString(r.PollInterval)})
}

func durationString(d *time.Duration) *string {
	if d == nil {
		return nil
	}
	s := d.String()
	return &s
}

// SecretVersion is what writing a secret produced. It never holds the value.
type SecretVersion struct {
	Name      string    `json:"name"`
	Version   string    `json:"version"`
	UpdatedAt time.Time `json:"updatedAt"`
}

// SecretInfo describes a stored secret without its value: its latest version
// and how many versions are kept.
type SecretInfo struct {
	Name      string    `json:"name"`
	Version   string    `json:"version"`
	Versions  int       `json:"versions"`
	CreatedAt time.Time `json:"createdAt"`
	UpdatedAt time.Time `json:"updatedAt"`
}

const storesPath = "/api/v1/stores"

// ListStores returns the registered stores.
func (c *Client) ListStores(ctx context.Context) ([]Store, error) {
	var p Page[Store]
	if err := c.do(ctx, http.MethodGet, storesPath, nil, &p); err != nil {
		return nil, err
	}
	return p.Items, nil
}

// GetStore returns the store with this id or name.
func (c *Client) GetStore(ctx context.Context, idOrName string) (*Store, error) {
	if err := need("store id or name", idOrName); err != nil {
		return nil, err
	}
	var s Store
	if err := c.do(ctx, http.MethodGet, storesPath+"/"+escape(idOrName), nil, &s); err != nil {
		return nil, err
	}
	return &s, nil
}

// CreateStore registers a store (admins) and returns it with the report of
// the check the server runs at once. The store is saved even when a step of
// that check fails: Check.OK says whether it passed.
func (c *Client) CreateStore(ctx context.Context, req CreateStoreRequest) (*Store, error) {
	var s Store
	if err := c.do(ctx, http.MethodPost, storesPath, req, &s); err != nil {
		return nil, err
	}
	return &s, nil
}

// UpdateStore changes a store's settings or cache (admins) and returns it as
// saved.
func (c *Client) UpdateStore(ctx context.Context, idOrName string, req UpdateStoreRequest) (*Store, error) {
	if err := need("store id or name", idOrName); err != nil {
		return nil, err
	}
	var s Store
	if err := c.do(ctx, http.MethodPatch, storesPath+"/"+escape(idOrName), req, &s); err != nil {
		return nil, err
	}
	return &s, nil
}

// DeleteStore removes a store (admins). The server refuses with 409 in_use
// while variables reference it, and 409 builtin_store for the built-in one.
func (c *Client) DeleteStore(ctx context.Context, idOrName string) error {
	if err := need("store id or name", idOrName); err != nil {
		return err
	}
	return c.do(ctx, http.MethodDelete, storesPath+"/"+escape(idOrName), nil, nil)
}

// CheckStore runs a store's check (admins) and, when secret is not "",
// tries to read that secret too. A failing step is not an error: the
// report's OK is false and the step says why and how to fix it.
func (c *Client) CheckStore(ctx context.Context, store, secret string) (*CheckReport, error) {
	if err := need("store", store); err != nil {
		return nil, err
	}
	body := struct {
		Secret string `json:"secret,omitempty"`
	}{secret}
	var r CheckReport
	if err := c.do(ctx, http.MethodPost, storesPath+"/"+escape(store)+"/check", body, &r); err != nil {
		return nil, err
	}
	return &r, nil
}

// PutSecret writes a new version of the secret name in a store that accepts
// writes (the built-in one). The value is never returned, by this call or any
// other. It is stored byte for byte: a value that is not valid UTF-8 text,
// or that holds a NUL, is sent base64-encoded (valueBase64).
func (c *Client) PutSecret(ctx context.Context, store, name, value string) (*SecretVersion, error) {
	if err := need("store", store); err != nil {
		return nil, err
	}
	if err := need("secret name", name); err != nil {
		return nil, err
	}
	var body struct {
		Value       string `json:"value,omitempty"`
		ValueBase64 string `json:"valueBase64,omitempty"`
	}
	if utf8.ValidString(value) && !strings.ContainsRune(value, 0) {
		body.Value = value
	} else {
		body.ValueBase64 = base64.StdEncoding.EncodeToString([]byte(value))
	}
	var v SecretVersion
	if err := c.do(ctx, http.MethodPut, secretsPath(store)+"/"+escape(name), body, &v); err != nil {
		return nil, err
	}
	return &v, nil
}

// ListSecrets returns one page of the secrets a store holds, by name.
// opts.Type is ignored.
func (c *Client) ListSecrets(ctx context.Context, store string, opts ListOptions) (*Page[SecretInfo], error) {
	if err := need("store", store); err != nil {
		return nil, err
	}
	var p Page[SecretInfo]
	if err := c.do(ctx, http.MethodGet, secretsPath(store)+opts.query(false), nil, &p); err != nil {
		return nil, err
	}
	return &p, nil
}

// DeleteSecret deletes a secret with all its versions. The server refuses
// (409 in_use, naming them) while environment variables reference it: see
// ForceDeleteSecret.
func (c *Client) DeleteSecret(ctx context.Context, store, name string) error {
	if err := need("store", store); err != nil {
		return err
	}
	if err := need("secret name", name); err != nil {
		return err
	}
	return c.do(ctx, http.MethodDelete, secretsPath(store)+"/"+escape(name), nil, nil)
}

// ForceDeleteSecret deletes a secret with all its versions even while
// environment variables reference it; resolves through them then fail.
func (c *Client) ForceDeleteSecret(ctx context.Context, store, name string) error {
	if err := need("store", store); err != nil {
		return err
	}
	if err := need("secret name", name); err != nil {
		return err
	}
	return c.do(ctx, http.MethodDelete, secretsPath(store)+"/"+escape(name)+"?force=true", nil, nil)
}

func secretsPath(store string) string { return storesPath + "/" + escape(store) + "/secrets" }
