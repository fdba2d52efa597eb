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
	// upload, when set, makes the body multipart/form-data with these
	// parts (files; the first is required) instead of JSON.
	upload []param
	// download, when set, is the media type of a success body that is
	// a file (described as binary).
	download string
	status   int   // the success status
	also     []int // other success statuses with the same body
	resp     any   // the success body's type, nil when none
	// ownBody: the handler bounds its request body itself (an upload, an
	// archive), instead of the API's bound of every body.
	ownBody bool
	// contentType is the media type of resp (default application/json).
	contentType string
	handle      func(w http.ResponseWriter, r *http.Request) error
	// refused, when set, hears of a request refused before handle ran
	// (its path or query is malformed) and returns the error to answer
	// with: for a route that must audit every refusal.
	refused func(r *http.Request, err error) error
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
		{method: "GET", path: "/metrics", summary: "Prometheus metrics (admins; or without a token on serve --metrics-addr)", perm: access.PermAdmin,
			status: 200, resp: "", contentType: "text/plain", handle: a.metrics},

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
		{method: "GET", path: "/api/v1/environment-variables/{id}/access", summary: "Who can use an environment variable, and by which path (owners, co-owners and admins)", perm: access.PermVariableRead,
			status: 200, resp: variableAccessJSON{}, handle: a.variableAccess},

		{method: "POST", path: "/api/v1/credentials", summary: "Create a credential", perm: access.PermCredentialWrite,
			body: createCredentialRequest{}, status: 201, resp: credentialJSON{}, handle: a.createCredential},
		{method: "GET", path: "/api/v1/credentials", summary: "List credentials", perm: access.PermCredentialRead,
			query: pageParams, status: 200, resp: credentialList{}, handle: a.listCredentials},
		{method: "GET", path: "/api/v1/credentials/{id}", summary: "Get a credential by id or name", perm: access.PermCredentialRead,
			status: 200, resp: credentialJSON{}, handle: a.getCredential},
		{method: "PATCH", path: "/api/v1/credentials/{id}", summary: "Rename or describe a credential", perm: access.PermCredentialWrite,
			body: updateCredentialRequest{}, status: 200, resp: credentialJSON{}, handle: a.updateCredential},
		{method: "DELETE", path: "/api/v1/credentials/{id}", summary: "Delete a credential (its variables stay); ?force=true breaks the connections that use it", perm: access.PermCredentialWrite,
			query: []param{{"force", "true: delete even when connections use it, and mark them broken."}}, status: 204, handle: a.deleteCredential},
		{method: "POST", path: "/api/v1/credentials/{id}/disable", summary: "Kill switch: stop every resolve of a credential at once", perm: access.PermCredentialWrite,
			status: 200, resp: credentialJSON{}, handle: a.setCredentialEnabled(false)},
		{method: "POST", path: "/api/v1/credentials/{id}/enable", summary: "Let a disabled credential resolve again", perm: access.PermCredentialWrite,
			status: 200, resp: credentialJSON{}, handle: a.setCredentialEnabled(true)},
		{method: "GET", path: "/api/v1/credentials/{id}/dependencies", summary: "What uses a credential", perm: access.PermCredentialRead,
			status: 200, resp: credentialDependenciesJSON{}, handle: a.credentialDependencies},

		{method: "POST", path: "/api/v1/environment-variables/{id}/owner", summary: "Transfer an environment variable to another user (admins, or holders of the owner role): the user becomes its owner; the previous owner keeps it as co-owner", perm: access.PermVariableWrite,
			body: transferOwnerRequest{}, status: 200, resp: variableJSON{}, handle: transferOwner(a.Variables.TransferOwner, toVariableJSON)},
		{method: "POST", path: "/api/v1/credentials/{id}/owner", summary: "Transfer a credential to another user (admins, or holders of the owner role): the user becomes its owner and gets the use of its two variables; the previous owner keeps it as co-owner", perm: access.PermCredentialWrite,
			body: transferOwnerRequest{}, status: 200, resp: credentialJSON{}, handle: transferOwner(a.Credentials.TransferOwner, toCredentialJSON)},

		{method: "GET", path: "/api/v1/environment-variables/{id}/shares", summary: "Who holds which role on an environment variable", perm: access.PermVariableRead,
			status: 200, resp: shareList{}, handle: listShares(a.Variables)},
		{method: "PUT", path: "/api/v1/environment-variables/{id}/shares/{principal}", summary: "Give a user or group a role on an environment variable", perm: access.PermVariableWrite,
			body: putShareRequest{}, status: 200, resp: shareJSON{}, handle: putShare(a.Variables)},
		{method: "DELETE", path: "/api/v1/environment-variables/{id}/shares/{principal}", summary: "Remove a principal's shares of an environment variable (direct and through credentials)", perm: access.PermVariableWrite,
			status: 204, handle: a.deleteVariableShare},

		{method: "GET", path: "/api/v1/credentials/{id}/shares", summary: "Who holds which role on a credential", perm: access.PermCredentialRead,
			status: 200, resp: shareList{}, handle: listShares(a.Credentials)},
		{method: "PUT", path: "/api/v1/credentials/{id}/shares/{principal}", summary: "Give a user or group a role on a credential (and the use of its variables)", perm: access.PermCredentialWrite,
			body: putShareRequest{}, status: 200, resp: shareJSON{}, handle: putShare(a.Credentials)},
		{method: "DELETE", path: "/api/v1/credentials/{id}/shares/{principal}", summary: "Remove a share of a credential; answers with the shares of its variables the principal still holds", perm: access.PermCredentialWrite,
			query:  []param{{"withVariables", "true: also remove, in the same step, the variable shares this credential share gave (shares given directly or through another credential stay)."}},
			status: 200, resp: unsharedJSON{}, handle: a.deleteCredentialShare},

		{method: "POST", path: "/api/v1/environment-variables/{id}/validate", summary: "Check a variable's secret against its store now, as a save does; completes the validation of a variable imported pending validation", perm: access.PermVariableWrite,
			status: 200, resp: variableJSON{}, handle: a.validateVariable},

		{method: "POST", path: "/api/v1/solutions", summary: "Create an empty solution", perm: access.PermSolutionWrite,
			body: createSolutionRequest{}, status: 201, resp: solutionJSON{}, handle: a.createSolution},
		{method: "GET", path: "/api/v1/solutions", summary: "List your solutions (all, for admins)", perm: access.PermSolutionRead,
			query: pageParams, status: 200, resp: solutionList{}, handle: a.listSolutions},
		{method: "GET", path: "/api/v1/solutions/{id}", summary: "Get a solution by id or name, with its components", perm: access.PermSolutionRead,
			status: 200, resp: solutionJSON{}, handle: a.getSolution},
		{method: "PATCH", path: "/api/v1/solutions/{id}", summary: "Change a solution's version or description", perm: access.PermSolutionWrite,
			body: updateSolutionRequest{}, status: 200, resp: solutionJSON{}, handle: a.updateSolution},
		{method: "POST", path: "/api/v1/solutions/{id}/components", summary: "Add a credential (with its two variables) or a variable to a solution", perm: access.PermSolutionWrite,
			body: addComponentRequest{}, status: 200, resp: solutionJSON{}, handle: a.addSolutionComponent},
		{method: "DELETE", path: "/api/v1/solutions/{id}/components/{kind}/{name}", summary: "Take a component (kind variable or credential) out of a solution", perm: access.PermSolutionWrite,
			status: 200, resp: solutionJSON{}, handle: a.removeSolutionComponent},
		{method: "GET", path: "/api/v1/solutions/{id}/export", summary: "Export a solution as a zip package (deterministic; never a secret value)", perm: access.PermSolutionRead,
			query: []param{{"withoutValues", "true: leave text variables' values out too (deployment settings give them at import)."}}, status: 200, download: "application/zip", handle: a.exportSolution},
		{method: "GET", path: "/api/v1/solutions/{id}/settings", summary: "A deployment-settings template: every variable of the solution with its current value or reference", perm: access.PermSolutionRead,
			status: 200, resp: settingsJSON{}, handle: a.solutionSettings},
		{method: "POST", path: "/api/v1/solutions/import", ownBody: true, summary: "Import a solution package with optional deployment settings: everything is checked first, then written in one transaction", perm: access.PermSolutionWrite,
			query: []param{{"allowDowngrade", "true: let a lower version replace the installed one."},
				{"deferValidation", "true: import secret variables whose store cannot be read now in state pending-validation (grants are checked all the same)."}},
			upload: []param{{"package", "The solution's zip, as exported."}, {"settings", "Deployment settings (JSON) for the target environment."}},
			status: 200, resp: importResultJSON{}, handle: a.importSolution},

		{method: "GET", path: "/api/v1/stores", summary: "List secret stores", perm: access.PermStoreRead,
			status: 200, resp: storeList{}, handle: a.listStores},
		{method: "GET", path: "/api/v1/stores/{store}", summary: "Get a secret store by id or name", perm: access.PermStoreRead,
			status: 200, resp: storeJSON{}, handle: a.getStore},
		{method: "POST", path: "/api/v1/stores", summary: "Register a secret store (its check runs at once; the store is saved even when a step fails)", perm: access.PermAdmin,
			body: createStoreRequest{}, status: 201, resp: storeJSON{}, handle: a.createStore},
		{method: "PATCH", path: "/api/v1/stores/{store}", summary: "Change a store's settings or run-time cache", perm: access.PermAdmin,
			body: updateStoreRequest{}, status: 200, resp: storeJSON{}, handle: a.updateStore},
		{method: "DELETE", path: "/api/v1/stores/{store}", summary: "Remove a store no variable references", perm: access.PermAdmin,
			status: 204, handle: a.deleteStore},
		{method: "POST", path: "/api/v1/stores/{store}/check", summary: "Check a store step by step (reachable, authenticated, right tenant, can read a given secret)", perm: access.PermAdmin,
			body: checkRequest{}, status: 200, resp: checkJSON{}, handle: a.checkStore},
		{method: "GET", path: "/api/v1/stores/{store}/secrets", summary: "List a writable store's secrets (names and versions, never values)", perm: access.PermStoreRead,
			query: pageParams, status: 200, resp: secretList{}, handle: a.listSecrets},
		{method: "PUT", path: "/api/v1/stores/{store}/secrets/{name}", summary: "Write a new version of a secret (write-only); 201 when it creates the secret", perm: access.PermSecretWrite,
			body: putSecretRequest{}, status: 200, also: []int{201}, resp: secretVersionJSON{}, handle: a.putSecret},
		{method: "DELETE", path: "/api/v1/stores/{store}/secrets/{name}", summary: "Delete a secret with all its versions; refused while variables reference it unless ?force=true", perm: access.PermSecretWrite,
			query: []param{{"force", "true: delete even while environment variables reference it (their resolves then fail)."}}, status: 204, handle: a.deleteSecret},

		{method: "GET", path: "/api/v1/stores/{store}/grants", summary: "Who may reference a store's secrets", perm: access.PermAdmin,
			status: 200, resp: grantList{}, handle: a.listGrants},
		{method: "PUT", path: "/api/v1/stores/{store}/grants/{principal}", summary: "Let a user or group reference a store's secrets (optionally those with a name prefix)", perm: access.PermAdmin,
			body: putGrantRequest{}, status: 200, resp: grantJSON{}, handle: a.putGrant},
		{method: "DELETE", path: "/api/v1/stores/{store}/grants/{principal}", summary: "Take a store grant away", perm: access.PermAdmin,
			status: 204, handle: a.deleteGrant},

		{method: "POST", path: "/api/v1/runner-groups", summary: "Create a runner group", perm: access.PermAdmin,
			body: createGroupRequest{}, status: 201, resp: runnerGroupJSON{}, handle: a.createRunnerGroup},
		{method: "GET", path: "/api/v1/runner-groups", summary: "List runner groups", perm: access.PermConnectionRead,
			query: pageParams, status: 200, resp: runnerGroupList{}, handle: a.listRunnerGroups},
		{method: "GET", path: "/api/v1/runner-groups/{group}", summary: "Get a runner group by id or name", perm: access.PermConnectionRead,
			status: 200, resp: runnerGroupJSON{}, handle: a.getRunnerGroup},
		{method: "DELETE", path: "/api/v1/runner-groups/{group}", summary: "Delete a runner group no runner or connection uses", perm: access.PermAdmin,
			status: 204, handle: a.deleteRunnerGroup},

		{method: "POST", path: "/api/v1/connections", summary: "Bind a credential you may use to a runner group", perm: access.PermConnectionWrite,
			body: createConnectionRequest{}, status: 201, resp: connectionJSON{}, handle: a.createConnection},
		{method: "GET", path: "/api/v1/connections", summary: "List your connections (all, for admins), with their status", perm: access.PermConnectionRead,
			query: pageParams, status: 200, resp: connectionList{}, handle: a.listConnections},
		{method: "GET", path: "/api/v1/connections/{id}", summary: "Get a connection by id or name", perm: access.PermConnectionRead,
			status: 200, resp: connectionJSON{}, handle: a.getConnection},
		{method: "DELETE", path: "/api/v1/connections/{id}", summary: "Delete a connection", perm: access.PermConnectionWrite,
			status: 204, handle: a.deleteConnection},
		{method: "POST", path: "/api/v1/connections/{id}/owner", summary: "Transfer a connection to another user (admins, or its owner); the new owner must be able to use its credential and the credential's variables", perm: access.PermConnectionWrite,
			body: transferOwnerRequest{}, status: 200, resp: connectionJSON{}, handle: transferOwner(a.Connections.TransferOwner, toConnectionJSON)},
		{method: "GET", path: "/api/v1/connections/{id}/runners", summary: "Which secret version each runner received last, and when", perm: access.PermConnectionRead,
			status: 200, resp: runnerStateList{}, handle: a.connectionRunners},
		{method: "POST", path: "/api/v1/connections/{id}/resolve", summary: "Runners: get the connection's username and password now", perm: access.PermResolve,
			status: 200, resp: resolvedJSON{}, handle: a.resolveConnection, refused: a.refusedResolve},

		{method: "GET", path: "/api/v1/me", summary: "The caller: name, instance role and groups", perm: access.PermTokenSelf,
			status: 200, resp: meJSON{}, handle: a.me},
		{method: "POST", path: "/api/v1/tokens", summary: "Create an API token (its value is shown once)", perm: access.PermTokenSelf,
			body: createTokenRequest{}, status: 201, resp: createdTokenJSON{}, handle: a.createToken},
		{method: "GET", path: "/api/v1/tokens", summary: "List API tokens (the caller's; admins: ?user= or ?all=true)", perm: access.PermTokenSelf,
			query:  []param{{"user", "Another user's tokens (admins only)."}, {"all", "true: every user's tokens (admins only)."}},
			status: 200, resp: tokenList{}, handle: a.listTokens},
		{method: "DELETE", path: "/api/v1/tokens/{id}", summary: "Revoke an API token", perm: access.PermTokenSelf,
			status: 204, handle: a.revokeToken},

		{method: "POST", path: "/api/v1/users", summary: "Create a user", perm: access.PermAdmin,
			body: createUserRequest{}, status: 201, resp: userJSON{}, handle: a.createUser},
		{method: "GET", path: "/api/v1/users", summary: "List users", perm: access.PermAdmin,
			query: pageParams, status: 200, resp: userList{}, handle: a.listUsers},
		{method: "GET", path: "/api/v1/users/{user}", summary: "Get a user by id or name", perm: access.PermAdmin,
			status: 200, resp: userJSON{}, handle: a.getUser},
		{method: "PATCH", path: "/api/v1/users/{user}", summary: "Change a user's display name or instance role", perm: access.PermAdmin,
			body: updateUserRequest{}, status: 200, resp: userJSON{}, handle: a.updateUser},
		{method: "DELETE", path: "/api/v1/users/{user}", summary: "Delete a user who owns nothing, or ?transferTo= another user everything they own, in one transaction", perm: access.PermAdmin,
			query:  []param{{"transferTo", "A user (user:<name> or a name) who becomes the owner of every credential, environment variable and connection the deleted user owns; each move is audited under the object."}},
			status: 204, handle: a.deleteUser},

		{method: "POST", path: "/api/v1/groups", summary: "Create a group", perm: access.PermAdmin,
			body: createGroupRequest{}, status: 201, resp: groupJSON{}, handle: a.createGroup},
		{method: "GET", path: "/api/v1/groups", summary: "List groups", perm: access.PermAdmin,
			query: pageParams, status: 200, resp: groupList{}, handle: a.listGroups},
		{method: "GET", path: "/api/v1/groups/{group}", summary: "Get a group by id or name", perm: access.PermAdmin,
			status: 200, resp: groupJSON{}, handle: a.getGroup},
		{method: "DELETE", path: "/api/v1/groups/{group}", summary: "Delete a group with its memberships, shares and grants", perm: access.PermAdmin,
			status: 204, handle: a.deleteGroup},
		{method: "GET", path: "/api/v1/groups/{group}/members", summary: "List a group's members", perm: access.PermAdmin,
			status: 200, resp: userList{}, handle: a.listMembers},
		{method: "PUT", path: "/api/v1/groups/{group}/members/{user}", summary: "Add a user to a group", perm: access.PermAdmin,
			status: 204, handle: a.addMember},
		{method: "DELETE", path: "/api/v1/groups/{group}/members/{user}", summary: "Remove a user from a group", perm: access.PermAdmin,
			status: 204, handle: a.removeMember},

		{method: "POST", path: "/api/v1/events/eventgrid", summary: "Azure Event Grid webhook for Key Vault events (Event Grid schema or CloudEvents 1.0); authenticated by the endpoint's key, not a bearer token", public: true,
			query: []param{{"key", "The endpoint's key (or the X-Credflow-Webhook-Key header)."}}, status: 200, resp: eventDeliveryJSON{}, handle: a.eventGrid},
		{method: "OPTIONS", path: "/api/v1/events/eventgrid", summary: "CloudEvents abuse-protection handshake of the Event Grid webhook", public: true,
			query: []param{{"key", "The endpoint's key (or the X-Credflow-Webhook-Key header)."}}, status: 200, handle: a.eventGridOptions},
		{method: "GET", path: "/api/v1/events/status", summary: "Is the event wiring working: per store the last handshake, the last event, counts and the last poll", perm: access.PermAdmin,
			status: 200, resp: eventStatusJSON{}, handle: a.eventStatus},
		{method: "POST", path: "/api/v1/environment-variables/notify-secret-change", summary: "A Key Vault secret has a new version: drop its cached values everywhere and check the connections that use it", perm: access.PermAdmin,
			body: notifySecretChangeRequest{}, status: 200, resp: notifySecretChangeJSON{}, handle: a.notifySecretChange},

		{method: "GET", path: "/api/v1/audit", summary: "Audit records, oldest first (or ?order=newest)", perm: access.PermAdmin,
			query: append([]param{{"actor", "Only this actor."}, {"action", "Only this action, e.g. credential.share."},
				{"resource", "Only this resource, e.g. credential:SQL prod."}, {"from", "From this time (RFC 3339), inclusive."},
				{"to", "Before this time (RFC 3339)."}, {"order", "oldest (default) or newest first."}}, pageParams...),
			status: 200, resp: auditList{}, handle: a.listAudit},
		{method: "GET", path: "/api/v1/audit/verify", summary: "Check the audit trail's chain against the newest checkpoint", perm: access.PermAdmin,
			query:  []param{{"full", "true: check every record, not only those after the newest checkpoint."}},
			status: 200, resp: auditVerifyJSON{}, handle: a.verifyAudit},

		{method: "POST", path: "/api/v1/audit/archive", summary: "The records older than a date (never the newest), with their chain and a sealed end anchor, as JSON lines; nothing is removed until the archive is committed", perm: access.PermAdmin,
			body: auditArchiveRequest{}, status: 200, handle: a.archiveAudit},
		{method: "POST", path: "/api/v1/audit/archive/commit", summary: "Remove the records an archive holds, in one step, once it is safely written: the remaining chain continues from its end anchor", perm: access.PermAdmin,
			body: auditArchiveCommitRequest{}, status: 200, resp: auditArchiveCommitJSON{}, handle: a.commitAuditArchive},
		{method: "POST", path: "/api/v1/audit/archive/verify", ownBody: true, summary: "Check an archive (the request body, JSON lines) on its own: its anchors' seals, every record's link, its count", perm: access.PermAdmin,
			status: 200, resp: auditArchiveVerifyJSON{}, handle: a.verifyAuditArchive},

		{method: "POST", path: "/api/v1/admin/backup", summary: "A consistent copy of the SQLite database, taken while the server serves, with the audit checkpoints (a tar file; PostgreSQL: use pg_dump)", perm: access.PermAdmin,
			status: 200, handle: a.backup},
		{method: "POST", path: "/api/v1/admin/master-key/rotate", summary: "Rewrap every data key (and the audit key) under a new master key read from a file on the server's machine, in batches while the server serves; run it again to resume an interrupted rotation", perm: access.PermAdmin,
			body: rotateMasterKeyRequest{}, status: 200, resp: rotateMasterKeyJSON{}, handle: a.rotateMasterKey},
	}
}
