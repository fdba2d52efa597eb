package solution

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/google/uuid"

	"github.com/credflow/credflow/internal/access"
	"github.com/credflow/credflow/internal/credential"
	"github.com/credflow/credflow/internal/envvar"
	"github.com/credflow/credflow/internal/validation"
)

// ErrMissingDependency says a package needs an object the target does not
// have (or the importer may not use).
var ErrMissingDependency = errors.New("missing dependency")

// ImportOptions tune Import.
type ImportOptions struct {
	// Settings override the package's values and references per variable.
	Settings *Settings
	// AllowDowngrade lets a lower version replace the installed one.
	AllowDowngrade bool
	// DeferValidation imports secret variables whose store cannot be read
	// now in state pending-validation (the importer's grants are checked
	// all the same).
	DeferValidation bool
}

// ImportResult says what an import did.
type ImportResult struct {
	Solution Solution
	// Unchanged is true when the target already was as the package says:
	// nothing was written.
	Unchanged bool
	// Created, Updated and Pending name objects ("variable cf_SQLUser");
	// Pending ones were imported without a read of their secret.
	Created, Updated, Pending []string
	// PreviousVersion is the version installed before, "" when none was.
	PreviousVersion string
}

// Problem is one reason an import was refused: the component it concerns
// ("variable cf_SQLUser", "credential SQL prod", "settings", "solution")
// and the error the rules gave, as they would give it to the API.
type Problem struct {
	Component string
	Err       error
}

// ImportError lists every problem an import found before it changed
// anything.
type ImportError struct {
	Solution string
	Problems []Problem
}

func (e *ImportError) Error() string {
	parts := make([]string, len(e.Problems))
	for i, p := range e.Problems {
		parts[i] = p.Component + ": " + p.Err.Error()
	}
	return fmt.Sprintf("import of solution %s refused, nothing was changed: %s", e.Solution, strings.Join(parts, "; "))
}

