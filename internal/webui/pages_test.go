package webui_test

import (
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/credflow/credflow/internal/metadb/metadbtest"
	"github.com/credflow/credflow/internal/server/servertest"
)

// fieldError returns the message shown next to a form field, or "".
func fieldError(p page, id string) string {
	m := regexp.MustCompile(`id="` + regexp.QuoteMeta(id) + `-error">([^<]*)<`).FindStringSubmatch(p.body)
	if m == nil {
		return ""
	}
	return strings.NewReplacer("&#34;", `"`, "&#39;", "'", "&amp;", "&").Replace(strings.TrimSpace(m[1]))
}

func wantRedirect(t *testing.T, p page, prefix string) string {
	t.Helper()
	loc := p.header.Get("Location")
	if p.status != http.StatusSeeOther || !strings.HasPrefix(loc, prefix) {
		t.Fatalf("status %d location %q, want a redirect to %s...: %s", p.status, loc, prefix, p.body)
	}
	return loc
}

func TestVariablePages(t *testing.T) {
	eachEngine(t, func(t *testing.T, e metadbtest.Engine) {
		inst := servertest.Start(t, e)
		s := newScene(t, inst)
		b := newBrowser(t, inst.URL, nil)
		csrf := b.signIn(inst.AdminToken)

		loc := wantRedirect(t, b.post("/variables/new", url.Values{"csrf": {csrf}, "displayName": {"Report Host"}, "type": {"text"},
			"value": {"db.internal"}}), "/variables/")
		wantContains(t, b.get(loc), "Created the variable cf_ReportHost.", "db.internal")

		res := b.post("/variables/new", url.Values{"csrf": {csrf}, "displayName": {"Gone"}, "type": {"secret"}, "store": {"local"}, "ref": {"nope"}})
		if res.status != http.StatusUnprocessableEntity || fieldError(res, "f-ref") != `The secret "nope" was not found in store "local".` {
			t.Fatalf("missing secret: %d %q", res.status, fieldError(res, "f-ref"))
		}
		res = b.post("/variables/new", url.Values{"csrf": {csrf}, "displayName": {"Bad"}, "schemaName": {"1bad"}, "type": {"text"}, "value": {"x"}})
		if res.status != http.StatusUnprocessableEntity || fieldError(res, "f-schemaName") == "" {
			t.Fatalf("bad schema name: %d %s", res.status, res.body)
		}

		list := b.get("/variables?q=report")
		wantContains(t, list, "cf_ReportHost")
		if strings.Contains(list.body, "cf_SQLPassword") {
			t.Error("the search let other variables through")
		}
		wantContains(t, b.get("/variables?type=secret"), "cf_SQLPassword")

		id := strings.TrimPrefix(loc, "/variables/")
		wantRedirect(t, b.post(loc+"/edit", url.Values{"csrf": {csrf}, "displayName": {"Report DB Host"}, "value": {"db2.internal"}}), loc)
		v := s.admin.must(200, "GET", "/api/v1/environment-variables/"+id, nil)
		if v["displayName"] != "Report DB Host" || v["value"] != "db2.internal" {
			t.Fatalf("after edit: %v", v)
		}

		pw := s.admin.must(200, "GET", "/api/v1/environment-variables/cf_SQLPassword", nil)["id"].(string)
		res = b.post("/variables/"+pw+"/delete", url.Values{"csrf": {csrf}})
		if res.status != http.StatusConflict {
			t.Fatalf("delete in use: %d", res.status)
		}
		wantContains(t, res, "is used by credentials: SQL reporting")
		wantRedirect(t, b.post(loc+"/delete", url.Values{"csrf": {csrf}}), "/variables")
		s.admin.must(404, "GET", "/api/v1/environment-variables/"+id, nil)
	})
}

