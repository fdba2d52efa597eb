package solution

import (
	"context"
	"fmt"

	"github.com/credflow/credflow/internal/access"
	"github.com/credflow/credflow/internal/envvar"
	"github.com/credflow/credflow/internal/solution/pkgzip"
)

// ExportOptions tune Export.
type ExportOptions struct {
	// WithoutValues leaves text variables' values out too; the
	// deployment settings give them at import.
	WithoutValues bool
}

// Export returns the solution as a package: the same content gives the
// same bytes. It reads each object as p may (p must still be able to use
// every component) and never a secret's value: a secret variable is its
// store's name and its reference.
func (s *Service) Export(ctx context.Context, p access.Principal, idOrName string, opts ExportOptions) (name string, zip []byte, err error) {
	sol, err := s.get(ctx, p, idOrName)
	if err != nil {
		return "", nil, err
	}
	m := manifest{FormatVersion: FormatVersion, Name: sol.Name, Version: sol.Version.String(), Publisher: sol.Publisher,
		Description: sol.Description, Components: []manifestEntry{}, Requires: []requirement{}, WithoutValues: opts.WithoutValues}
	files := map[string][]byte{}
	comps := append([]Component(nil), sol.Components...)
	dependencyOrder(comps)
	n := 0
	for _, c := range comps {
		var body any
		switch c.Kind {
		case KindVariable:
			v, err := s.vars.Get(ctx, p, c.ID)
			if err != nil {
				return "", nil, fmt.Errorf("export variable %s: %w", c.Name, err)
			}
			if c.Required {
				m.Requires = append(m.Requires, requirement{Kind: KindVariable, Name: v.SchemaName})
				continue
			}
			body = variableToFile(v, opts.WithoutValues)
			c.Name = v.SchemaName
		case KindCredential:
			cr, err := s.creds.Get(ctx, p, c.ID)
			if err != nil {
				return "", nil, fmt.Errorf("export credential %s: %w", c.Name, err)
			}
			if c.Required {
				m.Requires = append(m.Requires, requirement{Kind: KindCredential, Name: cr.Name})
				continue
			}
			body = credentialFile{Name: cr.Name, Description: cr.Description, Username: cr.Username, Password: cr.Password}
			c.Name = cr.Name
		}
		n++
		file := fileName(n, c.Kind, c.Name)
		b, err := marshal(body)
		if err != nil {
			return "", nil, fmt.Errorf("export %s %s: %w", c.Kind, c.Name, err)
		}
		files[file] = b
		m.Components = append(m.Components, manifestEntry{Kind: c.Kind, Name: c.Name, File: file})
	}
	b, err := marshal(m)
	if err != nil {
		return "", nil, fmt.Errorf("export %s: %w", sol.Name, err)
	}
	files[ManifestName] = b
	out, err := pkgzip.Write(files)
	if err != nil {
		return "", nil, fmt.Errorf("export %s: %w", sol.Name, err)
	}
	return sol.Name + "_" + sol.Version.String() + ".zip", out, nil
}

func variableToFile(v envvar.Variable, withoutValues bool) variableFile {
	f := variableFile{SchemaName: v.SchemaName, DisplayName: v.DisplayName, Description: v.Description, Type: string(v.Type)}
	switch {
	case v.Secret != nil:
		f.SecretRef = &RefFile{Store: v.Secret.Store, Ref: v.Secret.Ref}
	case v.From != nil:
		f.FromStore = &FieldFile{Store: v.From.Store, Ref: v.From.Ref, Field: v.From.Field}
	case !withoutValues:
		value := v.Value
		f.Value = &value
	}
	return f
}

// SettingsTemplate returns deployment settings for the solution as it is:
// every variable of its own with its current value or reference, to be
// edited per target environment.
func (s *Service) SettingsTemplate(ctx context.Context, p access.Principal, idOrName string) (Settings, error) {
	sol, err := s.get(ctx, p, idOrName)
	if err != nil {
		return Settings{}, err
	}
	out := Settings{Solution: sol.Name, Variables: map[string]VariableSettings{}}
	for _, c := range sol.Components {
		if c.Kind != KindVariable || c.Required {
			continue
		}
		v, err := s.vars.Get(ctx, p, c.ID)
		if err != nil {
			return Settings{}, fmt.Errorf("settings of variable %s: %w", c.Name, err)
		}
		f := variableToFile(v, false)
		out.Variables[v.SchemaName] = VariableSettings{Value: f.Value, SecretRef: f.SecretRef, FromStore: f.FromStore}
	}
	return out, nil
}
