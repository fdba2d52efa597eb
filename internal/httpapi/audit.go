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