func TestCredentialPages(t *testing.T) {
	eachEngine(t, func(t *testing.T, e metadbtest.Engine) {
		inst := servertest.Start(t, e)
		s := newScene(t, inst)
		b := newBrowser(t, inst.URL, nil)
		csrf := b.signIn(inst.AdminToken)
		cred := s.admin.must(200, "GET", "/api/v1/credentials/SQL%20reporting", nil)["id"].(string)
		page := "/credentials/" + cred

		wantContains(t, b.get(page), "cannot be changed once the credential exists", "cf_SQLUser", "reports-db")
		res := b.post(page+"/edit", url.Values{"csrf": {csrf}, "name": {""}})
		if res.status != http.StatusUnprocessableEntity || fieldError(res, "f-name") == "" {
			t.Fatalf("empty name: %d %q", res.status, fieldError(res, "f-name"))
		}
		wantRedirect(t, b.post(page+"/edit", url.Values{"csrf": {csrf}, "name": {"SQL reports"}, "description": {"new words"}}), page)
		if c := s.admin.must(200, "GET", "/api/v1/credentials/"+cred, nil); c["name"] != "SQL reports" || c["description"] != "new words" {
			t.Fatalf("after edit: %v", c)
		}

		wantContains(t, b.get(page), `href="/connections?credential=SQL%20reports#new-h"`)
		wantContains(t, b.get("/connections?credential=SQL%20reports"), `<option value="SQL reports" selected>`)
		res = b.post(page+"/share", url.Values{"csrf": {csrf}, "principal": {"user:nobody"}, "role": {"user"}})
		if res.status != http.StatusNotFound || fieldError(res, "f-principal") == "" {
			t.Fatalf("unknown principal: %d %s", res.status, res.body)
		}
		res = b.post(page+"/share", url.Values{"csrf": {csrf}, "principal": {"user:bob"}, "role": {"user"}, "expires": {"soon"}})
		if res.status != http.StatusUnprocessableEntity || fieldError(res, "f-expires") == "" {
			t.Fatalf("bad date: %d", res.status)
		}
		day := time.Now().AddDate(0, 1, 0).UTC().Format("2006-01-02")
		wantRedirect(t, b.post(page+"/share", url.Values{"csrf": {csrf}, "principal": {"user:bob"}, "role": {"user-share"}, "expires": {day}}), page)
		shares := s.admin.must(200, "GET", "/api/v1/credentials/"+cred+"/shares", nil)["items"].([]any)
		found := false
		for _, sh := range shares {
			m := sh.(map[string]any)
			if m["principal"] == "user:bob" {
				found = true
				want, _ := time.Parse("2006-01-02", day)
				if m["role"] != "user-share" || m["expiresAt"] != want.AddDate(0, 0, 1).Format(time.RFC3339) {
					t.Errorf("share %v", m)
				}
			}
		}
		if !found {
			t.Fatalf("no share for bob: %v", shares)
		}
		wantContains(t, b.get(page), "user:bob", "user-share")
		wantRedirect(t, b.post(page+"/unshare", url.Values{"csrf": {csrf}, "principal": {"user:bob"}, "withVariables": {"true"}}), page)
		if n := len(s.admin.must(200, "GET", "/api/v1/credentials/"+cred+"/shares", nil)["items"].([]any)); n != 1 {
			t.Fatalf("%d shares after unshare", n)
		}
		for _, sh := range s.admin.must(200, "GET", "/api/v1/environment-variables/cf_SQLPassword/shares", nil)["items"].([]any) {
			if sh.(map[string]any)["principal"] == "user:bob" {
				t.Errorf("withVariables left bob's share of the password: %v", sh)
			}
		}
	})
}

func TestCredentialsListSearchAndPages(t *testing.T) {
	inst := servertest.Start(t, metadbtest.Engines(t)[0])
	s := newScene(t, inst)
	for i := range 27 {
		s.admin.must(201, "POST", "/api/v1/credentials", map[string]any{"name": fmt.Sprintf("Batch %02d", i), "username": "cf_SQLUser", "password": "cf_SQLPassword"})
	}
	s.admin.must(200, "POST", "/api/v1/credentials/Batch%2003/disable", nil)
	b := newBrowser(t, inst.URL, nil)
	b.signIn(inst.AdminToken)
	rows := regexp.MustCompile(`<tr>\s*<td><a href="/credentials/`)
	first := b.get("/credentials")
	if n := len(rows.FindAllString(first.body, -1)); n != 25 {
		t.Fatalf("first page: %d rows", n)
	}
	next := regexp.MustCompile(`href="(/credentials\?after=[^"]+)">Next page`).FindStringSubmatch(first.body)
	if next == nil {
		t.Fatal("no next page")
	}
	second := b.get(strings.ReplaceAll(next[1], "&amp;", "&"))
	if n := len(rows.FindAllString(second.body, -1)); n != 3 || strings.Contains(second.body, "Next page") {
		t.Fatalf("second page: %d rows", n)
	}
	search := b.get("/credentials?q=batch%200")
	if n := len(rows.FindAllString(search.body, -1)); n != 10 {
		t.Fatalf("search: %d rows", n)
	}
	wantContains(t, search, "disabled", "owner")
	if strings.Contains(search.body, "SQL reporting") {
		t.Error("search let another credential through")
	}
}

