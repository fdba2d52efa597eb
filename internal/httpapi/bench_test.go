package httpapi_test

import (
	"io"
	"net/http"
	"testing"
	"time"

	"github.com/credflow/credflow/internal/metadb/metadbtest"
	"github.com/credflow/credflow/internal/secretstore/cache"
)

// BenchmarkResolve measures cached resolves through real HTTP, with
// authentication, authorization and the durable audit record of each.
func BenchmarkResolve(b *testing.B) {
	for _, e := range metadbtest.Engines(b) {
		b.Run(e.Name, func(b *testing.B) {
			env := startRuntime(b, e, cache.Options{TTL: time.Hour})
			url := env.inst.URL + "/api/v1/connections/sql-build/resolve"
			client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64}}
			b.SetParallelism(8)
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				req, _ := http.NewRequest("POST", url, nil)
				req.Header.Set("Authorization", "Bearer "+env.runner.token)
				for pb.Next() {
					res, err := client.Do(req)
					if err != nil {
						b.Error(err)
						return
					}
					_, _ = io.Copy(io.Discard, res.Body)
					res.Body.Close()
					if res.StatusCode != 200 {
						b.Errorf("status %d", res.StatusCode)
						return
					}
				}
			})
		})
	}
}
