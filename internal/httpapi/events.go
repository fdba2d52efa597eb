package httpapi

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"regexp"
	"time"

	"github.com/credflow/credflow/internal/events"
	"github.com/credflow/credflow/internal/rotation"
	"github.com/credflow/credflow/internal/validation"
)

// webhookKeyHeader carries the Event Grid endpoint's key when it is not in
// the query (key=).
const webhookKeyHeader = "X-Credflow-Webhook-Key"

var errWebhookKey = &requestError{status: http.StatusUnauthorized, code: "unauthenticated",
	detail: "The delivery carries no valid endpoint key: pass it as the key query parameter or the " + webhookKeyHeader + " header."}

var errNoWebhookKeys = &requestError{status: http.StatusUnauthorized, code: "unauthenticated",
	detail: "The Event Grid endpoint has no key configured (--eventgrid-key-file or CREDFLOW_EVENTGRID_KEY), so it accepts no delivery."}

var errWebhookAuth = &requestError{status: http.StatusUnauthorized, code: "unauthenticated",
	detail: "The delivery carries no valid endpoint key (the key query parameter or the " + webhookKeyHeader +
		" header) and no valid Microsoft Entra token (Authorization: Bearer) from the configured issuer for the configured audience."}

// authenticateDelivery accepts a delivery that carries one of the
// endpoint's keys or, when Entra-secured delivery is configured, a valid
// bearer JWT. Why a token failed goes to the log, never to the caller.
func (a *API) authenticateDelivery(r *http.Request) error {
	if a.EventGridJWT == nil {
		if !a.Events.HasKeys() {
			return errNoWebhookKeys
		}
		if !a.Events.Authenticate(webhookKey(r)) {
			return errWebhookKey
		}
		return nil
	}
	if a.Events.HasKeys() && a.Events.Authenticate(webhookKey(r)) {
		return nil
	}
	raw, ok := bearerToken(r)
	if !ok {
		return errWebhookAuth
	}
	if _, err := a.EventGridJWT.Verify(r.Context(), raw); err != nil {
		a.Log.LogAttrs(r.Context(), slog.LevelWarn, "Event Grid delivery refused", slog.String("error", err.Error()))
		return errWebhookAuth
	}
	return nil
}

// webhookKey returns the key a delivery carries.
func webhookKey(r *http.Request) string {
	if k := r.URL.Query().Get("key"); k != "" {
		return k
	}
	return r.Header.Get(webhookKeyHeader)
}

type eventDeliveryJSON struct {
	Accepted  int `json:"accepted"`
	Ignored   int `json:"ignored"`
	Duplicate int `json:"duplicate"`
}

type validationResponseJSON struct {
	ValidationResponse string `json:"validationResponse"`
}

// eventGrid receives an Event Grid delivery (the Event Grid schema, or
// CloudEvents 1.0 single or batched). It answers the subscription
// validation, and otherwise only queues the changes: the answer never waits
// for a store, so a storm of events cannot turn into errors that Event Grid
// would retry and multiply.
func (a *API) eventGrid(w http.ResponseWriter, r *http.Request) error {
	if err := a.authenticateDelivery(r); err != nil {
		a.Events.Rejected()
		return err
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, events.MaxBody))
	if err != nil {
		a.Events.Rejected()
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return mbe
		}
		return badRequest("", "The request body could not be read.")
	}
	evs, err := events.Parse(body)
	var fe *events.FormatError
	if errors.As(err, &fe) {
		a.Events.Rejected()
		return badRequest(fe.Field, "Not an Event Grid delivery: "+fe.Error()+".")
	}
	if err != nil {
		return err
	}
	for _, e := range evs {
		if e.Type == events.TypeValidation {
			code := e.ValidationCode()
			if code == "" {
				a.Events.Rejected()
				return badRequest("data.validationCode", "A subscription validation event must carry data.validationCode.")
			}
			a.Events.Handshake("SubscriptionValidation", e.Source)
			writeJSON(w, http.StatusOK, validationResponseJSON{ValidationResponse: code})
			return nil
		}
	}
	sum := a.Events.Deliver(evs, rotation.SourceEventGrid)
	writeJSON(w, http.StatusOK, eventDeliveryJSON{Accepted: sum.Accepted, Ignored: sum.Ignored, Duplicate: sum.Duplicate})
	return nil
}

