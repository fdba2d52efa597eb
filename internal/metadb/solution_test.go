package metadb_test

import (
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/credflow/credflow/internal/access"
	"github.com/credflow/credflow/internal/audit"
	"github.com/credflow/credflow/internal/credential"
	"github.com/credflow/credflow/internal/envvar"
	"github.com/credflow/credflow/internal/metadb/metadbtest"
	"github.com/credflow/credflow/internal/solution"
)

// TestSolutionApplyIsOneTransaction applies an import whose last write
// fails (a credential name taken meanwhile): nothing of it remains, the
// variables, the solution and the audit records included. Then the same
// import, without the clash, goes through whole.
func TestSolutionApplyIsOneTransaction(t *testing.T) {
	for _, e := range metadbtest.Engines(t) {
		t.Run(e.Name, func(t *testing.T) {
			ctx := t.Context()
			db := metadbtest.Open(t, e)
			now := time.Now().UTC().Truncate(time.Millisecond)
			owner := access.User{ID: uuid.NewString(), Name: "mona", Role: access.RoleMaker, Source: access.SourceLocal, CreatedAt: now}
			entry := func(action, resource string) audit.Entry {
				return audit.Entry{Actor: "mona", Action: action, Resource: resource, Outcome: audit.Success}
			}
			if err := db.Access().CreateUser(ctx, owner, entry("user.create", "user:mona")); err != nil {
				t.Fatal(err)
			}
			p := access.Principal{ID: owner.ID, Name: owner.Name, Role: owner.Role}
			newVar := func(name string) envvar.Planned {
				v := envvar.Variable{ID: uuid.NewString(), SchemaName: name, DisplayName: name, Type: envvar.TypeText, Value: "x",
					OwnerID: owner.ID, CreatedAt: now, UpdatedAt: now}
				obj := access.Object{Kind: access.KindVariable, ID: v.ID, Name: name}
				return envvar.Planned{Variable: v, Created: true, Changed: true, Owner: access.Own(p, obj, now), Entry: entry("variable.create", "variable:"+name)}
			}
			user, pass := newVar("cf_User"), newVar("cf_Pass")
			cred := credential.Credential{ID: uuid.NewString(), Name: "SQL", UsernameVarID: user.Variable.ID, PasswordVarID: pass.Variable.ID,
				OwnerID: owner.ID, Enabled: true, CreatedAt: now, UpdatedAt: now}
			plan := solution.Plan{
				Solution: solution.Solution{ID: uuid.NewString(), Name: "Reporting", Version: solution.Version{1, 0, 0, 0}, Publisher: "cf",
					OwnerID: owner.ID, CreatedAt: now, UpdatedAt: now, Components: []solution.Component{
						{Kind: solution.KindVariable, ID: user.Variable.ID}, {Kind: solution.KindVariable, ID: pass.Variable.ID},
						{Kind: solution.KindCredential, ID: cred.ID}}},
				NewSolution: true,
				Variables:   []envvar.Planned{user, pass},
				Credentials: []credential.Planned{{Credential: cred, Created: true, Changed: true,
					Owner: access.Own(p, access.Object{Kind: access.KindCredential, ID: cred.ID, Name: "SQL"}, now), Entry: entry("credential.create", "credential:SQL")}},
				Entries: []audit.Entry{user.Entry, pass.Entry, entry("credential.create", "credential:SQL"), entry("solution.import", "solution:Reporting")},
			}

			// Someone takes the credential's name after the import was checked.
			other := newVar("cf_Other")
			if err := db.Variables().Create(ctx, other.Variable, other.Owner, other.Entry); err != nil {
				t.Fatal(err)
			}
			taken := credential.Credential{ID: uuid.NewString(), Name: "sql", UsernameVarID: other.Variable.ID, PasswordVarID: other.Variable.ID,
				OwnerID: owner.ID, Enabled: true, CreatedAt: now, UpdatedAt: now}
			if err := db.Credentials().Create(ctx, taken, access.Own(p, access.Object{Kind: access.KindCredential, ID: taken.ID}, now), entry("credential.create", "credential:sql")); err != nil {
				t.Fatal(err)
			}
			records := func() int {
				recs, err := db.Audit().List(ctx, audit.Filter{Limit: 100})
				if err != nil {
					t.Fatal(err)
				}
				return len(recs)
			}
			before := records()
			if err := db.Solutions().Apply(ctx, plan); !errors.Is(err, credential.ErrNameTaken) {
				t.Fatalf("Apply = %v, want the taken name", err)
			}
			for _, name := range []string{"cf_User", "cf_Pass"} {
				if _, err := db.Variables().Get(ctx, name); !errors.Is(err, envvar.ErrNotFound) {
					t.Errorf("%s survived the failed import: %v", name, err)
				}
			}
			if _, err := db.Solutions().Get(ctx, "Reporting"); !errors.Is(err, solution.ErrNotFound) {
				t.Errorf("the solution survived the failed import: %v", err)
			}
			if n := records(); n != before {
				t.Errorf("the failed import left %d audit records", n-before)
			}

			if err := db.Credentials().Delete(ctx, taken.ID, false, entry("credential.delete", "credential:sql")); err != nil {
				t.Fatal(err)
			}
			if err := db.Solutions().Apply(ctx, plan); err != nil {
				t.Fatal(err)
			}
			sol, err := db.Solutions().Get(ctx, "reporting")
			if err != nil {
				t.Fatal(err)
			}
			if len(sol.Components) != 3 || sol.Components[0].Kind != solution.KindVariable || sol.Components[2].Name != "SQL" || sol.Owner != "mona" {
				t.Errorf("solution %+v", sol)
			}
			holders, err := db.Solutions().Holders(ctx, solution.KindCredential, cred.ID, "")
			if err != nil || len(holders) != 1 || holders[0] != "Reporting" {
				t.Errorf("holders %v, %v", holders, err)
			}
			// Deleting a component's object takes it out of the solution.
			if err := db.Credentials().Delete(ctx, cred.ID, false, entry("credential.delete", "credential:SQL")); err != nil {
				t.Fatal(err)
			}
			if sol, _ := db.Solutions().Get(ctx, "Reporting"); len(sol.Components) != 2 {
				t.Errorf("a deleted credential stayed in the solution: %+v", sol.Components)
			}
		})
	}
}

