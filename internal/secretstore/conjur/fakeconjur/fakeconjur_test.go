package fakeconjur_test

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/credflow/credflow/internal/secretstore/conjur/fakeconjur"
)

// client trusts the fake's CA, as a store with caFile does.
func client(t *testing.T, ts *fakeconjur.TestServer) *http.Client {
	t.Helper()
	pem, err := os.ReadFile(ts.CAFile)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(pem)
	return &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
}

func send(t *testing.T, c *http.Client, method, url, auth, body string) (int, string) {
	t.Helper()
	req, _ := http.NewRequest(method, url, strings.NewReader(body))
	if auth != "" {
		req.Header.Set("Authorization", auth)
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// TestWire speaks to the fake as the documented API is spoken, without
// credflow's client.
func TestWire(t *testing.T) {
	ts := fakeconjur.Start(t, fakeconjur.Options{Account: "acme", TokenTTL: 90 * time.Second})
	c := client(t, ts)
	key := ts.AddHost("host/ci/robot")
	authn := ts.URL + "/authn/acme/host%2Fci%2Frobot/authenticate"

	if code, body := send(t, c, "POST", authn, "", "wrong"); code != 401 || body != "" {
		t.Fatalf("wrong key: %d %q, want 401 with no body", code, body)
	}
	if code, _ := send(t, c, "POST", ts.URL+"/authn/other/host%2Fci%2Frobot/authenticate", "", key); code != 401 {
		t.Fatalf("other account: %d, want 401", code)
	}
	code, raw := send(t, c, "POST", authn, "", key)
	var tok struct{ Protected, Payload, Signature string }
	if code != 200 || json.Unmarshal([]byte(raw), &tok) != nil || tok.Protected == "" || tok.Signature == "" {
		t.Fatalf("authenticate: %d %s", code, raw)
	}
	p, _ := base64.RawURLEncoding.DecodeString(tok.Payload)
	var claims struct {
		Sub      string
		IAT, EXP int64
	}
	if json.Unmarshal(p, &claims) != nil || claims.Sub != "host/ci/robot" || claims.EXP-claims.IAT != 90 {
		t.Fatalf("claims %s", p)
	}
	auth := `Token token="` + base64.StdEncoding.EncodeToString([]byte(raw)) + `"`

	v1 := ts.Set("ci/db pass", "one")
	ts.Set("ci/db pass", "two")
	for _, tc := range []struct {
		name, path, auth string
		code             int
		body             string
	}{
		{"latest, id escaped whole", "/secrets/acme/variable/ci%2Fdb%20pass", auth, 200, "two"},
		{"id with literal slashes", "/secrets/acme/variable/ci/db%20pass", auth, 200, "two"},
		{"pinned", "/secrets/acme/variable/ci%2Fdb%20pass?version=" + v1, auth, 200, "one"},
		{"no such version", "/secrets/acme/variable/ci%2Fdb%20pass?version=9", auth, 404, `"code":"not_found"`},
		{"missing", "/secrets/acme/variable/ci%2Fnope", auth, 404, "CONJ00076E Variable acme:variable:ci/nope is empty or not found."},
		{"no token", "/secrets/acme/variable/ci%2Fdb%20pass", "", 401, ""},
		{"forged token", "/secrets/acme/variable/ci%2Fdb%20pass", `Token token="` + base64.StdEncoding.EncodeToString([]byte(`{"protected":"a","payload":"b","signature":"c"}`)) + `"`, 401, ""},
		{"resource", "/resources/acme/variable/ci%2Fdb%20pass", auth, 200, `"secrets":[{"version":1,"expires_at":null},{"version":2,"expires_at":null}]`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, body := send(t, c, "GET", ts.URL+tc.path, tc.auth, "")
			if code != tc.code || !strings.Contains(body, tc.body) || (tc.body == "" && body != "") {
				t.Fatalf("%d %q, want %d with %q", code, body, tc.code, tc.body)
			}
		})
	}

	ts.Deny("ci/db pass")
	if code, body := send(t, c, "GET", ts.URL+"/secrets/acme/variable/ci%2Fdb%20pass", auth, ""); code != 403 || body != "" {
		t.Fatalf("denied: %d %q, want 403 with no body", code, body)
	}
	if code, _ := send(t, c, "GET", ts.URL+"/resources/acme/variable/ci%2Fdb%20pass", auth, ""); code != 200 {
		t.Fatalf("a denied variable is still visible: %d", code)
	}
	ts.Hide("ci/db pass")
	if code, body := send(t, c, "GET", ts.URL+"/secrets/acme/variable/ci%2Fdb%20pass", auth, ""); code != 404 || !strings.Contains(body, "not_found") {
		t.Fatalf("hidden: %d %q, want 404 as for a missing variable", code, body)
	}

	ts.ExpireTokens()
	if code, _ := send(t, c, "GET", ts.URL+"/resources/acme/variable/ci%2Fdb%20pass", auth, ""); code != 401 {
		t.Fatalf("expired token: %d, want 401", code)
	}
	if n := ts.Calls(fakeconjur.RouteAuthn); n != 3 {
		t.Errorf("authn calls = %d, want 3", n)
	}

	// Conjur keeps the last 20 versions.
	for i := range 25 {
		ts.Set("ci/many", strings.Repeat("x", i+1))
	}
	auth2 := func() string {
		_, raw := send(t, c, "POST", authn, "", key)
		return `Token token="` + base64.StdEncoding.EncodeToString([]byte(raw)) + `"`
	}()
	if code, _ := send(t, c, "GET", ts.URL+"/secrets/acme/variable/ci%2Fmany?version=5", auth2, ""); code != 404 {
		t.Errorf("version 5 of 25: %d, want 404 (trimmed)", code)
	}
	if code, body := send(t, c, "GET", ts.URL+"/secrets/acme/variable/ci%2Fmany?version=6", auth2, ""); code != 200 || len(body) != 6 {
		t.Errorf("version 6 of 25: %d %q", code, body)
	}
}
