package client

import (
	"context"
	"encoding/json"
	"net/http"
	"time"
)

// VariableType is an environment variable's type.
type VariableType string

// The variable types.
const (
	// TypeText variables hold their value.
	TypeText VariableType = "text"
	// TypeSecret variables hold a reference to a secret in a store, never its
	// value.
	TypeSecret VariableType = "secret"
)

// SecretRef points at a secret inside a store. Ref is in the store's own
// syntax (a secret name for the built-in store; for Azure Key Vault a
// resource path, a secret URI, or {secretName}[/{version}]).
//
// A Key Vault secret may instead be named by its parts: SecretName, with
// optionally SecretVersion (default: the latest), and VaultName,
// SubscriptionID and ResourceGroup (default: the store's). Give Ref or the
// parts, not both; the server answers with Ref.
//
// Enabled and ExpiresAt are what the store said of the secret when the
// variable was saved; the server ignores them in requests.
type SecretRef struct {
	Store          string `json:"store"`
	Ref            string `json:"ref,omitempty"`
	SubscriptionID string `json:"subscriptionId,omitempty"`
	ResourceGroup  string `json:"resourceGroup,omitempty"`
	VaultName      string `json:"vaultName,omitempty"`
	SecretName     string `json:"secretName,omitempty"`
	SecretVersion  string `json:"secretVersion,omitempty"`

	// Enabled is nil when the server did not say.
	Enabled *bool `json:"enabled,omitempty"`
	// ExpiresAt is nil when the secret never expires.
	ExpiresAt *time.Time `json:"expiresAt,omitempty"`
}

// EnvironmentVariable is a named value that automation reads. A text variable
// carries Value; a secret variable carries SecretRef and never a value.
type EnvironmentVariable struct {
	ID          string
	SchemaName  string
	DisplayName string
	Description string
	Type        VariableType
	Value       string
	SecretRef   *SecretRef
	Owner       string
	Status      VariableStatus // as far as the server last learned, without asking the store
	CreatedAt   time.Time
	UpdatedAt   time.Time
}

// VariableStatus says whether a variable's (or a credential's) value can
// be had, as far as the server last learned.
type VariableStatus string

// The variable statuses.
const (
	// StatusOK: a text variable, or a secret last read without trouble.
	StatusOK VariableStatus = "ok"
	// StatusPending: the secret was never checked.
	StatusPending VariableStatus = "pending"
	// StatusPendingValidation: imported while its store could not be
	// read; it does not resolve until validated.
	StatusPendingValidation VariableStatus = "pending-validation"
	// StatusExpired: the secret's expiry date is past.
	StatusExpired VariableStatus = "expired"
	// StatusSecretDisabled: the store says the secret is disabled.
	StatusSecretDisabled VariableStatus = "secret_disabled"
	// StatusAccessDenied: the store refused credflow the secret.
	StatusAccessDenied VariableStatus = "access_denied"
	// StatusNotFound: the store has no such secret (any more).
	StatusNotFound VariableStatus = "not_found"
)

// variableJSON is the wire form of EnvironmentVariable: "value" is present
// for every text variable, even an empty one, and for no secret variable.
type variableJSON struct {
	ID          string         `json:"id"`
	SchemaName  string         `json:"schemaName"`
	DisplayName string         `json:"displayName"`
	Description string         `json:"description"`
	Type        VariableType   `json:"type"`
	Value       *string        `json:"value,omitempty"`
	SecretRef   *SecretRef     `json:"secretRef,omitempty"`
	Owner       string         `json:"owner"`
	Status      VariableStatus `json:"status,omitempty"`
	CreatedAt   time.Time      `json:"createdAt"`
	UpdatedAt   time.Time      `json:"updatedAt"`
}

