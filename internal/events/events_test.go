package events_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/credflow/credflow/internal/events"
	"github.com/credflow/credflow/internal/rotation"
)

func sample(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile("testdata/" + name)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestParsePublishedShapes(t *testing.T) {
	type want struct {
		id, typ, vault, secret string
		cloud                  bool
		nbf, exp               int64 // 0: none
	}
	for _, tc := range []struct {
		file string
		want []want
	}{
		{"eventgrid-new-version.json", []want{{"00eccf70-95a7-4e7c-8299-2eb17ee9ad64", events.TypeNewVersion, "sample-kv", "sample-secret", false, 1559081980, 1559082102}}},
		{"eventgrid-batch.json", []want{
			{"b-1", events.TypeNewVersion, "sample-kv", "db-password", false, 0, 1779401257},
			{"b-2", events.TypeNearExpiry, "sample-kv", "api-key", false, 0, 0},
			{"b-3", "Microsoft.KeyVault.CertificateNewVersionCreated", "sample-kv", "tls-cert", false, 1700000000, 1800000000}}},
		{"cloudevent-new-version.json", []want{{"00eccf70-95a7-4e7c-8299-2eb17ee9ad65", events.TypeNewVersion, "sample-kv", "sample-secret", true, 1559081980, 1559082102}}},
		{"cloudevent-batch.json", []want{
			{"c-1", events.TypeExpired, "sample-kv", "db-password", true, 0, time.Date(2024, 5, 21, 22, 7, 0, 0, time.UTC).Unix()},
			{"c-2", "Microsoft.KeyVault.VaultAccessPolicyChanged", "sample-kv", "sample-kv", true, 0, 0}}},
	} {
		t.Run(tc.file, func(t *testing.T) {
			evs, err := events.Parse(sample(t, tc.file))
			if err != nil {
				t.Fatal(err)
			}
			if len(evs) != len(tc.want) {
				t.Fatalf("%d events, want %d", len(evs), len(tc.want))
			}
			for i, w := range tc.want {
				e := evs[i]
				if e.ID != w.id || e.Type != w.typ || e.Vault() != w.vault || e.SecretName() != w.secret || e.CloudEvent != w.cloud {
					t.Errorf("[%d] = %+v (vault %q, secret %q), want %+v", i, e, e.Vault(), e.SecretName(), w)
				}
				kv := e.KeyVault()
				if unix(kv.NotBefore) != w.nbf || unix(kv.Expires) != w.exp {
					t.Errorf("[%d] NBF %v EXP %v, want %d %d (exactly: no float32 rounding)", i, kv.NotBefore, kv.Expires, w.nbf, w.exp)
				}
			}
		})
	}
}

func unix(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.Unix()
}

func TestParseValidation(t *testing.T) {
	evs, err := events.Parse(sample(t, "eventgrid-validation.json"))
	if err != nil {
		t.Fatal(err)
	}
	if evs[0].Type != events.TypeValidation || evs[0].ValidationCode() != "512d38b6-c7b8-40c8-89fe-f46f9e9622b6" {
		t.Errorf("%+v code %q", evs[0], evs[0].ValidationCode())
	}
}

func TestParseTolerance(t *testing.T) {
	for _, tc := range []struct {
		name, data string
		exp        int64
		secret     string
	}{
		{"number", `{"ObjectName":"a","EXP":1779401257}`, 1779401257, "a"},
		{"numeric string", `{"ObjectName":"a","EXP":"1779401257"}`, 1779401257, "a"},
		{"float", `{"ObjectName":"a","EXP":1779401257.0}`, 1779401257, "a"},
		{"null", `{"ObjectName":"a","EXP":null}`, 0, "a"},
		{"garbage is no expiry", `{"ObjectName":"a","EXP":"soon"}`, 0, "a"},
		{"object is no expiry", `{"ObjectName":"a","EXP":{}}`, 0, "a"},
		{"key with spaces and other case", `{" objectname ":"b"}`, 0, "b"},
		{"no object name: the subject", `{}`, 0, "subj"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			body := `[{"id":"1","eventType":"` + events.TypeNewVersion + `","subject":"subj","topic":"/subscriptions/s/resourceGroups/r/providers/Microsoft.KeyVault/vaults/v","data":` + tc.data + `}]`
			evs, err := events.Parse([]byte(body))
			if err != nil {
				t.Fatal(err)
			}
			if got := unix(evs[0].KeyVault().Expires); got != tc.exp {
				t.Errorf("EXP %d, want %d", got, tc.exp)
			}
			if got := evs[0].SecretName(); got != tc.secret {
				t.Errorf("secret %q, want %q", got, tc.secret)
			}
		})
	}
}

