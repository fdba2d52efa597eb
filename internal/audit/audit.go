// Package audit defines credflow's audit trail: what a record holds, how a
// record is hashed into the chain that makes tampering evident, and how a
// chain is verified. Records are written by the metadata repositories in the
// same transaction as the change they describe, so a change without its
// record cannot exist. A record never holds a secret value or a token.
package audit

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
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
	PrevHash  []byte
	Hash      []byte
}

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

// Seal computes r.Hash from r.PrevHash and r's content.
func Seal(r *Record) {
	r.Hash = hashOf(r)
}

func hashOf(r *Record) []byte {
	h := sha256.New()
	field := func(s string) {
		var n [8]byte
		binary.BigEndian.PutUint64(n[:], uint64(len(s)))
		h.Write(n[:])
		h.Write([]byte(s))
	}
	field("credflow-audit-v1")
	field(string(r.PrevHash))
	field(strconv.FormatInt(r.Seq, 10))
	field(r.Time.UTC().Format(time.RFC3339Nano))
	for _, s := range []string{r.Actor, r.Action, r.Resource, r.Outcome, r.Reason, r.RequestID, r.Client} {
		field(s)
	}
	return h.Sum(nil)
}

// Verification is the result of checking a chain.
type Verification struct {
	OK      bool
	Records int64
	// FirstBad is the sequence number of the first record that does not
	// fit the chain (0 when OK); Problem says how.
	FirstBad int64
	Problem  string
}

// ErrStop ends a Verify walk early without error.
var ErrStop = errors.New("audit: stop")

// Verifier checks records fed to it in sequence order.
type Verifier struct {
	prev    []byte
	nextSeq int64
	v       Verification
}

// NewVerifier starts a check of a chain whose first record has sequence 1.
func NewVerifier() *Verifier { return &Verifier{nextSeq: 1, v: Verification{OK: true}} }

// Add checks the next record. It returns false once the chain is broken.
func (c *Verifier) Add(r Record) bool {
	if !c.v.OK {
		return false
	}
	c.v.Records++
	fail := func(problem string) bool {
		c.v.OK, c.v.FirstBad, c.v.Problem = false, r.Seq, problem
		return false
	}
	switch {
	case r.Seq != c.nextSeq:
		return fail(fmt.Sprintf("expected record %d, found %d: records were deleted or reordered", c.nextSeq, r.Seq))
	case string(r.PrevHash) != string(c.prev):
		return fail("its previous-hash does not match the record before it: a record was deleted, inserted or reordered")
	case string(hashOf(&r)) != string(r.Hash):
		return fail("its content does not match its hash: the record was edited")
	}
	c.prev, c.nextSeq = r.Hash, r.Seq+1
	return true
}

// Finish ends the check. head is the chain head the database recorded
// ("<seq>:<hex hash>", or "" for an empty chain); a mismatch means records
// were removed from the end.
func (c *Verifier) Finish(head string) Verification {
	if c.v.OK {
		want := ""
		if c.nextSeq > 1 {
			want = strconv.FormatInt(c.nextSeq-1, 10) + ":" + hex.EncodeToString(c.prev)
		}
		if head != want {
			c.v.OK, c.v.FirstBad = false, c.nextSeq
			c.v.Problem = "the chain ends before its recorded head: records were removed from the end"
		}
	}
	return c.v
}

// Head formats a chain head for storage.
func Head(r Record) string { return strconv.FormatInt(r.Seq, 10) + ":" + hex.EncodeToString(r.Hash) }

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
