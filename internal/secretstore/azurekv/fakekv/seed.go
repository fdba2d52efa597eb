package fakekv

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"time"
)

// Seed is the JSON file the emulator can start from:
//
//	{"secrets": [
//	  {"name": "sql-password", "value": "first"},
//	  {"name": "sql-password", "value": "second", "expires": "2030-01-01T00:00:00Z"},
//	  {"name": "old-password", "value": "x", "enabled": false},
//	  {"name": "locked", "value": "y", "denied": true}
//	]}
//
// Entries with the same name become successive versions, oldest first.
// version pins a version id (32 hex digits); enabled defaults to true;
// notBefore and expires are RFC 3339 times; denied refuses the secret with
// ForbiddenByRbac. Unknown fields are errors.
type Seed struct {
	Secrets []SeedSecret `json:"secrets"`
}

// SeedSecret is one version in a Seed.
type SeedSecret struct {
	Name        string            `json:"name"`
	Value       string            `json:"value"`
	Version     string            `json:"version,omitempty"`
	ContentType string            `json:"contentType,omitempty"`
	Tags        map[string]string `json:"tags,omitempty"`
	Enabled     *bool             `json:"enabled,omitempty"`
	NotBefore   *time.Time        `json:"notBefore,omitempty"`
	Expires     *time.Time        `json:"expires,omitempty"`
	Denied      bool              `json:"denied,omitempty"`
}

// ReadSeed decodes a seed strictly.
func ReadSeed(r io.Reader) (Seed, error) {
	dec := json.NewDecoder(r)
	dec.DisallowUnknownFields()
	var seed Seed
	if err := dec.Decode(&seed); err != nil {
		return Seed{}, fmt.Errorf("fakekv: seed: %w", err)
	}
	if dec.More() {
		return Seed{}, errors.New("fakekv: seed: data after the JSON object")
	}
	return seed, nil
}

// LoadSeedFile reads a seed file and applies it.
func (s *Server) LoadSeedFile(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("fakekv: seed: %w", err)
	}
	defer f.Close()
	seed, err := ReadSeed(f)
	if err != nil {
		return err
	}
	return s.Apply(seed)
}

// Apply adds the seed's secrets to the emulator. It stops at the first
// entry it cannot add, naming it by position (never by value).
func (s *Server) Apply(seed Seed) error {
	for i, e := range seed.Secrets {
		spec := Spec{Value: e.Value, ContentType: e.ContentType, Tags: e.Tags, Version: e.Version}
		if e.Enabled != nil {
			spec.Disabled = !*e.Enabled
		}
		if e.NotBefore != nil {
			spec.NotBefore = *e.NotBefore
		}
		if e.Expires != nil {
			spec.Expires = *e.Expires
		}
		if _, err := s.Put(e.Name, spec); err != nil {
			return fmt.Errorf("fakekv: seed entry %d: %w", i+1, err)
		}
		if e.Denied {
			s.Deny(e.Name)
		}
	}
	return nil
}
