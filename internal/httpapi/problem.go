package httpapi

import (
	"database/sql/driver"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/credflow/credflow/internal/access"
	"github.com/credflow/credflow/internal/audit"
	"github.com/credflow/credflow/internal/backup"
	"github.com/credflow/credflow/internal/connection"
	"github.com/credflow/credflow/internal/credential"
	"github.com/credflow/credflow/internal/envvar"
	"github.com/credflow/credflow/internal/secretstore"
	"github.com/credflow/credflow/internal/secretstore/builtin"
	"github.com/credflow/credflow/internal/solution"
	"github.com/credflow/credflow/internal/solution/pkgzip"
	"github.com/credflow/credflow/internal/storeadmin"
	"github.com/credflow/credflow/internal/storesecret"
	"github.com/credflow/credflow/internal/validation"
)

// Problem is an RFC 9457 problem details body.
type Problem struct {
	Type      string       `json:"type"`
	Title     string       `json:"title"`
	Status    int          `json:"status"`
	Detail    string       `json:"detail"`
	Code      string       `json:"code"`
	Errors    []FieldError `json:"errors,omitempty"`
	RequestID string       `json:"requestId"`
	// RetryAfter is set, in seconds, when a store asked credflow to wait.
	RetryAfter int `json:"retryAfter,omitempty"`
	// Hint says how to fix the problem, when credflow knows.
	Hint string `json:"hint,omitempty"`
}

// FieldError names a field of the request and the rule it breaks.
type FieldError struct {
	Field   string `json:"field"`
	Message string `json:"message"`
	// Code is the problem code of this error, when the problem gathers
	// several of different kinds (an import's).
	Code string `json:"code,omitempty"`
}

// problemTypeBase starts every problem's type URI; the code completes it.
const problemTypeBase = "urn:credflow:problem:"

func newProblem(status int, code, detail string) Problem {
	return Problem{Type: problemTypeBase + code, Title: http.StatusText(status), Status: status, Code: code, Detail: detail}
}

// requestError is a problem found in the request itself (its body, headers
// or query), before any domain rule runs.
type requestError struct {
	status int
	code   string
	detail string
	field  string
}

func (e *requestError) Error() string { return e.detail }

func badRequest(field, detail string) error {
	return &requestError{status: http.StatusBadRequest, code: "invalid_request", detail: detail, field: field}
}

