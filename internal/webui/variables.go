package webui

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"time"

	"github.com/credflow/credflow/internal/access"
	"github.com/credflow/credflow/internal/envvar"
)

// expiryWarning is how long before a secret's expiry the pages warn.
const expiryWarning = 30 * 24 * time.Hour

// variableRow is one line of the Environment variables table.
type variableRow struct {
	V       envvar.Variable
	Status  string
	Warning string
}

type variableListView struct {
	Rows  []variableRow
	Query string
	Type  string
	Next  string
}

// expiryNote warns of a secret that has expired or soon will, or "".
func expiryNote(v envvar.Variable, now time.Time) string {
	if v.Secret == nil || v.Secret.ExpiresAt.IsZero() {
		if v.Status(now) == envvar.StatusExpiring {
			return "The store says this secret expires soon."
		}
		return ""
	}
	exp := v.Secret.ExpiresAt
	switch {
	case !now.Before(exp):
		return "The secret expired on " + exp.UTC().Format("2006-01-02") + ": resolves fail until it has a new version."
	case exp.Sub(now) < expiryWarning:
		return "The secret expires on " + exp.UTC().Format("2006-01-02") + "."
	}
	return ""
}

func (u *UI) listVariables(w http.ResponseWriter, r *http.Request, c *call) error {
	q, typ := r.URL.Query().Get("q"), r.URL.Query().Get("type")
	vars, next, err := searchPage(r.Context(), func(ctx context.Context, after string, limit int) ([]envvar.Variable, error) {
		return u.Variables.List(ctx, c.p, envvar.ListQuery{Type: envvar.Type(typ), After: after, Limit: limit})
	}, func(v envvar.Variable) string { return v.ID },
		func(v envvar.Variable) bool {
			return q == "" || contains(q, v.SchemaName, v.DisplayName, v.Description)
		},
		r.URL.Query().Get("after"))
	if err != nil {
		return err
	}
	now := time.Now()
	view := variableListView{Query: q, Type: typ, Next: next}
	for _, v := range vars {
		view.Rows = append(view.Rows, variableRow{V: v, Status: string(v.Status(now)), Warning: expiryNote(v, now)})
	}
	return u.show(w, r, c, http.StatusOK, "variables", "Environment variables", "variables", view)
}

// newVariableView is the New variable page.
type newVariableView struct {
	Form     *form
	Stores   []option
	Prefix   string
	KVFields []struct{ Name, Label string }
}

func (u *UI) newVariablePage(w http.ResponseWriter, r *http.Request, c *call) error {
	return u.variableForm(w, r, c, http.StatusOK, newForm(url.Values{"type": {string(envvar.TypeText)}}))
}

func (u *UI) variableForm(w http.ResponseWriter, r *http.Request, c *call, status int, f *form) error {
	stores, err := u.grantedStores(r.Context(), c.p)
	if err != nil {
		return err
	}
	v := newVariableView{Form: f, Prefix: u.Prefix, KVFields: keyVaultFields}
	for _, st := range stores {
		v.Stores = append(v.Stores, option{Value: st.Name, Label: st.Name + " (" + st.Kind + ")", Selected: st.Name == f.V("store")})
	}
	return u.show(w, r, c, status, "variable_new", "New environment variable", "variables", v)
}

func (u *UI) createVariable(w http.ResponseWriter, r *http.Request, c *call) error {
	f := newForm(r.PostForm)
	typ := envvar.Type(f.V("type"))
	v, err := u.Variables.Create(r.Context(), c.p, variableInput(f, "", f.V("store"), typ))
	if err != nil {
		if err := f.refuse(err, variableField("", false), variableFallback(err, "", false)); err != nil {
			return err
		}
		return u.variableForm(w, r, c, f.Status(), f)
	}
	return u.done(w, r, c, "/variables/"+v.ID, "Created the variable "+v.SchemaName+".")
}

// variableView is a variable's page: its details, what uses it, and who
// can use it.
type variableView struct {
	V        envvar.Variable
	Status   string
	Warning  string
	CanEdit  bool
	Deps     envvar.Dependencies
	Exposure *envvar.Exposure
	Edit     *form
	Delete   string
}

func (u *UI) variablePage(w http.ResponseWriter, r *http.Request, c *call, status int, edit *form, deleteErr string) error {
	v, err := u.Variables.Get(r.Context(), c.p, r.PathValue("id"))
	if err != nil {
		return err
	}
	role, err := u.Access.RoleOn(r.Context(), c.p, envvar.Object(v))
	if err != nil {
		return err
	}
	now := time.Now()
	view := variableView{V: v, Status: string(v.Status(now)), Warning: expiryNote(v, now), CanEdit: role.CanEdit(), Edit: edit, Delete: deleteErr}
	if view.Edit == nil {
		vals := url.Values{"displayName": {v.DisplayName}, "description": {v.Description}, "value": {v.Value}}
		if v.Secret != nil {
			vals.Set("ref", v.Secret.Ref)
		}
		view.Edit = newForm(vals)
	}
	if view.Deps, err = u.Variables.Dependencies(r.Context(), c.p, v.ID); err != nil {
		return err
	}
	if role.CanEdit() {
		ex, err := u.Variables.Exposure(r.Context(), c.p, v.ID)
		if err != nil {
			return err
		}
		view.Exposure = &ex
	}
	return u.show(w, r, c, status, "variable", v.DisplayName, "variables", view)
}

func (u *UI) showVariable(w http.ResponseWriter, r *http.Request, c *call) error {
	return u.variablePage(w, r, c, http.StatusOK, nil, "")
}

func (u *UI) editVariable(w http.ResponseWriter, r *http.Request, c *call) error {
	v, err := u.Variables.Get(r.Context(), c.p, r.PathValue("id"))
	if err != nil {
		return err
	}
	f := newForm(r.PostForm)
	name, desc := f.V("displayName"), f.Raw("description")
	in := envvar.UpdateInput{DisplayName: &name, Description: &desc}
	switch {
	case v.Type == envvar.TypeText && v.From == nil:
		val := f.Raw("value")
		in.Value = &val
	case v.Secret != nil && f.V("ref") != v.Secret.Ref:
		in.Secret = &envvar.SecretInput{Store: v.Secret.Store, Ref: f.V("ref")}
	}
	if _, err := u.Variables.Update(r.Context(), c.p, v.ID, in); err != nil {
		if err := f.refuse(err, variableField("", false), "ref"); err != nil {
			return err
		}
		return u.variablePage(w, r, c, f.Status(), f, "")
	}
	return u.done(w, r, c, "/variables/"+v.ID, "Saved.")
}

func (u *UI) deleteVariable(w http.ResponseWriter, r *http.Request, c *call) error {
	err := u.Variables.Delete(r.Context(), c.p, r.PathValue("id"))
	var inUse *envvar.InUseError
	if errors.As(err, &inUse) || errors.Is(err, access.ErrForbidden) {
		f := newForm(nil)
		if ferr := f.refuse(err, sameField, ""); ferr != nil {
			return ferr
		}
		return u.variablePage(w, r, c, http.StatusConflict, nil, f.Summary)
	}
	if err != nil {
		return err
	}
	return u.done(w, r, c, "/variables", "Deleted the variable.")
}
