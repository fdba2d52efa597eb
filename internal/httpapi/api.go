// Package httpapi is credflow's REST API: one route table, handlers per
// resource, strict JSON decoding, authentication and authorization on every
// route that is not declared public, and one place (problem.go) where errors
// become RFC 9457 problem responses. It calls domain services and never
// reaches SQL or a store's SDK itself.
package httpapi

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"net"
	"net/http"
	"net/url"
	"regexp"
	"runtime"
	"runtime/debug"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/credflow/credflow/internal/access"
	"github.com/credflow/credflow/internal/audit"
	"github.com/credflow/credflow/internal/connection"
	"github.com/credflow/credflow/internal/credential"
	"github.com/credflow/credflow/internal/envvar"
	"github.com/credflow/credflow/internal/events"
	"github.com/credflow/credflow/internal/logging"
	"github.com/credflow/credflow/internal/metrics"
	"github.com/credflow/credflow/internal/rotation"
	"github.com/credflow/credflow/internal/secretstore"
	"github.com/credflow/credflow/internal/solution"
	"github.com/credflow/credflow/internal/storeadmin"
	"github.com/credflow/credflow/internal/storesecret"
)

// Pinger checks that the metadata database answers.
type Pinger interface {
	Ping(ctx context.Context) error
}

// AuditLog reads the audit trail.
type AuditLog interface {
	List(ctx context.Context, f audit.Filter) ([]audit.Record, error)
	Verify(ctx context.Context, opts audit.VerifyOptions) (audit.Verification, error)
	Archive(ctx context.Context, before time.Time, w io.Writer) (audit.Checkpoint, error)
	CommitArchive(ctx context.Context, actor string, end audit.Checkpoint) (int64, error)
	VerifyArchive(r io.Reader) (audit.ArchiveVerification, error)
}

// API holds what the handlers need. Every field is required.
type API struct {
	Access      *access.Service
	Variables   *envvar.Service
	Credentials *credential.Service
	Solutions   *solution.Service
	Connections *connection.Service
	Stores      *secretstore.Registry
	StoreAdmin  *storeadmin.Service
	Secrets     *storesecret.Service
	DB          Pinger
	Audit       AuditLog
	Backup      Backuper
	MasterKey   KeyRotator
	// SignIns counts failed sign-ins per client address, audits them and
	// refuses an address's failing requests past its limit.
	SignIns *access.SignInGuard
	// Events receives Event Grid deliveries; Rotation applies secret
	// changes; Propagation says how long they took to reach a run; Vaults
	// finds the stores that read a Key Vault.
	Events      *events.Receiver
	Rotation    *rotation.Service
	Propagation *rotation.Propagation
	Vaults      events.Stores
	// EventGridJWT, when set, verifies Microsoft Entra-secured Event Grid
	// deliveries (a bearer JWT), accepted besides the endpoint's keys.
	EventGridJWT JWTVerifier
	// Log receives the API's lines; a line written for a request carries
	// its id (logging.New). AccessLog adds one line per request.
	Log       *slog.Logger
	AccessLog bool
	Version   string
	// Metrics counts requests and resolves and serves GET /metrics.
	Metrics *metrics.Metrics
	// MaxBody bounds every request body, in bytes (0: 1 MiB).
	MaxBody int64
}

// JWTVerifier checks a bearer JWT; *access.OIDC implements it.
type JWTVerifier interface {
	Verify(ctx context.Context, rawJWT string) (access.Identity, error)
}

type principalKey struct{}

// principal returns the authenticated caller of a non-public route.
func principal(r *http.Request) access.Principal {
	p, _ := r.Context().Value(principalKey{}).(access.Principal)
	return p
}

// limitBody bounds the request bodies h reads to max bytes.
func limitBody(h http.Handler, max int64) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		r.Body = http.MaxBytesReader(w, r.Body, max)
		h.ServeHTTP(w, r)
	})
}

var requestIDRule = regexp.MustCompile(`^[A-Za-z0-9._-]{1,64}$`)

