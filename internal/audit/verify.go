package audit

import (
	"bytes"
	"fmt"
	"strconv"
)

// What a verification found, in one word each (Verification.Finding).
const (
	FindingEdited            = "edited"                  // a record's content no longer matches its link
	FindingRecomputed        = "recomputed"              // links were recomputed without the audit key
	FindingRewritten         = "rewritten"               // the chain differs from a checkpoint, yet every link holds
	FindingDeleted           = "deleted"                 // records are missing from the middle
	FindingReordered         = "reordered"               // records do not link to the one before them
	FindingTruncated         = "truncated"               // records were removed from the end
	FindingCheckpointBad     = "checkpoint_tampered"     // the checkpoint file does not verify
	FindingCheckpointMissing = "checkpoint_missing"      // checkpoints were written, but the file is gone
	FindingKeyUnavailable    = "key_unavailable"         // the audit key is not loaded: keyed links cannot be checked
	FindingArchiveAnchorBad  = "archive_anchor_tampered" // an archived anchor is not sealed under the audit key
	FindingNotArchive        = "not_an_archive"          // the file is not an audit archive, or not a whole one
)

// Verification is the result of checking a chain.
type Verification struct {
	OK bool
	// Records is how many records the chain was found to hold up to where
	// the check ended: the checkpoint's count plus the records after it,
	// or every record walked in a full check. Checked is how many records
	// were read and checked one by one.
	Records int64
	Checked int64
	// FirstBad is the sequence number of the first record that does not
	// fit the chain (0 when OK); Finding names what happened in a word and
	// Problem says it in a sentence.
	FirstBad int64
	Finding  string
	Problem  string
	// Full is true when every record was checked, false when the check
	// started at the newest checkpoint (From is then its sequence number).
	Full bool
	From int64
	// Checkpoint is the newest checkpoint the chain was checked against,
	// if any.
	Checkpoint *Checkpoint
	// KeyedFrom is the sequence number of the record that switched the
	// chain to keyed links (0: not switched).
	KeyedFrom int64
}

// Verifier checks records fed to it in sequence order.
type Verifier struct {
	key       *Key
	keyedFrom int64
	prev      []byte
	nextSeq   int64
	v         Verification
	l         linker
	// suspect is a record whose link did not verify under the key: the
	// next record tells an edit (it verifies) from a recomputation (it
	// does not either).
	suspect *Record
}

// NewVerifier starts a check of a chain whose first record has sequence 1.
// key is the audit key (nil when unavailable) and keyedFrom the sequence
// number of the switch record (0 when the chain was never keyed).
func NewVerifier(key *Key, keyedFrom int64) *Verifier {
	return &Verifier{key: key, keyedFrom: keyedFrom, nextSeq: 1, v: Verification{OK: true, Full: true, KeyedFrom: keyedFrom}}
}

// NewVerifierAfter starts a check after an anchor: the record with
// sequence seq, whose link was head.
func NewVerifierAfter(key *Key, keyedFrom, seq int64, head []byte) *Verifier {
	v := NewVerifier(key, keyedFrom)
	v.prev, v.nextSeq, v.v.Full, v.v.From = head, seq+1, false, seq
	return v
}

// Failed reports whether the chain is broken so far.
func (c *Verifier) Failed() bool { return !c.v.OK }

// Next is the sequence number the next record should have.
func (c *Verifier) Next() int64 { return c.nextSeq }

// Last is the link of the last record checked (the anchor's before any).
func (c *Verifier) Last() []byte { return c.prev }

func (c *Verifier) fail(seq int64, finding, problem string) bool {
	c.v.OK, c.v.FirstBad, c.v.Finding, c.v.Problem = false, seq, finding, problem
	return false
}

