package webui

import (
	"encoding/json"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/credflow/credflow/internal/access"
	"github.com/credflow/credflow/internal/secretstore"
	"github.com/credflow/credflow/internal/storeadmin"
	"github.com/credflow/credflow/internal/validation"
)

// settingField is one field of a store kind's settings form; a dotted
// name is nested ("auth.kind").
type settingField struct {
	Name, Label, Help string
}

// kindForms are the settings each store kind's form asks for. Secrets of
// credflow's own (a client secret, an API key) are named by the file or
// environment variable that holds them, never typed here.
var kindForms = map[string][]settingField{
	"azure-keyvault": {
		{"tenantId", "Tenant id", ""}, {"subscriptionId", "Subscription id", ""}, {"resourceGroup", "Resource group", ""},
		{"vaultName", "Vault name", ""}, {"cloud", "Cloud", "public (default), china or usgov"},
		{"auth.kind", "Authentication", "default, managed-identity, workload-identity, client-secret or client-certificate"},
		{"auth.clientId", "Client id", "for a user-assigned identity or an app registration"},
		{"auth.clientSecretFile", "Client secret file", "a file on the server that holds the client secret"},
		{"auth.certificateFile", "Certificate file", "a PEM file on the server"},
	},
	"hashicorp-vault": {
		{"address", "Address", "https://vault.example.com:8200"}, {"namespace", "Namespace", ""}, {"mount", "KV mount", "secret (default)"},
		{"caFile", "CA file", ""}, {"auth.kind", "Authentication", "token or approle"},
		{"auth.tokenFile", "Token file", ""}, {"auth.roleId", "AppRole role id", ""}, {"auth.secretIdFile", "AppRole secret id file", ""},
	},
	"cyberark-conjur": {
		{"url", "URL", ""}, {"account", "Account", ""}, {"login", "Host login", "host/..."},
		{"apiKeyFile", "API key file", ""}, {"caFile", "CA file", ""},
	},
	"cyberark-ccp": {
		{"url", "URL", ""}, {"appId", "Application id", ""}, {"safe", "Safe", ""}, {"folder", "Folder", ""},
		{"clientCertFile", "Client certificate file", ""}, {"clientKeyFile", "Client key file", ""}, {"caFile", "CA file", ""},
	},
}

