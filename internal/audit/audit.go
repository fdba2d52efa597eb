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
	"bytes"
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
	var l linker
	r.Hash = bytes.Clone(l.link(r, k))
}

// linker computes links, reusing its hashes and buffers: a verifier
// computes one per record.
type linker struct {
	key   *Key
	mac   hash.Hash // under key.chain
	plain hash.Hash
	buf   []byte
	sum   []byte
}

// link returns r's link under k (plain SHA-256 when k is nil). The result
// is valid until the next call.
func (l *linker) link(r *Record, k *Key) []byte {
	var h hash.Hash
	domain := "credflow-audit-v1"
	if k == nil {
		if l.plain == nil {
			l.plain = sha256.New()
		}
		h = l.plain
	} else {
		if l.mac == nil || l.key != k {
			l.mac, l.key = hmac.New(sha256.New, k.chain), k
		}
		h = l.mac
		domain = "credflow-audit-v2"
	}
	h.Reset()
	b := l.buf[:0]
	field := func(s []byte) {
		b = binary.BigEndian.AppendUint64(b, uint64(len(s)))
		b = append(b, s...)
	}
	fieldS := func(s string) {
		b = binary.BigEndian.AppendUint64(b, uint64(len(s)))
		b = append(b, s...)
	}
	fieldS(domain)
	field(r.PrevHash)
	var num [20]byte
	field(strconv.AppendInt(num[:0], r.Seq, 10))
	var ts [40]byte
	field(r.Time.UTC().AppendFormat(ts[:0], time.RFC3339Nano))
	for _, s := range []string{r.Actor, r.Action, r.Resource, r.Outcome, r.Reason, r.RequestID, r.Client} {
		fieldS(s)
	}
	h.Write(b)
	l.buf = b
	l.sum = h.Sum(l.sum[:0])
	return l.sum
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