// Import checks a package (and its deployment settings) completely, and
// when nothing is wrong writes it in one transaction: every variable and
// credential through the rules of their services, owned by p when new,
// with no shares but p's own. Every problem found is reported at once in
// an *ImportError; a bad package is a *pkgzip.Error; an older version than
// the installed one wraps ErrDowngrade unless opts allow it.
func (s *Service) Import(ctx context.Context, p access.Principal, data []byte, opts ImportOptions) (ImportResult, error) {
	m, files, err := readPackage(data)
	if err != nil {
		return ImportResult{}, err
	}
	var ve validation.Error
	version := checkFields(&ve, "solution.json: ", m.Name, m.Description, m.Version, m.Publisher)
	if err := ve.Err(); err != nil {
		return ImportResult{}, err
	}
	var res ImportResult
	installed, err := s.repo.Get(ctx, m.Name)
	switch {
	case errors.Is(err, ErrNotFound):
		err = nil
	case err == nil:
		res.PreviousVersion = installed.Version.String()
	}
	if err != nil {
		return ImportResult{}, err
	}
	if res.PreviousVersion != "" && version.Compare(installed.Version) < 0 && !opts.AllowDowngrade {
		return ImportResult{}, fmt.Errorf("%w: the package is %s %s, %s is installed; import with the downgrade allowed to go back",
			ErrDowngrade, m.Name, version, installed.Version)
	}

	imp := &importer{s: s, p: p, reason: fmt.Sprintf("import of solution %s %s", m.Name, version)}
	if res.PreviousVersion != "" && installed.OwnerID != p.ID && !p.IsAdmin() {
		imp.problem("solution", fmt.Errorf("%w: solution %s is installed here by someone else", ErrNameTaken, m.Name))
	}
	vars, creds := imp.decode(m, files, opts.Settings)
	names := make([]string, len(vars))
	for i, in := range vars {
		names[i] = in.SchemaName
	}
	if imp.existing, err = s.repo.VariablesNamed(ctx, names); err != nil {
		return ImportResult{}, err
	}
	var comps []Component
	for _, r := range m.Requires {
		if c, ok := imp.required(ctx, r.Kind, r.Name); ok {
			comps = append(comps, c)
		}
	}
	planned := map[string]envvar.Variable{}
	var plan Plan
	failed := map[string]bool{}
	for _, in := range vars {
		pl, ok := imp.variable(ctx, in, opts.DeferValidation)
		if !ok {
			failed[strings.ToLower(in.SchemaName)] = true
			continue
		}
		planned[strings.ToLower(in.SchemaName)] = pl.Variable
		comps = append(comps, Component{Kind: KindVariable, ID: pl.Variable.ID, Name: pl.Variable.SchemaName})
		what := "variable " + pl.Variable.SchemaName
		if pl.Variable.Secret != nil && pl.Variable.Secret.Problem == envvar.StatusPendingValidation {
			res.Pending = append(res.Pending, what)
		}
		if pl.Changed {
			plan.Variables = append(plan.Variables, pl)
			res.note(pl.Created, what)
		}
	}
	for _, in := range creds {
		pl, ok := imp.credential(ctx, in, planned, failed)
		if !ok {
			continue
		}
		comps = append(comps, Component{Kind: KindCredential, ID: pl.Credential.ID, Name: pl.Credential.Name})
		if pl.Changed {
			plan.Credentials = append(plan.Credentials, pl)
			res.note(pl.Created, "credential "+pl.Credential.Name)
		}
	}
	if len(imp.problems) > 0 {
		return ImportResult{}, &ImportError{Solution: m.Name, Problems: imp.problems}
	}

	now := s.now().UTC()
	sol := installed
	if res.PreviousVersion == "" {
		sol = Solution{ID: uuid.Must(uuid.NewV7()).String(), Name: m.Name, OwnerID: p.ID, CreatedAt: now}
		plan.NewSolution = true
	}
	dependencyOrder(comps)
	same := !plan.NewSolution && sol.Version == version && sol.Description == m.Description && sol.Publisher == m.Publisher &&
		sameComponents(sol.Components, comps)
	if same && len(plan.Variables) == 0 && len(plan.Credentials) == 0 {
		res.Solution, res.Unchanged = installed, true
		return res, nil
	}
	sol.Version, sol.Description, sol.Publisher, sol.Components, sol.UpdatedAt = version, m.Description, m.Publisher, comps, now
	plan.Solution = sol
	for _, v := range plan.Variables {
		plan.Entries = append(plan.Entries, v.Entry)
	}
	for _, c := range plan.Credentials {
		plan.Entries = append(plan.Entries, c.Entry)
	}
	reason := "version " + version.String()
	if res.PreviousVersion != "" {
		reason += " (was " + res.PreviousVersion + ")"
	}
	reason += fmt.Sprintf("; %d created, %d updated, %d pending validation", len(res.Created), len(res.Updated), len(res.Pending))
	plan.Entries = append(plan.Entries, entry(p, "solution.import", sol, reason))
	if err := s.repo.Apply(ctx, plan); err != nil {
		return ImportResult{}, fmt.Errorf("import solution %s: %w", m.Name, err)
	}
	if res.Solution, err = s.repo.Get(ctx, sol.ID); err != nil {
		return ImportResult{}, err
	}
	return res, nil
}

func (r *ImportResult) note(created bool, what string) {
	if created {
		r.Created = append(r.Created, what)
	} else {
		r.Updated = append(r.Updated, what)
	}
}

func sameComponents(a, b []Component) bool {
	key := func(cs []Component) []string {
		out := make([]string, len(cs))
		for i, c := range cs {
			out[i] = fmt.Sprintf("%s/%s/%t", c.Kind, c.ID, c.Required)
		}
		slices.Sort(out)
		return out
	}
	return slices.Equal(key(a), key(b))
}

// importer collects the problems of one import.
type importer struct {
	s        *Service
	p        access.Principal
	reason   string
	problems []Problem
	// existing holds the package's variables that exist here, by name in
	// lower case.
	existing map[string]envvar.Variable
}

