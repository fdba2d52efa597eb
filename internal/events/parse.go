// Package events receives Azure Event Grid deliveries of Key Vault events:
// it parses both the Event Grid schema and CloudEvents 1.0 with its own
// tolerant types, authenticates deliveries with the endpoint's keys, queues
// the secret changes they announce (deduplicated by event id and coalesced
// per secret, in a bounded queue) and hands them to the rotation service
// from one worker, keeping the counts an administrator needs to see whether
// the wiring works. It knows no HTTP: the API turns a request into a body,
// a key and a content type. Events carry names only; nothing here ever sees
// a secret value.
package events

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// Event types credflow reads.
const (
	TypeValidation       = "Microsoft.EventGrid.SubscriptionValidationEvent"
	TypeSubscriptionGone = "Microsoft.EventGrid.SubscriptionDeletedEvent"
	TypeNewVersion       = "Microsoft.KeyVault.SecretNewVersionCreated"
	TypeNearExpiry       = "Microsoft.KeyVault.SecretNearExpiry"
	TypeExpired          = "Microsoft.KeyVault.SecretExpired"
)

// MaxBody is the largest delivery accepted: Event Grid's own limit.
const MaxBody = 1 << 20

// Event is one event of a delivery, in either schema.
type Event struct {
	ID      string
	Type    string
	Source  string // Event Grid "topic", CloudEvents "source": the vault's resource id
	Subject string // the object's name, for Key Vault events
	Time    time.Time
	// CloudEvent says which schema the event came in.
	CloudEvent bool
	data       fields
}

// KeyVault is the data of a Key Vault object event. Key Vault writes its keys
// in PascalCase; credflow matches them without case and ignores surrounding
// spaces (a published sample has "ObjectName "), and takes NBF and EXP as
// numbers, numeric strings, RFC 3339 strings or null.
type KeyVault struct {
	ID         string // https://{vault}.vault.azure.net/secrets/{name}/{version}
	VaultName  string
	ObjectType string
	ObjectName string
	Version    string
	NotBefore  time.Time // zero when absent or null
	Expires    time.Time // zero when absent or null
}

// KeyVault reads the event's data as a Key Vault event's.
func (e Event) KeyVault() KeyVault {
	d := e.data
	return KeyVault{ID: d.str("id"), VaultName: d.str("vaultname"), ObjectType: d.str("objecttype"),
		ObjectName: d.str("objectname"), Version: d.str("version"), NotBefore: d.epoch("nbf"), Expires: d.epoch("exp")}
}

// ValidationCode is the code of a SubscriptionValidationEvent.
func (e Event) ValidationCode() string { return e.data.str("validationcode") }

// Vault names the vault the event is about: data.VaultName, else the last
// segment of a ".../vaults/{name}" topic, else the first label of the
// object id's host.
func (e Event) Vault() string {
	if v := strings.TrimSpace(e.data.str("vaultname")); v != "" {
		return v
	}
	if v := VaultFromResourceID(e.Source); v != "" {
		return v
	}
	if u, err := url.Parse(e.data.str("id")); err == nil && u.Host != "" {
		return strings.SplitN(u.Hostname(), ".", 2)[0]
	}
	return ""
}

// SecretName is the secret the event is about: data.ObjectName, else the
// subject.
func (e Event) SecretName() string {
	if n := strings.TrimSpace(e.data.str("objectname")); n != "" {
		return n
	}
	return strings.TrimSpace(e.Subject)
}

// VaultFromResourceID returns the vault name of a Key Vault resource id
// (/subscriptions/…/providers/Microsoft.KeyVault/vaults/{name}[/…]), or "".
func VaultFromResourceID(id string) string {
	parts := strings.Split(strings.Trim(id, "/"), "/")
	for i := 0; i+1 < len(parts); i++ {
		if strings.EqualFold(parts[i], "vaults") && i > 0 && strings.EqualFold(parts[i-1], "Microsoft.KeyVault") {
			return parts[i+1]
		}
	}
	return ""
}

// FormatError says why a delivery is not one credflow can read. Field names
// the offending member, e.g. "[2].id".
type FormatError struct {
	Field string
	Rule  string
}

func (e *FormatError) Error() string {
	if e.Field == "" {
		return "event delivery: " + e.Rule
	}
	return fmt.Sprintf("event delivery: %s %s", e.Field, e.Rule)
}

