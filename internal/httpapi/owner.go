package httpapi

import (
	"net/http"
)

type transferOwnerRequest struct {
	Principal string `json:"principal"`
}

func (a *API) transferVariable(w http.ResponseWriter, r *http.Request) error {
	var req transferOwnerRequest
	if err := decodeJSON(w, r, &req); err != nil {
		return err
	}
	v, err := a.Variables.TransferOwner(r.Context(), principal(r), r.PathValue("id"), req.Principal)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, toVariableJSON(v))
	return nil
}

func (a *API) transferCredential(w http.ResponseWriter, r *http.Request) error {
	var req transferOwnerRequest
	if err := decodeJSON(w, r, &req); err != nil {
		return err
	}
	c, err := a.Credentials.TransferOwner(r.Context(), principal(r), r.PathValue("id"), req.Principal)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, toCredentialJSON(c))
	return nil
}

func (a *API) transferConnection(w http.ResponseWriter, r *http.Request) error {
	var req transferOwnerRequest
	if err := decodeJSON(w, r, &req); err != nil {
		return err
	}
	c, err := a.Connections.TransferOwner(r.Context(), principal(r), r.PathValue("id"), req.Principal)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, toConnectionJSON(c))
	return nil
}
