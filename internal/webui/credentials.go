package webui

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"time"

	"github.com/credflow/credflow/internal/access"
	"github.com/credflow/credflow/internal/credential"
	"github.com/credflow/credflow/internal/envvar"
)

// credentialRow is one line of the Credentials table.
type credentialRow struct {
	ID, Name, Description, Store, Owner string
	Role                                access.ObjectRole
	Status                              string
}

type credentialListView struct {
	Rows  []credentialRow
	Query string
	Next  string
}

// credentialStatus is what the table says of a credential: disabled, or
// the worse of its secrets' states, where anything but ok, expiring and
// pending is an error.
func credentialStatus(c credential.Credential, now time.Time) string {
	if !c.Enabled {
		return "disabled"
	}
	switch st := c.Status(now); st {
	case envvar.StatusOK, envvar.StatusExpiring, envvar.StatusPending:
		return string(st)
	default:
		return "error: " + string(st)
	}
}

func (u *UI) listCredentials(w http.ResponseWriter, r *http.Request, c *call) error {
	q := r.URL.Query().Get("q")
	creds, next, err := searchPage(r.Context(), func(ctx context.Context, after string, limit int) ([]credential.Credential, error) {
		return u.Credentials.List(ctx, c.p, after, limit)
	}, func(x credential.Credential) string { return x.ID },
		func(x credential.Credential) bool {
			return q == "" || contains(q, x.Name, x.Description, x.Store, x.Owner)
		},
		r.URL.Query().Get("after"))
	if err != nil {
		return err
	}
	now := time.Now()
	v := credentialListView{Query: q, Next: next}
	for _, x := range creds {
		role, err := u.Access.RoleOn(r.Context(), c.p, credential.Object(x))
		if err != nil {
			return err
		}
		v.Rows = append(v.Rows, credentialRow{ID: x.ID, Name: x.Name, Description: x.Description, Store: x.Store, Owner: x.Owner,
			Role: role, Status: credentialStatus(x, now)})
	}
	return u.show(w, r, c, http.StatusOK, "credentials", "Credentials", "credentials", v)
}

// credentialView is a credential's page.
type credentialView struct {
	C           credential.Credential
	Status      string
	Role        access.ObjectRole
	CanEdit     bool
	CanShare    bool
	Shares      []access.Share
	Connections []credential.Named
	Edit        *form
	Share       *form
	Roles       []option
}

func (u *UI) credentialPage(w http.ResponseWriter, r *http.Request, c *call, status int, edit, share *form) error {
	cr, err := u.Credentials.Get(r.Context(), c.p, r.PathValue("id"))
	if err != nil {
		return err
	}
	role, err := u.Access.RoleOn(r.Context(), c.p, credential.Object(cr))
	if err != nil {
		return err
	}
	v := credentialView{C: cr, Status: credentialStatus(cr, time.Now()), Role: role, CanEdit: role.CanEdit(), CanShare: role.CanShare(),
		Edit: edit, Share: share}
	if v.Edit == nil {
		v.Edit = newForm(url.Values{"name": {cr.Name}, "description": {cr.Description}})
	}
	if v.Share == nil {
		v.Share = newForm(url.Values{"role": {string(access.RoleUser)}})
	}
	for _, ro := range []access.ObjectRole{access.RoleUser, access.RoleUserShare, access.RoleCoOwner, access.RoleOwner} {
		if role.CanGrant(ro) {
			v.Roles = append(v.Roles, option{Value: string(ro), Label: string(ro)})
		}
	}
	if v.Shares, err = u.Credentials.Shares(r.Context(), c.p, cr.ID); err != nil {
		return err
	}
	deps, err := u.Credentials.Dependencies(r.Context(), c.p, cr.ID)
	if err != nil {
		return err
	}
	v.Connections = deps.Connections
	return u.show(w, r, c, status, "credential", cr.Name, "credentials", v)
}

func (u *UI) showCredential(w http.ResponseWriter, r *http.Request, c *call) error {
	return u.credentialPage(w, r, c, http.StatusOK, nil, nil)
}