// Parse reads a delivery: a JSON array of events (the Event Grid schema, or
// a CloudEvents batch) or one event (CloudEvents structured mode). Each
// event must have an id and a type; its schema is told by specversion.
func Parse(body []byte) ([]Event, error) {
	body = bytes.TrimSpace(body)
	if len(body) == 0 {
		return nil, &FormatError{Rule: "the body is empty: send a JSON array of events or one CloudEvent"}
	}
	var raws []json.RawMessage
	switch body[0] {
	case '[':
		if err := json.Unmarshal(body, &raws); err != nil {
			return nil, &FormatError{Rule: "is not a JSON array of event objects: " + jsonProblem(err)}
		}
		if len(raws) == 0 {
			return nil, &FormatError{Rule: "the array holds no event"}
		}
	case '{':
		raws = []json.RawMessage{body}
	default:
		return nil, &FormatError{Rule: "is not JSON: send a JSON array of events or one CloudEvent"}
	}
	out := make([]Event, 0, len(raws))
	for i, raw := range raws {
		at := ""
		if body[0] == '[' {
			at = fmt.Sprintf("[%d]", i)
		}
		e, err := parseEvent(raw, at)
		if err != nil {
			return nil, err
		}
		out = append(out, e)
	}
	return out, nil
}

func parseEvent(raw json.RawMessage, at string) (Event, error) {
	f, err := decodeFields(raw)
	if err != nil {
		return Event{}, &FormatError{Field: strings.TrimPrefix(at, "."), Rule: "is not a JSON object: " + jsonProblem(err)}
	}
	e := Event{ID: f.str("id"), CloudEvent: f.has("specversion")}
	typeField, timeField, sourceField := "eventtype", "eventtime", "topic"
	if e.CloudEvent {
		typeField, timeField, sourceField = "type", "time", "source"
		if v := f.str("specversion"); v != "1.0" {
			return Event{}, &FormatError{Field: at + "specversion", Rule: fmt.Sprintf("is %q; credflow reads CloudEvents 1.0", v)}
		}
	}
	e.Type, e.Source, e.Subject = f.str(typeField), f.str(sourceField), f.str("subject")
	if e.ID == "" {
		return Event{}, &FormatError{Field: join(at, "id"), Rule: "is required (a non-empty string)"}
	}
	if e.Type == "" {
		return Event{}, &FormatError{Field: join(at, typeField), Rule: "is required (a non-empty string)"}
	}
	if t, err := time.Parse(time.RFC3339Nano, f.str(timeField)); err == nil {
		e.Time = t
	}
	if d, ok := f["data"]; ok && len(d) > 0 && d[0] == '{' {
		if e.data, err = decodeFields(d); err != nil {
			return Event{}, &FormatError{Field: join(at, "data"), Rule: "is not a JSON object: " + jsonProblem(err)}
		}
	}
	return e, nil
}

func join(at, field string) string {
	if at == "" {
		return field
	}
	return at + "." + field
}

// fields are a JSON object's members by lower-cased, trimmed name.
type fields map[string]json.RawMessage

func decodeFields(raw json.RawMessage) (fields, error) {
	var m map[string]json.RawMessage
	if err := json.Unmarshal(raw, &m); err != nil {
		return nil, err
	}
	if m == nil {
		return nil, fmt.Errorf("null")
	}
	f := make(fields, len(m))
	for k, v := range m {
		f[strings.ToLower(strings.TrimSpace(k))] = v
	}
	return f, nil
}

func (f fields) has(name string) bool { _, ok := f[name]; return ok }

// str returns a string member, "" when absent or not a string.
func (f fields) str(name string) string {
	var s string
	if raw, ok := f[name]; ok {
		_ = json.Unmarshal(raw, &s)
	}
	return s
}

// epoch reads a time given as seconds since the epoch (a number or a
// numeric string) or as an RFC 3339 string; zero when absent, null or
// unreadable: these are informational and never fail a delivery.
func (f fields) epoch(name string) time.Time {
	raw, ok := f[name]
	if !ok {
		return time.Time{}
	}
	var text string
	if err := json.Unmarshal(raw, &text); err != nil {
		text = string(raw) // a number, or null
	}
	text = strings.TrimSpace(text)
	if n, err := strconv.ParseInt(text, 10, 64); err == nil {
		return time.Unix(n, 0).UTC()
	}
	if x, err := strconv.ParseFloat(text, 64); err == nil {
		return time.Unix(int64(x), 0).UTC()
	}
	if t, err := time.Parse(time.RFC3339Nano, text); err == nil {
		return t.UTC()
	}
	return time.Time{}
}

// jsonProblem describes a decoding error without echoing the input.
func jsonProblem(err error) string {
	switch e := err.(type) {
	case *json.SyntaxError:
		return fmt.Sprintf("invalid JSON at byte %d", e.Offset)
	case *json.UnmarshalTypeError:
		return fmt.Sprintf("a %s where an object was expected", e.Value)
	}
	return "invalid JSON"
}
