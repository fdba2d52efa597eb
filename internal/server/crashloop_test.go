package server_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/credflow/credflow/client"
	"github.com/credflow/credflow/internal/audit"
	"github.com/credflow/credflow/internal/cli"
	"github.com/credflow/credflow/internal/metadb"
	"github.com/credflow/credflow/internal/metadb/metadbtest"
	"github.com/credflow/credflow/internal/secretstore"
	"github.com/credflow/credflow/internal/secretstore/builtin"
	"github.com/credflow/credflow/internal/server"
)

// The crash loop runs this test binary as the server: with crashServeEnv
// set, TestMain serves instead of testing.
const (
	crashServeEnv = "CREDFLOW_CRASHLOOP_SERVE"
	crashDataEnv  = "CREDFLOW_CRASHLOOP_DATA"
	crashAddrEnv  = "CREDFLOW_CRASHLOOP_ADDR"
	crashDBEnv    = "CREDFLOW_CRASHLOOP_DATABASE"
	// crashCyclesEnv sets the number of cycles (default 20, the CI run).
	crashCyclesEnv = "CREDFLOW_CRASHLOOP_CYCLES"
)

func TestMain(m *testing.M) {
	if os.Getenv(crashServeEnv) == "1" {
		os.Exit(cli.Main(context.Background(), []string{"serve", "--data-dir", os.Getenv(crashDataEnv), "--addr", os.Getenv(crashAddrEnv),
			"--database", os.Getenv(crashDBEnv)}, cli.SystemStreams()))
	}
	os.Exit(m.Run())
}

// ackedSecret is a secret version the server acknowledged.
type ackedSecret struct {
	name, version, value string
}

// ackedVar is a text variable the server acknowledged.
type ackedVar struct {
	name, value string
}

type acks struct {
	mu      sync.Mutex
	secrets []ackedSecret
	vars    []ackedVar
}

// TestCrashLoop writes at random to a server and kills it with SIGKILL at
// a random moment, again and again; then checks that the database is
// sound, that every write the server acknowledged is there, and that
// nothing is half made: every built-in secret version decrypts, every
// variable has its owner, and the audit chain verifies in full. SQLite
// gets CREDFLOW_CRASHLOOP_CYCLES cycles (20 by default), PostgreSQL a
// quarter of them (at least 5).
func TestCrashLoop(t *testing.T) {
	cycles := 20
	if v := os.Getenv(crashCyclesEnv); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			t.Fatalf("%s=%q: want a positive number", crashCyclesEnv, v)
		}
		cycles = n
	}
	for _, e := range metadbtest.Engines(t) {
		t.Run(e.Name, func(t *testing.T) {
			n := cycles
			if e.Name != "sqlite" {
				n = max(cycles/4, 5)
			}
			crashLoop(t, e.DSN(t), n)
		})
	}
}

func crashLoop(t *testing.T, dsn string, cycles int) {
	data := t.TempDir()
	var (
		token string
		got   acks
		seq   int
	)
	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 1))
	for cycle := range cycles {
		addr := freeAddr(t)
		cmd := exec.Command(os.Args[0], "-test.run=^$")
		cmd.Env = append(os.Environ(), crashServeEnv+"=1", crashDataEnv+"="+data, crashAddrEnv+"="+addr, crashDBEnv+"="+dsn)
		var logs strings.Builder
		cmd.Stderr, cmd.Stdout = &logs, io.Discard
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		if err := waitHealthy("http://"+addr, 20*time.Second); err != nil {
			cmd.Process.Kill()
			cmd.Wait()
			t.Fatalf("cycle %d: the server did not come up after the crash before: %v\n%s", cycle, err, logs.String())
		}
		if token == "" {
			b, err := os.ReadFile(filepath.Join(data, server.InitialTokenFile))
			if err != nil {
				t.Fatal(err)
			}
			token = strings.TrimSpace(string(b))
		}
		c, err := client.New("http://"+addr, token, client.WithHTTPClient(&http.Client{Timeout: 5 * time.Second}))
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		var wg sync.WaitGroup
		for g := range 4 {
			seq += 1000000
			base := seq
			wg.Add(1)
			go func() {
				defer wg.Done()
				write(ctx, c, g, base, &got)
			}()
		}
		time.Sleep(time.Duration(50+rng.IntN(550)) * time.Millisecond)
		if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
			t.Fatal(err)
		}
		cmd.Wait()
		cancel()
		wg.Wait()
	}
	if len(got.secrets) == 0 || len(got.vars) == 0 {
		t.Fatalf("no write was acknowledged in %d cycles (%d secrets, %d variables)", cycles, len(got.secrets), len(got.vars))
	}
	t.Logf("%d cycles: %d secret versions and %d variables acknowledged", cycles, len(got.secrets), len(got.vars))
	checkAfterCrashes(t, dsn, data, &got)
}

