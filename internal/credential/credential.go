// Package credential holds credentials: a username variable paired with a
// password variable whose secret lives in a store. It owns the rules that the
// password must be a secret variable, that names are unique regardless of
// case, and that the two variables are fixed once the credential exists. It
// never reads a secret value.
package credential

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/google/uuid"

	"github.com/credflow/credflow/internal/access"
	"github.com/credflow/credflow/internal/audit"
	"github.com/credflow/credflow/internal/envvar"
	"github.com/credflow/credflow/internal/validation"
)

// Sentinel errors, matched with errors.Is.
var (
	ErrNotFound             = errors.New("credential not found")
	ErrNameTaken            = errors.New("credential name already taken")
	ErrPasswordMustBeSecret = errors.New("the password must be a secret environment variable")
)

// Credential pairs a username variable with a password variable.
type Credential struct {
	ID            string
	Name          string
	Description   string
	UsernameVarID string
	PasswordVarID string
	Username      string // the username variable's schema name, filled by the repository
	Password      string // the password variable's schema name, filled by the repository
	Store         string // the password's store name, filled by the repository
	OwnerID       string
	Owner         string // filled by the repository
	Enabled       bool
	CreatedAt     time.Time
	UpdatedAt     time.Time
	// UsernameSecret and PasswordSecret are what credflow knows of the two
	// variables' secrets (UsernameSecret is nil for a text username),
	// filled by the repository.
	UsernameSecret *envvar.SecretRef
	PasswordSecret *envvar.SecretRef
}

// Status is the worse of its variables' statuses at time now (see
// envvar.StatusOf): a credential is only as usable as its worse secret.
// It says nothing of Enabled, which is a field of its own: a disabled
// credential whose secrets are fine is ok, and will resolve once enabled.
func (c Credential) Status(now time.Time) envvar.Status {
	var st []envvar.Status
	for _, ref := range []*envvar.SecretRef{c.UsernameSecret, c.PasswordSecret} {
		if ref != nil {
			st = append(st, envvar.StatusOf(envvar.TypeSecret, ref, now))
		}
	}
	return envvar.Worst(st...)
}

// Named identifies an object that depends on a credential.
type Named = envvar.Named

// Dependencies are the objects that use a credential.
type Dependencies struct {
	Connections []Named
}

// Repository is the storage the service needs. Every change is written in
// one transaction with the share and audit entry that go with it.
type Repository interface {
	// Create inserts c and its owner's share; a taken name is an error
	// wrapping ErrNameTaken.
	Create(ctx context.Context, c Credential, owner access.Share, e audit.Entry) error
	// Get finds a credential by id or by name (case-insensitive).
	Get(ctx context.Context, idOrName string) (Credential, error)
	// List returns up to limit credentials the viewer may see, created
	// after the one with id after.
	List(ctx context.Context, v access.Viewer, after string, limit int) ([]Credential, error)
	Update(ctx context.Context, c Credential, e audit.Entry) error
	// Delete removes a credential and its shares (its variables stay). A
	// credential that connections use is an *InUseError unless force, which
	// marks those connections broken.
	Delete(ctx context.Context, id string, force bool, e audit.Entry) error
	Dependencies(ctx context.Context, id string) (Dependencies, error)
}

// Variables finds the environment variables a principal may use;
// *envvar.Service implements it.
type Variables interface {
	Get(ctx context.Context, p access.Principal, idOrName string) (envvar.Variable, error)
}

// Service applies the rules for credentials.
type Service struct {
	repo   Repository
	vars   Variables
	access envvar.Access
	now    func() time.Time
}

// NewService returns a Service.
func NewService(repo Repository, vars Variables, acc envvar.Access) *Service {
	return &Service{repo: repo, vars: vars, access: acc, now: time.Now}
}

// Object names c for access checks and audit records.
func Object(c Credential) access.Object {
	return access.Object{Kind: access.KindCredential, ID: c.ID, Name: c.Name}
}

func entry(p access.Principal, action string, c Credential, reason string) audit.Entry {
	return audit.Entry{Actor: p.Name, Action: action, Resource: "credential:" + c.Name, Outcome: audit.Success, Reason: reason}
}

// get returns the credential idOrName if p's role on it satisfies ok; with
// no role at all it is not found, exactly like a missing one.
func (s *Service) get(ctx context.Context, p access.Principal, idOrName, action string, ok func(access.ObjectRole) bool) (Credential, error) {
	c, err := s.repo.Get(ctx, idOrName)
	if err != nil {
		return Credential{}, err
	}
	if _, err := s.access.Require(ctx, p, Object(c), action, ok); err != nil {
		if errors.Is(err, access.ErrNotFound) {
			return Credential{}, fmt.Errorf("%w: %q", ErrNotFound, idOrName)
		}
		return Credential{}, err
	}
	return c, nil
}

