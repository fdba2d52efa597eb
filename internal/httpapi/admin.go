package httpapi

import (
	"context"
	"io"
	"net/http"

	"github.com/credflow/credflow/internal/secretstore/builtin"
)

// KeyRotator rotates the built-in store's master key.
type KeyRotator interface {
	RotateMasterKey(ctx context.Context, actor, newKeyFile string, batch int) (builtin.RotateResult, error)
}

type rotateMasterKeyRequest struct {
	// NewKeyFile is the absolute path, on the server's machine, of the new
	// key file (base64 of 32 random bytes, mode 0600).
	NewKeyFile string `json:"newKeyFile"`
	// BatchSize is how many rows one transaction rewraps (default 500).
	BatchSize int `json:"batchSize,omitempty"`
}

type rotateMasterKeyJSON struct {
	From      string `json:"from"`
	To        string `json:"to"`
	Resumed   bool   `json:"resumed"`
	Rewrapped int    `json:"rewrapped"`
	Batches   int    `json:"batches"`
}

func (a *API) rotateMasterKey(w http.ResponseWriter, r *http.Request) error {
	var req rotateMasterKeyRequest
	if err := decodeJSON(r, &req); err != nil {
		return err
	}
	if req.NewKeyFile == "" {
		return badRequest("newKeyFile", "newKeyFile is required: the absolute path of the new key file on the server's machine.")
	}
	if req.BatchSize < 0 || req.BatchSize > 10000 {
		return badRequest("batchSize", "batchSize must be between 1 and 10000.")
	}
	res, err := a.MasterKey.RotateMasterKey(r.Context(), principal(r).Name, req.NewKeyFile, req.BatchSize)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, rotateMasterKeyJSON{From: res.From, To: res.To, Resumed: res.Resumed, Rewrapped: res.Rewrapped, Batches: res.Batches})
	return nil
}

// Backuper writes a backup of the instance, recorded as actor's.
type Backuper interface {
	Write(ctx context.Context, actor string, w io.Writer) error
}

// writeTracker notes whether any byte of the body went out.
type writeTracker struct {
	w     io.Writer
	wrote bool
}

func (t *writeTracker) Write(p []byte) (int, error) {
	t.wrote = true
	return t.w.Write(p)
}

func (a *API) backup(w http.ResponseWriter, r *http.Request) error {
	w.Header().Set("Content-Type", "application/x-tar")
	w.Header().Set("Content-Disposition", `attachment; filename="credflow-backup.tar"`)
	w.Header().Set("Cache-Control", "no-store")
	t := &writeTracker{w: w}
	err := a.Backup.Write(r.Context(), principal(r).Name, t)
	if err != nil && t.wrote {
		// Part of the backup is out: cut the connection, so that the
		// client cannot take it for a whole one.
		a.Log.Error("backup failed while it was sent", "error", err.Error())
		panic(http.ErrAbortHandler)
	}
	if err != nil {
		w.Header().Del("Content-Disposition")
	}
	return err
}
