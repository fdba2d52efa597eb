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
}

type shareList struct {
	Items []shareJSON `json:"items"`
}

type putShareRequest struct {
	Role      string     `json:"role"`
	ExpiresAt *time.Time `json:"expiresAt,omitempty"`
}

func toShareJSON(s access.Share) shareJSON {
	return shareJSON{Principal: s.Principal.String(), Role: string(s.Role), ExpiresAt: timePtr(s.ExpiresAt), CreatedAt: s.CreatedAt}
}

// sharer is what credentials and variables both offer for sharing.
type sharer interface {
	Share(ctx context.Context, p access.Principal, idOrName string, in access.ShareInput) (access.Share, error)
	Unshare(ctx context.Context, p access.Principal, idOrName, principal string) error
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
		if err := decodeJSON(w, r, &req); err != nil {
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

func deleteShare(s sharer) func(w http.ResponseWriter, r *http.Request) error {
	return func(w http.ResponseWriter, r *http.Request) error {
		if err := s.Unshare(r.Context(), principal(r), r.PathValue("id"), r.PathValue("principal")); err != nil {
			return err
		}
		w.WriteHeader(http.StatusNoContent)
		return nil
	}
}
