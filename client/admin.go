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

// MasterKeyRotation is what a master-key rotation did.
type MasterKeyRotation struct {
	// From and To are the IDs of the old and the new master key.
	From      string `json:"from"`
	To        string `json:"to"`
	Resumed   bool   `json:"resumed"`
	Rewrapped int    `json:"rewrapped"`
	Batches   int    `json:"batches"`
}

// RotateMasterKey has the server rewrap every data key under the master
// key in newKeyFile, an absolute path on the server's machine (the key
// never travels over the API). batch is how many rows one transaction
// rewraps (0: the server's default). An interrupted rotation is resumed by
// calling it again with the same file.
func (c *Client) RotateMasterKey(ctx context.Context, newKeyFile string, batch int) (*MasterKeyRotation, error) {
	var out MasterKeyRotation
	body := struct {
		NewKeyFile string `json:"newKeyFile"`
		BatchSize  int    `json:"batchSize,omitempty"`
	}{newKeyFile, batch}
	if err := c.do(ctx, http.MethodPost, "/api/v1/admin/master-key/rotate", body, &out); err != nil {
		return nil, err
	}
	return &out, nil
}