func (imp *importer) problem(component string, err error) {
	imp.problems = append(imp.problems, Problem{Component: component, Err: err})
}

// decode reads the package's component files strictly and applies the
// settings to the variables.
func (imp *importer) decode(m manifest, files map[string][]byte, settings *Settings) ([]envvar.CreateInput, []credential.CreateInput) {
	var vars []envvar.CreateInput
	var creds []credential.CreateInput
	seen := map[string]bool{}
	byName := map[string]int{}
	for _, e := range m.Components {
		what := string(e.Kind) + " " + e.Name
		if seen[strings.ToLower(what)] {
			imp.problem(what, validation.Field("components", "the package holds it twice"))
			continue
		}
		seen[strings.ToLower(what)] = true
		switch e.Kind {
		case KindVariable:
			var f variableFile
			if err := decodeStrict(bytes.NewReader(files[e.File]), &f); err != nil {
				imp.problem(what, validation.Field(e.File, "does not match the format of a variable: "+err.Error()))
				continue
			}
			if !strings.EqualFold(f.SchemaName, e.Name) {
				imp.problem(what, validation.Field(e.File, "names variable "+f.SchemaName+", not "+e.Name))
				continue
			}
			in := envvar.CreateInput{SchemaName: f.SchemaName, DisplayName: f.DisplayName, Description: f.Description, Type: envvar.Type(f.Type), Value: f.Value}
			if f.SecretRef != nil {
				in.Secret = &envvar.SecretInput{Store: f.SecretRef.Store, Ref: f.SecretRef.Ref}
			}
			if f.FromStore != nil {
				in.FromStore = &envvar.FieldInput{Store: f.FromStore.Store, Ref: f.FromStore.Ref, Field: f.FromStore.Field}
			}
			byName[strings.ToLower(f.SchemaName)] = len(vars)
			vars = append(vars, in)
		case KindCredential:
			var f credentialFile
			if err := decodeStrict(bytes.NewReader(files[e.File]), &f); err != nil {
				imp.problem(what, validation.Field(e.File, "does not match the format of a credential: "+err.Error()))
				continue
			}
			creds = append(creds, credential.CreateInput{Name: f.Name, Description: f.Description, Username: f.Username, Password: f.Password})
		}
	}
	if settings == nil {
		return vars, creds
	}
	if settings.Solution != "" && !strings.EqualFold(settings.Solution, m.Name) {
		imp.problem("settings", validation.Field("solution", fmt.Sprintf("the settings are for solution %s, the package is %s", settings.Solution, m.Name)))
	}
	names := make([]string, 0, len(settings.Variables))
	for n := range settings.Variables {
		names = append(names, n)
	}
	slices.Sort(names)
	for _, n := range names {
		set := settings.Variables[n]
		field := "variables." + n
		i, ok := byName[strings.ToLower(n)]
		if !ok {
			imp.problem("settings", validation.Field(field, "names no variable of the package"))
			continue
		}
		in := &vars[i]
		switch {
		case in.Type == envvar.TypeSecret && set.Value != nil:
			imp.problem("variable "+in.SchemaName, validation.Field(field+".value",
				"is a secret variable's value, which never goes into a settings file: give secretRef, and put the value in the store"))
		case set.SecretRef != nil:
			in.Secret = &envvar.SecretInput{Store: set.SecretRef.Store, Ref: set.SecretRef.Ref}
		case set.FromStore != nil:
			in.FromStore, in.Value = &envvar.FieldInput{Store: set.FromStore.Store, Ref: set.FromStore.Ref, Field: set.FromStore.Field}, nil
		case set.Value != nil:
			in.Value, in.FromStore = set.Value, nil
		}
	}
	return vars, creds
}

