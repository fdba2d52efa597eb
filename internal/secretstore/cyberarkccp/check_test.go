package cyberarkccp_test

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/credflow/credflow/internal/secretstore"
	"github.com/credflow/credflow/internal/secretstore/cyberarkccp"
	"github.com/credflow/credflow/internal/secretstore/cyberarkccp/fakeccp"
)

func step(r secretstore.Report, name string) (secretstore.Step, bool) {
	for _, s := range r.Steps {
		if s.Name == name {
			return s, true
		}
	}
	return secretstore.Step{}, false
}

func TestCheck(t *testing.T) {
	const canary = "check-canary-91"
	other := fakeccp.Start(t, fakeccp.Options{})
	for _, tc := range []struct {
		name    string
		edit    func(*cyberarkccp.Settings, *fakeccp.TestServer)
		fault   func(*fakeccp.TestServer)
		secret  string
		failing string // the first failing step, "" when all pass
		says    string
	}{
		{"all good", nil, nil, "robot", "", ""},
		{"missing account", nil, nil, "nope", cyberarkccp.StepRead, "APPAP004E"},
		{"missing key file", func(s *cyberarkccp.Settings, _ *fakeccp.TestServer) {
			s.ClientKeyFile = filepath.Join(t.TempDir(), "k.pem")
		},
			nil, "robot", cyberarkccp.StepFiles, "k.pem"},
		{"untrusted server", func(s *cyberarkccp.Settings, _ *fakeccp.TestServer) { s.CAFile = other.CAFile }, nil, "robot", cyberarkccp.StepConnect, "not trusted"},
		{"untrusted client", func(s *cyberarkccp.Settings, ts *fakeccp.TestServer) {
			s.ClientCertFile, s.ClientKeyFile = ts.UntrustedCertFile, ts.UntrustedKeyFile
		}, nil, "robot", cyberarkccp.StepAuthenticate, "client certificate"},
		{"application refused", nil, func(ts *fakeccp.TestServer) { ts.FailAuthentication(true) }, "robot", cyberarkccp.StepAuthenticate, "APPAP306E"},
		{"unknown application", func(s *cyberarkccp.Settings, _ *fakeccp.TestServer) { s.AppID = "nobody" }, nil, "", cyberarkccp.StepAuthenticate, "APPAP008E"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t, func(s *cyberarkccp.Settings) {
				if tc.edit != nil {
					// Another fake's CA and untrusted key pair are as
					// foreign to the fixture's fake as to their own.
					tc.edit(s, other)
				}
			})
			f.ccp.Set(defaultSafe, "", "robot", canary, nil)
			if tc.fault != nil {
				tc.fault(f.ccp)
			}
			r := f.store.Check(t.Context(), tc.secret)
			for _, s := range r.Steps {
				if strings.Contains(s.Detail+s.Hint, canary) {
					t.Fatalf("step %s shows the password", s.Name)
				}
			}
			if tc.failing == "" {
				if !r.OK {
					t.Fatalf("report %+v", r)
				}
				return
			}
			var first secretstore.Step
			for _, s := range r.Steps {
				if !s.OK {
					first = s
					break
				}
			}
			if r.OK || first.Name != tc.failing || !strings.Contains(first.Detail+" "+first.Hint, tc.says) || first.Hint == "" {
				t.Fatalf("first failing step %+v, want %s saying %q; report %+v", first, tc.failing, tc.says, r)
			}
			if tc.secret != "" && tc.failing != cyberarkccp.StepRead {
				if rd, ok := step(r, cyberarkccp.StepRead); !ok || !strings.Contains(rd.Detail, "not tried") {
					t.Errorf("read step after a failure: %+v", rd)
				}
			}
		})
	}
}
