package fakekv_test

import (
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/to"
	"github.com/Azure/azure-sdk-for-go/sdk/security/keyvault/azsecrets"

	"github.com/credflow/credflow/internal/secretstore/azurekv/fakekv"
)

// kvError is Key Vault's error body.
type kvError struct {
	Error struct {
		Code       string `json:"code"`
		Message    string `json:"message"`
		InnerError *struct {
			Code string `json:"code"`
		} `json:"innererror"`
	} `json:"error"`
}

// do sends a raw request to the vault, with a token for its tenant unless
// token is "-".
func do(t *testing.T, ts *fakekv.TestServer, method, path, token string) (*http.Response, kvError) {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), method, strings.TrimSuffix(ts.URL, "/")+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	if token == "" {
		token = fakekv.MintToken(fakekv.Claims{TenantID: ts.TenantID(), Audience: "https://vault.azure.net", AppID: "a", Expires: time.Now().Add(time.Hour)})
	}
	if token != "-" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := ts.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var e kvError
	b, _ := io.ReadAll(resp.Body)
	_ = json.Unmarshal(b, &e)
	return resp, e
}

func TestChallenge(t *testing.T) {
	ts := fakekv.Start(t, fakekv.Options{TenantID: "72f988bf-86f1-41af-91ab-2d7cd011db47"})
	resp, e := do(t, ts, http.MethodGet, "/secrets/x/?api-version=7.5", "-")
	want := `Bearer authorization="https://login.microsoftonline.com/72f988bf-86f1-41af-91ab-2d7cd011db47", resource="https://vault.azure.net"`
	if resp.StatusCode != 401 || resp.Header.Get("WWW-Authenticate") != want || e.Error.Code != "Unauthorized" {
		t.Fatalf("got %d %q %+v", resp.StatusCode, resp.Header.Get("WWW-Authenticate"), e)
	}
	if resp.Header.Get("x-ms-request-id") == "" || resp.Header.Get("Content-Type") != "application/json; charset=utf-8" {
		t.Errorf("headers %v", resp.Header)
	}
	if ts.Calls(fakekv.RouteChallenge) != 1 || ts.Calls(fakekv.RouteGet) != 1 {
		t.Errorf("counters: challenge %d get %d", ts.Calls(fakekv.RouteChallenge), ts.Calls(fakekv.RouteGet))
	}

	resp, e = do(t, ts, http.MethodGet, "/secrets/x", "")
	if resp.StatusCode != 400 || e.Error.Code != "BadParameter" {
		t.Errorf("without api-version: %d %+v", resp.StatusCode, e)
	}

	other := fakekv.MintToken(fakekv.Claims{TenantID: "99999999-9999-9999-9999-999999999999", Audience: "https://vault.azure.net", Expires: time.Now().Add(time.Hour)})
	resp, e = do(t, ts, http.MethodGet, "/secrets/x?api-version=7.5", other)
	if resp.StatusCode != 401 || !strings.Contains(e.Error.Message, "AKV10032") || resp.Header.Get("WWW-Authenticate") == "" {
		t.Errorf("token of another tenant: %d %+v", resp.StatusCode, e)
	}
	wrongAud := fakekv.MintToken(fakekv.Claims{TenantID: ts.TenantID(), Audience: "https://management.azure.com", Expires: time.Now().Add(time.Hour)})
	resp, e = do(t, ts, http.MethodGet, "/secrets/x?api-version=7.5", wrongAud)
	if resp.StatusCode != 401 || !strings.Contains(e.Error.Message, "AKV10022") {
		t.Errorf("token for another audience: %d %+v", resp.StatusCode, e)
	}
	if got := ts.Tokens(); len(got) != 2 || got[0].TenantID != "99999999-9999-9999-9999-999999999999" {
		t.Errorf("Tokens = %+v", got)
	}
}

