package fakeccp_test

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"strings"
	"testing"

	"github.com/credflow/credflow/internal/secretstore/cyberarkccp/fakeccp"
)

func client(t *testing.T, ts *fakeccp.TestServer, certFile, keyFile string) *http.Client {
	t.Helper()
	pem, err := os.ReadFile(ts.CAFile)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(pem)
	cfg := &tls.Config{RootCAs: pool}
	if certFile != "" {
		c, err := tls.LoadX509KeyPair(certFile, keyFile)
		if err != nil {
			t.Fatal(err)
		}
		cfg.Certificates = []tls.Certificate{c}
	}
	return &http.Client{Transport: &http.Transport{TLSClientConfig: cfg}}
}

func get(t *testing.T, c *http.Client, url string) (int, string, string) {
	t.Helper()
	resp, err := c.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header.Get("Content-Type"), string(b)
}

func TestWire(t *testing.T) {
	ts := fakeccp.Start(t, fakeccp.Options{AppID: "app"})
	ts.Set("S", "", "o", "pw", map[string]string{"UserName": "u"})
	base := ts.URL + "/AIMWebService/api/Accounts?"
	good := client(t, ts, ts.ClientCertFile, ts.ClientKeyFile)

	for _, tc := range []struct {
		name   string
		c      *http.Client
		query  string
		status int
		want   string
	}{
		{"no certificate", client(t, ts, "", ""), "AppID=app&Safe=S&Object=o", 403, "403.7 - Client certificate required"},
		{"untrusted certificate", client(t, ts, ts.UntrustedCertFile, ts.UntrustedKeyFile), "AppID=app&Safe=S&Object=o", 403, "403.16"},
		{"password", good, "AppID=app&Safe=S&Object=o", 200, `"Content":"pw"`},
		{"query", good, "AppID=app&Query=Safe%3DS%3BUserName%3Du", 200, `"PasswordChangeInProcess":"False"`},
		{"not found", good, "AppID=app&Safe=S&Object=x", 404, `"ErrorCode":"APPAP004E"`},
		{"other folder", good, "AppID=app&Safe=S&Folder=F&Object=o", 404, `"ErrorCode":"APPAP004E"`},
		{"no AppID", good, "Safe=S&Object=o", 400, `"ErrorCode":"AIMWS031E"`},
		{"unknown AppID", good, "AppID=nobody&Safe=S&Object=o", 403, `"ErrorCode":"APPAP008E"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			status, _, body := get(t, tc.c, base+tc.query)
			if status != tc.status || !strings.Contains(body, tc.want) {
				t.Fatalf("%d %s", status, body)
			}
			if tc.status == 403 && strings.HasPrefix(tc.want, "403.") && strings.Contains(body, "Content") {
				t.Fatalf("a refused certificate reached the service")
			}
		})
	}

	ts.Set("S", "F", "o", "pw2", nil)
	status, _, body := get(t, good, base+"AppID=app&Query=Safe%3DS%3BObject%3Do")
	var e struct{ ErrorCode, ErrorMsg string }
	if json.Unmarshal([]byte(body), &e); status != 400 || e.ErrorCode != "APPAP227E" || !strings.Contains(e.ErrorMsg, " and ") {
		t.Fatalf("two matches: %d %s", status, body)
	}

	ts.Changing("S", "", "o", 1)
	if _, _, body := get(t, good, base+"AppID=app&Safe=S&Object=o"); !strings.Contains(body, `"PasswordChangeInProcess":"True"`) {
		t.Fatalf("change in progress: %s", body)
	}
	ts.Changing("S", "", "o", 1)
	if status, _, body := get(t, good, base+"AppID=app&Safe=S&Object=o&FailRequestOnPasswordChange=true"); status != 500 || !strings.Contains(body, "APPAP282E") {
		t.Fatalf("change in progress, failing: %d %s", status, body)
	}
	ts.FailAuthentication(true)
	if status, _, body := get(t, good, base+"AppID=app&Safe=S&Object=o"); status != 403 || !strings.Contains(body, "APPAP306E") {
		t.Fatalf("authentication: %d %s", status, body)
	}
	if ts.Calls() == 0 {
		t.Error("no calls counted")
	}
}