func TestWizardRefusals(t *testing.T) {
	eachEngine(t, func(t *testing.T, e metadbtest.Engine) {
		inst := servertest.Start(t, e)
		s := newScene(t, inst)
		b := newBrowser(t, inst.URL, nil)
		csrf := b.signIn(s.bob)
		res := b.post("/credentials/new", url.Values{"csrf": {csrf}, "step": {"1"}, "name": {""}})
		if res.status != http.StatusUnprocessableEntity || fieldError(res, "f-name") == "" {
			t.Fatalf("no name: %d", res.status)
		}
		res = b.post("/credentials/new", url.Values{"csrf": {csrf}, "step": {"1"}, "name": {"Team DB"}})
		wantContains(t, res, "No store is granted to you yet")
		res = b.post("/credentials/new", url.Values{"csrf": {csrf}, "step": {"2"}, "name": {"Team DB"}, "store": {"local"}})
		if res.status != http.StatusUnprocessableEntity || !strings.Contains(res.body, "Choose one of the stores you may use.") {
			t.Fatalf("ungranted store: %d", res.status)
		}
		s.admin.must(200, "PUT", "/api/v1/stores/local/grants/user:bob", map[string]any{"prefix": "team-"})
		s.admin.must(201, "PUT", "/api/v1/stores/local/secrets/team-db", map[string]any{"value": secretValue})
		step3 := url.Values{"csrf": {csrf}, "step": {"3"}, "name": {"Team DB"}, "store": {"local"},
			"username": {"+new"}, "username.displayName": {"Team User"}, "username.type": {"text"}, "username.value": {"svc_team"},
			"password": {"+new"}, "password.displayName": {"Team Password"}, "password.ref": {"sql-password"}}
		res = b.post("/credentials/new", step3)
		if msg := fieldError(res, "f-password-ref"); !strings.Contains(msg, "sql-password") {
			t.Fatalf("ungranted secret: %d %q\n%s", res.status, msg, res.body)
		}
		if res.status != http.StatusForbidden {
			t.Errorf("ungranted secret: status %d, want the API's 403", res.status)
		}
		// The username variable was made; trying again does not make it twice.
		if !strings.Contains(res.body, `<option value="cf_TeamUser" selected>`) {
			t.Fatalf("the new username is not the choice now:\n%s", res.body)
		}
		step3.Set("username", "cf_TeamUser")
		step3.Set("password.ref", "team-db")
		loc := wantRedirect(t, b.post("/credentials/new", step3), "/credentials/")
		wantContains(t, b.get(loc), "Created the credential Team DB.", "cf_TeamUser", "cf_TeamPassword")
		vars := s.admin.must(200, "GET", "/api/v1/environment-variables?limit=200", nil)["items"].([]any)
		if len(vars) != 4 {
			t.Fatalf("%d variables, want 4 (two of the scene, two new)", len(vars))
		}
		// A name taken comes back from the last step.
		step3.Set("name", "SQL reporting")
		step3.Set("username", "cf_TeamUser")
		step3.Set("password", "cf_TeamPassword")
		res = b.post("/credentials/new", step3)
		if res.status != http.StatusConflict || fieldError(res, "f-name") != `Credential name already taken: "SQL reporting".` {
			t.Fatalf("taken name: %d %q\n%s", res.status, fieldError(res, "f-name"), res.body)
		}
	})
}

