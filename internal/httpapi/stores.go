package httpapi

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http"
	"time"

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
	// PollInterval is how often the referenced secrets' versions are
	// compared for changes no event announced ("0s": never).
	PollInterval string    `json:"pollInterval"`
	CreatedAt    time.Time `json:"createdAt"`
	UpdatedAt    time.Time `json:"updatedAt"`
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
	PollInterval *string         `json:"pollInterval,omitempty"`
}

type updateStoreRequest struct {
	Settings     json.RawMessage `json:"settings,omitempty"`
	CacheTTL     *string         `json:"cacheTTL,omitempty"`
	StaleIfError *string         `json:"staleIfError,omitempty"`
	PollInterval *string         `json:"pollInterval,omitempty"`
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

// putSecretRequest holds a secret's value exactly as given: as text (valid
// UTF-8, no NUL) in value, or as any bytes, base64-encoded, in valueBase64.
type putSecretRequest struct {
	Value       *string `json:"value,omitempty"`
	ValueBase64 *string `json:"valueBase64,omitempty"`
}

// bytes returns the value the request holds, or a request error naming the
// field at fault.
func (req putSecretRequest) bytes() (string, error) {
	switch {
	case req.Value != nil && req.ValueBase64 != nil:
		return "", badRequest("valueBase64", "Give the value in value or in valueBase64, not both.")
	case req.ValueBase64 != nil:
		b, err := base64.StdEncoding.DecodeString(*req.ValueBase64)
		if err != nil {
			return "", badRequest("valueBase64", "Field valueBase64 must be standard base64 (RFC 4648, with padding).")
		}
		if len(b) == 0 {
			return "", badRequest("valueBase64", "Field valueBase64 must not be empty.")
		}
		return string(b), nil
	case req.Value == nil || *req.Value == "":
		return "", badRequest("value", "Field value must not be empty.")
	}
	return *req.Value, nil
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
		Settings: a.StoreAdmin.Public(st), CacheTTL: st.CacheTTL.String(), StaleIfError: st.StaleIfError.String(), PollInterval: st.PollInterval.String(),
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
	if err := decodeJSON(r, &req); err != nil {
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
	poll, err := parseDuration("pollInterval", req.PollInterval)
	if err != nil {
		return err
	}
	st, report, err := a.StoreAdmin.Create(r.Context(), principal(r), storeadmin.CreateInput{Name: req.Name, Kind: req.Kind,
		Settings: req.Settings, CacheTTL: ttl, StaleIfError: stale, PollInterval: poll})
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
	if err := decodeJSON(r, &req); err != nil {
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
	poll, err := parseDuration("pollInterval", req.PollInterval)
	if err != nil {
		return err
	}
	st, report, err := a.StoreAdmin.Update(r.Context(), principal(r), r.PathValue("store"), storeadmin.UpdateInput{Settings: req.Settings,
		CacheTTL: ttl, StaleIfError: stale, PollInterval: poll})
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
		if err := decodeJSON(r, &req); err != nil {
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

func (a *API) putSecret(w http.ResponseWriter, r *http.Request) error {
	var req putSecretRequest
	if err := decodeJSON(r, &req); err != nil {
		var re *requestError
		if errors.As(err, &re) && re.field == "value" {
			re.detail += " Send a value that is not text as base64 in valueBase64."
		}
		return err
	}
	value, err := req.bytes()
	if err != nil {
		return err
	}
	name := r.PathValue("name")
	written, err := a.Secrets.Put(r.Context(), principal(r), r.PathValue("store"), name, secretstore.NewValue(value))
	if err != nil {
		return secretPathError(err, "name")
	}
	status := http.StatusOK
	if written.Created {
		status = http.StatusCreated
	}
	writeJSON(w, status, secretVersionJSON{Name: name, Version: written.Version, UpdatedAt: written.UpdatedAt})
	return nil
}

func (a *API) listSecrets(w http.ResponseWriter, r *http.Request) error {
	limit, after, err := pageQuery(r)
	if err != nil {
		return err
	}
	entries, err := a.Secrets.List(r.Context(), principal(r), r.PathValue("store"), after, limit+1)
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
	force, err := queryBool(r, "force")
	if err != nil {
		return err
	}
	if err := a.Secrets.Delete(r.Context(), principal(r), r.PathValue("store"), r.PathValue("name"), force); err != nil {
		return secretPathError(err, "name")
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// secretPathError turns an invalid secret name in the path into a
// validation error naming that parameter.
func secretPathError(err error, field string) error {
	var re *secretstore.RefError
	if errors.As(err, &re) {
		return validation.Field(field, re.Rule)
	}
	return err
}
