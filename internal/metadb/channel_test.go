package metadb_test

import (
	"context"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/credflow/credflow/internal/access"
	"github.com/credflow/credflow/internal/audit"
	"github.com/credflow/credflow/internal/metadb"
	"github.com/credflow/credflow/internal/metadb/metadbtest"
)

// TestSchemasDoNotHearEachOther: PostgreSQL's notifications reach every
// session of a database, so two credflow instances in two schemas of one
// database must not take each other's changes for their own (each would
// drop its caches, and reload stores, at the other's every change). A
// replica in the same schema hears the change; an instance in another
// schema does not.
func TestSchemasDoNotHearEachOther(t *testing.T) {
	engines := metadbtest.Engines(t)
	if len(engines) < 2 {
		t.Skip("PostgreSQL only: set " + metadbtest.EnvPostgresURL)
	}
	e := engines[1]
	ctx := t.Context()
	open := func(dsn string) *metadb.DB {
		db, err := metadb.Open(context.Background(), dsn, t.TempDir(), nil)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { db.Close() })
		return db
	}
	dsnA := e.DSN(t)
	a, replica, other := open(dsnA), open(dsnA), open(e.DSN(t))
	// settled waits for db's generation to stay put for a moment (its
	// listener connected and quiet) and returns it.
	settled := func(db *metadb.DB) uint64 {
		deadline := time.Now().Add(10 * time.Second)
		last, ok := db.Generation()
		for stable := time.Now(); !ok || time.Since(stable) < 300*time.Millisecond; time.Sleep(10 * time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatal("the generation did not settle")
			}
			g, gok := db.Generation()
			if g != last || gok != ok {
				last, ok, stable = g, gok, time.Now()
			}
		}
		return last
	}
	replicaBefore, otherBefore := settled(replica), settled(other)
	u := access.User{ID: uuid.NewString(), Name: "mona", Role: access.RoleMaker, Source: access.SourceLocal, CreatedAt: time.Now().UTC()}
	if err := a.Access().CreateUser(ctx, u, audit.Entry{Actor: "t", Action: "user.create", Resource: "user:mona", Outcome: audit.Success}); err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		if g, _ := replica.Generation(); g != replicaBefore {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the replica in the same schema did not hear the change")
		}
	}
	// The notification reached every listener at once; the other schema's
	// has had the time the replica took, and more.
	if after := settled(other); after != otherBefore {
		t.Errorf("the instance in another schema heard the change: generation %d -> %d", otherBefore, after)
	}
}
