// Package audit defines credflow's audit trail: what a record holds, how a
// record is linked into the chain that makes tampering evident (an HMAC under
// a key derived from the master key; plain SHA-256 for records written before
// the switch), the checkpoints that anchor the chain outside the database,
// and how a chain is verified. Records are written by the metadata
// repositories in the same transaction as the change they describe, so a
// change without its record cannot exist. A record never holds a secret
// value or a token. The package does not know SQL: it reads the chain through
// the Repository it is given.
package audit

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"hash"
	"strconv"
	"time"
)

// Outcomes of an audited action.
const (
	Success = "success"
	Denied  = "denied"
	Failure = "failure"
)

// Entry is what a caller says happened. The repository adds the sequence
// number, the time and the chain hashes.
type Entry struct {
	Actor    string // principal name, or "system"
	Action   string // e.g. "credential.create"
	Resource string // e.g. "credential:SQL prod"
	Outcome  string // Success, Denied or Failure
	Reason   string // why it was denied or failed; never a secret
}

// Record is a stored audit record.
type Record struct {
	Seq  int64
	Time time.Time
	Entry
	RequestID string
	Client    string
	// Link says how Hash was computed: LinkSHA256 or LinkHMAC.
	Link     string
	PrevHash []byte
	Hash     []byte
}

// How a record's link (its Hash) was computed.
const (
	// LinkSHA256 is plain SHA-256: anyone can recompute it. Records written
	// before the chain was keyed, or while the master key was missing.
	LinkSHA256 = "sha256"
	// LinkHMAC is HMAC-SHA-256 under the chain key derived from the master
	// key: recomputing it needs that key.
	LinkHMAC = "hmac-sha256"
)

// SwitchAction is the action of the record that starts the keyed part of
// the chain: the first record linked with LinkHMAC.
const SwitchAction = "audit.chain.keyed"

// Request carries what the API knows about the request behind a change.
type Request struct {
	RequestID string
	Client    string
}

type requestKey struct{}

// WithRequest attaches request metadata to ctx, for the repository that
// writes the record.
func WithRequest(ctx context.Context, r Request) context.Context {
	return context.WithValue(ctx, requestKey{}, r)
}

// RequestFrom returns the request metadata attached to ctx, if any.
func RequestFrom(ctx context.Context) Request {
	r, _ := ctx.Value(requestKey{}).(Request)
	return r
}

// Now is the time a record is stamped with: UTC, to the microsecond, which
// every engine stores exactly, so the hash can be recomputed from the row.
func Now() time.Time { return time.Now().UTC().Truncate(time.Microsecond) }

// Seal computes r.Hash from r.PrevHash and r's content: an HMAC under k,
// or plain SHA-256 when k is nil (the master key is not available). It sets
// r.Link accordingly.
func Seal(r *Record, k *Key) {
	if k == nil {
		r.Link = LinkSHA256
	} else {
		r.Link = LinkHMAC
	}
	r.Hash = linkOf(r, k)
}

// linkOf computes r's link under k (plain SHA-256 when k is nil).
func linkOf(r *Record, k *Key) []byte {
	var h hash.Hash
	domain := "credflow-audit-v1"
	if k == nil {
		h = sha256.New()
	} else {
		h = hmac.New(sha256.New, k.chain)
		domain = "credflow-audit-v2"
	}
	field := func(s string) {
		var n [8]byte
		binary.BigEndian.PutUint64(n[:], uint64(len(s)))
		h.Write(n[:])
		h.Write([]byte(s))
	}
	field(domain)
	field(string(r.PrevHash))
	field(strconv.FormatInt(r.Seq, 10))
	field(r.Time.UTC().Format(time.RFC3339Nano))
	for _, s := range []string{r.Actor, r.Action, r.Resource, r.Outcome, r.Reason, r.RequestID, r.Client} {
		field(s)
	}
	return h.Sum(nil)
}

// Head formats a chain head for storage: "<seq>:<hex hash>".
func Head(r Record) string { return strconv.FormatInt(r.Seq, 10) + ":" + hex.EncodeToString(r.Hash) }

// ErrNotFound: no record with that sequence number.
var ErrNotFound = errors.New("audit: record not found")

// Filter selects audit records. Zero fields do not filter.
type Filter struct {
	Actor    string
	Action   string
	Resource string
	From, To time.Time // From inclusive, To exclusive
	AfterSeq int64     // oldest first: only records after this one
	// Newest lists newest first; BeforeSeq then starts the page.
	Newest    bool
	BeforeSeq int64
	Limit     int
}

type entryKey struct{}

// WithEntry attaches the audit entry for a change made by a component that
// knows nothing of auditing (a secret store writing through a repository);
// the repository writes it in the change's transaction.
func WithEntry(ctx context.Context, e Entry) context.Context {
	return context.WithValue(ctx, entryKey{}, e)
}

// EntryFrom returns the entry attached with WithEntry, if any.
func EntryFrom(ctx context.Context) (Entry, bool) {
	e, ok := ctx.Value(entryKey{}).(Entry)
	return e, ok
}
