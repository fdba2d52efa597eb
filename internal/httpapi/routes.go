package httpapi

import (
	"net/http"

	"github.com/credflow/credflow/internal/access"
)

// route is one entry of the API: its method and path, who may call it, and
// the shapes the OpenAPI document describes.
type route struct {
	method  string
	path    string
	summary string
	public  bool              // no authentication at all
	perm    access.Permission // what an authenticated caller must hold
	query   []param
	body    any // the request body's type, nil when none
	status  int // the success status
	resp    any // the success body's type, nil when none
	handle  func(w http.ResponseWriter, r *http.Request) error
}

type param struct {
	name, description string
}

var pageParams = []param{
	{"limit", "Page size, 1 to 200 (default 50)."},
	{"cursor", "The nextCursor of the previous page."},
}

// routes is the route table: every route the API serves, and nothing else.
func (a *API) routes() []route {
	return []route{
		{method: "GET", path: "/healthz", summary: "Process is up", public: true, status: 200, resp: healthJSON{}, handle: a.healthz},
		{method: "GET", path: "/readyz", summary: "Database reachable and stores unsealed", public: true, status: 200, resp: readyJSON{}, handle: a.readyz},
		{method: "GET", path: "/openapi.json", summary: "This API's OpenAPI document", public: true, status: 200, resp: map[string]any{}, handle: a.openAPI},

		{method: "POST", path: "/api/v1/environment-variables", summary: "Create an environment variable", perm: access.PermVariableWrite,
			body: createVariableRequest{}, status: 201, resp: variableJSON{}, handle: a.createVariable},
		{method: "GET", path: "/api/v1/environment-variables", summary: "List environment variables", perm: access.PermVariableRead,
			query: append([]param{{"type", "Only variables of this type: text or secret."}}, pageParams...), status: 200, resp: variableList{}, handle: a.listVariables},
		{method: "GET", path: "/api/v1/environment-variables/{id}", summary: "Get an environment variable by id or schema name", perm: access.PermVariableRead,
			status: 200, resp: variableJSON{}, handle: a.getVariable},
		{method: "PATCH", path: "/api/v1/environment-variables/{id}", summary: "Update an environment variable", perm: access.PermVariableWrite,
			body: updateVariableRequest{}, status: 200, resp: variableJSON{}, handle: a.updateVariable},
		{method: "DELETE", path: "/api/v1/environment-variables/{id}", summary: "Delete an environment variable no credential uses", perm: access.PermVariableWrite,
			status: 204, handle: a.deleteVariable},
		{method: "GET", path: "/api/v1/environment-variables/{id}/dependencies", summary: "What uses an environment variable", perm: access.PermVariableRead,
			status: 200, resp: variableDependenciesJSON{}, handle: a.variableDependencies},

		{method: "POST", path: "/api/v1/credentials", summary: "Create a credential", perm: access.PermCredentialWrite,
			body: createCredentialRequest{}, status: 201, resp: credentialJSON{}, handle: a.createCredential},
		{method: "GET", path: "/api/v1/credentials", summary: "List credentials", perm: access.PermCredentialRead,
			query: pageParams, status: 200, resp: credentialList{}, handle: a.listCredentials},
		{method: "GET", path: "/api/v1/credentials/{id}", summary: "Get a credential by id or name", perm: access.PermCredentialRead,
			status: 200, resp: credentialJSON{}, handle: a.getCredential},
		{method: "PATCH", path: "/api/v1/credentials/{id}", summary: "Rename or describe a credential", perm: access.PermCredentialWrite,
			body: updateCredentialRequest{}, status: 200, resp: credentialJSON{}, handle: a.updateCredential},
		{method: "DELETE", path: "/api/v1/credentials/{id}", summary: "Delete a credential (its variables stay)", perm: access.PermCredentialWrite,
			status: 204, handle: a.deleteCredential},
		{method: "GET", path: "/api/v1/credentials/{id}/dependencies", summary: "What uses a credential", perm: access.PermCredentialRead,
			status: 200, resp: credentialDependenciesJSON{}, handle: a.credentialDependencies},

		{method: "GET", path: "/api/v1/stores", summary: "List secret stores", perm: access.PermStoreRead,
			status: 200, resp: storeList{}, handle: a.listStores},
		{method: "GET", path: "/api/v1/stores/{store}", summary: "Get a secret store by id or name", perm: access.PermStoreRead,
			status: 200, resp: storeJSON{}, handle: a.getStore},
		{method: "GET", path: "/api/v1/stores/{store}/secrets", summary: "List a writable store's secrets (names and versions, never values)", perm: access.PermStoreRead,
			query: pageParams, status: 200, resp: secretList{}, handle: a.listSecrets},
		{method: "PUT", path: "/api/v1/stores/{store}/secrets/{name}", summary: "Write a new version of a secret (write-only)", perm: access.PermSecretWrite,
			body: putSecretRequest{}, status: 200, resp: secretVersionJSON{}, handle: a.putSecret},
		{method: "DELETE", path: "/api/v1/stores/{store}/secrets/{name}", summary: "Delete a secret with all its versions", perm: access.PermSecretWrite,
			status: 204, handle: a.deleteSecret},
	}
}