func TestErrors(t *testing.T) {
	for _, tc := range []struct {
		label  string
		setup  func(*fakekv.TestServer)
		path   string
		status int
		code   string
		inner  string
		text   string
	}{
		{"missing", nil, "/secrets/nope", 404, "SecretNotFound", "", "A secret with (name/id) nope was not found"},
		{"missing version", nil, "/secrets/s/00000000000000000000000000000000", 404, "SecretNotFound", "", "s/00000000000000000000000000000000"},
		{"rbac", func(ts *fakekv.TestServer) { ts.Deny("S") }, "/secrets/s/", 403, "Forbidden", "ForbiddenByRbac", "Caller: appid=a;"},
		{"access policy", func(ts *fakekv.TestServer) { ts.SetAccessPolicyDenied(true) }, "/secrets/s", 403, "Forbidden", "AccessDenied", "does not have secrets get permission"},
		{"firewall", func(ts *fakekv.TestServer) { ts.SetFirewallDenied(true) }, "/secrets/s", 403, "Forbidden", "ForbiddenByFirewall", "Client address: 127.0.0.1"},
		{"disabled", func(ts *fakekv.TestServer) { ts.Disable("s", "") }, "/secrets/s", 403, "Forbidden", "SecretDisabled", "disabled secret"},
		{"throttled", func(ts *fakekv.TestServer) { ts.Throttle(1, 1500*time.Millisecond) }, "/secrets/s", 429, "Throttled", "", "VaultRequestTypeLimitReached"},
		{"outage", func(ts *fakekv.TestServer) { ts.Fail(1, 503) }, "/secrets/s", 503, "ServiceUnavailable", "", ""},
		{"bad name", nil, "/secrets/bad_name", 400, "BadParameter", "", ""},
		{"unimplemented", nil, "/keys/k", 501, "NotImplemented", "", ""},
	} {
		t.Run(tc.label, func(t *testing.T) {
			ts := fakekv.Start(t, fakekv.Options{})
			ts.Set("s", "v")
			if tc.setup != nil {
				tc.setup(ts)
			}
			resp, e := do(t, ts, http.MethodGet, tc.path+"?api-version=7.5", "")
			inner := ""
			if e.Error.InnerError != nil {
				inner = e.Error.InnerError.Code
			}
			if resp.StatusCode != tc.status || e.Error.Code != tc.code || inner != tc.inner || !strings.Contains(e.Error.Message, tc.text) {
				t.Fatalf("got %d %s/%s %q", resp.StatusCode, e.Error.Code, inner, e.Error.Message)
			}
			if tc.label == "throttled" && resp.Header.Get("Retry-After") != "2" {
				t.Errorf("Retry-After = %q, want 2 (rounded up)", resp.Header.Get("Retry-After"))
			}
		})
	}
	ts := fakekv.Start(t, fakekv.Options{})
	ts.Throttle(1, 0)
	if resp, _ := do(t, ts, http.MethodGet, "/secrets/s?api-version=7.5", ""); resp.StatusCode != 429 || resp.Header.Get("Retry-After") != "" {
		t.Errorf("throttle without Retry-After: %d %q", resp.StatusCode, resp.Header.Get("Retry-After"))
	}
	if resp, _ := do(t, ts, http.MethodGet, "/secrets/s?api-version=7.5", ""); resp.StatusCode != 404 {
		t.Errorf("after the throttle: %d", resp.StatusCode)
	}
}

