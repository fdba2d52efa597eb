// Package solution holds solutions: named, versioned sets of credentials
// and environment variables that move between credflow instances as
// packages (see Export and Import). A package carries definitions only:
// secret variables travel as a store name and a reference, never a value,
// and deployment settings say what differs per environment. Every object
// an import writes is checked by the same services the API uses (the
// variable and credential rules, the importer's store grants, the store
// itself), and all of them are written in one transaction. The zip format
// is the pkgzip package's; this one decides what the files mean.
package solution

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/google/uuid"

	"github.com/credflow/credflow/internal/access"
	"github.com/credflow/credflow/internal/audit"
	"github.com/credflow/credflow/internal/credential"
	"github.com/credflow/credflow/internal/envvar"
	"github.com/credflow/credflow/internal/validation"
)

// Sentinel errors, matched with errors.Is.
var (
	ErrNotFound  = errors.New("solution not found")
	ErrNameTaken = errors.New("solution name already taken")
	// ErrDowngrade refuses an import of a lower version than the one
	// installed, unless the importer allows it.
	ErrDowngrade = errors.New("the package is an older version of the installed solution")
	// ErrRequired refuses to remove a variable that a credential of the
	// solution uses: a credential's variables always go with it.
	ErrRequired = errors.New("the component is needed by another component of the solution")
)

// Kind is a component's kind.
type Kind string

// The component kinds, in dependency order: variables before the
// credentials that use them.
const (
	KindVariable   Kind = "variable"
	KindCredential Kind = "credential"
)

// Component is one object of a solution.
type Component struct {
	Kind Kind
	ID   string // the object's id
	Name string // its schema name or name, filled by the repository
	// Required marks a component that lives in another solution: the
	// package names it as a dependency and does not carry it.
	Required bool
}

// Version is a solution's major.minor.build.revision.
type Version [4]int

// ParseVersion reads "1.2.3.4".
func ParseVersion(s string) (Version, error) {
	var v Version
	parts := strings.Split(s, ".")
	if len(parts) != 4 {
		return v, fmt.Errorf("version %q: want major.minor.build.revision, four whole numbers", s)
	}
	for i, p := range parts {
		n, err := strconv.Atoi(p)
		if err != nil || n < 0 || n > 1<<31-1 || p != strconv.Itoa(n) {
			return v, fmt.Errorf("version %q: want major.minor.build.revision, four whole numbers", s)
		}
		v[i] = n
	}
	return v, nil
}

func (v Version) String() string { return fmt.Sprintf("%d.%d.%d.%d", v[0], v[1], v[2], v[3]) }

// Compare returns -1, 0 or 1 as v is lower than, equal to or higher than w.
func (v Version) Compare(w Version) int { return slices.Compare(v[:], w[:]) }

// Solution is a named, versioned set of components.
type Solution struct {
	ID          string
	Name        string
	Description string
	Version     Version
	// Publisher is the prefix of the solution's publisher (cf).
	Publisher  string
	OwnerID    string
	Owner      string // filled by the repository
	Components []Component
	CreatedAt  time.Time
	UpdatedAt  time.Time
}

// Repository is the storage the service needs. Every change is written in
// one transaction with its audit entries.
type Repository interface {
	// Create inserts s; a taken name wraps ErrNameTaken.
	Create(ctx context.Context, s Solution, e audit.Entry) error
	// Get finds a solution by id or name (case-insensitive), with its
	// components in dependency order.
	Get(ctx context.Context, idOrName string) (Solution, error)
	// List returns up to limit solutions owned by ownerID ("" for all),
	// created after the one with id after.
	List(ctx context.Context, ownerID, after string, limit int) ([]Solution, error)
	// SetComponents replaces s's components (and its version and
	// description).
	SetComponents(ctx context.Context, s Solution, e audit.Entry) error
	// Holders lists the solutions other than except that carry the object
	// as a component of their own (not as a required one).
	Holders(ctx context.Context, kind Kind, objectID, except string) ([]string, error)
	// Apply writes an import: every planned object, the solution and the
	// audit entries, in one transaction.
	Apply(ctx context.Context, p Plan) error
	// VariablesNamed and Credential find objects whoever owns them, to
	// tell a new one from one that exists (and may belong to someone
	// else): the variables of these schema names that exist, in one go,
	// keyed by name in lower case; a credential by id or name.
	VariablesNamed(ctx context.Context, names []string) (map[string]envvar.Variable, error)
	Credential(ctx context.Context, idOrName string) (credential.Credential, error)
}

// Plan is what an import writes.
type Plan struct {
	Solution Solution
	// NewSolution says Solution is to be inserted rather than updated.
	NewSolution bool
	Variables   []envvar.Planned     // the changed ones only
	Credentials []credential.Planned // the changed ones only
	Entries     []audit.Entry
}

