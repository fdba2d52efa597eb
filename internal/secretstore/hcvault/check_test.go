package hcvault_test

import (
	"context"
	"errors"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/credflow/credflow/internal/secretstore"
	"github.com/credflow/credflow/internal/secretstore/budget"
	"github.com/credflow/credflow/internal/secretstore/hcvault"
	"github.com/credflow/credflow/internal/secretstore/hcvault/fakevault"
)

func stepNamed(r secretstore.Report, name string) *secretstore.Step {
	for i := range r.Steps {
		if r.Steps[i].Name == name {
			return &r.Steps[i]
		}
	}
	return nil
}

func TestCheck(t *testing.T) {
	t.Run("all steps pass", func(t *testing.T) {
		f := newFixture(t, tokenAuth, fakevault.Options{}, fakevault.TokenSpec{TTL: time.Hour, Renewable: true, DisplayName: "credflow", Policies: []string{"credflow"}}, nil)
		f.vault.Put("app/db", map[string]string{"password": "check-canary-1"})
		r := f.store.Check(t.Context(), "app/db")
		if !r.OK || len(r.Steps) != 3 {
			t.Fatalf("report %+v", r)
		}
		if d := stepNamed(r, hcvault.StepAuth).Detail; !strings.Contains(d, `"token-credflow"`) || !strings.Contains(d, "policies credflow") || !strings.Contains(d, "renewable") {
			t.Errorf("authenticate: %q", d)
		}
		if d := stepNamed(r, hcvault.StepRead).Detail; d != "read app/db#password (version 1)" {
			t.Errorf("read: %q", d)
		}
		if strings.Contains(strings.Join([]string{r.Steps[0].Detail, r.Steps[1].Detail, r.Steps[2].Detail}, " "), "check-canary-1") {
			t.Error("the report shows the value")
		}
	})
	t.Run("without a secret", func(t *testing.T) {
		f := newFixture(t, appRoleAuth, fakevault.Options{}, fakevault.TokenSpec{}, nil)
		if r := f.store.Check(t.Context(), ""); !r.OK || len(r.Steps) != 2 {
			t.Fatalf("report %+v", r)
		}
	})
	t.Run("unreachable", func(t *testing.T) {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		addr := l.Addr().String()
		l.Close()
		f := newFixture(t, tokenAuth, fakevault.Options{}, fakevault.TokenSpec{}, func(s *hcvault.Settings) { s.Address = "https://" + addr })
		r := f.store.Check(t.Context(), "app/db")
		reach := stepNamed(r, hcvault.StepReach)
		if r.OK || reach == nil || reach.OK || !strings.Contains(reach.Detail, "refused") || reach.Hint == "" {
			t.Fatalf("report %+v", r)
		}
		if a, rd := stepNamed(r, hcvault.StepAuth), stepNamed(r, hcvault.StepRead); a == nil || a.OK || rd == nil || !strings.Contains(rd.Detail, "not tried") {
			t.Fatalf("later steps %+v", r)
		}
	})
	t.Run("sealed", func(t *testing.T) {
		f := newFixture(t, tokenAuth, fakevault.Options{}, fakevault.TokenSpec{}, nil)
		f.vault.Seal(true)
		r := f.store.Check(t.Context(), "")
		if reach := stepNamed(r, hcvault.StepReach); r.OK || reach == nil || !strings.Contains(reach.Detail, "sealed") || !strings.Contains(reach.Hint, "unseal") {
			t.Fatalf("report %+v", r)
		}
	})
	t.Run("missing CA file", func(t *testing.T) {
		f := newFixture(t, tokenAuth, fakevault.Options{}, fakevault.TokenSpec{}, func(s *hcvault.Settings) { s.CAFile = "/nonexistent/ca.pem" })
		r := f.store.Check(t.Context(), "")
		if reach := stepNamed(r, hcvault.StepReach); r.OK || reach == nil || !strings.Contains(reach.Detail, "/nonexistent/ca.pem") {
			t.Fatalf("report %+v", r)
		}
	})
	t.Run("token variable unset", func(t *testing.T) {
		f := newFixture(t, tokenAuth, fakevault.Options{}, fakevault.TokenSpec{}, func(s *hcvault.Settings) {
			s.Auth = hcvault.Auth{Kind: hcvault.AuthToken, TokenEnv: "CREDFLOW_TEST_NO_SUCH_VARIABLE"}
		})
		r := f.store.Check(t.Context(), "app/db")
		if a := stepNamed(r, hcvault.StepAuth); r.OK || a == nil || !strings.Contains(a.Detail, "CREDFLOW_TEST_NO_SUCH_VARIABLE") || a.Hint == "" {
			t.Fatalf("report %+v", r)
		}
	})
	t.Run("denied secret", func(t *testing.T) {
		f := newFixture(t, appRoleAuth, fakevault.Options{}, fakevault.TokenSpec{}, nil)
		f.vault.Put("app/db", map[string]string{"password": "x"})
		f.vault.Deny("app/db")
		r := f.store.Check(t.Context(), "app/db")
		rd := stepNamed(r, hcvault.StepRead)
		if r.OK || rd == nil || !rd.Secret || !strings.Contains(rd.Detail, "access denied") || !strings.Contains(rd.Hint, "capabilities") {
			t.Fatalf("report %+v", r)
		}
	})
}

func TestTokenFromEnvironment(t *testing.T) {
	v := fakevault.Start(t, fakevault.Options{})
	tok := v.CreateToken(fakevault.TokenSpec{})
	v.Put("app/db", map[string]string{"password": "p"})
	st, err := hcvault.New(hcvault.Settings{Address: v.URL, CAFile: v.CAFile, Auth: hcvault.Auth{Kind: hcvault.AuthToken, TokenEnv: "CREDFLOW_VAULT_TOKEN"}},
		hcvault.Options{LookupEnv: func(name string) (string, bool) { return tok, name == "CREDFLOW_VAULT_TOKEN" }})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := st.Get(t.Context(), secretstore.Ref{Name: "app/db"}); err != nil {
		t.Fatal(err)
	}
}

func TestReadBudget(t *testing.T) {
	f := newFixture(t, tokenAuth, fakevault.Options{}, fakevault.TokenSpec{}, nil)
	st, err := hcvault.New(f.store.Settings(), hcvault.Options{Budget: &budget.Budget{Reads: 2, Per: time.Minute}})
	if err != nil {
		t.Fatal(err)
	}
	f.vault.Put("app/db", map[string]string{"password": "p"})
	for range 2 {
		if _, err := st.Get(t.Context(), secretstore.Ref{Name: "app/db"}); err != nil {
			t.Fatal(err)
		}
	}
	ctx, cancel := context.WithTimeout(t.Context(), time.Second)
	defer cancel()
	_, err = st.Get(ctx, secretstore.Ref{Name: "app/db"})
	var te *secretstore.ThrottledError
	if !errors.As(err, &te) || te.RetryAfter < 20*time.Second {
		t.Fatalf("third read within the budget's window: %v", err)
	}
	if n := f.vault.Calls(fakevault.Read); n != 2 {
		t.Fatalf("%d reads reached the server, want 2", n)
	}
}