// sentinelProblems maps the domain's and the stores' sentinel errors to HTTP.
// The first match wins, so more specific errors come first.
var sentinelProblems = []struct {
	err    error
	status int
	code   string
}{
	{access.ErrUnauthenticated, http.StatusUnauthorized, "unauthenticated"},
	{access.ErrForbidden, http.StatusForbidden, "forbidden"},
	{access.ErrStoreNotGranted, http.StatusForbidden, "store_not_granted"},
	{access.ErrLastOwner, http.StatusConflict, "last_owner"},
	{access.ErrNewOwnerLacksAccess, http.StatusConflict, "new_owner_lacks_access"},
	{access.ErrOwnerChanged, http.StatusConflict, "owner_changed"},
	{access.ErrNameTaken, http.StatusConflict, "name_taken"},
	{access.ErrInUse, http.StatusConflict, "in_use"},
	{access.ErrNotFound, http.StatusNotFound, "not_found"},
	{envvar.ErrNotFound, http.StatusNotFound, "not_found"},
	{credential.ErrNotFound, http.StatusNotFound, "not_found"},
	{envvar.ErrNameTaken, http.StatusConflict, "name_taken"},
	{envvar.ErrPendingValidation, http.StatusConflict, "pending_validation"},
	{credential.ErrNameTaken, http.StatusConflict, "name_taken"},
	{credential.ErrPasswordMustBeSecret, http.StatusUnprocessableEntity, "password_must_be_secret"},
	{connection.ErrNotFound, http.StatusNotFound, "not_found"},
	{solution.ErrNotFound, http.StatusNotFound, "not_found"},
	{solution.ErrNameTaken, http.StatusConflict, "name_taken"},
	{solution.ErrDowngrade, http.StatusConflict, "solution_downgrade"},
	{solution.ErrRequired, http.StatusConflict, "in_use"},
	{solution.ErrMissingDependency, http.StatusUnprocessableEntity, "missing_dependency"},
	{connection.ErrNameTaken, http.StatusConflict, "name_taken"},
	{connection.ErrBroken, http.StatusConflict, "connection_broken"},
	{connection.ErrOwnerLostAccess, http.StatusForbidden, "owner_lost_access"},
	{connection.ErrCredentialDisabled, http.StatusLocked, "credential_disabled"},
	{storeadmin.ErrNameTaken, http.StatusConflict, "name_taken"},
	{storeadmin.ErrInUse, http.StatusConflict, "in_use"},
	{storeadmin.ErrBuiltin, http.StatusConflict, "builtin_store"},
	{secretstore.ErrStoreNotFound, http.StatusNotFound, "not_found"},
	{secretstore.ErrNotFound, http.StatusNotFound, "not_found"},
	{secretstore.ErrAmbiguous, http.StatusUnprocessableEntity, "ambiguous_reference"},
	{secretstore.ErrSealed, http.StatusServiceUnavailable, "store_sealed"},
	{secretstore.ErrReadOnly, http.StatusConflict, "store_read_only"},
	{secretstore.ErrCorrupt, http.StatusInternalServerError, "secret_corrupt"},
	{backup.ErrUnsupported, http.StatusConflict, "backup_unsupported"},
	{audit.ErrNothingToArchive, http.StatusConflict, "nothing_to_archive"},
	{audit.ErrKeyUnavailable, http.StatusConflict, "audit_key_unavailable"},
	{audit.ErrChainBroken, http.StatusConflict, "audit_chain_broken"},
	{audit.ErrArchiveInvalid, http.StatusUnprocessableEntity, "archive_invalid"},
	{audit.ErrArchiveStale, http.StatusConflict, "archive_stale"},
	{builtin.ErrRotationInProgress, http.StatusConflict, "rotation_in_progress"},
	{builtin.ErrSameKey, http.StatusConflict, "same_master_key"},
	{builtin.ErrWrongKey, http.StatusConflict, "wrong_master_key"},
}

// secretInUseHint says how to delete a secret that variables reference.
const secretInUseHint = "Change or delete those variables first, or delete the secret anyway with ?force=true: resolves through them will then fail."

// unauthenticatedDetail is the one body every authentication failure gets,
// whatever its cause.
const unauthenticatedDetail = "A valid bearer token is required."

// Explain is problemFor for the other faces of the service (the web
// interface), so that a person reads the same status and words the API
// would answer with. known is false for an error the API does not know,
// which the caller logs.
func Explain(err error) (p Problem, known bool) { return problemFor(err) }

