// Package envvar holds environment variables: named values that automation
// reads. A text variable holds a plain value; a secret variable holds only a
// reference to a secret in a secret store, checked against the store when it
// is saved. The package owns the naming rules (schema names, generated
// names), the validation of every field, and the dependency rule that a
// variable used by a credential cannot be deleted. It never reads or returns
// a secret value.
package envvar

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/google/uuid"

	"github.com/credflow/credflow/internal/access"
	"github.com/credflow/credflow/internal/audit"
	"github.com/credflow/credflow/internal/secretstore"
	"github.com/credflow/credflow/internal/validation"
)

// Sentinel errors, matched with errors.Is.
var (
	ErrNotFound  = errors.New("environment variable not found")
	ErrNameTaken = errors.New("schema name already taken")
)

// Type is a variable's type.
type Type string

// The variable types.
const (
	TypeText   Type = "text"
	TypeSecret Type = "secret"
)

// SecretRef points at a secret in a store.
type SecretRef struct {
	StoreID string
	Store   string // the store's name
	Ref     string // the store-specific reference
	// What the store said of the secret when it was last checked.
	Enabled   bool
	ExpiresAt time.Time // zero: no expiry
	CheckedAt time.Time // zero: never checked
	// Problem is what the last read of the secret said instead of its
	// value (StatusNotFound, StatusAccessDenied or StatusSecretDisabled),
	// or StatusPendingValidation when it was imported without a read;
	// "" when it read the secret.
	Problem Status
	// Notice is what the store announced of the secret's expiry
	// (StatusExpiring or StatusExpired), "" when it announced nothing
	// since the secret's last new version.
	Notice Status
}

// StoreField is where a text variable takes its value from: one property
// of a secret in a store (a CyberArk account's UserName), read at run time
// with the password, so that a change in the store needs none in credflow.
type StoreField struct {
	StoreID string
	Store   string // the store's name
	Ref     string // the store-specific reference
	Field   string // the property's name, as the store spells it
}

// Status says whether a variable's value can be had, from what credflow
// last learned of it; see StatusOf.
type Status string

// The statuses of a variable (and of a credential, the worst of its two).
const (
	StatusOK       Status = "ok"
	StatusExpiring Status = "expiring"
	StatusPending  Status = "pending"
	// StatusPendingValidation is a secret variable imported while its
	// store could not be read (see Plan): it does not resolve until a
	// successful read of its secret validates it.
	StatusPendingValidation Status = "pending-validation"
	StatusExpired           Status = "expired"
	StatusSecretDisabled    Status = "secret_disabled"
	StatusAccessDenied      Status = "access_denied"
	StatusNotFound          Status = "not_found"
)

// severity orders the statuses from best to worst, for Worst.
var severity = map[Status]int{StatusOK: 0, StatusExpiring: 1, StatusPending: 2, StatusPendingValidation: 3, StatusExpired: 4,
	StatusSecretDisabled: 5, StatusAccessDenied: 6, StatusNotFound: 7}

// StatusOf derives a variable's status at time now from what credflow
// knows without asking the store, so that listing stays a database read:
//
//   - a text variable is ok;
//   - a secret variable never checked is pending;
//   - one imported without a read of its secret is pending-validation;
//   - one whose last read was refused says why: not_found, access_denied,
//     secret_disabled;
//   - one the store last called disabled is secret_disabled;
//   - one whose expiry date (as the store last gave it) is past is expired;
//   - one the store announced as expired or near its expiry (a Key Vault
//     SecretExpired or SecretNearExpiry event) is expired or expiring,
//     until its next new version;
//   - anything else is ok.
//
// The secret's state is learned when the variable is saved, by the
// periodic check of the connections that use it, and by any resolve whose
// read of the secret tells something new; expiry is compared with now.
func StatusOf(typ Type, ref *SecretRef, now time.Time) Status {
	switch {
	case typ != TypeSecret || ref == nil:
		return StatusOK
	case ref.CheckedAt.IsZero():
		return StatusPending
	case ref.Problem != "":
		return ref.Problem
	case !ref.Enabled:
		return StatusSecretDisabled
	case !ref.ExpiresAt.IsZero() && !now.Before(ref.ExpiresAt):
		return StatusExpired
	case ref.Notice == StatusExpired || ref.Notice == StatusExpiring:
		return ref.Notice
	}
	return StatusOK
}

