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
	info   Info
	store  Store
	reader Store // what run-time reads go through: a cache over store
}

// Invalidator is implemented by a reader that caches values.
type Invalidator interface {
	Invalidate(name string)
	// InvalidateAll drops every cached value.
	InvalidateAll()
}

// NewRegistry returns an empty registry.
func NewRegistry() *Registry {
	return &Registry{byName: make(map[string]registered)}
}

// Add registers (or replaces) a store under info.Name; run-time reads go
// straight to it.
func (r *Registry) Add(info Info, s Store) { r.AddWithReader(info, s, s) }

// AddWithReader registers a store whose run-time reads go through reader (a
// cache over s). Management (writes, listings, validation) uses s itself.
func (r *Registry) AddWithReader(info Info, s, reader Store) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.byName[strings.ToLower(info.Name)] = registered{info: info, store: s, reader: reader}
}

// Remove unregisters the store name.
func (r *Registry) Remove(name string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	delete(r.byName, strings.ToLower(name))
}

// Reader returns the store run-time reads of name go through.
func (r *Registry) Reader(name string) (Store, Info, error) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	if e, ok := r.byName[strings.ToLower(name)]; ok {
		return e.reader, e.info, nil
	}
	return nil, Info{}, fmt.Errorf("%w: %q", ErrStoreNotFound, name)
}

// Invalidate drops the cached values of one secret of a store, after it was
// written or deleted, or a change event named it.
func (r *Registry) Invalidate(storeName, secretName string) {
	if s, _, err := r.Reader(storeName); err == nil {
		if inv, ok := s.(Invalidator); ok {
			inv.Invalidate(secretName)
		}
	}
}

// InvalidateStore drops every cached value of one store.
func (r *Registry) InvalidateStore(storeName string) {
	if s, _, err := r.Reader(storeName); err == nil {
		if inv, ok := s.(Invalidator); ok {
			inv.InvalidateAll()
		}
	}
}

// InvalidateAll drops every cached value of every store: after changes may
// have gone unnoticed (a replica's change listener reconnected).
func (r *Registry) InvalidateAll() {
	r.mu.RLock()
	defer r.mu.RUnlock()
	for _, e := range r.byName {
		if inv, ok := e.reader.(Invalidator); ok {
			inv.InvalidateAll()
		}
	}
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
	return nil, Info{}, fmt.Errorf("%w: %q", ErrStoreNotFound, name)
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
