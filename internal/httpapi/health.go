package httpapi

import (
	"context"
	"net/http"
	"time"

	"github.com/credflow/credflow/internal/secretstore"
)

type healthJSON struct {
	Status string `json:"status"`
}

type readyJSON struct {
	Status   string            `json:"status"`
	Database string            `json:"database"`
	Stores   []storeStatusJSON `json:"stores"`
}

type storeStatusJSON struct {
	Name   string `json:"name"`
	Status string `json:"status"`
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
	for _, info := range a.Stores.List() {
		st := a.storeStatus(info)
		// A sealed store is this instance's fault (its key is missing); an
		// unavailable remote store is everyone's, and taking every replica
		// out of service would not help the other stores.
		if st == "sealed" {
			out.Status = "not_ready"
		}
		out.Stores = append(out.Stores, storeStatusJSON{Name: info.Name, Status: st})
	}
	status := http.StatusOK
	if out.Status != "ready" {
		status = http.StatusServiceUnavailable
	}
	writeJSON(w, status, out)
	return nil
}

func (a *API) storeStatus(info secretstore.Info) string {
	s, _, err := a.Stores.Lookup(info.Name)
	if err != nil {
		return "unknown"
	}
	if secretstore.IsSealed(s) {
		return "sealed"
	}
	if u, ok := s.(secretstore.Unopened); ok && u.OpenError() != nil {
		return "unavailable"
	}
	return "ready"
}