// Variables is what the service needs of the variable service;
// *envvar.Service implements it.
type Variables interface {
	Get(ctx context.Context, p access.Principal, idOrName string) (envvar.Variable, error)
	Plan(ctx context.Context, p access.Principal, in envvar.CreateInput, existing *envvar.Variable, opts envvar.PlanOptions) (envvar.Planned, error)
}

// Credentials is what the service needs of the credential service;
// *credential.Service implements it.
type Credentials interface {
	Get(ctx context.Context, p access.Principal, idOrName string) (credential.Credential, error)
	Plan(ctx context.Context, p access.Principal, in credential.CreateInput, user, pass envvar.Variable, existing *credential.Credential, reason string) (credential.Planned, error)
}

// Service applies the rules for solutions.
type Service struct {
	repo  Repository
	vars  Variables
	creds Credentials
	now   func() time.Time
}

// NewService returns a Service.
func NewService(repo Repository, vars Variables, creds Credentials) *Service {
	return &Service{repo: repo, vars: vars, creds: creds, now: time.Now}
}

func entry(p access.Principal, action string, s Solution, reason string) audit.Entry {
	return audit.Entry{Actor: p.Name, Action: action, Resource: "solution:" + s.Name, Outcome: audit.Success, Reason: reason}
}

// get returns the solution idOrName if p owns it or is an admin; to anyone
// else it does not exist.
func (s *Service) get(ctx context.Context, p access.Principal, idOrName string) (Solution, error) {
	sol, err := s.repo.Get(ctx, idOrName)
	if err != nil {
		return Solution{}, err
	}
	if sol.OwnerID != p.ID && !p.IsAdmin() {
		return Solution{}, fmt.Errorf("%w: %q", ErrNotFound, idOrName)
	}
	return sol, nil
}

// Limits and shapes of the fields.
const (
	MaxNameLen        = 100
	MaxDescriptionLen = 2000
)

var (
	nameRule      = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9_.-]*$`)
	publisherRule = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9]{0,19}$`)
)

// CreateInput describes a new, empty solution.
type CreateInput struct {
	Name        string
	Description string
	Version     string
	Publisher   string
}

func checkFields(ve *validation.Error, field string, name, description, version, publisher string) Version {
	switch {
	case len(name) > MaxNameLen:
		ve.Add(field+"name", fmt.Sprintf("must be at most %d characters", MaxNameLen))
	case !nameRule.MatchString(name):
		ve.Add(field+"name", "must start with a letter and hold only letters, digits, '_', '-' and '.'")
	}
	switch {
	case utf8.RuneCountInString(description) > MaxDescriptionLen:
		ve.Add(field+"description", fmt.Sprintf("must be at most %d characters", MaxDescriptionLen))
	case validation.HasControl(description):
		ve.Add(field+"description", validation.ControlRule)
	}
	v, err := ParseVersion(version)
	if err != nil {
		ve.Add(field+"version", "must be major.minor.build.revision, four whole numbers (1.0.0.0)")
	}
	if !publisherRule.MatchString(publisher) {
		ve.Add(field+"publisher", "must be a prefix of 1 to 20 letters and digits starting with a letter (cf)")
	}
	return v
}

// Create saves a new, empty solution owned by p.
func (s *Service) Create(ctx context.Context, p access.Principal, in CreateInput) (Solution, error) {
	var ve validation.Error
	v := checkFields(&ve, "", in.Name, in.Description, in.Version, in.Publisher)
	if err := ve.Err(); err != nil {
		return Solution{}, err
	}
	now := s.now().UTC()
	sol := Solution{ID: uuid.Must(uuid.NewV7()).String(), Name: in.Name, Description: in.Description, Version: v,
		Publisher: in.Publisher, OwnerID: p.ID, CreatedAt: now, UpdatedAt: now}
	if err := s.repo.Create(ctx, sol, entry(p, "solution.create", sol, "version "+v.String())); err != nil {
		return Solution{}, fmt.Errorf("create solution %q: %w", sol.Name, err)
	}
	return s.repo.Get(ctx, sol.ID)
}

// Get returns a solution p owns (any, for admins).
func (s *Service) Get(ctx context.Context, p access.Principal, idOrName string) (Solution, error) {
	return s.get(ctx, p, idOrName)
}

// List returns a page of the solutions p owns (all, for admins).
func (s *Service) List(ctx context.Context, p access.Principal, after string, limit int) ([]Solution, error) {
	owner := p.ID
	if p.IsAdmin() {
		owner = ""
	}
	return s.repo.List(ctx, owner, after, limit)
}

// UpdateInput changes a solution's version or description; nil fields stay.
type UpdateInput struct {
	Version     *string
	Description *string
}

