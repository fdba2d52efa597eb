package solution

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/credflow/credflow/internal/access"
	"github.com/credflow/credflow/internal/credential"
	"github.com/credflow/credflow/internal/envvar"
	"github.com/credflow/credflow/internal/solution/pkgzip"
)

var (
	admin = access.Principal{ID: "u-admin", Name: "admin", Role: access.RoleAdmin}
	maker = access.Principal{ID: "u-mia", Name: "mia", Role: access.RoleMaker}
	other = access.Principal{ID: "u-oscar", Name: "oscar", Role: access.RoleMaker}
)

func TestParseVersion(t *testing.T) {
	for _, c := range []struct {
		in string
		ok bool
	}{{"1.0.0.0", true}, {"10.20.30.40", true}, {"1.0.0", false}, {"1.0.0.0.0", false}, {"1.a.0.0", false},
		{"01.0.0.0", false}, {"-1.0.0.0", false}, {"", false}, {"1.0.0.99999999999", false}} {
		t.Run(c.in, func(t *testing.T) {
			v, err := ParseVersion(c.in)
			if (err == nil) != c.ok {
				t.Fatalf("ParseVersion(%q) = %v, %v", c.in, v, err)
			}
			if c.ok && v.String() != c.in {
				t.Errorf("String() = %q", v)
			}
		})
	}
	lo, _ := ParseVersion("1.2.3.4")
	hi, _ := ParseVersion("1.10.0.0")
	if lo.Compare(hi) != -1 || hi.Compare(lo) != 1 || lo.Compare(lo) != 0 {
		t.Error("versions compare as text, not as numbers")
	}
}

