package metadb

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
)

// rotationPrefix starts the payload announcing that a secret of a store
// changed (an event, a notification or a poll found a new version); a JSON
// object {"store","secret"} follows, secret "" meaning every secret.
const rotationPrefix = "rotated:"

type rotationPayload struct {
	Store  string `json:"store"`
	Secret string `json:"secret"`
}

// AnnounceSecretChange tells the other replicas to drop the cached values
// of a store's secret (every secret of it when secret is ""). It changes no
// metadata, so it moves no generation. On SQLite there are no other
// replicas and it does nothing.
func (db *DB) AnnounceSecretChange(ctx context.Context, store, secret string) error {
	if db.dialect != Postgres {
		return nil
	}
	b, err := json.Marshal(rotationPayload{Store: store, Secret: secret})
	if err != nil {
		return err
	}
	if _, err := db.sql.ExecContext(ctx, `SELECT pg_notify($1, $2)`, changeChannel, rotationPrefix+string(b)); err != nil {
		return fmt.Errorf("notify replicas: %w", err)
	}
	return nil
}

// OnStoreSecretChange sets what to do when another replica announces that a
// store's secret changed (secret "" for all of the store's).
func (db *DB) OnStoreSecretChange(fn func(store, secret string)) { db.onRotation.Store(fn) }

// OnListen sets what to do each time the change listener (re)connects:
// announcements made while it was away were missed, so whatever was cached
// from them must go.
func (db *DB) OnListen(fn func()) { db.onListen.Store(fn) }

// rotated handles a rotation announcement; it reports whether payload was
// one.
func (db *DB) rotated(payload string) bool {
	rest, ok := strings.CutPrefix(payload, rotationPrefix)
	if !ok {
		return false
	}
	var p rotationPayload
	if err := json.Unmarshal([]byte(rest), &p); err != nil {
		return true
	}
	if fn, _ := db.onRotation.Load().(func(string, string)); fn != nil {
		fn(p.Store, p.Secret)
	}
	return true
}

// listened runs the OnListen hook.
func (db *DB) listened() {
	if fn, _ := db.onListen.Load().(func()); fn != nil {
		fn()
	}
}