// Status is StatusOf(v.Type, v.Secret, now).
func (v Variable) Status(now time.Time) Status { return StatusOf(v.Type, v.Secret, now) }

// Worst returns the worst of the statuses (ok for none): a credential is
// only as usable as the worse of its two variables.
func Worst(statuses ...Status) Status {
	worst := StatusOK
	for _, st := range statuses {
		if severity[st] > severity[worst] {
			worst = st
		}
	}
	return worst
}

// ProblemOf says what a read's error tells of the secret itself: not
// found, access denied or disabled. ok is false for failures that say
// nothing about the secret (the store unreachable, slow or throttling),
// which leave what was known of it as it was.
func ProblemOf(err error) (problem Status, ok bool) {
	switch {
	case err == nil:
		return "", true
	case errors.Is(err, secretstore.ErrNotFound):
		return StatusNotFound, true
	case errors.Is(err, secretstore.ErrDisabled):
		return StatusSecretDisabled, true
	case errors.Is(err, secretstore.ErrForbidden):
		return StatusAccessDenied, true
	}
	return "", false
}

// Variable is an environment variable.
type Variable struct {
	ID          string
	SchemaName  string
	DisplayName string
	Description string
	Type        Type
	Value       string     // text variables only
	Secret      *SecretRef // secret variables only
	// From is set on a text variable that follows a store's secret; its
	// Value is then empty.
	From      *StoreField
	OwnerID   string
	Owner     string // the owner's name, filled by the repository
	CreatedAt time.Time
	UpdatedAt time.Time
}

// Named identifies an object that depends on a variable.
type Named struct {
	ID   string
	Name string
}

// Dependencies are the objects that use a variable.
type Dependencies struct {
	Credentials []Named
	Connections []Named
}

// InUseError says a variable cannot be deleted because credentials use it.
type InUseError struct {
	SchemaName  string
	Credentials []Named
}

func (e *InUseError) Error() string {
	names := make([]string, len(e.Credentials))
	for i, c := range e.Credentials {
		names[i] = c.Name
	}
	return fmt.Sprintf("environment variable %s is used by credentials: %s", e.SchemaName, strings.Join(names, ", "))
}

// SecretCheckError says the store did not confirm a secret variable's
// reference. Err wraps the store's sentinel (secretstore.ErrNotFound,
// ErrForbidden, ErrStoreNotFound, ...). Ref is the reference as the store
// shows it to people.
type SecretCheckError struct {
	Store string
	Ref   string
	Err   error
	// Input is the request's object that named the secret: "secretRef",
	// or "fromStore" for a text variable that follows the store.
	Input string
}

// InputName is Input, "secretRef" when it is not set.
func (e *SecretCheckError) InputName() string {
	if e.Input == "" {
		return "secretRef"
	}
	return e.Input
}

func (e *SecretCheckError) Error() string {
	return fmt.Sprintf("check secret %q in store %q: %v", e.Ref, e.Store, e.Err)
}

func (e *SecretCheckError) Unwrap() error { return e.Err }

// ListQuery selects a page of variables.
type ListQuery struct {
	Type   Type   // "" for all
	After  string // id of the last variable of the previous page
	Limit  int
	Viewer access.Viewer // only variables the viewer may see
}

// Repository is the storage the service needs. Every change is written in
// one transaction with the share and audit entry that go with it.
type Repository interface {
	// Create inserts v and its owner's share; a taken schema name is an
	// error wrapping ErrNameTaken.
	Create(ctx context.Context, v Variable, owner access.Share, e audit.Entry) error
	// SchemaNamesWithPrefix lists schema names starting with prefix,
	// compared case-insensitively.
	SchemaNamesWithPrefix(ctx context.Context, prefix string) ([]string, error)
	// Get finds a variable by id or by schema name (case-insensitive).
	Get(ctx context.Context, idOrName string) (Variable, error)
	List(ctx context.Context, q ListQuery) ([]Variable, error)
	Update(ctx context.Context, v Variable, e audit.Entry) error
	// Delete removes a variable and its shares, or returns *InUseError when
	// credentials use it.
	Delete(ctx context.Context, id string, e audit.Entry) error
	Dependencies(ctx context.Context, id string) (Dependencies, error)
	// Reach lists what reaches a variable beyond its shares: the members
	// of the groups that hold one, the admins, and the connections whose
	// credential uses it.
	Reach(ctx context.Context, id string) (Reach, error)
}

