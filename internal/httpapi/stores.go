package httpapi

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/credflow/credflow/internal/audit"
	"github.com/credflow/credflow/internal/secretstore"
	"github.com/credflow/credflow/internal/storeadmin"
	"github.com/credflow/credflow/internal/validation"
)

type storeJSON struct {
	ID   string `json:"id"`
	Name string `json:"name"`
	Kind string `json:"kind"`
	// Status is ready, degraded (the last check failed), unavailable (the
	// settings could not be opened), sealed or unknown; LastCheck says
	// when the store was last checked and what failed.
	Status       string          `json:"status"`
	LastCheck    *lastCheckJSON  `json:"lastCheck,omitempty"`
	Settings     json.RawMessage `json:"settings"`
	CacheTTL     string          `json:"cacheTTL"`
	StaleIfError string          `json:"staleIfError"`
	CreatedAt    time.Time       `json:"createdAt"`
	UpdatedAt    time.Time       `json:"updatedAt"`
	// Check is the step-by-step check run when the store was added.
	Check *checkJSON `json:"check,omitempty"`
}

// lastCheckJSON is a store's last check, or why it cannot be used.
type lastCheckJSON struct {
	OK        bool       `json:"ok"`
	CheckedAt *time.Time `json:"checkedAt,omitempty"`
	// Step, Detail and Hint are the failing step when the store is not
	// ready.
	Step   string `json:"step,omitempty"`
	Detail string `json:"detail,omitempty"`
	Hint   string `json:"hint,omitempty"`
}

type createStoreRequest struct {
	Name         string          `json:"name"`
	Kind         string          `json:"kind"`
	Settings     json.RawMessage `json:"settings,omitempty"`
	CacheTTL     *string         `json:"cacheTTL,omitempty"`
	StaleIfError *string         `json:"staleIfError,omitempty"`
}

type updateStoreRequest struct {
	Settings     json.RawMessage `json:"settings,omitempty"`
	CacheTTL     *string         `json:"cacheTTL,omitempty"`
	StaleIfError *string         `json:"staleIfError,omitempty"`
}

type checkRequest struct {
	Secret string `json:"secret,omitempty"`
}

type checkJSON struct {
	OK    bool            `json:"ok"`
	Steps []checkStepJSON `json:"steps"`
}

type checkStepJSON struct {
	Name   string `json:"name"`
	OK     bool   `json:"ok"`
	Detail string `json:"detail,omitempty"`
	Hint   string `json:"hint,omitempty"`
}

type storeList struct {
	Items []storeJSON `json:"items"`
}

type putSecretRequest struct {
	Value string `json:"value"`
}

type secretVersionJSON struct {
	Name      string    `json:"name"`
	Version   string    `json:"version"`
	UpdatedAt time.Time `json:"updatedAt"`
}

type secretJSON struct {
	Name      string    `json:"name"`
	Version   string    `json:"version"`
	Versions  int       `json:"versions"`
	CreatedAt time.Time `json:"createdAt"`
	UpdatedAt time.Time `json:"updatedAt"`
}

type secretList struct {
	Items      []secretJSON `json:"items"`
	NextCursor string       `json:"nextCursor,omitempty"`
}

func (a *API) toStoreJSON(st storeadmin.Store) storeJSON {
	h := a.StoreAdmin.Health(st)
	out := storeJSON{ID: st.ID, Name: st.Name, Kind: st.Kind, Status: h.Status,
		Settings: a.StoreAdmin.Public(st), CacheTTL: st.CacheTTL.String(), StaleIfError: st.StaleIfError.String(),
		CreatedAt: st.CreatedAt, UpdatedAt: st.UpdatedAt}
	if h.Status != storeadmin.StatusReady || st.LastCheck != nil {
		out.LastCheck = &lastCheckJSON{OK: h.Status == storeadmin.StatusReady, CheckedAt: timePtr(h.CheckedAt),
			Step: h.Step, Detail: h.Detail, Hint: h.Hint}
	}
	return out
}

func toCheckJSON(r secretstore.Report) *checkJSON {
	out := &checkJSON{OK: r.OK, Steps: []checkStepJSON{}}
	for _, st := range r.Steps {
		out.Steps = append(out.Steps, checkStepJSON{Name: st.Name, OK: st.OK, Detail: st.Detail, Hint: st.Hint})
	}
	return out
}