func kindNames() []string {
	var out []string
	for k := range kindForms {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

// settingsJSON builds a kind's settings from its form: the fields given,
// nested by their dotted names.
func settingsJSON(kind string, f *form) json.RawMessage {
	root := map[string]any{}
	for _, fd := range kindForms[kind] {
		v := f.V("settings." + fd.Name)
		if v == "" {
			continue
		}
		m := root
		parts := strings.Split(fd.Name, ".")
		for _, p := range parts[:len(parts)-1] {
			sub, ok := m[p].(map[string]any)
			if !ok {
				sub = map[string]any{}
				m[p] = sub
			}
			m = sub
		}
		m[parts[len(parts)-1]] = v
	}
	b, _ := json.Marshal(root)
	return b
}

// flatten fills a form with public settings, by dotted names.
func flatten(vals url.Values, prefix string, raw json.RawMessage) {
	var m map[string]any
	if json.Unmarshal(raw, &m) != nil {
		return
	}
	var walk func(prefix string, m map[string]any)
	walk = func(prefix string, m map[string]any) {
		for k, v := range m {
			switch x := v.(type) {
			case map[string]any:
				walk(prefix+k+".", x)
			case string:
				vals.Set(prefix+k, x)
			}
		}
	}
	walk(prefix, m)
}

type storeRow struct {
	S      storeadmin.Store
	Health storeadmin.Health
}

func (u *UI) listStores(w http.ResponseWriter, r *http.Request, c *call) error {
	stores, err := u.StoreAdmin.List(r.Context())
	if err != nil {
		return err
	}
	var rows []storeRow
	for _, st := range stores {
		rows = append(rows, storeRow{S: st, Health: u.StoreAdmin.Health(st)})
	}
	return u.show(w, r, c, http.StatusOK, "stores", "Stores", "stores", rows)
}

// storeFormView is the Add store page.
type storeFormView struct {
	Form   *form
	Kind   string
	Kinds  []option
	Fields []settingField
}

func (u *UI) newStorePage(w http.ResponseWriter, r *http.Request, c *call) error {
	return u.storeForm(w, r, c, http.StatusOK, newForm(r.URL.Query()))
}

func (u *UI) storeForm(w http.ResponseWriter, r *http.Request, c *call, status int, f *form) error {
	kind := f.V("kind")
	if _, ok := kindForms[kind]; !ok {
		kind = ""
	}
	v := storeFormView{Form: f, Kind: kind, Fields: kindForms[kind]}
	for _, k := range kindNames() {
		v.Kinds = append(v.Kinds, option{Value: k, Label: k, Selected: k == kind})
	}
	return u.show(w, r, c, status, "store_new", "Add a store", "stores", v)
}

// durationField reads an optional duration such as 60s.
func durationField(f *form, ve *validation.Error, name string) *time.Duration {
	v := f.V(name)
	if v == "" {
		return nil
	}
	d, err := time.ParseDuration(v)
	if err != nil {
		ve.Add(name, `must be a duration such as "60s", "5m" or "0s"`)
		return nil
	}
	return &d
}

func (u *UI) createStore(w http.ResponseWriter, r *http.Request, c *call) error {
	f := newForm(r.PostForm)
	kind := f.V("kind")
	var ve validation.Error
	in := storeadmin.CreateInput{Name: f.V("name"), Kind: kind, Settings: settingsJSON(kind, f),
		CacheTTL: durationField(f, &ve, "cacheTTL"), StaleIfError: durationField(f, &ve, "staleIfError"), PollInterval: durationField(f, &ve, "pollInterval")}
	err := ve.Err()
	var report *secretstore.Report
	if err == nil {
		var st storeadmin.Store
		st, report, err = u.StoreAdmin.Create(r.Context(), c.p, in)
		if err == nil {
			return u.storePage(w, r, c, http.StatusOK, st.Name, nil, nil, report)
		}
	}
	if err := f.refuse(err, sameField, "name"); err != nil {
		return err
	}
	return u.storeForm(w, r, c, f.Status(), f)
}

// storeView is a store's page: its health, settings, grants and a check.
type storeView struct {
	S      storeadmin.Store
	Health storeadmin.Health
	Fields []settingField
	Edit   *form
	Grant  *form
	Grants []access.Grant
	Check  *secretstore.Report
}

func (u *UI) storePage(w http.ResponseWriter, r *http.Request, c *call, status int, name string, edit, grant *form, check *secretstore.Report) error {
	st, err := u.StoreAdmin.Get(r.Context(), name)
	if err != nil {
		return err
	}
	v := storeView{S: st, Health: u.StoreAdmin.Health(st), Fields: kindForms[st.Kind], Edit: edit, Grant: grant, Check: check}
	if v.Edit == nil {
		vals := url.Values{"cacheTTL": {st.CacheTTL.String()}, "staleIfError": {st.StaleIfError.String()}, "pollInterval": {st.PollInterval.String()}}
		flatten(vals, "settings.", u.StoreAdmin.Public(st))
		v.Edit = newForm(vals)
	}
	if v.Grant == nil {
		v.Grant = newForm(nil)
	}
	if v.Grants, err = u.Access.Grants(r.Context(), st.ID); err != nil {
		return err
	}
	return u.show(w, r, c, status, "store", "Store "+st.Name, "stores", v)
}

func (u *UI) showStore(w http.ResponseWriter, r *http.Request, c *call) error {
	return u.storePage(w, r, c, http.StatusOK, r.PathValue("store"), nil, nil, nil)
}

func (u *UI) editStore(w http.ResponseWriter, r *http.Request, c *call) error {
	st, err := u.StoreAdmin.Get(r.Context(), r.PathValue("store"))
	if err != nil {
		return err
	}
	f := newForm(r.PostForm)
	var ve validation.Error
	in := storeadmin.UpdateInput{CacheTTL: durationField(f, &ve, "cacheTTL"), StaleIfError: durationField(f, &ve, "staleIfError"),
		PollInterval: durationField(f, &ve, "pollInterval")}
	if _, ok := kindForms[st.Kind]; ok {
		in.Settings = settingsJSON(st.Kind, f)
		if string(in.Settings) == string(u.StoreAdmin.Public(st)) {
			in.Settings = nil
		}
	}
	err = ve.Err()
	var report *secretstore.Report
	if err == nil {
		if _, report, err = u.StoreAdmin.Update(r.Context(), c.p, st.Name, in); err == nil {
			return u.storePage(w, r, c, http.StatusOK, st.Name, nil, nil, report)
		}
	}
	if err := f.refuse(err, sameField, "cacheTTL"); err != nil {
		return err
	}
	return u.storePage(w, r, c, f.Status(), st.Name, f, nil, nil)
}

func (u *UI) checkStore(w http.ResponseWriter, r *http.Request, c *call) error {
	report, err := u.StoreAdmin.Check(r.Context(), r.PathValue("store"), strings.TrimSpace(r.PostFormValue("secret")))
	if err != nil {
		return err
	}
	return u.storePage(w, r, c, http.StatusOK, r.PathValue("store"), nil, nil, &report)
}

func (u *UI) putGrant(w http.ResponseWriter, r *http.Request, c *call) error {
	st, err := u.StoreAdmin.Get(r.Context(), r.PathValue("store"))
	if err != nil {
		return err
	}
	f := newForm(r.PostForm)
	if _, err := u.Access.PutGrant(r.Context(), c.p, st.ID, st.Name, f.V("principal"), f.V("prefix")); err != nil {
		if err := f.refuse(err, sameField, "principal"); err != nil {
			return err
		}
		return u.storePage(w, r, c, f.Status(), st.Name, nil, f, nil)
	}
	return u.done(w, r, c, "/stores/"+st.Name, "Granted "+f.V("principal")+" the use of "+st.Name+".")
}

func (u *UI) deleteGrant(w http.ResponseWriter, r *http.Request, c *call) error {
	st, err := u.StoreAdmin.Get(r.Context(), r.PathValue("store"))
	if err != nil {
		return err
	}
	who := r.PostFormValue("principal")
	if err := u.Access.DeleteGrant(r.Context(), c.p, st.ID, st.Name, who); err != nil {
		return err
	}
	return u.done(w, r, c, "/stores/"+st.Name, "Took the grant of "+who+" away.")
}
