package cli

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/spf13/cobra"

	"github.com/credflow/credflow/client"
	"github.com/credflow/credflow/internal/config"
)

// parse runs one command with args, stopping at its runF, and returns the
// error cobra or the command's checks gave.
func parse(t *testing.T, cmd *cobra.Command, args ...string) error {
	t.Helper()
	cmd.SetArgs(args)
	var out bytes.Buffer
	cmd.SetOut(&out)
	cmd.SetErr(&out)
	cmd.SilenceErrors = true
	cmd.SilenceUsage = true
	return cmd.Execute()
}

func testFactory(env map[string]string) *factory {
	return &factory{streams: &Streams{}, getenv: func(k string) string { return env[k] }}
}

func TestEnvCreateFlags(t *testing.T) {
	for _, tc := range []struct {
		name string
		args []string
		want envCreateOptions
	}{
		{
			name: "text",
			args: []string{"--display-name", "API URL", "--type", "text", "--value", "https://x", "--description", "d", "--schema-name", "cf_Api"},
			want: envCreateOptions{DisplayName: "API URL", SchemaName: "cf_Api", Description: "d", Type: client.TypeText, Value: "https://x"},
		},
		{
			name: "text with an empty value",
			args: []string{"--display-name", "E", "--type", "text", "--value", ""},
			want: envCreateOptions{DisplayName: "E", Type: client.TypeText},
		},
		{
			name: "secret",
			args: []string{"--display-name", "SQL Password", "--type", "secret", "--store", "local", "--ref", "sql-password"},
			want: envCreateOptions{DisplayName: "SQL Password", Type: client.TypeSecret, Store: "local", Ref: "sql-password"},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var got *envCreateOptions
			cmd := newCmdEnvCreate(testFactory(nil), func(o *envCreateOptions) error { got = o; return nil })
			if err := parse(t, cmd, tc.args...); err != nil {
				t.Fatal(err)
			}
			got.IO, got.Client, got.Format = nil, nil, ""
			if !reflect.DeepEqual(*got, tc.want) {
				t.Errorf("got  %+v\nwant %+v", *got, tc.want)
			}
		})
	}
}

func TestEnvUpdateSendsOnlyChangedFlags(t *testing.T) {
	s := func(v string) *string { return &v }
	for _, tc := range []struct {
		name string
		args []string
		want client.UpdateEnvironmentVariableRequest
	}{
		{"description cleared", []string{"x", "--description", ""}, client.UpdateEnvironmentVariableRequest{Description: s("")}},
		{"display name", []string{"x", "--display-name", "New"}, client.UpdateEnvironmentVariableRequest{DisplayName: s("New")}},
		{"value", []string{"x", "--value", "v2"}, client.UpdateEnvironmentVariableRequest{Value: s("v2")}},
		{"reference", []string{"x", "--store", "local", "--ref", "r2"}, client.UpdateEnvironmentVariableRequest{SecretRef: &client.SecretRef{Store: "local", Ref: "r2"}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var got *envUpdateOptions
			cmd := newCmdEnvUpdate(testFactory(nil), func(o *envUpdateOptions) error { got = o; return nil })
			if err := parse(t, cmd, tc.args...); err != nil {
				t.Fatal(err)
			}
			if got.ID != "x" || !reflect.DeepEqual(got.Request, tc.want) {
				t.Errorf("got %q %+v, want %+v", got.ID, got.Request, tc.want)
			}
		})
	}
}

func TestEnvListFlags(t *testing.T) {
	var got *listOptions
	cmd := newCmdEnvList(testFactory(nil), func(o *listOptions) error { got = o; return nil })
	if err := parse(t, cmd, "--type", "secret", "--limit", "5", "--cursor", "abc"); err != nil {
		t.Fatal(err)
	}
	if want := (client.ListOptions{Type: client.TypeSecret, Limit: 5, Cursor: "abc"}); got.List != want {
		t.Errorf("got %+v, want %+v", got.List, want)
	}
}