// TestSolutionApplyInBulk writes an import of more variables than one
// multi-row statement carries (an odd count, so that every statement shape
// is used), then finds them all by name in any case, with their shares,
// components and one audit record each, the chain intact.
func TestSolutionApplyInBulk(t *testing.T) {
	const n = 1237
	for _, e := range metadbtest.Engines(t) {
		t.Run(e.Name, func(t *testing.T) {
			ctx := t.Context()
			db := metadbtest.Open(t, e)
			now := time.Now().UTC().Truncate(time.Millisecond)
			owner := access.User{ID: uuid.NewString(), Name: "mona", Role: access.RoleMaker, Source: access.SourceLocal, CreatedAt: now}
			if err := db.Access().CreateUser(ctx, owner, audit.Entry{Actor: "t", Action: "user.create", Resource: "user:mona", Outcome: audit.Success}); err != nil {
				t.Fatal(err)
			}
			p := access.Principal{ID: owner.ID, Name: owner.Name, Role: owner.Role}
			sol := solution.Solution{ID: uuid.NewString(), Name: "Bulk", Version: solution.Version{1, 0, 0, 0}, Publisher: "cf",
				OwnerID: owner.ID, CreatedAt: now, UpdatedAt: now}
			plan := solution.Plan{NewSolution: true}
			var names []string
			for i := range n {
				name := fmt.Sprintf("cf_Bulk_%04d", i)
				names = append(names, strings.ToUpper(name))
				v := envvar.Variable{ID: uuid.NewString(), SchemaName: name, DisplayName: name, Type: envvar.TypeText, Value: fmt.Sprint(i),
					OwnerID: owner.ID, CreatedAt: now, UpdatedAt: now}
				entry := audit.Entry{Actor: "mona", Action: "variable.create", Resource: "variable:" + name, Outcome: audit.Success}
				plan.Variables = append(plan.Variables, envvar.Planned{Variable: v, Created: true, Changed: true,
					Owner: access.Own(p, envvar.Object(v), now), Entry: entry})
				plan.Entries = append(plan.Entries, entry)
				sol.Components = append(sol.Components, solution.Component{Kind: solution.KindVariable, ID: v.ID, Name: name})
			}
			plan.Solution = sol
			if err := db.Solutions().Apply(ctx, plan); err != nil {
				t.Fatal(err)
			}
			found, err := db.Solutions().VariablesNamed(ctx, append(names, "CF_NOT_THERE"))
			if err != nil {
				t.Fatal(err)
			}
			if len(found) != n {
				t.Fatalf("found %d variables by name, want %d", len(found), n)
			}
			for i, pv := range plan.Variables {
				got, ok := found[strings.ToLower(names[i])]
				if !ok || got.ID != pv.Variable.ID || got.Value != fmt.Sprint(i) || got.Owner != "mona" {
					t.Fatalf("variable %s: found %v %+v", names[i], ok, got)
				}
			}
			got, err := db.Solutions().Get(ctx, "bulk")
			if err != nil {
				t.Fatal(err)
			}
			if len(got.Components) != n {
				t.Errorf("%d components, want %d", len(got.Components), n)
			}
			shares, err := db.Access().Shares(ctx, access.KindVariable, plan.Variables[n-1].Variable.ID)
			if err != nil || len(shares) != 1 || shares[0].Principal.ID != owner.ID || shares[0].Role != access.RoleOwner {
				t.Errorf("shares of the last variable: %+v, %v", shares, err)
			}
			recs, err := db.Audit().List(ctx, audit.Filter{Action: "variable.create", Limit: n + 10})
			if err != nil {
				t.Fatal(err)
			}
			if len(recs) != n {
				t.Errorf("%d audit records of the creates, want %d", len(recs), n)
			}
			v, err := audit.NewTrail(db.Audit(), nil, filepath.Join(t.TempDir(), "checkpoints")).Verify(ctx, audit.VerifyOptions{Full: true})
			if err != nil || !v.OK {
				t.Errorf("audit chain after a bulk import: %+v, %v", v, err)
			}
		})
	}
}
