package azurekv_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/to"
	"github.com/Azure/azure-sdk-for-go/sdk/security/keyvault/azsecrets"

	"github.com/credflow/credflow/internal/secretstore"
	"github.com/credflow/credflow/internal/secretstore/azurekv"
	"github.com/credflow/credflow/internal/secretstore/azurekv/fakekv"
	"github.com/credflow/credflow/internal/secretstore/cache"
	"github.com/credflow/credflow/internal/secretstore/storetest"
)

// fastRetry keeps failure tests short; the store's own ShouldRetry still
// applies.
var fastRetry = &policy.RetryOptions{MaxRetries: 2, RetryDelay: 10 * time.Millisecond, MaxRetryDelay: 3 * time.Second, TryTimeout: 10 * time.Second}

// realHost is a vault URL with the real public-cloud host name; the
// emulator's DialClient connects it to the emulator, so that the SDK's
// challenge-resource check stays on.
const realHost = "https://myvault.vault.azure.net/"

// fixture is one emulator and a store reading from it.
type fixture struct {
	vault *fakekv.TestServer
	cred  *fakekv.Credential
	store *azurekv.Store
}

type mode int

const (
	customHost mode = iota // vaultUrl https://127.0.0.1:port/, allowCustomVaultHost
	realName               // https://myvault.vault.azure.net/ through a dialer, verification on
)

func (m mode) String() string {
	if m == realName {
		return "real host name"
	}
	return "custom host"
}

func baseSettings(vault *fakekv.TestServer, m mode) azurekv.Settings {
	s := azurekv.Settings{
		TenantID:       vault.TenantID(),
		SubscriptionID: fakekv.DefaultSubscriptionID,
		ResourceGroup:  fakekv.DefaultResourceGroup,
		VaultName:      "myvault",
		Auth:           azurekv.Auth{Kind: azurekv.AuthManagedIdentity},
	}
	if m == customHost {
		s.VaultURLOverride = vault.URL
		s.AllowCustomVaultHost = true
	}
	return s
}

func transportFor(vault *fakekv.TestServer, m mode) *http.Client {
	if m == realName {
		return vault.DialClient()
	}
	return vault.Client()
}

// newFixture starts an emulator and opens a store on it with a fake
// credential; edit adjusts the settings and options first.
func newFixture(t *testing.T, m mode, edit func(*azurekv.Settings, *azurekv.Options)) *fixture {
	t.Helper()
	vault := fakekv.Start(t, fakekv.Options{VaultName: "myvault"})
	cred := fakekv.NewCredential()
	s := baseSettings(vault, m)
	opts := azurekv.Options{Name: "kv", Credential: cred, Transport: transportFor(vault, m), Retry: fastRetry}
	if edit != nil {
		edit(&s, &opts)
	}
	store, err := azurekv.New(s, opts)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return &fixture{vault: vault, cred: cred, store: store}
}

