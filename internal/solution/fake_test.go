package solution

import (
	"context"
	"fmt"
	"strings"

	"github.com/google/uuid"

	"github.com/credflow/credflow/internal/access"
	"github.com/credflow/credflow/internal/audit"
	"github.com/credflow/credflow/internal/credential"
	"github.com/credflow/credflow/internal/envvar"
	"github.com/credflow/credflow/internal/secretstore"
)

// world is an instance in memory: its repository and the two services,
// faked just far enough to hold the rules the solution service relies on
// (a missing store, a missing grant, someone else's object, a store that
// cannot be read now).
type world struct {
	sols    map[string]Solution
	vars    map[string]envvar.Variable
	creds   map[string]credential.Credential
	stores  map[string]bool // registered stores
	granted map[string]bool // "principal/store"
	down    map[string]bool // stores that cannot be read now
	applied int             // transactions written by Apply
	entries []audit.Entry
}

func newWorld() *world {
	return &world{sols: map[string]Solution{}, vars: map[string]envvar.Variable{}, creds: map[string]credential.Credential{},
		stores: map[string]bool{"local": true}, granted: map[string]bool{}, down: map[string]bool{}}
}

func (w *world) service() *Service { return NewService(fakeRepo{w}, fakeVars{w}, fakeCreds{w}) }

// fakeRepo implements Repository over the world's maps.
type fakeRepo struct{ w *world }

func (r fakeRepo) Create(_ context.Context, s Solution, e audit.Entry) error {
	for _, have := range r.w.sols {
		if strings.EqualFold(have.Name, s.Name) {
			return ErrNameTaken
		}
	}
	r.w.sols[s.ID] = s
	r.w.entries = append(r.w.entries, e)
	return nil
}

func (r fakeRepo) Get(_ context.Context, idOrName string) (Solution, error) {
	for _, s := range r.w.sols {
		if s.ID == idOrName || strings.EqualFold(s.Name, idOrName) {
			s.Components = append([]Component(nil), s.Components...)
			dependencyOrder(s.Components)
			return s, nil
		}
	}
	return Solution{}, fmt.Errorf("%w: %q", ErrNotFound, idOrName)
}

func (r fakeRepo) List(_ context.Context, ownerID, _ string, _ int) ([]Solution, error) {
	var out []Solution
	for _, s := range r.w.sols {
		if ownerID == "" || s.OwnerID == ownerID {
			out = append(out, s)
		}
	}
	return out, nil
}

func (r fakeRepo) SetComponents(_ context.Context, s Solution, e audit.Entry) error {
	r.w.sols[s.ID] = s
	r.w.entries = append(r.w.entries, e)
	return nil
}

func (r fakeRepo) Holders(_ context.Context, kind Kind, id, except string) ([]string, error) {
	var out []string
	for _, s := range r.w.sols {
		for _, c := range s.Components {
			if s.ID != except && c.Kind == kind && c.ID == id && !c.Required {
				out = append(out, s.Name)
			}
		}
	}
	return out, nil
}

func (r fakeRepo) Apply(_ context.Context, p Plan) error {
	for _, v := range p.Variables {
		r.w.vars[strings.ToLower(v.Variable.SchemaName)] = v.Variable
	}
	for _, c := range p.Credentials {
		r.w.creds[strings.ToLower(c.Credential.Name)] = c.Credential
	}
	r.w.sols[p.Solution.ID] = p.Solution
	r.w.entries = append(r.w.entries, p.Entries...)
	r.w.applied++
	return nil
}

func (r fakeRepo) Variable(_ context.Context, idOrName string) (envvar.Variable, error) {
	for k, v := range r.w.vars {
		if v.ID == idOrName || k == strings.ToLower(idOrName) {
			return v, nil
		}
	}
	return envvar.Variable{}, fmt.Errorf("%w: %q", envvar.ErrNotFound, idOrName)
}

func (r fakeRepo) VariablesNamed(ctx context.Context, names []string) (map[string]envvar.Variable, error) {
	out := map[string]envvar.Variable{}
	for _, n := range names {
		if v, err := r.Variable(ctx, n); err == nil && strings.EqualFold(v.SchemaName, n) {
			out[strings.ToLower(n)] = v
		}
	}
	return out, nil
}

