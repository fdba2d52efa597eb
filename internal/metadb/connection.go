package metadb

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/credflow/credflow/internal/access"
	"github.com/credflow/credflow/internal/audit"
	"github.com/credflow/credflow/internal/connection"
)

// Connections implements connection.Repository. Resolve records are
// group-committed: Record queues a resolution and waits while one goroutine
// writes every queued resolution in one transaction.
type Connections struct {
	db   *DB
	reqs chan recordReq

	// written remembers, for the committer alone, the run-time state last
	// written, so that a resolve that changes nothing but the time rewrites
	// it at most once per stateGranularity.
	written map[string]stateMark
	// observe, when set, hears of every group commit (metrics).
	observe func(n int, took time.Duration)
}

type stateMark struct {
	version string
	at      time.Time
}

// stateGranularity is how precise the recorded last-resolve times are: a
// second, which answers "has every runner picked up the new password?"
// while sparing a write per resolve.
const stateGranularity = time.Second

var _ connection.Repository = (*Connections)(nil)

type recordReq struct {
	r    connection.Resolution
	done chan error
}

// maxBatch bounds one group commit.
const maxBatch = 1024

// NewConnections returns the connection repository; Run must be running for
// Record to return.
func NewConnections(db *DB) *Connections {
	return &Connections{db: db, reqs: make(chan recordReq, maxBatch), written: map[string]stateMark{}}
}

// ObserveCommits makes f hear of every group commit: how many records it
// wrote and how long it took. Call it before Run.
func (c *Connections) ObserveCommits(f func(n int, took time.Duration)) { c.observe = f }

// Queued is the number of resolutions waiting for the next group commit.
func (c *Connections) Queued() int { return len(c.reqs) }

// Run writes queued resolutions until ctx ends. It is the only writer of
// the queue's records.
func (c *Connections) Run(ctx context.Context) {
	batch := make([]recordReq, 0, maxBatch)
	for {
		select {
		case <-ctx.Done():
			return
		case first := <-c.reqs:
			batch = append(batch[:0], first)
		fill:
			for len(batch) < maxBatch {
				select {
				case r := <-c.reqs:
					batch = append(batch, r)
				default:
					break fill
				}
			}
			start := time.Now()
			err := c.commit(context.WithoutCancel(ctx), batch)
			if c.observe != nil {
				c.observe(len(batch), time.Since(start))
			}
			for _, r := range batch {
				r.done <- err
			}
		}
	}
}

// Record implements connection.Repository.
func (c *Connections) Record(ctx context.Context, r connection.Resolution) error {
	req := recordReq{r: r, done: make(chan error, 1)}
	select {
	case c.reqs <- req:
	case <-ctx.Done():
		return ctx.Err()
	}
	select {
	case err := <-req.done:
		return err
	case <-ctx.Done():
		return ctx.Err()
	}
}

// commit writes a batch of resolutions: their audit records, the latest
// version each runner received, and each connection's latest status.
func (c *Connections) commit(ctx context.Context, batch []recordReq) (err error) {
	type runnerKey struct{ conn, runner string }
	runners := map[runnerKey]connection.Resolution{}
	marks := map[string]stateMark{}
	failed := map[string]bool{} // connections with a failure earlier in this batch
	status := map[string]connection.Resolution{}
	items := make([]pendingRecord, len(batch))
	for i, b := range batch {
		r := b.r
		items[i] = pendingRecord{Entry: r.Audit, Request: r.Request}
		switch {
		case r.ConnectionID == "" || r.Status == "":
		case r.Status == connection.StatusConnected:
			if k := "r:" + r.ConnectionID + ":" + r.RunnerID; c.changed(k, r) {
				runners[runnerKey{r.ConnectionID, r.RunnerID}] = r
				marks[k] = stateMark{r.SecretVersion, r.At}
			}
			if k := "c:" + r.ConnectionID; failed[r.ConnectionID] || c.changed(k, r) {
				status[r.ConnectionID] = r
				marks[k] = stateMark{r.SecretVersion, r.At}
			}
		default:
			failed[r.ConnectionID] = true
			status[r.ConnectionID] = r
			marks["c:"+r.ConnectionID] = stateMark{} // the next success must be written
		}
	}
	defer func() {
		if err == nil {
			if len(c.written) >= 100000 {
				clear(c.written)
			}
			for k, m := range marks {
				c.written[k] = m
			}
		}
	}()
	return c.db.urgentTx(ctx, func(tx *sql.Tx) error {
		if err := c.db.appendRecords(ctx, tx, items); err != nil {
			return err
		}
		for k, r := range runners {
			if _, err := c.db.exec(ctx, tx, `INSERT INTO connection_runners (connection_id, runner_id, secret_version, resolved_at)
				VALUES ($1, $2, $3, $4) ON CONFLICT (connection_id, runner_id)
				DO UPDATE SET secret_version = excluded.secret_version, resolved_at = excluded.resolved_at`,
				k.conn, k.runner, r.SecretVersion, r.At); err != nil {
				return fmt.Errorf("record runner state: %w", err)
			}
		}
		for id, r := range status {
			if err := setStatus(ctx, c.db, tx, id, r.Status, r.At, r.SecretVersion, r.Failure); err != nil {
				return err
			}
		}
		return nil
	})
}

