package httpapi

import (
	"encoding/hex"
	"net/http"
	"strconv"
	"time"

	"github.com/credflow/credflow/internal/audit"
)

type auditRecordJSON struct {
	Seq       int64     `json:"seq"`
	Time      time.Time `json:"time"`
	Actor     string    `json:"actor"`
	Action    string    `json:"action"`
	Resource  string    `json:"resource"`
	Outcome   string    `json:"outcome"`
	Reason    string    `json:"reason,omitempty"`
	RequestID string    `json:"requestId,omitempty"`
	Client    string    `json:"client,omitempty"`
	Hash      string    `json:"hash"`
}

type auditList struct {
	Items      []auditRecordJSON `json:"items"`
	NextCursor string            `json:"nextCursor,omitempty"`
}

type auditVerifyJSON struct {
	OK             bool   `json:"ok"`
	Records        int64  `json:"records"`
	Checked        int64  `json:"checked"`
	FirstBadRecord int64  `json:"firstBadRecord,omitempty"`
	Finding        string `json:"finding,omitempty"`
	Problem        string `json:"problem,omitempty"`
	// Full: every record was checked; otherwise those after the checkpoint.
	Full       bool                 `json:"full"`
	Checkpoint *auditCheckpointJSON `json:"checkpoint,omitempty"`
	KeyedFrom  int64                `json:"keyedFrom,omitempty"`
}

type auditCheckpointJSON struct {
	Seq     int64     `json:"seq"`
	Records int64     `json:"records"`
	Head    string    `json:"head"`
	Time    time.Time `json:"time"`
}

func (a *API) listAudit(w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	limit, after, err := pageQuery(r)
	if err != nil {
		return err
	}
	f := audit.Filter{Actor: q.Get("actor"), Action: q.Get("action"), Resource: q.Get("resource"), Limit: limit + 1}
	switch q.Get("order") {
	case "", "oldest":
	case "newest":
		f.Newest = true
	default:
		return badRequest("order", "Query parameter order must be oldest or newest.")
	}
	if after != "" {
		seq, err := strconv.ParseInt(after, 10, 64)
		if err != nil {
			return badRequest("cursor", "Query parameter cursor is not a cursor this API returned.")
		}
		if f.Newest {
			f.BeforeSeq = seq
		} else {
			f.AfterSeq = seq
		}
	}
	for _, t := range []struct {
		name string
		dst  *time.Time
	}{{"from", &f.From}, {"to", &f.To}} {
		if v := q.Get(t.name); v != "" {
			if *t.dst, err = time.Parse(time.RFC3339, v); err != nil {
				return badRequest(t.name, "Query parameter "+t.name+" must be an RFC 3339 time, such as 2026-01-02T15:04:05Z.")
			}
		}
	}
	recs, err := a.Audit.List(r.Context(), f)
	if err != nil {
		return err
	}
	out := auditList{Items: []auditRecordJSON{}}
	out.NextCursor = page(recs, limit, func(rec audit.Record) string { return strconv.FormatInt(rec.Seq, 10) }, func(rec audit.Record) {
		out.Items = append(out.Items, auditRecordJSON{Seq: rec.Seq, Time: rec.Time, Actor: rec.Actor, Action: rec.Action,
			Resource: rec.Resource, Outcome: rec.Outcome, Reason: rec.Reason, RequestID: rec.RequestID, Client: rec.Client,
			Hash: hex.EncodeToString(rec.Hash)})
	})
	writeJSON(w, http.StatusOK, out)
	return nil
}

