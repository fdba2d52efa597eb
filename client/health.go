package client

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
)

// Health is the liveness answer.
type Health struct {
	Status string `json:"status"`
}

// Readiness is the readiness answer: the database and every store.
type Readiness struct {
	// Status is "ready" or "not_ready".
	Status string `json:"status"`
	// Database is "ok" or "error".
	Database string           `json:"database"`
	Stores   []StoreReadiness `json:"stores"`
}

// StoreReadiness is one store's part of the readiness answer.
type StoreReadiness struct {
	Name   string      `json:"name"`
	Status StoreStatus `json:"status"`
	// Step is the failing step of a store that is not ready.
	Step string `json:"step,omitempty"`
}

// Ready reports whether the server said it is ready.
func (r *Readiness) Ready() bool { return r.Status == "ready" }

// Health asks whether the server is alive (GET /healthz).
func (c *Client) Health(ctx context.Context) (*Health, error) {
	var h Health
	if err := c.do(ctx, http.MethodGet, "/healthz", nil, &h); err != nil {
		return nil, err
	}
	return &h, nil
}

// Ready asks whether the server can serve requests (GET /readyz). A server
// that answers "not ready" (503 with a readiness body) is not an error: the
// Readiness says what is not ready. Any other failure is.
func (c *Client) Ready(ctx context.Context) (*Readiness, error) {
	const path = "/readyz"
	resp, err := c.send(ctx, http.MethodGet, path, nil)
	if err != nil {
		return nil, err
	}
	defer drainClose(resp.Body)
	if resp.StatusCode == http.StatusServiceUnavailable {
		body, _ := io.ReadAll(io.LimitReader(resp.Body, maxErrorBody))
		var r Readiness
		if json.Unmarshal(body, &r) == nil && r.Status != "" {
			return &r, nil
		}
		return nil, parseError(http.MethodGet, path, resp, body)
	}
	if resp.StatusCode >= 400 {
		return nil, responseError(http.MethodGet, path, resp)
	}
	var r Readiness
	if err := decodeBody(http.MethodGet, path, resp, &r); err != nil {
		return nil, err
	}
	return &r, nil
}