func TestParseRefusesMalformed(t *testing.T) {
	for _, tc := range []struct{ name, body, field string }{
		{"empty", ``, ""},
		{"not JSON", `hello`, ""},
		{"broken JSON", `[{"id":`, ""},
		{"empty array", `[]`, ""},
		{"array of strings", `["a"]`, ""},
		{"no id", `[{"eventType":"x"}]`, "[0].id"},
		{"no type", `[{"id":"1"}]`, "[0].eventtype"},
		{"second event without type", `[{"id":"1","eventType":"x"},{"id":"2"}]`, "[1].eventtype"},
		{"cloud event without type", `{"id":"1","specversion":"1.0"}`, "type"},
		{"cloud event of another version", `{"id":"1","type":"x","specversion":"0.3"}`, "specversion"},
		{"data not an object", `[{"id":"1","eventType":"x","data":{"a":}}]`, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := events.Parse([]byte(tc.body))
			var fe *events.FormatError
			if !errors.As(err, &fe) {
				t.Fatalf("err %v, want a FormatError", err)
			}
			if tc.field != "" && fe.Field != tc.field {
				t.Errorf("field %q, want %q (%v)", fe.Field, tc.field, err)
			}
		})
	}
}

// fakeApplier records the changes applied.
type fakeApplier struct {
	mu      sync.Mutex
	changes []rotation.Change
	flushed []string
	block   chan struct{} // when set, each change waits on it
	fail    error
}

func (f *fakeApplier) SecretChanged(_ context.Context, c rotation.Change) (rotation.Result, error) {
	if f.block != nil {
		<-f.block
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.changes = append(f.changes, c)
	return rotation.Result{}, f.fail
}

func (f *fakeApplier) StoreChanged(_ context.Context, store string, _ rotation.Source) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.flushed = append(f.flushed, store)
	return nil
}

func (f *fakeApplier) got() ([]rotation.Change, []string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]rotation.Change(nil), f.changes...), append([]string(nil), f.flushed...)
}

type vaults map[string][]string

func (v vaults) StoresOfVault(name string) []string { return v[strings.ToLower(name)] }

func newEvent(id, typ, vault, secret string) events.Event {
	body := fmt.Sprintf(`[{"id":%q,"eventType":%q,"subject":%q,"topic":"/subscriptions/s/resourceGroups/r/providers/Microsoft.KeyVault/vaults/%s","data":{"ObjectType":"Secret","ObjectName":%q,"VaultName":%q}}]`,
		id, typ, secret, vault, secret, vault)
	evs, err := events.Parse([]byte(body))
	if err != nil {
		panic(err)
	}
	return evs[0]
}

func start(t *testing.T, apply *fakeApplier, opts events.Options) *events.Receiver {
	t.Helper()
	r := events.New(apply, vaults{"sample-kv": {"kv"}, "shared-kv": {"kv-a", "kv-b"}}, opts)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); r.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
	return r
}

func idle(t *testing.T, r *events.Receiver) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	r.Idle(ctx)
	if ctx.Err() != nil {
		t.Fatal("the worker did not drain the queue")
	}
}

