package metadb_test

import (
	"context"
	"errors"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/credflow/credflow/internal/access"
	"github.com/credflow/credflow/internal/audit"
	"github.com/credflow/credflow/internal/connection"
	"github.com/credflow/credflow/internal/credential"
	"github.com/credflow/credflow/internal/envvar"
	"github.com/credflow/credflow/internal/metadb"
	"github.com/credflow/credflow/internal/metadb/metadbtest"
)

// objects makes what credentials and connections are created from: a
// maker, two variables and a runner group, and creates credentials and
// connections of a given name.
type objects struct {
	db          *metadb.DB
	now         time.Time
	owner       access.User
	user, pass  envvar.Variable
	runnerGroup access.RunnerGroup
	credential  credential.Credential // what createConnection connects: set by useCredential
}

func newObjects(t *testing.T, db *metadb.DB) *objects {
	t.Helper()
	ctx := t.Context()
	o := &objects{db: db, now: time.Now().UTC().Truncate(time.Millisecond)}
	o.owner = access.User{ID: uuid.NewString(), Name: "mona", Role: access.RoleMaker, Source: access.SourceLocal, CreatedAt: o.now}
	if err := db.Access().CreateUser(ctx, o.owner, audit.Entry{Actor: "t", Action: "user.create", Resource: "user:mona", Outcome: audit.Success}); err != nil {
		t.Fatal(err)
	}
	for _, v := range []*envvar.Variable{&o.user, &o.pass} {
		*v = envvar.Variable{ID: uuid.NewString(), SchemaName: "cf_" + uuid.NewString()[:8], Type: envvar.TypeText, Value: "x",
			OwnerID: o.owner.ID, CreatedAt: o.now, UpdatedAt: o.now}
		v.DisplayName = v.SchemaName
		if err := db.Variables().Create(ctx, *v, o.ownerShare(envvar.Object(*v)), audit.Entry{Actor: "mona", Action: "variable.create",
			Resource: "variable:" + v.SchemaName, Outcome: audit.Success}); err != nil {
			t.Fatal(err)
		}
	}
	o.runnerGroup = access.RunnerGroup{ID: uuid.NewString(), Name: "robots", CreatedAt: o.now}
	if err := db.Access().CreateRunnerGroup(ctx, o.runnerGroup, audit.Entry{Actor: "t", Action: "runner-group.create", Resource: "runner-group:robots", Outcome: audit.Success}); err != nil {
		t.Fatal(err)
	}
	return o
}

func (o *objects) ownerShare(obj access.Object) access.Share {
	return access.Share{Object: obj, Principal: access.PrincipalRef{Kind: access.PrincipalUser, ID: o.owner.ID, Name: o.owner.Name},
		Role: access.RoleOwner, CreatedAt: o.now}
}

// newCredential creates a credential named name. Safe to call at once
// from several goroutines.
func (o *objects) newCredential(ctx context.Context, name string) (credential.Credential, error) {
	c := credential.Credential{ID: uuid.NewString(), Name: name, UsernameVarID: o.user.ID, PasswordVarID: o.pass.ID,
		OwnerID: o.owner.ID, Enabled: true, CreatedAt: o.now, UpdatedAt: o.now}
	return c, o.db.Credentials().Create(ctx, c, o.ownerShare(credential.Object(c)),
		audit.Entry{Actor: "mona", Action: "credential.create", Resource: "credential:" + name, Outcome: audit.Success})
}

// createCredential creates a credential named name and returns its id.
func (o *objects) createCredential(ctx context.Context, name string) (string, error) {
	c, err := o.newCredential(ctx, name)
	return c.ID, err
}

// useCredential creates a credential named name for the connections
// created after it.
func (o *objects) useCredential(ctx context.Context, name string) (err error) {
	o.credential, err = o.newCredential(ctx, name)
	return err
}

// createConnection creates a connection named name, of the credential
// useCredential made, and returns its id.
func (o *objects) createConnection(ctx context.Context, name string) (string, error) {
	c := connection.Connection{ID: uuid.NewString(), Name: name, CredentialID: o.credential.ID, RunnerGroupID: o.runnerGroup.ID,
		OwnerID: o.owner.ID, Status: "ok", CreatedAt: o.now, UpdatedAt: o.now}
	return c.ID, metadb.NewConnections(o.db).Create(ctx, c,
		audit.Entry{Actor: "mona", Action: "connection.create", Resource: "connection:" + name, Outcome: audit.Success})
}

// settledGeneration is db's generation once it has stopped moving: on
// PostgreSQL a change also comes back through the listener, which moves
// it once more, a little later.
func settledGeneration(t *testing.T, db *metadb.DB) uint64 {
	t.Helper()
	last, ok := db.Generation()
	if !ok {
		t.Fatal("generation not usable")
	}
	for stable := time.Now(); time.Since(stable) < 300*time.Millisecond; time.Sleep(10 * time.Millisecond) {
		if g, _ := db.Generation(); g != last {
			last, stable = g, time.Now()
		}
	}
	return last
}

