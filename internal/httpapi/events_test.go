package httpapi_test

import (
	"fmt"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"

	"github.com/credflow/credflow/internal/config"
	"github.com/credflow/credflow/internal/metadb/metadbtest"
	"github.com/credflow/credflow/internal/secretstore/azurekv"
	"github.com/credflow/credflow/internal/secretstore/azurekv/fakekv"
	"github.com/credflow/credflow/internal/server"
	"github.com/credflow/credflow/internal/server/servertest"
	"github.com/credflow/credflow/internal/testclock"
)

const (
	webhookKey    = "k3y-for-the-webhook-0123456789"
	oldWebhookKey = "previous-key-still-valid"
)

// rotationEnv is a server with the Event Grid endpoint keyed, a Key Vault
// store "kv" on the emulator with an hour-long cache, and a connection whose
// password is the vault's "sql-pass".
type rotationEnv struct {
	inst   *servertest.Instance
	vault  *fakekv.TestServer
	admin  api
	runner api
	hook   api // no bearer token
}

// startVaultEmulator starts the Key Vault emulator for "myvault" and points
// the managed identity of this process at it.
func startVaultEmulator(t testing.TB) *fakekv.TestServer {
	t.Helper()
	vault := fakekv.Start(t, fakekv.Options{VaultName: "myvault",
		Identity: fakekv.Identity{ClientID: "0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0", ObjectID: "7a6b5c4d-3e2f-1a0b-9c8d-7e6f5a4b3c2d"}})
	t.Setenv("IDENTITY_ENDPOINT", vault.IdentityEndpoint)
	t.Setenv("IDENTITY_HEADER", vault.IdentityHeader())
	return vault
}

// withAppName returns dsn with a PostgreSQL application_name of its own,
// so that a test can find (and kill) the connections of one server.
func withAppName(t testing.TB, dsn, prefix string) (string, string) {
	t.Helper()
	appName := fmt.Sprintf("%s-%d", prefix, time.Now().UnixNano())
	u, err := url.Parse(dsn)
	if err != nil {
		t.Fatal(err)
	}
	q := u.Query()
	q.Set("application_name", appName)
	u.RawQuery = q.Encode()
	return u.String(), appName
}

