package audit

import (
	"bufio"
	"bytes"
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"time"
)

// An archive holds the oldest part of the chain, moved out of the database:
// JSON lines, first a header (the anchor the part continues from, sealed
// like a checkpoint, and where the chain was keyed), then one line per
// record, then a trailer: the anchor of the part's last record, sealed
// under the checkpoint key. That anchor becomes the database's archived
// anchor, from which the remaining chain is verified. VerifyArchive checks
// an archive on its own, with the audit key and nothing else.

// ArchiveFormat names the archive format in its header.
const ArchiveFormat = "credflow-audit-archive-v1"

// Errors checked with errors.Is.
var (
	// ErrNothingToArchive: no record is older than the date, apart from
	// the newest, which always stays.
	ErrNothingToArchive = errors.New("audit: no records to archive")
	// ErrKeyUnavailable: archives are sealed under the audit key, which
	// is not loaded.
	ErrKeyUnavailable = errors.New("audit: the audit key is not available")
	// ErrChainBroken: the chain does not verify, so it is not archived.
	ErrChainBroken = errors.New("audit: the chain does not verify")
	// ErrArchiveInvalid: an archive's anchor was not sealed by this
	// chain's key, or does not match the record it anchors.
	ErrArchiveInvalid = errors.New("audit: the archive's anchor does not verify")
	// ErrArchiveStale: the records were already removed by a later
	// archive.
	ErrArchiveStale = errors.New("audit: the records were already archived")
)

// Archiver is the optional capability of a Repository that lets records be
// moved out to archives.
type Archiver interface {
	// ArchiveBound returns the highest sequence number S such that every
	// record up to S is older than before, leaving the newest record out
	// (0: none).
	ArchiveBound(ctx context.Context, before time.Time) (int64, error)
	// RemoveArchived deletes every record up to end.Seq and makes end the
	// archived anchor, with the audit entry e, in one transaction; it
	// refuses with ErrArchiveStale when the anchor is at or past end.Seq
	// already, and with ErrArchiveInvalid when the record at end.Seq does
	// not have end's head. It returns how many records it deleted.
	RemoveArchived(ctx context.Context, end Checkpoint, e Entry) (int64, error)
}

type archiveHeader struct {
	Format    string      `json:"format"`
	From      *Checkpoint `json:"from"`
	KeyedFrom int64       `json:"keyedFrom"`
}

type archiveRecord struct {
	Seq       int64     `json:"seq"`
	Time      time.Time `json:"time"`
	Actor     string    `json:"actor"`
	Action    string    `json:"action"`
	Resource  string    `json:"resource"`
	Outcome   string    `json:"outcome"`
	Reason    string    `json:"reason,omitempty"`
	RequestID string    `json:"requestId,omitempty"`
	Client    string    `json:"client,omitempty"`
	Link      string    `json:"link"`
	PrevHash  string    `json:"prevHash"`
	Hash      string    `json:"hash"`
}

type archiveTrailer struct {
	End *Checkpoint `json:"end"`
}