func TestCredentialFlags(t *testing.T) {
	var created *credentialCreateOptions
	cmd := newCmdCredentialCreate(testFactory(nil), func(o *credentialCreateOptions) error { created = o; return nil })
	if err := parse(t, cmd, "--name", "SQL prod", "--username", "cf_User", "--password", "cf_Pass", "--description", "d"); err != nil {
		t.Fatal(err)
	}
	if want := (client.CreateCredentialRequest{Name: "SQL prod", Description: "d", Username: "cf_User", Password: "cf_Pass"}); created.Request != want {
		t.Errorf("create: got %+v, want %+v", created.Request, want)
	}

	s := func(v string) *string { return &v }
	for _, tc := range []struct {
		name string
		args []string
		want client.UpdateCredentialRequest
	}{
		{"rename", []string{"SQL prod", "--name", "SQL eu"}, client.UpdateCredentialRequest{Name: s("SQL eu")}},
		{"description", []string{"SQL prod", "--description", ""}, client.UpdateCredentialRequest{Description: s("")}},
		// Sent so that the server's refusal reaches the user.
		{"variables", []string{"SQL prod", "--username", "u", "--password", "p"}, client.UpdateCredentialRequest{Username: s("u"), Password: s("p")}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var got *credentialUpdateOptions
			cmd := newCmdCredentialUpdate(testFactory(nil), func(o *credentialUpdateOptions) error { got = o; return nil })
			if err := parse(t, cmd, tc.args...); err != nil {
				t.Fatal(err)
			}
			if got.ID != "SQL prod" || !reflect.DeepEqual(got.Request, tc.want) {
				t.Errorf("got %q %+v, want %+v", got.ID, got.Request, tc.want)
			}
		})
	}
}

func TestSecretFlags(t *testing.T) {
	for _, tc := range []struct {
		name      string
		args      []string
		wantStore string
	}{
		{"default store", []string{"db"}, "local"},
		{"other store", []string{"db", "--store", "vault"}, "vault"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var put *secretPutOptions
			cmd := newCmdSecretPut(testFactory(nil), func(o *secretPutOptions) error { put = o; return nil })
			if err := parse(t, cmd, tc.args...); err != nil {
				t.Fatal(err)
			}
			if put.Name != "db" || put.Store != tc.wantStore {
				t.Errorf("put: %+v", put)
			}
			var del *secretDeleteOptions
			cmd = newCmdSecretDelete(testFactory(nil), func(o *secretDeleteOptions) error { del = o; return nil })
			if err := parse(t, cmd, tc.args...); err != nil {
				t.Fatal(err)
			}
			if del.Name != "db" || del.Store != tc.wantStore || del.Force {
				t.Errorf("delete: %+v", del)
			}
			cmd = newCmdSecretDelete(testFactory(nil), func(o *secretDeleteOptions) error { del = o; return nil })
			if err := parse(t, cmd, append(tc.args, "--force")...); err != nil {
				t.Fatal(err)
			}
			if del.Name != "db" || del.Store != tc.wantStore || !del.Force {
				t.Errorf("delete --force: %+v", del)
			}
		})
	}
}

func TestServeConfig(t *testing.T) {
	env := map[string]string{
		config.EnvAddr:     "0.0.0.0:9000",
		config.EnvPrefix:   "env",
		config.EnvDataDir:  "/var/lib/credflow",
		config.EnvDatabase: "postgres://db/credflow",
	}
	with := func(change func(*config.Config)) config.Config {
		c := config.Defaults()
		change(&c)
		return c
	}
	fromEnv := func(c *config.Config) {
		c.Addr, c.Prefix, c.DataDir, c.Database = "0.0.0.0:9000", "env", "/var/lib/credflow", "postgres://db/credflow"
	}
	for _, tc := range []struct {
		name string
		env  map[string]string
		args []string
		want config.Config
	}{
		{"defaults", nil, nil, config.Defaults()},
		{"environment", env, nil, with(fromEnv)},
		{
			name: "flags win",
			env:  env,
			args: []string{"--addr", "127.0.0.1:9443", "--data-dir", "d", "--database", "", "--master-key-file", "k", "--prefix", "flag",
				"--tls-cert-file", "c.pem", "--tls-key-file", "k.pem"},
			want: with(func(c *config.Config) {
				c.Addr, c.DataDir, c.Database, c.MasterKeyFile, c.Prefix = "127.0.0.1:9443", "d", "", "k", "flag"
				c.TLSCertFile, c.TLSKeyFile = "c.pem", "k.pem"
			}),
		},
		{
			name: "audit and sign-in settings",
			env: map[string]string{config.EnvAuditCheckpointFile: "/var/log/cp", config.EnvAuditCheckpointRecords: "50",
				config.EnvAuditCheckpointInterval: "10s", config.EnvMaxFailedSignIns: "7"},
			args: []string{"--audit-checkpoint-records", "500", "--max-failed-signins", "3"},
			want: with(func(c *config.Config) {
				c.AuditCheckpointFile, c.AuditCheckpointRecords, c.AuditCheckpointInterval, c.MaxFailedSignIns = "/var/log/cp", 500, 10*time.Second, 3
			}),
		},
		{
			name: "audit and sign-in flags",
			args: []string{"--audit-checkpoint-file", "cp", "--audit-checkpoint-interval", "2m"},
			want: with(func(c *config.Config) { c.AuditCheckpointFile, c.AuditCheckpointInterval = "cp", 2*time.Minute }),
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var got *serveOptions
			cmd := newCmdServe(testFactory(tc.env), func(o *serveOptions) error { got = o; return nil })
			if err := parse(t, cmd, tc.args...); err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got.Config, tc.want) {
				t.Errorf("got  %+v\nwant %+v", got.Config, tc.want)
			}
		})
	}
}

