package httpapi

import (
	"context"
	"net/http"
	"time"

	"github.com/credflow/credflow/internal/storeadmin"
)

type healthJSON struct {
	Status string `json:"status"`
}

type readyJSON struct {
	Status   string            `json:"status"`
	Database string            `json:"database"`
	Stores   []storeStatusJSON `json:"stores"`
}

// storeStatusJSON is one store's readiness. Step names the failing step
// of a store that is not ready; its detail, which can name addresses and
// identities, is for admins (GET /api/v1/stores), not for this
// unauthenticated endpoint.
type storeStatusJSON struct {
	Name   string `json:"name"`
	Status string `json:"status"`
	Step   string `json:"step,omitempty"`
}

func (a *API) healthz(w http.ResponseWriter, r *http.Request) error {
	writeJSON(w, http.StatusOK, healthJSON{Status: "ok"})
	return nil
}

func (a *API) readyz(w http.ResponseWriter, r *http.Request) error {
	ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
	defer cancel()
	out := readyJSON{Status: "ready", Database: "ok", Stores: []storeStatusJSON{}}
	if err := a.DB.Ping(ctx); err != nil {
		out.Status, out.Database = "not_ready", "error"
	}
	stores, err := a.StoreAdmin.List(ctx)
	if err != nil {
		// Without the database, say what this server alone knows.
		stores = nil
		for _, info := range a.Stores.List() {
			stores = append(stores, storeadmin.Store{ID: info.ID, Name: info.Name, Kind: info.Kind})
		}
	}
	for _, st := range stores {
		h := a.StoreAdmin.Health(st)
		// A sealed store is this instance's fault (its key is missing); an
		// unavailable or degraded remote store is everyone's, and taking
		// every replica out of service would not help the other stores.
		if h.Status == storeadmin.StatusSealed {
			out.Status = "not_ready"
		}
		out.Stores = append(out.Stores, storeStatusJSON{Name: st.Name, Status: h.Status, Step: h.Step})
	}
	status := http.StatusOK
	if out.Status != "ready" {
		status = http.StatusServiceUnavailable
	}
	writeJSON(w, status, out)
	return nil
}

// metrics serves the Prometheus metrics to an admin. A server without
// metrics has none to serve.
func (a *API) metrics(w http.ResponseWriter, r *http.Request) error {
	if a.Metrics == nil {
		return &requestError{status: http.StatusNotFound, code: "not_found", detail: "This server keeps no metrics."}
	}
	a.Metrics.Handler().ServeHTTP(w, r)
	return nil
}
