package access

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sync"
	"time"

	"github.com/go-jose/go-jose/v4"
)

// oidcKeyRefetch is the least time between two fetches of the provider's
// key set. A token that no cached key verifies (a rotated key, or a forged
// token with a made-up kid) may cause a fetch, but not more often than this:
// a flood of such tokens must not become a flood of requests to the
// identity provider.
const oidcKeyRefetch = 30 * time.Second

// oidcMaxKeySet bounds the key set document read from the provider.
const oidcMaxKeySet = 1 << 20

// keySet holds the provider's public signing keys (JWKS), fetched on first
// use and again when a token's signature matches no cached key, at most
// once per oidcKeyRefetch (oidcRetryAfter after a failed fetch). It
// implements go-oidc's KeySet.
type keySet struct {
	url    string
	client *http.Client
	now    func() time.Time

	fetching sync.Mutex // one fetch at a time; concurrent misses share it

	mu        sync.Mutex // guards the fields below, never held across a fetch
	keys      []jose.JSONWebKey
	fetchedAt time.Time // zero until the first fetch
	fetchErr  error     // the last fetch's failure, if it failed
	fetches   int       // counts fetches, so that a waiter can tell one ran
}

// jwsAlgs are oidcSigningAlgs for the JWS parser.
var jwsAlgs = func() []jose.SignatureAlgorithm {
	out := make([]jose.SignatureAlgorithm, len(oidcSigningAlgs))
	for i, a := range oidcSigningAlgs {
		out[i] = jose.SignatureAlgorithm(a)
	}
	return out
}()

// VerifySignature returns the payload of a JWS signed by one of the keys.
func (s *keySet) VerifySignature(ctx context.Context, raw string) ([]byte, error) {
	jws, err := jose.ParseSigned(raw, jwsAlgs)
	if err != nil {
		return nil, fmt.Errorf("parse signed token: %w", err)
	}
	if len(jws.Signatures) != 1 {
		return nil, errors.New("token must carry exactly one signature")
	}
	kid := jws.Signatures[0].Header.KeyID

	s.mu.Lock()
	keys, seen := s.keys, s.fetches
	s.mu.Unlock()
	if payload, ok := verifyWith(jws, keys, kid); ok {
		return payload, nil
	}

	s.fetching.Lock()
	defer s.fetching.Unlock()
	s.mu.Lock()
	keys, ran := s.keys, s.fetches != seen // another caller fetched meanwhile
	wait := oidcKeyRefetch
	if s.fetchErr != nil {
		wait = oidcRetryAfter
	}
	recent := !s.fetchedAt.IsZero() && s.now().Sub(s.fetchedAt) < wait
	lastErr, age := s.fetchErr, s.now().Sub(s.fetchedAt)
	s.mu.Unlock()
	if !ran && !recent {
		// Not bound to the caller: a request that gives up must not
		// count as a provider that failed.
		keys, err = s.fetch(context.WithoutCancel(ctx))
		s.mu.Lock()
		s.fetchedAt, s.fetchErr, s.fetches = s.now(), err, s.fetches+1
		if err == nil {
			s.keys = keys
		}
		s.mu.Unlock()
		lastErr, age = err, 0
	}
	if lastErr != nil {
		return nil, lastErr
	}
	if payload, ok := verifyWith(jws, keys, kid); ok {
		return payload, nil
	}
	return nil, fmt.Errorf("no signing key of the provider verifies the token (kid %q; key set fetched %s ago)", kid, age.Round(time.Second))
}

// verifyWith tries the keys with the token's kid, or every key when the
// token names none.
func verifyWith(jws *jose.JSONWebSignature, keys []jose.JSONWebKey, kid string) ([]byte, bool) {
	for _, k := range keys {
		if kid != "" && k.KeyID != kid {
			continue
		}
		if k.Use != "" && k.Use != "sig" {
			continue
		}
		if payload, err := jws.Verify(k.Key); err == nil {
			return payload, true
		}
	}
	return nil, false
}

func (s *keySet) fetch(ctx context.Context) ([]jose.JSONWebKey, error) {
	ctx, cancel := context.WithTimeout(ctx, oidcTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, s.url, nil)
	if err != nil {
		return nil, fmt.Errorf("fetch key set: %w", err)
	}
	res, err := s.client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("fetch key set: %w", err)
	}
	defer res.Body.Close()
	body, err := io.ReadAll(io.LimitReader(res.Body, oidcMaxKeySet+1))
	if err != nil {
		return nil, fmt.Errorf("fetch key set: %w", err)
	}
	if res.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("fetch key set %s: status %d", s.url, res.StatusCode)
	}
	if len(body) > oidcMaxKeySet {
		return nil, fmt.Errorf("fetch key set %s: larger than %d bytes", s.url, oidcMaxKeySet)
	}
	var set jose.JSONWebKeySet
	if err := json.Unmarshal(body, &set); err != nil {
		return nil, fmt.Errorf("fetch key set %s: %w", s.url, err)
	}
	return set.Keys, nil
}
