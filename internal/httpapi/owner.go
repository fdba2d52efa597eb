package httpapi

import (
	"context"
	"net/http"

	"github.com/credflow/credflow/internal/access"
)

type transferOwnerRequest struct {
	Principal string `json:"principal"`
}

// transferOwner is the handler of POST .../{id}/owner for one kind of
// object: transfer gives the object to the request's principal, toJSON
// renders the object as it is afterwards.
func transferOwner[T, J any](transfer func(ctx context.Context, p access.Principal, idOrName, to string) (T, error), toJSON func(T) J) func(http.ResponseWriter, *http.Request) error {
	return func(w http.ResponseWriter, r *http.Request) error {
		var req transferOwnerRequest
		if err := decodeJSON(r, &req); err != nil {
			return err
		}
		v, err := transfer(r.Context(), principal(r), r.PathValue("id"), req.Principal)
		if err != nil {
			return err
		}
		writeJSON(w, http.StatusOK, toJSON(v))
		return nil
	}
}
