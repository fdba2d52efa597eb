package httpapi

import (
	"net/http"
	"time"

	"github.com/credflow/credflow/internal/access"
)

type tokenJSON struct {
	ID         string     `json:"id"`
	Name       string     `json:"name"`
	User       string     `json:"user"`
	Prefix     string     `json:"prefix"`
	ExpiresAt  *time.Time `json:"expiresAt,omitempty"`
	LastUsedAt *time.Time `json:"lastUsedAt,omitempty"`
	RevokedAt  *time.Time `json:"revokedAt,omitempty"`
	CreatedAt  time.Time  `json:"createdAt"`
}

type createdTokenJSON struct {
	tokenJSON
	// Token is the token's value, shown in this response only.
	Token string `json:"token"`
}

type tokenList struct {
	Items []tokenJSON `json:"items"`
}

type createTokenRequest struct {
	Name      string     `json:"name"`
	User      string     `json:"user,omitempty"`
	ExpiresAt *time.Time `json:"expiresAt,omitempty"`
}

func timePtr(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	return &t
}

func toTokenJSON(t access.TokenRecord) tokenJSON {
	return tokenJSON{ID: t.ID, Name: t.Name, User: t.User, Prefix: t.Prefix(), ExpiresAt: timePtr(t.ExpiresAt),
		LastUsedAt: timePtr(t.LastUsedAt), RevokedAt: timePtr(t.RevokedAt), CreatedAt: t.CreatedAt}
}

func (a *API) createToken(w http.ResponseWriter, r *http.Request) error {
	var req createTokenRequest
	if err := decodeJSON(r, &req); err != nil {
		return err
	}
	in := access.CreateTokenInput{Name: req.Name, User: req.User}
	if req.ExpiresAt != nil {
		in.ExpiresAt = *req.ExpiresAt
	}
	value, rec, err := a.Access.CreateToken(r.Context(), principal(r), in)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, createdTokenJSON{tokenJSON: toTokenJSON(rec), Token: value})
	return nil
}

func (a *API) listTokens(w http.ResponseWriter, r *http.Request) error {
	all, err := queryBool(r, "all")
	if err != nil {
		return err
	}
	toks, err := a.Access.ListTokens(r.Context(), principal(r), r.URL.Query().Get("user"), all)
	if err != nil {
		return err
	}
	out := tokenList{Items: []tokenJSON{}}
	for _, t := range toks {
		out.Items = append(out.Items, toTokenJSON(t))
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

func (a *API) revokeToken(w http.ResponseWriter, r *http.Request) error {
	if err := a.Access.RevokeToken(r.Context(), principal(r), r.PathValue("id")); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}
