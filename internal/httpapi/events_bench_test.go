package httpapi_test

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/credflow/credflow/internal/metadb/metadbtest"
)

// BenchmarkEventToNewVersion measures, over 100 rotations against the Key
// Vault emulator, the time from sending an Event Grid delivery of a
// SecretNewVersionCreated event to the first resolve that returns the new
// version: on one server (each engine), and across two replicas on
// PostgreSQL (the event to A, the resolves to B). The store's cache holds
// values for an hour, so only the event can bring the new version in time.
// Resolves are sent back to back, so the figure includes one resolve's
// round trip. Run with -benchtime=1x; it reports p50 and p99 in ms.
func BenchmarkEventToNewVersion(b *testing.B) {
	const rotations = 100
	for _, e := range metadbtest.Engines(b) {
		for _, replicas := range []bool{false, true} {
			if replicas && e.Name != "postgres" {
				continue
			}
			name := e.Name + "/one-server"
			if replicas {
				name = e.Name + "/two-replicas"
			}
			b.Run(name, func(b *testing.B) {
				env := startRotation(b, e)
				env.setUp(b)
				resolver := env.runner
				if replicas {
					resolver, _, _ = startReplica(b, env)
				}
				var took []time.Duration
				b.ResetTimer()
				for range b.N {
					took = took[:0]
					for i := range rotations {
						value := fmt.Sprintf("rotated-%d-%d", time.Now().UnixNano(), i)
						env.vault.Set("sql-pass", value)
						start := time.Now()
						if r := env.deliver(eventGridDelivery("Microsoft.KeyVault.SecretNewVersionCreated", []string{value}, "sql-pass")); r.status != 200 {
							b.Fatalf("delivery %d %s", r.status, r.raw)
						}
						for {
							if resolver.must(200, "POST", "/api/v1/connections/sql-build/resolve", nil).str("password") == value {
								break
							}
							if time.Since(start) > 10*time.Second {
								b.Fatalf("rotation %d not resolved after 10s", i)
							}
						}
						took = append(took, time.Since(start))
					}
				}
				b.StopTimer()
				slices.Sort(took)
				ms := func(q float64) float64 {
					return float64(took[int(q*float64(len(took)-1))].Microseconds()) / 1000
				}
				b.ReportMetric(ms(0.5), "p50-ms")
				b.ReportMetric(ms(0.99), "p99-ms")
				b.ReportMetric(float64(took[len(took)-1].Microseconds())/1000, "max-ms")
				b.ReportMetric(0, "ns/op")
			})
		}
	}
}