// Stores finds a secret store by name; *secretstore.Registry implements it.
type Stores interface {
	Lookup(name string) (secretstore.Store, secretstore.Info, error)
}

// Access answers who may do what; *access.Service implements it.
type Access interface {
	Require(ctx context.Context, p access.Principal, obj access.Object, action string, ok func(access.ObjectRole) bool) (access.ObjectRole, error)
	RoleOn(ctx context.Context, p access.Principal, obj access.Object) (access.ObjectRole, error)
	PrincipalOf(ctx context.Context, userID string) (access.Principal, error)
	CheckGrant(ctx context.Context, p access.Principal, storeID, storeName, secretName string) error
	ViewerOf(p access.Principal) access.Viewer
	Share(ctx context.Context, p access.Principal, obj access.Object, in access.ShareInput, cascade ...access.Object) (access.Share, error)
	Unshare(ctx context.Context, p access.Principal, obj access.Object, principal string, opts access.UnshareOptions) (access.Unshared, error)
	Shares(ctx context.Context, p access.Principal, obj access.Object) ([]access.Share, error)
	TransferOwner(ctx context.Context, p access.Principal, obj access.Object, owner access.PrincipalRef, to string, cascade ...access.Object) error
}

// Service applies the rules for environment variables.
type Service struct {
	repo   Repository
	stores Stores
	access Access
	prefix string
	now    func() time.Time

	// recorded is the secret state this process last recorded per
	// variable id, so that resolves served from caches that predate the
	// write (which changes no generation) do not write it again.
	recordedMu sync.Mutex
	recorded   map[string]SecretRef
}

// maxRecorded bounds Service.recorded; past it the map starts over.
const maxRecorded = 10000

// NewService returns a Service. prefix starts generated schema names.
func NewService(repo Repository, stores Stores, acc Access, prefix string) *Service {
	return &Service{repo: repo, stores: stores, access: acc, prefix: prefix, now: time.Now, recorded: map[string]SecretRef{}}
}

// Object names v for access checks and audit records.
func Object(v Variable) access.Object {
	return access.Object{Kind: access.KindVariable, ID: v.ID, Name: v.SchemaName}
}

func entry(p access.Principal, action string, v Variable, reason string) audit.Entry {
	return audit.Entry{Actor: p.Name, Action: action, Resource: "variable:" + v.SchemaName, Outcome: audit.Success, Reason: reason}
}

// get returns the variable idOrName if p's role on it satisfies ok.
func (s *Service) get(ctx context.Context, p access.Principal, idOrName, action string, ok func(access.ObjectRole) bool) (Variable, error) {
	v, err := s.repo.Get(ctx, idOrName)
	if err != nil {
		return Variable{}, err
	}
	if _, err := s.access.Require(ctx, p, Object(v), action, ok); err != nil {
		if errors.Is(err, access.ErrNotFound) {
			return Variable{}, fmt.Errorf("%w: %q", ErrNotFound, idOrName)
		}
		return Variable{}, err
	}
	return v, nil
}

// Limits of the fields.
const (
	MaxNameLen        = 100
	MaxDescriptionLen = 2000
	MaxTextValueLen   = 4000
	MaxRefLen         = 1024
)