func TestStoreAndAuditPages(t *testing.T) {
	eachEngine(t, func(t *testing.T, e metadbtest.Engine) {
		inst := servertest.Start(t, e)
		s := newScene(t, inst)
		b := newBrowser(t, inst.URL, nil)
		csrf := b.signIn(inst.AdminToken)

		wantContains(t, b.get("/stores/new?kind=hashicorp-vault"), "Address", "AppRole role id")
		res := b.post("/stores/new", url.Values{"csrf": {csrf}, "kind": {"hashicorp-vault"}, "name": {"vault"}, "settings.auth.kind": {"token"}})
		if res.status != http.StatusUnprocessableEntity || fieldError(res, "f-settings-address") == "" {
			t.Fatalf("no address: %d %s", res.status, res.body)
		}
		res = b.post("/stores/new", url.Values{"csrf": {csrf}, "kind": {"hashicorp-vault"}, "name": {"Bad Name"}, "cacheTTL": {"soon"}})
		if res.status != http.StatusUnprocessableEntity || fieldError(res, "f-cacheTTL") == "" {
			t.Fatalf("bad duration: %d", res.status)
		}

		wantRedirect(t, b.post("/stores/local/grants", url.Values{"csrf": {csrf}, "principal": {"user:bob"}, "prefix": {"team-"}}), "/stores/local")
		grants := s.admin.must(200, "GET", "/api/v1/stores/local/grants", nil)["items"].([]any)
		if len(grants) != 1 || grants[0].(map[string]any)["prefix"] != "team-" {
			t.Fatalf("grants %v", grants)
		}
		wantContains(t, b.get("/stores/local"), "user:bob", "team-")
		wantRedirect(t, b.post("/stores/local/grants/delete", url.Values{"csrf": {csrf}, "principal": {"user:bob"}}), "/stores/local")
		if n := len(s.admin.must(200, "GET", "/api/v1/stores/local/grants", nil)["items"].([]any)); n != 0 {
			t.Fatalf("%d grants after removal", n)
		}
		res = b.post("/stores/local/edit", url.Values{"csrf": {csrf}, "cacheTTL": {"2m"}, "staleIfError": {"0s"}, "pollInterval": {"5m0s"}})
		if res.status != 200 {
			t.Fatalf("edit store: %d %s", res.status, res.body)
		}
		if st := s.admin.must(200, "GET", "/api/v1/stores/local", nil); st["cacheTTL"] != "2m0s" {
			t.Fatalf("cache TTL %v", st["cacheTTL"])
		}
		check := b.post("/stores/local/check", url.Values{"csrf": {csrf}, "secret": {"no-such"}})
		wantContains(t, check, "A step failed.", "fail")

		audit := b.get("/audit?action=store.update&verify=checkpoint")
		wantContains(t, audit, "The audit trail verifies", "store.update", "store:local")
		if strings.Contains(audit.body, "credential.create") {
			t.Error("the action filter let other actions through")
		}
		bad := b.get("/audit?from=yesterday")
		if fieldError(bad, "f-from") == "" {
			t.Error("a bad date is not refused next to its field")
		}
		today := time.Now().UTC().Format("2006-01-02")
		wantContains(t, b.get("/audit?from="+today+"&to="+today+"&actor=admin"), "credential.create")
	})
}