// Handler returns the API's HTTP handler.
func (a *API) Handler() http.Handler {
	routes := a.routes()
	maxBody := a.MaxBody
	if maxBody <= 0 {
		maxBody = defaultMaxBody
	}
	mux := http.NewServeMux()
	// byPath answers, for a request no route matched, whether its path exists
	// with other methods (405) or not at all (404).
	byPath := http.NewServeMux()
	allowed := map[string][]string{}
	for _, rt := range routes {
		h := a.wrap(rt)
		if !rt.ownBody {
			h = limitBody(h, maxBody)
		}
		mux.Handle(rt.method+" "+rt.path, h)
		if _, ok := allowed[rt.path]; !ok {
			byPath.Handle(rt.path, http.NotFoundHandler())
		}
		allowed[rt.path] = append(allowed[rt.path], rt.method)
	}
	// What no route matches: a path served for other methods (405), or none.
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		if _, p := byPath.Handler(r); p != "" {
			w.Header().Set("Allow", strings.Join(allowed[p], ", "))
			a.fail(w, r, &requestError{status: http.StatusMethodNotAllowed, code: "method_not_allowed",
				detail: r.Method + " is not allowed here; use " + strings.Join(allowed[p], " or ") + "."})
			return
		}
		a.fail(w, r, &requestError{status: http.StatusNotFound, code: "not_found", detail: "No such API route: " + r.URL.Path})
	})
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rid := r.Header.Get("X-Request-Id")
		if !requestIDRule.MatchString(rid) {
			rid = newRequestID()
		}
		w.Header().Set("X-Request-Id", rid)
		ctx := logging.WithRequestID(r.Context(), rid)
		client, _, err := net.SplitHostPort(r.RemoteAddr)
		if err != nil {
			client = r.RemoteAddr
		}
		r = r.WithContext(audit.WithRequest(ctx, audit.Request{RequestID: rid, Client: client}))
		rec := &statusRecorder{ResponseWriter: w, status: http.StatusOK}
		start := time.Now()
		mux.ServeHTTP(rec, r)
		// The mux set the route's pattern (or "/", no route) on r: a
		// bounded label, unlike the path.
		a.Metrics.Request(r.Pattern, rec.status)
		if a.AccessLog {
			a.Log.LogAttrs(r.Context(), slog.LevelInfo, "request",
				slog.String("method", r.Method), slog.String("path", r.URL.Path),
				slog.Int("status", rec.status), slog.Duration("duration", time.Since(start)))
		}
	})
}

// wrap adds authentication, authorization, the check of the path's
// parameters and the query, and error rendering to a route.
func (a *API) wrap(rt route) http.Handler {
	params := pathParams(rt.path)
	paged := slices.ContainsFunc(rt.query, func(q param) bool { return q.name == "cursor" })
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer a.contain(w, r)
		if !rt.public {
			p, err := a.authenticate(r)
			if err != nil {
				// Only a failed sign-in counts, and only it is ever refused for
				// the address's earlier failures: a valid token always gets in.
				if errors.Is(err, access.ErrUnauthenticated) && a.SignIns != nil {
					if lerr := a.SignIns.Failed(r.Context(), audit.RequestFrom(r.Context()).Client, err.Error()); lerr != nil {
						err = lerr
					}
				}
				a.fail(w, r, err)
				return
			}
			ctx := context.WithValue(r.Context(), principalKey{}, p)
			r = r.WithContext(ctx)
			if err := a.Access.Authorize(ctx, p, rt.perm); err != nil {
				a.fail(w, r, err)
				return
			}
		}
		if err := checkInput(r, params, paged); err != nil {
			if rt.refused != nil {
				err = rt.refused(r, err)
			}
			a.fail(w, r, err)
			return
		}
		if err := rt.handle(w, r); err != nil {
			a.fail(w, r, err)
		}
	})
}

// pathParams lists the names of a route path's parameters.
func pathParams(path string) []string {
	var out []string
	for _, m := range pathParamRule.FindAllStringSubmatch(path, -1) {
		out = append(out, m[1])
	}
	return out
}

// checkInput refuses, naming it, a path parameter or query parameter that is
// not valid UTF-8 or holds a NUL: no name or id can hold either, PostgreSQL
// cannot even compare such text, and a handler must not see it mangled. A
// query string that does not parse is refused too, rather than read in part,
// and so are limit and cursor where the route does not page its answer.
func checkInput(r *http.Request, params []string, paged bool) error {
	for _, name := range params {
		if rule := badText(r.PathValue(name)); rule != "" {
			return badRequest(name, fmt.Sprintf("Path parameter %s %s.", name, rule))
		}
	}
	q, err := url.ParseQuery(r.URL.RawQuery)
	if err != nil {
		return badRequest("", "The query string is not valid: use name=value pairs joined by & and percent-encoding.")
	}
	for _, name := range slices.Sorted(maps.Keys(q)) {
		values := q[name]
		if rule := badText(name); rule != "" {
			return badRequest("", fmt.Sprintf("A query parameter's name %s.", rule))
		}
		for _, v := range values {
			if rule := badText(v); rule != "" {
				return badRequest(name, fmt.Sprintf("Query parameter %s %s.", name, rule))
			}
		}
		if (name == "cursor" || name == "limit") && !paged {
			return badRequest(name, fmt.Sprintf("Query parameter %s is not taken here: this answer is not paged, it holds every item at once.", name))
		}
	}
	return nil
}

