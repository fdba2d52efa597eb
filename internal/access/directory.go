package access

import (
	"context"
	"fmt"
	"regexp"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/credflow/credflow/internal/audit"
	"github.com/credflow/credflow/internal/validation"
)

// Where a user came from.
const (
	SourceLocal = "local"
	SourceOIDC  = "oidc"
)

// User is a person or machine known to credflow.
type User struct {
	ID          string
	Name        string
	DisplayName string
	Role        Role
	Source      string
	// RunnerGroupID places a runner in its runner group ("" for others).
	RunnerGroupID string
	RunnerGroup   string // the group's name, filled by the repository
	CreatedAt     time.Time
}

// RunnerGroup is a set of runners: the machines one connection may be
// resolved from.
type RunnerGroup struct {
	ID        string
	Name      string
	CreatedAt time.Time
}

// Group is a named set of users.
type Group struct {
	ID        string
	Name      string
	CreatedAt time.Time
}

// Repository is the storage access needs. Every method that changes
// something takes the audit entry that describes the change and writes it in
// the same transaction.
type Repository interface {
	// Bootstrap creates u and t in one transaction if no user exists yet and
	// reports whether it did.
	Bootstrap(ctx context.Context, u User, t TokenRecord) (bool, error)

	CreateUser(ctx context.Context, u User, e audit.Entry) error
	User(ctx context.Context, idOrName string) (User, error)
	// UserByName finds a user by name only (case-insensitive), never by id.
	UserByName(ctx context.Context, name string) (User, error)
	Users(ctx context.Context, after string, limit int) ([]User, error)
	UpdateUser(ctx context.Context, u User, e audit.Entry) error
	DeleteUser(ctx context.Context, id string, e audit.Entry) error

	CreateGroup(ctx context.Context, g Group, e audit.Entry) error
	Group(ctx context.Context, idOrName string) (Group, error)
	Groups(ctx context.Context, after string, limit int) ([]Group, error)
	GroupsByName(ctx context.Context, names []string) ([]Group, error)
	DeleteGroup(ctx context.Context, id string, e audit.Entry) error
	AddMember(ctx context.Context, groupID, userID string, e audit.Entry) error
	RemoveMember(ctx context.Context, groupID, userID string, e audit.Entry) error
	Members(ctx context.Context, groupID string) ([]User, error)
	// GroupIDsOf returns every group the user is in: added by an admin or
	// asserted by the identity provider.
	GroupIDsOf(ctx context.Context, userID string) ([]string, error)
	// OIDCGroupIDsOf returns the groups the identity provider named at the
	// user's last sign-in; SetOIDCGroups replaces them.
	OIDCGroupIDsOf(ctx context.Context, userID string) ([]string, error)
	SetOIDCGroups(ctx context.Context, userID string, groupIDs []string, e audit.Entry) error

	CreateRunnerGroup(ctx context.Context, g RunnerGroup, e audit.Entry) error
	RunnerGroup(ctx context.Context, idOrName string) (RunnerGroup, error)
	RunnerGroups(ctx context.Context, after string, limit int) ([]RunnerGroup, error)
	DeleteRunnerGroup(ctx context.Context, id string, e audit.Entry) error

	CreateToken(ctx context.Context, t TokenRecord, e audit.Entry) error
	// Token returns a token and its user, or an error wrapping ErrNotFound.
	Token(ctx context.Context, id string) (TokenRecord, User, error)
	Tokens(ctx context.Context, userID string) ([]TokenRecord, error)
	TouchToken(ctx context.Context, id string, at time.Time) error
	RevokeToken(ctx context.Context, id string, at time.Time, e audit.Entry) error

	PutGrant(ctx context.Context, g Grant, e audit.Entry) error
	DeleteGrant(ctx context.Context, storeID string, p PrincipalRef, e audit.Entry) error
	Grants(ctx context.Context, storeID string) ([]Grant, error)

	// Shares lists an object's shares, expired ones included, and for a
	// variable those that credential shares gave (Via set).
	Shares(ctx context.Context, kind ObjectKind, objectID string) ([]Share, error)
	// ChangeShares runs one write transaction that holds obj's lock (two
	// changes of one object's shares never interleave): it reads the
	// shares of obj and of the related objects, passes them to decide,
	// then deletes and writes what decide returns and appends its audit
	// entry. An error from decide is returned as is and nothing changes.
	ChangeShares(ctx context.Context, obj Object, related []Object, decide func(current []Share) (ShareChange, error)) error

	// Record appends audit entries in a transaction of their own.
	Record(ctx context.Context, entries ...audit.Entry) error

	Owners

	// Generation identifies the state of the data; cached answers are good
	// while it is unchanged. ok=false forbids caching.
	Generation() (gen uint64, ok bool)
}