// Archive writes to w the records older than before (never the newest
// one), from the archived anchor on, after checking that they verify. It
// returns the anchor of the last record written, sealed, which
// CommitArchive then takes to remove them. Nothing is removed here.
func (t *Trail) Archive(ctx context.Context, before time.Time, w io.Writer) (Checkpoint, error) {
	arch, ok := t.repo.(Archiver)
	if !ok {
		return Checkpoint{}, errors.New("audit: archive: the repository cannot remove records")
	}
	if t.key == nil {
		return Checkpoint{}, fmt.Errorf("audit: archive: %w", ErrKeyUnavailable)
	}
	st, err := t.repo.State(ctx)
	if err != nil {
		return Checkpoint{}, err
	}
	upTo, err := arch.ArchiveBound(ctx, before)
	if err != nil {
		return Checkpoint{}, err
	}
	from := st.Archived
	if from != nil && !from.verify(t.key) {
		return Checkpoint{}, fmt.Errorf("audit: archive: the database's archived anchor does not verify: %w", ErrChainBroken)
	}
	if upTo == 0 || (from != nil && upTo <= from.Seq) {
		return Checkpoint{}, fmt.Errorf("audit: archive records before %s: %w", before.Format(time.RFC3339), ErrNothingToArchive)
	}
	// Check first, write second: a broken chain is refused before any
	// byte is out.
	check, start := st.verifierFrom(t.key), int64(0)
	if from != nil {
		start = from.Seq
	}
	var last Record
	if err := t.repo.Walk(ctx, start, upTo, func(r Record) bool {
		last = r
		return check.Add(r)
	}); err != nil {
		return Checkpoint{}, err
	}
	res := check.Finish(Head(last))
	if !res.OK {
		return Checkpoint{}, fmt.Errorf("audit: archive: record %d (%s): %s: %w", res.FirstBad, res.Finding, res.Problem, ErrChainBroken)
	}
	end := Checkpoint{Seq: last.Seq, Records: st.archivedRecords() + res.Records, Head: hexOf(last.Hash), Time: time.Now().UTC()}
	end.seal(t.key)

	bw := bufio.NewWriterSize(w, 64<<10)
	enc := json.NewEncoder(bw)
	if err := enc.Encode(archiveHeader{Format: ArchiveFormat, From: from, KeyedFrom: st.KeyedFrom}); err != nil {
		return Checkpoint{}, fmt.Errorf("audit: write archive: %w", err)
	}
	var werr error
	if err := t.repo.Walk(ctx, start, upTo, func(r Record) bool {
		werr = enc.Encode(archiveRecord{Seq: r.Seq, Time: r.Time, Actor: r.Actor, Action: r.Action, Resource: r.Resource, Outcome: r.Outcome,
			Reason: r.Reason, RequestID: r.RequestID, Client: r.Client, Link: r.Link, PrevHash: hexOf(r.PrevHash), Hash: hexOf(r.Hash)})
		return werr == nil
	}); err != nil {
		return Checkpoint{}, err
	}
	if werr != nil {
		return Checkpoint{}, fmt.Errorf("audit: write archive: %w", werr)
	}
	if err := enc.Encode(archiveTrailer{End: &end}); err != nil {
		return Checkpoint{}, fmt.Errorf("audit: write archive: %w", err)
	}
	if err := bw.Flush(); err != nil {
		return Checkpoint{}, fmt.Errorf("audit: write archive: %w", err)
	}
	return end, nil
}

// CommitArchive removes the records an archive holds, once it is safely
// written: end is its trailer's anchor, which must be sealed under this
// chain's key. The removal and its own audit record are one transaction.
func (t *Trail) CommitArchive(ctx context.Context, actor string, end Checkpoint) (int64, error) {
	arch, ok := t.repo.(Archiver)
	if !ok {
		return 0, errors.New("audit: archive: the repository cannot remove records")
	}
	if t.key == nil {
		return 0, fmt.Errorf("audit: commit archive: %w", ErrKeyUnavailable)
	}
	if !end.verify(t.key) {
		return 0, fmt.Errorf("audit: commit archive: the anchor was not sealed by this server's audit key: %w", ErrArchiveInvalid)
	}
	e := Entry{Actor: actor, Action: "audit.archive", Resource: "audit", Outcome: Success,
		Reason: fmt.Sprintf("records up to %d (%d since the chain began) archived; the chain continues from record %d's link %s", end.Seq, end.Records, end.Seq, end.Head)}
	return arch.RemoveArchived(ctx, end, e)
}

// verifierFrom starts a check at the archived anchor, or at the chain's
// first record.
func (st State) verifierFrom(k *Key) *Verifier {
	if a := st.Archived; a != nil {
		v := NewVerifierAfter(k, st.KeyedFrom, a.Seq, a.HeadBytes())
		v.v.Full = true
		return v
	}
	return NewVerifier(k, st.KeyedFrom)
}

// archivedRecords is how many records were archived.
func (st State) archivedRecords() int64 {
	if st.Archived == nil {
		return 0
	}
	return st.Archived.Records
}

// ArchiveVerification is what VerifyArchive found.
type ArchiveVerification struct {
	Verification
	// From is the anchor the archive continues from (nil: the chain's
	// start); End the anchor of its last record.
	From, End *Checkpoint
}

// maxArchiveLine bounds one line of an archive; records are far smaller.
const maxArchiveLine = 1 << 20