func randomVersion() string {
	b := make([]byte, 16)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// harness adapts a fixture to the conformance suite.
type harness struct{ f *fixture }

func (h harness) Store() secretstore.Store                     { return h.f.store }
func (h harness) Seed(_ *testing.T, name, value string) string { return h.f.vault.Set(name, value) }
func (h harness) AbsentVersion(*testing.T, string) string      { return randomVersion() }
func (h harness) Disable(t *testing.T, name, version string) {
	if !h.f.vault.Disable(name, version) {
		t.Fatalf("no version %s of %s to disable", version, name)
	}
}
func (h harness) Deny(_ *testing.T, name string) { h.f.vault.Deny(name) }

var (
	_ storetest.Disabler = harness{}
	_ storetest.Denier   = harness{}
)

func TestConformance(t *testing.T) {
	for _, m := range []mode{customHost, realName} {
		t.Run(m.String(), func(t *testing.T) {
			storetest.Run(t, func(t *testing.T) storetest.Harness { return harness{newFixture(t, m, nil)} })
		})
	}
}

// TestRealHostKeepsVerification shows the SDK's challenge-resource check
// on: the real host name works, and a challenge naming another resource is
// refused before any token is asked for.
func TestRealHostKeepsVerification(t *testing.T) {
	f := newFixture(t, realName, nil)
	v := f.vault.Set("db-password", "hunter2")
	sec, err := f.store.Get(t.Context(), secretstore.Ref{Name: "db-password"})
	if err != nil || sec.Version != v || sec.Value.Reveal() != "hunter2" {
		t.Fatalf("Get = %+v, %v", sec, err)
	}
	reqs := f.cred.Requests()
	if len(reqs) == 0 || reqs[0].TenantID != f.vault.TenantID() || reqs[0].Scopes[0] != "https://vault.azure.net/.default" {
		t.Fatalf("token requests = %+v, want the vault's tenant and https://vault.azure.net/.default", reqs)
	}
	if got := f.vault.Calls(fakekv.RouteChallenge); got != 1 {
		t.Errorf("challenges = %d, want 1 (later calls reuse the token)", got)
	}

	g := newFixture(t, realName, nil)
	g.vault.Set("db-password", "hunter2")
	g.vault.SetChallenge(`Bearer authorization="https://login.microsoftonline.com/` + g.vault.TenantID() + `", resource="https://evil.example.com"`)
	_, err = g.store.Get(t.Context(), secretstore.Ref{Name: "db-password"})
	if !errors.Is(err, secretstore.ErrUnavailable) {
		t.Fatalf("Get with a foreign challenge resource: %v, want ErrUnavailable", err)
	}
	if n := len(g.cred.Requests()); n != 0 {
		t.Fatalf("the credential was asked for %d tokens for a foreign resource", n)
	}
}

func TestMalformedChallengeDoesNotPanic(t *testing.T) {
	f := newFixture(t, customHost, nil)
	f.vault.Set("s", "v")
	f.vault.SetChallenge(`Bearer authorization="https://login.microsoftonline.com", resource="https://vault.azure.net"`)
	_, err := f.store.Get(t.Context(), secretstore.Ref{Name: "s"})
	if !errors.Is(err, secretstore.ErrUnavailable) || !strings.Contains(err.Error(), "names no tenant") {
		t.Fatalf("Get: %v, want ErrUnavailable saying the challenge names no tenant", err)
	}
}

// get reads name and returns the error.
func get(t *testing.T, s secretstore.Store, ref secretstore.Ref) error {
	t.Helper()
	_, err := s.Get(t.Context(), ref)
	return err
}

func TestErrorMapping(t *testing.T) {
	const value = "top-secret-value-1234"
	for _, tc := range []struct {
		label  string
		setup  func(f *fixture)
		want   error
		status int
		code   string
		inner  string
		hint   string // a part of the hint
	}{
		{"missing secret", func(f *fixture) {}, secretstore.ErrNotFound, 404, "SecretNotFound", "", "name"},
		{"RBAC denied", func(f *fixture) { f.vault.Deny("s") }, secretstore.ErrForbidden, 403, "Forbidden", azurekv.CodeForbiddenByRbac, azurekv.SecretsUserRole},
		{"access policy", func(f *fixture) { f.vault.SetAccessPolicyDenied(true) }, secretstore.ErrForbidden, 403, "Forbidden", azurekv.CodeAccessDenied, "access polic"},
		{"firewall", func(f *fixture) { f.vault.SetFirewallDenied(true) }, secretstore.ErrNetworkDenied, 403, "Forbidden", azurekv.CodeForbiddenByFirewall, "private endpoint"},
		{"disabled", func(f *fixture) { f.vault.Disable("s", "") }, secretstore.ErrDisabled, 403, "Forbidden", azurekv.CodeSecretDisabled, "enable"},
		{"outage", func(f *fixture) { f.vault.Fail(-1, http.StatusServiceUnavailable) }, secretstore.ErrUnavailable, 503, "ServiceUnavailable", "", "try again"},
	} {
		t.Run(tc.label, func(t *testing.T) {
			f := newFixture(t, customHost, nil)
			if tc.label != "missing secret" {
				f.vault.Set("s", value)
			}
			// A first read authenticates, so that the identity is known.
			f.vault.Set("warm", "x")
			if err := get(t, f.store, secretstore.Ref{Name: "warm"}); err != nil {
				t.Fatalf("warm-up Get: %v", err)
			}
			tc.setup(f)
			err := get(t, f.store, secretstore.Ref{Name: "s"})
			if !errors.Is(err, tc.want) {
				t.Fatalf("Get: %v, want %v", err, tc.want)
			}
			if strings.Contains(fmt.Sprintf("%v %+v", err, err), value) {
				t.Fatalf("the error shows the secret value: %v", err)
			}
			var kvErr *azurekv.Error
			if !errors.As(err, &kvErr) {
				t.Fatalf("Get: %T %v, want an *azurekv.Error", err, err)
			}
			if kvErr.Status != tc.status || kvErr.Code != tc.code || kvErr.InnerCode != tc.inner {
				t.Errorf("error = status %d %s/%s, want %d %s/%s", kvErr.Status, kvErr.Code, kvErr.InnerCode, tc.status, tc.code, tc.inner)
			}
			if !strings.Contains(strings.ToLower(kvErr.Hint()), strings.ToLower(tc.hint)) {
				t.Errorf("hint %q does not mention %q", kvErr.Hint(), tc.hint)
			}
			if strings.Contains(err.Error(), "AKV") || strings.Contains(err.Error(), "Caller") || strings.Contains(err.Error(), "fwlink") {
				t.Errorf("the error forwards Key Vault's message: %v", err)
			}
			if errors.Is(tc.want, secretstore.ErrForbidden) || errors.Is(tc.want, secretstore.ErrNetworkDenied) {
				if kvErr.Principal.AppID != f.cred.AppID || kvErr.Principal.ObjectID != f.cred.ObjectID {
					t.Errorf("principal = %+v, want app %s object %s", kvErr.Principal, f.cred.AppID, f.cred.ObjectID)
				}
				if !strings.Contains(err.Error(), f.cred.AppID) {
					t.Errorf("the error does not name the identity: %v", err)
				}
				if !strings.Contains(kvErr.Hint(), f.cred.AppID) && tc.inner != azurekv.CodeForbiddenByFirewall {
					t.Errorf("the hint does not name the identity: %s", kvErr.Hint())
				}
			}
			// Stat maps the same way.
			_, err = f.store.Stat(t.Context(), secretstore.Ref{Name: "s"})
			if !errors.Is(err, tc.want) {
				t.Errorf("Stat: %v, want %v", err, tc.want)
			}
		})
	}
}

// TestPrincipalFromMessage: with a token that is not a JWT, the identity
// comes from Key Vault's refusal.
func TestPrincipalFromMessage(t *testing.T) {
	f := newFixture(t, customHost, nil)
	f.cred.SetOpaque(true)
	f.vault.Set("s", "v")
	f.vault.Deny("s")
	err := get(t, f.store, secretstore.Ref{Name: "s"})
	var kvErr *azurekv.Error
	if !errors.As(err, &kvErr) || !errors.Is(err, secretstore.ErrForbidden) {
		t.Fatalf("Get: %v", err)
	}
	// The emulator cannot read an opaque token either, so the message
	// names no identity; nothing may be invented.
	if !kvErr.Principal.IsZero() {
		t.Fatalf("principal = %+v from an opaque token", kvErr.Principal)
	}
	if !strings.Contains(kvErr.Hint(), "credflow's identity") {
		t.Errorf("hint %q", kvErr.Hint())
	}
}

func TestPinnedVersionThenDisabled(t *testing.T) {
	for _, m := range []mode{customHost, realName} {
		t.Run(m.String(), func(t *testing.T) {
			f := newFixture(t, m, nil)
			v1 := f.vault.Set("app-password", "first")
			v2 := f.vault.Set("app-password", "second")
			ref, err := f.store.ParseRef(f.store.ResourcePath(secretstore.Ref{Name: "app-password", Version: v1}))
			if err != nil {
				t.Fatal(err)
			}
			sec, err := f.store.Get(t.Context(), ref)
			if err != nil || sec.Value.Reveal() != "first" || sec.Version != v1 {
				t.Fatalf("pinned Get = %v %v", sec.Version, err)
			}

			// Disable v1 the way an admin would, through the SDK (PATCH).
			client, err := azsecrets.NewClient(f.store.VaultURL(), f.cred, &azsecrets.ClientOptions{
				ClientOptions:                        azcore.ClientOptions{Transport: transportFor(f.vault, m)},
				DisableChallengeResourceVerification: m == customHost,
			})
			if err != nil {
				t.Fatal(err)
			}
			if _, err := client.UpdateSecretProperties(t.Context(), "app-password", v1, azsecrets.UpdateSecretPropertiesParameters{
				SecretAttributes: &azsecrets.SecretAttributes{Enabled: to.Ptr(false)}}, nil); err != nil {
				t.Fatalf("UpdateSecretProperties: %v", err)
			}

			_, err = f.store.Get(t.Context(), ref)
			if !errors.Is(err, secretstore.ErrDisabled) {
				t.Fatalf("Get of the disabled pinned version: %v, want ErrDisabled", err)
			}
			if strings.Contains(err.Error(), "first") {
				t.Fatal("the error shows the value")
			}
			sec, err = f.store.Get(t.Context(), secretstore.Ref{Name: "app-password"})
			if err != nil || sec.Version != v2 {
				t.Fatalf("latest = %v %v, want %s", sec.Version, err, v2)
			}
		})
	}
}

func TestMeta(t *testing.T) {
	f := newFixture(t, customHost, nil)
	exp := time.Now().Add(48 * time.Hour).Truncate(time.Second).UTC()
	nbf := time.Now().Add(-time.Hour).Truncate(time.Second).UTC()
	v, err := f.vault.Put("m", fakekv.Spec{Value: "x", Expires: exp, NotBefore: nbf})
	if err != nil {
		t.Fatal(err)
	}
	m, err := f.store.Stat(t.Context(), secretstore.Ref{Name: "m"})
	if err != nil {
		t.Fatal(err)
	}
	if m.Version != v || !m.Enabled || !m.ExpiresAt.Equal(exp) || !m.NotBefore.Equal(nbf) || m.UpdatedAt.IsZero() {
		t.Fatalf("Stat = %+v, want version %s, enabled, exp %v, nbf %v", m, v, exp, nbf)
	}
}

func TestThrottling(t *testing.T) {
	t.Run("Retry-After honoured", func(t *testing.T) {
		f := newFixture(t, customHost, nil)
		f.vault.Set("s", "v")
		f.vault.Throttle(1, time.Second)
		start := time.Now()
		if err := get(t, f.store, secretstore.Ref{Name: "s"}); err != nil {
			t.Fatalf("Get: %v", err)
		}
		if d := time.Since(start); d < 900*time.Millisecond {
			t.Errorf("Get returned after %v, before the 1 s Retry-After", d)
		}
	})
	t.Run("Retry-After beyond the deadline", func(t *testing.T) {
		f := newFixture(t, customHost, func(_ *azurekv.Settings, o *azurekv.Options) {
			o.Retry = &policy.RetryOptions{MaxRetries: 3, RetryDelay: 10 * time.Millisecond, MaxRetryDelay: time.Minute}
		})
		f.vault.Set("s", "v")
		f.vault.Throttle(-1, 5*time.Second)
		ctx, cancel := context.WithTimeout(t.Context(), 2*time.Second)
		defer cancel()
		start := time.Now()
		_, err := f.store.Get(ctx, secretstore.Ref{Name: "s"})
		var te *secretstore.ThrottledError
		if !errors.As(err, &te) || te.RetryAfter != 5*time.Second {
			t.Fatalf("Get: %v, want a ThrottledError with RetryAfter 5s", err)
		}
		if d := time.Since(start); d > time.Second {
			t.Errorf("Get took %v: it waited although the Retry-After ends after the deadline", d)
		}
		if n := f.vault.Calls(fakekv.RouteGet); n != 1 {
			t.Errorf("%d requests, want 1", n)
		}
	})
	t.Run("no Retry-After", func(t *testing.T) {
		f := newFixture(t, customHost, nil)
		f.vault.Set("s", "v")
		f.vault.Throttle(-1, 0)
		err := get(t, f.store, secretstore.Ref{Name: "s"})
		var te *secretstore.ThrottledError
		if !errors.As(err, &te) || !errors.Is(err, secretstore.ErrThrottled) || te.RetryAfter <= 0 {
			t.Fatalf("Get: %v, want a ThrottledError with a positive RetryAfter", err)
		}
		if n := f.vault.Calls(fakekv.RouteGet); n != int64(fastRetry.MaxRetries)+1 {
			t.Errorf("%d requests, want %d (one and the retries)", n, fastRetry.MaxRetries+1)
		}
	})
}

// TestThrottledVaultThroughCache: many concurrent resolves through the
// run-time cache make one read per secret at a time, even while the vault
// throttles and the reads are retried.
func TestThrottledVaultThroughCache(t *testing.T) {
	for _, secrets := range []int{1, 20} {
		t.Run(fmt.Sprintf("%d secrets", secrets), func(t *testing.T) {
			f := newFixture(t, customHost, func(_ *azurekv.Settings, o *azurekv.Options) {
				o.Retry = &policy.RetryOptions{MaxRetries: 5, RetryDelay: 10 * time.Millisecond, MaxRetryDelay: 5 * time.Second}
			})
			values := map[string]string{}
			for i := range secrets {
				n := fmt.Sprintf("secret-%d", i)
				values[n] = "value-" + n
				f.vault.Set(n, values[n])
			}
			f.vault.SetLatency(20 * time.Millisecond)
			f.vault.Throttle(secrets+1, time.Second)
			c := cache.New(f.store, cache.Options{TTL: time.Minute})

			var wg sync.WaitGroup
			for n, want := range values {
				for range 50 {
					wg.Go(func() {
						ctx, cancel := context.WithTimeout(t.Context(), 8*time.Second)
						defer cancel()
						sec, err := c.Get(ctx, secretstore.Ref{Name: n})
						switch {
						case err != nil:
							t.Errorf("Get(%s): %v", n, err)
						case sec.Value.Reveal() != want:
							t.Errorf("Get(%s) returned another value", n)
						}
					})
				}
			}
			wg.Wait()
			for n := range values {
				if m := f.vault.SecretMaxInFlight(n); m != 1 {
					t.Errorf("%s: %d reads in flight at once, want 1", n, m)
				}
				// At most: the throttled tries, the challenge, the read.
				if r := f.vault.SecretReads(n); r > 4 {
					t.Errorf("%s: %d reads reached the vault", n, r)
				}
			}
			if m := f.vault.MaxInFlight(fakekv.RouteGet); m > secrets {
				t.Errorf("%d reads in flight at once for %d secrets", m, secrets)
			}
		})
	}
}

func TestReadBudget(t *testing.T) {
	f := newFixture(t, customHost, func(_ *azurekv.Settings, o *azurekv.Options) {
		o.Budget = &azurekv.Budget{Reads: 4, Per: time.Second}
	})
	f.vault.Set("s", "v")
	start := time.Now()
	// The first read costs two requests (the challenge, then the read).
	for i := range 3 {
		if err := get(t, f.store, secretstore.Ref{Name: "s"}); err != nil {
			t.Fatalf("Get %d: %v", i, err)
		}
	}
	if n := f.vault.Calls(fakekv.RouteGet); n != 4 {
		t.Fatalf("%d requests, want 4", n)
	}

	// The budget is spent: a read that cannot wait fails at once.
	ctx, cancel := context.WithTimeout(t.Context(), 100*time.Millisecond)
	defer cancel()
	_, err := f.store.Get(ctx, secretstore.Ref{Name: "s"})
	var te *secretstore.ThrottledError
	if !errors.As(err, &te) || te.RetryAfter <= 0 || te.RetryAfter > time.Second {
		t.Fatalf("Get over budget: %v, want a ThrottledError with RetryAfter in (0, 1s]", err)
	}
	if n := f.vault.Calls(fakekv.RouteGet); n != 4 {
		t.Fatalf("a request over budget reached the vault (%d)", n)
	}

	// One that can wait, waits for the window to move.
	ctx2, cancel2 := context.WithTimeout(t.Context(), 5*time.Second)
	defer cancel2()
	if _, err := f.store.Get(ctx2, secretstore.Ref{Name: "s"}); err != nil {
		t.Fatalf("Get within its deadline: %v", err)
	}
	if d := time.Since(start); d < 900*time.Millisecond {
		t.Errorf("the fifth request went after %v, within the 1 s window of the first", d)
	}
}

func TestWrongTenantOnRead(t *testing.T) {
	f := newFixture(t, customHost, func(s *azurekv.Settings, _ *azurekv.Options) {
		s.TenantID = "99999999-9999-9999-9999-999999999999"
	})
	f.vault.Set("s", "v")
	err := get(t, f.store, secretstore.Ref{Name: "s"})
	var te *azurekv.TenantError
	if !errors.As(err, &te) || !errors.Is(err, secretstore.ErrUnavailable) || !errors.Is(err, azurekv.ErrAuthentication) {
		t.Fatalf("Get: %v, want a TenantError matching ErrUnavailable and ErrAuthentication", err)
	}
	if te.Vault != f.vault.TenantID() || te.Configured != "99999999-9999-9999-9999-999999999999" {
		t.Errorf("TenantError = %+v", te)
	}
	if n := len(f.cred.Requests()); n != 0 {
		t.Errorf("the credential was asked for %d tokens in a foreign tenant", n)
	}
}

// TestRejectedToken: a token Key Vault refuses (here, issued by another
// tenant) is an access failure that names the cause.
func TestRejectedToken(t *testing.T) {
	f := newFixture(t, customHost, func(_ *azurekv.Settings, o *azurekv.Options) {
		o.Credential = otherTenant{fakekv.NewCredential()}
	})
	f.vault.Set("s", "v")
	err := get(t, f.store, secretstore.Ref{Name: "s"})
	var kvErr *azurekv.Error
	if !errors.As(err, &kvErr) || kvErr.Status != http.StatusUnauthorized || !errors.Is(err, secretstore.ErrForbidden) {
		t.Fatalf("Get: %v, want a 401 *azurekv.Error matching ErrForbidden", err)
	}
	if !strings.Contains(kvErr.Hint(), "tenantId") {
		t.Errorf("hint %q", kvErr.Hint())
	}
}

type otherTenant struct{ c *fakekv.Credential }

func (o otherTenant) GetToken(ctx context.Context, opts policy.TokenRequestOptions) (azcore.AccessToken, error) {
	opts.TenantID = "88888888-8888-8888-8888-888888888888"
	return o.c.GetToken(ctx, opts)
}

func TestUnreachable(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	f := newFixture(t, customHost, func(s *azurekv.Settings, _ *azurekv.Options) {
		s.VaultURLOverride = "https://" + addr + "/"
	})
	err = get(t, f.store, secretstore.Ref{Name: "s"})
	if !errors.Is(err, secretstore.ErrUnavailable) {
		t.Fatalf("Get: %v, want ErrUnavailable", err)
	}
}

func TestDeadline(t *testing.T) {
	f := newFixture(t, customHost, nil)
	f.vault.Set("s", "v")
	f.vault.SetLatency(2 * time.Second)
	ctx, cancel := context.WithTimeout(t.Context(), 100*time.Millisecond)
	defer cancel()
	_, err := f.store.Get(ctx, secretstore.Ref{Name: "s"})
	if !errors.Is(err, secretstore.ErrTimeout) || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Get: %v, want ErrTimeout and DeadlineExceeded", err)
	}
}

