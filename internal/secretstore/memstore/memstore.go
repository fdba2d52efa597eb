// Package memstore is an in-memory secret store with fault switches, for
// tests: it stands in for a remote store (one that credflow only reads) and
// can be made slow, unavailable, throttled or denied, and it counts the
// reads it serves. It keeps values in memory only and is not for production.
package memstore

import (
	"context"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/credflow/credflow/internal/secretstore"
)

// Store is an in-memory store. The zero value is not usable; call New.
type Store struct {
	mu       sync.Mutex
	secrets  map[string][]version // by name, oldest first
	denied   map[string]bool
	failWith error
	latency  time.Duration
	gets     atomic.Int64
	inFlight atomic.Int64
}

type version struct {
	value    string
	disabled bool
	at       time.Time
}

var (
	_ secretstore.Store  = (*Store)(nil)
	_ secretstore.Stater = (*Store)(nil)
)

// New returns an empty store.
func New() *Store {
	return &Store{secrets: map[string][]version{}, denied: map[string]bool{}}
}

// Set adds a version of name and returns its version ("1", "2", ...).
func (s *Store) Set(name, value string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.secrets[name] = append(s.secrets[name], version{value: value, at: time.Now().UTC()})
	return strconv.Itoa(len(s.secrets[name]))
}

// Disable disables one version of name.
func (s *Store) Disable(name, ver string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if n, err := strconv.Atoi(ver); err == nil && n >= 1 && n <= len(s.secrets[name]) {
		s.secrets[name][n-1].disabled = true
	}
}

// Deny makes every read of name fail with secretstore.ErrForbidden.
func (s *Store) Deny(name string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.denied[name] = true
}

// Fail makes every read fail with err (nil: serve again).
func (s *Store) Fail(err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.failWith = err
}

// SetLatency delays every read by d (or until its context ends).
func (s *Store) SetLatency(d time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.latency = d
}

// Gets is the number of reads (Get and Stat) the store has served or failed.
func (s *Store) Gets() int64 { return s.gets.Load() }

// InFlight is the number of reads running now.
func (s *Store) InFlight() int64 { return s.inFlight.Load() }

var nameRule = regexp.MustCompile(`^[A-Za-z0-9._-]{1,127}$`)

// ParseRef implements secretstore.Store: "<name>" or "<name>/<version>".
func (s *Store) ParseRef(ref string) (secretstore.Ref, error) {
	name, ver, _ := strings.Cut(ref, "/")
	if !nameRule.MatchString(name) {
		return secretstore.Ref{}, &secretstore.RefError{Ref: ref, Rule: "a reference is <name> or <name>/<version>; names are letters, digits, '.', '_' and '-'"}
	}
	if ver != "" {
		if n, err := strconv.Atoi(ver); err != nil || n < 1 {
			return secretstore.Ref{}, &secretstore.RefError{Ref: ref, Rule: "a version is a positive whole number"}
		}
	}
	return secretstore.Ref{Name: name, Version: ver}, nil
}

// Get implements secretstore.Store.
func (s *Store) Get(ctx context.Context, ref secretstore.Ref) (secretstore.Secret, error) {
	v, meta, err := s.read(ctx, ref)
	if err != nil {
		return secretstore.Secret{}, err
	}
	return secretstore.Secret{Value: secretstore.NewValue(v.value), Meta: meta}, nil
}

// Stat implements secretstore.Stater.
func (s *Store) Stat(ctx context.Context, ref secretstore.Ref) (secretstore.Meta, error) {
	_, meta, err := s.read(ctx, ref)
	return meta, err
}

func (s *Store) read(ctx context.Context, ref secretstore.Ref) (version, secretstore.Meta, error) {
	s.gets.Add(1)
	s.inFlight.Add(1)
	defer s.inFlight.Add(-1)
	s.mu.Lock()
	latency, fail := s.latency, s.failWith
	s.mu.Unlock()
	if latency > 0 {
		select {
		case <-time.After(latency):
		case <-ctx.Done():
			return version{}, secretstore.Meta{}, fmt.Errorf("memstore: read %s: %w", ref, ctx.Err())
		}
	}
	if err := ctx.Err(); err != nil {
		return version{}, secretstore.Meta{}, fmt.Errorf("memstore: read %s: %w", ref, err)
	}
	if fail != nil {
		return version{}, secretstore.Meta{}, fmt.Errorf("memstore: read %s: %w", ref, fail)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.denied[ref.Name] {
		return version{}, secretstore.Meta{}, fmt.Errorf("memstore: read %s: %w", ref, secretstore.ErrForbidden)
	}
	vs := s.secrets[ref.Name]
	n := len(vs)
	if ref.Version != "" {
		n, _ = strconv.Atoi(ref.Version)
	}
	if n < 1 || n > len(vs) {
		return version{}, secretstore.Meta{}, fmt.Errorf("memstore: read %s: %w", ref, secretstore.ErrNotFound)
	}
	v := vs[n-1]
	if v.disabled {
		return version{}, secretstore.Meta{}, fmt.Errorf("memstore: read %s: %w", ref, secretstore.ErrDisabled)
	}
	return v, secretstore.Meta{Version: strconv.Itoa(n), Enabled: true, UpdatedAt: v.at}, nil
}
