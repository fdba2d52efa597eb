package webui

import (
	"bytes"
	"fmt"
	"html/template"
	"io/fs"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/credflow/credflow/internal/access"
	"github.com/credflow/credflow/internal/httpapi"
)

// templates are the pages, each parsed with the layout.
type templates struct {
	pages map[string]*template.Template
}

var funcs = template.FuncMap{
	"input": newInput,
	// options makes a select's options of value, label pairs.
	"options": func(pairs ...string) []option {
		var out []option
		for i := 0; i+1 < len(pairs); i += 2 {
			out = append(out, option{Value: pairs[i], Label: pairs[i+1]})
		}
		return out
	},
	"time": func(t time.Time) string {
		if t.IsZero() {
			return "never"
		}
		return t.UTC().Format("2006-01-02 15:04 UTC")
	},
	"statusClass": func(s string) string {
		switch s {
		case "ok", "connected", "ready", "enabled", "pass":
			return "status ok"
		case "expiring", "pending", "unknown", "disabled", "degraded":
			return "status warn"
		}
		return "status bad"
	},
}

// mustParse parses every page with the layout; the templates are part of
// the binary, so a parse error is a bug found by any test.
func mustParse() *templates {
	t := &templates{pages: map[string]*template.Template{}}
	base := template.Must(template.New("layout.html").Funcs(funcs).ParseFS(assets, "templates/layout.html", "templates/parts.html"))
	files, err := fs.Glob(assets, "templates/page_*.html")
	if err != nil {
		panic(err)
	}
	for _, f := range files {
		name := strings.TrimSuffix(strings.TrimPrefix(f, "templates/page_"), ".html")
		t.pages[name] = template.Must(template.Must(base.Clone()).ParseFS(assets, f))
	}
	return t
}

// view is what every page gets: who is signed in, the form token, a
// one-time message, and the page's own data.
type view struct {
	Title string
	Nav   string
	User  *access.Principal
	CSRF  string
	Flash string
	Data  any
}

func (c *call) view(title, nav string, data any) view {
	return view{Title: title, Nav: nav, User: &c.p, CSRF: c.sess.csrf, Data: data}
}

