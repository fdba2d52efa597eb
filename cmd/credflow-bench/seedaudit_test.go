package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"testing"
	"time"

	"github.com/credflow/credflow/internal/config"
	"github.com/credflow/credflow/internal/metadb/metadbtest"
	"github.com/credflow/credflow/internal/server"
	"github.com/credflow/credflow/internal/server/servertest"
)

// TestSeedAudit seeds records into a stopped server's database in several
// chunks, starts the server on it, and expects verify to pass from the
// seeded checkpoint and in full, and a full verify to find an edited
// seeded record.
func TestSeedAudit(t *testing.T) {
	for _, e := range metadbtest.Engines(t) {
		t.Run(e.Name, func(t *testing.T) {
			ctx := context.Background()
			cfg := config.Defaults()
			cfg.DataDir, cfg.Database = t.TempDir(), e.DSN(t)
			srv, err := server.New(ctx, cfg, io.Discard)
			if err != nil {
				t.Fatal(err)
			}
			token := srv.InitialToken
			srv.Close()
			const n = 2500
			if err := seedAudit(ctx, seedAuditOptions{DataDir: cfg.DataDir, DSN: cfg.Database, N: n, Batch: 300, Chunk: 1000,
				Connections: 10, Actors: 3, Checkpoint: true}, io.Discard); err != nil {
				t.Fatal(err)
			}
			inst := servertest.StartConfig(t, cfg)
			admin := apiCaller{base: inst.URL + "/api/v1", token: token, client: &http.Client{Timeout: time.Minute}}
			var v struct {
				OK         bool  `json:"ok"`
				Records    int64 `json:"records"`
				Full       bool  `json:"full"`
				FirstBad   int64 `json:"firstBadRecord"`
				Checkpoint *struct {
					Seq int64 `json:"seq"`
				} `json:"checkpoint"`
			}
			if err := admin.call("GET", "/audit/verify", nil, &v); err != nil {
				t.Fatal(err)
			}
			if !v.OK || v.Full || v.Checkpoint == nil || v.Checkpoint.Seq < n || v.Records < n {
				t.Fatalf("verify from the checkpoint = %+v; want OK from a checkpoint after the %d seeded records", v, n)
			}
			if err := admin.call("GET", "/audit/verify?full=true", nil, &v); err != nil || !v.OK || !v.Full || v.Records < n {
				t.Fatalf("full verify = %+v, %v", v, err)
			}
			var seq int64
			db := inst.Server.DB()
			if err := db.SQL().QueryRowContext(ctx, `SELECT min(seq) FROM audit_log WHERE action = 'connection.resolve'`).Scan(&seq); err != nil {
				t.Fatal(err)
			}
			seq += 1500
			if _, err := db.SQL().ExecContext(ctx, fmt.Sprintf(`UPDATE audit_log SET actor = 'mallory' WHERE seq = %d`, seq)); err != nil {
				t.Fatal(err)
			}
			if err := admin.call("GET", "/audit/verify?full=true", nil, &v); err != nil || v.OK || v.FirstBad != seq {
				t.Fatalf("full verify after an edit of record %d = %+v, %v", seq, v, err)
			}
		})
	}
}