func (a *API) listStores(w http.ResponseWriter, r *http.Request) error {
	stores, err := a.StoreAdmin.List(r.Context())
	if err != nil {
		return err
	}
	out := storeList{Items: []storeJSON{}}
	for _, st := range stores {
		out.Items = append(out.Items, a.toStoreJSON(st))
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

func (a *API) getStore(w http.ResponseWriter, r *http.Request) error {
	st, err := a.StoreAdmin.Get(r.Context(), r.PathValue("store"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, a.toStoreJSON(st))
	return nil
}

// parseDuration reads a duration field such as "60s" or "5m".
func parseDuration(field string, v *string) (*time.Duration, error) {
	if v == nil {
		return nil, nil
	}
	d, err := time.ParseDuration(*v)
	if err != nil {
		return nil, validation.Field(field, `must be a duration such as "60s", "5m" or "0s"`)
	}
	return &d, nil
}

func (a *API) createStore(w http.ResponseWriter, r *http.Request) error {
	var req createStoreRequest
	if err := decodeJSON(w, r, &req); err != nil {
		return err
	}
	ttl, err := parseDuration("cacheTTL", req.CacheTTL)
	if err != nil {
		return err
	}
	stale, err := parseDuration("staleIfError", req.StaleIfError)
	if err != nil {
		return err
	}
	st, report, err := a.StoreAdmin.Create(r.Context(), principal(r), storeadmin.CreateInput{Name: req.Name, Kind: req.Kind,
		Settings: req.Settings, CacheTTL: ttl, StaleIfError: stale})
	if err != nil {
		return err
	}
	out := a.toStoreJSON(st)
	if report != nil {
		out.Check = toCheckJSON(*report)
	}
	w.Header().Set("Location", "/api/v1/stores/"+st.ID)
	writeJSON(w, http.StatusCreated, out)
	return nil
}

func (a *API) updateStore(w http.ResponseWriter, r *http.Request) error {
	var req updateStoreRequest
	if err := decodeJSON(w, r, &req); err != nil {
		return err
	}
	ttl, err := parseDuration("cacheTTL", req.CacheTTL)
	if err != nil {
		return err
	}
	stale, err := parseDuration("staleIfError", req.StaleIfError)
	if err != nil {
		return err
	}
	st, report, err := a.StoreAdmin.Update(r.Context(), principal(r), r.PathValue("store"), storeadmin.UpdateInput{Settings: req.Settings, CacheTTL: ttl, StaleIfError: stale})
	if err != nil {
		return err
	}
	out := a.toStoreJSON(st)
	if report != nil {
		out.Check = toCheckJSON(*report)
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

func (a *API) deleteStore(w http.ResponseWriter, r *http.Request) error {
	if err := a.StoreAdmin.Delete(r.Context(), principal(r), r.PathValue("store")); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (a *API) checkStore(w http.ResponseWriter, r *http.Request) error {
	var req checkRequest
	if r.ContentLength != 0 {
		if err := decodeJSON(w, r, &req); err != nil {
			return err
		}
	}
	report, err := a.StoreAdmin.Check(r.Context(), r.PathValue("store"), req.Secret)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, toCheckJSON(report))
	return nil
}

// storeWith finds the path's store and checks it has capability T.
func storeWith[T any](a *API, r *http.Request) (T, secretstore.Info, error) {
	var zero T
	s, info, err := a.Stores.Lookup(r.PathValue("store"))
	if err != nil {
		return zero, info, err
	}
	c, ok := s.(T)
	if !ok {
		return zero, info, fmt.Errorf("%w: %s (kind %s) is managed outside credflow", secretstore.ErrReadOnly, info.Name, info.Kind)
	}
	return c, info, nil
}

func (a *API) putSecret(w http.ResponseWriter, r *http.Request) error {
	wr, info, err := storeWith[secretstore.Writer](a, r)
	if err != nil {
		return err
	}
	var req putSecretRequest
	if err := decodeJSON(w, r, &req); err != nil {
		return err
	}
	if req.Value == "" {
		return badRequest("value", "Field value must not be empty.")
	}
	name := r.PathValue("name")
	ctx, err := a.secretWrite(r, info, name, "store.secret.put")
	if err != nil {
		return err
	}
	meta, err := wr.Put(ctx, name, secretstore.NewValue(req.Value))
	if err != nil {
		return secretPathError(err, "name")
	}
	// The next resolve reads the new version, not a cached older one.
	a.Stores.Invalidate(info.Name, name)
	status := http.StatusOK
	if meta.Version == "1" {
		status = http.StatusCreated
	}
	writeJSON(w, status, secretVersionJSON{Name: name, Version: meta.Version, UpdatedAt: meta.UpdatedAt})
	return nil
}

func (a *API) listSecrets(w http.ResponseWriter, r *http.Request) error {
	l, _, err := storeWith[secretstore.Lister](a, r)
	if err != nil {
		return err
	}
	limit, after, err := pageQuery(r)
	if err != nil {
		return err
	}
	entries, err := l.List(r.Context(), after, limit+1)
	if err != nil {
		return err
	}
	out := secretList{Items: []secretJSON{}}
	out.NextCursor = page(entries, limit, func(e secretstore.Entry) string { return e.Name }, func(e secretstore.Entry) {
		out.Items = append(out.Items, secretJSON{Name: e.Name, Version: e.Version, Versions: e.Versions, CreatedAt: e.CreatedAt, UpdatedAt: e.UpdatedAt})
	})
	writeJSON(w, http.StatusOK, out)
	return nil
}

func (a *API) deleteSecret(w http.ResponseWriter, r *http.Request) error {
	d, info, err := storeWith[secretstore.Deleter](a, r)
	if err != nil {
		return err
	}
	ctx, err := a.secretWrite(r, info, r.PathValue("name"), "store.secret.delete")
	if err != nil {
		return err
	}
	if err := d.Delete(ctx, r.PathValue("name")); err != nil {
		return secretPathError(err, "name")
	}
	a.Stores.Invalidate(info.Name, r.PathValue("name"))
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// secretPathError turns an invalid secret name in the path into a
// validation error on that path parameter.
func secretPathError(err error, field string) error {
	var re *secretstore.RefError
	if errors.As(err, &re) {
		return validation.Field(field, re.Rule)
	}
	return err
}

// secretWrite checks that the caller's store grants cover the secret (a
// maker may only write what they may reference) and returns a context
// carrying the audit entry the store's repository writes with the change.
func (a *API) secretWrite(r *http.Request, info secretstore.Info, name, action string) (context.Context, error) {
	p := principal(r)
	if err := a.Access.CheckGrant(r.Context(), p, info.ID, info.Name, name); err != nil {
		return nil, err
	}
	return audit.WithEntry(r.Context(), audit.Entry{Actor: p.Name, Action: action,
		Resource: "store:" + info.Name + " secret:" + name, Outcome: audit.Success}), nil
}