func startRotation(t testing.TB, e metadbtest.Engine) rotationEnv {
	t.Helper()
	vault := startVaultEmulator(t)
	cfg := config.Defaults()
	cfg.DataDir = t.TempDir()
	cfg.Database = e.DSN(t)
	cfg.EventGridKeyFile = filepath.Join(t.TempDir(), "eventgrid.keys")
	if err := os.WriteFile(cfg.EventGridKeyFile, []byte(oldWebhookKey+"\n"+webhookKey+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return startRotationConfig(t, cfg, vault)
}

func startRotationConfig(t testing.TB, cfg config.Config, vault *fakekv.TestServer) rotationEnv {
	t.Helper()
	return startRotationWith(t, cfg, vault)
}

// startRotationWith is startRotationConfig with more server options.
func startRotationWith(t testing.TB, cfg config.Config, vault *fakekv.TestServer, opts ...server.Option) rotationEnv {
	t.Helper()
	kind := server.AzureKeyVault(azurekv.Options{Transport: vault.Client(),
		Retry: &policy.RetryOptions{MaxRetries: 2, RetryDelay: 10 * time.Millisecond, MaxRetryDelay: 3 * time.Second}})
	inst := servertest.StartConfig(t, cfg, append([]server.Option{server.WithKinds(kind)}, opts...)...)
	env := rotationEnv{inst: inst, vault: vault, admin: api{t: t, base: inst.URL, token: inst.AdminToken}, hook: api{t: t, base: inst.URL}}
	return env
}

// setUp registers the store and the objects that use "sql-pass" (once per
// database).
func (env *rotationEnv) setUp(t testing.TB) {
	t.Helper()
	a := env.admin
	env.vault.Set("sql-pass", "password-1")
	k := kvEnv{vault: env.vault}
	a.must(201, "POST", "/api/v1/stores", map[string]any{"name": "kv", "kind": "azure-keyvault", "settings": k.settings(nil), "cacheTTL": "1h"})
	a.must(201, "POST", "/api/v1/runner-groups", map[string]any{"name": "build"})
	a.must(201, "POST", "/api/v1/environment-variables", map[string]any{"schemaName": "cf_SqlUser", "displayName": "u", "type": "text", "value": "svc"})
	a.must(201, "POST", "/api/v1/environment-variables", map[string]any{"schemaName": "cf_SqlPass", "displayName": "p", "type": "secret",
		"secretRef": map[string]string{"store": "kv", "ref": kvPath("sql-pass")}})
	a.must(201, "POST", "/api/v1/credentials", map[string]any{"name": "SQL", "username": "cf_SqlUser", "password": "cf_SqlPass"})
	a.must(201, "POST", "/api/v1/connections", map[string]any{"name": "sql-build", "credential": "SQL", "runnerGroup": "build"})
	env.runner = runnerIn(a, "build-01", "build")
}

func (env rotationEnv) withRunner(base string) api {
	r := env.runner
	r.base = base
	return r
}

// eventGridDelivery is an Event Grid schema delivery of Key Vault events
// for "myvault", in the published shape (string NBF/EXP, the key with a
// trailing space).
func eventGridDelivery(typ string, ids []string, secret string) string {
	var parts []string
	for _, id := range ids {
		parts = append(parts, fmt.Sprintf(`{"id":%q,"topic":"/subscriptions/%s/resourceGroups/%s/providers/Microsoft.KeyVault/vaults/myvault",
"subject":%q,"eventType":%q,"eventTime":"2026-01-02T03:04:05.1036736Z",
"data":{"Id":"https://myvault.vault.azure.net/secrets/%s/ee059b2bb5bc48398a53b168c6cdcb10","VaultName":"myvault","ObjectType":"Secret",
"ObjectName ":%q,"Version":"ee059b2bb5bc48398a53b168c6cdcb10","NBF":"1559081980","EXP":null},"dataVersion":"1","metadataVersion":"1"}`,
			id, fakekv.DefaultSubscriptionID, fakekv.DefaultResourceGroup, secret, typ, secret, secret))
	}
	return "[" + strings.Join(parts, ",") + "]"
}

func cloudEvent(typ, id, secret string) string {
	return fmt.Sprintf(`{"specversion":"1.0","id":%q,"source":"/subscriptions/%s/resourceGroups/%s/providers/Microsoft.KeyVault/vaults/myvault",
"subject":%q,"type":%q,"time":"2026-01-02T03:04:05Z","data":{"Id":"https://myvault.vault.azure.net/secrets/%s/1","VaultName":"myvault",
"ObjectType":"Secret","ObjectName":%q,"Version":"1","NBF":null,"EXP":1779401257}}`, id, fakekv.DefaultSubscriptionID, fakekv.DefaultResourceGroup, secret, typ, secret, secret)
}

// deliver posts an Event Grid delivery with the endpoint's key.
func (env rotationEnv) deliver(body string, headers ...string) resp {
	env.hook.t.Helper()
	return env.hook.do("POST", "/api/v1/events/eventgrid?key="+webhookKey, body, append([]string{"aeg-event-type", "Notification"}, headers...)...)
}

// waitPassword resolves through r until the password is want.
func waitPassword(t testing.TB, r api, want string, within time.Duration) time.Duration {
	t.Helper()
	start := time.Now()
	for {
		got := r.must(200, "POST", "/api/v1/connections/sql-build/resolve", nil).str("password")
		if got == want {
			return time.Since(start)
		}
		if time.Since(start) > within {
			t.Fatalf("still resolving the old password %v after the event", time.Since(start))
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestEventGridNewVersionReachesTheNextResolve(t *testing.T) {
	eachEngine(t, func(t *testing.T, e metadbtest.Engine) {
		env := startRotation(t, e)
		env.setUp(t)
		if got := env.runner.must(200, "POST", "/api/v1/connections/sql-build/resolve", nil).str("password"); got != "password-1" {
			t.Fatalf("first resolve %q", got)
		}
		env.vault.Set("sql-pass", "password-2")
		// Without an event the hour-long cache serves the old value.
		if got := env.runner.must(200, "POST", "/api/v1/connections/sql-build/resolve", nil).str("password"); got != "password-1" {
			t.Fatalf("the cache did not hold the value: %q", got)
		}
		r := env.deliver(eventGridDelivery("Microsoft.KeyVault.SecretNewVersionCreated", []string{"ev-1"}, "sql-pass"))
		if r.status != 200 || r.body["accepted"] != float64(1) {
			t.Fatalf("delivery %d %s", r.status, r.raw)
		}
		took := waitPassword(t, env.runner, "password-2", 5*time.Second)
		t.Logf("new version resolved %v after the event", took)

		// A redelivery of the same event is a duplicate; a CloudEvent works too.
		if r := env.deliver(eventGridDelivery("Microsoft.KeyVault.SecretNewVersionCreated", []string{"ev-1"}, "sql-pass")); r.body["duplicate"] != float64(1) {
			t.Errorf("redelivery %s", r.raw)
		}
		env.vault.Set("sql-pass", "password-3")
		r = env.hook.do("POST", "/api/v1/events/eventgrid", cloudEvent("Microsoft.KeyVault.SecretNewVersionCreated", "ce-1", "sql-pass"),
			"X-Credflow-Webhook-Key", oldWebhookKey, "Content-Type", "application/cloudevents+json; charset=utf-8")
		if r.status != 200 || r.body["accepted"] != float64(1) {
			t.Fatalf("cloud event %d %s", r.status, r.raw)
		}
		waitPassword(t, env.runner, "password-3", 5*time.Second)

		// The change is audited, with the variable it reached.
		waitFor(t, func() bool {
			l := env.admin.must(200, "GET", "/api/v1/audit?action=secret.rotate", nil)
			items, _ := l.body["items"].([]any)
			return len(items) == 2 && strings.Contains(fmt.Sprint(items[0]), "cf_SqlPass") && !strings.Contains(string(l.raw), "password-")
		})
		// The connection was checked again after the event.
		c := env.admin.must(200, "GET", "/api/v1/connections/sql-build", nil)
		if c.str("status") != "connected" {
			t.Errorf("connection %s", c.raw)
		}

		// Near expiry, then expired: the variable and the credential say so.
		env.deliver(eventGridDelivery("Microsoft.KeyVault.SecretNearExpiry", []string{"ev-2"}, "sql-pass"))
		waitFor(t, func() bool {
			return statusOf(env.admin, "/api/v1/environment-variables/cf_SqlPass") == "expiring" &&
				statusOf(env.admin, "/api/v1/credentials/SQL") == "expiring"
		})
		env.hook.do("POST", "/api/v1/events/eventgrid?key="+webhookKey, "["+cloudEvent("Microsoft.KeyVault.SecretExpired", "ce-2", "sql-pass")+"]",
			"Content-Type", "application/cloudevents-batch+json")
		waitFor(t, func() bool { return statusOf(env.admin, "/api/v1/environment-variables/cf_SqlPass") == "expired" })
		// A new version clears the notice.
		env.deliver(eventGridDelivery("Microsoft.KeyVault.SecretNewVersionCreated", []string{"ev-3"}, "sql-pass"))
		waitFor(t, func() bool { return statusOf(env.admin, "/api/v1/environment-variables/cf_SqlPass") == "ok" })

		st := env.admin.must(200, "GET", "/api/v1/events/status", nil)
		var kv map[string]any
		for _, s := range st.body["stores"].([]any) {
			if m := s.(map[string]any); m["store"] == "kv" {
				kv = m
			}
		}
		if kv == nil || kv["accepted"] != float64(5) || kv["duplicate"] != float64(1) || kv["lastEventType"] != "Microsoft.KeyVault.SecretNewVersionCreated" || kv["lastEvent"] == nil {
			t.Errorf("status %s", st.raw)
		}
	})
}

func waitFor(t testing.TB, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not reached in 10s")
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestEventGridHandshakes(t *testing.T) {
	env := startRotation(t, metadbtest.Engines(t)[0])
	env.setUp(t)
	body := `[{"id":"2d1781af-3a4c-4d7c-bd0c-e34b19da4e66","topic":"/subscriptions/` + fakekv.DefaultSubscriptionID + `/resourceGroups/` + fakekv.DefaultResourceGroup +
		`/providers/Microsoft.KeyVault/vaults/myvault","subject":"","data":{"validationCode":"512d38b6-c7b8-40c8-89fe-f46f9e9622b6",
"validationUrl":"https://rp-eastus2.eventgrid.azure.net:553/eventsubscriptions/credflow/validate?id=1&t=2&apiVersion=2018-05-01-preview&token=x"},
"eventType":"Microsoft.EventGrid.SubscriptionValidationEvent","eventTime":"2026-01-02T03:04:05Z","metadataVersion":"1","dataVersion":"2"}]`
	r := env.hook.do("POST", "/api/v1/events/eventgrid?key="+webhookKey, body, "aeg-event-type", "SubscriptionValidation")
	if r.status != 200 || r.str("validationResponse") != "512d38b6-c7b8-40c8-89fe-f46f9e9622b6" {
		t.Fatalf("validation %d %s", r.status, r.raw)
	}
	wantProblem(t, env.hook.do("POST", "/api/v1/events/eventgrid", body), 401, "unauthenticated", "")

	// The CloudEvents handshake is answered whoever asks (a key sent as a
	// delivery header may not come with it), but counts only with the key.
	r = env.hook.do("OPTIONS", "/api/v1/events/eventgrid", nil, "WebHook-Request-Origin", "eventgrid.azure.net")
	if r.status != 200 || r.header.Get("WebHook-Allowed-Origin") != "eventgrid.azure.net" || r.header.Get("WebHook-Allowed-Rate") == "" {
		t.Fatalf("OPTIONS %d %v", r.status, r.header)
	}
	if ep := env.admin.must(200, "GET", "/api/v1/events/status", nil).body["endpoint"].(map[string]any); ep["lastHandshakeKind"] != "SubscriptionValidation" {
		t.Errorf("a handshake without the key counted: %v", ep)
	}
	r = env.hook.do("OPTIONS", "/api/v1/events/eventgrid?key="+webhookKey, nil, "WebHook-Request-Origin", "eventgrid.azure.net")
	if r.status != 200 || r.header.Get("WebHook-Allowed-Origin") != "eventgrid.azure.net" {
		t.Fatalf("OPTIONS with the key %d %v", r.status, r.header)
	}
	wantProblem(t, env.hook.do("OPTIONS", "/api/v1/events/eventgrid?key="+webhookKey, nil), 400, "invalid_request", "WebHook-Request-Origin")

	st := env.admin.must(200, "GET", "/api/v1/events/status", nil)
	ep := st.body["endpoint"].(map[string]any)
	if ep["lastHandshakeKind"] != "OPTIONS" || ep["keysConfigured"] != true || ep["rejected"] != float64(1) {
		t.Errorf("endpoint %v", ep)
	}
	for _, s := range st.body["stores"].([]any) {
		if m := s.(map[string]any); m["store"] == "kv" && m["lastHandshake"] == nil {
			t.Errorf("the validation did not reach the store's status: %v", m)
		}
	}
}

func TestEventGridRefusals(t *testing.T) {
	env := startRotation(t, metadbtest.Engines(t)[0])
	env.setUp(t)
	good := eventGridDelivery("Microsoft.KeyVault.SecretNewVersionCreated", []string{"x"}, "sql-pass")
	for _, tc := range []struct {
		name    string
		path    string
		body    string
		headers []string
		status  int
		code    string
		field   string
	}{
		{"no key", "/api/v1/events/eventgrid", good, nil, 401, "unauthenticated", ""},
		{"wrong key", "/api/v1/events/eventgrid?key=nope", good, nil, 401, "unauthenticated", ""},
		{"wrong header key", "/api/v1/events/eventgrid", good, []string{"X-Credflow-Webhook-Key", webhookKey + "x"}, 401, "unauthenticated", ""},
		{"a bearer token is no key", "/api/v1/events/eventgrid", good, []string{"Authorization", "Bearer " + env.admin.token}, 401, "unauthenticated", ""},
		{"not JSON", "/api/v1/events/eventgrid?key=" + webhookKey, "hello", nil, 400, "invalid_request", ""},
		{"no id", "/api/v1/events/eventgrid?key=" + webhookKey, `[{"eventType":"x"}]`, nil, 400, "invalid_request", "[0].id"},
		{"too large", "/api/v1/events/eventgrid?key=" + webhookKey, "[" + strings.Repeat(" ", 1<<20) + "]", nil, 413, "body_too_large", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			wantProblem(t, env.hook.do("POST", tc.path, tc.body, tc.headers...), tc.status, tc.code, tc.field)
		})
	}
	// Unknown vaults and types are acknowledged and ignored.
	other := strings.ReplaceAll(good, "myvault", "someone-elses-vault")
	if r := env.deliver(other); r.status != 200 || r.body["ignored"] != float64(1) {
		t.Errorf("unknown vault %d %s", r.status, r.raw)
	}
	if r := env.deliver(eventGridDelivery("Microsoft.KeyVault.KeyNewVersionCreated", []string{"k"}, "a-key")); r.status != 200 || r.body["ignored"] != float64(1) {
		t.Errorf("unknown type %d %s", r.status, r.raw)
	}
	ep := env.admin.must(200, "GET", "/api/v1/events/status", nil).body["endpoint"].(map[string]any)
	if ep["rejected"] != float64(7) || ep["ignored"] != float64(2) {
		t.Errorf("endpoint %v", ep)
	}
}

func TestEventGridWithoutKeysRefusesEverything(t *testing.T) {
	e := metadbtest.Engines(t)[0]
	inst := servertest.Start(t, e)
	hook := api{t: t, base: inst.URL}
	r := hook.do("POST", "/api/v1/events/eventgrid?key=", eventGridDelivery("Microsoft.KeyVault.SecretNewVersionCreated", []string{"x"}, "s"))
	wantProblem(t, r, 401, "unauthenticated", "")
	if !strings.Contains(r.str("detail"), "--eventgrid-key-file") {
		t.Errorf("the refusal does not say how to configure a key: %s", r.raw)
	}
}

// TestEventGridBurst: while a storm of Event Grid deliveries (10 at a
// time, 1,000 events each, all for the same secret) goes on, a runner's
// resolves keep being answered; the storm comes down to at most one change
// per delivery, and the secret's new version reaches the next resolve once
// the changes are applied.
//
// The storm lasts as long as the resolves do, counted in deliveries rather
// than timed: a resolve that waited for the storm to end (for the event
// worker, a lock, the queue) would never be answered, and one starved by it
// shows as more deliveries than the bound while 20 resolves are answered.
// How long things took is logged, not judged.
func TestEventGridBurst(t *testing.T) {
	env := startRotation(t, metadbtest.Engines(t)[0])
	env.setUp(t)
	env.runner.must(200, "POST", "/api/v1/connections/sql-build/resolve", nil)
	env.vault.Set("sql-pass", "password-2")
	// maxDeliveries bounds the storm: 20 resolves, each a few milliseconds
	// of work, take far fewer deliveries of 1,000 events than this, on a
	// fast or a loaded machine alike.
	const maxDeliveries = 400
	var (
		sent, acked, refused atomic.Int64
		wg                   sync.WaitGroup
	)
	stop := make(chan struct{})
	start := time.Now()
	for range 10 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				d := sent.Add(1)
				if d > maxDeliveries {
					return
				}
				ids := make([]string, 1000)
				for i := range ids {
					ids[i] = fmt.Sprintf("burst-%d-%d", d, i)
				}
				if env.deliver(eventGridDelivery("Microsoft.KeyVault.SecretNewVersionCreated", ids, "sql-pass")).status == http.StatusOK {
					acked.Add(1)
				} else {
					refused.Add(1)
				}
			}
		}()
	}
	// The storm has begun before the first resolve.
	waitFor(t, func() bool { return acked.Load() > 0 })
	before := acked.Load()
	for range 20 {
		if got := env.runner.must(200, "POST", "/api/v1/connections/sql-build/resolve", nil).str("password"); got != "password-1" && got != "password-2" {
			t.Fatalf("resolve during the storm: %q", got)
		}
	}
	during := acked.Load() - before
	close(stop)
	wg.Wait()
	deliveries := acked.Load()
	t.Logf("20 resolves answered while %d deliveries were acknowledged; %d deliveries (%d events) in %v",
		during, deliveries, deliveries*1000, time.Since(start))
	if sent.Load() > maxDeliveries {
		t.Errorf("the storm reached its bound of %d deliveries before 20 resolves were answered: resolves are starved by deliveries", maxDeliveries)
	}
	if n := refused.Load(); n > 0 {
		t.Errorf("%d deliveries were not acknowledged", n)
	}
	// Once the changes are applied, the next resolve has the new version.
	env.inst.Server.Events().Idle(t.Context())
	if got := env.runner.must(200, "POST", "/api/v1/connections/sql-build/resolve", nil).str("password"); got != "password-2" {
		t.Errorf("resolve after the storm was applied: %q", got)
	}
	// At most one change per delivery was applied (each waits in the queue
	// for the worker), not one per event; each change reads the secret
	// once, as does each resolve after one.
	var changes int64
	for cursor := ""; ; {
		l := env.admin.must(200, "GET", "/api/v1/audit?action=secret.rotate&limit=200&cursor="+cursor, nil)
		items, _ := l.body["items"].([]any)
		changes += int64(len(items))
		if cursor = l.str("nextCursor"); cursor == "" {
			break
		}
	}
	if changes == 0 || changes > deliveries {
		t.Errorf("%d changes applied for %d deliveries", changes, deliveries)
	}
	if reads := env.vault.SecretReads("sql-pass"); reads > 10*deliveries {
		t.Errorf("%d reads of the secret for %d deliveries: the events were not coalesced", reads, deliveries)
	}
}

func TestNotifySecretChange(t *testing.T) {
	eachEngine(t, func(t *testing.T, e metadbtest.Engine) {
		env := startRotation(t, e)
		env.setUp(t)
		env.runner.must(200, "POST", "/api/v1/connections/sql-build/resolve", nil)
		env.vault.Set("sql-pass", "password-2")
		topic := fmt.Sprintf("/subscriptions/%s/resourceGroups/%s/providers/Microsoft.KeyVault/vaults/myvault", fakekv.DefaultSubscriptionID, fakekv.DefaultResourceGroup)
		r := env.admin.must(200, "POST", "/api/v1/environment-variables/notify-secret-change", map[string]any{"keyVaultUrl": topic, "secretName": "SQL-PASS"})
		stores := r.body["stores"].([]any)
		if len(stores) != 1 || fmt.Sprint(stores[0].(map[string]any)["variables"]) != "[cf_SqlPass]" ||
			fmt.Sprint(stores[0].(map[string]any)["connections"]) != "[sql-build]" {
			t.Errorf("notify %s", r.raw)
		}
		// Applied before the answer: the very next resolve has it.
		if got := env.runner.must(200, "POST", "/api/v1/connections/sql-build/resolve", nil).str("password"); got != "password-2" {
			t.Errorf("next resolve %q", got)
		}
		env.vault.Set("sql-pass", "password-3")
		env.admin.must(200, "POST", "/api/v1/environment-variables/notify-secret-change", map[string]any{"keyVaultUrl": "https://myvault.vault.azure.net/", "secretName": "sql-pass"})
		if got := env.runner.must(200, "POST", "/api/v1/connections/sql-build/resolve", nil).str("password"); got != "password-3" {
			t.Errorf("next resolve after a notification by URL %q", got)
		}
		l := env.admin.must(200, "GET", "/api/v1/audit?action=secret.rotate&actor=admin", nil)
		if items, _ := l.body["items"].([]any); len(items) != 2 {
			t.Errorf("audit %s", l.raw)
		}

		wantProblem(t, env.admin.do("POST", "/api/v1/environment-variables/notify-secret-change", map[string]any{"keyVaultUrl": "https://other.vault.azure.net", "secretName": "x"}),
			422, "store_not_found", "keyVaultUrl")
		wantProblem(t, env.admin.do("POST", "/api/v1/environment-variables/notify-secret-change", map[string]any{"keyVaultUrl": topic, "secretName": "a/b"}),
			422, "validation_failed", "secretName")
		wantProblem(t, env.admin.do("POST", "/api/v1/environment-variables/notify-secret-change", map[string]any{"secretName": "x"}),
			422, "validation_failed", "keyVaultUrl")
		maker := newUser(env.admin, "mona", "maker")
		wantProblem(t, maker.do("POST", "/api/v1/environment-variables/notify-secret-change", map[string]any{"keyVaultUrl": topic, "secretName": "sql-pass"}),
			403, "forbidden", "")
		wantProblem(t, maker.do("GET", "/api/v1/events/status", nil), 403, "forbidden", "")
	})
}

// lastPoll is the store's last poll in the event status ("" before the
// first).
func lastPoll(a api, store string) string {
	for _, s := range a.must(200, "GET", "/api/v1/events/status", nil).body["stores"].([]any) {
		if m := s.(map[string]any); m["store"] == store && m["lastPoll"] != nil {
			return fmt.Sprint(m["lastPoll"])
		}
	}
	return ""
}

// TestStorePollInterval: a store is polled on its interval, by the
// poller's clock, which the test moves on; a shorter interval takes effect
// within itself, not after the rest of the longer one. Nothing waits on how
// fast the machine is: each step moves the clock, then waits (generously)
// for the poll it makes due.
func TestStorePollInterval(t *testing.T) {
	eachEngine(t, func(t *testing.T, e metadbtest.Engine) {
		vault := startVaultEmulator(t)
		cfg := config.Defaults()
		cfg.DataDir = t.TempDir()
		cfg.Database = e.DSN(t)
		clock := testclock.New(time.Now())
		env := startRotationWith(t, cfg, vault, server.WithPollClock(clock.Now))
		env.setUp(t)
		st := env.admin.must(200, "GET", "/api/v1/stores/kv", nil)
		if st.str("pollInterval") != "5m0s" {
			t.Errorf("default poll interval %s", st.raw)
		}
		// pollWithin moves the clock on by step until the store's last poll
		// changes, and returns how far it moved it; it fails past limit.
		// Between steps it waits for the poll by the real clock, long
		// enough for the poller's ticks (one a second) on a loaded machine.
		pollWithin := func(step, limit time.Duration) time.Duration {
			t.Helper()
			before := lastPoll(env.admin, "kv")
			for moved := step; moved <= limit; moved += step {
				clock.Advance(step)
				deadline := time.Now().Add(5 * time.Second)
				for time.Now().Before(deadline) {
					if lastPoll(env.admin, "kv") != before {
						return moved
					}
					time.Sleep(50 * time.Millisecond)
				}
			}
			t.Fatalf("no poll within %v of the poller's clock", limit)
			return 0
		}
		// Polled on the default interval: the poller now waits up to 5
		// minutes (±10%) for the next poll.
		pollWithin(time.Minute, 15*time.Minute)
		// A 10 s interval takes effect at once: the next polls come well
		// before the rest of the 5 minutes (at least 4.5), 11 s of the
		// poller's clock at a time. (The rotation package's poller tests
		// hold the exact schedule.)
		env.admin.must(200, "PATCH", "/api/v1/stores/kv", map[string]any{"pollInterval": "10s"})
		for range 3 {
			pollWithin(11*time.Second, 4*time.Minute)
		}
		if r := env.admin.must(200, "PATCH", "/api/v1/stores/kv", map[string]any{"pollInterval": "0s"}); r.str("pollInterval") != "0s" {
			t.Errorf("poll off %s", r.raw)
		}
		if r := env.admin.must(200, "GET", "/api/v1/stores/kv", nil); r.str("pollInterval") != "0s" || r.str("cacheTTL") != "1h0m0s" {
			t.Errorf("after the change %s", r.raw)
		}
		wantProblem(t, env.admin.do("PATCH", "/api/v1/stores/kv", map[string]any{"pollInterval": "5s"}), 422, "validation_failed", "pollInterval")
		wantProblem(t, env.admin.do("PATCH", "/api/v1/stores/kv", map[string]any{"pollInterval": "soon"}), 422, "validation_failed", "pollInterval")
		k := kvEnv{vault: env.vault}
		c := env.admin.must(201, "POST", "/api/v1/stores", map[string]any{"name": "kv2", "kind": "azure-keyvault", "settings": k.settings(nil), "pollInterval": "30s"})
		if c.str("pollInterval") != "30s" {
			t.Errorf("create %s", c.raw)
		}
	})
}
