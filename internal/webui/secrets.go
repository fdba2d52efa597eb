package webui

import (
	"context"
	"net/http"

	"github.com/credflow/credflow/internal/access"
	"github.com/credflow/credflow/internal/secretstore"
)

// secretFormView is the Write a secret page: a value typed here goes to
// the store and is never shown again, not even when the form is refused.
type secretFormView struct {
	Form   *form
	Stores []option
}

// writableStores lists the stores p may reference that take writes (the
// built-in one).
func (u *UI) writableStores(ctx context.Context, p access.Principal) ([]option, error) {
	stores, err := u.grantedStores(ctx, p)
	if err != nil {
		return nil, err
	}
	var out []option
	for _, st := range stores {
		s, _, err := u.Stores.Lookup(st.Name)
		if err != nil {
			continue
		}
		if _, ok := s.(secretstore.Writer); ok {
			out = append(out, option{Value: st.Name, Label: st.Name + " (" + st.Kind + ")"})
		}
	}
	return out, nil
}

func (u *UI) secretPage(w http.ResponseWriter, r *http.Request, c *call, status int, f *form) error {
	f.Values.Del("value") // never sent back
	stores, err := u.writableStores(r.Context(), c.p)
	if err != nil {
		return err
	}
	return u.show(w, r, c, status, "secret", "Write a secret", "variables", secretFormView{Form: f, Stores: stores})
}

func (u *UI) newSecretPage(w http.ResponseWriter, r *http.Request, c *call) error {
	return u.secretPage(w, r, c, http.StatusOK, newForm(nil))
}

func (u *UI) putSecret(w http.ResponseWriter, r *http.Request, c *call) error {
	f := newForm(r.PostForm)
	value := f.Raw("value")
	if value == "" {
		f.Errors["value"] = "Type the secret's value."
		f.Summary = f.Errors["value"]
		return u.secretPage(w, r, c, http.StatusUnprocessableEntity, f)
	}
	written, err := u.Secrets.Put(r.Context(), c.p, f.V("store"), f.V("name"), secretstore.NewValue(value))
	if err != nil {
		if err := f.refuse(err, sameField, "name"); err != nil {
			return err
		}
		return u.secretPage(w, r, c, f.Status(), f)
	}
	what := "version " + written.Version
	if written.Created {
		what = "the first version (" + written.Version + ")"
	}
	return u.done(w, r, c, "/secrets/new", "Wrote "+what+" of secret "+f.V("name")+" to store "+f.V("store")+
		". Its value is not shown again; a secret variable can now reference it, and resolves read the new version at once.")
}