// Update changes a solution p owns (any, for admins).
func (s *Service) Update(ctx context.Context, p access.Principal, idOrName string, in UpdateInput) (Solution, error) {
	sol, err := s.get(ctx, p, idOrName)
	if err != nil {
		return Solution{}, err
	}
	version, description := sol.Version.String(), sol.Description
	if in.Version != nil {
		version = *in.Version
	}
	if in.Description != nil {
		description = *in.Description
	}
	var ve validation.Error
	sol.Version = checkFields(&ve, "", sol.Name, description, version, sol.Publisher)
	if err := ve.Err(); err != nil {
		return Solution{}, err
	}
	sol.Description, sol.UpdatedAt = description, s.now().UTC()
	if err := s.repo.SetComponents(ctx, sol, entry(p, "solution.update", sol, "version "+sol.Version.String())); err != nil {
		return Solution{}, fmt.Errorf("update solution %q: %w", sol.Name, err)
	}
	return s.repo.Get(ctx, sol.ID)
}

// Add puts an object p may use into the solution: a credential brings its
// two variables. An object another solution already carries becomes a
// required component: the package names it, and the target must have it.
func (s *Service) Add(ctx context.Context, p access.Principal, idOrName string, kind Kind, object string) (Solution, error) {
	sol, err := s.get(ctx, p, idOrName)
	if err != nil {
		return Solution{}, err
	}
	var add []Component
	switch kind {
	case KindVariable:
		v, err := s.vars.Get(ctx, p, object)
		if err != nil {
			return Solution{}, err
		}
		add = append(add, Component{Kind: KindVariable, ID: v.ID, Name: v.SchemaName})
	case KindCredential:
		c, err := s.creds.Get(ctx, p, object)
		if err != nil {
			return Solution{}, err
		}
		for _, id := range []string{c.UsernameVarID, c.PasswordVarID} {
			v, err := s.vars.Get(ctx, p, id)
			if err != nil {
				return Solution{}, fmt.Errorf("credential %s's variable: %w", c.Name, err)
			}
			holders, err := s.repo.Holders(ctx, KindVariable, v.ID, sol.ID)
			if err != nil {
				return Solution{}, err
			}
			add = append(add, Component{Kind: KindVariable, ID: v.ID, Name: v.SchemaName, Required: len(holders) > 0})
		}
		holders, err := s.repo.Holders(ctx, KindCredential, c.ID, sol.ID)
		if err != nil {
			return Solution{}, err
		}
		add = append(add, Component{Kind: KindCredential, ID: c.ID, Name: c.Name, Required: len(holders) > 0})
	default:
		return Solution{}, validation.Field("kind", fmt.Sprintf("must be variable or credential, not %q", kind))
	}
	added := make([]string, 0, len(add))
	for _, c := range add {
		i := slices.IndexFunc(sol.Components, func(have Component) bool { return have.Kind == c.Kind && have.ID == c.ID })
		switch {
		case i < 0:
			sol.Components = append(sol.Components, c)
		case sol.Components[i].Required && !c.Required:
			sol.Components[i].Required = false
		default:
			continue
		}
		added = append(added, string(c.Kind)+" "+c.Name)
	}
	if len(added) == 0 {
		return sol, nil
	}
	sol.UpdatedAt = s.now().UTC()
	if err := s.repo.SetComponents(ctx, sol, entry(p, "solution.update", sol, "added "+strings.Join(added, ", "))); err != nil {
		return Solution{}, fmt.Errorf("add to solution %q: %w", sol.Name, err)
	}
	return s.repo.Get(ctx, sol.ID)
}

// Remove takes an object out of the solution. A variable that one of the
// solution's credentials uses stays while the credential does.
func (s *Service) Remove(ctx context.Context, p access.Principal, idOrName string, kind Kind, object string) (Solution, error) {
	sol, err := s.get(ctx, p, idOrName)
	if err != nil {
		return Solution{}, err
	}
	i := slices.IndexFunc(sol.Components, func(c Component) bool {
		return c.Kind == kind && (c.ID == object || strings.EqualFold(c.Name, object))
	})
	if i < 0 {
		return Solution{}, validation.Field(string(kind), fmt.Sprintf("%s %q is not a component of solution %s", kind, object, sol.Name))
	}
	gone := sol.Components[i]
	if kind == KindVariable {
		for _, c := range sol.Components {
			if c.Kind != KindCredential {
				continue
			}
			cr, err := s.repo.Credential(ctx, c.ID)
			if err != nil {
				return Solution{}, err
			}
			if cr.UsernameVarID == gone.ID || cr.PasswordVarID == gone.ID {
				return Solution{}, fmt.Errorf("%w: variable %s is used by credential %s; remove the credential first", ErrRequired, gone.Name, cr.Name)
			}
		}
	}
	sol.Components = slices.Delete(sol.Components, i, i+1)
	sol.UpdatedAt = s.now().UTC()
	if err := s.repo.SetComponents(ctx, sol, entry(p, "solution.update", sol, "removed "+string(kind)+" "+gone.Name)); err != nil {
		return Solution{}, fmt.Errorf("remove from solution %q: %w", sol.Name, err)
	}
	return s.repo.Get(ctx, sol.ID)
}
