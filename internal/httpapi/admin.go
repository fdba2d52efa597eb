package httpapi

import (
	"context"
	"io"
	"net/http"
)

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