var schemaNameRule = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9_]*$`)

// CreateInput is what a caller gives to create a variable. Pointer fields
// distinguish "absent" from "empty".
type CreateInput struct {
	SchemaName  string
	DisplayName string
	Description string
	Type        Type
	Value       *string
	Secret      *SecretInput
	// FromStore makes a text variable follow a property of a store's
	// secret instead of holding a value.
	FromStore *FieldInput
}

// FieldInput names one property of a secret in a store.
type FieldInput struct {
	Store string
	Ref   string
	Field string
}

// SecretInput names a secret by store name and reference, or, for stores
// that take them, by the reference's named parts.
type SecretInput struct {
	Store  string
	Ref    string
	Fields map[string]string
}

// Create validates in, checks a secret reference against the caller's store
// grants and against the store, and saves the variable owned by p.
func (s *Service) Create(ctx context.Context, p access.Principal, in CreateInput) (Variable, error) {
	var ve validation.Error
	if in.SchemaName != "" {
		checkSchemaName(&ve, in.SchemaName)
	}
	checkDisplayName(&ve, in.DisplayName)
	checkDescription(&ve, in.Description)
	checkContent(&ve, in, false)
	base := ""
	if in.SchemaName == "" && in.DisplayName != "" {
		base = s.generatedBase(in.DisplayName)
		if base == "" {
			ve.Add("displayName", "must contain a letter or digit to generate a schema name; or give schemaName")
		}
	}
	if err := ve.Err(); err != nil {
		return Variable{}, err
	}

	// Stored times keep microseconds (PostgreSQL's precision), so that
	// the answer below says what a later read says.
	now := s.now().UTC().Truncate(time.Microsecond)
	v := Variable{
		ID:          uuid.Must(uuid.NewV7()).String(),
		SchemaName:  in.SchemaName,
		DisplayName: in.DisplayName,
		Description: in.Description,
		Type:        in.Type,
		OwnerID:     p.ID,
		CreatedAt:   now,
		UpdatedAt:   now,
	}
	switch {
	case in.FromStore != nil:
		from, err := s.checkField(ctx, p, *in.FromStore)
		if err != nil {
			return Variable{}, err
		}
		v.From = &from
	case in.Type == TypeText:
		v.Value = *in.Value
	default:
		ref, err := s.checkSecret(ctx, p, *in.Secret)
		if err != nil {
			return Variable{}, err
		}
		v.Secret = &ref
	}
	create := func() error {
		return s.repo.Create(ctx, v, access.Own(p, Object(v), now), entry(p, "variable.create", v, "type "+string(v.Type)))
	}
	// created is the variable as stored. A plain text variable is what
	// was written, with its owner's name: reading it back would cost a
	// query per create. One that names a store is read back, for the
	// store's name and state.
	created := func() (Variable, error) {
		if v.Type == TypeText && v.From == nil {
			out := v
			out.Owner = p.Name
			return out, nil
		}
		return s.repo.Get(ctx, v.ID)
	}
	if in.SchemaName != "" {
		if err := create(); err != nil {
			return Variable{}, fmt.Errorf("create environment variable %s: %w", v.SchemaName, err)
		}
		return created()
	}
	// A generated name takes the smallest free suffix; a concurrent create
	// may take it first, so try again with a fresh look.
	for attempt := 0; ; attempt++ {
		name, err := s.freeName(ctx, base)
		if err != nil {
			return Variable{}, err
		}
		v.SchemaName = name
		err = create()
		if err == nil {
			return created()
		}
		if !errors.Is(err, ErrNameTaken) || attempt == 4 {
			return Variable{}, fmt.Errorf("create environment variable %s: %w", name, err)
		}
	}
}

// generatedBase is the prefix, "_", and the display name without anything
// outside [A-Za-z0-9]; "" when nothing is left of the display name.
func (s *Service) generatedBase(displayName string) string {
	var b strings.Builder
	for _, r := range displayName {
		if r < utf8.RuneSelf && (r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9') {
			b.WriteRune(r)
		}
	}
	if b.Len() == 0 {
		return ""
	}
	base := s.prefix + "_" + b.String()
	if len(base) > MaxNameLen {
		base = base[:MaxNameLen]
	}
	return base
}

// freeName returns base if it is free, else base followed by the smallest
// free number from 2 up, shortened so the result stays within MaxNameLen.
func (s *Service) freeName(ctx context.Context, base string) (string, error) {
	taken, err := s.repo.SchemaNamesWithPrefix(ctx, base)
	if err != nil {
		return "", fmt.Errorf("generate schema name: %w", err)
	}
	used := make(map[string]bool, len(taken))
	for _, n := range taken {
		used[strings.ToLower(n)] = true
	}
	if !used[strings.ToLower(base)] {
		return base, nil
	}
	for n := 2; ; n++ {
		suffix := strconv.Itoa(n)
		stem := base
		if len(stem)+len(suffix) > MaxNameLen {
			stem = stem[:MaxNameLen-len(suffix)]
			// A shortened stem is a new base whose own names were not listed.
			more, err := s.repo.SchemaNamesWithPrefix(ctx, stem)
			if err != nil {
				return "", fmt.Errorf("generate schema name: %w", err)
			}
			for _, m := range more {
				used[strings.ToLower(m)] = true
			}
		}
		if !used[strings.ToLower(stem+suffix)] {
			return stem + suffix, nil
		}
	}
}

// checkSecret checks that p's store grants cover the referenced secret and
// asks the store whether it exists and may be read, without keeping its
// value.
func (s *Service) checkSecret(ctx context.Context, p access.Principal, in SecretInput) (SecretRef, error) {
	store, info, err := s.stores.Lookup(in.Store)
	if err != nil {
		return SecretRef{}, &SecretCheckError{Store: in.Store, Ref: in.Ref, Err: err}
	}
	raw, field := in.Ref, "secretRef.ref"
	if len(in.Fields) > 0 {
		fr, ok := store.(secretstore.FieldRefs)
		if !ok {
			return SecretRef{}, validation.Field("secretRef", fmt.Sprintf("store %q takes a ref, not named parts", info.Name))
		}
		var err error
		if raw, err = fr.RefFromFields(in.Fields); err != nil {
			var re *secretstore.RefError
			if errors.As(err, &re) {
				return SecretRef{}, validation.Field("secretRef", re.Rule)
			}
			return SecretRef{}, validation.Field("secretRef", "the parts do not make a valid reference for this store")
		}
		field = "secretRef"
	}
	ref, err := store.ParseRef(raw)
	if err != nil {
		var re *secretstore.RefError
		if errors.As(err, &re) {
			return SecretRef{}, validation.Field(field, re.Rule)
		}
		return SecretRef{}, validation.Field(field, "is not a valid reference for this store")
	}
	if err := s.access.CheckGrant(ctx, p, info.ID, info.Name, ref.Name); err != nil {
		return SecretRef{}, err
	}
	display := raw
	if d, ok := store.(secretstore.RefDisplayer); ok {
		display = d.DisplayRef(ref)
	}
	var meta secretstore.Meta
	if st, ok := store.(secretstore.Stater); ok {
		meta, err = st.Stat(ctx, ref)
	} else {
		var sec secretstore.Secret
		sec, err = store.Get(ctx, ref)
		meta = sec.Meta
	}
	if err != nil {
		return SecretRef{}, &SecretCheckError{Store: info.Name, Ref: display, Err: err}
	}
	return SecretRef{StoreID: info.ID, Store: info.Name, Ref: raw, Enabled: meta.Enabled,
		ExpiresAt: meta.ExpiresAt, CheckedAt: s.now().UTC()}, nil
}

// fieldRule is the shape of a secret's property name.
var fieldRule = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9_]{0,63}$`)

