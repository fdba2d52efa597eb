package client

import (
	"context"
	"net/http"
	"time"
)

// Role is an instance role: what a user may do on the whole instance.
type Role string

// The instance roles.
const (
	// RoleAdmin manages stores, users, groups, grants and the audit trail,
	// and sees everything.
	RoleAdmin Role = "admin"
	// RoleMaker creates variables, credentials and connections.
	RoleMaker Role = "maker"
	// RoleRunner only resolves connections, from its runner group.
	RoleRunner Role = "runner"
)

// Me is the caller as the server sees them.
type Me struct {
	ID   string `json:"id"`
	Name string `json:"name"`
	Role Role   `json:"role"`
	// Groups are the names of the caller's groups.
	Groups []string `json:"groups"`
}

// User is a person or a machine known to credflow.
type User struct {
	ID          string `json:"id"`
	Name        string `json:"name"`
	DisplayName string `json:"displayName"`
	Role        Role   `json:"role"`
	// RunnerGroup is a runner's runner group, by name ("" for others).
	RunnerGroup string `json:"runnerGroup,omitempty"`
	// Source says where the user came from: "local" or "oidc".
	Source    string    `json:"source"`
	CreatedAt time.Time `json:"createdAt"`
}

// CreateUserRequest describes a new user. RunnerGroup (an id or name) places
// a runner in its runner group; it is only for RoleRunner.
type CreateUserRequest struct {
	Name        string `json:"name"`
	DisplayName string `json:"displayName,omitempty"`
	Role        Role   `json:"role"`
	RunnerGroup string `json:"runnerGroup,omitempty"`
}

// UpdateUserRequest changes the fields that are not nil. A RunnerGroup of ""
// takes a runner out of its group.
type UpdateUserRequest struct {
	DisplayName *string `json:"displayName,omitempty"`
	Role        *Role   `json:"role,omitempty"`
	RunnerGroup *string `json:"runnerGroup,omitempty"`
}

// Group is a named set of users, to share with and grant to at once.
type Group struct {
	ID        string    `json:"id"`
	Name      string    `json:"name"`
	CreatedAt time.Time `json:"createdAt"`
}

// RunnerGroup is a set of runners: the machines a connection may be resolved
// from.
type RunnerGroup struct {
	ID        string    `json:"id"`
	Name      string    `json:"name"`
	CreatedAt time.Time `json:"createdAt"`
}

const (
	usersPath        = "/api/v1/users"
	groupsPath       = "/api/v1/groups"
	runnerGroupsPath = "/api/v1/runner-groups"
)

// Me returns the caller: name, instance role and groups.
func (c *Client) Me(ctx context.Context) (*Me, error) {
	var m Me
	if err := c.do(ctx, http.MethodGet, "/api/v1/me", nil, &m); err != nil {
		return nil, err
	}
	return &m, nil
}

// CreateUser creates a user (admins only).
func (c *Client) CreateUser(ctx context.Context, req CreateUserRequest) (*User, error) {
	var u User
	if err := c.do(ctx, http.MethodPost, usersPath, req, &u); err != nil {
		return nil, err
	}
	return &u, nil
}

// ListUsers returns one page of the users (admins only). opts.Type is
// ignored.
func (c *Client) ListUsers(ctx context.Context, opts ListOptions) (*Page[User], error) {
	var p Page[User]
	if err := c.do(ctx, http.MethodGet, usersPath+opts.query(false), nil, &p); err != nil {
		return nil, err
	}
	return &p, nil
}

// GetUser returns the user with this id or name (admins only).
func (c *Client) GetUser(ctx context.Context, idOrName string) (*User, error) {
	if err := need("user id or name", idOrName); err != nil {
		return nil, err
	}
	var u User
	if err := c.do(ctx, http.MethodGet, usersPath+"/"+escape(idOrName), nil, &u); err != nil {
		return nil, err
	}
	return &u, nil
}

// UpdateUser changes the fields of req that are set and returns the user as
// saved (admins only).
func (c *Client) UpdateUser(ctx context.Context, idOrName string, req UpdateUserRequest) (*User, error) {
	if err := need("user id or name", idOrName); err != nil {
		return nil, err
	}
	var u User
	if err := c.do(ctx, http.MethodPatch, usersPath+"/"+escape(idOrName), req, &u); err != nil {
		return nil, err
	}
	return &u, nil
}

// DeleteUser deletes a user who owns nothing, with their tokens (admins
// only). The server refuses (409 in_use) while they own objects.
func (c *Client) DeleteUser(ctx context.Context, idOrName string) error {
	if err := need("user id or name", idOrName); err != nil {
		return err
	}
	return c.do(ctx, http.MethodDelete, usersPath+"/"+escape(idOrName), nil, nil)
}

