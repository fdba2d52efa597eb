package client

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"time"
)

// AuditAnchor pins one record of the audit chain: its sequence number, its
// link, the number of records since the chain began, sealed by the server
// under the audit key.
type AuditAnchor struct {
	Seq     int64     `json:"seq"`
	Records int64     `json:"records"`
	Head    string    `json:"head"`
	Time    time.Time `json:"time"`
	MAC     string    `json:"mac"`
}

// AuditArchiveCommit is what committing an archive removed.
type AuditArchiveCommit struct {
	Removed int64       `json:"removed"`
	Anchor  AuditAnchor `json:"anchor"`
}

// AuditArchiveVerification is the check of an archive on its own.
type AuditArchiveVerification struct {
	AuditVerification
	From *AuditAnchor `json:"from,omitempty"`
	End  *AuditAnchor `json:"end,omitempty"`
}

// lastLine keeps the last line written through it.
type lastLine struct {
	cur, last []byte
}

func (l *lastLine) Write(p []byte) (int, error) {
	for _, b := range p {
		if b == '\n' {
			l.last, l.cur = append(l.last[:0], l.cur...), l.cur[:0]
			continue
		}
		if len(l.cur) < 64<<10 {
			l.cur = append(l.cur, b)
		}
	}
	return len(p), nil
}

// ArchiveAudit writes to w the audit records older than before (RFC 3339
// or a date), never the newest one, with their chain and a sealed end
// anchor, and returns that anchor. The server removes nothing until
// CommitAuditArchive is called with it. It needs the admin role.
func (c *Client) ArchiveAudit(ctx context.Context, before string, w io.Writer) (*AuditAnchor, error) {
	path := auditPath + "/archive"
	resp, err := c.send(ctx, http.MethodPost, path, map[string]string{"before": before})
	if err != nil {
		return nil, err
	}
	defer drainClose(resp.Body)
	if resp.StatusCode >= 400 {
		return nil, responseError(http.MethodPost, path, resp)
	}
	var tail lastLine
	if _, err := io.Copy(io.MultiWriter(w, &tail), resp.Body); err != nil {
		return nil, fmt.Errorf("client: POST %s: read the archive: %w", path, err)
	}
	var end struct {
		End *AuditAnchor `json:"end"`
	}
	if err := json.Unmarshal(tail.last, &end); err != nil || end.End == nil {
		return nil, fmt.Errorf("client: POST %s: the archive has no end anchor: it was cut short", path)
	}
	return end.End, nil
}

// CommitAuditArchive removes the records of the archive whose end anchor
// is end, in one step; the remaining chain then continues from it.
func (c *Client) CommitAuditArchive(ctx context.Context, end AuditAnchor) (*AuditArchiveCommit, error) {
	var out AuditArchiveCommit
	if err := c.do(ctx, http.MethodPost, auditPath+"/archive/commit", end, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// VerifyAuditArchive sends an archive to the server, which checks it on
// its own with the audit key.
func (c *Client) VerifyAuditArchive(ctx context.Context, archive io.Reader) (*AuditArchiveVerification, error) {
	path := auditPath + "/archive/verify"
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.base+path, archive)
	if err != nil {
		return nil, fmt.Errorf("client: POST %s: %w", path, err)
	}
	req.Header.Set("Content-Type", "application/x-ndjson")
	req.Header.Set("Accept", "application/json, application/problem+json")
	if c.userAgent != "" {
		req.Header.Set("User-Agent", c.userAgent)
	}
	req.Header.Set("Authorization", "Bearer "+c.token)
	resp, err := c.http.Do(req)
	if err != nil {
		return nil, fmt.Errorf("client: %w", err)
	}
	defer drainClose(resp.Body)
	if resp.StatusCode >= 400 {
		return nil, responseError(http.MethodPost, path, resp)
	}
	var out AuditArchiveVerification
	if err := decodeBody(http.MethodPost, path, resp, &out); err != nil {
		return nil, err
	}
	return &out, nil
}