func checkFieldInput(ve *validation.Error, in FieldInput) {
	if strings.TrimSpace(in.Store) == "" {
		ve.Add("fromStore.store", "is required")
	}
	switch {
	case strings.TrimSpace(in.Ref) == "":
		ve.Add("fromStore.ref", "is required")
	case len(in.Ref) > MaxRefLen:
		ve.Add("fromStore.ref", fmt.Sprintf("must be at most %d characters", MaxRefLen))
	}
	switch {
	case !fieldRule.MatchString(in.Field):
		ve.Add("fromStore.field", "must name a property of the secret, such as UserName (letters, digits and '_')")
	case strings.EqualFold(in.Field, "Content") || strings.EqualFold(in.Field, "Password"):
		ve.Add("fromStore.field", "names the password: read it with a secret variable")
	}
}

// checkField checks that p's store grants cover the referenced secret, and
// that the store returns the named property with it (reading the secret
// and dropping its value). The property's name is kept as the store spells
// it.
func (s *Service) checkField(ctx context.Context, p access.Principal, in FieldInput) (StoreField, error) {
	store, info, err := s.stores.Lookup(in.Store)
	if err != nil {
		return StoreField{}, &SecretCheckError{Store: in.Store, Ref: in.Ref, Err: err, Input: "fromStore"}
	}
	ref, err := store.ParseRef(in.Ref)
	if err != nil {
		var re *secretstore.RefError
		if errors.As(err, &re) {
			return StoreField{}, validation.Field("fromStore.ref", re.Rule)
		}
		return StoreField{}, validation.Field("fromStore.ref", "is not a valid reference for this store")
	}
	if err := s.access.CheckGrant(ctx, p, info.ID, info.Name, ref.Name); err != nil {
		return StoreField{}, err
	}
	var meta secretstore.Meta
	if st, ok := store.(secretstore.Stater); ok {
		meta, err = st.Stat(ctx, ref)
	} else {
		var sec secretstore.Secret
		sec, err = store.Get(ctx, ref)
		meta = sec.Meta
	}
	if err != nil {
		return StoreField{}, &SecretCheckError{Store: info.Name, Ref: in.Ref, Err: err, Input: "fromStore"}
	}
	if len(meta.Props) == 0 {
		return StoreField{}, validation.Field("fromStore.store", fmt.Sprintf("store %q keeps no properties besides a secret's value", info.Name))
	}
	name, ok := PropName(meta.Props, in.Field)
	if !ok {
		names := make([]string, 0, len(meta.Props))
		for k := range meta.Props {
			names = append(names, k)
		}
		sort.Strings(names)
		return StoreField{}, validation.Field("fromStore.field", fmt.Sprintf("the secret has no property %s; it has %s", in.Field, strings.Join(names, ", ")))
	}
	return StoreField{StoreID: info.ID, Store: info.Name, Ref: in.Ref, Field: name}, nil
}

