package cli

import (
	"context"
	"encoding/json"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/credflow/credflow/client"
	"github.com/credflow/credflow/internal/audit"
	"github.com/credflow/credflow/internal/config"
	"github.com/credflow/credflow/internal/metadb/metadbtest"
	"github.com/credflow/credflow/internal/server/servertest"
)

// as returns a session like s whose commands authenticate with token.
func (s *session) as(token string) *session {
	env := map[string]string{}
	for k, v := range s.inv.env {
		env[k] = v
	}
	env[envToken] = token
	return &session{t: s.t, inv: invocation{env: env}, secrets: s.secrets}
}

// newToken creates a token with `token create` and returns its value and id,
// checking that stdout holds the value alone and stderr the one warning.
func newToken(s *session, args ...string) (value, id string) {
	s.t.Helper()
	r := s.run(invocation{}, append([]string{"token", "create"}, args...)...)
	if r.code != exitOK {
		s.t.Fatalf("token create %q: exit %d, stderr %q", args, r.code, r.stderr)
	}
	m := regexp.MustCompile(`^(cft_\S+)\n$`).FindStringSubmatch(r.stdout)
	if m == nil {
		s.t.Fatalf("token create: stdout %q, want the token alone on a line", r.stdout)
	}
	w := regexp.MustCompile(`^Created token \S+ \((\S+)\) for \S+: copy it now, its value will not be shown again\.\n$`).FindStringSubmatch(r.stderr)
	if w == nil {
		s.t.Fatalf("token create: stderr %q, want one warning line", r.stderr)
	}
	return m[1], w[1]
}