func (u *UI) editCredential(w http.ResponseWriter, r *http.Request, c *call) error {
	f := newForm(r.PostForm)
	name, desc := f.V("name"), f.Raw("description")
	cr, err := u.Credentials.Update(r.Context(), c.p, r.PathValue("id"), credential.UpdateInput{Name: &name, Description: &desc})
	if err != nil {
		if err := f.refuse(err, sameField, "name"); err != nil {
			return err
		}
		return u.credentialPage(w, r, c, f.Status(), f, nil)
	}
	return u.done(w, r, c, "/credentials/"+cr.ID, "Saved.")
}

// expiryOf reads an optional expiry date (the share ends when that day
// ends, UTC).
func expiryOf(f *form, field string) (time.Time, bool) {
	v := f.V(field)
	if v == "" {
		return time.Time{}, true
	}
	d, err := time.Parse("2006-01-02", v)
	if err != nil {
		f.Errors[field] = "Give a date such as 2027-01-31, or leave it empty for a share that does not expire."
		f.Summary = f.Errors[field]
		return time.Time{}, false
	}
	return d.AddDate(0, 0, 1), true
}

func (u *UI) shareCredential(w http.ResponseWriter, r *http.Request, c *call) error {
	f := newForm(r.PostForm)
	exp, ok := expiryOf(f, "expires")
	if ok {
		_, err := u.Credentials.Share(r.Context(), c.p, r.PathValue("id"), access.ShareInput{Principal: f.V("principal"),
			Role: access.ObjectRole(f.V("role")), ExpiresAt: exp})
		if err == nil {
			return u.done(w, r, c, "/credentials/"+r.PathValue("id"), "Shared with "+f.V("principal")+" as "+f.V("role")+".")
		}
		if err := f.refuse(err, sameField, "principal"); err != nil {
			return err
		}
	}
	return u.credentialPage(w, r, c, f.Status(), nil, f)
}

func (u *UI) unshareCredential(w http.ResponseWriter, r *http.Request, c *call) error {
	who := r.PostFormValue("principal")
	res, err := u.Credentials.Unshare(r.Context(), c.p, r.PathValue("id"), who, r.PostFormValue("withVariables") == "true")
	if err != nil {
		return err
	}
	msg := "Removed the share of " + who + "."
	if n := len(res.Remaining); n > 0 {
		msg += " They still hold " + plural(n, "share") + " of this credential's variables."
	}
	return u.done(w, r, c, "/credentials/"+r.PathValue("id"), msg)
}

func (u *UI) setCredentialEnabled(enabled bool) handler {
	return func(w http.ResponseWriter, r *http.Request, c *call) error {
		cr, err := u.Credentials.SetEnabled(r.Context(), c.p, r.PathValue("id"), enabled)
		if err != nil {
			return err
		}
		msg := "Disabled: every resolve of it is refused until it is enabled again."
		if enabled {
			msg = "Enabled."
		}
		return u.done(w, r, c, "/credentials/"+cr.ID, msg)
	}
}

// deleteView is the confirmation before a credential is deleted.
type deleteView struct {
	C           credential.Credential
	Connections []credential.Named
}

func (u *UI) confirmDeleteCredential(w http.ResponseWriter, r *http.Request, c *call) error {
	cr, err := u.Credentials.Get(r.Context(), c.p, r.PathValue("id"))
	if err != nil {
		return err
	}
	deps, err := u.Credentials.Dependencies(r.Context(), c.p, cr.ID)
	if err != nil {
		return err
	}
	return u.show(w, r, c, http.StatusOK, "credential_delete", "Delete "+cr.Name, "credentials", deleteView{C: cr, Connections: deps.Connections})
}

func (u *UI) deleteCredential(w http.ResponseWriter, r *http.Request, c *call) error {
	err := u.Credentials.Delete(r.Context(), c.p, r.PathValue("id"), r.PostFormValue("force") == "true")
	var inUse *credential.InUseError
	if errors.As(err, &inUse) {
		// Connections came to use it since the page was shown: show them.
		return u.confirmDeleteCredential(w, r, c)
	}
	if err != nil {
		return err
	}
	return u.done(w, r, c, "/credentials", "Deleted the credential. Its variables stay.")
}
