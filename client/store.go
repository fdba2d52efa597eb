package client

import (
	"context"
	"net/http"
	"time"
)

// StoreStatus says whether a store can serve secrets.
type StoreStatus string

// The store statuses.
const (
	StoreReady StoreStatus = "ready"
	// StoreSealed: the store cannot decrypt (its key is missing).
	StoreSealed StoreStatus = "sealed"
)

// Store is a registered secret store.
type Store struct {
	ID     string      `json:"id"`
	Name   string      `json:"name"`
	Kind   string      `json:"kind"`
	Status StoreStatus `json:"status"`
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

// PutSecret writes a new version of the secret name in a store that accepts
// writes (the built-in one). The value is never returned, by this call or any
// other.
func (c *Client) PutSecret(ctx context.Context, store, name, value string) (*SecretVersion, error) {
	if err := need("store", store); err != nil {
		return nil, err
	}
	if err := need("secret name", name); err != nil {
		return nil, err
	}
	body := struct {
		Value string `json:"value"`
	}{value}
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

// DeleteSecret deletes a secret with all its versions.
func (c *Client) DeleteSecret(ctx context.Context, store, name string) error {
	if err := need("store", store); err != nil {
		return err
	}
	if err := need("secret name", name); err != nil {
		return err
	}
	return c.do(ctx, http.MethodDelete, secretsPath(store)+"/"+escape(name), nil, nil)
}

func secretsPath(store string) string { return storesPath + "/" + escape(store) + "/secrets" }