func TestAccessEndToEnd(t *testing.T) {
	const password = "sh4red pa55word"
	for _, e := range metadbtest.Engines(t) {
		t.Run(e.Name, func(t *testing.T) {
			inst := servertest.Start(t, e)
			admin := &session{t: t, inv: invocation{env: map[string]string{envAddr: inst.URL, envToken: inst.AdminToken}}, secrets: []string{password}}

			wantLines(t, admin.ok("whoami"), `ID: +\S+`, `Name: +admin`, `Role: +admin`, `Groups: *`)

			// Users and groups.
			wantLines(t, admin.ok("user", "create", "bob", "--role", "maker"),
				`ID: +\S+`, `Name: +bob`, `Display name: *`, `Role: +maker`, `Runner group: *`, `Source: +local`, `Created: +\S+`)
			var bob client.User
			admin.json(&bob, "user", "update", "bob", "--display-name", "Bob Smith")
			if bob.Name != "bob" || bob.DisplayName != "Bob Smith" || bob.Role != client.RoleMaker {
				t.Errorf("user update: %+v", bob)
			}
			admin.json(&bob, "user", "get", bob.ID)
			if bob.Name != "bob" {
				t.Errorf("user get by id: %+v", bob)
			}
			wantLines(t, admin.ok("user", "list"), `NAME +ROLE +DISPLAY NAME +RUNNER GROUP +SOURCE`,
				`admin +admin +Administrator +local`, `bob +maker +Bob Smith +local`)
			if msg := admin.fails("user", "create", "BOB", "--role", "maker"); msg == "" {
				t.Error("no message for a taken name")
			}

			wantLines(t, admin.ok("group", "create", "dba"), `ID: +\S+`, `Name: +dba`, `Created: +\S+`)
			if out := admin.ok("group", "add-member", "dba", "bob"); out != "Added bob to group dba.\n" {
				t.Errorf("add-member: %q", out)
			}
			wantLines(t, admin.ok("group", "members", "dba"), `NAME +ROLE +DISPLAY NAME +RUNNER GROUP +SOURCE`, `bob +maker +Bob Smith +local`)
			wantLines(t, admin.ok("group", "list"), `NAME +ID +CREATED`, `dba +\S+ +\S+`)
			var g client.Group
			admin.json(&g, "group", "get", "dba")
			if g.Name != "dba" || g.ID == "" {
				t.Errorf("group get: %+v", g)
			}

			// A token for bob, shown once; bob uses it through the CLI.
			bobToken, bobTokenID := newToken(admin, "--name", "bob-cli", "--user", "bob", "--expires-in", "30d")
			bobs := admin.as(bobToken)
			bobs.secrets = append(bobs.secrets, bobToken)
			admin.secrets = append(admin.secrets, bobToken)
			wantLines(t, bobs.ok("whoami"), `ID: +`+bob.ID, `Name: +bob`, `Role: +maker`, `Groups: +dba`)
			var created struct {
				client.Token
				Value string `json:"token"`
			}
			admin.json(&created, "token", "create", "--name", "spare", "--user", "bob", "--expires-at", "2099-01-01T00:00:00Z")
			if !strings.HasPrefix(created.Value, "cft_") || created.User != "bob" || created.ExpiresAt == nil || created.ExpiresAt.Year() != 2099 {
				t.Errorf("token create -o json: %+v", created)
			}
			wantLines(t, bobs.ok("token", "list"), `ID +NAME +USER +PREFIX +STATUS +EXPIRES +LAST USED`,
				`\S+ +(bob-cli|spare) +bob +cft_\S+ +active +\S+ +.*`, `\S+ +(bob-cli|spare) +bob +cft_\S+ +active +\S+ +.*`)
			var tokens client.Page[client.Token]
			admin.json(&tokens, "token", "list", "--all")
			if len(tokens.Items) != 3 {
				t.Errorf("token list --all: %+v", tokens.Items)
			}
			admin.json(&tokens, "token", "list", "--user", "bob")
			if len(tokens.Items) != 2 {
				t.Errorf("token list --user bob: %+v", tokens.Items)
			}
			if msg := bobs.fails("token", "list", "--all"); msg == "" {
				t.Error("a maker lists every token")
			}
			if msg := bobs.fails("user", "list"); msg == "" {
				t.Error("a maker lists users")
			}

			// Bob may reference the local store's secrets.
			if out := admin.ok("store", "grant", "local", "user:bob"); out != "Granted user:bob the use of all secrets in local.\n" {
				t.Errorf("store grant: %q", out)
			}
			if out := admin.ok("store", "grant", "local", "group:dba", "--prefix", "dba."); out != "Granted group:dba the use of the secrets starting with \"dba.\" in local.\n" {
				t.Errorf("store grant --prefix: %q", out)
			}
			wantLines(t, admin.ok("store", "grants", "local"), `PRINCIPAL +PREFIX +CREATED`, `(user:bob|group:dba) .*`, `(user:bob|group:dba) .*`)
			var grants client.Page[client.Grant]
			admin.json(&grants, "store", "grants", "local")
			if len(grants.Items) != 2 {
				t.Errorf("store grants -o json: %+v", grants)
			}
			if out := admin.ok("store", "revoke", "local", "group:dba"); out != "Revoked the grant of local to group:dba.\n" {
				t.Errorf("store revoke: %q", out)
			}

			// The admin's credential, shared with bob as user.
			if r := admin.run(invocation{stdin: password}, "store", "secret", "put", "sql-password"); r.code != exitOK {
				t.Fatalf("secret put: %s", r.stderr)
			}
			admin.ok("env", "create", "--display-name", "SQL User", "--type", "text", "--value", "app")
			admin.ok("env", "create", "--display-name", "SQL Password", "--type", "secret", "--store", "local", "--ref", "sql-password")
			admin.ok("credential", "create", "--name", "SQL prod", "--username", "cf_SQLUser", "--password", "cf_SQLPassword")
			if msg := bobs.fails("credential", "get", "SQL prod"); msg == "" {
				t.Error("bob sees the credential before it is shared")
			}
			if out := admin.ok("credential", "share", "SQL prod", "user:bob", "--role", "user"); out != "Shared credential SQL prod with user:bob as user.\n" {
				t.Errorf("credential share: %q", out)
			}
			var sh client.Share
			admin.json(&sh, "credential", "share", "SQL prod", "group:dba", "--role", "user-share", "--expires-at", "2099-01-01T00:00:00Z")
			if sh.Principal != "group:dba" || sh.Role != client.ShareUserShare || sh.ExpiresAt == nil {
				t.Errorf("credential share -o json: %+v", sh)
			}
			wantLines(t, admin.ok("credential", "shares", "SQL prod"), `PRINCIPAL +ROLE +EXPIRES +CREATED`,
				`user:admin +owner +\S+`, `user:bob +user +\S+`, `group:dba +user-share +2099-01-01T00:00:00Z +\S+`)
			if msg := bobs.fails("credential", "share", "SQL prod", "user:admin", "--role", "user"); msg == "" {
				t.Error("a user shares")
			}
			wantLines(t, bobs.ok("credential", "list"), `NAME +STORE +USERNAME +PASSWORD +OWNER +ENABLED +STATUS`, `SQL prod +local +cf_SQLUser +cf_SQLPassword +admin +yes +ok`)
			// ... and bob makes his own credential from the shared variables.
			var mine client.Credential
			bobs.json(&mine, "credential", "create", "--name", "bob's copy", "--username", "cf_SQLUser", "--password", "cf_SQLPassword")
			if mine.Owner != "bob" || mine.Store != "local" {
				t.Errorf("bob's credential: %+v", mine)
			}
			var shares client.Page[client.Share]
			wantLines(t, admin.ok("env", "shares", "cf_SQLPassword"), `PRINCIPAL +ROLE +EXPIRES +CREATED +GIVEN`,
				`user:admin +owner +\S+ +directly`, `user:bob +user +\S+ +through credential:SQL prod`,
				`group:dba +user +2099-01-01T00:00:00Z +\S+ +through credential:SQL prod`)
			bobs.json(&shares, "env", "shares", "cf_SQLPassword")
			found := false
			for _, s := range shares.Items {
				found = found || (s.Principal == "user:bob" && s.Role == client.ShareUser)
			}
			if !found {
				t.Errorf("the credential share gave no use of its variables: %+v", shares)
			}

			// Variables are shared the same way.
			if out := admin.ok("env", "share", "cf_SQLUser", "group:dba", "--role", "co-owner"); out != "Shared environment variable cf_SQLUser with group:dba as co-owner.\n" {
				t.Errorf("env share: %q", out)
			}
			if out := admin.ok("env", "unshare", "cf_SQLUser", "group:dba"); out != "Removed the share of environment variable cf_SQLUser held by group:dba.\n" {
				t.Errorf("env unshare: %q", out)
			}

			// Unsharing takes the credential away from bob.
			// ... and says which shares of its variables bob still holds, with
			// the commands that remove them.
			wantExact(t, "credential unshare", admin.ok("credential", "unshare", "SQL prod", "user:bob"),
				"Removed the share of credential SQL prod held by user:bob.",
				"user:bob still holds these shares of the credential's variables:",
				"  cf_SQLUser      user  through credential:SQL prod",
				"  cf_SQLPassword  user  through credential:SQL prod",
				"To remove them:",
				"  credflow env unshare cf_SQLUser user:bob",
				"  credflow env unshare cf_SQLPassword user:bob")
			var un client.CredentialUnshare
			admin.ok("credential", "share", "SQL prod", "user:bob", "--role", "user")
			admin.json(&un, "credential", "unshare", "SQL prod", "user:bob")
			if un.Removed.Principal != "user:bob" || len(un.RemainingVariableShares) != 2 || un.RemainingVariableShares[0].ViaCredential != "credential:SQL prod" {
				t.Errorf("credential unshare -o json: %+v", un)
			}
			admin.ok("env", "share", "cf_SQLPassword", "user:bob", "--role", "user")
			admin.ok("credential", "share", "SQL prod", "user:bob", "--role", "user")
			wantExact(t, "credential unshare --with-variables", admin.ok("credential", "unshare", "SQL prod", "user:bob", "--with-variables"),
				"Removed the share of credential SQL prod held by user:bob.",
				"Also removed the shares of its variables that it gave: cf_SQLUser, cf_SQLPassword.",
				"user:bob still holds these shares of the credential's variables:",
				"  cf_SQLPassword  user  directly",
				"To remove them:",
				"  credflow env unshare cf_SQLPassword user:bob")
			wantLines(t, admin.ok("env", "access", "cf_SQLPassword"),
				`PRINCIPAL +ROLE +EXPIRES +PATH`,
				`user:admin +owner +a direct share`,
				`group:dba +user +2099-01-01T00:00:00Z +the share of credential:SQL prod`,
				`user:bob +user +2099-01-01T00:00:00Z +member of group:dba, which holds the share of credential:SQL prod`,
				`user:bob +user +a direct share`,
				`user:admin +owner +the admin instance role`,
				``,
				`No connection reaches cf_SQLPassword\.`)
			if msg := bobs.fails("env", "access", "cf_SQLPassword"); !strings.Contains(msg, "does not allow") {
				t.Errorf("env access by a user: %q", msg)
			}
			admin.ok("env", "unshare", "cf_SQLPassword", "user:bob")
			admin.ok("credential", "unshare", "SQL prod", "group:dba")
			if msg := bobs.fails("credential", "get", "SQL prod"); !strings.Contains(msg, "not found") {
				t.Errorf("after unshare: %q", msg)
			}
			if msg := admin.fails("credential", "unshare", "SQL prod", "user:admin"); msg == "" {
				t.Error("the last owner went")
			}

			// The audit trail shows the shares (bob's three).
			wantLines(t, admin.ok("audit", "list", "--action", "credential.share", "--actor", "admin"),
				`SEQ +TIME +ACTOR +ACTION +RESOURCE +OUTCOME +REASON`,
				`\d+ +\S+ +admin +credential\.share +credential:SQL prod user:bob +success +role user`,
				`\d+ +\S+ +admin +credential\.share +credential:SQL prod group:dba +success +role user-share until 2099-01-01T00:00:00Z`,
				`\d+ +\S+ +admin +credential\.share +credential:SQL prod user:bob +success +role user`,
				`\d+ +\S+ +admin +credential\.share +credential:SQL prod user:bob +success +role user`)
			var records client.Page[client.AuditRecord]
			admin.json(&records, "audit", "list", "--resource", "credential:SQL prod user:bob")
			if len(records.Items) < 2 || records.Items[0].Action != "credential.share" || records.Items[len(records.Items)-1].Action != "credential.unshare" {
				t.Errorf("audit list --resource: %+v", records.Items)
			}
			admin.json(&records, "audit", "list", "--limit", "2")
			if len(records.Items) != 2 || records.NextCursor == "" || records.Items[0].Seq != 1 {
				t.Errorf("first audit page: %+v", records)
			}
			r := admin.run(invocation{}, "audit", "list", "--limit", "2", "--cursor", records.NextCursor)
			if r.code != exitOK || !regexp.MustCompile(`(?m)^3 `).MatchString(r.stdout) || !strings.HasPrefix(r.stderr, "More results: run again with --cursor ") {
				t.Errorf("second audit page: exit %d, stdout %q, stderr %q", r.code, r.stdout, r.stderr)
			}
			if out := admin.ok("audit", "list", "--from", "2000-01-01T00:00:00Z", "--to", "2000-01-02T00:00:00Z"); out != "No audit records.\n" {
				t.Errorf("audit list of another time: %q", out)
			}
			if msg := bobs.fails("audit", "list"); msg == "" {
				t.Error("a maker reads the audit trail")
			}
			out := admin.ok("audit", "verify")
			if !regexp.MustCompile(`^ok: \d+ records verified: the checkpoint of \S+ anchors records 1 to \d+, and the \d+ after it were checked \(--full checks every record\)\n$`).MatchString(out) {
				t.Errorf("audit verify: %q", out)
			}

			// Revoking bob's token locks his CLI out.
			if out := admin.ok("token", "revoke", bobTokenID); out != "Revoked token "+bobTokenID+".\n" {
				t.Errorf("token revoke: %q", out)
			}
			if msg := bobs.fails("credential", "list"); msg != "A valid bearer token is required." {
				t.Errorf("revoked token: %q", msg)
			}
			wantLines(t, admin.ok("token", "list", "--user", "bob"), `ID +NAME .*`, `.*`, `.*`)
			if !regexp.MustCompile(`(?m)^` + bobTokenID + ` +bob-cli +bob +cft_\S+ +revoked `).MatchString(admin.ok("token", "list", "--user", "bob")) {
				t.Errorf("token list does not show the revoked token")
			}

			// Clean-up commands.
			if out := admin.ok("group", "remove-member", "dba", "bob"); out != "Removed bob from group dba.\n" {
				t.Errorf("remove-member: %q", out)
			}
			if out := admin.ok("group", "members", "dba"); out != "Group dba has no members.\n" {
				t.Errorf("members of an empty group: %q", out)
			}
			if out := admin.ok("group", "delete", "dba"); out != "Deleted group dba.\n" {
				t.Errorf("group delete: %q", out)
			}
			if msg := admin.fails("user", "delete", "bob"); msg == "" {
				t.Error("deleted a user who owns a credential")
			}
			admin.ok("credential", "delete", "bob's copy")
			if out := admin.ok("user", "delete", "bob"); out != "Deleted user bob.\n" {
				t.Errorf("user delete: %q", out)
			}
			admin.fails("user", "get", "bob")
		})
	}
}