// eventGridOptions answers the CloudEvents webhook abuse-protection
// handshake: Event Grid asks, with WebHook-Request-Origin, whether it may
// deliver here. The answer is yes whoever asks, since every delivery needs
// the endpoint's key anyway (and a subscription that sends the key in a
// header may not send it with the handshake); only a handshake that carries
// a valid key counts in the event status.
func (a *API) eventGridOptions(w http.ResponseWriter, r *http.Request) error {
	origin := r.Header.Get("WebHook-Request-Origin")
	if origin == "" {
		return &requestError{status: http.StatusBadRequest, code: "invalid_request", field: "WebHook-Request-Origin",
			detail: "An abuse-protection handshake carries the WebHook-Request-Origin header."}
	}
	if a.Events.Authenticate(webhookKey(r)) {
		a.Events.Handshake("OPTIONS", "")
	}
	w.Header().Set("WebHook-Allowed-Origin", origin)
	w.Header().Set("WebHook-Allowed-Rate", "*")
	w.Header().Set("Allow", "POST, OPTIONS")
	w.WriteHeader(http.StatusOK)
	return nil
}

type eventEndpointJSON struct {
	KeysConfigured bool `json:"keysConfigured"`
	// EntraSecured: Microsoft Entra-secured deliveries are accepted too.
	EntraSecured      bool       `json:"entraSecured"`
	LastHandshake     *time.Time `json:"lastHandshake,omitempty"`
	LastHandshakeKind string     `json:"lastHandshakeKind,omitempty"`
	// Accepted, Ignored and Duplicate count events; Rejected counts
	// deliveries refused (no valid key, malformed, too large).
	Accepted  int64 `json:"accepted"`
	Ignored   int64 `json:"ignored"`
	Duplicate int64 `json:"duplicate"`
	Rejected  int64 `json:"rejected"`
	Pending   int   `json:"pending"`
}

type eventStoreJSON struct {
	Store         string     `json:"store"`
	LastHandshake *time.Time `json:"lastHandshake,omitempty"`
	LastEvent     *time.Time `json:"lastEvent,omitempty"`
	LastEventType string     `json:"lastEventType,omitempty"`
	Accepted      int64      `json:"accepted"`
	Ignored       int64      `json:"ignored"`
	Duplicate     int64      `json:"duplicate"`
	// Rejected counts the changes that could not be applied, and the
	// expiry notices dropped when the queue was full.
	Rejected int64      `json:"rejected"`
	LastPoll *time.Time `json:"lastPoll,omitempty"`
}

// propagationJSON is one secret's last new version and the first run that
// received it.
type propagationJSON struct {
	Store     string    `json:"store"`
	Secret    string    `json:"secret"`
	ChangedAt time.Time `json:"changedAt"`
	Source    string    `json:"source,omitempty"`
	// The first resolve after the change; absent while no run received
	// the secret since.
	ReachedAt  *time.Time `json:"reachedAt,omitempty"`
	LatencyMs  *float64   `json:"latencyMs,omitempty"`
	Version    string     `json:"version,omitempty"`
	Runner     string     `json:"runner,omitempty"`
	Connection string     `json:"connection,omitempty"`
}

type eventStatusJSON struct {
	Endpoint    eventEndpointJSON `json:"endpoint"`
	Stores      []eventStoreJSON  `json:"stores"`
	Propagation []propagationJSON `json:"propagation"`
}

// recentPropagations is how many secrets' last changes the status lists.
const recentPropagations = 50

func optTime(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	return &t
}

