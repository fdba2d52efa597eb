package httpapi_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/credflow/credflow/internal/access/oidctest"
	"github.com/credflow/credflow/internal/config"
	"github.com/credflow/credflow/internal/metadb/metadbtest"
	"github.com/credflow/credflow/internal/server"
)

// TestEventGridEntraSecuredDelivery: with an Entra issuer and audience
// configured, the webhook takes a delivery that carries a valid bearer JWT
// instead of the key (the handshake too), refuses a token that is expired,
// for another audience, from another issuer, tampered with or unsigned, and
// still takes the key. No token reaches the log.
func TestEventGridEntraSecuredDelivery(t *testing.T) {
	e := metadbtest.Engines(t)[0] // the webhook's authentication does not touch the database
	key := oidctest.NewRSAKey(t, "eventgrid-1")
	idp := oidctest.New(t, key)
	vault := startVaultEmulator(t)
	cfg := config.Defaults()
	cfg.DataDir = t.TempDir()
	cfg.Database = e.DSN(t)
	cfg.EventGridKeyFile = filepath.Join(t.TempDir(), "eventgrid.keys")
	if err := os.WriteFile(cfg.EventGridKeyFile, []byte(webhookKey+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	const audience = "api://credflow-events"
	cfg.EventGridEntraIssuer, cfg.EventGridEntraAudience = idp.Issuer(), audience
	env := startRotationWith(t, cfg, vault, server.WithOIDCClient(idp.Client()))
	env.setUp(t)
	env.runner.must(200, "POST", "/api/v1/connections/sql-build/resolve", nil)

	now := time.Now()
	valid := idp.Claims(now).With("aud", audience).With("sub", "eventgrid-app").Without("preferred_username", "email", "groups")
	var sent []string
	bearer := func(raw string) []string {
		sent = append(sent, raw)
		return []string{"aeg-event-type", "Notification", "Authorization", "Bearer " + raw}
	}
	delivery := func(id string) string {
		return eventGridDelivery("Microsoft.KeyVault.SecretNewVersionCreated", []string{id}, "sql-pass")
	}

	// A valid token, no key: the handshake and a delivery are taken, and
	// the event reaches the next resolve.
	validation := `[{"id":"v-1","topic":"/subscriptions/s/resourceGroups/rg/providers/Microsoft.KeyVault/vaults/myvault","subject":"",
"eventType":"Microsoft.EventGrid.SubscriptionValidationEvent","eventTime":"2026-01-02T03:04:05Z",
"data":{"validationCode":"512d38b6-c7b8-40c8-89fe-f46f9e9622b6"},"dataVersion":"2","metadataVersion":"1"}]`
	if r := env.hook.do("POST", "/api/v1/events/eventgrid", validation, bearer(key.Sign(t, valid))...); r.status != 200 ||
		r.body["validationResponse"] != "512d38b6-c7b8-40c8-89fe-f46f9e9622b6" {
		t.Fatalf("handshake with a token: %d %s", r.status, r.raw)
	}
	env.vault.Set("sql-pass", "password-2")
	if r := env.hook.do("POST", "/api/v1/events/eventgrid", delivery("en-1"), bearer(key.Sign(t, valid))...); r.status != 200 || r.body["accepted"] != float64(1) {
		t.Fatalf("delivery with a token: %d %s", r.status, r.raw)
	}
	waitPassword(t, env.runner, "password-2", 5*time.Second)

	stranger := oidctest.NewRSAKey(t, "eventgrid-1")
	refused := []struct {
		name    string
		headers []string
	}{
		{"no key, no token", []string{"aeg-event-type", "Notification"}},
		{"expired", bearer(key.Sign(t, valid.With("iat", now.Add(-2*time.Hour).Unix()).With("exp", now.Add(-time.Hour).Unix())))},
		{"another audience", bearer(key.Sign(t, valid.With("aud", "api://someone-else")))},
		{"another issuer", bearer(key.Sign(t, valid.With("iss", "https://login.microsoftonline.com/other/v2.0")))},
		{"signed by another key", bearer(stranger.Sign(t, valid))},
		{"tampered", bearer(oidctest.TamperClaims(t, key.Sign(t, valid), valid.With("aud", audience).With("sub", "evil")))},
		{"unsigned", bearer(oidctest.AlgNone(t, valid))},
		{"a credflow API token", []string{"aeg-event-type", "Notification", "Authorization", "Bearer " + env.inst.AdminToken}},
		{"a wrong key", []string{"aeg-event-type", "Notification", "X-Credflow-Webhook-Key", "not-the-key"}},
	}
	for _, c := range refused {
		r := env.hook.do("POST", "/api/v1/events/eventgrid", delivery("refused-"+c.name), c.headers...)
		if r.status != 401 || r.body["code"] != "unauthenticated" || !strings.Contains(r.str("detail"), "Microsoft Entra token") {
			t.Errorf("%s: %d %s", c.name, r.status, r.raw)
		}
	}
	// The key still works.
	if r := env.deliver(delivery("en-2")); r.status != 200 {
		t.Errorf("delivery with the key: %d %s", r.status, r.raw)
	}

	st := env.admin.must(200, "GET", "/api/v1/events/status", nil)
	ep := st.body["endpoint"].(map[string]any)
	if ep["entraSecured"] != true || ep["keysConfigured"] != true || ep["rejected"] != float64(len(refused)) || ep["accepted"] != float64(2) {
		t.Errorf("status %s", st.raw)
	}
	log := env.inst.Log()
	for _, raw := range sent {
		for _, seg := range strings.Split(raw, ".") {
			if len(seg) >= 16 && strings.Contains(log, seg) {
				t.Errorf("the server log holds part of a token: %.40s...", seg)
			}
		}
	}
}
