// Package webui is credflow's web interface: pages rendered on the server
// with html/template and static assets embedded in the binary, served at
// "/" beside the REST API. Every page calls the same domain services as the
// API, through the same instance-role checks (a page declares the
// access.Permission its API route declares) and the services' own object
// checks; it never reaches SQL or a store. A secret's value is typed into a
// form and written to its store, never read back: no page shows one.
//
// It holds browser sessions in memory (see Sessions), protects every form
// with a per-session CSRF token, and answers with a strict
// Content-Security-Policy (no inline scripts or styles) and the usual
// anti-framing and anti-sniffing headers. It does not serve the API.
package webui

import (
	"context"
	"crypto/rand"
	"embed"
	"encoding/hex"
	"errors"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/credflow/credflow/internal/access"
	"github.com/credflow/credflow/internal/audit"
	"github.com/credflow/credflow/internal/connection"
	"github.com/credflow/credflow/internal/credential"
	"github.com/credflow/credflow/internal/envvar"
	"github.com/credflow/credflow/internal/httpapi"
	"github.com/credflow/credflow/internal/secretstore"
	"github.com/credflow/credflow/internal/storeadmin"
	"github.com/credflow/credflow/internal/storesecret"
)

//go:embed templates static
var assets embed.FS

// AuditLog reads the audit trail; *audit.Trail implements it.
type AuditLog interface {
	List(ctx context.Context, f audit.Filter) ([]audit.Record, error)
	Verify(ctx context.Context, opts audit.VerifyOptions) (audit.Verification, error)
}

// UI holds what the pages need. Every field but SecureCookies is required.
type UI struct {
	Access      *access.Service
	Variables   *envvar.Service
	Credentials *credential.Service
	Connections *connection.Service
	StoreAdmin  *storeadmin.Service
	Stores      *secretstore.Registry
	Secrets     *storesecret.Service
	Audit       AuditLog
	Sessions    *Sessions
	// SignIns counts failed sign-ins, like the API's bearer tokens.
	SignIns *access.SignInGuard
	Log     *slog.Logger
	// Prefix starts generated schema names (the instance's prefix), for
	// the name the New variable form proposes as one types.
	Prefix string
	// SecureCookies marks the session cookie Secure: the server speaks
	// TLS. A request that arrived over TLS gets it anyway.
	SecureCookies bool
	// OIDC configures the single sign-on, offered when the server trusts
	// an OpenID Connect issuer.
	OIDC OIDCOptions
}

// contentSecurityPolicy allows scripts, styles and images from this origin
// only (none inline), forms that post here only, and no framing at all.
const contentSecurityPolicy = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; " +
	"form-action 'self'; frame-ancestors 'none'; base-uri 'none'"

// Handler returns the UI's HTTP handler, for every path the API does not
// serve.
func (u *UI) Handler() http.Handler {
	t := mustParse()
	mux := http.NewServeMux()
	static, _ := fs.Sub(assets, "static")
	mux.Handle("GET /static/", http.StripPrefix("/static/", staticFiles(static)))
	mux.HandleFunc("GET /signin", func(w http.ResponseWriter, r *http.Request) { u.signInPage(w, r, t, "", http.StatusOK) })
	mux.HandleFunc("POST /signin", func(w http.ResponseWriter, r *http.Request) { u.signIn(w, r, t) })
	mux.HandleFunc("GET "+oidcPath, func(w http.ResponseWriter, r *http.Request) { u.oidcStart(w, r, t) })
	mux.HandleFunc("GET "+oidcPath+"/callback", func(w http.ResponseWriter, r *http.Request) { u.oidcCallback(w, r, t) })
	mux.Handle("POST /signout", u.page(t, access.PermTokenSelf, u.signOut))
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "/credentials", http.StatusSeeOther)
	})
	for _, p := range u.pages() {
		mux.Handle(p.pattern, u.page(t, p.perm, p.handle))
	}
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		u.render(w, r, t, http.StatusNotFound, "error", view{Title: "Not found", Data: errorView{Message: "There is no page at " + r.URL.Path + "."}})
	})
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Security-Policy", contentSecurityPolicy)
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("X-Frame-Options", "DENY")
		h.Set("Referrer-Policy", "same-origin")
		h.Set("Cross-Origin-Opener-Policy", "same-origin")
		if u.secure(r) {
			h.Set("Strict-Transport-Security", "max-age=31536000")
		}
		rid := newRequestID()
		h.Set("X-Request-Id", rid)
		client, _, err := net.SplitHostPort(r.RemoteAddr)
		if err != nil {
			client = r.RemoteAddr
		}
		r = r.WithContext(audit.WithRequest(r.Context(), audit.Request{RequestID: rid, Client: client}))
		// Forms are small; nothing a page takes needs more.
		r.Body = http.MaxBytesReader(w, r.Body, 64<<10)
		rec := &statusRecorder{ResponseWriter: w, status: http.StatusOK}
		start := time.Now()
		mux.ServeHTTP(rec, r)
		u.Log.LogAttrs(r.Context(), slog.LevelInfo, "page",
			slog.String("method", r.Method), slog.String("path", r.URL.Path),
			slog.Int("status", rec.status), slog.Duration("duration", time.Since(start)), slog.String("requestId", rid))
	})
}

