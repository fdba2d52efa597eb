package httpapi_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/credflow/credflow/internal/config"
	"github.com/credflow/credflow/internal/metadb/metadbtest"
	"github.com/credflow/credflow/internal/secretstore"
	"github.com/credflow/credflow/internal/secretstore/memstore"
	"github.com/credflow/credflow/internal/server"
	"github.com/credflow/credflow/internal/server/servertest"
	"github.com/credflow/credflow/internal/storeadmin"
	"github.com/credflow/credflow/internal/validation"
)

// memoryKind is a store kind for tests: its settings name one of the
// in-memory stores the test made.
func memoryKind(instances map[string]*memstore.Store) storeadmin.Kind {
	type settings struct {
		Instance string `json:"instance"`
	}
	parse := func(raw json.RawMessage) (settings, error) {
		var s settings
		dec := json.NewDecoder(bytes.NewReader(raw))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&s); err != nil {
			return s, validation.Field("settings", "must be {\"instance\": \"<name>\"}")
		}
		if instances[s.Instance] == nil {
			return s, validation.Field("settings.instance", fmt.Sprintf("names no test store (%q)", s.Instance))
		}
		return s, nil
	}
	return storeadmin.Kind{
		Name: "memory",
		Open: func(_ string, raw json.RawMessage) (secretstore.Store, error) {
			s, err := parse(raw)
			if err != nil {
				return nil, err
			}
			return instances[s.Instance], nil
		},
		Public: func(raw json.RawMessage) (json.RawMessage, error) { return raw, nil },
	}
}

