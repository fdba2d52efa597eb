package httpapi

import (
	"net/http"
	"time"

	"github.com/credflow/credflow/internal/credential"
)

type credentialJSON struct {
	ID          string    `json:"id"`
	Name        string    `json:"name"`
	Description string    `json:"description"`
	Store       string    `json:"store"`
	Username    string    `json:"username"`
	Password    string    `json:"password"`
	Owner       string    `json:"owner"`
	Enabled     bool      `json:"enabled"`
	Status      string    `json:"status"` // Credential.Status
	CreatedAt   time.Time `json:"createdAt"`
	UpdatedAt   time.Time `json:"updatedAt"`
}

type credentialList struct {
	Items      []credentialJSON `json:"items"`
	NextCursor string           `json:"nextCursor,omitempty"`
}

type createCredentialRequest struct {
	Name        string `json:"name"`
	Description string `json:"description,omitempty"`
	Username    string `json:"username"`
	Password    string `json:"password"`
}

type updateCredentialRequest struct {
	Name        *string `json:"name,omitempty"`
	Description *string `json:"description,omitempty"`
	Username    *string `json:"username,omitempty"`
	Password    *string `json:"password,omitempty"`
}

type credentialDependenciesJSON struct {
	Connections []namedJSON `json:"connections"`
}

func toCredentialJSON(c credential.Credential) credentialJSON {
	return credentialJSON{
		ID: c.ID, Name: c.Name, Description: c.Description, Store: c.Store,
		Username: c.Username, Password: c.Password, Owner: c.Owner, Enabled: c.Enabled, Status: string(c.Status(time.Now())),
		CreatedAt: c.CreatedAt, UpdatedAt: c.UpdatedAt,
	}
}

func (a *API) createCredential(w http.ResponseWriter, r *http.Request) error {
	var req createCredentialRequest
	if err := decodeJSON(r, &req); err != nil {
		return err
	}
	c, err := a.Credentials.Create(r.Context(), principal(r), credential.CreateInput{
		Name: req.Name, Description: req.Description, Username: req.Username, Password: req.Password,
	})
	if err != nil {
		return err
	}
	w.Header().Set("Location", "/api/v1/credentials/"+c.ID)
	writeJSON(w, http.StatusCreated, toCredentialJSON(c))
	return nil
}

func (a *API) listCredentials(w http.ResponseWriter, r *http.Request) error {
	limit, after, err := pageQuery(r)
	if err != nil {
		return err
	}
	creds, err := a.Credentials.List(r.Context(), principal(r), after, limit+1)
	if err != nil {
		return err
	}
	out := credentialList{Items: []credentialJSON{}}
	out.NextCursor = page(creds, limit, func(c credential.Credential) string { return c.ID }, func(c credential.Credential) {
		out.Items = append(out.Items, toCredentialJSON(c))
	})
	writeJSON(w, http.StatusOK, out)
	return nil
}

func (a *API) getCredential(w http.ResponseWriter, r *http.Request) error {
	c, err := a.Credentials.Get(r.Context(), principal(r), r.PathValue("id"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, toCredentialJSON(c))
	return nil
}

func (a *API) updateCredential(w http.ResponseWriter, r *http.Request) error {
	var req updateCredentialRequest
	if err := decodeJSON(r, &req); err != nil {
		return err
	}
	c, err := a.Credentials.Update(r.Context(), principal(r), r.PathValue("id"), credential.UpdateInput{
		Name: req.Name, Description: req.Description, Username: req.Username, Password: req.Password,
	})
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, toCredentialJSON(c))
	return nil
}

func (a *API) deleteCredential(w http.ResponseWriter, r *http.Request) error {
	force, err := queryBool(r, "force")
	if err != nil {
		return err
	}
	if err := a.Credentials.Delete(r.Context(), principal(r), r.PathValue("id"), force); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (a *API) credentialDependencies(w http.ResponseWriter, r *http.Request) error {
	d, err := a.Credentials.Dependencies(r.Context(), principal(r), r.PathValue("id"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, credentialDependenciesJSON{Connections: toNamedJSON(d.Connections)})
	return nil
}