// problemFor decides the HTTP status and body of an error: the one place
// where errors meet HTTP. Unknown errors are 500s whose detail reveals
// nothing; the caller logs them.
func problemFor(err error) (Problem, bool) {
	var (
		re  *requestError
		ve  *validation.Error
		ie  *validation.ImmutableError
		iu  *envvar.InUseError
		ciu *credential.InUseError
		siu *storesecret.InUseError
		sce *envvar.SecretCheckError
		rse *connection.StoreError
		mbe *http.MaxBytesError
		pke *pkgzip.Error
		ime *solution.ImportError
	)
	switch {
	case errors.Is(err, builtin.ErrBadKeyFile):
		p := newProblem(http.StatusUnprocessableEntity, "invalid_key_file", "The new master key file cannot be used: "+sentence(err.Error()))
		p.Errors = []FieldError{{Field: "newKeyFile", Message: "must name a readable key file (base64 of 32 bytes, mode 0600) on the server's machine"}}
		return p, true
	case errors.As(err, &pke):
		p := newProblem(http.StatusBadRequest, pke.Code, sentence("The package is refused, nothing was written: "+pke.Error()))
		field := "package"
		if pke.Entry != "" {
			field = "package:" + pke.Entry
		}
		p.Errors = []FieldError{{Field: field, Message: pke.Detail, Code: pke.Code}}
		return p, true
	case errors.As(err, &ime):
		return importProblem(ime)
	case errors.As(err, &mbe):
		return newProblem(http.StatusRequestEntityTooLarge, "body_too_large",
			fmt.Sprintf("The request body is larger than %d bytes.", mbe.Limit)), true
	case errors.As(err, &re):
		p := newProblem(re.status, re.code, re.detail)
		if re.field != "" {
			p.Errors = []FieldError{{Field: re.field, Message: re.detail}}
		}
		return p, true
	case errors.As(err, &ve):
		p := newProblem(http.StatusUnprocessableEntity, "validation_failed", "")
		msgs := make([]string, len(ve.Fields))
		for i, f := range ve.Fields {
			p.Errors = append(p.Errors, FieldError{Field: f.Field, Message: f.Message})
			msgs[i] = f.Field + " " + f.Message
		}
		p.Detail = "The request breaks these rules: " + strings.Join(msgs, "; ") + "."
		return p, true
	case errors.As(err, &ie):
		p := newProblem(http.StatusConflict, "immutable_field", ie.Hint)
		p.Errors = []FieldError{{Field: ie.Field, Message: "cannot be changed after creation"}}
		return p, true
	case errors.As(err, &iu):
		return newProblem(http.StatusConflict, "in_use", sentence(iu.Error())+" Delete or change those credentials first."), true
	case errors.As(err, &ciu):
		p := newProblem(http.StatusConflict, "in_use", sentence(ciu.Error()))
		return hinted(p, "Delete those connections first, or delete with ?force=true to mark them broken."), true
	case errors.As(err, &siu):
		return hinted(newProblem(http.StatusConflict, "in_use", sentence(siu.Error())), secretInUseHint), true
	case errors.As(err, &sce):
		return storeProblem(sce.Store, sce.Ref, sce.Err, sce.InputName()), true
	case errors.As(err, &rse):
		return storeProblem(rse.Store, rse.Ref, rse.Err, ""), true
	case errors.Is(err, access.ErrUnauthenticated):
		return newProblem(http.StatusUnauthorized, "unauthenticated", unauthenticatedDetail), true
	}
	var sle *access.SignInLimitError
	if errors.As(err, &sle) {
		p := newProblem(http.StatusTooManyRequests, "signin_rate_limited", fmt.Sprintf("Too many failed sign-ins from this address "+
			"(more than %d in a minute): requests that fail to sign in are refused for now. Check the token; a valid one is not refused.", sle.Limit))
		p.RetryAfter = max(1, int(sle.RetryAfter.Seconds()+0.999))
		return p, true
	}
	var te *secretstore.ThrottledError
	if errors.As(err, &te) {
		p := newProblem(http.StatusServiceUnavailable, "store_throttled", "The secret store is throttling requests; try again later.")
		p.RetryAfter = int(te.RetryAfter.Seconds() + 0.999)
		return p, true
	}
	for _, m := range sentinelProblems {
		if errors.Is(err, m.err) {
			return newProblem(m.status, m.code, sentence(nearest(err, m.err))), true
		}
	}
	if databaseFull(err) {
		return newProblem(http.StatusInsufficientStorage, "database_full",
			"credflow's database volume is full: nothing was written. Free space on it; the server recovers by itself."), true
	}
	if databaseUnavailable(err) {
		p := newProblem(http.StatusServiceUnavailable, "database_unavailable",
			"credflow's database could not be reached or dropped the connection (a restart or a failover); try again shortly.")
		p.RetryAfter = 1
		return p, true
	}
	return newProblem(http.StatusInternalServerError, "internal_error",
		"The server failed to handle the request. The server log has the details under this request id."), false
}

// importProblem lists every problem of a refused import, each with the
// code and words the API would give it alone; the status is 403 when every
// problem is a refusal of the importer's rights, else 422.
// A problem the API does not know (a database failure) makes the whole
// answer a 500, logged by the caller.
func importProblem(ime *solution.ImportError) (Problem, bool) {
	p := newProblem(http.StatusUnprocessableEntity, "import_invalid", "")
	denied := true
	msgs := make([]string, len(ime.Problems))
	for i, ip := range ime.Problems {
		sub, known := problemFor(ip.Err)
		if !known {
			return sub, false
		}
		msg := sub.Detail
		if sub.Status != http.StatusForbidden {
			denied = false
		}
		for _, fe := range sub.Errors {
			if !strings.Contains(msg, fe.Message) {
				msg += " (" + fe.Field + ": " + fe.Message + ")"
			}
		}
		p.Errors = append(p.Errors, FieldError{Field: ip.Component, Message: msg, Code: sub.Code})
		msgs[i] = ip.Component + ": " + msg
	}
	if denied {
		p.Status, p.Title = http.StatusForbidden, http.StatusText(http.StatusForbidden)
	}
	p.Detail = fmt.Sprintf("Solution %s was not imported and nothing was changed; %d problem(s): %s", ime.Solution, len(ime.Problems), strings.Join(msgs, " "))
	return p, true
}