// required checks that an object the package needs exists in the target
// and that the importer may use it.
func (imp *importer) required(ctx context.Context, kind Kind, name string) (Component, bool) {
	what := string(kind) + " " + name
	var (
		c   Component
		err error
	)
	switch kind {
	case KindVariable:
		var v envvar.Variable
		v, err = imp.s.vars.Get(ctx, imp.p, name)
		c = Component{Kind: kind, ID: v.ID, Name: v.SchemaName, Required: true}
		if errors.Is(err, envvar.ErrNotFound) {
			err = fmt.Errorf("%w: the package needs %s, which does not exist here (or you may not use it): import the solution that carries it first", ErrMissingDependency, what)
		}
	case KindCredential:
		var cr credential.Credential
		cr, err = imp.s.creds.Get(ctx, imp.p, name)
		c = Component{Kind: kind, ID: cr.ID, Name: cr.Name, Required: true}
		if errors.Is(err, credential.ErrNotFound) {
			err = fmt.Errorf("%w: the package needs %s, which does not exist here (or you may not use it): import the solution that carries it first", ErrMissingDependency, what)
		}
	default:
		err = validation.Field("requires", fmt.Sprintf("names a component of unknown kind %q", kind))
	}
	if err != nil {
		imp.problem(what, err)
		return Component{}, false
	}
	return c, true
}

// variable plans one of the package's variables through the variable
// service: new, or an update of the one of that schema name.
func (imp *importer) variable(ctx context.Context, in envvar.CreateInput, deferValidation bool) (envvar.Planned, bool) {
	what := "variable " + in.SchemaName
	var existing *envvar.Variable
	if v, ok := imp.existing[strings.ToLower(in.SchemaName)]; ok {
		existing = &v
	}
	pl, err := imp.s.vars.Plan(ctx, imp.p, in, existing, envvar.PlanOptions{Defer: deferValidation, Reason: imp.reason})
	if err != nil {
		if existing != nil && (errors.Is(err, access.ErrNotFound) || errors.Is(err, access.ErrForbidden)) {
			err = fmt.Errorf("%w: variable %s exists here and belongs to someone else (owner %s)", envvar.ErrNameTaken, existing.SchemaName, existing.Owner)
		}
		imp.problem(what, err)
		return envvar.Planned{}, false
	}
	return pl, true
}

// credential plans one of the package's credentials through the
// credential service, over the planned variables or existing ones.
// A variable of the package that has problems of its own is not reported
// again as the credential's.
func (imp *importer) credential(ctx context.Context, in credential.CreateInput, planned map[string]envvar.Variable, failed map[string]bool) (credential.Planned, bool) {
	what := "credential " + in.Name
	pair := make([]envvar.Variable, 2)
	ok := true
	for i, name := range []string{in.Username, in.Password} {
		if v, found := planned[strings.ToLower(name)]; found {
			pair[i] = v
			continue
		}
		if failed[strings.ToLower(name)] {
			ok = false
			continue
		}
		v, err := imp.s.vars.Get(ctx, imp.p, name)
		if errors.Is(err, envvar.ErrNotFound) {
			err = fmt.Errorf("%w: %s uses variable %s, which neither the package nor this instance has (or you may not use it)", ErrMissingDependency, what, name)
		}
		if err != nil {
			imp.problem(what, err)
			ok = false
		}
		pair[i] = v
	}
	if !ok {
		return credential.Planned{}, false
	}
	var existing *credential.Credential
	switch c, err := imp.s.repo.Credential(ctx, in.Name); {
	case err == nil:
		existing = &c
	case !errors.Is(err, credential.ErrNotFound):
		imp.problem(what, err)
		return credential.Planned{}, false
	}
	pl, err := imp.s.creds.Plan(ctx, imp.p, in, pair[0], pair[1], existing, imp.reason)
	if err != nil {
		if existing != nil && (errors.Is(err, access.ErrNotFound) || errors.Is(err, access.ErrForbidden)) {
			err = fmt.Errorf("%w: credential %s exists here and belongs to someone else (owner %s)", credential.ErrNameTaken, existing.Name, existing.Owner)
		}
		imp.problem(what, err)
		return credential.Planned{}, false
	}
	return pl, true
}
