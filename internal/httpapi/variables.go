package httpapi

import (
	"encoding/base64"
	"net/http"
	"time"

	"github.com/credflow/credflow/internal/envvar"
)

// secretRefJSON names a secret: by ref, or, for Key Vault, by its parts.
// Responses carry store and ref, and what the store said of the secret.
type secretRefJSON struct {
	Store          string `json:"store"`
	Ref            string `json:"ref,omitempty"`
	SubscriptionID string `json:"subscriptionId,omitempty"`
	ResourceGroup  string `json:"resourceGroup,omitempty"`
	VaultName      string `json:"vaultName,omitempty"`
	SecretName     string `json:"secretName,omitempty"`
	SecretVersion  string `json:"secretVersion,omitempty"`
	// Enabled and ExpiresAt are what the store said when the variable was
	// saved, so that people can be warned before a password expires.
	Enabled   *bool      `json:"enabled,omitempty"`
	ExpiresAt *time.Time `json:"expiresAt,omitempty"`
}

// fromStoreJSON names the property of a store's secret a text variable
// follows (a CyberArk account's UserName).
type fromStoreJSON struct {
	Store string `json:"store"`
	Ref   string `json:"ref"`
	Field string `json:"field"`
}

type variableJSON struct {
	ID          string         `json:"id"`
	SchemaName  string         `json:"schemaName"`
	DisplayName string         `json:"displayName"`
	Description string         `json:"description"`
	Type        string         `json:"type"`
	Value       *string        `json:"value,omitempty"`
	SecretRef   *secretRefJSON `json:"secretRef,omitempty"`
	FromStore   *fromStoreJSON `json:"fromStore,omitempty"`
	Owner       string         `json:"owner"`
	Status      string         `json:"status"` // envvar.StatusOf
	CreatedAt   time.Time      `json:"createdAt"`
	UpdatedAt   time.Time      `json:"updatedAt"`
}

type variableList struct {
	Items      []variableJSON `json:"items"`
	NextCursor string         `json:"nextCursor,omitempty"`
}

type createVariableRequest struct {
	SchemaName  string         `json:"schemaName,omitempty"`
	DisplayName string         `json:"displayName"`
	Description string         `json:"description,omitempty"`
	Type        string         `json:"type"`
	Value       *string        `json:"value,omitempty"`
	SecretRef   *secretRefJSON `json:"secretRef,omitempty"`
	FromStore   *fromStoreJSON `json:"fromStore,omitempty"`
}

type updateVariableRequest struct {
	SchemaName  *string        `json:"schemaName,omitempty"`
	Type        *string        `json:"type,omitempty"`
	DisplayName *string        `json:"displayName,omitempty"`
	Description *string        `json:"description,omitempty"`
	Value       *string        `json:"value,omitempty"`
	SecretRef   *secretRefJSON `json:"secretRef,omitempty"`
}

type namedJSON struct {
	ID   string `json:"id"`
	Name string `json:"name"`
}

type variableDependenciesJSON struct {
	Credentials []namedJSON `json:"credentials"`
	Connections []namedJSON `json:"connections"`
}

func toVariableJSON(v envvar.Variable) variableJSON {
	out := variableJSON{
		ID: v.ID, SchemaName: v.SchemaName, DisplayName: v.DisplayName, Description: v.Description,
		Type: string(v.Type), Owner: v.Owner, Status: string(v.Status(time.Now())), CreatedAt: v.CreatedAt, UpdatedAt: v.UpdatedAt,
	}
	switch {
	case v.From != nil:
		out.FromStore = &fromStoreJSON{Store: v.From.Store, Ref: v.From.Ref, Field: v.From.Field}
	case v.Type == envvar.TypeText:
		val := v.Value
		out.Value = &val
	}
	if v.Secret != nil {
		enabled := v.Secret.Enabled
		out.SecretRef = &secretRefJSON{Store: v.Secret.Store, Ref: v.Secret.Ref, Enabled: &enabled, ExpiresAt: timePtr(v.Secret.ExpiresAt)}
	}
	return out
}

