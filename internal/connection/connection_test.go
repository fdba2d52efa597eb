package connection_test

import (
	"errors"
	"testing"

	"github.com/credflow/credflow/internal/access"
	"github.com/credflow/credflow/internal/audit"
	"github.com/credflow/credflow/internal/connection"
	"github.com/credflow/credflow/internal/validation"
)

func TestCreateRefusesControlCharactersInTheName(t *testing.T) {
	svc := connection.NewService(&fakeRepo{}, nil, nil, nil)
	for _, name := range []string{"esc\x1b[2J", "bell\a", "del\x7f", "c1\u009b", "nul\x00"} {
		_, err := svc.Create(t.Context(), access.Principal{Name: "mona"}, connection.CreateInput{Name: name, Credential: "c", RunnerGroup: "g"})
		ve, ok := validation.As(err)
		if !ok || len(ve.Fields) != 1 || ve.Fields[0].Field != "name" || ve.Fields[0].Message != validation.ControlRule {
			t.Errorf("Create(name %q) = %v, want the control character rule on name", name, err)
		}
	}
}

func TestRefuseIsAudited(t *testing.T) {
	refusal := errors.New("Path parameter id holds a NUL character.")
	for _, c := range []struct {
		name, id, resource string
		fail               error
	}{
		{"NUL", "a\x00b", `connection:"a\x00b"`, nil},
		{"invalid UTF-8", "a\xffb", `connection:"a\xffb"`, nil},
		{"record fails", "x", `connection:"x"`, errors.New("disk full")},
	} {
		t.Run(c.name, func(t *testing.T) {
			repo := &fakeRepo{fail: c.fail}
			svc := connection.NewService(repo, nil, nil, nil)
			err := svc.Refuse(t.Context(), access.Principal{ID: "u1", Name: "build-01"}, c.id, refusal)
			if c.fail != nil {
				if !errors.Is(err, c.fail) {
					t.Fatalf("Refuse = %v, want the recording failure", err)
				}
				return
			}
			if err != refusal {
				t.Fatalf("Refuse = %v, want the refusal", err)
			}
			if len(repo.records) != 1 {
				t.Fatalf("%d records, want 1", len(repo.records))
			}
			r := repo.records[0]
			if r.ConnectionID != "" || r.RunnerID != "u1" || r.Audit.Actor != "build-01" || r.Audit.Action != "connection.resolve" ||
				r.Audit.Resource != c.resource || r.Audit.Outcome != audit.Denied || r.Audit.Reason != "malformed request: "+refusal.Error() {
				t.Errorf("recorded %+v", r)
			}
		})
	}
}