// PropName finds field among a secret's properties, whose names compare
// without case, and returns it as the store spells it.
func PropName(props map[string]string, field string) (string, bool) {
	if _, ok := props[field]; ok {
		return field, true
	}
	for k := range props {
		if strings.EqualFold(k, field) {
			return k, true
		}
	}
	return "", false
}

// StateRecorder is implemented by repositories that can keep what a later
// read learned of a secret variable's secret. It writes only while the
// variable still references the store and ref in state (a variable pointed
// elsewhere meanwhile keeps its own state), and it is no change that needs
// an audit record.
type StateRecorder interface {
	RecordSecretState(ctx context.Context, id string, state SecretRef) error
}

// Observe records what a read of v's secret returned (meta when readErr is
// nil): the secret's enabled flag and expiry, or the refusal that took
// their place. A failure that says nothing of the secret (see ProblemOf)
// records nothing. Unless always, a read that tells nothing new records
// nothing either, so that resolves do not write; the periodic check
// passes always, to say when the secret was last seen. A successful read
// of a variable pending validation validates it (the periodic check of a
// connection that uses it is the background retry of an import's deferred
// validation); a failed one leaves it pending. It reports whether it
// wrote.
func (s *Service) Observe(ctx context.Context, v Variable, meta secretstore.Meta, readErr error, always bool) (bool, error) {
	rec, ok := s.repo.(StateRecorder)
	if !ok || v.Type != TypeSecret || v.Secret == nil {
		return false, nil
	}
	problem, meaningful := ProblemOf(readErr)
	if !meaningful {
		return false, nil
	}
	known := *v.Secret
	s.recordedMu.Lock()
	if r, ok := s.recorded[v.ID]; ok && r.StoreID == known.StoreID && r.Ref == known.Ref && r.CheckedAt.After(known.CheckedAt) {
		known = r
	}
	s.recordedMu.Unlock()
	if known.Problem == StatusPendingValidation && problem != "" {
		// Only a successful read completes a pending validation; a failed
		// one leaves it pending.
		return false, nil
	}
	next := known
	next.Problem = problem
	if problem == "" {
		next.Enabled, next.ExpiresAt = meta.Enabled, meta.ExpiresAt.UTC()
	}
	if !always && !known.CheckedAt.IsZero() && next.Problem == known.Problem && next.Enabled == known.Enabled &&
		next.ExpiresAt.Equal(known.ExpiresAt) {
		return false, nil
	}
	next.CheckedAt = s.now().UTC()
	if err := rec.RecordSecretState(ctx, v.ID, next); err != nil {
		return false, fmt.Errorf("record the state of %s's secret: %w", v.SchemaName, err)
	}
	s.recordedMu.Lock()
	if len(s.recorded) >= maxRecorded {
		clear(s.recorded)
	}
	s.recorded[v.ID] = next
	s.recordedMu.Unlock()
	return true, nil
}