func TestDeliverRoutesDedupsAndIgnores(t *testing.T) {
	apply := &fakeApplier{}
	r := start(t, apply, events.Options{})
	sum := r.Deliver([]events.Event{
		newEvent("1", events.TypeNewVersion, "sample-kv", "db"),
		newEvent("1", events.TypeNewVersion, "sample-kv", "db"), // a redelivery
		newEvent("2", events.TypeNearExpiry, "SAMPLE-KV", "api"),
		newEvent("3", events.TypeNewVersion, "unknown-kv", "db"),
		newEvent("4", "Microsoft.KeyVault.KeyNewVersionCreated", "sample-kv", "k"),
		newEvent("5", events.TypeNewVersion, "shared-kv", "s"),
	}, rotation.SourceEventGrid)
	if sum != (events.Summary{Accepted: 3, Ignored: 2, Duplicate: 1}) {
		t.Errorf("summary %+v", sum)
	}
	idle(t, r)
	changes, _ := apply.got()
	seen := map[string]rotation.Kind{}
	for _, c := range changes {
		seen[c.Store+"/"+c.Secret] = c.Kind
	}
	want := map[string]rotation.Kind{"kv/db": rotation.NewVersion, "kv/api": rotation.NearExpiry, "kv-a/s": rotation.NewVersion, "kv-b/s": rotation.NewVersion}
	if fmt.Sprint(seen) != fmt.Sprint(want) || len(changes) != len(want) {
		t.Errorf("applied %v, want %v", changes, want)
	}
	ep, stores := r.Status([]string{"kv", "other"})
	if ep.Accepted != 3 || ep.Ignored != 2 || ep.Duplicate != 1 {
		t.Errorf("endpoint %+v", ep)
	}
	if stores[0].Store != "kv" || stores[0].Accepted != 2 || stores[0].Duplicate != 1 || stores[0].Ignored != 1 ||
		stores[0].LastEvent.IsZero() || stores[1].Accepted != 0 {
		t.Errorf("stores %+v", stores)
	}
	// A redelivery after the change was applied is still a duplicate.
	if sum := r.Deliver([]events.Event{newEvent("1", events.TypeNewVersion, "sample-kv", "db")}, rotation.SourceEventGrid); sum.Duplicate != 1 {
		t.Errorf("late redelivery %+v", sum)
	}
}

func TestDeliverCoalescesPerSecret(t *testing.T) {
	apply := &fakeApplier{block: make(chan struct{})}
	r := start(t, apply, events.Options{})
	// The worker takes the first change and waits; the rest pile up.
	r.Deliver([]events.Event{newEvent("first", events.TypeNewVersion, "sample-kv", "other")}, rotation.SourceEventGrid)
	time.Sleep(20 * time.Millisecond)
	var storm []events.Event
	for i := range 1000 {
		storm = append(storm, newEvent(fmt.Sprint("e", i), events.TypeNewVersion, "sample-kv", []string{"db", "DB", "api"}[i%3]))
	}
	if sum := r.Deliver(storm, rotation.SourceEventGrid); sum.Accepted != 1000 {
		t.Errorf("summary %+v", sum)
	}
	close(apply.block)
	idle(t, r)
	changes, _ := apply.got()
	if len(changes) != 3 {
		t.Errorf("%d changes applied for 1000 events of two secrets (after the first), want 3: %v", len(changes), changes)
	}
}

func TestDeliverOverflowDropsTheStore(t *testing.T) {
	apply := &fakeApplier{block: make(chan struct{})}
	r := start(t, apply, events.Options{MaxPending: 10})
	r.Deliver([]events.Event{newEvent("first", events.TypeNewVersion, "sample-kv", "first")}, rotation.SourceEventGrid)
	time.Sleep(20 * time.Millisecond)
	var storm []events.Event
	for i := range 100 {
		storm = append(storm, newEvent(fmt.Sprint("e", i), events.TypeNewVersion, "sample-kv", fmt.Sprint("s", i)))
	}
	if sum := r.Deliver(storm, rotation.SourceEventGrid); sum.Accepted != 100 {
		t.Errorf("summary %+v", sum)
	}
	close(apply.block)
	idle(t, r)
	changes, flushed := apply.got()
	if len(flushed) != 1 || flushed[0] != "kv" {
		t.Errorf("flushed %v", flushed)
	}
	if len(changes) != 1 {
		t.Errorf("%d single changes besides the store-wide drop, want only the first: %v", len(changes), changes)
	}
}