// statusRecorder keeps the status of an answer, for the log.
type statusRecorder struct {
	http.ResponseWriter
	status int
}

func (s *statusRecorder) WriteHeader(code int) {
	s.status = code
	s.ResponseWriter.WriteHeader(code)
}

// staticFiles serves the embedded assets; they change only with the
// binary, so browsers may keep them for an hour.
func staticFiles(fsys fs.FS) http.Handler {
	files := http.FileServerFS(fsys)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "" || strings.HasSuffix(r.URL.Path, "/") {
			http.NotFound(w, r) // no directory listings
			return
		}
		w.Header().Set("Cache-Control", "public, max-age=3600")
		files.ServeHTTP(w, r)
	})
}

func (u *UI) secure(r *http.Request) bool { return u.SecureCookies || r.TLS != nil }

// handler is a page's work: it renders or redirects, or returns an error
// that the error page explains.
type handler func(w http.ResponseWriter, r *http.Request, c *call) error

// call is one signed-in request.
type call struct {
	p    access.Principal
	sess *session
	t    *templates
}

// route is one page of the UI and the permission its API route needs.
type route struct {
	pattern string
	perm    access.Permission
	handle  handler
}

// page signs the request in from its session (or sends the browser to the
// sign-in page), refuses a form without the session's CSRF token, checks
// the permission as the API does, and renders the error of a failed page.
func (u *UI) page(t *templates, perm access.Permission, h handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		sess := u.Sessions.fromRequest(r)
		if sess == nil {
			u.clearCookie(w, r)
			if r.Method == http.MethodGet {
				http.Redirect(w, r, "/signin?next="+safeNext(r.URL.RequestURI()), http.StatusSeeOther)
				return
			}
			u.render(w, r, t, http.StatusUnauthorized, "error", view{Title: "Signed out",
				Data: errorView{Message: "Your session has ended. Sign in again, then repeat what you were doing."}})
			return
		}
		if r.Method != http.MethodGet && r.Method != http.MethodHead && !sess.checkCSRF(r.PostFormValue(csrfField)) {
			u.render(w, r, t, http.StatusForbidden, "error", view{Title: "Form refused",
				Data: errorView{Message: "This form was refused: it did not carry this session's security token. Reload the page and try again."}})
			return
		}
		p, err := u.Access.PrincipalOf(r.Context(), sess.userID)
		switch {
		case errors.Is(err, access.ErrNotFound):
			// The user was deleted: the session ends with them.
			u.Sessions.end(sess)
			u.clearCookie(w, r)
			http.Redirect(w, r, "/signin", http.StatusSeeOther)
			return
		case err != nil:
			u.Log.LogAttrs(r.Context(), slog.LevelError, "page failed", slog.String("path", r.URL.Path),
				slog.String("requestId", audit.RequestFrom(r.Context()).RequestID), slog.String("error", err.Error()))
			u.render(w, r, t, http.StatusInternalServerError, "error", view{Title: "Server error",
				Data: errorView{Message: "The server failed to handle the request. The server log has the details under this request id: " +
					audit.RequestFrom(r.Context()).RequestID + "."}})
			return
		}
		c := &call{p: p, sess: sess, t: t}
		if err := u.Access.Authorize(r.Context(), p, perm); err != nil {
			u.fail(w, r, c, err)
			return
		}
		if err := h(w, r, c); err != nil {
			u.fail(w, r, c, err)
		}
	})
}

// fail renders err on the error page with the API's status and words.
func (u *UI) fail(w http.ResponseWriter, r *http.Request, c *call, err error) {
	p, known := httpapi.Explain(err)
	if !known {
		u.Log.LogAttrs(r.Context(), slog.LevelError, "page failed", slog.String("path", r.URL.Path),
			slog.String("requestId", audit.RequestFrom(r.Context()).RequestID), slog.String("error", err.Error()))
	}
	u.render(w, r, c.t, p.Status, "error", c.view(http.StatusText(p.Status), "", errorView{Message: p.Detail, Hint: p.Hint}))
}

// errorView is the error page's content.
type errorView struct {
	Message, Hint string
}

func newRequestID() string {
	var b [12]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}
