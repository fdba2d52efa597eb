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
}

// Named identifies an object that depends on a credential.
type Named = envvar.Named

// Dependencies are the objects that use a credential.
type Dependencies struct {
	Connections []Named
}

// Repository is the storage the service needs.
type Repository interface {
	// Create inserts c; a taken name is an error wrapping ErrNameTaken.
	Create(ctx context.Context, c Credential) error
	// Get finds a credential by id or by name (case-insensitive).
	Get(ctx context.Context, idOrName string) (Credential, error)
	// List returns up to limit credentials created after the one with id after.
	List(ctx context.Context, after string, limit int) ([]Credential, error)
	Update(ctx context.Context, c Credential) error
	Delete(ctx context.Context, id string) error
	Dependencies(ctx context.Context, id string) (Dependencies, error)
}

// Variables finds environment variables; *envvar.Service implements it.
type Variables interface {
	Get(ctx context.Context, idOrName string) (envvar.Variable, error)
}

// Service applies the rules for credentials.
type Service struct {
	repo Repository
	vars Variables
	now  func() time.Time
}

// NewService returns a Service.
func NewService(repo Repository, vars Variables) *Service {
	return &Service{repo: repo, vars: vars, now: time.Now}
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

// Create validates in and saves a credential owned by ownerID.
func (s *Service) Create(ctx context.Context, ownerID string, in CreateInput) (Credential, error) {
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
	user, err := s.variable(ctx, "username", in.Username)
	if err != nil {
		return Credential{}, err
	}
	pass, err := s.variable(ctx, "password", in.Password)
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
		OwnerID:       ownerID,
		Enabled:       true,
		CreatedAt:     now,
		UpdatedAt:     now,
	}
	if err := s.repo.Create(ctx, c); err != nil {
		return Credential{}, fmt.Errorf("create credential %q: %w", c.Name, err)
	}
	return s.repo.Get(ctx, c.ID)
}

// variable looks up the variable a credential field names; a missing one is
// a validation error on that field.
func (s *Service) variable(ctx context.Context, field, idOrName string) (envvar.Variable, error) {
	v, err := s.vars.Get(ctx, idOrName)
	if errors.Is(err, envvar.ErrNotFound) {
		return envvar.Variable{}, validation.Field(field, fmt.Sprintf("environment variable %q does not exist", idOrName))
	}
	return v, err
}

// Get returns a credential by id or name.
func (s *Service) Get(ctx context.Context, idOrName string) (Credential, error) {
	return s.repo.Get(ctx, idOrName)
}

// List returns a page of credentials ordered by creation.
func (s *Service) List(ctx context.Context, after string, limit int) ([]Credential, error) {
	return s.repo.List(ctx, after, limit)
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

// Update applies in to the credential idOrName.
func (s *Service) Update(ctx context.Context, idOrName string, in UpdateInput) (Credential, error) {
	c, err := s.repo.Get(ctx, idOrName)
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
		if v, err := s.vars.Get(ctx, *f.given); err == nil && v.ID == f.current {
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
	if err := s.repo.Update(ctx, c); err != nil {
		return Credential{}, fmt.Errorf("update credential %q: %w", c.Name, err)
	}
	return s.repo.Get(ctx, c.ID)
}

// Delete removes a credential; its variables stay.
func (s *Service) Delete(ctx context.Context, idOrName string) error {
	c, err := s.repo.Get(ctx, idOrName)
	if err != nil {
		return err
	}
	return s.repo.Delete(ctx, c.ID)
}

// Dependencies lists what uses a credential.
func (s *Service) Dependencies(ctx context.Context, idOrName string) (Dependencies, error) {
	c, err := s.repo.Get(ctx, idOrName)
	if err != nil {
		return Dependencies{}, err
	}
	return s.repo.Dependencies(ctx, c.ID)
}

func checkName(ve *validation.Error, n string) {
	switch {
	case strings.TrimSpace(n) == "":
		ve.Add("name", "is required")
	case n != strings.TrimSpace(n):
		ve.Add("name", "must not start or end with white space")
	case utf8.RuneCountInString(n) > MaxNameLen:
		ve.Add("name", fmt.Sprintf("must be at most %d characters", MaxNameLen))
	}
}

func checkDescription(ve *validation.Error, d string) {
	if utf8.RuneCountInString(d) > MaxDescriptionLen {
		ve.Add("description", fmt.Sprintf("must be at most %d characters", MaxDescriptionLen))
	}
}
