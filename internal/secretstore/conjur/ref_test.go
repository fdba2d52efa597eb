package conjur_test

import (
	"errors"
	"testing"

	"github.com/credflow/credflow/internal/secretstore"
	"github.com/credflow/credflow/internal/secretstore/conjur"
)

func TestParseRef(t *testing.T) {
	for _, tc := range []struct {
		raw  string
		want secretstore.Ref
	}{
		{"app/db/password", secretstore.Ref{Name: "app/db/password"}},
		{"app/db/password#3", secretstore.Ref{Name: "app/db/password", Version: "3"}},
		{"payroll db/admin password", secretstore.Ref{Name: "payroll db/admin password"}},
		{"odd#name#12", secretstore.Ref{Name: "odd#name", Version: "12"}},
		{"prod:aws:key", secretstore.Ref{Name: "prod:aws:key"}},
	} {
		got, err := conjur.ParseRef(tc.raw)
		if err != nil || got != tc.want {
			t.Errorf("ParseRef(%q) = %#v, %v; want %#v", tc.raw, got, err, tc.want)
		}
	}
	for _, raw := range []string{"", " ", "app/pw#", "app/pw#0", "app/pw#01", "app/pw#x", "app/pw#-1", "odd#name",
		"/app/pw", "app/pw/", "app//pw", " app/pw", "app/pw ", "app\npw", "app\tpw", "#3"} {
		if _, err := conjur.ParseRef(raw); !errors.Is(err, secretstore.ErrInvalidRef) {
			t.Errorf("ParseRef(%q): %v, want ErrInvalidRef", raw, err)
		}
	}
}