func TestServeRefusesBadAuditAndSignInSettings(t *testing.T) {
	for _, tc := range []struct {
		env  map[string]string
		args []string
		want string
	}{
		{nil, []string{"--audit-checkpoint-records", "0"}, "audit-checkpoint-records 0: want at least 1"},
		{nil, []string{"--audit-checkpoint-interval", "10ms"}, "audit-checkpoint-interval 10ms: want at least 1s"},
		{nil, []string{"--max-failed-signins", "0"}, "max-failed-signins 0: want at least 1"},
		{map[string]string{config.EnvAuditCheckpointInterval: "soon"}, nil, config.EnvAuditCheckpointInterval + ` "soon": want a duration such as 60s`},
		{map[string]string{config.EnvMaxFailedSignIns: "many"}, nil, config.EnvMaxFailedSignIns + ` "many": want a whole number`},
	} {
		cmd := newCmdServe(testFactory(tc.env), func(*serveOptions) error { t.Fatal("ran with a bad setting"); return nil })
		if err := parse(t, cmd, tc.args...); err == nil || err.Error() != tc.want {
			t.Errorf("%v %v: %v, want %q", tc.env, tc.args, err, tc.want)
		}
	}
}

func TestServeHelpHidesDatabaseURL(t *testing.T) {
	r := invocation{env: map[string]string{config.EnvDatabase: "postgres://u:hunter2@db/credflow"}}.run(t, "serve", "--help")
	if r.code != exitOK || bytes.Contains([]byte(r.stdout), []byte("hunter2")) {
		t.Errorf("exit %d, help shows the database URL:\n%s", r.code, r.stdout)
	}
}

func TestUserFlags(t *testing.T) {
	var created *userCreateOptions
	cmd := newCmdUserCreate(testFactory(nil), func(o *userCreateOptions) error { created = o; return nil })
	if err := parse(t, cmd, "build-01", "--role", "runner", "--runner-group", "build", "--display-name", "Build agent"); err != nil {
		t.Fatal(err)
	}
	want := client.CreateUserRequest{Name: "build-01", Role: client.RoleRunner, RunnerGroup: "build", DisplayName: "Build agent"}
	if created.Request != want {
		t.Errorf("create: got %+v, want %+v", created.Request, want)
	}

	s := func(v string) *string { return &v }
	role := func(r client.Role) *client.Role { return &r }
	for _, tc := range []struct {
		name string
		args []string
		want client.UpdateUserRequest
	}{
		{"role", []string{"bob", "--role", "admin"}, client.UpdateUserRequest{Role: role(client.RoleAdmin)}},
		{"display name cleared", []string{"bob", "--display-name", ""}, client.UpdateUserRequest{DisplayName: s("")}},
		{"out of its runner group", []string{"bob", "--runner-group", ""}, client.UpdateUserRequest{RunnerGroup: s("")}},
		{"all", []string{"bob", "--role", "runner", "--runner-group", "g", "--display-name", "B"},
			client.UpdateUserRequest{Role: role(client.RoleRunner), RunnerGroup: s("g"), DisplayName: s("B")}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var got *userUpdateOptions
			cmd := newCmdUserUpdate(testFactory(nil), func(o *userUpdateOptions) error { got = o; return nil })
			if err := parse(t, cmd, tc.args...); err != nil {
				t.Fatal(err)
			}
			if got.Name != "bob" || !reflect.DeepEqual(got.Request, tc.want) {
				t.Errorf("got %q %+v, want %+v", got.Name, got.Request, tc.want)
			}
		})
	}
}

func TestGroupMemberFlags(t *testing.T) {
	for name, newCmd := range map[string]func(*factory, func(*groupMemberOptions) error) *cobra.Command{
		"add-member":    newCmdGroupAddMember,
		"remove-member": newCmdGroupRemoveMember,
	} {
		var got *groupMemberOptions
		cmd := newCmd(testFactory(nil), func(o *groupMemberOptions) error { got = o; return nil })
		if err := parse(t, cmd, "dba", "user:bob"); err != nil {
			t.Fatal(err)
		}
		if got.Group != "dba" || got.User != "user:bob" || got.Remove != (name == "remove-member") || cmd.Name() != name {
			t.Errorf("%s: %+v", name, got)
		}
	}
}

