package webui

import (
	"context"
	"net/http"

	"github.com/credflow/credflow/internal/connection"
)

type connectionListView struct {
	Rows         []connection.Connection
	Next         string
	Form         *form
	Credentials  []option
	RunnerGroups []option
}

func (u *UI) listConnections(w http.ResponseWriter, r *http.Request, c *call) error {
	return u.connectionList(w, r, c, http.StatusOK, newForm(r.URL.Query()))
}

func (u *UI) connectionList(w http.ResponseWriter, r *http.Request, c *call, status int, f *form) error {
	q := r.URL.Query().Get("q")
	conns, next, err := searchPage(r.Context(), func(ctx context.Context, after string, limit int) ([]connection.Connection, error) {
		return u.Connections.List(ctx, c.p, after, limit)
	}, func(x connection.Connection) string { return x.ID },
		func(x connection.Connection) bool { return q == "" || contains(q, x.Name, x.Credential, x.RunnerGroup) },
		r.URL.Query().Get("after"))
	if err != nil {
		return err
	}
	v := connectionListView{Rows: conns, Next: next, Form: f}
	creds, err := u.Credentials.List(r.Context(), c.p, "", maxChoices)
	if err != nil {
		return err
	}
	for _, cr := range creds {
		v.Credentials = append(v.Credentials, option{Value: cr.Name, Label: cr.Name})
	}
	groups, err := u.Access.RunnerGroups(r.Context(), "", maxChoices)
	if err != nil {
		return err
	}
	for _, g := range groups {
		v.RunnerGroups = append(v.RunnerGroups, option{Value: g.Name, Label: g.Name})
	}
	return u.show(w, r, c, status, "connections", "Connections", "connections", v)
}

func (u *UI) createConnection(w http.ResponseWriter, r *http.Request, c *call) error {
	f := newForm(r.PostForm)
	conn, err := u.Connections.Create(r.Context(), c.p, connection.CreateInput{Name: f.V("name"), Credential: f.V("credential"),
		RunnerGroup: f.V("runnerGroup")})
	if err != nil {
		if err := f.refuse(err, sameField, "name"); err != nil {
			return err
		}
		return u.connectionList(w, r, c, f.Status(), f)
	}
	return u.done(w, r, c, "/connections/"+conn.ID, "Created the connection "+conn.Name+".")
}

// connectionView is a connection's page: its status and which secret
// version each runner of its group received last.
type connectionView struct {
	C       connection.Connection
	Runners []connection.RunnerState
}

func (u *UI) showConnection(w http.ResponseWriter, r *http.Request, c *call) error {
	conn, err := u.Connections.Get(r.Context(), c.p, r.PathValue("id"))
	if err != nil {
		return err
	}
	runners, err := u.Connections.Runners(r.Context(), c.p, conn.ID)
	if err != nil {
		return err
	}
	return u.show(w, r, c, http.StatusOK, "connection", conn.Name, "connections", connectionView{C: conn, Runners: runners})
}

func (u *UI) deleteConnection(w http.ResponseWriter, r *http.Request, c *call) error {
	if err := u.Connections.Delete(r.Context(), c.p, r.PathValue("id")); err != nil {
		return err
	}
	return u.done(w, r, c, "/connections", "Deleted the connection.")
}
