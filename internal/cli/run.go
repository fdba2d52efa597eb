package cli

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"os"
	"os/exec"
	"os/signal"
	"regexp"
	"slices"
	"strings"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/credflow/credflow/client"
)

// The variables `credflow run` sets by default.
const (
	defaultUsernameEnv = "CREDFLOW_USERNAME"
	defaultPasswordEnv = "CREDFLOW_PASSWORD"
)

// forwardedSignals are passed on to the command. A terminal's Ctrl-C
// already reaches the whole foreground process group, the command included;
// forwarding matters when credflow alone is signalled (a supervisor, kill).
var forwardedSignals = []os.Signal{syscall.SIGINT, syscall.SIGTERM, syscall.SIGHUP}

var envNameRule = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

// runOptions is `credflow run`.
type runOptions struct {
	IO     *Streams
	Client func() (*client.Client, error)
	// Environ is credflow's own environment, which the command inherits.
	Environ func() []string

	Connection  string
	UsernameEnv string
	PasswordEnv string
	Command     []string
}

func newCmdRun(f *factory, runF func(*runOptions) error) *cobra.Command {
	opts := &runOptions{IO: f.streams, Client: f.client, Environ: f.environ}
	cmd := &cobra.Command{
		Use:   "run --connection NAME [--username-env NAME] [--password-env NAME] -- COMMAND [ARGS...]",
		Short: "Run a command with a connection's username and password in its environment",
		Long: `Resolve a connection now, as a runner of its runner group, and run COMMAND
with the username and password added to its environment as CREDFLOW_USERNAME
and CREDFLOW_PASSWORD (or the names given). The values go to the command's
environment and nowhere else: credflow never prints them. CREDFLOW_TOKEN is
removed from the command's environment; the rest passes through, as do
standard input, output and error.

credflow passes SIGINT, SIGTERM and SIGHUP on to the command, waits for it,
and exits with its exit code (128 plus the signal's number if a signal killed
it). If the connection cannot be resolved, the command is not started and
credflow exits with 1; if the command cannot be started, with 126, or 127
when it is not found.`,
		Example: `  credflow run --connection reports-db -- ./export.sh
  credflow run --connection reports-db --username-env PGUSER --password-env PGPASSWORD -- psql -h db -c 'select 1'`,
		DisableFlagsInUseLine: true,
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) == 0 {
				return usageErrorf("%s wants a COMMAND to run, after --", cmd.CommandPath())
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Command = args
			for _, n := range []struct{ flag, name string }{{"username-env", opts.UsernameEnv}, {"password-env", opts.PasswordEnv}} {
				if !envNameRule.MatchString(n.name) {
					return usageErrorf("--%s %q: want a variable name of letters, digits and _, not starting with a digit", n.flag, n.name)
				}
			}
			if opts.UsernameEnv == opts.PasswordEnv {
				return usageErrorf("--username-env and --password-env must differ")
			}
			if runF != nil {
				return runF(opts)
			}
			return runRun(cmd.Context(), opts)
		},
	}
	fl := cmd.Flags()
	// Everything from COMMAND on belongs to the command, dashes included.
	fl.SetInterspersed(false)
	fl.StringVar(&opts.Connection, "connection", "", "the connection to resolve, by id or name (required)")
	fl.StringVar(&opts.UsernameEnv, "username-env", defaultUsernameEnv, "the variable that holds the username")
	fl.StringVar(&opts.PasswordEnv, "password-env", defaultPasswordEnv, "the variable that holds the password")
	_ = cmd.MarkFlagRequired("connection")
	return cmd
}

func runRun(ctx context.Context, opts *runOptions) error {
	c, err := opts.Client()
	if err != nil {
		return err
	}
	r, err := c.Resolve(ctx, opts.Connection)
	if err != nil {
		return err
	}
	if r.Stale {
		sayf(opts.IO.ErrOut, "Warning: the store of %s could not be read; using the last value read, version %s.\n", r.Credential, r.SecretVersion)
	}

	// The values go to the command byte for byte, whatever they hold; only
	// a NUL cannot, as no environment variable can hold one.
	for _, v := range []struct {
		what string
		val  client.Sensitive
	}{{"username", r.Username}, {"password", r.Password}} {
		if strings.ContainsRune(v.val.Reveal(), 0) {
			return fmt.Errorf("the %s of %s holds a NUL byte, which an environment variable cannot carry: nothing was started", v.what, r.Credential)
		}
	}
	cmd := exec.Command(opts.Command[0], opts.Command[1:]...)
	cmd.Env = childEnv(opts.Environ(), map[string]string{
		opts.UsernameEnv: r.Username.Reveal(),
		opts.PasswordEnv: r.Password.Reveal(),
	})
	cmd.Stdin, cmd.Stdout, cmd.Stderr = opts.IO.In, opts.IO.Out, opts.IO.ErrOut

	// Catch the signals before the command starts, so that none is lost in
	// between; one that ended ctx already (during the resolve, say) stops
	// here.
	sigs := make(chan os.Signal, 4)
	signal.Notify(sigs, forwardedSignals...)
	defer signal.Stop(sigs)
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := cmd.Start(); err != nil {
		return &startError{err: err, notFound: errors.Is(err, exec.ErrNotFound) || errors.Is(err, fs.ErrNotExist)}
	}
	done := make(chan struct{})
	forwarded := make(chan struct{})
	go func() {
		defer close(forwarded)
		for {
			select {
			case s := <-sigs:
				// It fails only once the command has exited.
				_ = cmd.Process.Signal(s)
			case <-done:
				return
			}
		}
	}()
	err = cmd.Wait()
	close(done)
	<-forwarded

	var ee *exec.ExitError
	if errors.As(err, &ee) {
		if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			return &childExit{signal: int(ws.Signal())}
		}
		return &childExit{code: ee.ExitCode()}
	}
	return err
}

// childEnv is environ without CREDFLOW_TOKEN and with set added, replacing
// any variables of the same names.
func childEnv(environ []string, set map[string]string) []string {
	env := make([]string, 0, len(environ)+len(set))
	for _, kv := range environ {
		name, _, _ := strings.Cut(kv, "=")
		if _, replaced := set[name]; replaced || name == envToken {
			continue
		}
		env = append(env, kv)
	}
	for _, name := range slices.Sorted(maps.Keys(set)) {
		env = append(env, name+"="+set[name])
	}
	return env
}