// Get returns a variable p may see, by id or schema name.
func (s *Service) Get(ctx context.Context, p access.Principal, idOrName string) (Variable, error) {
	return s.get(ctx, p, idOrName, "variable.read", access.ObjectRole.CanUse)
}

// List returns a page of the variables p may see, ordered by creation.
func (s *Service) List(ctx context.Context, p access.Principal, q ListQuery) ([]Variable, error) {
	if q.Type != "" && q.Type != TypeText && q.Type != TypeSecret {
		return nil, validation.Field("type", fmt.Sprintf("must be text or secret, not %q", q.Type))
	}
	q.Viewer = s.access.ViewerOf(p)
	return s.repo.List(ctx, q)
}

// UpdateInput changes a variable; nil fields stay as they are. SchemaName
// and Type cannot change: giving a different one is an ImmutableError.
type UpdateInput struct {
	SchemaName  *string
	Type        *Type
	DisplayName *string
	Description *string
	Value       *string
	Secret      *SecretInput
}

// Update applies in to the variable idOrName; p must be an owner or
// co-owner.
func (s *Service) Update(ctx context.Context, p access.Principal, idOrName string, in UpdateInput) (Variable, error) {
	v, err := s.get(ctx, p, idOrName, "variable.update", access.ObjectRole.CanEdit)
	if err != nil {
		return Variable{}, err
	}
	if in.SchemaName != nil && !strings.EqualFold(*in.SchemaName, v.SchemaName) {
		return Variable{}, &validation.ImmutableError{Field: "schemaName", Hint: "A schema name is fixed at creation; create a new variable instead."}
	}
	if in.Type != nil && *in.Type != v.Type {
		return Variable{}, &validation.ImmutableError{Field: "type", Hint: "A variable's type is fixed at creation; create a new variable instead."}
	}
	var ve validation.Error
	if in.DisplayName != nil {
		checkDisplayName(&ve, *in.DisplayName)
		v.DisplayName = *in.DisplayName
	}
	if in.Description != nil {
		checkDescription(&ve, *in.Description)
		v.Description = *in.Description
	}
	if in.Value != nil {
		switch {
		case v.Type != TypeText:
			ve.Add("value", "a secret variable holds no value: change secretRef, or put a new version in the store")
		case v.From != nil:
			ve.Add("value", "this variable follows "+v.From.Field+" of "+v.From.Ref+" in store "+v.From.Store+": change it there")
		default:
			checkTextValue(&ve, *in.Value)
			v.Value = *in.Value
		}
	}
	if in.Secret != nil {
		if v.Type != TypeSecret {
			ve.Add("secretRef", "is only for secret variables")
		} else {
			checkSecretInput(&ve, *in.Secret)
		}
	}
	if err := ve.Err(); err != nil {
		return Variable{}, err
	}
	if in.Secret != nil {
		ref, err := s.checkSecret(ctx, p, *in.Secret)
		if err != nil {
			return Variable{}, err
		}
		v.Secret = &ref
	}
	v.UpdatedAt = s.now().UTC()
	if err := s.repo.Update(ctx, v, entry(p, "variable.update", v, "")); err != nil {
		return Variable{}, fmt.Errorf("update environment variable %s: %w", v.SchemaName, err)
	}
	return s.repo.Get(ctx, v.ID)
}

// Delete removes a variable no credential uses; p must be an owner or
// co-owner.
func (s *Service) Delete(ctx context.Context, p access.Principal, idOrName string) error {
	v, err := s.get(ctx, p, idOrName, "variable.delete", access.ObjectRole.CanEdit)
	if err != nil {
		return err
	}
	return s.repo.Delete(ctx, v.ID, entry(p, "variable.delete", v, ""))
}

// Dependencies lists what uses a variable p may see.
func (s *Service) Dependencies(ctx context.Context, p access.Principal, idOrName string) (Dependencies, error) {
	v, err := s.Get(ctx, p, idOrName)
	if err != nil {
		return Dependencies{}, err
	}
	return s.repo.Dependencies(ctx, v.ID)
}