func TestInvalidRefOnGet(t *testing.T) {
	f := newFixture(t, customHost, nil)
	for _, ref := range []secretstore.Ref{{Name: ""}, {Name: "bad name"}, {Name: "ok", Version: "short"}} {
		if err := get(t, f.store, ref); !errors.Is(err, secretstore.ErrInvalidRef) {
			t.Errorf("Get(%#v): %v, want ErrInvalidRef", ref, err)
		}
	}
	if n := f.vault.Calls(fakekv.RouteGet); n != 0 {
		t.Errorf("%d invalid requests reached the vault", n)
	}
}

// countingTransport counts the requests it sends (each one a dial, as a
// refused connection is never reused).
type countingTransport struct {
	next  policy.Transporter
	mu    sync.Mutex
	tries int
}

func (c *countingTransport) Do(req *http.Request) (*http.Response, error) {
	c.mu.Lock()
	c.tries++
	c.mu.Unlock()
	return c.next.Do(req)
}

func (c *countingTransport) count() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.tries
}

// TestRefusedIsNotRetried: a vault whose port refuses connections fails the
// read at its first try, as unavailable, with the dialer's cause in the
// error, under the production retry options.
// TestUnreachableIsNotRetried: a vault that refuses connections, whose
// host name does not resolve, or whose certificate is not trusted fails at
// its first try, with the production retry options, saying which: asking
// again gets the same answer and only turns "unavailable" into a timeout.
func TestUnreachableIsNotRetried(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	refused := l.Addr().String()
	l.Close()
	untrusted := httptest.NewTLSServer(nil) // a certificate the vault client does not trust
	t.Cleanup(untrusted.Close)
	for _, tc := range []struct {
		name, url, says string
		reason          string
	}{
		{"refused", "https://" + refused + "/", "connection refused", secretstore.ConnectRefused},
		{"unresolvable", "https://kv.invalid/", "kv.invalid does not resolve", secretstore.ConnectDNS},
		{"untrusted", untrusted.URL + "/", "certificate is not trusted", secretstore.ConnectCertificate},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var ct *countingTransport
			f := newFixture(t, customHost, func(s *azurekv.Settings, o *azurekv.Options) {
				s.VaultURLOverride = tc.url
				ct = &countingTransport{next: o.Transport}
				o.Transport, o.Retry = ct, nil
			})
			ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
			defer cancel()
			_, err := f.store.Get(ctx, secretstore.Ref{Name: "s"})
			var ce *secretstore.ConnectError
			if !errors.Is(err, secretstore.ErrUnavailable) || errors.Is(err, secretstore.ErrTimeout) || !errors.As(err, &ce) || ce.Reason != tc.reason {
				t.Fatalf("Get: %v, want ErrUnavailable, a %s ConnectError", err, tc.reason)
			}
			if !strings.Contains(err.Error(), tc.says) {
				t.Errorf("the error does not say %q: %v", tc.says, err)
			}
			if n := ct.count(); n != 1 {
				t.Errorf("%d tries, want 1", n)
			}
			if ctx.Err() != nil {
				t.Error("the read ran into its deadline")
			}
		})
	}
}