// Limits of the fields.
const (
	MaxNameLen        = 100
	MaxDescriptionLen = 2000
)

// CreateInput is what a caller gives to create a credential; Username and
// Password name variables by id or schema name.
type CreateInput struct {
	Name        string
	Description string
	Username    string
	Password    string
}

// Create validates in and saves a credential owned by p, who must be able to
// use both variables.
func (s *Service) Create(ctx context.Context, p access.Principal, in CreateInput) (Credential, error) {
	var ve validation.Error
	checkName(&ve, in.Name)
	checkDescription(&ve, in.Description)
	if strings.TrimSpace(in.Username) == "" {
		ve.Add("username", "is required: the id or schema name of a text or secret environment variable")
	}
	if strings.TrimSpace(in.Password) == "" {
		ve.Add("password", "is required: the id or schema name of a secret environment variable")
	}
	if err := ve.Err(); err != nil {
		return Credential{}, err
	}
	user, err := s.variable(ctx, p, "username", in.Username)
	if err != nil {
		return Credential{}, err
	}
	pass, err := s.variable(ctx, p, "password", in.Password)
	if err != nil {
		return Credential{}, err
	}
	if pass.Type != envvar.TypeSecret {
		return Credential{}, fmt.Errorf("password variable %s is a %s variable: %w", pass.SchemaName, pass.Type, ErrPasswordMustBeSecret)
	}
	now := s.now().UTC()
	c := Credential{
		ID:            uuid.Must(uuid.NewV7()).String(),
		Name:          in.Name,
		Description:   in.Description,
		UsernameVarID: user.ID,
		PasswordVarID: pass.ID,
		OwnerID:       p.ID,
		Enabled:       true,
		CreatedAt:     now,
		UpdatedAt:     now,
	}
	if err := s.repo.Create(ctx, c, access.Own(p, Object(c), now), entry(p, "credential.create", c, "")); err != nil {
		return Credential{}, fmt.Errorf("create credential %q: %w", c.Name, err)
	}
	return s.repo.Get(ctx, c.ID)
}

// variable looks up the variable a credential field names; a missing one,
// or one p may not use, is a validation error on that field.
func (s *Service) variable(ctx context.Context, p access.Principal, field, idOrName string) (envvar.Variable, error) {
	v, err := s.vars.Get(ctx, p, idOrName)
	if errors.Is(err, envvar.ErrNotFound) {
		return envvar.Variable{}, validation.Field(field, fmt.Sprintf("environment variable %q does not exist", idOrName))
	}
	return v, err
}

// Get returns a credential p may see, by id or name.
func (s *Service) Get(ctx context.Context, p access.Principal, idOrName string) (Credential, error) {
	return s.get(ctx, p, idOrName, "credential.read", access.ObjectRole.CanUse)
}

// List returns a page of the credentials p may see, ordered by creation.
func (s *Service) List(ctx context.Context, p access.Principal, after string, limit int) ([]Credential, error) {
	return s.repo.List(ctx, s.access.ViewerOf(p), after, limit)
}

// UpdateInput changes a credential; nil fields stay. Username and Password
// are accepted only to refuse a change with a helpful error.
type UpdateInput struct {
	Name        *string
	Description *string
	Username    *string
	Password    *string
}

const immutableHint = "A credential's %s variable cannot be changed after creation. To use another %s, update the environment variable %s, or put a new version of the secret in its store."

// Update applies in to the credential idOrName; p must be an owner or
// co-owner.
func (s *Service) Update(ctx context.Context, p access.Principal, idOrName string, in UpdateInput) (Credential, error) {
	c, err := s.get(ctx, p, idOrName, "credential.update", access.ObjectRole.CanEdit)
	if err != nil {
		return Credential{}, err
	}
	for _, f := range []struct {
		field   string
		given   *string
		current string
		varName string
	}{
		{"username", in.Username, c.UsernameVarID, c.Username},
		{"password", in.Password, c.PasswordVarID, c.Password},
	} {
		if f.given == nil {
			continue
		}
		if v, err := s.vars.Get(ctx, p, *f.given); err == nil && v.ID == f.current {
			continue // unchanged
		}
		return Credential{}, &validation.ImmutableError{Field: f.field, Hint: fmt.Sprintf(immutableHint, f.field, f.field, f.varName)}
	}
	var ve validation.Error
	if in.Name != nil {
		checkName(&ve, *in.Name)
		c.Name = *in.Name
	}
	if in.Description != nil {
		checkDescription(&ve, *in.Description)
		c.Description = *in.Description
	}
	if err := ve.Err(); err != nil {
		return Credential{}, err
	}
	c.UpdatedAt = s.now().UTC()
	if err := s.repo.Update(ctx, c, entry(p, "credential.update", c, "")); err != nil {
		return Credential{}, fmt.Errorf("update credential %q: %w", c.Name, err)
	}
	return s.repo.Get(ctx, c.ID)
}

