package client_test

import (
	"context"
	"errors"
	"fmt"
	"log"
	"os"
	"os/exec"
	"strings"

	"github.com/credflow/credflow/client"
)

// This example stores a password in the built-in store, references it from a
// secret variable, and pairs it with a username in a credential. It needs a
// running server (credflow serve) and a token in CREDFLOW_TOKEN.
func Example() {
	ctx := context.Background()
	c, err := client.New("127.0.0.1:8080", os.Getenv("CREDFLOW_TOKEN"))
	if err != nil {
		log.Fatal(err)
	}

	// The value goes in; nothing ever reads it back out.
	if _, err := c.PutSecret(ctx, "local", "sql-password", "correct horse battery staple"); err != nil {
		log.Fatal(err)
	}
	password, err := c.CreateEnvironmentVariable(ctx, client.CreateEnvironmentVariableRequest{
		DisplayName: "SQL Password",
		Type:        client.TypeSecret,
		SecretRef:   &client.SecretRef{Store: "local", Ref: "sql-password"},
	})
	if err != nil {
		log.Fatal(err)
	}
	username, err := c.CreateEnvironmentVariable(ctx, client.CreateEnvironmentVariableRequest{
		DisplayName: "SQL User",
		Type:        client.TypeText,
		Value:       "app",
	})
	if err != nil {
		log.Fatal(err)
	}

	cred, err := c.CreateCredential(ctx, client.CreateCredentialRequest{
		Name:     "SQL prod",
		Username: username.SchemaName,
		Password: password.SchemaName,
	})
	var apiErr *client.Error
	switch {
	case errors.As(err, &apiErr) && apiErr.Code == "name_taken":
		fmt.Println("a credential named SQL prod already exists")
		return
	case err != nil:
		log.Fatal(err)
	}
	fmt.Println(cred.Name, cred.Username, cred.Password)

	// Walk every page of a listing.
	var names []string
	for opts := (client.ListOptions{Type: client.TypeSecret}); ; {
		page, err := c.ListEnvironmentVariables(ctx, opts)
		if err != nil {
			log.Fatal(err)
		}
		for _, v := range page.Items {
			names = append(names, v.SchemaName)
		}
		if page.NextCursor == "" {
			break
		}
		opts.Cursor = page.NextCursor
	}
	fmt.Println(strings.Join(names, ", "))
}

// This example is a runner's side: it resolves a connection and hands the
// username and password to a command's environment. The values print as
// [redacted] everywhere (fmt, encoding/json, log/slog) until Reveal is
// called, so the Resolved can be logged whole. It needs a running server and
// a runner's token in CREDFLOW_TOKEN; `credflow run` does the same.
func ExampleClient_Resolve() {
	ctx := context.Background()
	c, err := client.New("127.0.0.1:8080", os.Getenv("CREDFLOW_TOKEN"))
	if err != nil {
		log.Fatal(err)
	}
	r, err := c.Resolve(ctx, "reports-db")
	var apiErr *client.Error
	switch {
	case errors.As(err, &apiErr) && apiErr.Code == "credential_disabled":
		log.Fatal("the credential was disabled: not running the export")
	case err != nil:
		log.Fatal(err)
	}
	// Safe: prints {Username:[redacted] Password:[redacted] Credential:SQL prod ...}.
	log.Printf("resolved %+v", *r)

	cmd := exec.CommandContext(ctx, "./export.sh")
	cmd.Env = append(os.Environ(),
		"DB_USER="+r.Username.Reveal(),
		"DB_PASSWORD="+r.Password.Reveal(),
	)
	cmd.Stdout, cmd.Stderr = os.Stdout, os.Stderr
	if err := cmd.Run(); err != nil {
		log.Fatal(err)
	}
}
