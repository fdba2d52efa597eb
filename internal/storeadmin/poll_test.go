package storeadmin_test

import (
	"errors"
	"testing"
	"time"

	"github.com/credflow/credflow/internal/access"
	"github.com/credflow/credflow/internal/secretstore"
	"github.com/credflow/credflow/internal/storeadmin"
	"github.com/credflow/credflow/internal/validation"
)

func TestPollInterval(t *testing.T) {
	d := func(s string) *time.Duration {
		v, err := time.ParseDuration(s)
		if err != nil {
			t.Fatal(err)
		}
		return &v
	}
	for _, tc := range []struct {
		name    string
		in      *time.Duration
		want    time.Duration
		invalid bool
	}{
		{"default", nil, storeadmin.DefaultPollInterval, false},
		{"never", d("0s"), 0, false},
		{"shortest", d("10s"), 10 * time.Second, false},
		{"a day", d("24h"), 24 * time.Hour, false},
		{"too often", d("9s"), 0, true},
		{"negative", d("-1m"), 0, true},
		{"too rarely", d("25h"), 0, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			repo := &memRepo{stores: map[string]storeadmin.Store{"kv": {ID: "s1", Name: "kv", Kind: "fake", PollInterval: storeadmin.DefaultPollInterval}}}
			reg := secretstore.NewRegistry()
			reg.Add(secretstore.Info{ID: "s1", Name: "kv", Kind: "fake"}, &fakeStore{})
			s := storeadmin.New(repo, reg)
			admin := access.Principal{Name: "ada", Role: access.RoleAdmin}
			_, _, err := s.Update(t.Context(), admin, "kv", storeadmin.UpdateInput{PollInterval: tc.in})
			var ve *validation.Error
			if tc.invalid != errors.As(err, &ve) {
				t.Fatalf("err %v", err)
			}
			if tc.invalid {
				if got, _ := s.PollInterval(t.Context(), "kv"); got != storeadmin.DefaultPollInterval {
					t.Errorf("a refused change was kept: %v", got)
				}
				return
			}
			if got, err := s.PollInterval(t.Context(), "kv"); err != nil || got != tc.want {
				t.Errorf("PollInterval = %v, %v; want %v", got, err, tc.want)
			}
		})
	}
}
