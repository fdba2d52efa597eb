package config

import (
	"strings"
	"testing"
)

func TestAddrTakesHostPortOrURL(t *testing.T) {
	cases := []struct {
		addr, tls string
		listen    string // "" when Validate must refuse
		wantErr   string
	}{
		{addr: "127.0.0.1:8080", listen: "127.0.0.1:8080"},
		{addr: "localhost:9000", listen: "localhost:9000"},
		{addr: "http://127.0.0.1:8080", listen: "127.0.0.1:8080"},
		{addr: "http://127.0.0.1:8080/", listen: "127.0.0.1:8080"},
		{addr: "http://localhost", listen: "localhost:80"},
		{addr: "https://127.0.0.1:8443", tls: "yes", listen: "127.0.0.1:8443"},
		{addr: "https://[::1]", tls: "yes", listen: "[::1]:443"},
		{addr: "8080", wantErr: "want host:port or http(s)://host:port"},
		{addr: "ftp://127.0.0.1:21", wantErr: "want host:port or http(s)://host:port"},
		{addr: "http://127.0.0.1:8080/api", wantErr: "want host:port or http(s)://host:port"},
		{addr: "http://user:pw@127.0.0.1:8080", wantErr: "want host:port or http(s)://host:port"},
		{addr: "https://127.0.0.1:8443", wantErr: "an https address needs tls-cert-file"},
		{addr: "http://127.0.0.1:8080", tls: "yes", wantErr: "use https:// or host:port"},
	}
	for _, c := range cases {
		t.Run(c.addr+" tls="+c.tls, func(t *testing.T) {
			cfg := Defaults()
			cfg.Addr = c.addr
			if c.tls != "" {
				cfg.TLSCertFile, cfg.TLSKeyFile = "cert.pem", "key.pem"
			}
			err := cfg.Validate()
			if c.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), c.wantErr) {
					t.Fatalf("Validate() = %v, want an error containing %q", err, c.wantErr)
				}
				if strings.Contains(err.Error(), "pw@") {
					t.Errorf("the error repeats the address's password: %v", err)
				}
				return
			}
			if err != nil {
				t.Fatalf("Validate() = %v", err)
			}
			if got := cfg.ListenAddr(); got != c.listen {
				t.Errorf("ListenAddr() = %q, want %q", got, c.listen)
			}
		})
	}
}

func TestEventGridEntraNeedsBoth(t *testing.T) {
	for _, c := range []struct {
		issuer, audience string
		ok               bool
	}{
		{"", "", true},
		{"https://login.microsoftonline.com/tenant/v2.0", "api://credflow-events", true},
		{"https://login.microsoftonline.com/tenant/v2.0", "", false},
		{"", "api://credflow-events", false},
	} {
		cfg := Defaults()
		cfg.EventGridEntraIssuer, cfg.EventGridEntraAudience = c.issuer, c.audience
		err := cfg.Validate()
		if (err == nil) != c.ok || (err != nil && !strings.Contains(err.Error(), "eventgrid-entra-issuer and eventgrid-entra-audience")) {
			t.Errorf("issuer %q audience %q: %v", c.issuer, c.audience, err)
		}
	}
}
