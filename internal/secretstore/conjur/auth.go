package conjur

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"
)

// DefaultTokenLifetime is how long Conjur's access tokens last when the
// token does not say (Conjur issues them for 8 minutes).
const DefaultTokenLifetime = 8 * time.Minute

// maxTokenBytes bounds the answer to an authentication.
const maxTokenBytes = 64 << 10

// maxAPIKeyBytes bounds the API key file.
const maxAPIKeyBytes = 4 << 10

// token is one Conjur access token, ready to send. Its times are measured
// on credflow's clock from when it arrived, so that a server whose clock
// is off does not make credflow renew too late.
type token struct {
	header  string // Token token="<base64 of the token JSON>"
	life    time.Duration
	renewAt time.Time
	expires time.Time
}

// authenticator gets access tokens and keeps the current one. One
// authentication runs at a time; callers waiting for it honour their
// context.
type authenticator struct {
	store *Store
	sem   chan struct{} // held while reading or replacing cur
	cur   *token
}

func newAuthenticator(s *Store) *authenticator {
	return &authenticator{store: s, sem: make(chan struct{}, 1)}
}

func (a *authenticator) lock(ctx context.Context) error {
	select {
	case a.sem <- struct{}{}:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (a *authenticator) unlock() { <-a.sem }

// get returns the current token, authenticating first when there is none
// or it is due for renewal. A renewal that fails while the current token
// is still valid keeps it: Conjur may be back before it expires.
func (a *authenticator) get(ctx context.Context) (*token, error) {
	if err := a.lock(ctx); err != nil {
		return nil, err
	}
	defer a.unlock()
	now := a.store.now()
	if a.cur != nil && now.Before(a.cur.renewAt) {
		return a.cur, nil
	}
	t, err := a.store.authenticate(ctx)
	if err != nil {
		if a.cur != nil && now.Before(a.cur.expires) && ctx.Err() == nil {
			return a.cur, nil
		}
		return nil, err
	}
	a.cur = t
	return t, nil
}

// refused drops t after Conjur answered 401 to it, unless another caller
// has replaced it already. A caller whose context ends first leaves it:
// the next get renews it anyway once it is due.
func (a *authenticator) refused(ctx context.Context, t *token) {
	if a.lock(ctx) != nil {
		return
	}
	defer a.unlock()
	if a.cur == t {
		a.cur = nil
	}
}

// apiKey reads the API key from its file or environment variable, each
// time, so that a rotated key is used without a restart.
func (s *Store) apiKey() (string, error) {
	if s.settings.APIKeyEnv != "" {
		v, ok := s.lookupEnv(s.settings.APIKeyEnv)
		v = strings.TrimSpace(v)
		if !ok || v == "" {
			return "", fmt.Errorf("%w: environment variable %s is not set or empty", errAPIKey, s.settings.APIKeyEnv)
		}
		return v, nil
	}
	f, err := os.Open(s.settings.APIKeyFile)
	if err != nil {
		return "", fmt.Errorf("%w: %s", errAPIKey, describeFileError(s.settings.APIKeyFile, err))
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, maxAPIKeyBytes+1))
	if err != nil {
		return "", fmt.Errorf("%w: cannot read %s", errAPIKey, s.settings.APIKeyFile)
	}
	if len(b) > maxAPIKeyBytes {
		return "", fmt.Errorf("%w: %s is larger than an API key", errAPIKey, s.settings.APIKeyFile)
	}
	k := strings.TrimSpace(string(b))
	if k == "" {
		return "", fmt.Errorf("%w: %s is empty", errAPIKey, s.settings.APIKeyFile)
	}
	return k, nil
}

func describeFileError(path string, err error) string {
	switch {
	case errors.Is(err, os.ErrNotExist):
		return path + " does not exist"
	case errors.Is(err, os.ErrPermission):
		return path + " is not readable by credflow"
	}
	return "cannot open " + path
}

func (s *Store) apiKeySource() string {
	if s.settings.APIKeyEnv != "" {
		return "environment variable " + s.settings.APIKeyEnv
	}
	return "file " + s.settings.APIKeyFile
}

// authenticate exchanges the API key for an access token:
// POST /authn/{account}/{login}/authenticate with the key as the body.
func (s *Store) authenticate(ctx context.Context) (*token, error) {
	fail := func(status int, err error) error {
		return &AuthError{Login: s.settings.Login, Account: s.settings.Account, Status: status, Source: s.apiKeySource(), Err: err}
	}
	key, err := s.apiKey()
	if err != nil {
		return nil, fail(0, err)
	}
	u := s.base + "/authn/" + url.PathEscape(s.settings.Account) + "/" + url.QueryEscape(s.settings.Login) + "/authenticate"
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u, strings.NewReader(key))
	if err != nil {
		return nil, fail(0, errors.New("cannot build the authentication request"))
	}
	req.Header.Set("Content-Type", "text/plain")
	req.Header.Set("Accept", "application/json")
	resp, err := s.roundTrip(req)
	if err != nil {
		return nil, fail(0, transportError(ctx, hostOf(s.base), err))
	}
	defer drain(resp)
	if resp.StatusCode != http.StatusOK {
		return nil, fail(resp.StatusCode, fmt.Errorf("Conjur answered %s", http.StatusText(resp.StatusCode)))
	}
	raw, err := io.ReadAll(io.LimitReader(resp.Body, maxTokenBytes+1))
	if err != nil || len(raw) > maxTokenBytes {
		return nil, fail(resp.StatusCode, errors.New("the access token could not be read"))
	}
	lifetime, err := tokenLifetime(raw)
	if err != nil {
		return nil, fail(resp.StatusCode, err)
	}
	now := s.now()
	return &token{
		header:  `Token token="` + base64.StdEncoding.EncodeToString(raw) + `"`,
		life:    lifetime,
		renewAt: now.Add(lifetime * 4 / 5),
		expires: now.Add(lifetime),
	}, nil
}

// tokenLifetime reads iat and exp from the token's payload (Conjur's token
// is JSON with base64url "protected", "payload" and "signature"). Without
// exp the lifetime is Conjur's default. It says nothing of the token's
// contents in its errors.
func tokenLifetime(raw []byte) (time.Duration, error) {
	var t struct {
		Protected string `json:"protected"`
		Payload   string `json:"payload"`
		Signature string `json:"signature"`
	}
	if json.Unmarshal(raw, &t) != nil || t.Payload == "" || t.Signature == "" {
		return 0, errors.New("the answer is not a Conjur access token (JSON with protected, payload and signature)")
	}
	p, err := base64.RawURLEncoding.DecodeString(strings.TrimRight(t.Payload, "="))
	if err != nil {
		p, err = base64.StdEncoding.DecodeString(t.Payload)
	}
	var claims struct {
		IAT int64 `json:"iat"`
		EXP int64 `json:"exp"`
	}
	if err != nil || json.Unmarshal(p, &claims) != nil {
		return 0, errors.New("the access token's payload cannot be read")
	}
	if claims.IAT == 0 || claims.EXP == 0 {
		return DefaultTokenLifetime, nil
	}
	d := time.Duration(claims.EXP-claims.IAT) * time.Second
	if d <= 0 {
		return 0, errors.New("the access token expires before it is issued")
	}
	return d, nil
}
