package httpapi

import (
	"encoding/base64"
	"net/http"
	"time"
	"unicode/utf8"

	"github.com/credflow/credflow/internal/access"
	"github.com/credflow/credflow/internal/connection"
)

type runnerGroupJSON struct {
	ID        string    `json:"id"`
	Name      string    `json:"name"`
	CreatedAt time.Time `json:"createdAt"`
}

type runnerGroupList struct {
	Items      []runnerGroupJSON `json:"items"`
	NextCursor string            `json:"nextCursor,omitempty"`
}

type connectionJSON struct {
	ID                string     `json:"id"`
	Name              string     `json:"name"`
	Credential        string     `json:"credential"`
	RunnerGroup       string     `json:"runnerGroup"`
	Owner             string     `json:"owner"`
	Status            string     `json:"status"`
	LastError         string     `json:"lastError,omitempty"`
	LastErrorAt       *time.Time `json:"lastErrorAt,omitempty"`
	LastResolvedAt    *time.Time `json:"lastResolvedAt,omitempty"`
	LastSecretVersion string     `json:"lastSecretVersion,omitempty"`
	CreatedAt         time.Time  `json:"createdAt"`
	UpdatedAt         time.Time  `json:"updatedAt"`
}

type connectionList struct {
	Items      []connectionJSON `json:"items"`
	NextCursor string           `json:"nextCursor,omitempty"`
}

type createConnectionRequest struct {
	Name        string `json:"name"`
	Credential  string `json:"credential"`
	RunnerGroup string `json:"runnerGroup"`
}

type runnerStateJSON struct {
	Runner        string    `json:"runner"`
	SecretVersion string    `json:"secretVersion"`
	ResolvedAt    time.Time `json:"resolvedAt"`
}

type runnerStateList struct {
	Items []runnerStateJSON `json:"items"`
}

// resolvedJSON is the one response that carries secret values: it goes to
// a runner entitled to them, and is never logged.
//
// A value that is not valid UTF-8 cannot be a JSON string without being
// changed: it comes base64-encoded in usernameBase64 or passwordBase64, and
// username or password is then "".
type resolvedJSON struct {
	Username       string    `json:"username"`
	UsernameBase64 string    `json:"usernameBase64,omitempty"`
	Password       string    `json:"password"`
	PasswordBase64 string    `json:"passwordBase64,omitempty"`
	Credential     string    `json:"credential"`
	SecretVersion  string    `json:"secretVersion"`
	ResolvedAt     time.Time `json:"resolvedAt"`
	Stale          bool      `json:"stale"`
}

func toRunnerGroupJSON(g access.RunnerGroup) runnerGroupJSON {
	return runnerGroupJSON{ID: g.ID, Name: g.Name, CreatedAt: g.CreatedAt}
}

func toConnectionJSON(c connection.Connection) connectionJSON {
	return connectionJSON{ID: c.ID, Name: c.Name, Credential: c.Credential, RunnerGroup: c.RunnerGroup, Owner: c.Owner,
		Status: c.Status, LastError: c.LastError, LastErrorAt: timePtr(c.LastErrorAt), LastResolvedAt: timePtr(c.LastResolvedAt),
		LastSecretVersion: c.LastSecretVersion, CreatedAt: c.CreatedAt, UpdatedAt: c.UpdatedAt}
}

func (a *API) createRunnerGroup(w http.ResponseWriter, r *http.Request) error {
	var req createGroupRequest
	if err := decodeJSON(r, &req); err != nil {
		return err
	}
	g, err := a.Access.CreateRunnerGroup(r.Context(), principal(r), req.Name)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, toRunnerGroupJSON(g))
	return nil
}

func (a *API) listRunnerGroups(w http.ResponseWriter, r *http.Request) error {
	limit, after, err := pageQuery(r)
	if err != nil {
		return err
	}
	groups, err := a.Access.RunnerGroups(r.Context(), after, limit+1)
	if err != nil {
		return err
	}
	out := runnerGroupList{Items: []runnerGroupJSON{}}
	out.NextCursor = page(groups, limit, func(g access.RunnerGroup) string { return g.ID }, func(g access.RunnerGroup) {
		out.Items = append(out.Items, toRunnerGroupJSON(g))
	})
	writeJSON(w, http.StatusOK, out)
	return nil
}

