package client_test

import (
	"context"
	"testing"

	"github.com/credflow/credflow/client"
	"github.com/credflow/credflow/internal/metadb/metadbtest"
	"github.com/credflow/credflow/internal/server/servertest"
)

// TestSecretBytesRoundTrip: PutSecret stores any bytes exactly, and
// Resolve returns them exactly, text or not.
func TestSecretBytesRoundTrip(t *testing.T) {
	for _, e := range metadbtest.Engines(t) {
		t.Run(e.Name, func(t *testing.T) {
			inst := servertest.Start(t, e)
			admin, err := client.New(inst.URL, inst.AdminToken)
			if err != nil {
				t.Fatal(err)
			}
			ctx := context.Background()
			if _, err := admin.CreateRunnerGroup(ctx, "build"); err != nil {
				t.Fatal(err)
			}
			if _, err := admin.CreateUser(ctx, client.CreateUserRequest{Name: "build-01", Role: client.RoleRunner, RunnerGroup: "build"}); err != nil {
				t.Fatal(err)
			}
			tok, err := admin.CreateToken(ctx, client.CreateTokenRequest{Name: "machine", User: "build-01"})
			if err != nil {
				t.Fatal(err)
			}
			runner, err := client.New(inst.URL, tok.Value.Reveal())
			if err != nil {
				t.Fatal(err)
			}
			if _, err := admin.PutSecret(ctx, "local", "user", "us\xe9r"); err != nil {
				t.Fatal(err)
			}
			for _, req := range []client.CreateEnvironmentVariableRequest{
				{SchemaName: "cf_User", DisplayName: "User", Type: client.TypeSecret, SecretRef: &client.SecretRef{Store: "local", Ref: "user"}},
				{SchemaName: "cf_Pass", DisplayName: "Pass", Type: client.TypeSecret, SecretRef: &client.SecretRef{Store: "local", Ref: "db"}},
			} {
				if req.SchemaName == "cf_Pass" {
					if _, err := admin.PutSecret(ctx, "local", "db", "first"); err != nil {
						t.Fatal(err)
					}
				}
				if _, err := admin.CreateEnvironmentVariable(ctx, req); err != nil {
					t.Fatal(err)
				}
			}
			if _, err := admin.CreateCredential(ctx, client.CreateCredentialRequest{Name: "DB", Username: "cf_User", Password: "cf_Pass"}); err != nil {
				t.Fatal(err)
			}
			if _, err := admin.CreateConnection(ctx, client.CreateConnectionRequest{Name: "db-build", Credential: "DB", RunnerGroup: "build"}); err != nil {
				t.Fatal(err)
			}
			for _, value := range []string{"\xff\xfe\x00binary\x80", "plain text ✓", "text with a NUL\x00 inside"} {
				if _, err := admin.PutSecret(ctx, "local", "db", value); err != nil {
					t.Fatalf("PutSecret(%q): %v", value, err)
				}
				r, err := runner.Resolve(ctx, "db-build")
				if err != nil {
					t.Fatal(err)
				}
				if r.Password.Reveal() != value || r.Username.Reveal() != "us\xe9r" {
					t.Errorf("resolved %q / %q, want %q / %q", r.Username.Reveal(), r.Password.Reveal(), "us\xe9r", value)
				}
			}
		})
	}
}