func TestAuditVerifyBroken(t *testing.T) {
	for _, e := range metadbtest.Engines(t) {
		t.Run(e.Name, func(t *testing.T) {
			inst := servertest.Start(t, e)
			admin := &session{t: t, inv: invocation{env: map[string]string{envAddr: inst.URL, envToken: inst.AdminToken}}}
			admin.ok("user", "create", "bob", "--role", "maker")
			admin.ok("group", "create", "dba")
			admin.ok("audit", "verify")

			var seq int64
			if err := inst.Server.DB().SQL().QueryRowContext(context.Background(), `SELECT max(seq) FROM audit_log`).Scan(&seq); err != nil {
				t.Fatal(err)
			}
			q := `UPDATE audit_log SET actor = 'mallory' WHERE seq = $1`
			if e.Name == "sqlite" {
				q = strings.Replace(q, "$1", "?", 1)
			}
			if _, err := inst.Server.DB().SQL().ExecContext(context.Background(), q, seq); err != nil {
				t.Fatal(err)
			}

			msg := admin.fails("audit", "verify")
			if want := "the audit trail is broken at record " + itoa(seq) + " (edited): record " + itoa(seq) +
				"'s link does not verify under the audit key: the record was edited, or it was recomputed without the key"; msg != want {
				t.Errorf("audit verify: %q, want %q", msg, want)
			}
			r := admin.run(invocation{}, "audit", "verify", "-o", "json")
			var v client.AuditVerification
			if err := json.Unmarshal([]byte(r.stdout), &v); err != nil {
				t.Fatalf("audit verify -o json: %v\n%s", err, r.stdout)
			}
			if r.code != exitError || v.OK || v.FirstBadRecord != seq || v.Problem == "" || !strings.Contains(r.stderr, `"error": "the audit trail is broken`) {
				t.Errorf("audit verify -o json: exit %d, %+v, stderr %q", r.code, v, r.stderr)
			}
		})
	}
}