var (
	principalNameRule = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._@+-]{0,99}$`)
	// idShape matches what ids look like; a name of that shape could be
	// taken for another principal's id wherever "id or name" is accepted.
	idShape = regexp.MustCompile(`^[0-9a-fA-F]{8}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{12}$`)
)

// principalNameProblem says what is wrong with a user or group name, or "".
func principalNameProblem(name string) string {
	switch {
	case !principalNameRule.MatchString(name):
		return "must be 1-100 characters of letters, digits, '.', '_', '@', '+' and '-', starting with a letter or digit"
	case idShape.MatchString(name):
		return "must not look like an id"
	}
	return ""
}

func checkPrincipalName(ve *validation.Error, field, name string) {
	if msg := principalNameProblem(name); msg != "" {
		ve.Add(field, msg)
	}
}

// CreateUserInput describes a new user.
type CreateUserInput struct {
	Name        string
	DisplayName string
	Role        Role
	RunnerGroup string // id or name; only for runners (one without a group resolves nothing)
}

// runnerGroupFor checks the runner-group rule and returns the group's id.
func (s *Service) runnerGroupFor(ctx context.Context, ve *validation.Error, role Role, group string) string {
	switch {
	case role != RoleRunner && group != "":
		ve.Add("runnerGroup", "is only for runners")
	case group != "":
		g, err := s.repo.RunnerGroup(ctx, group)
		if err != nil {
			ve.Add("runnerGroup", fmt.Sprintf("names no runner group (%q)", group))
			return ""
		}
		return g.ID
	}
	return ""
}

func checkDisplayName(ve *validation.Error, n string) {
	switch {
	case utf8.RuneCountInString(n) > 100:
		ve.Add("displayName", "must be at most 100 characters")
	case validation.HasControl(n):
		ve.Add("displayName", validation.ControlRule)
	}
}

// CreateUser adds a user (admins only, checked by the route).
func (s *Service) CreateUser(ctx context.Context, p Principal, in CreateUserInput) (User, error) {
	var ve validation.Error
	checkPrincipalName(&ve, "name", in.Name)
	checkDisplayName(&ve, in.DisplayName)
	if !in.Role.Valid() {
		ve.Add("role", "must be admin, maker or runner")
	}
	groupID := s.runnerGroupFor(ctx, &ve, in.Role, in.RunnerGroup)
	if err := ve.Err(); err != nil {
		return User{}, err
	}
	u := User{ID: newID(), Name: in.Name, DisplayName: in.DisplayName, Role: in.Role, Source: SourceLocal,
		RunnerGroupID: groupID, CreatedAt: s.now().UTC()}
	if err := s.repo.CreateUser(ctx, u, audit.Entry{Actor: p.Name, Action: "user.create", Resource: "user:" + u.Name,
		Outcome: audit.Success, Reason: "role " + string(u.Role)}); err != nil {
		return User{}, fmt.Errorf("create user: %w", err)
	}
	return s.repo.User(ctx, u.ID)
}

// User returns a user by id or name.
func (s *Service) User(ctx context.Context, idOrName string) (User, error) {
	return s.repo.User(ctx, idOrName)
}

// Users lists users by id.
func (s *Service) Users(ctx context.Context, after string, limit int) ([]User, error) {
	return s.repo.Users(ctx, after, limit)
}

// UpdateUserInput changes a user; nil fields stay.
type UpdateUserInput struct {
	DisplayName *string
	Role        *Role
	RunnerGroup *string
}

// UpdateUser changes a user's display name or role.
func (s *Service) UpdateUser(ctx context.Context, p Principal, idOrName string, in UpdateUserInput) (User, error) {
	u, err := s.repo.User(ctx, idOrName)
	if err != nil {
		return User{}, err
	}
	var ve validation.Error
	if in.DisplayName != nil {
		checkDisplayName(&ve, *in.DisplayName)
		u.DisplayName = *in.DisplayName
	}
	if in.Role != nil {
		if !in.Role.Valid() {
			ve.Add("role", "must be admin, maker or runner")
		}
		if u.ID == p.ID && *in.Role != RoleAdmin {
			ve.Add("role", "an admin cannot take away their own admin role")
		}
		u.Role = *in.Role
	}
	group := u.RunnerGroupID
	if in.RunnerGroup != nil {
		group = *in.RunnerGroup
	} else if u.Role != RoleRunner {
		group = "" // a runner made a maker leaves its group
	}
	u.RunnerGroupID = s.runnerGroupFor(ctx, &ve, u.Role, group)
	if err := ve.Err(); err != nil {
		return User{}, err
	}
	if err := s.repo.UpdateUser(ctx, u, audit.Entry{Actor: p.Name, Action: "user.update", Resource: "user:" + u.Name,
		Outcome: audit.Success, Reason: "role " + string(u.Role)}); err != nil {
		return User{}, fmt.Errorf("update user: %w", err)
	}
	return s.repo.User(ctx, u.ID)
}

// DeleteUser removes a user who owns nothing (as owner of record or through
// the owner role); their tokens go with them. DeleteUserHandingOver deletes
// one who does.
func (s *Service) DeleteUser(ctx context.Context, p Principal, idOrName string) error {
	u, err := s.repo.User(ctx, idOrName)
	if err != nil {
		return err
	}
	if u.ID == p.ID {
		return validation.Field("user", "an admin cannot delete their own user")
	}
	if err := s.ownsNothing(ctx, u); err != nil {
		return err
	}
	return s.repo.DeleteUser(ctx, u.ID, audit.Entry{Actor: p.Name, Action: "user.delete", Resource: "user:" + u.Name, Outcome: audit.Success})
}

// CreateGroup adds a group.
func (s *Service) CreateGroup(ctx context.Context, p Principal, name string) (Group, error) {
	var ve validation.Error
	checkPrincipalName(&ve, "name", name)
	if err := ve.Err(); err != nil {
		return Group{}, err
	}
	g := Group{ID: newID(), Name: name, CreatedAt: s.now().UTC()}
	if err := s.repo.CreateGroup(ctx, g, audit.Entry{Actor: p.Name, Action: "group.create", Resource: "group:" + g.Name, Outcome: audit.Success}); err != nil {
		return Group{}, fmt.Errorf("create group: %w", err)
	}
	return g, nil
}

// Group returns a group by id or name.
func (s *Service) Group(ctx context.Context, idOrName string) (Group, error) {
	return s.repo.Group(ctx, idOrName)
}

// Groups lists groups by id.
func (s *Service) Groups(ctx context.Context, after string, limit int) ([]Group, error) {
	return s.repo.Groups(ctx, after, limit)
}

// DeleteGroup removes a group, its memberships, shares and grants.
func (s *Service) DeleteGroup(ctx context.Context, p Principal, idOrName string) error {
	g, err := s.repo.Group(ctx, idOrName)
	if err != nil {
		return err
	}
	return s.repo.DeleteGroup(ctx, g.ID, audit.Entry{Actor: p.Name, Action: "group.delete", Resource: "group:" + g.Name, Outcome: audit.Success})
}

// AddMember puts a user in a group.
func (s *Service) AddMember(ctx context.Context, p Principal, group, user string) error {
	g, u, err := s.groupAndUser(ctx, group, user)
	if err != nil {
		return err
	}
	return s.repo.AddMember(ctx, g.ID, u.ID, audit.Entry{Actor: p.Name, Action: "group.member.add",
		Resource: "group:" + g.Name + " user:" + u.Name, Outcome: audit.Success})
}

// RemoveMember takes a user out of a group.
func (s *Service) RemoveMember(ctx context.Context, p Principal, group, user string) error {
	g, u, err := s.groupAndUser(ctx, group, user)
	if err != nil {
		return err
	}
	return s.repo.RemoveMember(ctx, g.ID, u.ID, audit.Entry{Actor: p.Name, Action: "group.member.remove",
		Resource: "group:" + g.Name + " user:" + u.Name, Outcome: audit.Success})
}

// Members lists a group's users.
func (s *Service) Members(ctx context.Context, group string) ([]User, error) {
	g, err := s.repo.Group(ctx, group)
	if err != nil {
		return nil, err
	}
	return s.repo.Members(ctx, g.ID)
}

func (s *Service) groupAndUser(ctx context.Context, group, user string) (Group, User, error) {
	g, err := s.repo.Group(ctx, group)
	if err != nil {
		return Group{}, User{}, err
	}
	u, err := s.repo.User(ctx, strings.TrimPrefix(user, "user:"))
	return g, u, err
}

// CreateRunnerGroup adds a runner group.
func (s *Service) CreateRunnerGroup(ctx context.Context, p Principal, name string) (RunnerGroup, error) {
	var ve validation.Error
	checkPrincipalName(&ve, "name", name)
	if err := ve.Err(); err != nil {
		return RunnerGroup{}, err
	}
	g := RunnerGroup{ID: newID(), Name: name, CreatedAt: s.now().UTC()}
	if err := s.repo.CreateRunnerGroup(ctx, g, audit.Entry{Actor: p.Name, Action: "runner-group.create", Resource: "runner-group:" + name, Outcome: audit.Success}); err != nil {
		return RunnerGroup{}, fmt.Errorf("create runner group: %w", err)
	}
	return g, nil
}

// RunnerGroup returns a runner group by id or name.
func (s *Service) RunnerGroup(ctx context.Context, idOrName string) (RunnerGroup, error) {
	return s.repo.RunnerGroup(ctx, idOrName)
}

// RunnerGroups lists runner groups by id.
func (s *Service) RunnerGroups(ctx context.Context, after string, limit int) ([]RunnerGroup, error) {
	return s.repo.RunnerGroups(ctx, after, limit)
}

// DeleteRunnerGroup removes a runner group no runner or connection uses.
func (s *Service) DeleteRunnerGroup(ctx context.Context, p Principal, idOrName string) error {
	g, err := s.repo.RunnerGroup(ctx, idOrName)
	if err != nil {
		return err
	}
	return s.repo.DeleteRunnerGroup(ctx, g.ID, audit.Entry{Actor: p.Name, Action: "runner-group.delete", Resource: "runner-group:" + g.Name, Outcome: audit.Success})
}
