package httpapi

import (
	"net/http"
	"time"

	"github.com/credflow/credflow/internal/access"
)

type userJSON struct {
	ID          string    `json:"id"`
	Name        string    `json:"name"`
	DisplayName string    `json:"displayName"`
	Role        string    `json:"role"`
	Source      string    `json:"source"`
	RunnerGroup string    `json:"runnerGroup,omitempty"`
	CreatedAt   time.Time `json:"createdAt"`
}

type userList struct {
	Items      []userJSON `json:"items"`
	NextCursor string     `json:"nextCursor,omitempty"`
}

type createUserRequest struct {
	Name        string `json:"name"`
	DisplayName string `json:"displayName,omitempty"`
	Role        string `json:"role"`
	RunnerGroup string `json:"runnerGroup,omitempty"`
}

type updateUserRequest struct {
	DisplayName *string `json:"displayName,omitempty"`
	Role        *string `json:"role,omitempty"`
	RunnerGroup *string `json:"runnerGroup,omitempty"`
}

type groupJSON struct {
	ID        string    `json:"id"`
	Name      string    `json:"name"`
	CreatedAt time.Time `json:"createdAt"`
}

type groupList struct {
	Items      []groupJSON `json:"items"`
	NextCursor string      `json:"nextCursor,omitempty"`
}

type createGroupRequest struct {
	Name string `json:"name"`
}

type meJSON struct {
	ID          string   `json:"id"`
	Name        string   `json:"name"`
	DisplayName string   `json:"displayName"`
	Role        string   `json:"role"`
	RunnerGroup string   `json:"runnerGroup,omitempty"`
	Groups      []string `json:"groups"`
}

func toUserJSON(u access.User) userJSON {
	return userJSON{ID: u.ID, Name: u.Name, DisplayName: u.DisplayName, Role: string(u.Role), Source: u.Source,
		RunnerGroup: u.RunnerGroup, CreatedAt: u.CreatedAt}
}

func toGroupJSON(g access.Group) groupJSON {
	return groupJSON{ID: g.ID, Name: g.Name, CreatedAt: g.CreatedAt}
}

func (a *API) me(w http.ResponseWriter, r *http.Request) error {
	p := principal(r)
	out := meJSON{ID: p.ID, Name: p.Name, Role: string(p.Role), Groups: []string{}}
	if u, err := a.Access.User(r.Context(), p.ID); err == nil {
		out.DisplayName, out.RunnerGroup = u.DisplayName, u.RunnerGroup
	}
	for _, id := range p.Groups {
		if g, err := a.Access.Group(r.Context(), id); err == nil {
			out.Groups = append(out.Groups, g.Name)
		}
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

func (a *API) createUser(w http.ResponseWriter, r *http.Request) error {
	var req createUserRequest
	if err := decodeJSON(r, &req); err != nil {
		return err
	}
	u, err := a.Access.CreateUser(r.Context(), principal(r), access.CreateUserInput{Name: req.Name, DisplayName: req.DisplayName,
		Role: access.Role(req.Role), RunnerGroup: req.RunnerGroup})
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, toUserJSON(u))
	return nil
}

func (a *API) listUsers(w http.ResponseWriter, r *http.Request) error {
	limit, after, err := pageQuery(r)
	if err != nil {
		return err
	}
	users, err := a.Access.Users(r.Context(), after, limit+1)
	if err != nil {
		return err
	}
	out := userList{Items: []userJSON{}}
	out.NextCursor = page(users, limit, func(u access.User) string { return u.ID }, func(u access.User) {
		out.Items = append(out.Items, toUserJSON(u))
	})
	writeJSON(w, http.StatusOK, out)
	return nil
}

func (a *API) getUser(w http.ResponseWriter, r *http.Request) error {
	u, err := a.Access.User(r.Context(), r.PathValue("user"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, toUserJSON(u))
	return nil
}

func (a *API) updateUser(w http.ResponseWriter, r *http.Request) error {
	var req updateUserRequest
	if err := decodeJSON(r, &req); err != nil {
		return err
	}
	in := access.UpdateUserInput{DisplayName: req.DisplayName, RunnerGroup: req.RunnerGroup}
	if req.Role != nil {
		role := access.Role(*req.Role)
		in.Role = &role
	}
	u, err := a.Access.UpdateUser(r.Context(), principal(r), r.PathValue("user"), in)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, toUserJSON(u))
	return nil
}

func (a *API) deleteUser(w http.ResponseWriter, r *http.Request) error {
	var err error
	if q := r.URL.Query(); q.Has("transferTo") {
		err = a.Access.DeleteUserHandingOver(r.Context(), principal(r), r.PathValue("user"), q.Get("transferTo"))
	} else {
		err = a.Access.DeleteUser(r.Context(), principal(r), r.PathValue("user"))
	}
	if err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (a *API) createGroup(w http.ResponseWriter, r *http.Request) error {
	var req createGroupRequest
	if err := decodeJSON(r, &req); err != nil {
		return err
	}
	g, err := a.Access.CreateGroup(r.Context(), principal(r), req.Name)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, toGroupJSON(g))
	return nil
}

func (a *API) listGroups(w http.ResponseWriter, r *http.Request) error {
	limit, after, err := pageQuery(r)
	if err != nil {
		return err
	}
	groups, err := a.Access.Groups(r.Context(), after, limit+1)
	if err != nil {
		return err
	}
	out := groupList{Items: []groupJSON{}}
	out.NextCursor = page(groups, limit, func(g access.Group) string { return g.ID }, func(g access.Group) {
		out.Items = append(out.Items, toGroupJSON(g))
	})
	writeJSON(w, http.StatusOK, out)
	return nil
}

func (a *API) getGroup(w http.ResponseWriter, r *http.Request) error {
	g, err := a.Access.Group(r.Context(), r.PathValue("group"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, toGroupJSON(g))
	return nil
}

func (a *API) deleteGroup(w http.ResponseWriter, r *http.Request) error {
	if err := a.Access.DeleteGroup(r.Context(), principal(r), r.PathValue("group")); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (a *API) listMembers(w http.ResponseWriter, r *http.Request) error {
	users, err := a.Access.Members(r.Context(), r.PathValue("group"))
	if err != nil {
		return err
	}
	out := userList{Items: []userJSON{}}
	for _, u := range users {
		out.Items = append(out.Items, toUserJSON(u))
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

func (a *API) addMember(w http.ResponseWriter, r *http.Request) error {
	if err := a.Access.AddMember(r.Context(), principal(r), r.PathValue("group"), r.PathValue("user")); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (a *API) removeMember(w http.ResponseWriter, r *http.Request) error {
	if err := a.Access.RemoveMember(r.Context(), principal(r), r.PathValue("group"), r.PathValue("user")); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// pageQuery reads ?limit= and ?cursor=.
func pageQuery(r *http.Request) (int, string, error) {
	limit, err := queryLimit(r)
	if err != nil {
		return 0, "", err
	}
	after, err := decodeCursor(r)
	return limit, after, err
}

// page hands the first limit items to add and returns the cursor of the
// next page ("" when items holds no more than limit).
func page[T any](items []T, limit int, key func(T) string, add func(T)) string {
	for i, it := range items {
		if i == limit {
			return encodeCursor(key(items[i-1]))
		}
		add(it)
	}
	return ""
}