// TestAuditVerifyTruncated removes the newest records and moves the
// recorded head, as someone with write access to the database would: the
// checkpoint file shows it, with exit code 1, from the checkpoint and in full.
func TestAuditVerifyTruncated(t *testing.T) {
	for _, e := range metadbtest.Engines(t) {
		t.Run(e.Name, func(t *testing.T) {
			inst := servertest.Start(t, e, func(c *config.Config) { c.AuditCheckpointRecords = 1 })
			admin := &session{t: t, inv: invocation{env: map[string]string{envAddr: inst.URL, envToken: inst.AdminToken}}}
			admin.ok("user", "create", "bob", "--role", "maker")
			admin.ok("group", "create", "dba")
			db := inst.Server.DB()
			var last int64
			if err := db.SQL().QueryRow(`SELECT max(seq) FROM audit_log`).Scan(&last); err != nil {
				t.Fatal(err)
			}
			want := regexp.MustCompile(`^ok: ` + itoa(last) + ` records verified: the checkpoint of \S+ anchors records 1 to ` + itoa(last) + `, and the 0 after it were checked \(--full checks every record\)\n$`)
			deadline := time.Now().Add(10 * time.Second)
			for out := admin.ok("audit", "verify"); !want.MatchString(out); out = admin.ok("audit", "verify") {
				if time.Now().After(deadline) {
					t.Fatalf("audit verify: %q, want a match for %s", out, want)
				}
				time.Sleep(20 * time.Millisecond)
			}
			if out := admin.ok("audit", "verify", "--full"); !strings.HasPrefix(out, "ok: "+itoa(last)+" records verified, every one checked, matching the checkpoint of ") {
				t.Errorf("audit verify --full: %q", out)
			}

			r, err := db.Audit().Get(context.Background(), 2)
			if err != nil {
				t.Fatal(err)
			}
			for _, q := range []string{`DELETE FROM audit_log WHERE seq > 2`, `UPDATE meta SET value = '` + audit.Head(r) + `' WHERE key = 'audit.head'`} {
				if _, err := db.SQL().Exec(q); err != nil {
					t.Fatal(err)
				}
			}
			for _, args := range [][]string{{"audit", "verify"}, {"audit", "verify", "--full"}} {
				msg := admin.fails(args...)
				if want := regexp.MustCompile(`^the audit trail is broken at record 3 \(truncated\): the log ends at record 2 but the checkpoint of \S+ was taken at record ` +
					itoa(last) + ` \(` + itoa(last) + ` records\): records were removed from the end \(truncated\)$`); !want.MatchString(msg) {
					t.Errorf("credflow %s: %q", strings.Join(args, " "), msg)
				}
			}
		})
	}
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

// wantExact checks that got is exactly these lines.
func wantExact(t *testing.T, what, got string, lines ...string) {
	t.Helper()
	if want := strings.Join(lines, "\n") + "\n"; got != want {
		t.Errorf("%s:\n got %q\nwant %q", what, got, want)
	}
}
