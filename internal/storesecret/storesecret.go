// Package storesecret writes, lists and deletes the secrets of the stores
// that credflow writes to (the built-in one), on behalf of a principal: it
// checks the principal's store grants, shows a maker only the names their
// grants cover, refuses to delete a secret that environment variables
// reference unless forced, hands the store the audit entry of each change,
// and drops the secret's cached values so that the next resolve reads the
// change.
//
// A value passes through it to the store and nowhere else. It knows no HTTP
// and no SQL: the API calls it, and it calls the store registry, the access
// service and a repository of variable references.
package storesecret

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/credflow/credflow/internal/access"
	"github.com/credflow/credflow/internal/audit"
	"github.com/credflow/credflow/internal/secretstore"
	"github.com/credflow/credflow/internal/validation"
)

// ErrInUse is matched, with errors.Is, by an *InUseError.
var ErrInUse = errors.New("environment variables reference the secret")

// InUseError says a secret was not deleted because environment variables
// reference it: a resolve through them would fail once it is gone.
type InUseError struct {
	Store     string
	Secret    string
	Variables []string // their schema names, sorted
}

func (e *InUseError) Error() string {
	return fmt.Sprintf("secret %s in store %s is referenced by environment variables: %s",
		e.Secret, e.Store, strings.Join(e.Variables, ", "))
}

// Is reports whether target is ErrInUse.
func (e *InUseError) Is(target error) bool { return target == ErrInUse }

// Stores finds registered stores and drops cached values;
// *secretstore.Registry implements it.
type Stores interface {
	Lookup(name string) (secretstore.Store, secretstore.Info, error)
	Invalidate(storeName, secretName string)
}

// Grants says which secrets of a store a principal may reference;
// *access.Service implements it.
type Grants interface {
	// CheckGrant returns an error matching access.ErrStoreNotGranted unless
	// a grant p holds covers the secret.
	CheckGrant(ctx context.Context, p access.Principal, storeID, storeName, secretName string) error
	// GrantedPrefixes returns the name prefixes p's grants on the store
	// cover ("" covers every name).
	GrantedPrefixes(ctx context.Context, p access.Principal, storeID string) ([]string, error)
}

// Reference is a secret environment variable's reference into a store.
type Reference struct {
	Variable string // the variable's schema name
	Ref      string // its reference, in the store's syntax
}

// References finds the variables that reference a store's secrets;
// metadb implements it.
type References interface {
	// SecretReferences lists the secret variables of the store storeID
	// whose reference starts with refPrefix.
	SecretReferences(ctx context.Context, storeID, refPrefix string) ([]Reference, error)
}

// Service writes, lists and deletes secrets.
type Service struct {
	stores Stores
	grants Grants
	refs   References
}

// New returns a Service.
func New(stores Stores, grants Grants, refs References) *Service {
	return &Service{stores: stores, grants: grants, refs: refs}
}

// lookup finds the store and checks it has capability T.
func lookup[T any](s *Service, store string) (T, secretstore.Store, secretstore.Info, error) {
	var zero T
	st, info, err := s.stores.Lookup(store)
	if err != nil {
		return zero, nil, info, err
	}
	c, ok := st.(T)
	if !ok {
		return zero, nil, info, fmt.Errorf("%w: %s (kind %s) is managed outside credflow", secretstore.ErrReadOnly, info.Name, info.Kind)
	}
	return c, st, info, nil
}

// nameError turns a name the store refuses into a validation error on the
// field "name".
func nameError(err error) error {
	var re *secretstore.RefError
	if errors.As(err, &re) {
		return validation.Field("name", re.Rule)
	}
	return err
}

func entry(p access.Principal, action string, info secretstore.Info, name string) audit.Entry {
	return audit.Entry{Actor: p.Name, Action: action, Resource: "store:" + info.Name + " secret:" + name, Outcome: audit.Success}
}

// Put writes v as a new version of the secret name, if p's grants cover
// it. Written.Created says whether the write created the secret.
func (s *Service) Put(ctx context.Context, p access.Principal, store, name string, v secretstore.Value) (secretstore.Written, error) {
	w, _, info, err := lookup[secretstore.Writer](s, store)
	if err != nil {
		return secretstore.Written{}, err
	}
	if err := s.grants.CheckGrant(ctx, p, info.ID, info.Name, name); err != nil {
		return secretstore.Written{}, err
	}
	written, err := w.Put(ctx, name, v, entry(p, "store.secret.put", info, name))
	if err != nil {
		return secretstore.Written{}, nameError(err)
	}
	// The next resolve reads the new version, not a cached older one.
	s.stores.Invalidate(info.Name, name)
	return written, nil
}