func TestTokenFlags(t *testing.T) {
	at := time.Date(2027, 1, 2, 3, 4, 5, 0, time.UTC)
	for _, tc := range []struct {
		name string
		args []string
		want tokenCreateOptions
	}{
		{"never expires", []string{"--name", "laptop"}, tokenCreateOptions{Name: "laptop"}},
		{"for another user", []string{"--name", "ci", "--user", "build-01"}, tokenCreateOptions{Name: "ci", User: "build-01"}},
		{"days", []string{"--name", "n", "--expires-in", "30d"}, tokenCreateOptions{Name: "n", ExpiresIn: 30 * 24 * time.Hour}},
		{"hours and minutes", []string{"--name", "n", "--expires-in", "1h30m"}, tokenCreateOptions{Name: "n", ExpiresIn: 90 * time.Minute}},
		{"at a time", []string{"--name", "n", "--expires-at", "2027-01-02T04:04:05+01:00"}, tokenCreateOptions{Name: "n", ExpiresAt: at}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var got *tokenCreateOptions
			cmd := newCmdTokenCreate(testFactory(nil), func(o *tokenCreateOptions) error { got = o; return nil })
			if err := parse(t, cmd, tc.args...); err != nil {
				t.Fatal(err)
			}
			if got.Name != tc.want.Name || got.User != tc.want.User || got.ExpiresIn != tc.want.ExpiresIn || !got.ExpiresAt.Equal(tc.want.ExpiresAt) {
				t.Errorf("got %+v, want %+v", *got, tc.want)
			}
		})
	}

	for _, tc := range []struct {
		args []string
		want client.TokenListOptions
	}{
		{nil, client.TokenListOptions{}},
		{[]string{"--user", "bob"}, client.TokenListOptions{User: "bob"}},
		{[]string{"--all"}, client.TokenListOptions{All: true}},
	} {
		var got *tokenListOptions
		cmd := newCmdTokenList(testFactory(nil), func(o *tokenListOptions) error { got = o; return nil })
		if err := parse(t, cmd, tc.args...); err != nil {
			t.Fatal(err)
		}
		if got.List != tc.want {
			t.Errorf("token list %q: got %+v, want %+v", tc.args, got.List, tc.want)
		}
	}
}

func TestShareFlags(t *testing.T) {
	at := time.Date(2030, 6, 1, 0, 0, 0, 0, time.UTC)
	for _, kind := range []shareable{credentialShares, variableShares} {
		t.Run(kind.noun, func(t *testing.T) {
			var got *shareOptions
			cmd := newCmdShare(testFactory(nil), kind, func(o *shareOptions) error { got = o; return nil })
			if err := parse(t, cmd, "X", "group:dba", "--role", "user-share", "--expires-at", "2030-06-01T00:00:00Z"); err != nil {
				t.Fatal(err)
			}
			if got.ID != "X" || got.Principal != "group:dba" || got.Request.Role != client.ShareUserShare ||
				got.Request.ExpiresAt == nil || !got.Request.ExpiresAt.Equal(at) || got.Kind.noun != kind.noun {
				t.Errorf("share: %+v", got)
			}
			cmd = newCmdShare(testFactory(nil), kind, func(o *shareOptions) error { got = o; return nil })
			if err := parse(t, cmd, "X", "user:bob", "--role", "co-owner"); err != nil {
				t.Fatal(err)
			}
			if got.Request != (client.ShareRequest{Role: client.ShareCoOwner}) {
				t.Errorf("share without expiry: %+v", got.Request)
			}

			var un *unshareOptions
			cmd = newCmdUnshare(testFactory(nil), kind, func(o *unshareOptions) error { un = o; return nil })
			if err := parse(t, cmd, "X", "user:bob"); err != nil {
				t.Fatal(err)
			}
			if un.ID != "X" || un.Principal != "user:bob" {
				t.Errorf("unshare: %+v", un)
			}
			cmd = newCmdUnshare(testFactory(nil), kind, func(o *unshareOptions) error { un = o; return nil })
			err := parse(t, cmd, "X", "user:bob", "--with-variables")
			switch {
			case kind.noun == credentialShares.noun && (err != nil || !un.WithVariables):
				t.Errorf("credential unshare --with-variables: %v, %+v", err, un)
			case kind.noun != credentialShares.noun && err == nil:
				t.Errorf("env unshare accepts --with-variables")
			}
		})
	}
}

func TestStoreGrantFlags(t *testing.T) {
	var got *storeGrantOptions
	cmd := newCmdStoreGrant(testFactory(nil), func(o *storeGrantOptions) error { got = o; return nil })
	if err := parse(t, cmd, "local", "group:team-a", "--prefix", "team-a."); err != nil {
		t.Fatal(err)
	}
	if got.Store != "local" || got.Principal != "group:team-a" || got.Prefix != "team-a." {
		t.Errorf("grant: %+v", got)
	}
	var rev *storeRevokeOptions
	cmd = newCmdStoreRevoke(testFactory(nil), func(o *storeRevokeOptions) error { rev = o; return nil })
	if err := parse(t, cmd, "local", "user:bob"); err != nil {
		t.Fatal(err)
	}
	if rev.Store != "local" || rev.Principal != "user:bob" {
		t.Errorf("revoke: %+v", rev)
	}
}