// TestSDK drives every implemented operation through the real azsecrets
// client, on the real host name with challenge verification on.
func TestSDK(t *testing.T) {
	ts := fakekv.Start(t, fakekv.Options{})
	cred := fakekv.NewCredential()
	client, err := azsecrets.NewClient("https://myvault.vault.azure.net", cred, &azsecrets.ClientOptions{
		ClientOptions: azcore.ClientOptions{Transport: ts.DialClient()}})
	if err != nil {
		t.Fatal(err)
	}
	ctx := t.Context()
	// The first request of a set goes without its body, to draw the
	// challenge; the value must still arrive.
	set, err := client.SetSecret(ctx, "app-password", azsecrets.SetSecretParameters{Value: to.Ptr("v1"),
		ContentType: to.Ptr("text/plain"), Tags: map[string]*string{"owner": to.Ptr("ops")}}, nil)
	if err != nil {
		t.Fatalf("SetSecret: %v", err)
	}
	if !strings.HasPrefix(string(*set.ID), "https://myvault.vault.azure.net/secrets/app-password/") || *set.Value != "v1" {
		t.Fatalf("SetSecret = %s", *set.ID)
	}
	v1 := set.ID.Version()
	var versions []string
	versions = append(versions, v1)
	for i := 2; i <= 30; i++ {
		r, err := client.SetSecret(ctx, "app-password", azsecrets.SetSecretParameters{Value: to.Ptr(fmt.Sprintf("v%d", i))}, nil)
		if err != nil {
			t.Fatal(err)
		}
		versions = append(versions, r.ID.Version())
	}
	got, err := client.GetSecret(ctx, "app-password", "", nil)
	if err != nil || *got.Value != "v30" || got.ID.Version() != versions[29] {
		t.Fatalf("GetSecret latest: %v", err)
	}
	got, err = client.GetSecret(ctx, "APP-PASSWORD", v1, nil)
	if err != nil || *got.Value != "v1" || *got.ContentType != "text/plain" || *got.Tags["owner"] != "ops" {
		t.Fatalf("GetSecret v1: %v", err)
	}
	if a := got.Attributes; !*a.Enabled || a.Created == nil || a.Updated == nil || *a.RecoveryLevel != "Recoverable+Purgeable" || a.Expires != nil {
		t.Errorf("attributes %+v", a)
	}

	// Versions come in pages of 25 with an absolute nextLink.
	pager := client.NewListSecretPropertiesVersionsPager("app-password", nil)
	var listed []string
	pages := 0
	for pager.More() {
		page, err := pager.NextPage(ctx)
		if err != nil {
			t.Fatalf("list versions: %v", err)
		}
		pages++
		for _, it := range page.Value {
			listed = append(listed, it.ID.Version())
		}
	}
	if pages != 2 || strings.Join(listed, ",") != strings.Join(versions, ",") {
		t.Fatalf("%d pages, versions %v, want 2 pages of %v", pages, listed, versions)
	}

	// Disable v1 (PATCH); reading it is then a 403 SecretDisabled.
	upd, err := client.UpdateSecretProperties(ctx, "app-password", v1, azsecrets.UpdateSecretPropertiesParameters{
		SecretAttributes: &azsecrets.SecretAttributes{Enabled: to.Ptr(false)}}, nil)
	if err != nil || *upd.Attributes.Enabled || upd.Value != nil {
		t.Fatalf("UpdateSecretProperties: %v", err)
	}
	_, err = client.GetSecret(ctx, "app-password", v1, nil)
	var re *azcore.ResponseError
	if !errors.As(err, &re) || re.StatusCode != 403 || re.ErrorCode != "Forbidden" {
		t.Fatalf("GetSecret of a disabled version: %v", err)
	}
	_, err = client.GetSecret(ctx, "missing", "", nil)
	if !errors.As(err, &re) || re.StatusCode != 404 || re.ErrorCode != "SecretNotFound" {
		t.Fatalf("GetSecret of a missing secret: %v", err)
	}
	if n := ts.Calls(fakekv.RouteChallenge); n != 1 {
		t.Errorf("%d challenges, want 1", n)
	}
	if r := cred.Requests(); len(r) == 0 || r[0].TenantID != ts.TenantID() {
		t.Errorf("token requests %+v", r)
	}
}

func TestInFlight(t *testing.T) {
	ts := fakekv.Start(t, fakekv.Options{})
	ts.Set("s", "v")
	ts.SetLatency(50 * time.Millisecond)
	var wg sync.WaitGroup
	for range 5 {
		wg.Go(func() { do(t, ts, http.MethodGet, "/secrets/s?api-version=7.5", "") })
	}
	wg.Wait()
	if ts.SecretReads("S") != 5 || ts.SecretMaxInFlight("s") < 2 || ts.MaxInFlight(fakekv.RouteGet) < 2 {
		t.Errorf("reads %d, max in flight %d/%d", ts.SecretReads("s"), ts.SecretMaxInFlight("s"), ts.MaxInFlight(fakekv.RouteGet))
	}
	ts.ResetCounters()
	if ts.SecretReads("s") != 0 || ts.Calls(fakekv.RouteGet) != 0 {
		t.Error("ResetCounters left counts")
	}
}