// source builds a world with a credential over a text user and a secret
// password in store local, in solution Reporting, and returns its package.
func source(t *testing.T) (*world, []byte) {
	t.Helper()
	w := newWorld()
	value := "svc_dev"
	w.vars["cf_sqluser"] = envvar.Variable{ID: "v-user", SchemaName: "cf_SQLUser", DisplayName: "SQL User", Type: envvar.TypeText, Value: value, OwnerID: admin.ID}
	w.vars["cf_sqlpassword"] = envvar.Variable{ID: "v-pass", SchemaName: "cf_SQLPassword", DisplayName: "SQL Password", Type: envvar.TypeSecret,
		Secret: &envvar.SecretRef{Store: "local", Ref: "sql-pass"}, OwnerID: admin.ID}
	w.creds["sql reporting"] = credential.Credential{ID: "c-sql", Name: "SQL reporting", UsernameVarID: "v-user", PasswordVarID: "v-pass",
		Username: "cf_SQLUser", Password: "cf_SQLPassword", OwnerID: admin.ID}
	s := w.service()
	ctx := context.Background()
	if _, err := s.Create(ctx, admin, CreateInput{Name: "Reporting", Version: "1.0.0.0", Publisher: "cf"}); err != nil {
		t.Fatal(err)
	}
	sol, err := s.Add(ctx, admin, "Reporting", KindCredential, "SQL reporting")
	if err != nil {
		t.Fatal(err)
	}
	if len(sol.Components) != 3 {
		t.Fatalf("the credential did not bring its variables: %+v", sol.Components)
	}
	_, pkg, err := s.Export(ctx, admin, "Reporting", ExportOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return w, pkg
}

func TestExportIsDeterministicAndHoldsNoValue(t *testing.T) {
	w, first := source(t)
	_, again, err := w.service().Export(context.Background(), admin, "Reporting", ExportOptions{})
	if err != nil || !bytes.Equal(first, again) {
		t.Fatalf("two exports differ (%v)", err)
	}
	files, err := pkgzip.Read(first)
	if err != nil {
		t.Fatal(err)
	}
	m := string(files[ManifestName])
	if strings.Index(m, "cf_SQLPassword") > strings.Index(m, "SQL reporting") {
		t.Errorf("credential before its variables:\n%s", m)
	}
	_, bare, _ := w.service().Export(context.Background(), admin, "Reporting", ExportOptions{WithoutValues: true})
	files, _ = pkgzip.Read(bare)
	for name, f := range files {
		if bytes.Contains(f, []byte("svc_dev")) {
			t.Errorf("WithoutValues left a text value in %s", name)
		}
	}
}

func TestImport(t *testing.T) {
	_, pkg := source(t)
	ctx := context.Background()
	cases := []struct {
		name     string
		as       access.Principal
		setUp    func(w *world)
		opts     ImportOptions
		wantErr  func(t *testing.T, err error)
		pending  int
		unchange bool
	}{
		{name: "into an empty instance", as: admin},
		{name: "a maker with the grant", as: maker, setUp: func(w *world) { w.granted["mia/local"] = true }},
		{name: "a maker without the grant", as: maker, wantErr: wantProblems("variable cf_SQLPassword")},
		{name: "without the grant, deferred: authorization is never deferred", as: maker, opts: ImportOptions{DeferValidation: true},
			wantErr: wantProblems("variable cf_SQLPassword")},
		{name: "a store that cannot be read now", as: admin, setUp: func(w *world) { w.down["local"] = true },
			wantErr: wantProblems("variable cf_SQLPassword")},
		{name: "deferred", as: admin, setUp: func(w *world) { w.down["local"] = true }, opts: ImportOptions{DeferValidation: true}, pending: 1},
		{name: "every problem at once", as: maker,
			setUp: func(w *world) {
				w.vars["cf_sqluser"] = envvar.Variable{ID: "x", SchemaName: "cf_SQLUser", Type: envvar.TypeText, OwnerID: other.ID}
			},
			opts: ImportOptions{Settings: &Settings{Solution: "Other", Variables: map[string]VariableSettings{
				"cf_SQLPassword": {SecretRef: &RefFile{Store: "prod-kv", Ref: "sql"}}, "cf_Ghost": {Value: ptr("x")}}}},
			wantErr: wantProblems("settings", "settings", "variable cf_SQLPassword", "variable cf_SQLUser")},
		{name: "a secret value in the settings", as: admin,
			opts:    ImportOptions{Settings: &Settings{Variables: map[string]VariableSettings{"cf_SQLPassword": {Value: ptr("hunter2")}}}},
			wantErr: wantProblems("variable cf_SQLPassword")},
		{name: "settings switch the store", as: admin, setUp: func(w *world) { w.stores["prod-kv"] = true },
			opts: ImportOptions{Settings: &Settings{Variables: map[string]VariableSettings{"cf_SQLPassword": {SecretRef: &RefFile{Store: "prod-kv", Ref: "sql"}}}}}},
		{name: "a solution of that name owned by someone else", as: maker, setUp: func(w *world) {
			w.granted["mia/local"] = true
			w.sols["s"] = Solution{ID: "s", Name: "Reporting", Version: Version{0, 9, 0, 0}, OwnerID: other.ID}
		}, wantErr: wantProblems("solution")},
		{name: "a lower version than the installed one", as: admin, setUp: func(w *world) {
			w.sols["s"] = Solution{ID: "s", Name: "Reporting", Version: Version{2, 0, 0, 0}, OwnerID: admin.ID}
		}, wantErr: func(t *testing.T, err error) {
			if !errors.Is(err, ErrDowngrade) {
				t.Fatalf("err %v, want ErrDowngrade", err)
			}
		}},
		{name: "a lower version, allowed", as: admin, opts: ImportOptions{AllowDowngrade: true}, setUp: func(w *world) {
			w.sols["s"] = Solution{ID: "s", Name: "Reporting", Version: Version{2, 0, 0, 0}, OwnerID: admin.ID}
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			w := newWorld()
			if c.setUp != nil {
				c.setUp(w)
			}
			before := len(w.vars)
			res, err := w.service().Import(ctx, c.as, pkg, c.opts)
			if c.wantErr != nil {
				c.wantErr(t, err)
				if w.applied != 0 || len(w.vars) != before {
					t.Errorf("a refused import wrote something")
				}
				return
			}
			if err != nil {
				t.Fatalf("import: %v", err)
			}
			if len(res.Created) != 3 || len(res.Pending) != c.pending || w.applied != 1 {
				t.Fatalf("result %+v, %d transactions", res, w.applied)
			}
			for _, v := range w.vars {
				if v.OwnerID != c.as.ID {
					t.Errorf("%s is owned by %s, not the importer", v.SchemaName, v.OwnerID)
				}
			}
			again, err := w.service().Import(ctx, c.as, pkg, c.opts)
			if err != nil || !again.Unchanged || w.applied != 1 {
				t.Errorf("the same import twice: %+v, %v, %d transactions", again, err, w.applied)
			}
		})
	}
}

// wantProblems wants an *ImportError whose problems concern exactly these
// components, in this order.
func wantProblems(components ...string) func(t *testing.T, err error) {
	return func(t *testing.T, err error) {
		t.Helper()
		var ie *ImportError
		if !errors.As(err, &ie) {
			t.Fatalf("err %v, want an *ImportError", err)
		}
		var got []string
		for _, p := range ie.Problems {
			got = append(got, p.Component)
		}
		if strings.Join(got, "|") != strings.Join(components, "|") {
			t.Fatalf("problems concern %q, want %q (%v)", got, components, err)
		}
	}
}

func ptr(s string) *string { return &s }

func TestRequiredComponentsAcrossSolutions(t *testing.T) {
	src, _ := source(t)
	s := src.service()
	ctx := context.Background()
	src.vars["cf_flow"] = envvar.Variable{ID: "v-flow", SchemaName: "cf_Flow", Type: envvar.TypeText, Value: "nightly", OwnerID: admin.ID}
	if _, err := s.Create(ctx, admin, CreateInput{Name: "Flows", Version: "1.0.0.0", Publisher: "cf"}); err != nil {
		t.Fatal(err)
	}
	s.Add(ctx, admin, "Flows", KindVariable, "cf_Flow")
	sol, err := s.Add(ctx, admin, "Flows", KindCredential, "SQL reporting")
	if err != nil {
		t.Fatal(err)
	}
	required := 0
	for _, c := range sol.Components {
		if c.Required {
			required++
		}
	}
	if required != 3 {
		t.Fatalf("the credential and its variables live in Reporting and should be required: %+v", sol.Components)
	}
	_, flows, err := s.Export(ctx, admin, "Flows", ExportOptions{})
	if err != nil {
		t.Fatal(err)
	}
	empty := newWorld()
	_, err = empty.service().Import(ctx, admin, flows, ImportOptions{})
	wantProblems("variable cf_SQLPassword", "variable cf_SQLUser", "credential SQL reporting")(t, err)
	var ie *ImportError
	errors.As(err, &ie)
	for _, p := range ie.Problems {
		if !errors.Is(p.Err, ErrMissingDependency) {
			t.Errorf("%s: %v is not a missing dependency", p.Component, p.Err)
		}
	}

	if _, err := s.Remove(ctx, admin, "Reporting", KindVariable, "cf_SQLUser"); !errors.Is(err, ErrRequired) {
		t.Errorf("removing a credential's variable: %v", err)
	}
}