// VerifyArchive checks an archive on its own: its anchors' seals under the
// key, every record's link, that each links to the one before from the
// first anchor on, and that the last matches the end anchor with the count
// it states. A finding is reported in the result; err is for a file that
// cannot be read at all.
func VerifyArchive(r io.Reader, k *Key) (ArchiveVerification, error) {
	var out ArchiveVerification
	if k == nil {
		return out, fmt.Errorf("audit: verify archive: %w", ErrKeyUnavailable)
	}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), maxArchiveLine)
	bad := func(finding, problem string) (ArchiveVerification, error) {
		out.OK, out.Finding, out.Problem = false, finding, problem
		return out, nil
	}
	if !sc.Scan() {
		if err := sc.Err(); err != nil {
			return out, fmt.Errorf("audit: read archive: %w", err)
		}
		return bad(FindingNotArchive, "the file is empty")
	}
	var h archiveHeader
	if err := strictDecode(sc.Bytes(), &h); err != nil || h.Format != ArchiveFormat {
		return bad(FindingNotArchive, "the first line is not a "+ArchiveFormat+" header")
	}
	out.From = h.From
	c := NewVerifier(k, h.KeyedFrom)
	base := int64(0)
	if h.From != nil {
		if !h.From.verify(k) {
			return bad(FindingArchiveAnchorBad, "the anchor the archive continues from is not sealed under the audit key: the header was edited")
		}
		c = NewVerifierAfter(k, h.KeyedFrom, h.From.Seq, h.From.HeadBytes())
		base = h.From.Records
	}
	c.v.Full = true
	line := 1
	for sc.Scan() {
		line++
		b := sc.Bytes()
		if bytes.HasPrefix(b, []byte(`{"end":`)) {
			var tr archiveTrailer
			if err := strictDecode(b, &tr); err != nil || tr.End == nil {
				return bad(FindingNotArchive, fmt.Sprintf("line %d is not a record nor the archive's end", line))
			}
			if sc.Scan() {
				return bad(FindingNotArchive, fmt.Sprintf("line %d follows the archive's end", line+1))
			}
			if !tr.End.verify(k) {
				return bad(FindingArchiveAnchorBad, "the archive's end anchor is not sealed under the audit key: the trailer was edited")
			}
			out.End = tr.End
			v := c.Finish(strconv.FormatInt(tr.End.Seq, 10) + ":" + tr.End.Head)
			out.Verification = v
			out.Records += base
			if v.OK && out.Records != tr.End.Records {
				return bad(FindingDeleted, fmt.Sprintf("the archive's end anchor counts %d records since the chain began, the archive accounts for %d", tr.End.Records, out.Records))
			}
			return out, nil
		}
		var ar archiveRecord
		if err := strictDecode(b, &ar); err != nil {
			return bad(FindingNotArchive, fmt.Sprintf("line %d is not an audit record", line))
		}
		prev, err1 := hex.DecodeString(ar.PrevHash)
		hash, err2 := hex.DecodeString(ar.Hash)
		if err1 != nil || err2 != nil {
			return bad(FindingEdited, fmt.Sprintf("record %d's hashes are not hex: the record was edited", ar.Seq))
		}
		rec := Record{Seq: ar.Seq, Time: ar.Time, Entry: Entry{Actor: ar.Actor, Action: ar.Action, Resource: ar.Resource, Outcome: ar.Outcome, Reason: ar.Reason},
			RequestID: ar.RequestID, Client: ar.Client, Link: ar.Link, PrevHash: prev, Hash: hash}
		if !c.Add(rec) {
			out.Verification = c.v
			out.Records += base
			return out, nil
		}
	}
	if err := sc.Err(); err != nil {
		return out, fmt.Errorf("audit: read archive: %w", err)
	}
	out.Verification = c.v
	return bad(FindingTruncated, fmt.Sprintf("the archive ends after record %d without its end anchor: it was cut short", c.Next()-1))
}

func strictDecode(b []byte, dst any) error {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	return dec.Decode(dst)
}

// VerifyArchive checks an archive on its own with the trail's key; see the
// package function.
func (t *Trail) VerifyArchive(r io.Reader) (ArchiveVerification, error) {
	return VerifyArchive(r, t.key)
}