func TestIdentityEndpoint(t *testing.T) {
	ts := fakekv.Start(t, fakekv.Options{Identity: fakekv.Identity{ClientID: "c1", ObjectID: "o1"}})
	get := func(header, query string) (*http.Response, map[string]any) {
		req, _ := http.NewRequestWithContext(t.Context(), http.MethodGet, ts.IdentityEndpoint+"?"+query, nil)
		if header != "" {
			req.Header.Set("X-IDENTITY-HEADER", header)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var m map[string]any
		_ = json.NewDecoder(resp.Body).Decode(&m)
		return resp, m
	}
	q := "resource=https%3A%2F%2Fvault.azure.net&api-version=2019-08-01"
	if resp, _ := get("", q); resp.StatusCode != 401 {
		t.Errorf("without the header: %d", resp.StatusCode)
	}
	if resp, _ := get(ts.IdentityHeader(), "resource=x&api-version=2017-09-01"); resp.StatusCode != 400 {
		t.Errorf("old api-version: %d", resp.StatusCode)
	}
	resp, m := get(ts.IdentityHeader(), q)
	if resp.StatusCode != 200 || m["token_type"] != "Bearer" || m["resource"] != "https://vault.azure.net" || m["client_id"] != "c1" {
		t.Fatalf("token response %d %v", resp.StatusCode, m)
	}
	if _, ok := m["expires_on"].(string); !ok {
		t.Errorf("expires_on %v is not a string of seconds", m["expires_on"])
	}
	// The token's claims name the tenant and identity.
	tok, _ := m["access_token"].(string)
	if r, _ := do(t, ts, http.MethodGet, "/secrets/none?api-version=7.5", tok); r.StatusCode != 404 {
		t.Errorf("the vault refused the endpoint's token: %d", r.StatusCode)
	}
	if got := ts.Tokens(); len(got) != 1 || got[0].AppID != "c1" || got[0].ObjectID != "o1" || got[0].TenantID != ts.TenantID() {
		t.Errorf("Tokens = %+v", got)
	}
	_, m = get(ts.IdentityHeader(), q+"&client_id=user-assigned")
	if m["client_id"] != "user-assigned" {
		t.Errorf("user-assigned: %v", m)
	}

	ts.SetIdentityDown(true)
	req, _ := http.NewRequestWithContext(t.Context(), http.MethodGet, ts.IdentityEndpoint+"?"+q, nil)
	req.Header.Set("X-IDENTITY-HEADER", ts.IdentityHeader())
	if resp, err := http.DefaultClient.Do(req); err == nil {
		resp.Body.Close()
		t.Fatalf("the endpoint answered %d while down", resp.StatusCode)
	}
	if n := ts.Calls(fakekv.RouteToken); n < 6 {
		t.Errorf("token calls = %d", n)
	}
	if r := ts.IdentityRequests(); len(r) != 4 || r[0].OK || !r[2].OK {
		t.Errorf("IdentityRequests = %+v", r)
	}
}

func TestSeed(t *testing.T) {
	seed, err := fakekv.ReadSeed(strings.NewReader(`{"secrets": [
		{"name": "sql-password", "value": "first", "version": "0123456789abcdef0123456789abcdef"},
		{"name": "sql-password", "value": "second", "expires": "2030-01-01T00:00:00Z", "tags": {"env": "dev"}},
		{"name": "old", "value": "x", "enabled": false},
		{"name": "locked", "value": "y", "denied": true}
	]}`))
	if err != nil {
		t.Fatal(err)
	}
	ts := fakekv.Start(t, fakekv.Options{})
	if err := ts.Apply(seed); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		path   string
		status int
		inner  string
	}{
		{"/secrets/sql-password/0123456789abcdef0123456789abcdef", 200, ""},
		{"/secrets/sql-password", 200, ""},
		{"/secrets/old", 403, "SecretDisabled"},
		{"/secrets/locked", 403, "ForbiddenByRbac"},
	} {
		resp, e := do(t, ts, http.MethodGet, tc.path+"?api-version=7.5", "")
		inner := ""
		if e.Error.InnerError != nil {
			inner = e.Error.InnerError.Code
		}
		if resp.StatusCode != tc.status || inner != tc.inner {
			t.Errorf("%s: %d %s", tc.path, resp.StatusCode, inner)
		}
	}
	if got := strings.Join(ts.Names(), ","); got != "locked,old,sql-password" {
		t.Errorf("Names = %s", got)
	}

	for _, bad := range []string{
		`{"secrets": [{"name": "x", "value": "v", "colour": "red"}]}`,
		`{"secrets": []} {}`,
		`{"secrets": [{"name": "bad name", "value": "v"}]}`,
		`{"secrets": [{"name": "x", "value": "v", "version": "v1"}]}`,
	} {
		seed, err := fakekv.ReadSeed(strings.NewReader(bad))
		if err == nil {
			err = fakekv.New(fakekv.Options{}).Apply(seed)
		}
		if err == nil {
			t.Errorf("seed %s accepted", bad)
		}
	}
}

func TestSelfSignedCert(t *testing.T) {
	certPEM, keyPEM, err := fakekv.SelfSignedCert()
	if err != nil {
		t.Fatal(err)
	}
	block, _ := pem.Decode(certPEM)
	cert, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	roots := x509.NewCertPool()
	roots.AddCert(cert)
	for _, host := range []string{"localhost", "127.0.0.1", "myvault.vault.azure.net", "kv.vault.azure.cn", "kv.vault.usgovcloudapi.net"} {
		if _, err := cert.Verify(x509.VerifyOptions{DNSName: host, Roots: roots}); err != nil {
			t.Errorf("%s: %v", host, err)
		}
	}
	if _, err := cert.Verify(x509.VerifyOptions{DNSName: "example.com", Roots: roots}); err == nil {
		t.Error("the certificate is valid for example.com")
	}
	if !strings.Contains(string(keyPEM), "PRIVATE KEY") {
		t.Error("no key")
	}
}