// CreateGroup creates a group (admins only).
func (c *Client) CreateGroup(ctx context.Context, name string) (*Group, error) {
	body := struct {
		Name string `json:"name"`
	}{name}
	var g Group
	if err := c.do(ctx, http.MethodPost, groupsPath, body, &g); err != nil {
		return nil, err
	}
	return &g, nil
}

// ListGroups returns one page of the groups (admins only). opts.Type is
// ignored.
func (c *Client) ListGroups(ctx context.Context, opts ListOptions) (*Page[Group], error) {
	var p Page[Group]
	if err := c.do(ctx, http.MethodGet, groupsPath+opts.query(false), nil, &p); err != nil {
		return nil, err
	}
	return &p, nil
}

// GetGroup returns the group with this id or name (admins only).
func (c *Client) GetGroup(ctx context.Context, idOrName string) (*Group, error) {
	if err := need("group id or name", idOrName); err != nil {
		return nil, err
	}
	var g Group
	if err := c.do(ctx, http.MethodGet, groupsPath+"/"+escape(idOrName), nil, &g); err != nil {
		return nil, err
	}
	return &g, nil
}

// DeleteGroup deletes a group with its memberships, shares and grants
// (admins only).
func (c *Client) DeleteGroup(ctx context.Context, idOrName string) error {
	if err := need("group id or name", idOrName); err != nil {
		return err
	}
	return c.do(ctx, http.MethodDelete, groupsPath+"/"+escape(idOrName), nil, nil)
}

// GroupMembers lists a group's members (admins only).
func (c *Client) GroupMembers(ctx context.Context, group string) ([]User, error) {
	if err := need("group id or name", group); err != nil {
		return nil, err
	}
	var p Page[User]
	if err := c.do(ctx, http.MethodGet, groupsPath+"/"+escape(group)+"/members", nil, &p); err != nil {
		return nil, err
	}
	return p.Items, nil
}

// AddGroupMember adds a user (id or name) to a group (admins only). Adding a
// member twice is not an error.
func (c *Client) AddGroupMember(ctx context.Context, group, user string) error {
	if err := memberPathOK(group, user); err != nil {
		return err
	}
	return c.do(ctx, http.MethodPut, memberPath(group, user), nil, nil)
}

// RemoveGroupMember removes a user from a group (admins only).
func (c *Client) RemoveGroupMember(ctx context.Context, group, user string) error {
	if err := memberPathOK(group, user); err != nil {
		return err
	}
	return c.do(ctx, http.MethodDelete, memberPath(group, user), nil, nil)
}

func memberPathOK(group, user string) error {
	if err := need("group id or name", group); err != nil {
		return err
	}
	return need("user id or name", user)
}

func memberPath(group, user string) string {
	return groupsPath + "/" + escape(group) + "/members/" + escape(user)
}

// CreateRunnerGroup creates a runner group (admins only).
func (c *Client) CreateRunnerGroup(ctx context.Context, name string) (*RunnerGroup, error) {
	body := struct {
		Name string `json:"name"`
	}{name}
	var g RunnerGroup
	if err := c.do(ctx, http.MethodPost, runnerGroupsPath, body, &g); err != nil {
		return nil, err
	}
	return &g, nil
}

// ListRunnerGroups returns one page of the runner groups. opts.Type is
// ignored.
func (c *Client) ListRunnerGroups(ctx context.Context, opts ListOptions) (*Page[RunnerGroup], error) {
	var p Page[RunnerGroup]
	if err := c.do(ctx, http.MethodGet, runnerGroupsPath+opts.query(false), nil, &p); err != nil {
		return nil, err
	}
	return &p, nil
}

// GetRunnerGroup returns the runner group with this id or name.
func (c *Client) GetRunnerGroup(ctx context.Context, idOrName string) (*RunnerGroup, error) {
	if err := need("runner group id or name", idOrName); err != nil {
		return nil, err
	}
	var g RunnerGroup
	if err := c.do(ctx, http.MethodGet, runnerGroupsPath+"/"+escape(idOrName), nil, &g); err != nil {
		return nil, err
	}
	return &g, nil
}

// DeleteRunnerGroup deletes a runner group (admins only).
func (c *Client) DeleteRunnerGroup(ctx context.Context, idOrName string) error {
	if err := need("runner group id or name", idOrName); err != nil {
		return err
	}
	return c.do(ctx, http.MethodDelete, runnerGroupsPath+"/"+escape(idOrName), nil, nil)
}
