package httpapi

import (
	"context"
	"net/http"
	"time"

	"github.com/credflow/credflow/internal/access"
)

type shareJSON struct {
	Principal string     `json:"principal"`
	Role      string     `json:"role"`
	ExpiresAt *time.Time `json:"expiresAt,omitempty"`
	CreatedAt time.Time  `json:"createdAt"`
	// ViaCredential names the credential whose share gave this share of a
	// variable ("credential:<name>", or "credential:<id>" once deleted);
	// absent for a share given directly.
	ViaCredential string `json:"viaCredential,omitempty"`
}

// variableShareJSON is a principal's share of one of a credential's
// variables.
type variableShareJSON struct {
	Variable string `json:"variable"`
	shareJSON
}

// unsharedJSON answers the removal of a credential share: what was
// removed, and the shares of the credential's variables that the principal
// still holds (with withVariables=true, those the credential share gave
// are removed too).
type unsharedJSON struct {
	Removed                 shareJSON           `json:"removed"`
	RemovedVariableShares   []variableShareJSON `json:"removedVariableShares"`
	RemainingVariableShares []variableShareJSON `json:"remainingVariableShares"`
}

type shareList struct {
	Items []shareJSON `json:"items"`
}

type putShareRequest struct {
	Role      string     `json:"role"`
	ExpiresAt *time.Time `json:"expiresAt,omitempty"`
}

func toShareJSON(s access.Share) shareJSON {
	out := shareJSON{Principal: s.Principal.String(), Role: string(s.Role), ExpiresAt: timePtr(s.ExpiresAt), CreatedAt: s.CreatedAt}
	if !s.Direct() {
		name := s.Via.Name
		if name == "" {
			name = s.Via.ID
		}
		out.ViaCredential = "credential:" + name
	}
	return out
}

func toVariableShares(shares []access.Share) []variableShareJSON {
	out := []variableShareJSON{}
	for _, sh := range shares {
		out = append(out, variableShareJSON{Variable: sh.Object.Name, shareJSON: toShareJSON(sh)})
	}
	return out
}

// sharer is what credentials and variables both offer for sharing.
type sharer interface {
	Share(ctx context.Context, p access.Principal, idOrName string, in access.ShareInput) (access.Share, error)
	Shares(ctx context.Context, p access.Principal, idOrName string) ([]access.Share, error)
}

func listShares(s sharer) func(w http.ResponseWriter, r *http.Request) error {
	return func(w http.ResponseWriter, r *http.Request) error {
		shares, err := s.Shares(r.Context(), principal(r), r.PathValue("id"))
		if err != nil {
			return err
		}
		out := shareList{Items: []shareJSON{}}
		for _, sh := range shares {
			out.Items = append(out.Items, toShareJSON(sh))
		}
		writeJSON(w, http.StatusOK, out)
		return nil
	}
}

func putShare(s sharer) func(w http.ResponseWriter, r *http.Request) error {
	return func(w http.ResponseWriter, r *http.Request) error {
		var req putShareRequest
		if err := decodeJSON(r, &req); err != nil {
			return err
		}
		in := access.ShareInput{Principal: r.PathValue("principal"), Role: access.ObjectRole(req.Role)}
		if req.ExpiresAt != nil {
			in.ExpiresAt = *req.ExpiresAt
		}
		sh, err := s.Share(r.Context(), principal(r), r.PathValue("id"), in)
		if err != nil {
			return err
		}
		writeJSON(w, http.StatusOK, toShareJSON(sh))
		return nil
	}
}

func (a *API) deleteVariableShare(w http.ResponseWriter, r *http.Request) error {
	if err := a.Variables.Unshare(r.Context(), principal(r), r.PathValue("id"), r.PathValue("principal")); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (a *API) deleteCredentialShare(w http.ResponseWriter, r *http.Request) error {
	with, err := queryBool(r, "withVariables")
	if err != nil {
		return err
	}
	u, err := a.Credentials.Unshare(r.Context(), principal(r), r.PathValue("id"), r.PathValue("principal"), with)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, unsharedJSON{Removed: toShareJSON(u.Removed),
		RemovedVariableShares: toVariableShares(u.RemovedCascade), RemainingVariableShares: toVariableShares(u.Remaining)})
	return nil
}