func TestWizardSecretUsernameAndConnectionForm(t *testing.T) {
	inst := servertest.Start(t, metadbtest.Engines(t)[0])
	s := newScene(t, inst)
	s.admin.must(201, "PUT", "/api/v1/stores/local/secrets/api-user", map[string]any{"value": "robot"})
	b := newBrowser(t, inst.URL, nil)
	csrf := b.signIn(inst.AdminToken)
	loc := wantRedirect(t, b.post("/credentials/new", url.Values{"csrf": {csrf}, "step": {"3"}, "name": {"API"}, "store": {"local"},
		"username": {"+new"}, "username.displayName": {"API User"}, "username.type": {"secret"}, "username.ref": {"api-user"},
		"password": {"cf_SQLPassword"}}), "/credentials/")
	wantContains(t, b.get(loc), "cf_APIUser")
	if v := s.admin.must(200, "GET", "/api/v1/environment-variables/cf_APIUser", nil); v["type"] != "secret" {
		t.Fatalf("username variable %v", v)
	}

	res := b.post("/connections/new", url.Values{"csrf": {csrf}, "name": {""}, "credential": {"API"}, "runnerGroup": {"build"}})
	if res.status != http.StatusUnprocessableEntity || fieldError(res, "f-name") == "" {
		t.Fatalf("connection without a name: %d %s", res.status, res.body)
	}
	res = b.post("/connections/new", url.Values{"csrf": {csrf}, "name": {"api-job"}, "credential": {"API"}, "runnerGroup": {"nowhere"}})
	if res.status < 400 || !strings.Contains(res.body, "nowhere") {
		t.Fatalf("unknown runner group: %d", res.status)
	}
	conn := wantRedirect(t, b.post("/connections/new", url.Values{"csrf": {csrf}, "name": {"api-job"}, "credential": {"API"}, "runnerGroup": {"build"}}), "/connections/")
	wantContains(t, b.get(conn), "Created the connection api-job.", "build")
	wantRedirect(t, b.post(conn+"/delete", url.Values{"csrf": {csrf}}), "/connections")
	s.admin.must(404, "GET", "/api/v1/connections/api-job", nil)
}

// TestWriteASecret types a secret's value into a form: it reaches the
// store (a variable can reference it, a resolve gets it) and no page ever
// shows it, not even the refused form typed again.
func TestWriteASecret(t *testing.T) {
	eachEngine(t, func(t *testing.T, e metadbtest.Engine) {
		inst := servertest.Start(t, e)
		s := newScene(t, inst)
		s.admin.must(200, "PUT", "/api/v1/stores/local/grants/user:bob", map[string]any{"prefix": "team-"})
		b := newBrowser(t, inst.URL, nil)
		csrf := b.signIn(s.bob)
		const value = "T3am-Secr3t-Typed-In"
		var pages []page
		pages = append(pages, b.get("/secrets/new"))
		res := b.post("/secrets/new", url.Values{"csrf": {csrf}, "store": {"local"}, "name": {"other-db"}, "value": {value}})
		if res.status != http.StatusForbidden || !strings.Contains(fieldError(res, "f-name"), "other-db") {
			t.Fatalf("outside the grant: %d %q", res.status, fieldError(res, "f-name"))
		}
		pages = append(pages, res)
		res = b.post("/secrets/new", url.Values{"csrf": {csrf}, "store": {"local"}, "name": {"team-db"}, "value": {""}})
		if res.status != http.StatusUnprocessableEntity || fieldError(res, "f-value") == "" {
			t.Fatalf("empty value: %d", res.status)
		}
		wantRedirect(t, b.post("/secrets/new", url.Values{"csrf": {csrf}, "store": {"local"}, "name": {"team-db"}, "value": {value}}), "/secrets/new")
		done := b.get("/secrets/new")
		wantContains(t, done, "Wrote the first version (1) of secret team-db to store local.")
		pages = append(pages, done, b.get("/variables"))
		for i, p := range pages {
			if strings.Contains(p.body, value) {
				t.Errorf("page %d shows the value", i)
			}
		}
		if strings.Contains(inst.Log(), value) {
			t.Error("the log holds the value")
		}
		bobAPI := apiClient{t: t, base: inst.URL, token: s.bob}
		bobAPI.must(201, "POST", "/api/v1/environment-variables", map[string]any{"displayName": "Team DB", "type": "secret",
			"secretRef": map[string]any{"store": "local", "ref": "team-db"}})
		s.admin.must(201, "POST", "/api/v1/credentials", map[string]any{"name": "Team", "username": "cf_SQLUser", "password": "cf_TeamDB"})
		s.admin.must(201, "POST", "/api/v1/connections", map[string]any{"name": "team-job", "credential": "Team", "runnerGroup": "build"})
		if got := s.runner.must(200, "POST", "/api/v1/connections/team-job/resolve", nil); got["password"] != value {
			t.Fatal("the resolve did not get the value written")
		}
	})
}
