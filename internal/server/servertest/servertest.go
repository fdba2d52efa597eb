// Package servertest starts a complete credflow server for end-to-end tests:
// the real composition root on a fresh database of the chosen engine, served
// over real HTTP on a loopback port. It is for tests only.
package servertest

import (
	"bytes"
	"context"
	"io"
	"net/http/httptest"
	"sync"
	"testing"

	"github.com/credflow/credflow/internal/config"
	"github.com/credflow/credflow/internal/metadb/metadbtest"
	"github.com/credflow/credflow/internal/server"
)

// Instance is a running server.
type Instance struct {
	URL        string
	AdminToken string
	Server     *server.Server
	Config     config.Config
	log        *syncBuffer
}

// Log returns everything the server logged so far.
func (i *Instance) Log() string { return i.log.String() }

// Option adjusts the configuration before the server starts.
type Option func(*config.Config)

// Start runs a server on engine e until the test ends.
func Start(t testing.TB, e metadbtest.Engine, opts ...Option) *Instance {
	t.Helper()
	cfg := config.Defaults()
	cfg.DataDir = t.TempDir()
	cfg.Database = e.DSN(t)
	for _, o := range opts {
		o(&cfg)
	}
	return StartConfig(t, cfg)
}

// extras holds, per test, what Also added to the servers it starts.
var extras sync.Map // testing.TB -> extra

type extra struct {
	edit func(*config.Config)
	opts []server.Option
}

// Also makes every server that t starts from now on (by Start, StartConfig
// or a test's own helper calling them) edit its configuration with edit
// (nil: none) and take opts after its own: for a test that needs a setting
// on servers whose set-up it shares with others.
func Also(t testing.TB, edit func(*config.Config), opts ...server.Option) {
	extras.Store(t, extra{edit, opts})
	t.Cleanup(func() { extras.Delete(t) })
}

// StartConfig runs a server with cfg until the test ends.
func StartConfig(t testing.TB, cfg config.Config, opts ...server.Option) *Instance {
	t.Helper()
	if x, ok := extras.Load(t); ok {
		x := x.(extra)
		if x.edit != nil {
			x.edit(&cfg)
		}
		opts = append(opts, x.opts...)
	}
	log := &syncBuffer{}
	srv, err := server.New(context.Background(), cfg, log, opts...)
	if err != nil {
		t.Fatalf("start server: %v", err)
	}
	hs := httptest.NewServer(srv.Handler())
	t.Cleanup(func() {
		hs.Close()
		srv.Close()
	})
	return &Instance{URL: hs.URL, AdminToken: srv.InitialToken, Server: srv, Config: cfg, log: log}
}

// syncBuffer is a bytes.Buffer safe for the server's concurrent writes.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

var _ io.Writer = (*syncBuffer)(nil)

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
