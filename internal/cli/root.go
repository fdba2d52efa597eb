// Package cli is the credflow command: `credflow serve` runs the server,
// every other command is a client of its REST API through package client.
//
// Each command is an Options struct, a newCmdX constructor that parses flags
// into it (and takes a runF so tests can stop there), and an xRun function
// that does the work. The commands that only name an object and call one
// method (get, delete, ...) and the plain paginated lists are built by the
// helpers in nouns.go instead, and print through output.go. All I/O goes
// through Streams, so tests run commands in process. Exit codes are decided
// in exit.go only.
package cli

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"strings"

	"github.com/spf13/cobra"

	"github.com/credflow/credflow/client"
	buildversion "github.com/credflow/credflow/internal/version"
)

// Environment variables the client commands read.
const (
	envAddr  = "CREDFLOW_ADDR"
	envToken = "CREDFLOW_TOKEN"
)

const defaultServerURL = "http://127.0.0.1:8080"

// Main runs the credflow command line and returns the process exit code.
func Main(ctx context.Context, args []string, streams *Streams) int {
	return execute(ctx, &factory{streams: streams, getenv: os.Getenv, environ: os.Environ}, args)
}

// execute runs one command line with f, which must not be reused.
func execute(ctx context.Context, f *factory, args []string) int {
	root := newCmdRoot(f)
	root.SetArgs(args)
	root.SetIn(f.streams.In)
	root.SetOut(f.streams.Out)
	root.SetErr(f.streams.ErrOut)
	cmd, err := root.ExecuteContextC(ctx)
	return reportError(f.streams.ErrOut, cmd, err, f.ran, f.format())
}

// factory holds what the commands share: the streams, the environment and
// the global flags.
type factory struct {
	streams *Streams
	getenv  func(string) string
	// environ is the whole environment, which `credflow run` passes on.
	environ func() []string
	// httpClient, when set, carries the API requests (tests).
	httpClient *http.Client

	// Global flags.
	addr   string
	token  string
	output string

	// ran is set when a command's RunE starts: errors before it are usage.
	ran bool
}

// format is the parsed --output; the root's PersistentPreRunE has checked it.
func (f *factory) format() outputFormat {
	if f.output == "" {
		return formatTable
	}
	return outputFormat(f.output)
}

// client returns an API client for --addr and --token, falling back to
// CREDFLOW_ADDR and CREDFLOW_TOKEN.
func (f *factory) client() (*client.Client, error) {
	addr := f.addr
	if addr == "" {
		addr = f.getenv(envAddr)
	}
	if addr == "" {
		addr = defaultServerURL
	}
	token := f.token
	if token == "" {
		token = f.getenv(envToken)
	}
	if token == "" {
		return nil, usageErrorf("no API token: set %s or pass --token", envToken)
	}
	opts := []client.Option{client.WithUserAgent("credflow-cli/" + buildversion.Short())}
	if f.httpClient != nil {
		opts = append(opts, client.WithHTTPClient(f.httpClient))
	}
	c, err := client.New(addr, token, opts...)
	if err != nil {
		return nil, usageErrorf("--addr: %v", err)
	}
	return c, nil
}

func newCmdRoot(f *factory) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "credflow",
		Short: "A self-hosted credential service for automation",
		Long: `credflow keeps credentials for automation: passwords stay in a secret store,
runners get them at run time.

'credflow serve' runs the server; the other commands talk to one, at --addr
(or $CREDFLOW_ADDR) with --token (or $CREDFLOW_TOKEN).`,
		Version:       version(),
		SilenceErrors: true,
		SilenceUsage:  true,
		PersistentPreRunE: func(*cobra.Command, []string) error {
			_, err := parseFormat(f.output)
			return err
		},
		CompletionOptions: cobra.CompletionOptions{HiddenDefaultCmd: true},
	}
	cmd.SetVersionTemplate("credflow {{.Version}}\n")
	cmd.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return &usageError{err} })

	pf := cmd.PersistentFlags()
	pf.StringVar(&f.addr, "addr", "", "server URL (default $"+envAddr+", else "+defaultServerURL+")")
	pf.StringVar(&f.token, "token", "", "API token (default $"+envToken+", which keeps it out of the process list)")
	pf.StringVarP(&f.output, "output", "o", string(formatTable), "output format: table or json")

	cmd.AddCommand(
		newCmdEnv(f),
		newCmdCredential(f),
		newCmdConnection(f),
		newCmdRun(f, nil),
		newCmdStore(f),
		newCmdSolution(f),
		newCmdRunnerGroup(f),
		newCmdUser(f),
		newCmdGroup(f),
		newCmdToken(f),
		newCmdWhoami(f, nil),
		newCmdAudit(f),
		newCmdAdmin(f),
		newCmdNotifySecretChange(f, nil),
		newCmdEvents(f),
		newCmdServe(f, nil),
		newCmdConfig(f),
		newCmdVersion(f, nil),
	)
	markRan(cmd, &f.ran)
	return cmd
}

// markRan makes every RunE in the tree set *ran first.
func markRan(cmd *cobra.Command, ran *bool) {
	if run := cmd.RunE; run != nil {
		cmd.RunE = func(c *cobra.Command, args []string) error {
			*ran = true
			return run(c, args)
		}
	}
	for _, sub := range cmd.Commands() {
		markRan(sub, ran)
	}
}

// runGroup is the RunE of a command that only groups others: help without
// arguments, a usage error for an unknown subcommand.
func runGroup(cmd *cobra.Command, args []string) error {
	if len(args) == 0 {
		return cmd.Help()
	}
	msg := fmt.Sprintf("unknown command %q for %q", args[0], cmd.CommandPath())
	if s := cmd.SuggestionsFor(args[0]); len(s) > 0 {
		msg += "; did you mean " + strings.Join(s, " or ") + "?"
	}
	return usageErrorf("%s", msg)
}

// exactArgs wants n positional arguments, described by names for the message.
func exactArgs(names ...string) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if len(args) == len(names) {
			return nil
		}
		if len(names) == 0 {
			return usageErrorf("%s takes no arguments, got %q", cmd.CommandPath(), args)
		}
		return usageErrorf("%s wants %d argument(s) (%s), got %d", cmd.CommandPath(), len(names), strings.Join(names, " "), len(args))
	}
}
