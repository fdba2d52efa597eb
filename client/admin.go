package client

import (
	"context"
	"fmt"
	"io"
	"net/http"
)

// Backup asks the server for a consistent copy of its SQLite database with
// the audit checkpoints (a tar file) and writes it to w. It needs the admin
// role. A server on PostgreSQL refuses with the code backup_unsupported.
// The copy holds the built-in store's values only encrypted under the
// master key, which it does not include.
func (c *Client) Backup(ctx context.Context, w io.Writer) (int64, error) {
	const path = "/api/v1/admin/backup"
	resp, err := c.send(ctx, http.MethodPost, path, nil)
	if err != nil {
		return 0, err
	}
	defer drainClose(resp.Body)
	if resp.StatusCode >= 400 {
		return 0, responseError(http.MethodPost, path, resp)
	}
	n, err := io.Copy(w, resp.Body)
	if err != nil {
		return n, fmt.Errorf("client: POST %s: read the backup: %w", path, err)
	}
	return n, nil
}
