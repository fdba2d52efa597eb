package webui

import (
	"crypto/subtle"
	"errors"
	"net/http"

	"github.com/credflow/credflow/internal/access"
	"github.com/credflow/credflow/internal/audit"
)

// signInView is the sign-in page's content.
type signInView struct {
	Form *form
	Next string
	Out  bool
	// OIDC offers the single sign-on.
	OIDC bool
}

// signInPage shows the token form with a fresh CSRF token, which a
// cookie carries too: the form counts only when both agree.
func (u *UI) signInPage(w http.ResponseWriter, r *http.Request, t *templates, problem string, status int) {
	token := randomToken()
	http.SetCookie(w, &http.Cookie{Name: signInCookie, Value: token, Path: "/signin", HttpOnly: true,
		Secure: u.secure(r), SameSite: http.SameSiteStrictMode, MaxAge: 3600})
	f := newForm(nil)
	if problem != "" {
		f.Errors["token"] = problem
		f.Summary = problem
	}
	next := r.FormValue("next")
	u.render(w, r, t, status, "signin", view{Title: "Sign in", CSRF: token,
		Data: signInView{Form: f, Next: localPath(next), Out: r.URL.Query().Get("out") == "1", OIDC: u.Access.OIDCEnabled()}})
}

// signIn checks the API token typed into the form and starts a session
// for its user. A failed attempt counts against the address like a failed
// bearer token.
func (u *UI) signIn(w http.ResponseWriter, r *http.Request, t *templates) {
	c, err := r.Cookie(signInCookie)
	form := r.PostFormValue(csrfField)
	if err != nil || form == "" || subtle.ConstantTimeCompare([]byte(c.Value), []byte(form)) != 1 {
		u.signInPage(w, r, t, "The sign-in form had expired. Type the token again.", http.StatusForbidden)
		return
	}
	p, err := u.Access.Authenticate(r.Context(), r.PostFormValue("token"))
	if err == nil && p.Role == access.RoleRunner {
		err = errRunner
	}
	if err != nil {
		msg := "That token was not accepted: it is unknown, expired or revoked."
		switch {
		case errors.Is(err, errRunner):
			msg = "A runner's token cannot sign in to the web interface; use a user's token."
		case errors.Is(err, access.ErrUnauthenticated) && u.SignIns != nil:
			var limit *access.SignInLimitError
			if lerr := u.SignIns.Failed(r.Context(), audit.RequestFrom(r.Context()).Client, err.Error()); errors.As(lerr, &limit) {
				msg = "Too many failed sign-ins from this address: " + limit.Error() + "."
				w.Header().Set("Retry-After", "60")
				u.signInPage(w, r, t, msg, http.StatusTooManyRequests)
				return
			}
		case !errors.Is(err, access.ErrUnauthenticated):
			u.Log.Error("sign-in failed", "error", err.Error())
			msg = "Signing in failed on the server; try again, or ask the administrator to look at the server log."
			u.signInPage(w, r, t, msg, http.StatusInternalServerError)
			return
		}
		u.signInPage(w, r, t, msg, http.StatusUnauthorized)
		return
	}
	_, id := u.Sessions.start(p.ID)
	u.setCookie(w, r, id)
	http.SetCookie(w, &http.Cookie{Name: signInCookie, Value: "", Path: "/signin", MaxAge: -1, HttpOnly: true,
		Secure: u.secure(r), SameSite: http.SameSiteStrictMode})
	http.Redirect(w, r, localPath(r.PostFormValue("next")), http.StatusSeeOther)
}

var errRunner = errors.New("runners do not sign in to the web interface")

// signOut ends the session.
func (u *UI) signOut(w http.ResponseWriter, r *http.Request, c *call) error {
	u.Sessions.end(c.sess)
	u.clearCookie(w, r)
	http.Redirect(w, r, "/signin?out=1", http.StatusSeeOther)
	return nil
}
