package client_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/credflow/credflow/client"
	"github.com/credflow/credflow/internal/metadb/metadbtest"
	"github.com/credflow/credflow/internal/server/servertest"
)

// These tests drive the client against the real server, on every engine.

func start(t *testing.T, e metadbtest.Engine) *client.Client {
	t.Helper()
	inst := servertest.Start(t, e)
	c, err := client.New(inst.URL, inst.AdminToken)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// wantProblem fails unless err is a *client.Error with this status and code.
func wantProblem(t *testing.T, err error, status int, code string) *client.Error {
	t.Helper()
	var apiErr *client.Error
	if !errors.As(err, &apiErr) {
		t.Fatalf("err = %v (%T), want a %d %s problem", err, err, status, code)
	}
	if apiErr.Status != status || apiErr.Code != code {
		t.Fatalf("got %d %s (%s), want %d %s", apiErr.Status, apiErr.Code, apiErr.Message(), status, code)
	}
	if apiErr.Detail == "" && apiErr.Title == "" {
		t.Errorf("problem %+v has neither detail nor title", apiErr)
	}
	return apiErr
}

func ptr[T any](v T) *T { return &v }

func TestHealthAndReadiness(t *testing.T) {
	for _, e := range metadbtest.Engines(t) {
		t.Run(e.Name, func(t *testing.T) {
			c := start(t, e)
			ctx := context.Background()
			h, err := c.Health(ctx)
			if err != nil || h.Status != "ok" {
				t.Fatalf("Health() = %+v, %v", h, err)
			}
			r, err := c.Ready(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if !r.Ready() || r.Database != "ok" {
				t.Errorf("Ready() = %+v", r)
			}
			found := false
			for _, s := range r.Stores {
				found = found || (s.Name == "local" && s.Status == client.StoreReady)
			}
			if !found {
				t.Errorf("Ready().Stores = %+v, want local ready", r.Stores)
			}
		})
	}
}

func TestUnauthenticated(t *testing.T) {
	for _, e := range metadbtest.Engines(t) {
		t.Run(e.Name, func(t *testing.T) {
			inst := servertest.Start(t, e)
			ctx := context.Background()
			for name, token := range map[string]string{"none": "", "wrong": "cft_nope"} {
				c, err := client.New(inst.URL, token)
				if err != nil {
					t.Fatal(err)
				}
				_, err = c.ListEnvironmentVariables(ctx, client.ListOptions{})
				wantProblem(t, err, 401, "unauthenticated")
				// Health needs no token.
				if _, err := c.Health(ctx); err != nil {
					t.Errorf("%s token: Health: %v", name, err)
				}
			}
		})
	}
}

func TestTextVariableLifecycle(t *testing.T) {
	for _, e := range metadbtest.Engines(t) {
		t.Run(e.Name, func(t *testing.T) {
			c := start(t, e)
			ctx := context.Background()

			v, err := c.CreateEnvironmentVariable(ctx, client.CreateEnvironmentVariableRequest{
				DisplayName: "API URL", Description: "where the API is", Type: client.TypeText, Value: "https://api.example.com",
			})
			if err != nil {
				t.Fatal(err)
			}
			if v.ID == "" || v.SchemaName != "cf_APIURL" || v.Type != client.TypeText || v.Value != "https://api.example.com" ||
				v.SecretRef != nil || v.Owner == "" || v.CreatedAt.IsZero() {
				t.Errorf("created %+v", v)
			}

			// An empty text value is sent, and kept.
			empty, err := c.CreateEnvironmentVariable(ctx, client.CreateEnvironmentVariableRequest{
				SchemaName: "cf_Empty", DisplayName: "Empty", Type: client.TypeText,
			})
			if err != nil {
				t.Fatalf("empty text value: %v", err)
			}
			if empty.SchemaName != "cf_Empty" || empty.Value != "" {
				t.Errorf("created %+v", empty)
			}

			for _, key := range []string{v.ID, v.SchemaName, strings.ToLower(v.SchemaName)} {
				got, err := c.GetEnvironmentVariable(ctx, key)
				if err != nil {
					t.Fatalf("get %q: %v", key, err)
				}
				if got.ID != v.ID {
					t.Errorf("get %q = %s, want %s", key, got.ID, v.ID)
				}
			}

			// Only the fields set are changed.
			up, err := c.UpdateEnvironmentVariable(ctx, v.SchemaName, client.UpdateEnvironmentVariableRequest{Value: ptr("https://api2.example.com")})
			if err != nil {
				t.Fatal(err)
			}
			if up.Value != "https://api2.example.com" || up.DisplayName != "API URL" || up.Description != "where the API is" {
				t.Errorf("updated %+v", up)
			}
			up, err = c.UpdateEnvironmentVariable(ctx, v.ID, client.UpdateEnvironmentVariableRequest{Description: ptr("")})
			if err != nil {
				t.Fatal(err)
			}
			if up.Description != "" || up.Value != "https://api2.example.com" {
				t.Errorf("updated %+v", up)
			}

			d, err := c.EnvironmentVariableDependencies(ctx, v.SchemaName)
			if err != nil {
				t.Fatal(err)
			}
			if len(d.Credentials)+len(d.Connections) != 0 {
				t.Errorf("dependencies of an unused variable: %+v", d)
			}

			if err := c.DeleteEnvironmentVariable(ctx, v.SchemaName); err != nil {
				t.Fatal(err)
			}
			_, err = c.GetEnvironmentVariable(ctx, v.ID)
			wantProblem(t, err, 404, "not_found")
			err = c.DeleteEnvironmentVariable(ctx, v.ID)
			wantProblem(t, err, 404, "not_found")
		})
	}
}

func TestVariableErrors(t *testing.T) {
	for _, e := range metadbtest.Engines(t) {
		t.Run(e.Name, func(t *testing.T) {
			c := start(t, e)
			ctx := context.Background()
			text := func(schema string) client.CreateEnvironmentVariableRequest {
				return client.CreateEnvironmentVariableRequest{SchemaName: schema, DisplayName: "X", Type: client.TypeText, Value: "x"}
			}
			if _, err := c.CreateEnvironmentVariable(ctx, text("cf_Taken")); err != nil {
				t.Fatal(err)
			}
			_, err := c.CreateEnvironmentVariable(ctx, text("CF_TAKEN"))
			wantProblem(t, err, 409, "name_taken")

			_, err = c.CreateEnvironmentVariable(ctx, client.CreateEnvironmentVariableRequest{Type: "number"})
			p := wantProblem(t, err, 422, "validation_failed")
			if len(p.Errors) == 0 {
				t.Errorf("validation problem without errors[]: %+v", p)
			}

			_, err = c.CreateEnvironmentVariable(ctx, client.CreateEnvironmentVariableRequest{
				DisplayName: "Missing", Type: client.TypeSecret, SecretRef: &client.SecretRef{Store: "local", Ref: "no-such-secret"},
			})
			wantProblem(t, err, 422, "secret_not_found")
			_, err = c.CreateEnvironmentVariable(ctx, client.CreateEnvironmentVariableRequest{
				DisplayName: "Nowhere", Type: client.TypeSecret, SecretRef: &client.SecretRef{Store: "nowhere", Ref: "x"},
			})
			wantProblem(t, err, 422, "store_not_found")

			_, err = c.GetEnvironmentVariable(ctx, "cf_Nothing")
			wantProblem(t, err, 404, "not_found")
		})
	}
}

func TestListPagination(t *testing.T) {
	for _, e := range metadbtest.Engines(t) {
		t.Run(e.Name, func(t *testing.T) {
			c := start(t, e)
			ctx := context.Background()
			if _, err := c.PutSecret(ctx, "local", "s", "v"); err != nil {
				t.Fatal(err)
			}
			want := map[string]bool{}
			for _, n := range []string{"A", "B", "C", "D", "E"} {
				v, err := c.CreateEnvironmentVariable(ctx, client.CreateEnvironmentVariableRequest{DisplayName: n, Type: client.TypeText, Value: n})
				if err != nil {
					t.Fatal(err)
				}
				want[v.SchemaName] = true
			}
			if _, err := c.CreateEnvironmentVariable(ctx, client.CreateEnvironmentVariableRequest{
				DisplayName: "S", Type: client.TypeSecret, SecretRef: &client.SecretRef{Store: "local", Ref: "s"},
			}); err != nil {
				t.Fatal(err)
			}

			got := map[string]bool{}
			pages := 0
			for opts := (client.ListOptions{Limit: 2, Type: client.TypeText}); ; pages++ {
				page, err := c.ListEnvironmentVariables(ctx, opts)
				if err != nil {
					t.Fatal(err)
				}
				if len(page.Items) > 2 {
					t.Fatalf("page of %d items with limit 2", len(page.Items))
				}
				for _, v := range page.Items {
					if v.Type != client.TypeText || got[v.SchemaName] {
						t.Errorf("unexpected or repeated item %+v", v)
					}
					got[v.SchemaName] = true
				}
				if page.NextCursor == "" {
					break
				}
				if pages > 5 {
					t.Fatal("pagination does not end")
				}
				opts.Cursor = page.NextCursor
			}
			if len(got) != len(want) || pages < 2 {
				t.Errorf("listed %v in %d pages, want %v over 3 pages", got, pages+1, want)
			}

			secrets, err := c.ListEnvironmentVariables(ctx, client.ListOptions{Type: client.TypeSecret})
			if err != nil {
				t.Fatal(err)
			}
			if len(secrets.Items) != 1 || secrets.Items[0].SecretRef == nil || secrets.Items[0].Value != "" {
				t.Errorf("secret variables: %+v", secrets.Items)
			}
		})
	}
}

func TestSecretsAndCredentials(t *testing.T) {
	const value = "pa ss/wörd\n"
	for _, e := range metadbtest.Engines(t) {
		t.Run(e.Name, func(t *testing.T) {
			c := start(t, e)
			ctx := context.Background()

			stores, err := c.ListStores(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if len(stores) == 0 || stores[0].Name == "" {
				t.Fatalf("stores = %+v", stores)
			}
			local, err := c.GetStore(ctx, "local")
			if err != nil {
				t.Fatal(err)
			}
			if local.Kind != "builtin" || local.Status != client.StoreReady || local.ID == "" {
				t.Errorf("local store = %+v", local)
			}
			_, err = c.GetStore(ctx, "nowhere")
			wantProblem(t, err, 404, "not_found")

			// Secret names are letters, digits, ".", "_" and "-".
			const secretName = "sql.password-prod_1"
			v1, err := c.PutSecret(ctx, "local", secretName, value)
			if err != nil {
				t.Fatalf("put: %v", err)
			}
			v2, err := c.PutSecret(ctx, "local", secretName, value+"2")
			if err != nil {
				t.Fatal(err)
			}
			if v1.Name != secretName || v1.Version == "" || v2.Version == v1.Version || v2.UpdatedAt.IsZero() {
				t.Errorf("versions %+v then %+v", v1, v2)
			}
			secrets, err := c.ListSecrets(ctx, "local", client.ListOptions{})
			if err != nil {
				t.Fatal(err)
			}
			if len(secrets.Items) != 1 || secrets.Items[0].Name != secretName || secrets.Items[0].Versions != 2 ||
				secrets.Items[0].Version != v2.Version {
				t.Errorf("secrets = %+v", secrets.Items)
			}

			_, err = c.PutSecret(ctx, "nowhere", "x", value)
			wantProblem(t, err, 404, "not_found")
			if strings.Contains(err.Error(), value) {
				t.Errorf("error %q contains the value", err)
			}

			user, err := c.CreateEnvironmentVariable(ctx, client.CreateEnvironmentVariableRequest{DisplayName: "SQL User", Type: client.TypeText, Value: "app"})
			if err != nil {
				t.Fatal(err)
			}
			pass, err := c.CreateEnvironmentVariable(ctx, client.CreateEnvironmentVariableRequest{
				DisplayName: "SQL Password", Type: client.TypeSecret, SecretRef: &client.SecretRef{Store: "local", Ref: secretName},
			})
			if err != nil {
				t.Fatal(err)
			}
			// The built-in store's secrets are enabled and never expire.
			if ref := pass.SecretRef; pass.SchemaName != "cf_SQLPassword" || pass.Value != "" || ref == nil ||
				ref.Store != "local" || ref.Ref != secretName || ref.Enabled == nil || !*ref.Enabled || ref.ExpiresAt != nil {
				t.Errorf("secret variable %+v", pass)
			}

			_, err = c.CreateCredential(ctx, client.CreateCredentialRequest{Name: "bad", Username: user.SchemaName, Password: user.SchemaName})
			wantProblem(t, err, 422, "password_must_be_secret")

			// A name with a space and a slash travels escaped.
			const name = "SQL prod/eu"
			cr, err := c.CreateCredential(ctx, client.CreateCredentialRequest{
				Name: name, Description: "prod", Username: user.ID, Password: pass.SchemaName,
			})
			if err != nil {
				t.Fatal(err)
			}
			if cr.Name != name || cr.Username != user.SchemaName || cr.Password != pass.SchemaName || cr.Store != "local" ||
				!cr.Enabled || cr.Owner == "" {
				t.Errorf("credential %+v", cr)
			}
			_, err = c.CreateCredential(ctx, client.CreateCredentialRequest{Name: strings.ToUpper(name), Username: user.ID, Password: pass.ID})
			wantProblem(t, err, 409, "name_taken")

			got, err := c.GetCredential(ctx, name)
			if err != nil {
				t.Fatal(err)
			}
			if got.ID != cr.ID {
				t.Errorf("get by name = %+v", got)
			}
			list, err := c.ListCredentials(ctx, client.ListOptions{Limit: 10})
			if err != nil {
				t.Fatal(err)
			}
			if len(list.Items) != 1 || list.Items[0].ID != cr.ID || list.NextCursor != "" {
				t.Errorf("list = %+v", list)
			}

			renamed, err := c.UpdateCredential(ctx, cr.ID, client.UpdateCredentialRequest{Name: ptr("SQL prod EU")})
			if err != nil {
				t.Fatal(err)
			}
			if renamed.Name != "SQL prod EU" || renamed.Description != "prod" {
				t.Errorf("renamed %+v", renamed)
			}
			_, err = c.UpdateCredential(ctx, cr.ID, client.UpdateCredentialRequest{Password: ptr(user.SchemaName)})
			wantProblem(t, err, 409, "immutable_field")

			deps, err := c.EnvironmentVariableDependencies(ctx, pass.ID)
			if err != nil {
				t.Fatal(err)
			}
			if len(deps.Credentials) != 1 || deps.Credentials[0].ID != cr.ID || deps.Credentials[0].Name != "SQL prod EU" {
				t.Errorf("variable dependencies = %+v", deps)
			}
			cdeps, err := c.CredentialDependencies(ctx, "SQL prod EU")
			if err != nil {
				t.Fatal(err)
			}
			if len(cdeps.Connections) != 0 {
				t.Errorf("credential dependencies = %+v", cdeps)
			}

			err = c.DeleteEnvironmentVariable(ctx, pass.SchemaName)
			wantProblem(t, err, 409, "in_use")

			if err := c.DeleteCredential(ctx, "SQL prod EU"); err != nil {
				t.Fatal(err)
			}
			_, err = c.GetCredential(ctx, cr.ID)
			wantProblem(t, err, 404, "not_found")
			// The variables stay, and can now go.
			if err := c.DeleteEnvironmentVariable(ctx, pass.SchemaName); err != nil {
				t.Fatal(err)
			}

			if err := c.DeleteSecret(ctx, "local", secretName); err != nil {
				t.Fatal(err)
			}
			err = c.DeleteSecret(ctx, "local", secretName)
			wantProblem(t, err, 404, "not_found")
		})
	}
}

func TestBaseURLWithoutScheme(t *testing.T) {
	e := metadbtest.Engines(t)[0]
	inst := servertest.Start(t, e)
	u, err := url.Parse(inst.URL)
	if err != nil {
		t.Fatal(err)
	}
	c, err := client.New(u.Host, inst.AdminToken)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.ListCredentials(context.Background(), client.ListOptions{}); err != nil {
		t.Fatal(err)
	}
}

func TestRuntime(t *testing.T) {
	const password = "run-time pa55word"
	for _, e := range metadbtest.Engines(t) {
		t.Run(e.Name, func(t *testing.T) {
			inst := servertest.Start(t, e)
			admin, err := client.New(inst.URL, inst.AdminToken)
			if err != nil {
				t.Fatal(err)
			}
			ctx := context.Background()

			rg, err := admin.CreateRunnerGroup(ctx, "build")
			if err != nil {
				t.Fatal(err)
			}
			if rg.Name != "build" || rg.ID == "" || rg.CreatedAt.IsZero() {
				t.Errorf("runner group %+v", rg)
			}
			u, err := admin.CreateUser(ctx, client.CreateUserRequest{Name: "build-01", Role: client.RoleRunner, RunnerGroup: "build"})
			if err != nil {
				t.Fatal(err)
			}
			if u.RunnerGroup != "build" || u.Role != client.RoleRunner {
				t.Errorf("runner %+v", u)
			}
			_, err = admin.CreateUser(ctx, client.CreateUserRequest{Name: "m", Role: client.RoleMaker, RunnerGroup: "build"})
			wantProblem(t, err, 422, "validation_failed")
			tok, err := admin.CreateToken(ctx, client.CreateTokenRequest{Name: "machine", User: "build-01"})
			if err != nil {
				t.Fatal(err)
			}
			if tok.User != "build-01" || tok.Value.IsEmpty() || !strings.HasPrefix(tok.Value.Reveal(), tok.Prefix) {
				t.Errorf("token %+v (prefix %q)", tok, tok.Prefix)
			}
			runner, err := client.New(inst.URL, tok.Value.Reveal())
			if err != nil {
				t.Fatal(err)
			}
			me, err := runner.Me(ctx)
			if err != nil || me.Name != "build-01" || me.Role != client.RoleRunner {
				t.Fatalf("Me() = %+v, %v", me, err)
			}

			if _, err := admin.PutSecret(ctx, "local", "db", password); err != nil {
				t.Fatal(err)
			}
			for _, req := range []client.CreateEnvironmentVariableRequest{
				{SchemaName: "cf_User", DisplayName: "User", Type: client.TypeText, Value: "svc"},
				{SchemaName: "cf_Pass", DisplayName: "Pass", Type: client.TypeSecret, SecretRef: &client.SecretRef{Store: "local", Ref: "db"}},
			} {
				if _, err := admin.CreateEnvironmentVariable(ctx, req); err != nil {
					t.Fatal(err)
				}
			}
			if _, err := admin.CreateCredential(ctx, client.CreateCredentialRequest{Name: "DB", Username: "cf_User", Password: "cf_Pass"}); err != nil {
				t.Fatal(err)
			}
			cn, err := admin.CreateConnection(ctx, client.CreateConnectionRequest{Name: "db-build", Credential: "DB", RunnerGroup: "build"})
			if err != nil {
				t.Fatal(err)
			}
			if cn.Credential != "DB" || cn.RunnerGroup != "build" || cn.Owner != "admin" || cn.Status == "" || cn.LastResolvedAt != nil {
				t.Errorf("connection %+v", cn)
			}

			r, err := runner.Resolve(ctx, "db-build")
			if err != nil {
				t.Fatal(err)
			}
			if r.Username.Reveal() != "svc" || r.Password.Reveal() != password || r.Credential != "DB" || r.SecretVersion != "1" ||
				r.ResolvedAt.IsZero() || r.Stale {
				t.Errorf("resolved %+v", r)
			}
			if s := fmt.Sprintf("%+v %v", r, *r); strings.Contains(s, password) {
				t.Errorf("a Resolved prints its password: %s", s)
			}
			_, err = admin.Resolve(ctx, "db-build")
			wantProblem(t, err, 404, "not_found")

			runners, err := admin.ConnectionRunners(ctx, cn.ID)
			if err != nil {
				t.Fatal(err)
			}
			if len(runners) != 1 || runners[0].Runner != "build-01" || runners[0].SecretVersion != "1" {
				t.Errorf("runners %+v", runners)
			}

			cr, err := admin.DisableCredential(ctx, "DB")
			if err != nil || cr.Enabled {
				t.Fatalf("DisableCredential() = %+v, %v", cr, err)
			}
			_, err = runner.Resolve(ctx, "db-build")
			wantProblem(t, err, 423, "credential_disabled")
			if cr, err := admin.EnableCredential(ctx, "DB"); err != nil || !cr.Enabled {
				t.Fatalf("EnableCredential() = %+v, %v", cr, err)
			}

			err = admin.DeleteCredential(ctx, "DB")
			wantProblem(t, err, 409, "in_use")
			if err := admin.ForceDeleteCredential(ctx, "DB"); err != nil {
				t.Fatal(err)
			}
			got, err := admin.GetConnection(ctx, "db-build")
			if err != nil || got.Status != client.ConnectionBroken {
				t.Errorf("GetConnection() after a forced delete = %+v, %v", got, err)
			}
			list, err := admin.ListConnections(ctx, client.ListOptions{})
			if err != nil || len(list.Items) != 1 {
				t.Errorf("ListConnections() = %+v, %v", list, err)
			}
			_, err = runner.Resolve(ctx, "db-build")
			wantProblem(t, err, 409, "connection_broken")
			if err := admin.DeleteConnection(ctx, "db-build"); err != nil {
				t.Fatal(err)
			}
			if err := admin.RevokeToken(ctx, tok.ID); err != nil {
				t.Fatal(err)
			}
			_, err = runner.Me(ctx)
			wantProblem(t, err, 401, "unauthenticated")
			if err := admin.DeleteUser(ctx, "build-01"); err != nil {
				t.Fatal(err)
			}
			groups, err := admin.ListRunnerGroups(ctx, client.ListOptions{})
			if err != nil || len(groups.Items) != 1 {
				t.Errorf("ListRunnerGroups() = %+v, %v", groups, err)
			}
			if err := admin.DeleteRunnerGroup(ctx, "build"); err != nil {
				t.Fatal(err)
			}
			_, err = admin.GetRunnerGroup(ctx, "build")
			wantProblem(t, err, 404, "not_found")
			if strings.Contains(inst.Log(), password) {
				t.Error("the server logged the password")
			}
		})
	}
}

func TestStoreRegistration(t *testing.T) {
	for _, e := range metadbtest.Engines(t) {
		t.Run(e.Name, func(t *testing.T) {
			c := start(t, e)
			ctx := context.Background()

			local, err := c.GetStore(ctx, "local")
			if err != nil {
				t.Fatal(err)
			}
			if local.CacheTTL <= 0 || local.CreatedAt.IsZero() || string(local.Settings) != "{}" {
				t.Errorf("local store = %+v (settings %s)", local, local.Settings)
			}
			up, err := c.UpdateStore(ctx, "local", client.UpdateStoreRequest{CacheTTL: ptr(5 * time.Second), StaleIfError: ptr(time.Minute)})
			if err != nil {
				t.Fatal(err)
			}
			if up.CacheTTL != 5*time.Second || up.StaleIfError != time.Minute || up.UpdatedAt.Before(local.UpdatedAt) {
				t.Errorf("updated store = %+v", up)
			}
			stores, err := c.ListStores(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if len(stores) != 1 || stores[0].CacheTTL != 5*time.Second {
				t.Errorf("stores = %+v", stores)
			}
			_, err = c.UpdateStore(ctx, "local", client.UpdateStoreRequest{CacheTTL: ptr(48 * time.Hour)})
			wantProblem(t, err, 422, "validation_failed")

			if _, err := c.PutSecret(ctx, "local", "probe", "x"); err != nil {
				t.Fatal(err)
			}
			r, err := c.CheckStore(ctx, "local", "probe")
			if err != nil {
				t.Fatal(err)
			}
			if !r.OK || len(r.Steps) < 2 || r.FirstFailure() != nil {
				t.Errorf("check with a secret that exists = %+v", r)
			}
			r, err = c.CheckStore(ctx, "local", "absent")
			if err != nil {
				t.Fatal(err)
			}
			if f := r.FirstFailure(); r.OK || f == nil || f.Hint == "" {
				t.Errorf("check with a missing secret = %+v", r)
			}

			wantProblem(t, c.DeleteStore(ctx, "local"), 409, "builtin_store")
			_, err = c.CreateStore(ctx, client.CreateStoreRequest{Name: "again", Kind: "builtin"})
			wantProblem(t, err, 422, "validation_failed")
			_, err = c.CreateStore(ctx, client.CreateStoreRequest{Name: "kv", Kind: "azure-keyvault", Settings: json.RawMessage(`{"vaultName":"a_b"}`)})
			wantProblem(t, err, 422, "validation_failed")
			wantProblem(t, c.DeleteStore(ctx, "nowhere"), 404, "not_found")
		})
	}
}
