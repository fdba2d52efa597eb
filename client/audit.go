package client

import (
	"context"
	"net/http"
	"net/url"
	"strconv"
	"time"
)

// AuditRecord is one entry of the audit trail. It never holds a value.
type AuditRecord struct {
	// Seq numbers the records in order.
	Seq    int64     `json:"seq"`
	Time   time.Time `json:"time"`
	Actor  string    `json:"actor"`
	Action string    `json:"action"`
	// Resource names what was acted on, e.g. "credential:SQL prod user:bob".
	Resource string `json:"resource"`
	// Outcome is "success", "denied" or "failure".
	Outcome   string `json:"outcome"`
	Reason    string `json:"reason,omitempty"`
	RequestID string `json:"requestId,omitempty"`
	Client    string `json:"client,omitempty"`
	// Hash chains the record to the one before it (hex).
	Hash string `json:"hash"`
}

// AuditListOptions filters the audit trail. Zero fields do not filter.
type AuditListOptions struct {
	Actor    string
	Action   string // e.g. credential.share
	Resource string
	From     time.Time // inclusive
	To       time.Time // exclusive
	Limit    int
	Cursor   string
	Newest   bool // newest first
}

func (o AuditListOptions) query() string {
	q := url.Values{}
	if o.Newest {
		q.Set("order", "newest")
	}
	for k, v := range map[string]string{"actor": o.Actor, "action": o.Action, "resource": o.Resource, "cursor": o.Cursor} {
		if v != "" {
			q.Set(k, v)
		}
	}
	if !o.From.IsZero() {
		q.Set("from", o.From.Format(time.RFC3339Nano))
	}
	if !o.To.IsZero() {
		q.Set("to", o.To.Format(time.RFC3339Nano))
	}
	if o.Limit > 0 {
		q.Set("limit", strconv.Itoa(o.Limit))
	}
	if len(q) == 0 {
		return ""
	}
	return "?" + q.Encode()
}

// AuditVerification is the result of checking the audit trail's hash chain.
// When OK is false, FirstBadRecord is the Seq of the first record that does
// not verify and Problem says why.
type AuditVerification struct {
	OK bool `json:"ok"`
	// Records is how many records the chain holds as far as it was checked
	// (through the checkpoint, plus the records after it); Checked is how
	// many were read one by one.
	Records        int64 `json:"records"`
	Checked        int64 `json:"checked"`
	FirstBadRecord int64 `json:"firstBadRecord,omitempty"`
	// Finding names what was found in one word (truncated, deleted,
	// recomputed, edited, reordered, rewritten, checkpoint_tampered,
	// checkpoint_missing, key_unavailable); Problem says it in a sentence.
	Finding string `json:"finding,omitempty"`
	Problem string `json:"problem,omitempty"`
	// Full is true when every record was checked; otherwise the check
	// started at Checkpoint.
	Full       bool             `json:"full"`
	Checkpoint *AuditCheckpoint `json:"checkpoint,omitempty"`
	// KeyedFrom is the record from which links are HMACs under the audit key.
	KeyedFrom int64 `json:"keyedFrom,omitempty"`
}

// AuditCheckpoint is a checkpoint of the chain kept outside the database.
type AuditCheckpoint struct {
	Seq     int64     `json:"seq"`
	Records int64     `json:"records"`
	Head    string    `json:"head"`
	Time    time.Time `json:"time"`
}

// AuditVerifyOptions choose how much of the trail VerifyAudit checks.
type AuditVerifyOptions struct {
	// Full checks every record, not only those after the newest checkpoint.
	Full bool
}

const auditPath = "/api/v1/audit"

// ListAudit returns one page of audit records, oldest first (admins only).
func (c *Client) ListAudit(ctx context.Context, opts AuditListOptions) (*Page[AuditRecord], error) {
	var p Page[AuditRecord]
	if err := c.do(ctx, http.MethodGet, auditPath+opts.query(), nil, &p); err != nil {
		return nil, err
	}
	return &p, nil
}

// VerifyAudit checks the audit trail's hash chain (admins only). A broken
// chain is not an error: the AuditVerification says where it breaks.
func (c *Client) VerifyAudit(ctx context.Context, opts AuditVerifyOptions) (*AuditVerification, error) {
	var v AuditVerification
	path := auditPath + "/verify"
	if opts.Full {
		path += "?full=true"
	}
	if err := c.do(ctx, http.MethodGet, path, nil, &v); err != nil {
		return nil, err
	}
	return &v, nil
}