func TestAuditListFlags(t *testing.T) {
	var got *auditListOptions
	cmd := newCmdAuditList(testFactory(nil), func(o *auditListOptions) error { got = o; return nil })
	if err := parse(t, cmd, "--actor", "bob", "--action", "credential.share", "--resource", "credential:SQL user:bob",
		"--from", "2026-01-01T00:00:00Z", "--to", "2026-02-01T00:00:00+01:00", "--limit", "10", "--cursor", "c1"); err != nil {
		t.Fatal(err)
	}
	want := client.AuditListOptions{Actor: "bob", Action: "credential.share", Resource: "credential:SQL user:bob",
		From: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC), To: time.Date(2026, 1, 31, 23, 0, 0, 0, time.UTC), Limit: 10, Cursor: "c1"}
	if got.List.Actor != want.Actor || got.List.Action != want.Action || got.List.Resource != want.Resource ||
		!got.List.From.Equal(want.From) || !got.List.To.Equal(want.To) || got.List.Limit != want.Limit || got.List.Cursor != want.Cursor {
		t.Errorf("got %+v, want %+v", got.List, want)
	}
}

func TestServeOIDCFlags(t *testing.T) {
	env := map[string]string{
		config.EnvOIDCIssuer: "https://env-idp", config.EnvOIDCAudience: "env-aud", config.EnvOIDCAuto: "false",
	}
	for _, tc := range []struct {
		name string
		env  map[string]string
		args []string
		want func(*config.Config)
	}{
		{"defaults", nil, nil, func(*config.Config) {}},
		{"environment", env, nil, func(c *config.Config) {
			c.OIDCIssuer, c.OIDCAudience, c.OIDCAutoCreate = "https://env-idp", "env-aud", false
		}},
		{"flags win", env, []string{"--oidc-issuer", "https://idp.example.com", "--oidc-audience", "credflow", "--oidc-user-claim", "email",
			"--oidc-groups-claim", "roles", "--oidc-auto-create"}, func(c *config.Config) {
			c.OIDCIssuer, c.OIDCAudience, c.OIDCUserClaim, c.OIDCGroupsClaim = "https://idp.example.com", "credflow", "email", "roles"
			c.OIDCAutoCreate = true
		}},
		{"web sign-in", map[string]string{config.EnvOIDCSecret: "/run/secrets/oidc"}, []string{"--oidc-redirect-url", "https://credflow.example.com/signin/oidc/callback"},
			func(c *config.Config) {
				c.OIDCRedirectURL, c.OIDCClientSecretFile = "https://credflow.example.com/signin/oidc/callback", "/run/secrets/oidc"
			}},
		{"auto-create off by flag", nil, []string{"--oidc-issuer", "https://idp", "--oidc-audience", "a", "--oidc-auto-create=false"}, func(c *config.Config) {
			c.OIDCIssuer, c.OIDCAudience, c.OIDCAutoCreate = "https://idp", "a", false
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var got *serveOptions
			cmd := newCmdServe(testFactory(tc.env), func(o *serveOptions) error { got = o; return nil })
			if err := parse(t, cmd, tc.args...); err != nil {
				t.Fatal(err)
			}
			want := config.Defaults()
			tc.want(&want)
			if !reflect.DeepEqual(got.Config, want) {
				t.Errorf("got  %+v\nwant %+v", got.Config, want)
			}
		})
	}
}

func TestCredentialRuntimeFlags(t *testing.T) {
	for _, tc := range []struct {
		args      []string
		wantForce bool
	}{
		{[]string{"SQL"}, false},
		{[]string{"SQL", "--force"}, true},
	} {
		var got *credentialDeleteOptions
		cmd := newCmdCredentialDelete(testFactory(nil), func(o *credentialDeleteOptions) error { got = o; return nil })
		if err := parse(t, cmd, tc.args...); err != nil {
			t.Fatal(err)
		}
		if got.ID != "SQL" || got.Force != tc.wantForce {
			t.Errorf("delete %q: %+v", tc.args, got)
		}
	}
	for name, tc := range map[string]struct {
		newCmd      func(*factory, func(*credentialEnableOptions) error) *cobra.Command
		wantDisable bool
	}{
		"disable": {newCmdCredentialDisable, true},
		"enable":  {newCmdCredentialEnable, false},
	} {
		var got *credentialEnableOptions
		cmd := tc.newCmd(testFactory(nil), func(o *credentialEnableOptions) error { got = o; return nil })
		if err := parse(t, cmd, "SQL"); err != nil {
			t.Fatal(err)
		}
		if got.ID != "SQL" || got.Disable != tc.wantDisable || cmd.Name() != name {
			t.Errorf("%s: %+v (command %s)", name, got, cmd.Name())
		}
	}
}