// write writes at random until ctx ends: new versions of a few built-in
// secrets, and new text variables. It keeps what the server acknowledged.
func write(ctx context.Context, c *client.Client, g, seq int, got *acks) {
	for i := 0; ctx.Err() == nil; i++ {
		n := seq + i
		if i%3 == 2 {
			name := fmt.Sprintf("cf_crash_%d", n)
			value := fmt.Sprintf("text-%d", n)
			if _, err := c.CreateEnvironmentVariable(ctx, client.CreateEnvironmentVariableRequest{SchemaName: name, DisplayName: name,
				Type: client.TypeText, Value: value}); err == nil {
				got.mu.Lock()
				got.vars = append(got.vars, ackedVar{name, value})
				got.mu.Unlock()
			}
			continue
		}
		name := fmt.Sprintf("crash-%d-%d", g, i%5)
		value := fmt.Sprintf("value-%d", n)
		if v, err := c.PutSecret(ctx, "local", name, value); err == nil {
			got.mu.Lock()
			got.secrets = append(got.secrets, ackedSecret{name, v.Version, value})
			got.mu.Unlock()
		}
	}
}

func checkAfterCrashes(t *testing.T, dsn, data string, got *acks) {
	ctx := context.Background()
	db, err := metadb.Open(ctx, dsn, data, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	param := "?"
	if db.Dialect() == metadb.SQLite {
		if found, err := db.IntegrityCheck(ctx); err != nil || len(found) > 0 {
			t.Fatalf("integrity check after the crashes: %v, %v", found, err)
		}
	} else {
		param = "$1"
	}
	key, _, err := builtin.LoadOrCreateKey(filepath.Join(data, "master.key"), false)
	if err != nil {
		t.Fatal(err)
	}
	st, err := builtin.Open(ctx, db.BuiltinSecrets(), key)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range got.secrets {
		sec, err := st.Get(ctx, secretstore.Ref{Name: s.name, Version: s.version})
		if err != nil || sec.Value.Reveal() != s.value {
			t.Errorf("acknowledged version %s of %s: %v, or not its value", s.version, s.name, err)
		}
	}
	// Every version of every secret is whole: it decrypts.
	entries, err := st.List(ctx, "", 1000)
	if err != nil {
		t.Fatal(err)
	}
	versions := 0
	for _, e := range entries {
		latest, _ := strconv.Atoi(e.Version)
		if e.Versions != latest {
			t.Errorf("secret %s has %d versions up to %d: a version is missing", e.Name, e.Versions, latest)
		}
		for v := 1; v <= latest; v++ {
			if _, err := st.Get(ctx, secretstore.Ref{Name: e.Name, Version: strconv.Itoa(v)}); err != nil {
				t.Errorf("secret %s version %d: %v", e.Name, v, err)
			}
			versions++
		}
	}
	for _, v := range got.vars {
		var value string
		if err := db.SQL().QueryRow(`SELECT value FROM environment_variables WHERE schema_name = `+param, v.name).Scan(&value); err != nil || value != v.value {
			t.Errorf("acknowledged variable %s: %v, value %q", v.name, err, value)
		}
	}
	var orphans int
	if err := db.SQL().QueryRow(`SELECT count(*) FROM environment_variables v WHERE NOT EXISTS
		(SELECT 1 FROM shares s WHERE s.object_kind = 'variable' AND s.object_id = v.id AND s.role = 'owner')`).Scan(&orphans); err != nil || orphans != 0 {
		t.Errorf("variables without their owner: %d, %v", orphans, err)
	}
	ak, err := server.AuditKey(ctx, st, key)
	if err != nil {
		t.Fatal(err)
	}
	v, err := audit.NewTrail(db.Audit(), ak, filepath.Join(data, "audit-checkpoints")).Verify(ctx, audit.VerifyOptions{Full: true})
	if err != nil || !v.OK {
		t.Errorf("audit chain after the crashes: %+v, %v", v, err)
	}
	// Each acknowledged write is an audit record of its own, written in
	// its transaction.
	if v.Records < int64(len(got.secrets)+len(got.vars)) {
		t.Errorf("%d audit records for %d acknowledged writes", v.Records, len(got.secrets)+len(got.vars))
	}
	t.Logf("checked: %d secret versions decrypt, %d audit records verify", versions, v.Records)
}

func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

func waitHealthy(url string, within time.Duration) error {
	deadline := time.Now().Add(within)
	hc := &http.Client{Timeout: time.Second}
	for {
		resp, err := hc.Get(url + "/healthz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("no healthy answer from %s in %s: %v", url, within, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