// Share gives a principal a role on a variable p may share.
func (s *Service) Share(ctx context.Context, p access.Principal, idOrName string, in access.ShareInput) (access.Share, error) {
	v, err := s.Get(ctx, p, idOrName)
	if err != nil {
		return access.Share{}, err
	}
	return s.access.Share(ctx, p, Object(v), in)
}

// Unshare removes a principal's share of a variable: the direct one and
// those credential shares gave.
func (s *Service) Unshare(ctx context.Context, p access.Principal, idOrName, principal string) error {
	v, err := s.Get(ctx, p, idOrName)
	if err != nil {
		return err
	}
	_, err = s.access.Unshare(ctx, p, Object(v), principal, access.UnshareOptions{})
	return err
}

// Shares lists a variable's shares.
func (s *Service) Shares(ctx context.Context, p access.Principal, idOrName string) ([]access.Share, error) {
	v, err := s.Get(ctx, p, idOrName)
	if err != nil {
		return nil, err
	}
	return s.access.Shares(ctx, p, Object(v))
}

func checkSchemaName(ve *validation.Error, n string) {
	switch {
	case len(n) > MaxNameLen:
		ve.Add("schemaName", fmt.Sprintf("must be at most %d characters", MaxNameLen))
	case !schemaNameRule.MatchString(n):
		ve.Add("schemaName", "must start with a letter and contain only letters, digits and '_'")
	}
}

func checkDisplayName(ve *validation.Error, n string) {
	switch {
	case strings.TrimSpace(n) == "":
		ve.Add("displayName", "is required")
	case utf8.RuneCountInString(n) > MaxNameLen:
		ve.Add("displayName", fmt.Sprintf("must be at most %d characters", MaxNameLen))
	case validation.HasControl(n):
		ve.Add("displayName", validation.ControlRule)
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

func checkTextValue(ve *validation.Error, v string) {
	if utf8.RuneCountInString(v) > MaxTextValueLen {
		ve.Add("value", fmt.Sprintf("must be at most %d characters", MaxTextValueLen))
	}
}

func checkSecretInput(ve *validation.Error, in SecretInput) {
	if strings.TrimSpace(in.Store) == "" {
		ve.Add("secretRef.store", "is required")
	}
	switch {
	case in.Ref != "" && len(in.Fields) > 0:
		ve.Add("secretRef", "give either ref or its named parts, not both")
	case len(in.Fields) > 0:
	case strings.TrimSpace(in.Ref) == "":
		ve.Add("secretRef.ref", "is required")
	case len(in.Ref) > MaxRefLen:
		ve.Add("secretRef.ref", fmt.Sprintf("must be at most %d characters", MaxRefLen))
	}
}

// checkContent checks a variable's type and what it holds: a text value or
// the store property it follows, or a secret reference. valueKept says the
// variable exists with a text value of its own, which an absent value keeps.
func checkContent(ve *validation.Error, in CreateInput, valueKept bool) {
	switch in.Type {
	case TypeText:
		switch {
		case in.FromStore != nil && in.Value != nil:
			ve.Add("value", "a text variable that follows a store holds no value: give value or fromStore, not both")
		case in.FromStore != nil:
			checkFieldInput(ve, *in.FromStore)
		case in.Value == nil && !valueKept:
			ve.Add("value", "is required for a text variable (or fromStore, to follow a property of a store's secret)")
		case in.Value != nil:
			checkTextValue(ve, *in.Value)
		}
		if in.Secret != nil {
			ve.Add("secretRef", "is only for secret variables")
		}
	case TypeSecret:
		if in.FromStore != nil {
			ve.Add("fromStore", "is only for text variables: a secret variable names its secret in secretRef")
		}
		if in.Value != nil {
			ve.Add("value", "a secret variable holds no value: give secretRef, and put the value in the store")
		}
		if in.Secret == nil {
			ve.Add("secretRef", "is required for a secret variable")
		} else {
			checkSecretInput(ve, *in.Secret)
		}
	case "":
		ve.Add("type", "is required: text or secret")
	default:
		ve.Add("type", fmt.Sprintf("must be text or secret, not %q", in.Type))
	}
}