// Delete removes the secret name with all its versions, if p's grants
// cover it. While environment variables reference it, Delete returns an
// *InUseError naming them, unless force.
func (s *Service) Delete(ctx context.Context, p access.Principal, store, name string, force bool) error {
	d, st, info, err := lookup[secretstore.Deleter](s, store)
	if err != nil {
		return err
	}
	if err := s.grants.CheckGrant(ctx, p, info.ID, info.Name, name); err != nil {
		return err
	}
	users, err := s.referencing(ctx, st, info, name)
	if err != nil {
		return err
	}
	e := entry(p, "store.secret.delete", info, name)
	if len(users) > 0 {
		if !force {
			return &InUseError{Store: info.Name, Secret: name, Variables: users}
		}
		e.Reason = "forced while referenced by environment variables: " + strings.Join(users, ", ")
	}
	if err := d.Delete(ctx, name, e); err != nil {
		return nameError(err)
	}
	s.stores.Invalidate(info.Name, name)
	return nil
}

// referencing returns the schema names of the variables that reference the
// secret name, any version of it, sorted.
func (s *Service) referencing(ctx context.Context, st secretstore.Store, info secretstore.Info, name string) ([]string, error) {
	// Every reference to the secret starts with its name; the store's own
	// syntax says which of those are to it and not to a longer name.
	refs, err := s.refs.SecretReferences(ctx, info.ID, name)
	if err != nil {
		return nil, fmt.Errorf("find the variables referencing secret %s in store %s: %w", name, info.Name, err)
	}
	var out []string
	for _, r := range refs {
		if ref, err := st.ParseRef(r.Ref); err == nil && ref.Name == name {
			out = append(out, r.Variable)
		}
	}
	slices.Sort(out)
	return slices.Compact(out), nil
}

// listBatch is how many names List asks the store for at a time while it
// skips names outside p's grants.
const listBatch = 100

// List returns, in name order, up to limit of the secrets after the name
// after that p's grants cover: all of them for an admin, none for a
// principal without a grant on the store.
func (s *Service) List(ctx context.Context, p access.Principal, store, after string, limit int) ([]secretstore.Entry, error) {
	l, _, info, err := lookup[secretstore.Lister](s, store)
	if err != nil {
		return nil, err
	}
	prefixes, err := s.grants.GrantedPrefixes(ctx, p, info.ID)
	if err != nil {
		return nil, err
	}
	if limit < 1 {
		return nil, nil
	}
	var out []secretstore.Entry
	// The names a prefix covers sort together, and the ranges of distinct
	// minimal prefixes do not overlap: walk them in order.
	for _, pre := range minimal(prefixes) {
		if after > pre && !strings.HasPrefix(after, pre) {
			continue // every name it covers sorts before after
		}
		cursor := after
		if len(pre) > 0 && pre[:len(pre)-1] > cursor {
			cursor = pre[:len(pre)-1] // just before the first name pre covers
		}
		for {
			n := limit - len(out)
			if pre != "" {
				n = max(n, listBatch)
			}
			page, err := l.List(ctx, cursor, n)
			if err != nil {
				return nil, err
			}
			for _, e := range page {
				if strings.HasPrefix(e.Name, pre) {
					out = append(out, e)
					if len(out) == limit {
						return out, nil
					}
				} else if e.Name > pre {
					break // past the names pre covers
				}
			}
			last := ""
			if len(page) > 0 {
				last = page[len(page)-1].Name
			}
			if len(page) < n || last > pre && !strings.HasPrefix(last, pre) {
				break
			}
			cursor = last
		}
	}
	return out, nil
}

// minimal returns the prefixes, sorted, without those another one covers.
func minimal(prefixes []string) []string {
	sorted := slices.Clone(prefixes)
	slices.Sort(sorted)
	var out []string
	for _, p := range sorted {
		// Sorted, a prefix that covers p comes before it; the last kept
		// one is the only candidate.
		if len(out) > 0 && strings.HasPrefix(p, out[len(out)-1]) {
			continue
		}
		out = append(out, p)
	}
	return out
}
