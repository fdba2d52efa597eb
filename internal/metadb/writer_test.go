package metadb_test

import (
	"context"
	"database/sql"
	"errors"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/credflow/credflow/internal/access"
	"github.com/credflow/credflow/internal/audit"
	"github.com/credflow/credflow/internal/envvar"
	"github.com/credflow/credflow/internal/metadb"
	"github.com/credflow/credflow/internal/metadb/metadbtest"
)

var errRefused = errors.New("refused by the test")

// writeOutcome is what one queued write did, as its caller saw it.
type writeOutcome struct {
	err      error
	panicked any
}

// holdWriter starts a write that holds db's writer until release is
// called; then body (nil: nothing) runs inside it, and release returns the
// held write's error.
func holdWriter(ctx context.Context, db *metadb.DB, body func(tx *sql.Tx) error) (release func() error) {
	free := make(chan struct{})
	held := make(chan struct{})
	out := make(chan error, 1)
	go func() {
		out <- metadb.WriteTx(db, ctx, func(tx *sql.Tx) error {
			close(held)
			<-free
			if body == nil {
				return nil
			}
			return body(tx)
		})
	}()
	<-held
	return func() error {
		close(free)
		return <-out
	}
}

// releaseOneGroup releases the writer that holdWriter held, waits for the
// writes queued behind it, and checks that they committed in one group
// holding together runs of rows written together, counted from groups and
// runs (read while the writer was held).
func releaseOneGroup(t *testing.T, db *metadb.DB, release func() error, wg *sync.WaitGroup, groups, runs, together int64) {
	t.Helper()
	if err := release(); err != nil {
		t.Fatalf("blocking write: %v", err)
	}
	wg.Wait()
	if got := metadb.WriteGroups(db) - groups; got != 1 {
		t.Errorf("transactions after the blocking one: got %d, want 1", got)
	}
	if got := metadb.RowRuns(db) - runs; got != together {
		t.Errorf("runs of rows written together: got %d, want %d", got, together)
	}
}