// MarshalJSON writes the variable as the API does.
func (v EnvironmentVariable) MarshalJSON() ([]byte, error) {
	w := variableJSON{
		ID: v.ID, SchemaName: v.SchemaName, DisplayName: v.DisplayName, Description: v.Description,
		Type: v.Type, SecretRef: v.SecretRef, Owner: v.Owner, Status: v.Status, CreatedAt: v.CreatedAt, UpdatedAt: v.UpdatedAt,
	}
	if v.Type == TypeText {
		w.Value = &v.Value
	}
	return json.Marshal(w)
}

// UnmarshalJSON reads the variable as the API writes it.
func (v *EnvironmentVariable) UnmarshalJSON(b []byte) error {
	var w variableJSON
	if err := json.Unmarshal(b, &w); err != nil {
		return err
	}
	*v = EnvironmentVariable{
		ID: w.ID, SchemaName: w.SchemaName, DisplayName: w.DisplayName, Description: w.Description,
		Type: w.Type, SecretRef: w.SecretRef, Owner: w.Owner, Status: w.Status, CreatedAt: w.CreatedAt, UpdatedAt: w.UpdatedAt,
	}
	if w.Value != nil {
		v.Value = *w.Value
	}
	return nil
}

// CreateEnvironmentVariableRequest describes a new variable. SchemaName ""
// lets the server derive one from DisplayName. Set Value for TypeText (it is
// sent even when empty), SecretRef for TypeSecret.
type CreateEnvironmentVariableRequest struct {
	SchemaName  string
	DisplayName string
	Description string
	Type        VariableType
	Value       string
	SecretRef   *SecretRef
}

// MarshalJSON writes the request as the API reads it: "value" only for a
// text variable.
func (r CreateEnvironmentVariableRequest) MarshalJSON() ([]byte, error) {
	w := struct {
		SchemaName  string       `json:"schemaName,omitempty"`
		DisplayName string       `json:"displayName"`
		Description string       `json:"description,omitempty"`
		Type        VariableType `json:"type"`
		Value       *string      `json:"value,omitempty"`
		SecretRef   *SecretRef   `json:"secretRef,omitempty"`
	}{r.SchemaName, r.DisplayName, r.Description, r.Type, nil, r.SecretRef}
	if r.Type == TypeText {
		w.Value = &r.Value
	}
	return json.Marshal(w)
}

// UpdateEnvironmentVariableRequest changes the fields that are not nil.
type UpdateEnvironmentVariableRequest struct {
	DisplayName *string    `json:"displayName,omitempty"`
	Description *string    `json:"description,omitempty"`
	Value       *string    `json:"value,omitempty"`
	SecretRef   *SecretRef `json:"secretRef,omitempty"`
}

// EnvironmentVariableDependencies lists what uses a variable: the
// credentials, and the connections through those credentials.
type EnvironmentVariableDependencies struct {
	Credentials []Dependent `json:"credentials"`
	Connections []Dependent `json:"connections"`
}

const envVarsPath = "/api/v1/environment-variables"

// CreateEnvironmentVariable creates a variable. Saving a secret variable
// makes the server check that the referenced secret exists and is readable.
func (c *Client) CreateEnvironmentVariable(ctx context.Context, req CreateEnvironmentVariableRequest) (*EnvironmentVariable, error) {
	var v EnvironmentVariable
	if err := c.do(ctx, http.MethodPost, envVarsPath, req, &v); err != nil {
		return nil, err
	}
	return &v, nil
}

// ListEnvironmentVariables returns one page of the variables the caller may
// see, optionally of one type only.
func (c *Client) ListEnvironmentVariables(ctx context.Context, opts ListOptions) (*Page[EnvironmentVariable], error) {
	var p Page[EnvironmentVariable]
	if err := c.do(ctx, http.MethodGet, envVarsPath+opts.query(true), nil, &p); err != nil {
		return nil, err
	}
	return &p, nil
}

// GetEnvironmentVariable returns the variable with this id or schema name.
func (c *Client) GetEnvironmentVariable(ctx context.Context, idOrSchemaName string) (*EnvironmentVariable, error) {
	if err := need("environment variable id or schema name", idOrSchemaName); err != nil {
		return nil, err
	}
	var v EnvironmentVariable
	if err := c.do(ctx, http.MethodGet, envVarsPath+"/"+escape(idOrSchemaName), nil, &v); err != nil {
		return nil, err
	}
	return &v, nil
}