func TestConnectionFlags(t *testing.T) {
	var created *connectionCreateOptions
	cmd := newCmdConnectionCreate(testFactory(nil), func(o *connectionCreateOptions) error { created = o; return nil })
	if err := parse(t, cmd, "--name", "sql-build", "--credential", "SQL prod", "--runner-group", "build"); err != nil {
		t.Fatal(err)
	}
	if want := (client.CreateConnectionRequest{Name: "sql-build", Credential: "SQL prod", RunnerGroup: "build"}); created.Request != want {
		t.Errorf("create: got %+v, want %+v", created.Request, want)
	}
	for _, tc := range []struct {
		args       []string
		wantReveal bool
	}{
		{[]string{"sql-build"}, false},
		{[]string{"sql-build", "--reveal"}, true},
	} {
		var got *connectionResolveOptions
		cmd := newCmdConnectionResolve(testFactory(nil), func(o *connectionResolveOptions) error { got = o; return nil })
		if err := parse(t, cmd, tc.args...); err != nil {
			t.Fatal(err)
		}
		if got.Connection != "sql-build" || got.Reveal != tc.wantReveal {
			t.Errorf("resolve %q: %+v", tc.args, got)
		}
	}
}

func TestRunFlags(t *testing.T) {
	for _, tc := range []struct {
		name               string
		args               []string
		wantUser, wantPass string
		wantCommand        []string
	}{
		{"defaults, after dashes", []string{"--connection", "c", "--", "sh", "-c", "echo hi"},
			"CREDFLOW_USERNAME", "CREDFLOW_PASSWORD", []string{"sh", "-c", "echo hi"}},
		// The command's own flags are never taken for credflow's.
		{"without dashes", []string{"--connection", "c", "psql", "--connection", "x", "-h", "db"},
			"CREDFLOW_USERNAME", "CREDFLOW_PASSWORD", []string{"psql", "--connection", "x", "-h", "db"}},
		{"dashes kept after the command", []string{"--connection", "c", "--", "env", "--", "x"},
			"CREDFLOW_USERNAME", "CREDFLOW_PASSWORD", []string{"env", "--", "x"}},
		{"custom names", []string{"--connection", "c", "--username-env", "PGUSER", "--password-env", "PGPASSWORD", "--", "psql"},
			"PGUSER", "PGPASSWORD", []string{"psql"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var got *runOptions
			cmd := newCmdRun(testFactory(nil), func(o *runOptions) error { got = o; return nil })
			if err := parse(t, cmd, tc.args...); err != nil {
				t.Fatal(err)
			}
			if got.Connection != "c" || got.UsernameEnv != tc.wantUser || got.PasswordEnv != tc.wantPass || !reflect.DeepEqual(got.Command, tc.wantCommand) {
				t.Errorf("got %+v", got)
			}
		})
	}
}