func TestStoreRegistration(t *testing.T) {
	eachEngine(t, func(t *testing.T, e metadbtest.Engine) {
		m := memstore.New()
		m.Set("db", "memory-secret")
		cfg := config.Defaults()
		cfg.DataDir = t.TempDir()
		cfg.Database = e.DSN(t)
		inst := servertest.StartConfig(t, cfg, server.WithKinds(memoryKind(map[string]*memstore.Store{"a": m})))
		admin := api{t: t, base: inst.URL, token: inst.AdminToken}
		maker := newUser(admin, "mo", "maker")

		c := admin.must(201, "POST", "/api/v1/stores", map[string]any{"name": "mem", "kind": "memory", "settings": map[string]string{"instance": "a"}, "cacheTTL": "0s"})
		if c.str("kind") != "memory" || c.str("status") != "ready" || c.str("cacheTTL") != "0s" || c.str("staleIfError") != "0s" {
			t.Fatalf("created %s", c.raw)
		}
		for _, tc := range []struct {
			name        string
			who         api
			body        map[string]any
			status      int
			code, field string
		}{
			{"maker", maker, map[string]any{"name": "x", "kind": "memory", "settings": map[string]string{"instance": "a"}}, 403, "forbidden", ""},
			{"taken", admin, map[string]any{"name": "mem", "kind": "memory", "settings": map[string]string{"instance": "a"}}, 409, "name_taken", ""},
			{"bad name", admin, map[string]any{"name": "Mem Store", "kind": "memory", "settings": map[string]string{"instance": "a"}}, 422, "validation_failed", "name"},
			{"unknown kind", admin, map[string]any{"name": "x", "kind": "delinea-secret-server"}, 422, "validation_failed", "kind"},
			{"second builtin", admin, map[string]any{"name": "x", "kind": "builtin"}, 422, "validation_failed", "kind"},
			{"bad settings", admin, map[string]any{"name": "x", "kind": "memory", "settings": map[string]string{"instance": "zz"}}, 422, "validation_failed", "settings.instance"},
			{"unknown setting", admin, map[string]any{"name": "x", "kind": "memory", "settings": map[string]string{"instance": "a", "extra": "1"}}, 422, "validation_failed", "settings"},
			{"bad ttl", admin, map[string]any{"name": "x", "kind": "memory", "settings": map[string]string{"instance": "a"}, "cacheTTL": "soon"}, 422, "validation_failed", "cacheTTL"},
			{"ttl too long", admin, map[string]any{"name": "x", "kind": "memory", "settings": map[string]string{"instance": "a"}, "cacheTTL": "48h"}, 422, "validation_failed", "cacheTTL"},
			{"negative stale", admin, map[string]any{"name": "x", "kind": "memory", "settings": map[string]string{"instance": "a"}, "staleIfError": "-1s"}, 422, "validation_failed", "staleIfError"},
		} {
			t.Run("create "+tc.name, func(t *testing.T) {
				wantProblem(t, tc.who.as(t).do("POST", "/api/v1/stores", tc.body), tc.status, tc.code, tc.field)
			})
		}
		l := maker.must(200, "GET", "/api/v1/stores", nil)
		if !strings.Contains(string(l.raw), `"name":"local","kind":"builtin","status":"ready"`) || !strings.Contains(string(l.raw), `"name":"mem"`) {
			t.Errorf("list %s", l.raw)
		}

		// A TTL of 0 reads the store on every resolve; raising it caches.
		admin.must(201, "POST", "/api/v1/environment-variables", map[string]any{"schemaName": "cf_U", "displayName": "u", "type": "text", "value": "u"})
		admin.must(201, "POST", "/api/v1/environment-variables", map[string]any{"schemaName": "cf_P", "displayName": "p", "type": "secret",
			"secretRef": map[string]string{"store": "mem", "ref": "db"}})
		admin.must(201, "POST", "/api/v1/credentials", map[string]any{"name": "C", "username": "cf_U", "password": "cf_P"})
		admin.must(201, "POST", "/api/v1/runner-groups", map[string]any{"name": "g"})
		runner := runnerIn(admin, "r1", "g")
		admin.must(201, "POST", "/api/v1/connections", map[string]any{"name": "conn", "credential": "C", "runnerGroup": "g"})
		resolveTimes := func(n int) int64 {
			before := m.Gets()
			for i := 0; i < n; i++ {
				if r := runner.must(200, "POST", "/api/v1/connections/conn/resolve", nil); r.str("password") != "memory-secret" {
					t.Fatalf("resolve %s", r.raw)
				}
			}
			return m.Gets() - before
		}
		if n := resolveTimes(3); n != 3 {
			t.Errorf("with cacheTTL 0s, 3 resolves made %d store reads", n)
		}
		if p := admin.must(200, "PATCH", "/api/v1/stores/mem", map[string]any{"cacheTTL": "10m", "staleIfError": "1h"}); p.str("cacheTTL") != "10m0s" || p.str("staleIfError") != "1h0m0s" {
			t.Errorf("patch %s", p.raw)
		}
		if n := resolveTimes(3); n != 1 {
			t.Errorf("with cacheTTL 10m, 3 resolves made %d store reads", n)
		}
		if p := admin.must(200, "PATCH", "/api/v1/stores/local", map[string]any{"cacheTTL": "5s"}); p.str("cacheTTL") != "5s" {
			t.Errorf("patch local %s", p.raw)
		}
		wantProblem(t, admin.do("PATCH", "/api/v1/stores/local", map[string]any{"settings": map[string]string{}}), 422, "validation_failed", "settings")
		wantProblem(t, admin.do("PATCH", "/api/v1/stores/mem", map[string]any{"settings": map[string]string{"instance": "nope"}}), 422, "validation_failed", "settings.instance")
		wantProblem(t, maker.do("PATCH", "/api/v1/stores/mem", map[string]any{"cacheTTL": "1s"}), 403, "forbidden", "")

		// The generic check.
		ok := admin.must(200, "POST", "/api/v1/stores/mem/check", map[string]any{"secret": "db"})
		if ok.body["ok"] != true || !strings.Contains(string(ok.raw), `"name":"read secret db","ok":true`) {
			t.Errorf("check %s", ok.raw)
		}
		bad := admin.must(200, "POST", "/api/v1/stores/local/check", map[string]any{"secret": "missing"})
		if bad.body["ok"] != false || !strings.Contains(string(bad.raw), "secret not found") || !strings.Contains(string(bad.raw), `"hint"`) {
			t.Errorf("failing check %s", bad.raw)
		}
		admin.must(200, "POST", "/api/v1/stores/local/check", nil)
		wantProblem(t, admin.do("POST", "/api/v1/stores/nope/check", nil), 404, "not_found", "")

		// Removing: never the built-in store, never one in use.
		wantProblem(t, admin.do("DELETE", "/api/v1/stores/local", nil), 409, "builtin_store", "")
		wantProblem(t, admin.do("DELETE", "/api/v1/stores/mem", nil), 409, "in_use", "")
		admin.must(204, "DELETE", "/api/v1/connections/conn", nil)
		admin.must(204, "DELETE", "/api/v1/credentials/C", nil)
		admin.must(204, "DELETE", "/api/v1/environment-variables/cf_P", nil)
		admin.must(204, "DELETE", "/api/v1/stores/mem", nil)
		wantProblem(t, admin.do("GET", "/api/v1/stores/mem", nil), 404, "not_found", "")
		wantProblem(t, admin.do("POST", "/api/v1/environment-variables", map[string]any{"displayName": "x", "type": "secret",
			"secretRef": map[string]string{"store": "mem", "ref": "db"}}), 422, "store_not_found", "secretRef.store")
	})
}