// render writes a page; the whole page is rendered before any byte goes
// out, so that a template error is a clean 500.
func (u *UI) render(w http.ResponseWriter, r *http.Request, t *templates, status int, page string, v view) {
	var buf bytes.Buffer
	if err := t.pages[page].ExecuteTemplate(&buf, "layout.html", v); err != nil {
		u.Log.LogAttrs(r.Context(), slog.LevelError, "page failed to render", slog.String("page", page), slog.String("error", err.Error()))
		http.Error(w, "The page failed to render; the server log has the details.", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_, _ = w.Write(buf.Bytes())
}

// show renders a page of a signed-in call, with the session's message.
func (u *UI) show(w http.ResponseWriter, r *http.Request, c *call, status int, page, title, nav string, data any) error {
	v := c.view(title, nav, data)
	v.Flash = u.Sessions.takeFlash(c.sess)
	u.render(w, r, c.t, status, page, v)
	return nil
}

// done leaves a message for the next page and sends the browser there
// (post, redirect, get).
func (u *UI) done(w http.ResponseWriter, r *http.Request, c *call, to, msg string) error {
	if msg != "" {
		u.Sessions.setFlash(c.sess, msg)
	}
	http.Redirect(w, r, to, http.StatusSeeOther)
	return nil
}

// form is a submitted form: its values, and what the server said of them.
type form struct {
	Values url.Values
	// Errors holds a message per form field, shown next to it.
	Errors map[string]string
	// Summary is the server's whole answer, shown above the form.
	Summary string
	// status is the API's status for the refusal (0: none yet).
	status int
}

// Status is the HTTP status to answer a refused form with: the API's for
// the same refusal, 422 for one found by the page itself.
func (f *form) Status() int {
	if f.status == 0 {
		return http.StatusUnprocessableEntity
	}
	return f.status
}

func newForm(v url.Values) *form {
	if v == nil {
		v = url.Values{}
	}
	return &form{Values: v, Errors: map[string]string{}}
}

// V returns a field's submitted value.
func (f *form) V(name string) string { return strings.TrimSpace(f.Values.Get(name)) }

// Raw returns a field's value exactly as submitted.
func (f *form) Raw(name string) string { return f.Values.Get(name) }

// E returns the message for a field, or "".
func (f *form) E(name string) string { return f.Errors[name] }

// Failed reports whether the server refused the form.
func (f *form) Failed() bool { return f.Summary != "" || len(f.Errors) > 0 }

// refuse puts the server's answer to err on the form, the way the API
// words it: each field it names next to that field (field maps the API's
// field to the form's, "" for none), and the detail above the form and,
// when no field was named, next to fallback. An error that is the
// server's own fault is returned for the error page.
func (f *form) refuse(err error, field func(api string) string, fallback string) error {
	p, known := httpapi.Explain(err)
	if !known || p.Status >= 500 && p.Status != http.StatusServiceUnavailable && p.Status != http.StatusGatewayTimeout {
		return err
	}
	f.Summary = p.Detail
	f.status = p.Status
	placed := false
	for _, fe := range p.Errors {
		name := field(fe.Field)
		if name == "" {
			continue
		}
		msg := fe.Message
		if len(p.Errors) == 1 {
			msg = p.Detail
		}
		if _, taken := f.Errors[name]; !taken {
			f.Errors[name] = msg
		}
		placed = true
	}
	if !placed && fallback != "" {
		f.Errors[fallback] = p.Detail
	}
	return nil
}

// sameField maps an API field to the form field of the same name.
func sameField(api string) string { return api }

// inputView is one labelled form field.
type inputView struct {
	ID, Name, Label, Type, Value, Error, Help string
	Required                                  bool
	Options                                   []option
	// Generate names the field whose value this one's generated name
	// follows (the New variable's schema name), with its prefix.
	Generate, Prefix string
}

type option struct {
	Value, Label string
	Selected     bool
}

// newInput builds a field for the templates: input FORM NAME LABEL TYPE
// [required] [help:TEXT] [generate:FIELD:PREFIX].
func newInput(f *form, name, label, typ string, extra ...string) inputView {
	in := inputView{ID: fieldID(name), Name: name, Label: label, Type: typ, Value: f.Raw(name), Error: f.E(name)}
	for _, e := range extra {
		switch {
		case e == "required":
			in.Required = true
		case strings.HasPrefix(e, "help:"):
			in.Help = strings.TrimPrefix(e, "help:")
		case strings.HasPrefix(e, "generate:"):
			parts := strings.SplitN(strings.TrimPrefix(e, "generate:"), ":", 2)
			in.Generate = fieldID(parts[0])
			if len(parts) == 2 {
				in.Prefix = parts[1]
			}
		}
	}
	return in
}

// WithOptions gives a select its options, marking the submitted one.
func (in inputView) WithOptions(opts []option) inputView {
	for i := range opts {
		opts[i].Selected = opts[i].Value == in.Value
	}
	in.Options = opts
	return in
}

func fieldID(name string) string { return "f-" + strings.NewReplacer(".", "-", "_", "-").Replace(name) }

// localPath keeps a post-sign-in destination on this site.
func localPath(next string) string {
	if !strings.HasPrefix(next, "/") || strings.HasPrefix(next, "//") || strings.HasPrefix(next, "/\\") {
		return "/credentials"
	}
	return next
}

// safeNext is localPath(next) for a query string.
func safeNext(next string) string { return url.QueryEscape(localPath(next)) }

// plural says "1 credential", "2 credentials".
func plural(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return fmt.Sprintf("%d %ss", n, noun)
}