// Delete removes a credential; its variables stay. p must be an owner or
// co-owner. Connections that use it make it in use, unless force, which
// breaks them.
func (s *Service) Delete(ctx context.Context, p access.Principal, idOrName string, force bool) error {
	c, err := s.get(ctx, p, idOrName, "credential.delete", access.ObjectRole.CanEdit)
	if err != nil {
		return err
	}
	reason := ""
	if force {
		reason = "forced: connections that used it are broken"
	}
	return s.repo.Delete(ctx, c.ID, force, entry(p, "credential.delete", c, reason))
}

// SetEnabled is the kill switch: a disabled credential resolves for nobody,
// whatever is cached. p must be an owner or co-owner.
func (s *Service) SetEnabled(ctx context.Context, p access.Principal, idOrName string, enabled bool) (Credential, error) {
	action := "credential.disable"
	if enabled {
		action = "credential.enable"
	}
	c, err := s.get(ctx, p, idOrName, action, access.ObjectRole.CanEdit)
	if err != nil {
		return Credential{}, err
	}
	c.Enabled = enabled
	c.UpdatedAt = s.now().UTC()
	if err := s.repo.Update(ctx, c, entry(p, action, c, "")); err != nil {
		return Credential{}, fmt.Errorf("%s %q: %w", action, c.Name, err)
	}
	return s.repo.Get(ctx, c.ID)
}

// InUseError says a credential cannot be deleted because connections use it.
type InUseError struct {
	Name        string
	Connections []Named
}

func (e *InUseError) Error() string {
	names := make([]string, len(e.Connections))
	for i, c := range e.Connections {
		names[i] = c.Name
	}
	return fmt.Sprintf("credential %s is used by connections: %s", e.Name, strings.Join(names, ", "))
}

// Dependencies lists what uses a credential p may see.
func (s *Service) Dependencies(ctx context.Context, p access.Principal, idOrName string) (Dependencies, error) {
	c, err := s.Get(ctx, p, idOrName)
	if err != nil {
		return Dependencies{}, err
	}
	return s.repo.Dependencies(ctx, c.ID)
}

// Share gives a principal a role on a credential, and the use of both its
// variables. The variable shares remember the credential share and carry
// its expiry; sharing again changes them with it.
func (s *Service) Share(ctx context.Context, p access.Principal, idOrName string, in access.ShareInput) (access.Share, error) {
	c, err := s.Get(ctx, p, idOrName)
	if err != nil {
		return access.Share{}, err
	}
	return s.access.Share(ctx, p, Object(c), in, variables(c)...)
}

// variables names a credential's variables (one, when both fields name the
// same variable).
func variables(c Credential) []access.Object {
	out := []access.Object{{Kind: access.KindVariable, ID: c.UsernameVarID, Name: c.Username}}
	if c.PasswordVarID != c.UsernameVarID {
		out = append(out, access.Object{Kind: access.KindVariable, ID: c.PasswordVarID, Name: c.Password})
	}
	return out
}

// Unshare removes a principal's share of a credential. The shares it gave on
// the credential's variables stay, unless withVariables, which removes them
// in the same transaction (a share of a variable given directly, or through
// another credential, stays either way). The answer says which shares of
// the variables the principal still holds.
func (s *Service) Unshare(ctx context.Context, p access.Principal, idOrName, principal string, withVariables bool) (access.Unshared, error) {
	c, err := s.Get(ctx, p, idOrName)
	if err != nil {
		return access.Unshared{}, err
	}
	return s.access.Unshare(ctx, p, Object(c), principal, access.UnshareOptions{Cascade: variables(c), WithCascade: withVariables})
}

// Shares lists a credential's shares.
func (s *Service) Shares(ctx context.Context, p access.Principal, idOrName string) ([]access.Share, error) {
	c, err := s.Get(ctx, p, idOrName)
	if err != nil {
		return nil, err
	}
	return s.access.Shares(ctx, p, Object(c))
}

func checkName(ve *validation.Error, n string) {
	switch {
	case strings.TrimSpace(n) == "":
		ve.Add("name", "is required")
	case n != strings.TrimSpace(n):
		ve.Add("name", "must not start or end with white space")
	case utf8.RuneCountInString(n) > MaxNameLen:
		ve.Add("name", fmt.Sprintf("must be at most %d characters", MaxNameLen))
	case validation.HasControl(n):
		ve.Add("name", validation.ControlRule)
	}
}

func checkDescription(ve *validation.Error, d string) {
	switch {
	case utf8.RuneCountInString(d) > MaxDescriptionLen:
		ve.Add("description", fmt.Sprintf("must be at most %d characters", MaxDescriptionLen))
	case validation.HasControl(d):
		ve.Add("description", validation.ControlRule)
	}
}
