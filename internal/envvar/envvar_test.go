package envvar_test

import (
	"testing"

	"github.com/credflow/credflow/internal/access"
	"github.com/credflow/credflow/internal/envvar"
	"github.com/credflow/credflow/internal/validation"
)

func TestCreateRefusesControlCharacters(t *testing.T) {
	svc := envvar.NewService(nil, nil, nil, "cf")
	value := "v"
	for _, c := range []struct {
		label, field string
		in           envvar.CreateInput
	}{
		{"ESC in display name", "displayName", envvar.CreateInput{SchemaName: "cf_A", DisplayName: "A\x1b]0;x\a", Type: envvar.TypeText, Value: &value}},
		{"DEL in display name", "displayName", envvar.CreateInput{SchemaName: "cf_A", DisplayName: "A\x7f", Type: envvar.TypeText, Value: &value}},
		{"CR in description", "description", envvar.CreateInput{SchemaName: "cf_A", DisplayName: "A", Description: "x\ry", Type: envvar.TypeText, Value: &value}},
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