// TestWriterCommitsQueuedWritesTogether holds the writer on one write while
// others queue, then checks that the queued ones committed as one group, and
// that the ones that failed, panicked, or broke the whole transaction were
// undone alone, each caller hearing its own outcome.
func TestWriterCommitsQueuedWritesTogether(t *testing.T) {
	type write struct {
		key  string
		kind string // "ok", "fail", "panic", "break"
	}
	cases := []struct {
		name   string
		writes []write
		groups int64 // after the blocking write's own
	}{
		{"all succeed", []write{{"a", "ok"}, {"b", "ok"}, {"c", "ok"}}, 1},
		{"one fails", []write{{"a", "ok"}, {"b", "fail"}, {"c", "ok"}}, 1},
		{"one panics", []write{{"a", "ok"}, {"b", "panic"}, {"c", "ok"}}, 1},
		{"one breaks the transaction", []write{{"a", "ok"}, {"b", "break"}, {"c", "ok"}}, 2},
		{"fail then break", []write{{"a", "fail"}, {"b", "ok"}, {"c", "break"}, {"d", "ok"}}, 2},
	}
	for _, e := range metadbtest.Engines(t) {
		t.Run(e.Name, func(t *testing.T) {
			for _, tc := range cases {
				t.Run(tc.name, func(t *testing.T) {
					ctx := t.Context()
					db := metadbtest.Open(t, e)
					put := func(tx *sql.Tx, key string) error {
						if _, err := tx.ExecContext(ctx, metadb.Rebind(db.Dialect(), `INSERT INTO meta (key, value) VALUES ($1, 'v')`), "test."+key); err != nil {
							return err
						}
						return metadb.AppendAudit(db, ctx, tx, audit.Entry{Actor: "t", Action: "test.write", Resource: "meta:" + key, Outcome: audit.Success})
					}
					appended := db.Audit().Appended()
					groups := metadb.WriteGroups(db)

					release := holdWriter(ctx, db, func(tx *sql.Tx) error { return put(tx, "blocker") })

					out := make([]writeOutcome, len(tc.writes))
					var wg sync.WaitGroup
					for i, w := range tc.writes {
						wg.Add(1)
						go func() {
							defer wg.Done()
							defer func() { out[i].panicked = recover() }()
							out[i].err = metadb.WriteTx(db, ctx, func(tx *sql.Tx) error {
								if err := put(tx, w.key); err != nil {
									return err
								}
								switch w.kind {
								case "fail":
									return errRefused
								case "panic":
									panic("write " + w.key)
								case "break":
									if _, err := tx.ExecContext(ctx, `ROLLBACK`); err != nil {
										return err
									}
									return errRefused
								}
								return nil
							})
						}()
					}
					for metadb.WriteQueued(db) < len(tc.writes) {
						time.Sleep(time.Millisecond)
					}
					if err := release(); err != nil {
						t.Fatalf("blocking write: %v", err)
					}
					wg.Wait()

					if got := metadb.WriteGroups(db) - groups; got != 1+tc.groups {
						t.Errorf("transactions: got %d, want %d", got, 1+tc.groups)
					}
					want := int64(1)
					for i, w := range tc.writes {
						switch w.kind {
						case "ok":
							want++
							if out[i].err != nil || out[i].panicked != nil {
								t.Errorf("write %s: err %v, panic %v; want success", w.key, out[i].err, out[i].panicked)
							}
						case "panic":
							if out[i].panicked != "write "+w.key {
								t.Errorf("write %s: caller's panic %v, want the write's own", w.key, out[i].panicked)
							}
						default:
							if !errors.Is(out[i].err, errRefused) {
								t.Errorf("write %s: err %v, want the write's own", w.key, out[i].err)
							}
						}
						var n int
						if err := db.SQL().QueryRowContext(ctx, metadb.Rebind(db.Dialect(), `SELECT count(*) FROM meta WHERE key = $1`), "test."+w.key).Scan(&n); err != nil {
							t.Fatal(err)
						}
						if stored := n == 1; stored != (w.kind == "ok") {
							t.Errorf("write %s (%s): stored %v", w.key, w.kind, stored)
						}
					}
					if got := db.Audit().Appended() - appended; got != want {
						t.Errorf("audit records counted: got %d, want %d", got, want)
					}
					recs, err := db.Audit().List(ctx, audit.Filter{Action: "test.write", Limit: 100})
					if err != nil {
						t.Fatal(err)
					}
					if int64(len(recs)) != want {
						t.Errorf("audit records stored: got %d, want %d", len(recs), want)
					}
					for _, r := range recs {
						if r.Resource == "meta:b" && tc.writes[1].kind != "ok" {
							t.Errorf("the undone write's audit record stayed: %+v", r)
						}
					}
				})
			}
		})
	}
}

// TestWriterLeavesAWriteWhoseCallerLeft: a write whose caller's context
// ends while it waits is never run, and the caller hears why.
func TestWriterLeavesAWriteWhoseCallerLeft(t *testing.T) {
	for _, e := range metadbtest.Engines(t) {
		t.Run(e.Name, func(t *testing.T) {
			db := metadbtest.Open(t, e)
			release := holdWriter(t.Context(), db, nil)
			ctx, cancel := context.WithCancel(t.Context())
			ran := make(chan struct{}, 1)
			left := make(chan error, 1)
			go func() {
				left <- metadb.WriteTx(db, ctx, func(tx *sql.Tx) error {
					ran <- struct{}{}
					return nil
				})
			}()
			for metadb.WriteQueued(db) < 1 {
				time.Sleep(time.Millisecond)
			}
			cancel()
			if err := <-left; !errors.Is(err, context.Canceled) {
				t.Errorf("caller that left: %v, want context.Canceled", err)
			}
			if err := release(); err != nil {
				t.Fatal(err)
			}
			// The writer has taken the abandoned write by the time the next
			// one is answered.
			if err := metadb.WriteTx(db, t.Context(), func(*sql.Tx) error { return nil }); err != nil {
				t.Fatal(err)
			}
			select {
			case <-ran:
				t.Error("the write of a caller who left ran")
			default:
			}
		})
	}
}

