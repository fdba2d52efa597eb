package credential_test

import (
	"testing"

	"github.com/credflow/credflow/internal/access"
	"github.com/credflow/credflow/internal/credential"
	"github.com/credflow/credflow/internal/validation"
)

func TestCreateRefusesControlCharacters(t *testing.T) {
	svc := credential.NewService(nil, nil, nil)
	for _, c := range []struct {
		label, field string
		in           credential.CreateInput
	}{
		{"ESC in name", "name", credential.CreateInput{Name: "red\x1b[31m", Username: "u", Password: "p"}},
		{"C1 in name", "name", credential.CreateInput{Name: "csi\u009b", Username: "u", Password: "p"}},
		{"BEL in description", "description", credential.CreateInput{Name: "ok", Description: "ring\a", Username: "u", Password: "p"}},
	} {
		t.Run(c.label, func(t *testing.T) {
			_, err := svc.Create(t.Context(), access.Principal{Name: "mona"}, c.in)
			ve, ok := validation.As(err)
			if !ok || len(ve.Fields) != 1 || ve.Fields[0].Field != c.field || ve.Fields[0].Message != validation.ControlRule {
				t.Errorf("Create = %v, want the control character rule on %s", err, c.field)
			}
		})
	}
}