// storeProblem explains why a store did not confirm a secret reference
// (saving a variable, whose request named it in input: secretRef or
// fromStore) or did not give its value (resolving: input is ""). It never
// forwards the store's own error text.
func storeProblem(store, ref string, err error, input string) Problem {
	saving := input != ""
	// withField names the request field at fault, when a request named it;
	// field is written for secretRef.
	withField := func(p Problem, field, msg string) Problem {
		if saving {
			p.Errors = []FieldError{{Field: input + strings.TrimPrefix(field, "secretRef"), Message: msg}}
		}
		return p
	}
	var te *secretstore.ThrottledError
	switch {
	case errors.Is(err, secretstore.ErrCorrupt):
		return newProblem(http.StatusInternalServerError, "secret_corrupt",
			fmt.Sprintf("The secret %q in store %q failed its integrity check: its stored data was changed outside credflow. Write the secret again.", ref, store))
	case errors.Is(err, secretstore.ErrStoreNotFound):
		return withField(newProblem(http.StatusUnprocessableEntity, "store_not_found",
			fmt.Sprintf("There is no secret store named %q.", store)), "secretRef.store", "names no registered store")
	case errors.Is(err, secretstore.ErrNotFound):
		return withHint(withField(newProblem(http.StatusUnprocessableEntity, "secret_not_found",
			fmt.Sprintf("The secret %q was not found in store %q.", ref, store)), "secretRef.ref", "names no secret in the store"), err)
	case errors.Is(err, secretstore.ErrAmbiguous):
		matches := "more than one secret"
		var ae *secretstore.AmbiguousError
		if errors.As(err, &ae) && ae.Count > 1 {
			matches = fmt.Sprintf("%d secrets", ae.Count)
		}
		return withHint(withField(newProblem(http.StatusUnprocessableEntity, "ambiguous_reference",
			fmt.Sprintf("The reference %q matches %s in store %q.", ref, matches, store)), "secretRef.ref", "matches "+matches), err)
	case errors.Is(err, secretstore.ErrForbidden) && saving:
		return withHint(newProblem(http.StatusForbidden, "store_access_denied",
			fmt.Sprintf("This variable didn't save properly. User is not authorized to read secrets from '%s'.", ref)), err)
	case errors.Is(err, secretstore.ErrForbidden):
		return withHint(newProblem(http.StatusForbidden, "store_access_denied",
			fmt.Sprintf("credflow is not authorized to read secrets from '%s' in store %q.", ref, store)), err)
	case errors.Is(err, secretstore.ErrNetworkDenied):
		return withHint(newProblem(http.StatusForbidden, "store_network_denied",
			fmt.Sprintf("Store %q refused credflow's network: its firewall does not allow credflow's address.", store)), err)
	case errors.Is(err, secretstore.ErrDisabled):
		return withField(newProblem(http.StatusUnprocessableEntity, "secret_disabled",
			fmt.Sprintf("The secret %q is disabled in store %q.", ref, store)), "secretRef.ref", "names a disabled secret")
	case errors.Is(err, secretstore.ErrSealed):
		return newProblem(http.StatusServiceUnavailable, "store_sealed",
			fmt.Sprintf("Store %q is sealed: its master key is not available, so its secrets cannot be read.", store))
	case errors.Is(err, secretstore.ErrUnauthenticated):
		return withHint(newProblem(http.StatusServiceUnavailable, "store_auth_failed",
			fmt.Sprintf("Store %q refused credflow's own credentials, so no secret can be read from it.", store)), err)
	case errors.Is(err, secretstore.ErrTimeout):
		return newProblem(http.StatusGatewayTimeout, "store_timeout", fmt.Sprintf("Store %q did not answer in time.", store))
	case errors.As(err, &te):
		p := newProblem(http.StatusServiceUnavailable, "store_throttled", fmt.Sprintf("Store %q is throttling requests; try again later.", store))
		p.RetryAfter = int(te.RetryAfter.Seconds() + 0.999)
		return p
	}
	var ce *secretstore.ConnectError
	if errors.As(err, &ce) {
		return withHint(newProblem(http.StatusServiceUnavailable, "store_unavailable",
			fmt.Sprintf("Store %q could not be reached: %s.", store, ce.Detail())), err)
	}
	var h secretstore.Hinter
	if errors.As(err, &h) && h.Hint() != "" {
		return withHint(newProblem(http.StatusServiceUnavailable, "store_unavailable",
			fmt.Sprintf("Store %q could not give the secret %q.", store, ref)), err)
	}
	return newProblem(http.StatusServiceUnavailable, "store_unavailable", fmt.Sprintf("Store %q could not be reached.", store))
}