// changed reports whether r must be written under key: a new version, or
// the last write is older than stateGranularity.
func (c *Connections) changed(key string, r connection.Resolution) bool {
	m, ok := c.written[key]
	return !ok || m.version != r.SecretVersion || r.At.Sub(m.at) >= stateGranularity
}

// The writes of a connection's status: connected ($1 id, $2 at, $3
// version), or failed ($1 id, $2 status, $3 failure, $4 at).
const (
	setConnectedSQL = `UPDATE connections SET status = 'connected', last_resolved_at = $2, last_secret_version = $3,
		last_error = '' WHERE id = $1 AND credential_id IS NOT NULL`
	setFailedSQL = `UPDATE connections SET status = $2, last_error = $3, last_error_at = $4
		WHERE id = $1 AND credential_id IS NOT NULL`
)

// setStatus writes the status the connection service decided.
func setStatus(ctx context.Context, db *DB, q queryer, id, status string, at time.Time, version, failure string) error {
	var err error
	if status == connection.StatusConnected {
		_, err = db.exec(ctx, q, setConnectedSQL, id, at, version)
	} else {
		_, err = db.exec(ctx, q, setFailedSQL, id, status, failure, at)
	}
	if err != nil {
		return fmt.Errorf("record connection status: %w", err)
	}
	return nil
}

// SetStatus implements connection.Repository.
func (c *Connections) SetStatus(ctx context.Context, id, status string, at time.Time, version, failure string) error {
	return c.db.inTxQuiet(ctx, func(tx *sql.Tx) error { return setStatus(ctx, c.db, tx, id, status, at, version, failure) })
}

// Create implements connection.Repository.
//
// Concurrent creates are written together, as variables' are (see
// writeRows), and a create leaves the caches alone: a plan is cached only
// for a connection that was found, so no cached plan can name a new one.
func (c *Connections) Create(ctx context.Context, conn connection.Connection, e audit.Entry) error {
	row := []any{conn.ID, conn.Name, conn.CredentialID, conn.RunnerGroupID, conn.OwnerID, conn.Status, conn.CreatedAt, conn.UpdatedAt}
	w := &rowWrite{
		inserts: []tableRows{{"connections", connectionInsertColumns, [][]any{row}}},
		records: []pendingRecord{{Entry: e, Request: audit.RequestFrom(ctx)}},
	}
	return c.db.writeRows(ctx, w, func(tx *sql.Tx) error {
		_, err := c.db.exec(ctx, tx, insertSQL("connections", connectionInsertColumns, 1), row...)
		if isUniqueViolation(err) {
			return fmt.Errorf("%w: %q", connection.ErrNameTaken, conn.Name)
		}
		if err != nil {
			return fmt.Errorf("insert connection: %w", err)
		}
		return c.db.appendAudit(ctx, tx, e)
	})
}

// connectionInsertColumns are the columns a new connection is written with.
var connectionInsertColumns = []string{"id", "name", "credential_id", "runner_group_id", "owner_id", "status", "created_at", "updated_at"}

const connectionColumns = `c.id, c.name, COALESCE(c.credential_id, ''), COALESCE(cr.name, ''), c.runner_group_id, rg.name,
	c.owner_id, u.name, CASE WHEN c.credential_id IS NULL THEN 'broken' ELSE c.status END, c.last_error, c.last_error_at,
	c.last_resolved_at, c.last_secret_version, c.created_at, c.updated_at, COALESCE(cr.enabled, FALSE)
	FROM connections c
	LEFT JOIN credentials cr ON cr.id = c.credential_id
	JOIN runner_groups rg ON rg.id = c.runner_group_id
	JOIN users u ON u.id = c.owner_id`