// UpdateEnvironmentVariable changes the fields of req that are set and
// returns the variable as saved.
func (c *Client) UpdateEnvironmentVariable(ctx context.Context, idOrSchemaName string, req UpdateEnvironmentVariableRequest) (*EnvironmentVariable, error) {
	if err := need("environment variable id or schema name", idOrSchemaName); err != nil {
		return nil, err
	}
	var v EnvironmentVariable
	if err := c.do(ctx, http.MethodPatch, envVarsPath+"/"+escape(idOrSchemaName), req, &v); err != nil {
		return nil, err
	}
	return &v, nil
}

// DeleteEnvironmentVariable deletes a variable. The server refuses (409
// in_use) while a credential uses it.
func (c *Client) DeleteEnvironmentVariable(ctx context.Context, idOrSchemaName string) error {
	if err := need("environment variable id or schema name", idOrSchemaName); err != nil {
		return err
	}
	return c.do(ctx, http.MethodDelete, envVarsPath+"/"+escape(idOrSchemaName), nil, nil)
}

// EnvironmentVariableDependencies lists the credentials and connections that
// use a variable.
func (c *Client) EnvironmentVariableDependencies(ctx context.Context, idOrSchemaName string) (*EnvironmentVariableDependencies, error) {
	if err := need("environment variable id or schema name", idOrSchemaName); err != nil {
		return nil, err
	}
	var d EnvironmentVariableDependencies
	if err := c.do(ctx, http.MethodGet, envVarsPath+"/"+escape(idOrSchemaName)+"/dependencies", nil, &d); err != nil {
		return nil, err
	}
	return &d, nil
}

// VariableAccess answers who can use a variable, and by which path.
type VariableAccess struct {
	Variable     string               `json:"variable"`
	Principals   []VariableAccessPath `json:"principals"`
	RunnerGroups []RunnerGroupAccess  `json:"runnerGroups"`
}

// VariableAccessPath is one principal that can use a variable, by one path.
type VariableAccessPath struct {
	Principal string     `json:"principal"`
	Role      ShareRole  `json:"role"`
	ExpiresAt *time.Time `json:"expiresAt,omitempty"`
	// ThroughGroup names the group ("group:<name>") whose share a user
	// holds it through.
	ThroughGroup string `json:"throughGroup,omitempty"`
	// ViaCredential names the credential whose share gave the share.
	ViaCredential string `json:"viaCredential,omitempty"`
	// InstanceRole is "admin" for a user who holds every right by it.
	InstanceRole string `json:"instanceRole,omitempty"`
	// Path says the whole path in words.
	Path string `json:"path"`
}

// RunnerGroupAccess is a runner group that reaches a variable through a
// connection; CanResolve says whether it can now, Reason why not.
type RunnerGroupAccess struct {
	RunnerGroup string `json:"runnerGroup"`
	Connection  string `json:"connection"`
	Credential  string `json:"credential"`
	Owner       string `json:"owner"`
	CanResolve  bool   `json:"canResolve"`
	Reason      string `json:"reason,omitempty"`
	Path        string `json:"path"`
}

// EnvironmentVariableAccess lists every principal that can use a variable
// and every runner group that reaches it through a connection, each with
// the path that grants it. Owners, co-owners and admins may ask.
func (c *Client) EnvironmentVariableAccess(ctx context.Context, idOrSchemaName string) (*VariableAccess, error) {
	if err := need("environment variable id or schema name", idOrSchemaName); err != nil {
		return nil, err
	}
	var a VariableAccess
	if err := c.do(ctx, http.MethodGet, envVarsPath+"/"+escape(idOrSchemaName)+"/access", nil, &a); err != nil {
		return nil, err
	}
	return &a, nil
}