// eventStatus says whether the wiring works: the last handshake, the last
// event and its type, and the counts, per store.
func (a *API) eventStatus(w http.ResponseWriter, r *http.Request) error {
	var names []string
	for _, info := range a.Stores.List() {
		names = append(names, info.Name)
	}
	ep, stores := a.Events.Status(names)
	out := eventStatusJSON{Endpoint: eventEndpointJSON{KeysConfigured: ep.KeysConfigured, EntraSecured: a.EventGridJWT != nil, LastHandshake: optTime(ep.LastHandshake),
		LastHandshakeKind: ep.LastHandshakeKind, Accepted: ep.Accepted, Ignored: ep.Ignored, Duplicate: ep.Duplicate,
		Rejected: ep.Rejected, Pending: ep.Pending}, Stores: []eventStoreJSON{}}
	for _, s := range stores {
		out.Stores = append(out.Stores, eventStoreJSON{Store: s.Store, LastHandshake: optTime(s.LastHandshake), LastEvent: optTime(s.LastEvent),
			LastEventType: s.LastEventType, Accepted: s.Accepted, Ignored: s.Ignored, Duplicate: s.Duplicate,
			Rejected: s.Failed + s.Overflow, LastPoll: optTime(s.LastPoll)})
	}
	recent, err := a.Propagation.Recent(r.Context(), recentPropagations)
	if err != nil {
		return err
	}
	out.Propagation = []propagationJSON{}
	for _, p := range recent {
		pj := propagationJSON{Store: p.Store, Secret: p.Secret, ChangedAt: p.ChangedAt, Source: string(p.Source)}
		if rc := p.Reached; rc != nil {
			ms := float64(rc.Latency().Microseconds()) / 1000
			pj.ReachedAt, pj.LatencyMs, pj.Version, pj.Runner, pj.Connection = &rc.At, &ms, rc.Version, rc.Runner, rc.Connection
		}
		out.Propagation = append(out.Propagation, pj)
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

type notifySecretChangeRequest struct {
	// KeyVaultURL is the vault's URL or its resource id (an event's topic).
	KeyVaultURL string `json:"keyVaultUrl"`
	SecretName  string `json:"secretName"`
}

type notifiedStoreJSON struct {
	Store       string   `json:"store"`
	Variables   []string `json:"variables"`
	Connections []string `json:"connections"`
}

type notifySecretChangeJSON struct {
	Stores []notifiedStoreJSON `json:"stores"`
}

var keyVaultSecretName = regexp.MustCompile(`^[0-9A-Za-z-]{1,127}$`)

// notifySecretChange applies a new version announced by hand (or by
// automation that receives Key Vault events another way) at once, on every
// store that reads the vault.
func (a *API) notifySecretChange(w http.ResponseWriter, r *http.Request) error {
	var req notifySecretChangeRequest
	if err := decodeJSON(r, &req); err != nil {
		return err
	}
	var ve validation.Error
	if req.KeyVaultURL == "" {
		ve.Add("keyVaultUrl", "is required: the vault's URL (https://{vault}.vault.azure.net) or its resource id")
	}
	if !keyVaultSecretName.MatchString(req.SecretName) {
		ve.Add("secretName", "must be a Key Vault secret name: 1 to 127 letters, digits and '-'")
	}
	if err := ve.Err(); err != nil {
		return err
	}
	stores := a.Vaults.StoresOf(req.KeyVaultURL)
	if len(stores) == 0 {
		return &requestError{status: http.StatusUnprocessableEntity, code: "store_not_found", field: "keyVaultUrl",
			detail: fmt.Sprintf("No registered store reads the vault %q.", req.KeyVaultURL)}
	}
	out := notifySecretChangeJSON{Stores: []notifiedStoreJSON{}}
	for _, name := range stores {
		res, err := a.Rotation.SecretChanged(r.Context(), rotation.Change{Store: name, Secret: req.SecretName,
			Kind: rotation.NewVersion, Source: rotation.SourceNotification, Actor: principal(r).Name})
		if err != nil {
			return err
		}
		out.Stores = append(out.Stores, notifiedStoreJSON{Store: res.Store, Variables: orEmpty(res.Variables), Connections: orEmpty(res.Connections)})
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

func orEmpty(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}
