// Package client is the Go client of credflow's REST API: environment
// variables, credentials, secret stores, users, groups, API tokens, sharing,
// store grants, the audit trail, runner groups and connections, and the
// health endpoints.
//
// It depends on the wire format only (JSON over HTTP, errors as RFC 9457
// problem documents), never on the server's packages, so programs outside
// this module can use it. It does not run commands; the credflow CLI, which
// does (credflow run), is built on it.
//
// Every method takes a context first; use its deadline to bound a call. A
// request the server refuses returns a *Error, matched with errors.As:
//
//	var apiErr *client.Error
//	if errors.As(err, &apiErr) && apiErr.Code == "name_taken" { ... }
//
// Secret values travel towards the server (PutSecret); only two answers
// carry one back: a resolved connection (Resolve, for runners) and a new API
// token (CreateToken). Those values are of type Sensitive, which prints as
// [redacted] through fmt, encoding/json and log/slog until Reveal is
// called. No error this package returns contains a value.
package client

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
)

// Client talks to one credflow server with one token. It is safe for
// concurrent use.
type Client struct {
	base      string // scheme://host[:port][/path], no trailing slash
	token     string
	http      *http.Client
	userAgent string
}

// Option configures a Client.
type Option func(*Client)

// WithHTTPClient makes the client send its requests through hc (for a custom
// transport, TLS roots or a timeout). The default is a plain &http.Client{}.
func WithHTTPClient(hc *http.Client) Option {
	return func(c *Client) { c.http = hc }
}

// WithUserAgent sets the User-Agent header of every request.
func WithUserAgent(ua string) Option {
	return func(c *Client) { c.userAgent = ua }
}

// New returns a client of the server at baseURL, authenticating with token
// (sent as a bearer token; "" sends none, which only the health endpoints
// accept). baseURL is an http or https URL, optionally with a path prefix;
// a bare host:port means http://host:port.
func New(baseURL, token string, opts ...Option) (*Client, error) {
	base, err := normalizeBaseURL(baseURL)
	if err != nil {
		return nil, err
	}
	c := &Client{base: base, token: token, http: &http.Client{}, userAgent: "credflow-go-client"}
	for _, o := range opts {
		o(c)
	}
	return c, nil
}

// normalizeBaseURL checks the server URL. Its errors never repeat the URL:
// it may carry a password.
func normalizeBaseURL(raw string) (string, error) {
	s := strings.TrimSpace(raw)
	if s == "" {
		return "", errors.New("client: empty server URL")
	}
	if !strings.Contains(s, "://") {
		s = "http://" + s
	}
	u, err := url.Parse(s)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return "", fmt.Errorf("client: invalid server URL: %w", err)
	}
	switch {
	case u.Scheme != "http" && u.Scheme != "https":
		return "", fmt.Errorf("client: invalid server URL: scheme %q, want http or https", u.Scheme)
	case u.Host == "":
		return "", errors.New("client: invalid server URL: no host")
	case u.User != nil || u.RawQuery != "" || u.Fragment != "":
		return "", errors.New("client: invalid server URL: want scheme://host[:port][/path], without user, query or fragment")
	}
	return strings.TrimRight(u.String(), "/"), nil
}

// BaseURL returns the server URL requests are sent to.
func (c *Client) BaseURL() string { return c.base }

// ListOptions selects one page of a listing. Zero values mean the server's
// defaults: its default page size, the first page, every type.
type ListOptions struct {
	// Limit is the largest number of items to return.
	Limit int
	// Cursor is a previous page's NextCursor.
	Cursor string
	// Type keeps only environment variables of that type; other listings
	// ignore it.
	Type VariableType
}

func (o ListOptions) query(withType bool) string {
	q := url.Values{}
	if o.Limit > 0 {
		q.Set("limit", strconv.Itoa(o.Limit))
	}
	if o.Cursor != "" {
		q.Set("cursor", o.Cursor)
	}
	if withType && o.Type != "" {
		q.Set("type", string(o.Type))
	}
	if len(q) == 0 {
		return ""
	}
	return "?" + q.Encode()
}

// Page is one page of a listing. NextCursor is "" on the last page.
type Page[T any] struct {
	Items      []T    `json:"items"`
	NextCursor string `json:"nextCursor,omitempty"`
}

// Dependent names an object that depends on another.
type Dependent struct {
	ID   string `json:"id"`
	Name string `json:"name"`
}

// escape turns one name or id into a path segment.
func escape(segment string) string { return url.PathEscape(segment) }

// need rejects an empty id or name before a request is built from it: an
// empty path segment would address a different resource.
func need(what, v string) error {
	if v == "" {
		return fmt.Errorf("client: %s must not be empty", what)
	}
	return nil
}

// Bounds on how much of a response is read.
const (
	maxErrorBody    = 64 << 10
	maxResponseBody = 32 << 20
)

// do sends one request and decodes a JSON answer into out (nil: ignore the
// body). path is relative to the base URL and already escaped; body, when not
// nil, is sent as JSON. A status of 400 or more returns a *Error.
func (c *Client) do(ctx context.Context, method, path string, body, out any) error {
	resp, err := c.send(ctx, method, path, body)
	if err != nil {
		return err
	}
	defer drainClose(resp.Body)
	if resp.StatusCode >= 400 {
		return responseError(method, path, resp)
	}
	return decodeBody(method, path, resp, out)
}

// send builds and sends a request; the caller owns the response body.
func (c *Client) send(ctx context.Context, method, path string, body any) (*http.Response, error) {
	var rd io.Reader
	contentType := ""
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			// Marshalling errors name types, never values.
			return nil, fmt.Errorf("client: %s %s: encode request: %w", method, path, err)
		}
		rd, contentType = bytes.NewReader(b), "application/json"
	}
	return c.sendRaw(ctx, method, path, contentType, rd)
}

// sendRaw sends a body of any content type ("" and nil for none); the
// caller owns the response body.
func (c *Client) sendRaw(ctx context.Context, method, path, contentType string, rd io.Reader) (*http.Response, error) {
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, rd)
	if err != nil {
		return nil, fmt.Errorf("client: %s %s: %w", method, path, err)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	req.Header.Set("Accept", "application/json, application/problem+json")
	if c.userAgent != "" {
		req.Header.Set("User-Agent", c.userAgent)
	}
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		// *url.Error names the method and URL, never the request body.
		return nil, fmt.Errorf("client: %w", err)
	}
	return resp, nil
}

func decodeBody(method, path string, resp *http.Response, out any) error {
	if out == nil || resp.StatusCode == http.StatusNoContent {
		return nil
	}
	if err := json.NewDecoder(io.LimitReader(resp.Body, maxResponseBody)).Decode(out); err != nil {
		return fmt.Errorf("client: %s %s: decode %d response: %w", method, path, resp.StatusCode, err)
	}
	return nil
}

// drainClose reads a little of what is left so the connection can be reused.
func drainClose(body io.ReadCloser) {
	_, _ = io.Copy(io.Discard, io.LimitReader(body, 4<<10))
	_ = body.Close()
}
