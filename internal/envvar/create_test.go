package envvar_test

import (
	"reflect"
	"testing"

	"github.com/credflow/credflow/internal/access"
	"github.com/credflow/credflow/internal/envvar"
)

// TestCreateAnswersTheStoredVariable: a text variable's create answers
// what the repository holds without reading it back; a failed create
// answers nothing.
func TestCreateAnswersTheStoredVariable(t *testing.T) {
	value := "v"
	cases := []struct {
		name     string
		taken    string // a variable that exists before
		in       envvar.CreateInput
		wantName string // "" when the create must fail
	}{
		{"given name", "", envvar.CreateInput{SchemaName: "cf_Given", DisplayName: "Given", Type: envvar.TypeText, Value: &value}, "cf_Given"},
		{"generated name", "", envvar.CreateInput{DisplayName: "Sign In", Type: envvar.TypeText, Value: &value}, "cf_SignIn"},
		{"generated name, the first taken", "cf_SignIn", envvar.CreateInput{DisplayName: "Sign In", Type: envvar.TypeText, Value: &value}, "cf_SignIn2"},
		{"given name taken", "CF_GIVEN", envvar.CreateInput{SchemaName: "cf_Given", DisplayName: "Given", Type: envvar.TypeText, Value: &value}, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			repo := &memRepo{vars: map[string]envvar.Variable{}, owner: "mona"}
			svc := envvar.NewService(repo, nil, nil, "cf")
			mona := access.Principal{ID: "u-mona", Name: "mona", Role: access.RoleMaker}
			if tc.taken != "" {
				if _, err := svc.Create(t.Context(), mona, envvar.CreateInput{SchemaName: tc.taken, DisplayName: "t", Type: envvar.TypeText, Value: &value}); err != nil {
					t.Fatal(err)
				}
			}
			reads := repo.reads
			got, err := svc.Create(t.Context(), mona, tc.in)
			if tc.wantName == "" {
				if err == nil {
					t.Fatalf("Create = %+v, want an error", got)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got.SchemaName != tc.wantName {
				t.Errorf("schema name %q, want %q", got.SchemaName, tc.wantName)
			}
			if repo.reads != reads {
				t.Errorf("the create read the variable back %d times", repo.reads-reads)
			}
			stored, err := repo.Get(t.Context(), got.ID)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, stored) {
				t.Errorf("create answered %+v, the repository holds %+v", got, stored)
			}
		})
	}
}