// TestCreatingKeepsTheCaches: a new credential or connection is in no
// cached plan or principal, so creating one leaves the change generation
// where it was (resolves keep their cached plans while objects are
// created); changing or deleting one moves it on.
func TestCreatingKeepsTheCaches(t *testing.T) {
	for _, e := range metadbtest.Engines(t) {
		t.Run(e.Name, func(t *testing.T) {
			ctx := t.Context()
			db := metadbtest.Open(t, e)
			o := newObjects(t, db)
			steps := []struct {
				name   string
				create func() error
				change func() error
			}{
				{"credential",
					func() error { return o.useCredential(ctx, "cred-new") },
					func() error {
						c := o.credential
						c.Description = "changed"
						return db.Credentials().Update(ctx, c, audit.Entry{Actor: "mona", Action: "credential.update", Resource: "credential:cred-new", Outcome: audit.Success})
					}},
				{"connection",
					func() error { _, err := o.createConnection(ctx, "conn-new"); return err },
					func() error {
						c, err := metadb.NewConnections(db).Get(ctx, "conn-new")
						if err != nil {
							return err
						}
						return metadb.NewConnections(db).Delete(ctx, c.ID, audit.Entry{Actor: "mona", Action: "connection.delete", Resource: "connection:conn-new", Outcome: audit.Success})
					}},
			}
			for _, s := range steps {
				before := settledGeneration(t, db)
				if err := s.create(); err != nil {
					t.Fatalf("create a %s: %v", s.name, err)
				}
				if after := settledGeneration(t, db); after != before {
					t.Errorf("creating a %s moved the generation from %d to %d", s.name, before, after)
				}
				if err := s.change(); err != nil {
					t.Fatalf("change the %s: %v", s.name, err)
				}
				if after, _ := db.Generation(); after == before {
					t.Errorf("changing the %s left the generation where it was", s.name)
				}
			}
		})
	}
}

// TestConcurrentCredentialAndConnectionCreates queues credential creates,
// and then connection creates, behind a held writer, and checks that they
// commit in one group, written together when nothing stands in the way and
// one by one when a name comes twice, so that exactly the create that lost
// hears its kind's ErrNameTaken and the others are stored with their
// owner's share (a credential's) and audit records, the chain whole.
func TestConcurrentCredentialAndConnectionCreates(t *testing.T) {
	type kind struct {
		name      string
		create    func(o *objects, ctx context.Context, name string) (string, error)
		read      func(o *objects, ctx context.Context, id string) (string, error) // the stored name
		nameTaken error
		share     access.ObjectKind // "" for none
	}
	kinds := []kind{
		{"credential", (*objects).createCredential,
			func(o *objects, ctx context.Context, id string) (string, error) {
				c, err := o.db.Credentials().Get(ctx, id)
				return c.Name, err
			}, credential.ErrNameTaken, access.KindCredential},
		{"connection", (*objects).createConnection,
			func(o *objects, ctx context.Context, id string) (string, error) {
				c, err := metadb.NewConnections(o.db).Get(ctx, id)
				return c.Name, err
			}, connection.ErrNameTaken, ""},
	}
	cases := []struct {
		name     string
		creates  []string
		refused  []string
		together int64 // runs of rows written together
	}{
		{"all new", []string{"a", "b", "c"}, nil, 1},
		{"one name twice", []string{"a", "dup", "DUP", "c"}, []string{"DUP"}, 0},
	}
	for _, e := range metadbtest.Engines(t) {
		t.Run(e.Name, func(t *testing.T) {
			for _, k := range kinds {
				for _, tc := range cases {
					t.Run(k.name+"/"+tc.name, func(t *testing.T) {
						ctx := t.Context()
						db := metadbtest.Open(t, e)
						key := testAuditKey(t)
						if err := db.Audit().UseKey(ctx, key); err != nil {
							t.Fatal(err)
						}
						o := newObjects(t, db)
						if k.name == "connection" {
							if err := o.useCredential(ctx, "cred"); err != nil {
								t.Fatal(err)
							}
						}
						runs := metadb.RowRuns(db)
						release := holdWriter(ctx, db, nil)
						groups := metadb.WriteGroups(db)
						ids := make([]string, len(tc.creates))
						errs := make([]error, len(tc.creates))
						var wg sync.WaitGroup
						for i, name := range tc.creates {
							wg.Go(func() { ids[i], errs[i] = k.create(o, ctx, k.name+"-"+name) })
							for metadb.WriteQueued(db) < i+1 {
								time.Sleep(time.Millisecond)
							}
						}
						releaseOneGroup(t, db, release, &wg, groups, runs, tc.together)
						stored := 0
						for i, name := range tc.creates {
							full := k.name + "-" + name
							if slices.Contains(tc.refused, name) {
								if !errors.Is(errs[i], k.nameTaken) {
									t.Errorf("create %s: err %v, want %v", full, errs[i], k.nameTaken)
								}
							} else if errs[i] != nil {
								t.Errorf("create %s: %v", full, errs[i])
							}
							got, err := k.read(o, ctx, ids[i])
							if (err == nil) != (errs[i] == nil) {
								t.Errorf("create %s (err %v): read back: %v", full, errs[i], err)
							}
							if errs[i] != nil {
								continue
							}
							stored++
							if got != full {
								t.Errorf("create %s: stored as %q", full, got)
							}
							if k.share == "" {
								continue
							}
							shares, err := db.Access().Shares(ctx, k.share, ids[i])
							if err != nil || len(shares) != 1 || shares[0].Principal.ID != o.owner.ID || shares[0].Role != access.RoleOwner {
								t.Errorf("create %s: shares %+v, %v; want the owner's", full, shares, err)
							}
						}
						recs, err := db.Audit().List(ctx, audit.Filter{Action: k.name + ".create", Limit: 100})
						if err != nil {
							t.Fatal(err)
						}
						if len(recs) != stored {
							t.Errorf("audit records of %s creates: got %d, want %d", k.name, len(recs), stored)
						}
						trail := audit.NewTrail(db.Audit(), key, filepath.Join(t.TempDir(), "checkpoints"))
						if v, err := trail.Verify(ctx, audit.VerifyOptions{Full: true}); err != nil || !v.OK {
							t.Errorf("chain after the creates: %+v, %v", v, err)
						}
					})
				}
			}
		})
	}
}