func TestStoreAddFlags(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "kv.json")
	if err := os.WriteFile(file, []byte("{\n  \"vaultName\": \"myvault\",\n  \"auth\": {\"kind\": \"default\"}\n}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	d := func(v time.Duration) *time.Duration { return &v }
	for _, tc := range []struct {
		name  string
		args  []string
		stdin string
		want  client.CreateStoreRequest
	}{
		{"no settings", []string{"kv", "--kind", "azure-keyvault"},
			"", client.CreateStoreRequest{Name: "kv", Kind: "azure-keyvault"}},
		{"inline settings, compacted", []string{"kv", "--kind", "azure-keyvault", "--settings", `{ "vaultName": "v" }`},
			"", client.CreateStoreRequest{Name: "kv", Kind: "azure-keyvault", Settings: json.RawMessage(`{"vaultName":"v"}`)}},
		{"settings file", []string{"kv", "--kind", "azure-keyvault", "--settings-file", file},
			"", client.CreateStoreRequest{Name: "kv", Kind: "azure-keyvault", Settings: json.RawMessage(`{"vaultName":"myvault","auth":{"kind":"default"}}`)}},
		{"settings on stdin", []string{"kv", "--kind", "azure-keyvault", "--settings-file", "-"},
			`{"tenantId": "t"}`, client.CreateStoreRequest{Name: "kv", Kind: "azure-keyvault", Settings: json.RawMessage(`{"tenantId":"t"}`)}},
		{"cache", []string{"kv", "--kind", "azure-keyvault", "--cache-ttl", "5m", "--stale-if-error", "0s"},
			"", client.CreateStoreRequest{Name: "kv", Kind: "azure-keyvault", CacheTTL: d(5 * time.Minute), StaleIfError: d(0)}},
		{"Key Vault flags, only those given", []string{"kv", "--kind", "azure-keyvault", "--tenant-id", "t", "--subscription-id", "s",
			"--resource-group", "rg", "--vault-name", "v", "--auth", "managed-identity"},
			"", client.CreateStoreRequest{Name: "kv", Kind: "azure-keyvault",
				Settings: json.RawMessage(`{"tenantId":"t","subscriptionId":"s","resourceGroup":"rg","vaultName":"v","auth":{"kind":"managed-identity"}}`)}},
		{"Key Vault flags, all", []string{"kv", "--kind", "azure-keyvault", "--tenant-id", "t", "--subscription-id", "s",
			"--resource-group", "rg", "--vault-name", "v", "--vault-url", "https://127.0.0.1:8443/", "--allow-custom-vault-host", "--cloud", "usgov",
			"--auth", "client-secret", "--client-id", "c", "--client-secret-file", "/etc/kv", "--client-secret-env", "KV", "--certificate-file", "/c.pem",
			"--certificate-password-env", "PW", "--cache-ttl", "0s"},
			"", client.CreateStoreRequest{Name: "kv", Kind: "azure-keyvault", CacheTTL: d(0),
				Settings: json.RawMessage(`{"tenantId":"t","subscriptionId":"s","resourceGroup":"rg","vaultName":"v","vaultUrl":"https://127.0.0.1:8443/",` +
					`"allowCustomVaultHost":true,"cloud":"usgov","auth":{"kind":"client-secret","clientId":"c","clientSecretFile":"/etc/kv",` +
					`"clientSecretEnv":"KV","certificateFile":"/c.pem","certificatePasswordEnv":"PW"}}`)}},
		{"auth flags without --auth", []string{"kv", "--kind", "azure-keyvault", "--client-id", "c"},
			"", client.CreateStoreRequest{Name: "kv", Kind: "azure-keyvault", Settings: json.RawMessage(`{"auth":{"clientId":"c"}}`)}},
		{"Vault flags, token", []string{"vault", "--kind", "hashicorp-vault", "--vault-address", "https://v:8200", "--vault-auth", "token",
			"--vault-token-file", "/run/vault-token"},
			"", client.CreateStoreRequest{Name: "vault", Kind: "hashicorp-vault",
				Settings: json.RawMessage(`{"address":"https://v:8200","auth":{"kind":"token","tokenFile":"/run/vault-token"}}`)}},
		{"Vault flags, all", []string{"vault", "--kind", "hashicorp-vault", "--vault-address", "https://v:8200", "--vault-namespace", "team-a",
			"--vault-mount", "kv", "--vault-ca-file", "/etc/ca.pem", "--vault-auth", "approle", "--vault-token-env", "T", "--vault-token-file", "/t",
			"--vault-role-id", "r-1", "--vault-secret-id-file", "/s", "--vault-secret-id-env", "S", "--vault-approle-mount", "robots"},
			"", client.CreateStoreRequest{Name: "vault", Kind: "hashicorp-vault",
				Settings: json.RawMessage(`{"address":"https://v:8200","namespace":"team-a","mount":"kv","caFile":"/etc/ca.pem",` +
					`"auth":{"kind":"approle","tokenFile":"/t","tokenEnv":"T","roleId":"r-1","secretIdFile":"/s","secretIdEnv":"S","mount":"robots"}}`)}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var got *storeAddOptions
			f := testFactory(nil)
			f.streams.In = strings.NewReader(tc.stdin)
			cmd := newCmdStoreAdd(f, func(o *storeAddOptions) error { got = o; return nil })
			if err := parse(t, cmd, tc.args...); err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got.Request, tc.want) {
				t.Errorf("got  %+v (settings %s)\nwant %+v (settings %s)", got.Request, got.Request.Settings, tc.want, tc.want.Settings)
			}
		})
	}
}