// badText says what makes s unfit as a name or id, or "".
func badText(s string) string {
	switch {
	case !utf8.ValidString(s):
		return "is not valid UTF-8 text"
	case strings.IndexByte(s, 0) >= 0:
		return "holds a NUL character, which is not allowed"
	}
	return ""
}

func (a *API) authenticate(r *http.Request) (access.Principal, error) {
	token, ok := bearerToken(r)
	if !ok {
		return access.Principal{}, access.ErrUnauthenticated
	}
	return a.Access.Authenticate(r.Context(), token)
}

// bearerToken returns the token of an "Authorization: Bearer" header.
func bearerToken(r *http.Request) (string, bool) {
	scheme, token, ok := strings.Cut(r.Header.Get("Authorization"), " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return "", false
	}
	return strings.TrimSpace(token), true
}

// fail renders err as a problem; errors the API does not know are logged.
func (a *API) fail(w http.ResponseWriter, r *http.Request, err error) {
	p, known := problemFor(err)
	p.RequestID = logging.RequestID(r.Context())
	if !known {
		a.Log.LogAttrs(r.Context(), slog.LevelError, "request failed", slog.String("error", err.Error()))
	} else if errors.Is(err, secretstore.ErrCorrupt) {
		// Tampering, or a fault of the database: the operator must know at
		// once. The error names the store, secret and version, never a value.
		attrs := []slog.Attr{slog.String("error", err.Error())}
		var se *connection.StoreError
		if errors.As(err, &se) {
			attrs = append(attrs, slog.String("store", se.Store), slog.String("secret", se.Ref))
		}
		a.Log.LogAttrs(r.Context(), slog.LevelError, "stored secret failed its integrity check", attrs...)
	} else if p.Code == "database_unavailable" || p.Code == "database_full" {
		a.Log.LogAttrs(r.Context(), slog.LevelWarn, "database failed", slog.String("error", err.Error()))
	} else if errors.Is(err, access.ErrUnauthenticated) {
		// The reason is for operators only; no error on this path holds a token.
		a.Log.LogAttrs(r.Context(), slog.LevelInfo, "authentication failed", slog.String("reason", err.Error()))
	}
	writeProblem(w, p)
}

// errPanicked stands for a handler's panic in the answer.
var errPanicked = errors.New("handler panicked")

// contain turns a panic in a handler into a 500 problem, logged under the
// request's id with the stack. The panic's value is not logged, only its
// type (or a runtime error's own text, which holds no request data): a
// value built from what the handler was working on could hold a secret.
// A stack trace shows arguments as machine words, not string contents.
func (a *API) contain(w http.ResponseWriter, r *http.Request) {
	v := recover()
	if v == nil {
		return
	}
	if v == http.ErrAbortHandler {
		panic(v)
	}
	what := fmt.Sprintf("value of type %T", v)
	if re, ok := v.(runtime.Error); ok {
		what = re.Error()
	}
	rid := logging.RequestID(r.Context())
	a.Log.LogAttrs(r.Context(), slog.LevelError, "handler panicked",
		slog.String("panic", what), slog.String("stack", string(debug.Stack())))
	if sr, ok := w.(*statusRecorder); ok && sr.wrote {
		// Part of an answer is out: end the connection rather than let
		// the client take it for a whole one.
		panic(http.ErrAbortHandler)
	}
	p, _ := problemFor(errPanicked)
	p.RequestID = rid
	writeProblem(w, p)
}

func newRequestID() string {
	var b [12]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

type statusRecorder struct {
	http.ResponseWriter
	status int
	wrote  bool // the header is out
}

func (s *statusRecorder) WriteHeader(code int) {
	s.status, s.wrote = code, true
	s.ResponseWriter.WriteHeader(code)
}

func (s *statusRecorder) Write(b []byte) (int, error) {
	s.wrote = true
	return s.ResponseWriter.Write(b)
}