func (a *API) verifyAudit(w http.ResponseWriter, r *http.Request) error {
	var opts audit.VerifyOptions
	full, err := queryBool(r, "full")
	if err != nil {
		return err
	}
	opts.Full = full
	v, err := a.Audit.Verify(r.Context(), opts)
	if err != nil {
		return err
	}
	out := auditVerifyJSON{OK: v.OK, Records: v.Records, Checked: v.Checked, FirstBadRecord: v.FirstBad, Finding: v.Finding, Problem: v.Problem,
		Full: v.Full, KeyedFrom: v.KeyedFrom}
	if cp := v.Checkpoint; cp != nil {
		out.Checkpoint = &auditCheckpointJSON{Seq: cp.Seq, Records: cp.Records, Head: cp.Head, Time: cp.Time}
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

type auditArchiveRequest struct {
	// Before: records older than this time (RFC 3339, or a date: its
	// midnight UTC) are archived.
	Before string `json:"before"`
}

type auditAnchorJSON struct {
	Seq     int64     `json:"seq"`
	Records int64     `json:"records"`
	Head    string    `json:"head"`
	Time    time.Time `json:"time"`
	MAC     string    `json:"mac"`
}

// auditArchiveCommitRequest is the end anchor of the archive, as its last
// line holds it under "end".
type auditArchiveCommitRequest = auditAnchorJSON

type auditArchiveCommitJSON struct {
	Removed int64           `json:"removed"`
	Anchor  auditAnchorJSON `json:"anchor"`
}

type auditArchiveVerifyJSON struct {
	auditVerifyJSON
	From *auditAnchorJSON `json:"from,omitempty"`
	End  *auditAnchorJSON `json:"end,omitempty"`
}

// maxArchiveBytes bounds an archive sent to be verified.
const maxArchiveBytes = 4 << 30

func parseBefore(v string) (time.Time, error) {
	if t, err := time.Parse(time.RFC3339, v); err == nil {
		return t, nil
	}
	if t, err := time.Parse(time.DateOnly, v); err == nil {
		return t, nil
	}
	return time.Time{}, badRequest("before", "before must be an RFC 3339 time, such as 2026-01-02T15:04:05Z, or a date, such as 2026-01-02.")
}

func (a *API) archiveAudit(w http.ResponseWriter, r *http.Request) error {
	var req auditArchiveRequest
	if err := decodeJSON(r, &req); err != nil {
		return err
	}
	if req.Before == "" {
		return badRequest("before", "before is required: records older than it are archived.")
	}
	before, err := parseBefore(req.Before)
	if err != nil {
		return err
	}
	w.Header().Set("Content-Type", "application/x-ndjson")
	t := &writeTracker{w: w}
	_, err = a.Audit.Archive(r.Context(), before, t)
	if err != nil && t.wrote {
		a.Log.Error("audit archive failed while it was sent", "error", err.Error())
		panic(http.ErrAbortHandler)
	}
	return err
}

func (a *API) commitAuditArchive(w http.ResponseWriter, r *http.Request) error {
	var req auditArchiveCommitRequest
	if err := decodeJSON(r, &req); err != nil {
		return err
	}
	if req.Seq < 1 || req.MAC == "" || req.Head == "" {
		return badRequest("seq", "The body must be the end anchor of an archive, as its last line holds it under \"end\".")
	}
	end := audit.Checkpoint{Seq: req.Seq, Records: req.Records, Head: req.Head, Time: req.Time, MAC: req.MAC}
	n, err := a.Audit.CommitArchive(r.Context(), principal(r).Name, end)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, auditArchiveCommitJSON{Removed: n, Anchor: req})
	return nil
}

func anchorJSON(cp *audit.Checkpoint) *auditAnchorJSON {
	if cp == nil {
		return nil
	}
	return &auditAnchorJSON{Seq: cp.Seq, Records: cp.Records, Head: cp.Head, Time: cp.Time, MAC: cp.MAC}
}

func (a *API) verifyAuditArchive(w http.ResponseWriter, r *http.Request) error {
	v, err := a.Audit.VerifyArchive(http.MaxBytesReader(w, r.Body, maxArchiveBytes))
	if err != nil {
		return err
	}
	out := auditArchiveVerifyJSON{auditVerifyJSON: auditVerifyJSON{OK: v.OK, Records: v.Records, Checked: v.Checked, FirstBadRecord: v.FirstBad,
		Finding: v.Finding, Problem: v.Problem, Full: true, KeyedFrom: v.KeyedFrom}, From: anchorJSON(v.From), End: anchorJSON(v.End)}
	writeJSON(w, http.StatusOK, out)
	return nil
}