func TestStoreSettingsRefused(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.json")
	if err := os.WriteFile(bad, []byte(`{"clientSecret": "hunter2"`), 0o600); err != nil {
		t.Fatal(err)
	}
	big := filepath.Join(dir, "big.json")
	if err := os.WriteFile(big, []byte(`{"x":"`+strings.Repeat("a", maxSettings)+`"}`), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"not JSON", []string{"--settings", "hunter2"}, "--settings: not valid JSON (at byte 1)"},
		{"truncated file", []string{"--settings-file", bad}, "not valid JSON"},
		{"an array", []string{"--settings", `["hunter2"]`}, "want one JSON object"},
		{"null", []string{"--settings", `null`}, "not null"},
		{"two objects", []string{"--settings", `{} {"a":"hunter2"}`}, "not valid JSON"},
		{"missing file", []string{"--settings-file", filepath.Join(dir, "none.json")}, "--settings-file: open"},
		{"too long", []string{"--settings-file", big}, "longer than"},
		{"Key Vault flag and settings", []string{"--settings", `{}`, "--vault-name", "v"}, "--vault-name builds the settings"},
		{"Key Vault flag and settings file", []string{"--settings-file", bad, "--auth", "default"}, "--auth builds the settings"},
		{"Key Vault flag for another kind", []string{"--vault-name", "v"}, "--vault-name is for --kind azure-keyvault"},
		{"bad cloud", []string{"--cloud", "mars"}, "--cloud must be public, china, usgov"},
		{"bad auth", []string{"--auth", "password"}, "--auth must be default, managed-identity"},
		{"Vault flag and settings", []string{"--settings", `{}`, "--vault-address", "https://v"}, "--vault-address builds the settings"},
		{"Vault flag and Key Vault flag", []string{"--vault-name", "v", "--vault-mount", "kv"}, "--vault-name and --vault-mount are for different kinds of store"},
		{"Vault flag for another kind", []string{"--vault-address", "https://v"}, "--vault-address is for --kind hashicorp-vault"},
		{"bad Vault auth", []string{"--vault-auth", "userpass"}, "--vault-auth must be token or approle"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			kind := "azure-keyvault"
			if strings.HasSuffix(tc.name, "another kind") {
				kind = "cyberark"
			} else if strings.HasPrefix(tc.name, "Vault") || strings.HasPrefix(tc.name, "bad Vault") {
				kind = "hashicorp-vault"
			}
			cmd := newCmdStoreAdd(testFactory(nil), func(*storeAddOptions) error { t.Fatal("ran"); return nil })
			err := parse(t, cmd, append([]string{"kv", "--kind", kind}, tc.args...)...)
			var ue *usageError
			if !errors.As(err, &ue) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want a usage error with %q", err, tc.want)
			}
			if strings.Contains(err.Error(), "hunter2") {
				t.Errorf("error repeats the settings: %v", err)
			}
		})
	}
}

func TestStoreUpdateAndCheckFlags(t *testing.T) {
	d := func(v time.Duration) *time.Duration { return &v }
	for _, tc := range []struct {
		name string
		args []string
		want client.UpdateStoreRequest
	}{
		{"cache ttl", []string{"local", "--cache-ttl", "5s"}, client.UpdateStoreRequest{CacheTTL: d(5 * time.Second)}},
		{"stale if error", []string{"local", "--stale-if-error", "1h"}, client.UpdateStoreRequest{StaleIfError: d(time.Hour)}},
		{"settings", []string{"kv", "--settings", `{"vaultName":"v2"}`}, client.UpdateStoreRequest{Settings: json.RawMessage(`{"vaultName":"v2"}`)}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var got *storeUpdateOptions
			cmd := newCmdStoreUpdate(testFactory(nil), func(o *storeUpdateOptions) error { got = o; return nil })
			if err := parse(t, cmd, tc.args...); err != nil {
				t.Fatal(err)
			}
			if got.Name != tc.args[0] || !reflect.DeepEqual(got.Request, tc.want) {
				t.Errorf("got %q %+v, want %+v", got.Name, got.Request, tc.want)
			}
		})
	}

	for _, tc := range []struct {
		args       []string
		wantSecret string
	}{
		{[]string{"kv"}, ""},
		{[]string{"kv", "--secret", "sql-password"}, "sql-password"},
	} {
		var got *storeCheckOptions
		cmd := newCmdStoreCheck(testFactory(nil), func(o *storeCheckOptions) error { got = o; return nil })
		if err := parse(t, cmd, tc.args...); err != nil {
			t.Fatal(err)
		}
		if got.Store != "kv" || got.Secret != tc.wantSecret {
			t.Errorf("check %q: %+v", tc.args, got)
		}
	}
}

func TestEnvCreateKeyVaultParts(t *testing.T) {
	var got *envCreateOptions
	cmd := newCmdEnvCreate(testFactory(nil), func(o *envCreateOptions) error { got = o; return nil })
	if err := parse(t, cmd, "--display-name", "P", "--type", "secret", "--store", "kv", "--secret-name", "sql", "--secret-version", "v1",
		"--vault-name", "other", "--subscription-id", "s", "--resource-group", "rg"); err != nil {
		t.Fatal(err)
	}
	want := client.SecretRef{Store: "kv", SecretName: "sql", SecretVersion: "v1", VaultName: "other", SubscriptionID: "s", ResourceGroup: "rg"}
	if r := got.secretRef(); *r != want {
		t.Errorf("got %+v, want %+v", *r, want)
	}
}
