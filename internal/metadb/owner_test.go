package metadb_test

import (
	"errors"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/credflow/credflow/internal/access"
	"github.com/credflow/credflow/internal/audit"
	"github.com/credflow/credflow/internal/envvar"
	"github.com/credflow/credflow/internal/metadb"
	"github.com/credflow/credflow/internal/metadb/metadbtest"
)

// TestHandOverIsOneTransaction hands two variables over while deleting their
// owner, once with a change that cannot be written (its owner changed
// meanwhile): nothing of it may remain, the earlier change, the deletion and
// the audit records included. Then the hand-over goes through.
func TestHandOverIsOneTransaction(t *testing.T) {
	for _, e := range metadbtest.Engines(t) {
		t.Run(e.Name, func(t *testing.T) {
			ctx := t.Context()
			db := metadbtest.Open(t, e)
			repo := db.Access()
			now := time.Now().UTC().Truncate(time.Millisecond)
			user := func(name string) access.User {
				u := access.User{ID: uuid.NewString(), Name: name, Role: access.RoleMaker, Source: access.SourceLocal, CreatedAt: now}
				if err := repo.CreateUser(ctx, u, audit.Entry{Actor: "t", Action: "user.create", Resource: "user:" + name, Outcome: audit.Success}); err != nil {
					t.Fatal(err)
				}
				return u
			}
			mona, carol := user("mona"), user("carol")
			ref := func(u access.User) access.PrincipalRef {
				return access.PrincipalRef{Kind: access.PrincipalUser, ID: u.ID, Name: u.Name}
			}
			variable := func(name string) access.Object {
				v := envvar.Variable{ID: uuid.NewString(), SchemaName: name, DisplayName: name, Type: envvar.TypeText, Value: "x",
					OwnerID: mona.ID, CreatedAt: now, UpdatedAt: now}
				obj := envvar.Object(v)
				owner := access.Share{Object: obj, Principal: ref(mona), Role: access.RoleOwner, CreatedAt: now}
				if err := db.Variables().Create(ctx, v, owner, audit.Entry{Actor: "mona", Action: "variable.create", Resource: "variable:" + name, Outcome: audit.Success}); err != nil {
					t.Fatal(err)
				}
				return obj
			}
			v1, v2 := variable("cf_One"), variable("cf_Two")
			change := func(obj access.Object, from access.User) access.OwnerChange {
				return access.OwnerChange{Object: obj, From: ref(from), To: ref(carol), Primary: true, At: now}
			}
			entries := []audit.Entry{{Actor: "admin", Action: "user.delete", Resource: "user:mona", Outcome: audit.Success}}
			records := func() int {
				recs, err := db.Audit().List(ctx, audit.Filter{Limit: 1000})
				if err != nil {
					t.Fatal(err)
				}
				return len(recs)
			}
			before := records()

			err := repo.DeleteUserHandingOver(ctx, mona.ID, []access.OwnerChange{change(v1, mona), change(v2, carol)}, entries)
			if !errors.Is(err, access.ErrOwnerChanged) {
				t.Fatalf("err %v, want ErrOwnerChanged", err)
			}
			if _, err := repo.User(ctx, mona.ID); err != nil {
				t.Errorf("mona is gone after a failed hand-over: %v", err)
			}
			wantOwner(t, db, v1, mona)
			if n := records(); n != before {
				t.Errorf("%d audit records after a failed hand-over, want %d", n, before)
			}

			if err := repo.DeleteUserHandingOver(ctx, mona.ID, []access.OwnerChange{change(v1, mona), change(v2, mona)}, entries); err != nil {
				t.Fatal(err)
			}
			if _, err := repo.User(ctx, mona.ID); !errors.Is(err, access.ErrNotFound) {
				t.Errorf("mona after the hand-over: %v", err)
			}
			wantOwner(t, db, v1, carol)
			wantOwner(t, db, v2, carol)
			if n := records(); n != before+1 {
				t.Errorf("%d audit records after the hand-over, want %d", n, before+1)
			}
		})
	}
}

// wantOwner checks obj's owner of record and that the owner holds the only
// share of it, as owner.
func wantOwner(t *testing.T, db *metadb.DB, obj access.Object, owner access.User) {
	t.Helper()
	v, err := db.Variables().Get(t.Context(), obj.ID)
	if err != nil {
		t.Fatal(err)
	}
	shares, err := db.Access().Shares(t.Context(), obj.Kind, obj.ID)
	if err != nil {
		t.Fatal(err)
	}
	if v.OwnerID != owner.ID || len(shares) != 1 || shares[0].Principal.ID != owner.ID || shares[0].Role != access.RoleOwner {
		t.Errorf("%s: owner %s, shares %+v; want %s alone, as owner", obj.Name, v.Owner, shares, owner.Name)
	}
}
