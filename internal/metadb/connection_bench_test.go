package metadb_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/credflow/credflow/internal/audit"
	"github.com/credflow/credflow/internal/connection"
	"github.com/credflow/credflow/internal/metadb"
	"github.com/credflow/credflow/internal/metadb/metadbtest"
)

// BenchmarkRecordResolutions measures durable resolve records written by
// 16 concurrent callers and group-committed.
func BenchmarkRecordResolutions(b *testing.B) {
	for _, e := range metadbtest.Engines(b) {
		b.Run(e.Name, func(b *testing.B) {
			db := metadbtest.Open(b, e)
			c := metadb.NewConnections(db)
			ctx, cancel := context.WithCancel(context.Background())
			var wg sync.WaitGroup
			wg.Add(1)
			go func() { defer wg.Done(); c.Run(ctx) }()
			defer func() { cancel(); wg.Wait() }()
			b.SetParallelism(8)
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					err := c.Record(ctx, connection.Resolution{RunnerID: "r", At: time.Now(),
						Audit: audit.Entry{Actor: "runner", Action: "connection.resolve", Resource: "connection:x", Outcome: audit.Denied}})
					if err != nil {
						b.Error(err)
						return
					}
				}
			})
		})
	}
}
