package webui

import (
	"context"
	"errors"
	"net/http"
	"strings"

	"github.com/credflow/credflow/internal/access"
	"github.com/credflow/credflow/internal/credential"
	"github.com/credflow/credflow/internal/envvar"
	"github.com/credflow/credflow/internal/storeadmin"
)

// newChoice is the dropdown entry that creates a variable in place.
const newChoice = "+new"

// keyVaultKind is the store kind whose references the forms take as
// their four parts.
const keyVaultKind = "azure-keyvault"

// keyVaultFields are the parts of a Key Vault reference, as the API names
// them, with their labels.
var keyVaultFields = []struct{ Name, Label string }{
	{"subscriptionId", "Subscription id"}, {"resourceGroup", "Resource group"},
	{"vaultName", "Vault name"}, {"secretName", "Secret name"},
}

// wizardView is one step of the New credential wizard.
type wizardView struct {
	Step     int
	Form     *form
	Stores   []option
	KeyVault bool
	UserVars []option
	PassVars []option
	Prefix   string
	KVFields []struct{ Name, Label string }
}

func (u *UI) wizardStart(w http.ResponseWriter, r *http.Request, c *call) error {
	return u.wizard(w, r, c, http.StatusOK, 1, newForm(nil))
}

// wizardStep takes one step's form: forward, back, or (from the third) the
// creation of the variables asked for and of the credential.
func (u *UI) wizardStep(w http.ResponseWriter, r *http.Request, c *call) error {
	f := newForm(r.PostForm)
	back := f.V("back") != ""
	switch f.V("step") {
	case "2":
		if back {
			return u.wizard(w, r, c, http.StatusOK, 1, f)
		}
		stores, err := u.grantedStores(r.Context(), c.p)
		if err != nil {
			return err
		}
		if _, ok := findStore(stores, f.V("store")); !ok {
			f.Errors["store"] = "Choose one of the stores you may use."
			f.Summary = f.Errors["store"]
			return u.wizard(w, r, c, http.StatusUnprocessableEntity, 2, f)
		}
		return u.wizard(w, r, c, http.StatusOK, 3, f)
	case "3":
		if back {
			return u.wizard(w, r, c, http.StatusOK, 2, f)
		}
		return u.wizardFinish(w, r, c, f)
	default:
		if f.V("name") == "" {
			f.Errors["name"] = "A credential needs a name."
			f.Summary = f.Errors["name"]
			return u.wizard(w, r, c, http.StatusUnprocessableEntity, 1, f)
		}
		return u.wizard(w, r, c, http.StatusOK, 2, f)
	}
}

// wizardFinish creates the variables chosen as New, then the credential.
// A variable created before a later step failed stays, and the form then
// names it as the choice, so that trying again does not create it twice.
func (u *UI) wizardFinish(w http.ResponseWriter, r *http.Request, c *call, f *form) error {
	stores, err := u.grantedStores(r.Context(), c.p)
	if err != nil {
		return err
	}
	st, ok := findStore(stores, f.V("store"))
	if !ok {
		f.Errors["store"] = "Choose one of the stores you may use."
		f.Summary = f.Errors["store"]
		return u.wizard(w, r, c, http.StatusUnprocessableEntity, 2, f)
	}
	kv := st.Kind == keyVaultKind
	for _, role := range []string{"username", "password"} {
		if f.V(role) != newChoice {
			continue
		}
		typ := envvar.TypeSecret
		if role == "username" && f.V("username.type") != string(envvar.TypeSecret) {
			typ = envvar.TypeText
		}
		v, err := u.Variables.Create(r.Context(), c.p, variableInput(f, role+".", st.Name, typ))
		if err != nil {
			if err := f.refuse(err, variableField(role+".", kv), variableFallback(err, role+".", kv)); err != nil {
				return err
			}
			return u.wizard(w, r, c, f.Status(), 3, f)
		}
		f.Values.Set(role, v.SchemaName)
	}
	cr, err := u.Credentials.Create(r.Context(), c.p, credential.CreateInput{Name: f.V("name"), Description: f.Raw("description"),
		Username: f.V("username"), Password: f.V("password")})
	if err != nil {
		fallback := "password"
		if errors.Is(err, credential.ErrNameTaken) {
			fallback = "name"
		}
		if err := f.refuse(err, sameField, fallback); err != nil {
			return err
		}
		return u.wizard(w, r, c, f.Status(), 3, f)
	}
	return u.done(w, r, c, "/credentials/"+cr.ID, "Created the credential "+cr.Name+".")
}