func scanConnection(row interface{ Scan(...any) error }) (connection.Connection, error) {
	var (
		c                 connection.Connection
		errAt, resolvedAt sql.NullTime
	)
	err := row.Scan(&c.ID, &c.Name, &c.CredentialID, &c.Credential, &c.RunnerGroupID, &c.RunnerGroup, &c.OwnerID, &c.Owner,
		&c.Status, &c.LastError, &errAt, &resolvedAt, &c.LastSecretVersion, &c.CreatedAt, &c.UpdatedAt, &c.CredentialEnabled)
	c.LastErrorAt, c.LastResolvedAt = utcOrZero(errAt), utcOrZero(resolvedAt)
	c.CreatedAt, c.UpdatedAt = c.CreatedAt.UTC(), c.UpdatedAt.UTC()
	return c, err
}

// Get implements connection.Repository.
func (c *Connections) Get(ctx context.Context, idOrName string) (connection.Connection, error) {
	conn, err := scanConnection(c.db.queryRow(ctx, `SELECT `+connectionColumns+`
		WHERE c.id = $1 OR lower(c.name) = lower($1)`, idOrName))
	if errors.Is(err, sql.ErrNoRows) {
		return conn, fmt.Errorf("%w: %q", connection.ErrNotFound, idOrName)
	}
	if err != nil {
		return conn, fmt.Errorf("read connection: %w", err)
	}
	return conn, nil
}

// List implements connection.Repository: an admin sees every connection, a
// maker their own.
func (c *Connections) List(ctx context.Context, v access.Viewer, after string, limit int) ([]connection.Connection, error) {
	if v.All {
		return queryList(ctx, c.db, scanConnection, `SELECT `+connectionColumns+`
			WHERE c.id > $1 ORDER BY c.id LIMIT $2`, after, limit)
	}
	// A maker's own are one range of connections_owner, not a walk over
	// every connection in id order.
	return queryList(ctx, c.db, scanConnection, `SELECT `+connectionColumns+`
		WHERE c.owner_id = $3 AND c.id > $1 ORDER BY c.id LIMIT $2`, after, limit, v.UserID)
}

// Delete implements connection.Repository.
func (c *Connections) Delete(ctx context.Context, id string, e audit.Entry) error {
	return c.db.write(ctx, e, func(tx *sql.Tx) error {
		res, err := c.db.exec(ctx, tx, `DELETE FROM connections WHERE id = $1`, id)
		if err != nil {
			return fmt.Errorf("delete connection: %w", err)
		}
		return mustAffect(res, fmt.Errorf("%w: %s", connection.ErrNotFound, id))
	})
}

// Target implements connection.Repository.
func (c *Connections) Target(ctx context.Context, idOrName string) (connection.Target, error) {
	var t connection.Target
	var err error
	if t.Connection, err = c.Get(ctx, idOrName); err != nil || t.Connection.CredentialID == "" {
		return t, err
	}
	if t.Credential, err = c.db.Credentials().Get(ctx, t.Connection.CredentialID); err != nil {
		return t, err
	}
	if t.Username, err = c.db.Variables().Get(ctx, t.Credential.UsernameVarID); err != nil {
		return t, err
	}
	t.Password, err = c.db.Variables().Get(ctx, t.Credential.PasswordVarID)
	return t, err
}

// Runners implements connection.Repository.
func (c *Connections) Runners(ctx context.Context, id string) ([]connection.RunnerState, error) {
	return queryList(ctx, c.db, func(row interface{ Scan(...any) error }) (connection.RunnerState, error) {
		var s connection.RunnerState
		err := row.Scan(&s.RunnerID, &s.Runner, &s.SecretVersion, &s.ResolvedAt)
		s.ResolvedAt = s.ResolvedAt.UTC()
		return s, err
	}, `SELECT r.runner_id, u.name, r.secret_version, r.resolved_at FROM connection_runners r JOIN users u ON u.id = r.runner_id
		WHERE r.connection_id = $1 ORDER BY lower(u.name)`, id)
}

// Generation implements connection.Repository.
func (c *Connections) Generation() (uint64, bool) { return c.db.Generation() }

// IDs implements connection.Repository.
func (c *Connections) IDs(ctx context.Context) ([]string, error) {
	return queryList(ctx, c.db, scanString, `SELECT id FROM connections WHERE credential_id IS NOT NULL ORDER BY id`)
}
