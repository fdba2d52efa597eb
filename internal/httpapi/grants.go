package httpapi

import (
	"net/http"
	"time"

	"github.com/credflow/credflow/internal/access"
)

type grantJSON struct {
	Store     string    `json:"store"`
	Principal string    `json:"principal"`
	Prefix    string    `json:"prefix"`
	CreatedAt time.Time `json:"createdAt"`
}

type grantList struct {
	Items []grantJSON `json:"items"`
}

type putGrantRequest struct {
	Prefix string `json:"prefix"`
}

func toGrantJSON(g access.Grant) grantJSON {
	return grantJSON{Store: g.Store, Principal: g.Principal.String(), Prefix: g.Prefix, CreatedAt: g.CreatedAt}
}

func (a *API) listGrants(w http.ResponseWriter, r *http.Request) error {
	_, info, err := a.Stores.Lookup(r.PathValue("store"))
	if err != nil {
		return err
	}
	grants, err := a.Access.Grants(r.Context(), info.ID)
	if err != nil {
		return err
	}
	out := grantList{Items: []grantJSON{}}
	for _, g := range grants {
		out.Items = append(out.Items, toGrantJSON(g))
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

func (a *API) putGrant(w http.ResponseWriter, r *http.Request) error {
	_, info, err := a.Stores.Lookup(r.PathValue("store"))
	if err != nil {
		return err
	}
	var req putGrantRequest
	if err := decodeJSON(r, &req); err != nil {
		return err
	}
	g, err := a.Access.PutGrant(r.Context(), principal(r), info.ID, info.Name, r.PathValue("principal"), req.Prefix)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, toGrantJSON(g))
	return nil
}

func (a *API) deleteGrant(w http.ResponseWriter, r *http.Request) error {
	_, info, err := a.Stores.Lookup(r.PathValue("store"))
	if err != nil {
		return err
	}
	if err := a.Access.DeleteGrant(r.Context(), principal(r), info.ID, info.Name, r.PathValue("principal")); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}
