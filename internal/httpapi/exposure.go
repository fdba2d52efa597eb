package httpapi

import (
	"net/http"
	"time"
)

// variableAccessJSON answers who can use an environment variable, and how.
type variableAccessJSON struct {
	Variable     string                 `json:"variable"`
	Principals   []accessHolderJSON     `json:"principals"`
	RunnerGroups []accessConnectionJSON `json:"runnerGroups"`
}

// accessHolderJSON is one principal that can use the variable, by one path.
type accessHolderJSON struct {
	Principal string     `json:"principal"`
	Role      string     `json:"role"`
	ExpiresAt *time.Time `json:"expiresAt,omitempty"`
	// Through names the group a user holds the share through.
	Through string `json:"throughGroup,omitempty"`
	// ViaCredential names the credential whose share gave the share.
	ViaCredential string `json:"viaCredential,omitempty"`
	// InstanceRole is "admin" for a user who holds every right by it.
	InstanceRole string `json:"instanceRole,omitempty"`
	// Path says the whole path in words.
	Path string `json:"path"`
}

// accessConnectionJSON is a runner group that reaches the variable through
// a connection.
type accessConnectionJSON struct {
	RunnerGroup string `json:"runnerGroup"`
	Connection  string `json:"connection"`
	Credential  string `json:"credential"`
	Owner       string `json:"owner"`
	CanResolve  bool   `json:"canResolve"`
	Reason      string `json:"reason,omitempty"`
	Path        string `json:"path"`
}

func (a *API) variableAccess(w http.ResponseWriter, r *http.Request) error {
	x, err := a.Variables.Exposure(r.Context(), principal(r), r.PathValue("id"))
	if err != nil {
		return err
	}
	out := variableAccessJSON{Variable: x.Variable.SchemaName, Principals: []accessHolderJSON{}, RunnerGroups: []accessConnectionJSON{}}
	for _, h := range x.Holders {
		j := accessHolderJSON{Principal: h.Principal.String(), Role: string(h.Role), ExpiresAt: timePtr(h.ExpiresAt)}
		share := "a direct share"
		if h.Via.ID != "" {
			name := h.Via.Name
			if name == "" {
				name = h.Via.ID
			}
			j.ViaCredential = "credential:" + name
			share = "the share of credential:" + name
		}
		switch {
		case h.Admin:
			j.InstanceRole, j.Path = "admin", "the admin instance role"
		case h.Group.ID != "":
			j.Through = h.Group.String()
			j.Path = "member of " + h.Group.String() + ", which holds " + share
		default:
			j.Path = share
		}
		out.Principals = append(out.Principals, j)
	}
	for _, c := range x.RunnerGroups {
		out.RunnerGroups = append(out.RunnerGroups, accessConnectionJSON{RunnerGroup: c.RunnerGroup, Connection: c.Connection.Name,
			Credential: c.Credential.Name, Owner: "user:" + c.Owner.Name, CanResolve: c.CanResolve, Reason: c.Reason,
			Path: "runner group " + c.RunnerGroup + " resolves connection " + c.Connection.Name + " (owned by " + c.Owner.Name +
				") of credential " + c.Credential.Name})
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}
