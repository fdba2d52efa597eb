package envvar

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/google/uuid"

	"github.com/credflow/credflow/internal/access"
	"github.com/credflow/credflow/internal/audit"
	"github.com/credflow/credflow/internal/secretstore"
	"github.com/credflow/credflow/internal/validation"
)

// ErrPendingValidation says a secret variable was imported without a read
// of its secret and has not been validated since: it does not resolve.
var ErrPendingValidation = errors.New("environment variable is pending validation")

// Planned is a variable checked by the rules of Create or Update but not
// saved: what an import writes, with the others, in one transaction.
type Planned struct {
	Variable Variable
	// Created is true for a new variable, whose owner share is Owner.
	Created bool
	Owner   access.Share
	// Changed is false when an existing variable already is as planned:
	// nothing needs writing.
	Changed bool
	Entry   audit.Entry
}

// PlanOptions tune Plan.
type PlanOptions struct {
	// Defer lets a secret whose store cannot be read now (unreachable,
	// refusing credflow, the secret missing) be planned in state
	// pending-validation instead of refused. The caller's store grants are
	// checked all the same: authorization is never deferred.
	Defer bool
	// Reason goes into the audit entry ("import of solution ...").
	Reason string
}

// Plan checks in as Create would, for p, and returns the variable to write:
// a new one owned by p when existing is nil, else existing changed as in
// says (p must be allowed to edit it, and its type cannot change). The
// schema name must be given: an import never generates one. A secret
// reference is checked against p's grants and the store; an unchanged one
// of an existing variable is not read again.
func (s *Service) Plan(ctx context.Context, p access.Principal, in CreateInput, existing *Variable, opts PlanOptions) (Planned, error) {
	var ve validation.Error
	if in.SchemaName == "" {
		ve.Add("schemaName", "is required")
	}
	if existing == nil && in.SchemaName != "" {
		checkSchemaName(&ve, in.SchemaName)
	}
	checkDisplayName(&ve, in.DisplayName)
	checkDescription(&ve, in.Description)
	checkContent(&ve, in, existing != nil && existing.From == nil)
	if err := ve.Err(); err != nil {
		return Planned{}, err
	}
	now := s.now().UTC()
	var v Variable
	if existing == nil {
		v = Variable{ID: uuid.Must(uuid.NewV7()).String(), SchemaName: in.SchemaName, Type: in.Type, OwnerID: p.ID, Owner: p.Name, CreatedAt: now}
	} else {
		if _, err := s.access.Require(ctx, p, Object(*existing), "variable.update", access.ObjectRole.CanEdit); err != nil {
			return Planned{}, err
		}
		if existing.Type != in.Type {
			return Planned{}, &validation.ImmutableError{Field: "type", Hint: fmt.Sprintf("Variable %s is a %s variable here; its type cannot change.", existing.SchemaName, existing.Type)}
		}
		v = *existing
	}
	v.DisplayName, v.Description = in.DisplayName, in.Description
	switch {
	case in.FromStore != nil:
		if existing == nil || existing.From == nil || !sameField(*existing.From, *in.FromStore) {
			from, err := s.checkField(ctx, p, *in.FromStore)
			if err != nil {
				return Planned{}, err
			}
			v.From, v.Value = &from, ""
		}
	case in.Type == TypeText:
		if in.Value != nil {
			v.Value, v.From = *in.Value, nil
		}
	default:
		if existing == nil || existing.Secret == nil || !sameRef(*existing.Secret, *in.Secret) {
			ref, err := s.checkSecret(ctx, p, *in.Secret)
			if err != nil {
				if ref, err = s.deferred(ctx, p, *in.Secret, err, opts.Defer); err != nil {
					return Planned{}, err
				}
			}
			v.Secret = &ref
		}
	}
	pl := Planned{Variable: v, Created: existing == nil, Changed: existing == nil || !sameVariable(*existing, v)}
	if !pl.Changed {
		return pl, nil
	}
	v.UpdatedAt = now
	pl.Variable = v
	if pl.Created {
		pl.Owner = access.Own(p, Object(v), now)
		pl.Entry = entry(p, "variable.create", v, joinReason("type "+string(v.Type), opts.Reason))
	} else {
		pl.Entry = entry(p, "variable.update", v, opts.Reason)
	}
	return pl, nil
}

// deferred turns a failed check of a secret into a pending-validation
// reference when defer allows it and the failure is the store's (not the
// grant's, the reference's shape, or an unknown store).
func (s *Service) deferred(ctx context.Context, p access.Principal, in SecretInput, err error, allow bool) (SecretRef, error) {
	var sce *SecretCheckError
	if !allow || !errors.As(err, &sce) || errors.Is(err, secretstore.ErrStoreNotFound) || len(in.Fields) > 0 {
		return SecretRef{}, err
	}
	_, info, lerr := s.stores.Lookup(in.Store)
	if lerr != nil {
		return SecretRef{}, err
	}
	return SecretRef{StoreID: info.ID, Store: info.Name, Ref: in.Ref, Enabled: true,
		CheckedAt: s.now().UTC(), Problem: StatusPendingValidation}, nil
}

// Validate checks a variable's secret against its store now, as a save
// does (p's grants, then the store), and records what it learned: a
// variable pending validation resolves from then on. p must be able to
// edit it.
func (s *Service) Validate(ctx context.Context, p access.Principal, idOrName string) (Variable, error) {
	v, err := s.get(ctx, p, idOrName, "variable.validate", access.ObjectRole.CanEdit)
	if err != nil {
		return Variable{}, err
	}
	if v.Secret == nil {
		return v, nil
	}
	ref, err := s.checkSecret(ctx, p, SecretInput{Store: v.Secret.Store, Ref: v.Secret.Ref})
	if err != nil {
		return Variable{}, err
	}
	v.Secret = &ref
	v.UpdatedAt = s.now().UTC()
	if err := s.repo.Update(ctx, v, entry(p, "variable.validate", v, "")); err != nil {
		return Variable{}, fmt.Errorf("validate environment variable %s: %w", v.SchemaName, err)
	}
	return s.repo.Get(ctx, v.ID)
}

func joinReason(a, b string) string {
	if b == "" {
		return a
	}
	return a + "; " + b
}

func sameRef(have SecretRef, in SecretInput) bool {
	return len(in.Fields) == 0 && strings.EqualFold(have.Store, in.Store) && have.Ref == in.Ref && have.Problem != StatusPendingValidation
}

func sameField(have StoreField, in FieldInput) bool {
	return strings.EqualFold(have.Store, in.Store) && have.Ref == in.Ref && strings.EqualFold(have.Field, in.Field)
}

func sameVariable(a, b Variable) bool {
	if a.DisplayName != b.DisplayName || a.Description != b.Description || a.Value != b.Value {
		return false
	}
	switch {
	case (a.Secret == nil) != (b.Secret == nil), (a.From == nil) != (b.From == nil):
		return false
	case a.Secret != nil && (a.Secret.StoreID != b.Secret.StoreID || a.Secret.Ref != b.Secret.Ref || a.Secret.Problem != b.Secret.Problem):
		return false
	case a.From != nil && *a.From != *b.From:
		return false
	}
	return true
}