// TestStoreThatCannotBeOpened restarts a server without the kind of a
// registered store: the server starts, the store shows as unavailable, its
// check says why, and resolves through it fail as a store outage.
func TestStoreThatCannotBeOpened(t *testing.T) {
	eachEngine(t, func(t *testing.T, e metadbtest.Engine) {
		m := memstore.New()
		m.Set("db", "memory-secret")
		cfg := config.Defaults()
		cfg.DataDir = t.TempDir()
		cfg.Database = e.DSN(t)
		first := servertest.StartConfig(t, cfg, server.WithKinds(memoryKind(map[string]*memstore.Store{"a": m})))
		admin := api{t: t, base: first.URL, token: first.AdminToken}
		admin.must(201, "POST", "/api/v1/stores", map[string]any{"name": "mem", "kind": "memory", "settings": map[string]string{"instance": "a"}})
		admin.must(201, "POST", "/api/v1/environment-variables", map[string]any{"schemaName": "cf_U", "displayName": "u", "type": "text", "value": "u"})
		admin.must(201, "POST", "/api/v1/environment-variables", map[string]any{"schemaName": "cf_P", "displayName": "p", "type": "secret",
			"secretRef": map[string]string{"store": "mem", "ref": "db"}})
		admin.must(201, "POST", "/api/v1/credentials", map[string]any{"name": "C", "username": "cf_U", "password": "cf_P"})
		admin.must(201, "POST", "/api/v1/runner-groups", map[string]any{"name": "g"})
		runner := runnerIn(admin, "r1", "g")
		admin.must(201, "POST", "/api/v1/connections", map[string]any{"name": "conn", "credential": "C", "runnerGroup": "g"})
		first.Server.Close()

		second := servertest.StartConfig(t, cfg) // no memory kind
		admin.base, runner.base = second.URL, second.URL
		if s := admin.must(200, "GET", "/api/v1/stores/mem", nil); s.str("status") != "unavailable" {
			t.Errorf("store %s", s.raw)
		}
		c := admin.must(200, "POST", "/api/v1/stores/mem/check", nil)
		if c.body["ok"] != false || !strings.Contains(string(c.raw), "not supported") || !strings.Contains(string(c.raw), `"hint"`) {
			t.Errorf("check %s", c.raw)
		}
		wantProblem(t, runner.do("POST", "/api/v1/connections/conn/resolve", nil), 503, "store_unavailable", "")
		if r := admin.must(200, "GET", "/readyz", nil); r.str("status") != "ready" {
			t.Errorf("one unopened remote store made the instance unready: %s", r.raw)
		}
	})
}
