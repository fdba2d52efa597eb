package secretstore

import (
	"fmt"
	"sort"
	"strings"
	"sync"
)

// Info describes a registered store.
type Info struct {
	ID   string
	Name string
	Kind string
}

// Registry holds the stores this instance knows, by case-insensitive name.
// It is safe for concurrent use.
type Registry struct {
	mu     sync.RWMutex
	byName map[string]registered
}

type registered struct {
	info  Info
	store Store
}

// NewRegistry returns an empty registry.
func NewRegistry() *Registry {
	return &Registry{byName: make(map[string]registered)}
}

// Add registers (or replaces) a store under info.Name.
func (r *Registry) Add(info Info, s Store) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.byName[strings.ToLower(info.Name)] = registered{info: info, store: s}
}

// Lookup returns the store registered under name or under the id name, or an
// error matching ErrStoreNotFound.
func (r *Registry) Lookup(name string) (Store, Info, error) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	if e, ok := r.byName[strings.ToLower(name)]; ok {
		return e.store, e.info, nil
	}
	for _, e := range r.byName {
		if e.info.ID == name {
			return e.store, e.info, nil
		}
	}
	return nil, Info{}, fmt.Errorf("store %q: %w", name, ErrStoreNotFound)
}

// List returns every registered store's info, ordered by name.
func (r *Registry) List() []Info {
	r.mu.RLock()
	defer r.mu.RUnlock()
	out := make([]Info, 0, len(r.byName))
	for _, e := range r.byName {
		out = append(out, e.info)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// IsSealed reports whether s is a Sealable store that is sealed now.
func IsSealed(s Store) bool {
	sl, ok := s.(Sealable)
	return ok && sl.Sealed()
}
