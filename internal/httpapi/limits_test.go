package httpapi_test

import (
	"strings"
	"testing"

	"github.com/credflow/credflow/internal/config"
	"github.com/credflow/credflow/internal/metadb/metadbtest"
	"github.com/credflow/credflow/internal/server/servertest"
)

func TestMaxRequestBodyIsConfigurable(t *testing.T) {
	e := metadbtest.Engines(t)[0] // a bound of HTTP, not of the database
	inst := servertest.Start(t, e, func(c *config.Config) { c.Limits.MaxRequestBody = 64 << 10 })
	a := api{t: t, base: inst.URL, token: inst.AdminToken}
	body := func(n int) string {
		return `{"schemaName":"cf_Big","displayName":"big","type":"text","value":"x","description":"` + strings.Repeat("d", n) + `"}`
	}
	// Under the bound the body is read, and refused for its description's length.
	wantProblem(t, a.do("POST", "/api/v1/environment-variables", body(60<<10)), 422, "validation_failed", "description")
	wantProblem(t, a.do("POST", "/api/v1/environment-variables", body(70<<10)), 413, "body_too_large", "")
}