func (a *API) getRunnerGroup(w http.ResponseWriter, r *http.Request) error {
	g, err := a.Access.RunnerGroup(r.Context(), r.PathValue("group"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, toRunnerGroupJSON(g))
	return nil
}

func (a *API) deleteRunnerGroup(w http.ResponseWriter, r *http.Request) error {
	if err := a.Access.DeleteRunnerGroup(r.Context(), principal(r), r.PathValue("group")); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (a *API) createConnection(w http.ResponseWriter, r *http.Request) error {
	var req createConnectionRequest
	if err := decodeJSON(r, &req); err != nil {
		return err
	}
	c, err := a.Connections.Create(r.Context(), principal(r), connection.CreateInput{Name: req.Name, Credential: req.Credential, RunnerGroup: req.RunnerGroup})
	if err != nil {
		return err
	}
	w.Header().Set("Location", "/api/v1/connections/"+c.ID)
	writeJSON(w, http.StatusCreated, toConnectionJSON(c))
	return nil
}

func (a *API) listConnections(w http.ResponseWriter, r *http.Request) error {
	limit, after, err := pageQuery(r)
	if err != nil {
		return err
	}
	conns, err := a.Connections.List(r.Context(), principal(r), after, limit+1)
	if err != nil {
		return err
	}
	out := connectionList{Items: []connectionJSON{}}
	out.NextCursor = page(conns, limit, func(c connection.Connection) string { return c.ID }, func(c connection.Connection) {
		out.Items = append(out.Items, toConnectionJSON(c))
	})
	writeJSON(w, http.StatusOK, out)
	return nil
}

func (a *API) getConnection(w http.ResponseWriter, r *http.Request) error {
	c, err := a.Connections.Get(r.Context(), principal(r), r.PathValue("id"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, toConnectionJSON(c))
	return nil
}

func (a *API) deleteConnection(w http.ResponseWriter, r *http.Request) error {
	if err := a.Connections.Delete(r.Context(), principal(r), r.PathValue("id")); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (a *API) connectionRunners(w http.ResponseWriter, r *http.Request) error {
	states, err := a.Connections.Runners(r.Context(), principal(r), r.PathValue("id"))
	if err != nil {
		return err
	}
	out := runnerStateList{Items: []runnerStateJSON{}}
	for _, s := range states {
		out.Items = append(out.Items, runnerStateJSON{Runner: s.Runner, SecretVersion: s.SecretVersion, ResolvedAt: s.ResolvedAt})
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

func (a *API) resolveConnection(w http.ResponseWriter, r *http.Request) error {
	start := time.Now()
	res, err := a.Connections.Resolve(r.Context(), principal(r), r.PathValue("id"))
	if err != nil {
		p, _ := problemFor(err)
		a.Metrics.Resolve(p.Code, time.Since(start))
		return err
	}
	outcome := "ok"
	if res.Stale {
		outcome = "stale"
	}
	a.Metrics.Resolve(outcome, time.Since(start))
	out := resolvedJSON{Credential: res.Credential, SecretVersion: res.SecretVersion, ResolvedAt: res.ResolvedAt, Stale: res.Stale}
	out.Username, out.UsernameBase64 = exactJSON(res.Username.Reveal())
	out.Password, out.PasswordBase64 = exactJSON(res.Password.Reveal())
	writeJSON(w, http.StatusOK, out)
	return nil
}

// exactJSON returns v as text when JSON can carry it unchanged (valid
// UTF-8), else base64-encoded.
func exactJSON(v string) (text, b64 string) {
	if utf8.ValidString(v) {
		return v, ""
	}
	return "", base64.StdEncoding.EncodeToString([]byte(v))
}

// refusedResolve audits a resolve refused for its malformed request.
func (a *API) refusedResolve(r *http.Request, err error) error {
	return a.Connections.Refuse(r.Context(), principal(r), r.PathValue("id"), err)
}

func (a *API) setCredentialEnabled(enabled bool) func(w http.ResponseWriter, r *http.Request) error {
	return func(w http.ResponseWriter, r *http.Request) error {
		c, err := a.Credentials.SetEnabled(r.Context(), principal(r), r.PathValue("id"), enabled)
		if err != nil {
			return err
		}
		writeJSON(w, http.StatusOK, toCredentialJSON(c))
		return nil
	}
}