func TestAuthenticate(t *testing.T) {
	r := events.New(&fakeApplier{}, vaults{}, events.Options{Keys: []string{"old-key", " new-key ", ""}})
	for key, want := range map[string]bool{"old-key": true, "new-key": true, "": false, "new": false, "old-key ": false, "OLD-KEY": false} {
		if got := r.Authenticate(key); got != want {
			t.Errorf("Authenticate(%q) = %v", key, got)
		}
	}
	none := events.New(&fakeApplier{}, vaults{}, events.Options{})
	if none.Authenticate("") || none.Authenticate("x") || none.HasKeys() {
		t.Error("an endpoint without keys let a delivery in")
	}
}

func TestFailedChangesAreCounted(t *testing.T) {
	apply := &fakeApplier{fail: errors.New("database down")}
	r := start(t, apply, events.Options{})
	r.Deliver([]events.Event{newEvent("1", events.TypeNewVersion, "sample-kv", "db")}, rotation.SourceEventGrid)
	idle(t, r)
	if _, stores := r.Status([]string{"kv"}); stores[0].Failed != 1 {
		t.Errorf("status %+v", stores)
	}
}

func TestDeliverInvalidatesAtOnce(t *testing.T) {
	apply := &fakeApplier{block: make(chan struct{})}
	var mu sync.Mutex
	var dropped []string
	r := start(t, apply, events.Options{Invalidate: func(c rotation.Change) {
		store, secret := c.Store, c.Secret
		mu.Lock()
		defer mu.Unlock()
		dropped = append(dropped, store+"/"+secret)
	}})
	r.Deliver([]events.Event{
		newEvent("1", events.TypeNewVersion, "sample-kv", "db"),
		newEvent("2", events.TypeNewVersion, "sample-kv", "db"),  // coalesced
		newEvent("3", events.TypeNearExpiry, "sample-kv", "api"), // no new value
	}, rotation.SourceEventGrid)
	mu.Lock()
	got := fmt.Sprint(dropped)
	mu.Unlock()
	if got != "[kv/db]" {
		t.Errorf("dropped before the worker ran: %s", got)
	}
	close(apply.block)
	idle(t, r)
}

func TestLagIsHowLongTheOldestChangeWaited(t *testing.T) {
	var mu sync.Mutex
	now := time.Date(2026, 12, 3, 9, 0, 0, 0, time.UTC)
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	var lags []time.Duration
	apply := &fakeApplier{block: make(chan struct{})}
	r := start(t, apply, events.Options{Now: clock, Lag: func(d time.Duration) {
		mu.Lock()
		defer mu.Unlock()
		lags = append(lags, d)
	}})
	// The worker takes the first change at once, and waits in it.
	r.Deliver([]events.Event{newEvent("a", events.TypeNewVersion, "sample-kv", "first")}, rotation.SourceEventGrid)
	time.Sleep(20 * time.Millisecond)
	// The second waits in the queue for five seconds of the clock.
	r.Deliver([]events.Event{newEvent("b", events.TypeNewVersion, "sample-kv", "second")}, rotation.SourceEventGrid)
	mu.Lock()
	now = now.Add(5 * time.Second)
	mu.Unlock()
	close(apply.block)
	idle(t, r)
	mu.Lock()
	defer mu.Unlock()
	if len(lags) != 2 || lags[0] != 0 || lags[1] != 5*time.Second {
		t.Errorf("lags %v, want [0s 5s]", lags)
	}
}
