package cli

import (
	"strings"
	"testing"

	"github.com/spf13/cobra"

	"github.com/credflow/credflow/client"
	"github.com/credflow/credflow/internal/metadb/metadbtest"
	"github.com/credflow/credflow/internal/server/servertest"
)

func TestOwnerFlags(t *testing.T) {
	for name, newCmd := range map[string]func(*factory, func(*ownerOptions) error) *cobra.Command{
		"credential": func(f *factory, runF func(*ownerOptions) error) *cobra.Command {
			return newCmdOwner(f, credentialOwner, runF)
		},
		"env": func(f *factory, runF func(*ownerOptions) error) *cobra.Command {
			return newCmdOwner(f, variableOwner, runF)
		},
		"connection": func(f *factory, runF func(*ownerOptions) error) *cobra.Command {
			return newCmdOwner(f, connectionOwner, runF)
		},
	} {
		t.Run(name, func(t *testing.T) {
			var got *ownerOptions
			cmd := newCmd(testFactory(nil), func(o *ownerOptions) error { got = o; return nil })
			if err := parse(t, cmd, "SQL prod", "user:carol"); err != nil {
				t.Fatal(err)
			}
			if got.ID != "SQL prod" || got.User != "user:carol" {
				t.Errorf("got %+v", got)
			}
			cmd = newCmd(testFactory(nil), func(*ownerOptions) error { t.Error("ran without a user"); return nil })
			if err := parse(t, cmd, "SQL prod"); err == nil {
				t.Error("no error without USER")
			}
		})
	}
}

func TestUserDeleteFlags(t *testing.T) {
	for _, tc := range []struct {
		name string
		args []string
		want userDeleteOptions
		err  string
	}{
		{"plain", []string{"bob"}, userDeleteOptions{Name: "bob"}, ""},
		{"transfer", []string{"bob", "--transfer-to", "user:carol"}, userDeleteOptions{Name: "bob", TransferTo: "user:carol"}, ""},
		{"empty transfer", []string{"bob", "--transfer-to", ""}, userDeleteOptions{}, "--transfer-to needs a user name"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var got *userDeleteOptions
			cmd := newCmdUserDelete(testFactory(nil), func(o *userDeleteOptions) error { got = o; return nil })
			err := parse(t, cmd, tc.args...)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) || got != nil {
					t.Fatalf("err %v, want %q and nothing run", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got.Name != tc.want.Name || got.TransferTo != tc.want.TransferTo {
				t.Errorf("got %+v, want %+v", got, tc.want)
			}
		})
	}
}

func TestOwnershipEndToEnd(t *testing.T) {
	for _, e := range metadbtest.Engines(t) {
		t.Run(e.Name, func(t *testing.T) {
			inst := servertest.Start(t, e)
			admin, _ := runtimeSetup(t, inst)
			admin.ok("user", "create", "bob", "--role", "maker")
			admin.ok("user", "create", "carol", "--role", "maker")
			bobToken, _ := newToken(admin, "--name", "laptop", "--user", "bob")
			bob := admin.as(bobToken)

			wantLines(t, admin.ok("credential", "owner", "SQL", "user:bob"),
				`ID: +\S+`, `Name: +SQL`, `Description: *`, `Store: +local`, `Username: +cf_SQLUser`, `Password: +cf_SQLPassword`,
				`Owner: +bob`, `Enabled: +yes`, `Status: +ok`, `Created: +\S+`, `Updated: +\S+`)
			wantLines(t, bob.ok("credential", "shares", "SQL"), `PRINCIPAL +ROLE +EXPIRES +CREATED`,
				`user:admin +co-owner +\S+`, `user:bob +owner +\S+`)
			var v client.EnvironmentVariable
			admin.json(&v, "env", "owner", "cf_SQLPassword", "bob")
			if v.Owner != "bob" || v.SchemaName != "cf_SQLPassword" {
				t.Errorf("env owner: %+v", v)
			}
			// A connection goes only to someone who may use its credential.
			if msg := admin.fails("connection", "owner", "sql-build", "user:carol"); !strings.Contains(msg, `may not use credential "SQL"`) {
				t.Errorf("connection owner to carol: %q", msg)
			}
			bob.ok("credential", "share", "SQL", "user:carol", "--role", "user")
			var cn client.Connection
			admin.json(&cn, "connection", "owner", "sql-build", "user:carol")
			if cn.Owner != "carol" {
				t.Errorf("connection owner: %+v", cn)
			}
			// bob got the use of the credential's variables with it, not their ownership.
			if msg := bob.fails("env", "owner", "cf_SQLUser", "user:bob"); !strings.Contains(msg, "(user) does not allow this") {
				t.Errorf("env owner by a user of the variable: %q", msg)
			}

			// bob owns things: deleting him says how to hand them over.
			if msg := admin.fails("user", "delete", "bob"); !strings.Contains(msg, "--transfer-to USER") {
				t.Errorf("user delete: %q", msg)
			}
			if r := admin.run(invocation{}, "user", "delete", "bob", "--transfer-to", ""); r.code != exitUsage {
				t.Errorf("empty --transfer-to: exit %d, stderr %q", r.code, r.stderr)
			}
			if msg := admin.fails("user", "delete", "bob", "--transfer-to", "build-01"); !strings.Contains(msg, "runner") {
				t.Errorf("transfer to a runner: %q", msg)
			}
			if out := admin.ok("user", "delete", "bob", "--transfer-to", "carol"); out != "Deleted user bob; carol now owns everything they owned.\n" {
				t.Errorf("user delete --transfer-to: %q", out)
			}
			var cr client.Credential
			admin.json(&cr, "credential", "get", "SQL")
			if cr.Owner != "carol" {
				t.Errorf("credential owner after the hand-over: %+v", cr)
			}
			admin.json(&v, "env", "get", "cf_SQLPassword")
			if v.Owner != "carol" {
				t.Errorf("variable owner after the hand-over: %+v", v)
			}
			out := admin.ok("audit", "list", "--resource", "credential:SQL", "--action", "credential.owner.transfer")
			if !strings.Contains(out, "from user:admin to user:bob") || !strings.Contains(out, "from user:bob to user:carol; user:bob deleted") {
				t.Errorf("audit of the transfers:\n%s", out)
			}
		})
	}
}