func toSecretInput(r *secretRefJSON) *envvar.SecretInput {
	if r == nil {
		return nil
	}
	in := &envvar.SecretInput{Store: r.Store, Ref: r.Ref}
	for k, v := range map[string]string{"subscriptionId": r.SubscriptionID, "resourceGroup": r.ResourceGroup,
		"vaultName": r.VaultName, "secretName": r.SecretName, "secretVersion": r.SecretVersion} {
		if v != "" {
			if in.Fields == nil {
				in.Fields = map[string]string{}
			}
			in.Fields[k] = v
		}
	}
	return in
}

func toFieldInput(r *fromStoreJSON) *envvar.FieldInput {
	if r == nil {
		return nil
	}
	return &envvar.FieldInput{Store: r.Store, Ref: r.Ref, Field: r.Field}
}

func (a *API) createVariable(w http.ResponseWriter, r *http.Request) error {
	var req createVariableRequest
	if err := decodeJSON(r, &req); err != nil {
		return err
	}
	v, err := a.Variables.Create(r.Context(), principal(r), envvar.CreateInput{
		SchemaName: req.SchemaName, DisplayName: req.DisplayName, Description: req.Description,
		Type: envvar.Type(req.Type), Value: req.Value, Secret: toSecretInput(req.SecretRef), FromStore: toFieldInput(req.FromStore),
	})
	if err != nil {
		return err
	}
	w.Header().Set("Location", "/api/v1/environment-variables/"+v.ID)
	writeJSON(w, http.StatusCreated, toVariableJSON(v))
	return nil
}

func (a *API) listVariables(w http.ResponseWriter, r *http.Request) error {
	limit, after, err := pageQuery(r)
	if err != nil {
		return err
	}
	vars, err := a.Variables.List(r.Context(), principal(r), envvar.ListQuery{Type: envvar.Type(r.URL.Query().Get("type")), After: after, Limit: limit + 1})
	if err != nil {
		return err
	}
	out := variableList{Items: []variableJSON{}}
	out.NextCursor = page(vars, limit, func(v envvar.Variable) string { return v.ID }, func(v envvar.Variable) {
		out.Items = append(out.Items, toVariableJSON(v))
	})
	writeJSON(w, http.StatusOK, out)
	return nil
}

func (a *API) getVariable(w http.ResponseWriter, r *http.Request) error {
	v, err := a.Variables.Get(r.Context(), principal(r), r.PathValue("id"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, toVariableJSON(v))
	return nil
}

func (a *API) updateVariable(w http.ResponseWriter, r *http.Request) error {
	var req updateVariableRequest
	if err := decodeJSON(r, &req); err != nil {
		return err
	}
	in := envvar.UpdateInput{
		SchemaName: req.SchemaName, DisplayName: req.DisplayName, Description: req.Description,
		Value: req.Value, Secret: toSecretInput(req.SecretRef),
	}
	if req.Type != nil {
		t := envvar.Type(*req.Type)
		in.Type = &t
	}
	v, err := a.Variables.Update(r.Context(), principal(r), r.PathValue("id"), in)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, toVariableJSON(v))
	return nil
}

func (a *API) deleteVariable(w http.ResponseWriter, r *http.Request) error {
	if err := a.Variables.Delete(r.Context(), principal(r), r.PathValue("id")); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (a *API) variableDependencies(w http.ResponseWriter, r *http.Request) error {
	d, err := a.Variables.Dependencies(r.Context(), principal(r), r.PathValue("id"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, variableDependenciesJSON{Credentials: toNamedJSON(d.Credentials), Connections: toNamedJSON(d.Connections)})
	return nil
}

func toNamedJSON(in []envvar.Named) []namedJSON {
	out := make([]namedJSON, len(in))
	for i, n := range in {
		out[i] = namedJSON{ID: n.ID, Name: n.Name}
	}
	return out
}

// Cursors are opaque to clients: the last item's sort key, encoded.
func encodeCursor(key string) string { return base64.RawURLEncoding.EncodeToString([]byte(key)) }

func decodeCursor(r *http.Request) (string, error) {
	c := r.URL.Query().Get("cursor")
	if c == "" {
		return "", nil
	}
	b, err := base64.RawURLEncoding.DecodeString(c)
	if err != nil || len(b) > 200 || badText(string(b)) != "" {
		return "", badRequest("cursor", "Query parameter cursor is not a cursor this API returned.")
	}
	return string(b), nil
}