// withHint adds the fix a store's error suggests (the role to grant, the
// identity credflow used) to the problem: as the hint member and at the end
// of the detail, so that a one-line client shows it too.
func withHint(p Problem, err error) Problem {
	var h secretstore.Hinter
	if errors.As(err, &h) && h.Hint() != "" {
		p = hinted(p, sentence(h.Hint()))
	}
	return p
}

// hinted adds hint, how to fix the problem, as the hint member and at the
// end of the detail. A client with its own words for the fix (the CLI's
// flags) replaces that ending.
func hinted(p Problem, hint string) Problem {
	p.Hint = hint
	p.Detail += " " + hint
	return p
}

// nearest returns the message of the error in err's chain that directly
// wraps target: the context closest to the fact, without the operations
// stacked above it.
func nearest(err, target error) string {
	for e := err; e != nil; e = errors.Unwrap(e) {
		if errors.Unwrap(e) == target {
			return e.Error()
		}
	}
	return target.Error()
}

// sentence capitalises msg and ends it with a full stop.
func sentence(msg string) string {
	r, n := utf8.DecodeRuneInString(msg)
	msg = string(unicode.ToUpper(r)) + msg[n:]
	if !strings.HasSuffix(msg, ".") {
		msg += "."
	}
	return msg
}

func writeProblem(w http.ResponseWriter, p Problem) {
	w.Header().Set("Content-Type", "application/problem+json")
	w.Header().Set("Cache-Control", "no-store")
	if p.Status == http.StatusUnauthorized {
		w.Header().Set("WWW-Authenticate", `Bearer realm="credflow"`)
	}
	if p.RetryAfter > 0 {
		w.Header().Set("Retry-After", fmt.Sprint(p.RetryAfter))
	}
	w.WriteHeader(p.Status)
	_ = json.NewEncoder(w).Encode(p)
}

// databaseUnavailable reports whether err says that the database could not
// be reached or dropped the connection: PostgreSQL's connection exceptions
// (SQLSTATE class 08), its shutdown and start-up refusals (57P01-57P03) and
// too_many_connections (53300), a network failure, or a connection the
// driver found broken. Such a failure passes: it is worth a retry, and is
// not a fault of credflow's. A store's network failure never gets here: it
// is a StoreError, mapped above.
func databaseUnavailable(err error) bool {
	var st interface{ SQLState() string }
	if errors.As(err, &st) {
		code := st.SQLState()
		return strings.HasPrefix(code, "08") || code == "57P01" || code == "57P02" || code == "57P03" || code == "53300"
	}
	var ne *net.OpError
	return errors.As(err, &ne) || errors.Is(err, driver.ErrBadConn)
}

// sqliteFull is SQLite's result code for a full database or disk.
const sqliteFull = 13

// databaseFull reports whether err is SQLite's "database or disk is full"
// (the extended codes keep the primary code in their low byte).
func databaseFull(err error) bool {
	var ce interface{ Code() int }
	return errors.As(err, &ce) && ce.Code()&0xff == sqliteFull
}