// TestWriterRefusesWritesAfterClose: once the database is closed, a write
// fails at once with an error instead of waiting forever.
func TestWriterRefusesWritesAfterClose(t *testing.T) {
	db, err := metadb.Open(t.Context(), "", t.TempDir(), nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := metadb.WriteTx(db, t.Context(), func(*sql.Tx) error { return nil }); err != nil {
		t.Fatalf("write while open: %v", err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
	defer cancel()
	err = metadb.WriteTx(db, ctx, func(*sql.Tx) error { return nil })
	if err == nil || errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("write after close: %v, want a refusal", err)
	}
}

// TestWriterPutsUrgentWritesFirst: an urgent write (a resolve's records)
// that arrives while a group of changes runs cuts the group short and
// commits ahead of the changes still queued.
func TestWriterPutsUrgentWritesFirst(t *testing.T) {
	for _, e := range metadbtest.Engines(t) {
		t.Run(e.Name, func(t *testing.T) {
			ctx := t.Context()
			db := metadbtest.Open(t, e)
			record := func(tx *sql.Tx, name string) error {
				return metadb.AppendAudit(db, ctx, tx, audit.Entry{Actor: "t", Action: "test.order", Resource: name, Outcome: audit.Success})
			}
			hold := func(name string, running chan<- struct{}, release <-chan struct{}) func(tx *sql.Tx) error {
				return func(tx *sql.Tx) error {
					close(running)
					<-release
					return record(tx, name)
				}
			}
			var wg sync.WaitGroup
			errs := make(chan error, 8)
			write := func(urgent bool, fn func(tx *sql.Tx) error) {
				wg.Add(1)
				go func() {
					defer wg.Done()
					if urgent {
						errs <- metadb.UrgentTx(db, ctx, fn)
					} else {
						errs <- metadb.WriteTx(db, ctx, fn)
					}
				}()
			}
			groups := metadb.WriteGroups(db)
			blockerRunning, releaseBlocker := make(chan struct{}), make(chan struct{})
			write(false, hold("blocker", blockerRunning, releaseBlocker))
			<-blockerRunning
			aRunning, releaseA := make(chan struct{}), make(chan struct{})
			write(false, hold("a", aRunning, releaseA))
			for metadb.WriteQueued(db) < 1 {
				time.Sleep(time.Millisecond)
			}
			for _, name := range []string{"b", "c"} {
				write(false, func(tx *sql.Tx) error { return record(tx, name) })
				for metadb.WriteQueued(db) < 2 && name == "b" {
					time.Sleep(time.Millisecond)
				}
			}
			for metadb.WriteQueued(db) < 3 {
				time.Sleep(time.Millisecond)
			}
			close(releaseBlocker)
			<-aRunning
			write(true, func(tx *sql.Tx) error { return record(tx, "urgent") })
			for metadb.UrgentQueued(db) < 1 {
				time.Sleep(time.Millisecond)
			}
			close(releaseA)
			wg.Wait()
			close(errs)
			for err := range errs {
				if err != nil {
					t.Fatal(err)
				}
			}
			recs, err := db.Audit().List(ctx, audit.Filter{Action: "test.order", Limit: 10})
			if err != nil {
				t.Fatal(err)
			}
			var order []string
			for _, r := range recs {
				order = append(order, r.Resource)
			}
			if want := []string{"blocker", "a", "urgent", "b", "c"}; !slices.Equal(order, want) {
				t.Errorf("commit order %v, want %v", order, want)
			}
			// The blocker; a, cut short; the urgent write with b and c, or
			// with neither when the two did not fit its budget.
			if got := metadb.WriteGroups(db) - groups; got < 3 || got > 4 {
				t.Errorf("transactions: got %d, want 3 or 4", got)
			}
		})
	}
}

// TestCreatingAVariableKeepsTheCaches: a new variable is in no cached plan
// or principal, so creating one leaves the change generation where it was
// (resolves keep their cached plans while variables are created in bulk);
// changing one moves it on.
func TestCreatingAVariableKeepsTheCaches(t *testing.T) {
	for _, e := range metadbtest.Engines(t) {
		t.Run(e.Name, func(t *testing.T) {
			ctx := t.Context()
			db := metadbtest.Open(t, e)
			now := time.Now().UTC().Truncate(time.Millisecond)
			owner := access.User{ID: uuid.NewString(), Name: "mona", Role: access.RoleMaker, Source: access.SourceLocal, CreatedAt: now}
			if err := db.Access().CreateUser(ctx, owner, audit.Entry{Actor: "t", Action: "user.create", Resource: "user:mona", Outcome: audit.Success}); err != nil {
				t.Fatal(err)
			}
			before := settledGeneration(t, db)
			v := envvar.Variable{ID: uuid.NewString(), SchemaName: "cf_new", DisplayName: "new", Type: envvar.TypeText, Value: "x",
				OwnerID: owner.ID, CreatedAt: now, UpdatedAt: now}
			share := access.Share{Object: envvar.Object(v), Principal: access.PrincipalRef{Kind: access.PrincipalUser, ID: owner.ID, Name: "mona"},
				Role: access.RoleOwner, CreatedAt: now}
			if err := db.Variables().Create(ctx, v, share, audit.Entry{Actor: "mona", Action: "variable.create", Resource: "variable:cf_new", Outcome: audit.Success}); err != nil {
				t.Fatal(err)
			}
			if after := settledGeneration(t, db); after != before {
				t.Errorf("creating a variable moved the generation from %d to %d", before, after)
			}
			v.Value = "y"
			if err := db.Variables().Update(ctx, v, audit.Entry{Actor: "mona", Action: "variable.update", Resource: "variable:cf_new", Outcome: audit.Success}); err != nil {
				t.Fatal(err)
			}
			if after, _ := db.Generation(); after == before {
				t.Error("changing a variable left the generation where it was")
			}
		})
	}
}

// TestConcurrentCreatesWriteTogether queues variable creates behind a held
// writer and checks that they commit in one group, their rows written
// together when nothing stands in the way, and one by one when a name is
// taken, so that exactly the create that lost hears ErrNameTaken and the
// others are stored with their shares and audit records, the chain whole.
func TestConcurrentCreatesWriteTogether(t *testing.T) {
	cases := []struct {
		name     string
		taken    string   // created before
		creates  []string // in queue order; "-" a create whose caller leaves while it waits
		refused  []string // the creates that must hear ErrNameTaken
		together int64    // runs of rows written together
	}{
		{"all new", "", []string{"cf_a", "cf_b", "cf_c", "cf_d"}, nil, 1},
		{"a name taken before", "cf_b", []string{"cf_a", "cf_b", "cf_c"}, []string{"cf_b"}, 0},
		{"one name twice", "", []string{"cf_a", "cf_dup", "CF_DUP", "cf_c"}, []string{"CF_DUP"}, 0},
		{"a caller leaves", "", []string{"cf_a", "-", "cf_c", "cf_d"}, nil, 1},
	}
	for _, e := range metadbtest.Engines(t) {
		t.Run(e.Name, func(t *testing.T) {
			for _, tc := range cases {
				t.Run(tc.name, func(t *testing.T) {
					ctx := t.Context()
					db := metadbtest.Open(t, e)
					key := testAuditKey(t)
					if err := db.Audit().UseKey(ctx, key); err != nil {
						t.Fatal(err)
					}
					now := time.Now().UTC().Truncate(time.Millisecond)
					owner := access.User{ID: uuid.NewString(), Name: "mona", Role: access.RoleMaker, Source: access.SourceLocal, CreatedAt: now}
					if err := db.Access().CreateUser(ctx, owner, audit.Entry{Actor: "t", Action: "user.create", Resource: "user:mona", Outcome: audit.Success}); err != nil {
						t.Fatal(err)
					}
					create := func(ctx context.Context, name string) (envvar.Variable, error) {
						v := envvar.Variable{ID: uuid.NewString(), SchemaName: name, DisplayName: name, Type: envvar.TypeText, Value: "x",
							OwnerID: owner.ID, CreatedAt: now, UpdatedAt: now}
						share := access.Share{Object: envvar.Object(v), Principal: access.PrincipalRef{Kind: access.PrincipalUser, ID: owner.ID, Name: "mona"},
							Role: access.RoleOwner, CreatedAt: now}
						return v, db.Variables().Create(ctx, v, share, audit.Entry{Actor: "mona", Action: "variable.create", Resource: "variable:" + name, Outcome: audit.Success})
					}
					if tc.taken != "" {
						if _, err := create(ctx, tc.taken); err != nil {
							t.Fatal(err)
						}
					}
					runs := metadb.RowRuns(db)

					release := holdWriter(ctx, db, nil)
					groups := metadb.WriteGroups(db)

					type outcome struct {
						v   envvar.Variable
						err error
					}
					out := make([]outcome, len(tc.creates))
					var wg sync.WaitGroup
					for i, name := range tc.creates {
						cctx, leave := context.WithCancel(ctx)
						defer leave()
						if name == "-" {
							name = "cf_left"
						}
						wg.Add(1)
						returned := make(chan struct{})
						go func() {
							defer wg.Done()
							defer close(returned)
							out[i].v, out[i].err = create(cctx, name)
						}()
						for metadb.WriteQueued(db) < i+1 {
							time.Sleep(time.Millisecond)
						}
						if tc.creates[i] == "-" {
							leave()
							<-returned
						}
					}
					releaseOneGroup(t, db, release, &wg, groups, runs, tc.together)
					stored := 0
					for i, name := range tc.creates {
						o := out[i]
						switch {
						case name == "-":
							if !errors.Is(o.err, context.Canceled) {
								t.Errorf("the create whose caller left: err %v, want context.Canceled", o.err)
							}
						case slices.Contains(tc.refused, name):
							if !errors.Is(o.err, envvar.ErrNameTaken) {
								t.Errorf("create %s: err %v, want ErrNameTaken", name, o.err)
							}
						default:
							if o.err != nil {
								t.Errorf("create %s: %v", name, o.err)
							}
						}
						got, err := db.Variables().Get(ctx, o.v.ID)
						if (err == nil) != (o.err == nil) {
							t.Errorf("create %s (err %v): read back: %v", name, o.err, err)
						}
						if o.err != nil {
							continue
						}
						stored++
						if got.SchemaName != name {
							t.Errorf("create %s: stored as %q", name, got.SchemaName)
						}
						shares, err := db.Access().Shares(ctx, access.KindVariable, o.v.ID)
						if err != nil || len(shares) != 1 || shares[0].Principal.ID != owner.ID || shares[0].Role != access.RoleOwner {
							t.Errorf("create %s: shares %+v, %v; want the owner's", name, shares, err)
						}
					}
					recs, err := db.Audit().List(ctx, audit.Filter{Action: "variable.create", Limit: 100})
					if err != nil {
						t.Fatal(err)
					}
					want := stored
					if tc.taken != "" {
						want++
					}
					if len(recs) != want {
						t.Errorf("audit records of creates: got %d, want %d", len(recs), want)
					}
					trail := audit.NewTrail(db.Audit(), key, filepath.Join(t.TempDir(), "checkpoints"))
					if v, err := trail.Verify(ctx, audit.VerifyOptions{Full: true}); err != nil || !v.OK {
						t.Errorf("chain after the creates: %+v, %v", v, err)
					}
				})
			}
		})
	}
}