// Add checks the next record. It returns false once the chain is broken.
func (c *Verifier) Add(r Record) bool {
	if !c.v.OK {
		return false
	}
	c.v.Records++
	c.v.Checked++
	if s := c.suspect; s != nil {
		c.suspect = nil
		if !c.linkHolds(&r) {
			return c.fail(s.Seq, FindingRecomputed, fmt.Sprintf("record %d's link does not verify under the audit key, nor do the links after it: "+
				"the chain was recomputed without the key (after the record was edited, inserted or removed)", s.Seq))
		}
		return c.fail(s.Seq, FindingEdited, fmt.Sprintf("record %d's link does not verify under the audit key: the record was edited", s.Seq))
	}
	switch {
	case r.Seq > c.nextSeq:
		missing := "record " + strconv.FormatInt(c.nextSeq, 10) + " is"
		if r.Seq > c.nextSeq+1 {
			missing = fmt.Sprintf("records %d to %d are", c.nextSeq, r.Seq-1)
		}
		return c.fail(r.Seq, FindingDeleted, fmt.Sprintf("expected record %d, found %d: %s missing, so records were deleted", c.nextSeq, r.Seq, missing))
	case r.Seq < c.nextSeq:
		return c.fail(r.Seq, FindingReordered, fmt.Sprintf("expected record %d, found %d: records were reordered", c.nextSeq, r.Seq))
	case !bytes.Equal(r.PrevHash, c.prev):
		return c.fail(r.Seq, FindingReordered, fmt.Sprintf("record %d's previous-hash does not match the record before it: a record was deleted, inserted or reordered", r.Seq))
	}
	if c.keyedFrom > 0 && r.Seq >= c.keyedFrom {
		switch {
		case r.Seq == c.keyedFrom && r.Action != SwitchAction:
			return c.fail(r.Seq, FindingEdited, fmt.Sprintf("record %d should be the switch to keyed links (%s) but is %s: the record was edited or the switch moved", r.Seq, SwitchAction, r.Action))
		case r.Link == LinkHMAC && hmacEqual(c.l.link(&r, c.key), r.Hash):
			// The common case, first: one HMAC per record.
		case r.Link != LinkHMAC && bytes.Equal(c.l.link(&r, nil), r.Hash):
			return c.fail(r.Seq, FindingRecomputed, fmt.Sprintf("record %d is linked with plain SHA-256 although the chain has been keyed since record %d: "+
				"the chain was recomputed without the audit key, or the record was written by a server that did not have the master key", r.Seq, c.keyedFrom))
		case r.Link != LinkHMAC:
			return c.fail(r.Seq, FindingEdited, fmt.Sprintf("record %d is marked as linked with %q although the chain has been keyed since record %d: the record was edited", r.Seq, r.Link, c.keyedFrom))
		case bytes.Equal(c.l.link(&r, nil), r.Hash):
			return c.fail(r.Seq, FindingRecomputed, fmt.Sprintf("record %d's link is plain SHA-256, not an HMAC under the audit key: the chain was recomputed without the key", r.Seq))
		default:
			// An edit, or a chain recomputed under another key: the next
			// record tells which.
			rc := r
			c.suspect = &rc
			c.prev, c.nextSeq = r.Hash, r.Seq+1
			return true
		}
	} else {
		switch {
		case r.Link == LinkHMAC:
			return c.fail(r.Seq, FindingEdited, fmt.Sprintf("record %d is keyed but precedes the chain's recorded switch to keyed links: the record or the switch was edited", r.Seq))
		case !bytes.Equal(c.l.link(&r, nil), r.Hash):
			return c.fail(r.Seq, FindingEdited, fmt.Sprintf("record %d's content does not match its hash: the record was edited", r.Seq))
		}
	}
	c.prev, c.nextSeq = r.Hash, r.Seq+1
	return true
}

// linkHolds reports whether r's own link verifies under the scheme it
// should have, ignoring how it links to the record before it.
func (c *Verifier) linkHolds(r *Record) bool {
	if c.keyedFrom > 0 && r.Seq >= c.keyedFrom {
		return r.Link == LinkHMAC && hmacEqual(c.l.link(r, c.key), r.Hash)
	}
	return r.Link != LinkHMAC && bytes.Equal(c.l.link(r, nil), r.Hash)
}

// Finish ends the check. head is the chain head the database recorded
// ("<seq>:<hex hash>", or "" for an empty chain); a mismatch means records
// were removed from the end.
func (c *Verifier) Finish(head string) Verification {
	if s := c.suspect; s != nil && c.v.OK {
		c.suspect = nil
		c.fail(s.Seq, FindingEdited, fmt.Sprintf("record %d's link does not verify under the audit key: "+
			"the record was edited, or it was recomputed without the key", s.Seq))
	}
	if c.v.OK {
		want := ""
		if c.nextSeq > 1 {
			want = strconv.FormatInt(c.nextSeq-1, 10) + ":" + hexOf(c.prev)
		}
		if head != want {
			recorded, _, _ := bytes.Cut([]byte(head), []byte(":"))
			c.fail(c.nextSeq, FindingTruncated, fmt.Sprintf("the log ends at record %d but the database's recorded head is record %s: "+
				"records were removed from the end (truncated)", c.nextSeq-1, orNone(string(recorded))))
		}
	}
	return c.v
}

func orNone(s string) string {
	if s == "" {
		return "none"
	}
	return s
}
