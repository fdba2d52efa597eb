package cli

import (
	"bytes"
	"reflect"
	"testing"

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
	var got *envListOptions
	cmd := newCmdEnvList(testFactory(nil), func(o *envListOptions) error { got = o; return nil })
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
			if del.Name != "db" || del.Store != tc.wantStore {
				t.Errorf("delete: %+v", del)
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

func TestServeHelpHidesDatabaseURL(t *testing.T) {
	r := invocation{env: map[string]string{config.EnvDatabase: "postgres://u:hunter2@db/credflow"}}.run(t, "serve", "--help")
	if r.code != exitOK || bytes.Contains([]byte(r.stdout), []byte("hunter2")) {
		t.Errorf("exit %d, help shows the database URL:\n%s", r.code, r.stdout)
	}
}