func (r fakeRepo) Credential(_ context.Context, idOrName string) (credential.Credential, error) {
	for k, c := range r.w.creds {
		if c.ID == idOrName || k == strings.ToLower(idOrName) {
			return c, nil
		}
	}
	return credential.Credential{}, fmt.Errorf("%w: %q", credential.ErrNotFound, idOrName)
}

// fakeVars implements Variables: a principal uses what it owns (admins
// everything).
type fakeVars struct{ w *world }

func (f fakeVars) Get(ctx context.Context, p access.Principal, idOrName string) (envvar.Variable, error) {
	v, err := fakeRepo(f).Variable(ctx, idOrName)
	if err == nil && v.OwnerID != p.ID && !p.IsAdmin() {
		return envvar.Variable{}, fmt.Errorf("%w: %q", envvar.ErrNotFound, idOrName)
	}
	return v, err
}

func (f fakeVars) Plan(_ context.Context, p access.Principal, in envvar.CreateInput, existing *envvar.Variable, opts envvar.PlanOptions) (envvar.Planned, error) {
	if existing != nil && existing.OwnerID != p.ID && !p.IsAdmin() {
		return envvar.Planned{}, access.ErrForbidden
	}
	v := envvar.Variable{ID: uuid.NewString(), OwnerID: p.ID}
	if existing != nil {
		v = *existing
	}
	v.SchemaName, v.DisplayName, v.Type = in.SchemaName, in.DisplayName, in.Type
	if in.Value != nil {
		v.Value = *in.Value
	}
	if in.Secret != nil {
		switch {
		case !f.w.stores[in.Secret.Store]:
			return envvar.Planned{}, &envvar.SecretCheckError{Store: in.Secret.Store, Ref: in.Secret.Ref, Err: secretstore.ErrStoreNotFound}
		case !p.IsAdmin() && !f.w.granted[p.Name+"/"+in.Secret.Store]:
			return envvar.Planned{}, access.ErrStoreNotGranted
		}
		ref := &envvar.SecretRef{Store: in.Secret.Store, Ref: in.Secret.Ref}
		if f.w.down[in.Secret.Store] {
			if !opts.Defer {
				return envvar.Planned{}, &envvar.SecretCheckError{Store: in.Secret.Store, Ref: in.Secret.Ref, Err: secretstore.ErrUnavailable}
			}
			ref.Problem = envvar.StatusPendingValidation
		}
		v.Secret = ref
	}
	changed := existing == nil || existing.DisplayName != v.DisplayName || existing.Value != v.Value ||
		(v.Secret != nil && (existing.Secret.Ref != v.Secret.Ref || existing.Secret.Store != v.Secret.Store || existing.Secret.Problem != v.Secret.Problem))
	return envvar.Planned{Variable: v, Created: existing == nil, Changed: changed}, nil
}

// fakeCreds implements Credentials.
type fakeCreds struct{ w *world }

func (f fakeCreds) Get(ctx context.Context, p access.Principal, idOrName string) (credential.Credential, error) {
	c, err := fakeRepo(f).Credential(ctx, idOrName)
	if err == nil && c.OwnerID != p.ID && !p.IsAdmin() {
		return credential.Credential{}, fmt.Errorf("%w: %q", credential.ErrNotFound, idOrName)
	}
	return c, err
}

func (f fakeCreds) Plan(_ context.Context, p access.Principal, in credential.CreateInput, user, pass envvar.Variable, existing *credential.Credential, _ string) (credential.Planned, error) {
	if pass.Type != envvar.TypeSecret {
		return credential.Planned{}, credential.ErrPasswordMustBeSecret
	}
	if existing != nil {
		return credential.Planned{Credential: *existing, Changed: existing.Description != in.Description}, nil
	}
	c := credential.Credential{ID: uuid.NewString(), Name: in.Name, Description: in.Description, UsernameVarID: user.ID, PasswordVarID: pass.ID,
		Username: user.SchemaName, Password: pass.SchemaName, OwnerID: p.ID}
	return credential.Planned{Credential: c, Created: true, Changed: true}, nil
}
