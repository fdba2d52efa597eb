package webui

import (
	"net/http"
	"strconv"
	"time"

	"github.com/credflow/credflow/internal/audit"
)

// auditView is the Audit page: a filtered page of records, newest first,
// and the chain's verification when asked for.
type auditView struct {
	Form    *form
	Records []audit.Record
	Next    string
	Verify  *audit.Verification
}

func (u *UI) listAudit(w http.ResponseWriter, r *http.Request, c *call) error {
	q := r.URL.Query()
	f := newForm(q)
	filter := audit.Filter{Actor: f.V("actor"), Action: f.V("action"), Resource: f.V("resource"), Newest: true, Limit: pageSize + 1}
	for _, t := range []struct {
		name string
		dst  *time.Time
	}{{"from", &filter.From}, {"to", &filter.To}} {
		if v := f.V(t.name); v != "" {
			d, err := time.Parse("2006-01-02", v)
			if err != nil {
				f.Errors[t.name] = "Give a date such as 2027-01-31."
				f.Summary = f.Errors[t.name]
				continue
			}
			*t.dst = d
		}
	}
	if !filter.To.IsZero() {
		filter.To = filter.To.AddDate(0, 0, 1) // through the day given
	}
	if b := f.V("before"); b != "" {
		seq, err := strconv.ParseInt(b, 10, 64)
		if err == nil {
			filter.BeforeSeq = seq
		}
	}
	v := auditView{Form: f}
	if !f.Failed() {
		recs, err := u.Audit.List(r.Context(), filter)
		if err != nil {
			return err
		}
		if len(recs) > pageSize {
			recs = recs[:pageSize]
			v.Next = strconv.FormatInt(recs[pageSize-1].Seq, 10)
		}
		v.Records = recs
	}
	if f.V("verify") != "" {
		res, err := u.Audit.Verify(r.Context(), audit.VerifyOptions{Full: f.V("verify") == "full"})
		if err != nil {
			return err
		}
		v.Verify = &res
	}
	return u.show(w, r, c, http.StatusOK, "audit", "Audit", "audit", v)
}