// wizard renders a step with what it offers.
func (u *UI) wizard(w http.ResponseWriter, r *http.Request, c *call, status, step int, f *form) error {
	v := wizardView{Step: step, Form: f, Prefix: u.Prefix, KVFields: keyVaultFields}
	if step >= 2 {
		stores, err := u.grantedStores(r.Context(), c.p)
		if err != nil {
			return err
		}
		for _, st := range stores {
			v.Stores = append(v.Stores, option{Value: st.Name, Label: st.Name + " (" + st.Kind + ")", Selected: st.Name == f.V("store")})
		}
		if st, ok := findStore(stores, f.V("store")); ok {
			v.KeyVault = st.Kind == keyVaultKind
		}
	}
	if step == 3 {
		var err error
		if v.UserVars, v.PassVars, err = u.variableChoices(r.Context(), c.p, f.V("store")); err != nil {
			return err
		}
		choose, create := option{Value: "", Label: "Choose a variable"}, option{Value: newChoice, Label: "New variable…"}
		v.UserVars = append(append([]option{choose}, v.UserVars...), create)
		v.PassVars = append(append([]option{choose}, v.PassVars...), create)
		if f.V("username.type") == "" {
			f.Values.Set("username.type", string(envvar.TypeText))
		}
	}
	return u.show(w, r, c, status, "wizard", "New credential", "credentials", v)
}

// grantedStores lists the stores whose secrets p may reference.
func (u *UI) grantedStores(ctx context.Context, p access.Principal) ([]storeadmin.Store, error) {
	all, err := u.StoreAdmin.List(ctx)
	if err != nil {
		return nil, err
	}
	var out []storeadmin.Store
	for _, st := range all {
		prefixes, err := u.Access.GrantedPrefixes(ctx, p, st.ID)
		if err != nil {
			return nil, err
		}
		if len(prefixes) > 0 {
			out = append(out, st)
		}
	}
	return out, nil
}

func findStore(stores []storeadmin.Store, name string) (storeadmin.Store, bool) {
	for _, st := range stores {
		if name != "" && strings.EqualFold(st.Name, name) {
			return st, true
		}
	}
	return storeadmin.Store{}, false
}

// maxChoices bounds the variables a dropdown offers.
const maxChoices = 500

// variableChoices lists the variables p may use that suit a credential on
// store: any text variable or a secret of the store as the username, a
// secret of the store as the password.
func (u *UI) variableChoices(ctx context.Context, p access.Principal, store string) (user, pass []option, err error) {
	vars, err := u.Variables.List(ctx, p, envvar.ListQuery{Limit: maxChoices})
	if err != nil {
		return nil, nil, err
	}
	for _, v := range vars {
		o := option{Value: v.SchemaName, Label: v.DisplayName + " (" + v.SchemaName + ")"}
		switch {
		case v.Type == envvar.TypeText:
			user = append(user, o)
		case v.Secret != nil && strings.EqualFold(v.Secret.Store, store):
			user = append(user, o)
			pass = append(pass, o)
		}
	}
	return user, pass, nil
}

// variableInput reads a New variable form, its fields named with prefix.
func variableInput(f *form, prefix, store string, typ envvar.Type) envvar.CreateInput {
	in := envvar.CreateInput{SchemaName: f.V(prefix + "schemaName"), DisplayName: f.V(prefix + "displayName"),
		Description: f.Raw(prefix + "description"), Type: typ}
	if typ != envvar.TypeSecret {
		val := f.Raw(prefix + "value")
		in.Value = &val
		return in
	}
	in.Secret = &envvar.SecretInput{Store: store, Ref: f.V(prefix + "ref")}
	for _, k := range keyVaultFields {
		if v := f.V(prefix + k.Name); v != "" {
			if in.Secret.Fields == nil {
				in.Secret.Fields = map[string]string{}
			}
			in.Secret.Fields[k.Name] = v
		}
	}
	return in
}

// variableField maps the API's fields of a variable to a New variable
// form's, named with prefix; a Key Vault form names the secret by its parts.
func variableField(prefix string, kv bool) func(string) string {
	return func(api string) string {
		switch {
		case api == "secretRef" || api == "secretRef.ref":
			return refField(prefix, kv)
		case strings.HasPrefix(api, "secretRef."):
			return prefix + strings.TrimPrefix(api, "secretRef.")
		}
		return prefix + api
	}
}

// variableFallback is the field a refusal of a New variable naming no
// field belongs to: the unique name when it is taken, else the secret.
func variableFallback(err error, prefix string, kv bool) string {
	if errors.Is(err, envvar.ErrNameTaken) {
		return prefix + "schemaName"
	}
	return refField(prefix, kv)
}

// refField is the field that names a secret in a New variable form.
func refField(prefix string, kv bool) string {
	if kv {
		return prefix + "secretName"
	}
	return prefix + "ref"
}
