package audit

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"runtime"
	"sync"
	"time"
)

// Repository reads the stored chain. metadb implements it.
type Repository interface {
	// List returns records matching f.
	List(ctx context.Context, f Filter) ([]Record, error)
	// Get returns the record with sequence number seq, or an error
	// matching ErrNotFound.
	Get(ctx context.Context, seq int64) (Record, error)
	// Last returns the record with the highest sequence number; ok is
	// false when there is none.
	Last(ctx context.Context) (r Record, ok bool, err error)
	// Walk calls fn with every record after seq after, up to and including
	// seq upTo (0: to the end), in sequence order, until fn returns false.
	Walk(ctx context.Context, after, upTo int64, fn func(Record) bool) error
	// Count returns how many records the database holds.
	Count(ctx context.Context) (int64, error)
	// State returns what the database says about the chain.
	State(ctx context.Context) (State, error)
	// SetCheckpointed records that a checkpoint was written at seq.
	SetCheckpointed(ctx context.Context, seq int64) error
}

// State is what the database records about its chain, beside the records.
type State struct {
	// Head is the last record's "<seq>:<hex link>", "" for an empty chain.
	Head string
	// KeyedFrom is the sequence number of the switch record (0: never keyed).
	KeyedFrom int64
	// Checkpointed is the sequence number of the newest checkpoint written
	// (0: none yet).
	Checkpointed int64
	// Archived is the anchor of the last record moved out to an archive
	// (nil: none was): the chain left in the database continues from it.
	Archived *Checkpoint
}

// Trail reads and verifies the audit trail, with the audit key when it is
// available and against the checkpoint file.
type Trail struct {
	repo Repository
	key  *Key
	path string
	// parts is how many parts of the chain a full check walks at once,
	// and minPart the fewest records a part holds (see fullInParts).
	parts   int
	minPart int64
}

// minPart is the fewest records in a part of a full check walked beside
// others: below it, starting a walk costs more than it saves.
const minPart = 100_000

// NewTrail returns the trail over repo. key is nil when the master key is
// not available; checkpoints is the checkpoint file's path.
func NewTrail(repo Repository, key *Key, checkpoints string) *Trail {
	return &Trail{repo: repo, key: key, path: checkpoints, parts: min(runtime.GOMAXPROCS(0), 4), minPart: minPart}
}

// List returns records matching f.
func (t *Trail) List(ctx context.Context, f Filter) ([]Record, error) { return t.repo.List(ctx, f) }

// VerifyOptions choose how much of the chain to check.
type VerifyOptions struct {
	// Full checks every record; otherwise the check starts at the newest
	// checkpoint (and falls back to every record when the chain does not
	// match the checkpoint, to find where it breaks).
	Full bool
}

// Verify checks the chain against the newest checkpoint.
func (t *Trail) Verify(ctx context.Context, opts VerifyOptions) (Verification, error) {
	st, err := t.repo.State(ctx)
	if err != nil {
		return Verification{}, err
	}
	if st.KeyedFrom > 0 && t.key == nil {
		return Verification{KeyedFrom: st.KeyedFrom, Finding: FindingKeyUnavailable,
			Problem: fmt.Sprintf("the audit key is not available (the master key is missing, or is not this database's), so the keyed links "+
				"from record %d on cannot be checked: restore the master key and restart the server", st.KeyedFrom)}, nil
	}
	if a := st.Archived; a != nil && t.key != nil && !a.verify(t.key) {
		return Verification{KeyedFrom: st.KeyedFrom, FirstBad: a.Seq + 1, Finding: FindingArchiveAnchorBad,
			Problem: fmt.Sprintf("the database's archived anchor (record %d) is not sealed under the audit key: it was edited, "+
				"which could hide records deleted from the start of the chain", a.Seq)}, nil
	}
	var cp *Checkpoint
	if t.key != nil {
		cp, err = ReadCheckpoints(t.path, t.key)
		var fe *CheckpointFileError
		if errors.As(err, &fe) {
			return Verification{KeyedFrom: st.KeyedFrom, Finding: FindingCheckpointBad, Problem: fe.Error()}, nil
		}
		if err != nil {
			return Verification{}, err
		}
		if cp == nil && st.Checkpointed > 0 {
			return Verification{KeyedFrom: st.KeyedFrom, Finding: FindingCheckpointMissing,
				Problem: fmt.Sprintf("the checkpoint file %s is missing or empty, but checkpoints were written up to record %d: "+
					"the file was deleted, emptied or moved, and the chain cannot be checked against it", t.path, st.Checkpointed)}, nil
		}
	}
	if cp != nil && !opts.Full {
		v, done, err := t.fromCheckpoint(ctx, st, cp)
		if err != nil || done {
			return v, err
		}
	}
	return t.full(ctx, st, cp)
}

// fromCheckpoint checks the chain from the checkpoint on. done is false
// when the record the checkpoint anchors does not match it: the whole chain
// must then be walked to find where it breaks.
func (t *Trail) fromCheckpoint(ctx context.Context, st State, cp *Checkpoint) (v Verification, done bool, err error) {
	r, err := t.repo.Get(ctx, cp.Seq)
	if errors.Is(err, ErrNotFound) {
		last, ok, err := t.repo.Last(ctx)
		if err != nil {
			return v, false, err
		}
		if !ok || last.Seq < cp.Seq {
			return truncated(st, cp, last.Seq), true, nil
		}
		return v, false, nil
	}
	if err != nil {
		return v, false, err
	}
	if !bytes.Equal(r.Hash, cp.HeadBytes()) {
		return v, false, nil
	}
	c := NewVerifierAfter(t.key, st.KeyedFrom, cp.Seq, r.Hash)
	if err := t.repo.Walk(ctx, cp.Seq, 0, c.Add); err != nil {
		return v, false, err
	}
	v = c.Finish(st.Head)
	v.Checkpoint = cp
	v.Records += cp.Records
	if v.OK {
		// Records deleted before the checkpoint leave every link after it
		// intact; the count shows them, and a full walk finds them.
		n, err := t.repo.Count(ctx)
		if err != nil {
			return v, false, err
		}
		if n+st.archivedRecords() != v.Records {
			return v, false, nil
		}
	}
	return v, true, nil
}

// full checks every record, and the chain against cp when there is one.
func (t *Trail) full(ctx context.Context, st State, cp *Checkpoint) (Verification, error) {
	if cp != nil {
		// A log that ends before the checkpoint was truncated, whatever
		// else was done to it.
		last, ok, err := t.repo.Last(ctx)
		if err != nil {
			return Verification{}, err
		}
		if !ok || last.Seq < cp.Seq {
			v := truncated(st, cp, last.Seq)
			v.Full = true
			return v, nil
		}
	}
	if v, ok, err := t.fullInParts(ctx, st, cp); err != nil || ok {
		return v, err
	}
	c := st.verifierFrom(t.key)
	var v Verification
	var anchorBad bool
	err := t.repo.Walk(ctx, 0, 0, func(r Record) bool {
		if !c.Add(r) {
			return false
		}
		if cp != nil && r.Seq == cp.Seq && c.suspect == nil && !bytes.Equal(r.Hash, cp.HeadBytes()) {
			anchorBad = true
			c.fail(r.Seq, FindingRewritten, fmt.Sprintf("record %d does not match the checkpoint of %s although every link up to it holds: "+
				"the chain was rewritten by someone holding the audit key, or before it was keyed", r.Seq, cp.Time.Format(time.RFC3339)))
			return false
		}
		return true
	})
	if err != nil {
		return Verification{}, err
	}
	if !anchorBad && !c.Failed() && c.suspect == nil && cp != nil && c.Next()-1 < cp.Seq {
		v = truncated(st, cp, c.Next()-1)
		v.Records, v.Checked, v.Full = c.v.Records+st.archivedRecords(), c.v.Checked, true
		return v, nil
	}
	v = c.Finish(st.Head)
	v.Records += st.archivedRecords()
	v.Checkpoint = cp
	return v, nil
}

// fullInParts checks every record of a chain in parts walked at once, each
// from the link of the record before it as the database holds it: the parts
// join when each one ends on the link the next began from, so the chain
// they make is the chain one walk checks. It only ever says that a chain
// holds: when a part finds anything amiss (or the chain is too short to
// share out), ok is false, and full walks the chain in one pass to say
// what and where, in the very words it always has.
func (t *Trail) fullInParts(ctx context.Context, st State, cp *Checkpoint) (v Verification, ok bool, err error) {
	first := st.verifierFrom(t.key)
	last, found, err := t.repo.Last(ctx)
	if err != nil || !found {
		return v, false, err
	}
	start := first.Next()
	n := last.Seq - start + 1
	parts := min(int64(t.parts), n/max(t.minPart, 1))
	if parts < 2 {
		return v, false, nil
	}
	type part struct {
		c        *Verifier
		from, to int64
		anchor   []byte // the link of record from-1, which c starts from
		cpHash   []byte // the link of record cp.Seq, when this part holds it
		err      error
	}
	ps := make([]part, parts)
	size := n / parts
	for i := range ps {
		p := &ps[i]
		p.from, p.to = start+int64(i)*size, start+int64(i+1)*size-1
		if i == 0 {
			p.c = first
			continue
		}
		r, err := t.repo.Get(ctx, p.from-1)
		if errors.Is(err, ErrNotFound) {
			return v, false, nil
		}
		if err != nil {
			return v, false, err
		}
		p.anchor, p.c = r.Hash, NewVerifierAfter(t.key, st.KeyedFrom, p.from-1, r.Hash)
	}
	ps[parts-1].to = last.Seq
	wctx, stop := context.WithCancel(ctx)
	defer stop()
	var wg sync.WaitGroup
	for i := range ps {
		p := &ps[i]
		after := p.from - 1
		if p.c == first {
			// From the start, as one walk reads it: a record before the
			// archived anchor is out of place.
			after = 0
		}
		wg.Go(func() {
			p.err = t.repo.Walk(wctx, after, p.to, func(r Record) bool {
				if !p.c.Add(r) {
					stop() // the other parts' answer no longer matters
					return false
				}
				if cp != nil && r.Seq == cp.Seq {
					p.cpHash = r.Hash
				}
				return true
			})
		})
	}
	wg.Wait()
	if err := ctx.Err(); err != nil {
		return v, false, err
	}
	for i := range ps {
		p := &ps[i]
		if p.err != nil || p.c.Failed() || p.c.suspect != nil || p.c.Next() != p.to+1 ||
			(i+1 < len(ps) && !bytes.Equal(p.c.Last(), ps[i+1].anchor)) ||
			(cp != nil && p.from <= cp.Seq && cp.Seq <= p.to && !bytes.Equal(p.cpHash, cp.HeadBytes())) {
			return v, false, nil
		}
	}
	v = ps[parts-1].c.Finish(st.Head)
	if !v.OK {
		return v, false, nil
	}
	v.Records, v.Checked = st.archivedRecords(), 0
	for i := range ps {
		v.Records += ps[i].c.v.Records
		v.Checked += ps[i].c.v.Checked
	}
	v.Full, v.From, v.Checkpoint = first.v.Full, first.v.From, cp
	return v, true, nil
}

func truncated(st State, cp *Checkpoint, lastSeq int64) Verification {
	return Verification{KeyedFrom: st.KeyedFrom, Checkpoint: cp, FirstBad: lastSeq + 1, Finding: FindingTruncated,
		Problem: fmt.Sprintf("the log ends at record %d but the checkpoint of %s was taken at record %d (%d records): "+
			"records were removed from the end (truncated)", lastSeq, cp.Time.Format(time.RFC3339), cp.Seq, cp.Records)}
}

// CheckpointOptions configure the checkpoint writer.
type CheckpointOptions struct {
	// Every is how many appended records prompt a checkpoint; Interval
	// is the longest time between checkpoints while records are appended.
	Every    int64
	Interval time.Duration
	// Wake is signalled when records are appended, Appended counts them
	// (in this process); together they prompt a checkpoint after Every
	// records without a database read per record.
	Wake     <-chan struct{}
	Appended func() int64
	Log      *slog.Logger
}

// Checkpointer appends checkpoints to the trail's checkpoint file. It is
// run by one goroutine (Run); it never writes inside a record's transaction.
type Checkpointer struct {
	t    *Trail
	opts CheckpointOptions
	file checkpointFile
	last *Checkpoint
	// seen is Appended() at the last checkpoint attempt.
	seen int64
	// complaint is the last problem logged, so that a broken chain is
	// reported once, not at every tick.
	complaint string
	// stopped is set when the file was removed under the writer: writing
	// on would hide that.
	stopped bool
}

// NewCheckpointer returns the trail's checkpoint writer. It needs the
// audit key.
func (t *Trail) NewCheckpointer(opts CheckpointOptions) (*Checkpointer, error) {
	if t.key == nil {
		return nil, errors.New("audit: checkpoints need the audit key")
	}
	if opts.Log == nil {
		opts.Log = slog.Default()
	}
	if opts.Appended == nil {
		opts.Appended = func() int64 { return 0 }
	}
	return &Checkpointer{t: t, opts: opts, file: checkpointFile{path: t.path}}, nil
}

// Run writes a checkpoint at once, then after every opts.Every appended
// records or opts.Interval, and a last one when ctx ends.
func (c *Checkpointer) Run(ctx context.Context) {
	last, err := ReadCheckpoints(c.t.path, c.t.key)
	if err != nil {
		c.opts.Log.Error("the audit checkpoint file does not verify; no checkpoints are written until it is restored or moved aside",
			slog.String("file", c.t.path), slog.String("error", err.Error()))
		return
	}
	if last == nil {
		if st, err := c.t.repo.State(ctx); err == nil && st.Checkpointed > 0 {
			c.opts.Log.Error("the audit checkpoint file is missing, but checkpoints were written before: starting a new file; "+
				"audit verify reports the missing lines until then", slog.String("file", c.t.path), slog.Int64("checkpointedUpTo", st.Checkpointed))
		}
	}
	c.last = last
	c.Checkpoint(ctx)
	tick := time.NewTicker(c.opts.Interval)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
			c.Checkpoint(fctx)
			cancel()
			return
		case <-tick.C:
			c.Checkpoint(ctx)
		case <-c.opts.Wake:
			if c.opts.Every > 0 && c.opts.Appended()-c.seen >= c.opts.Every {
				c.Checkpoint(ctx)
			}
		}
	}
}

// Checkpoint checks the records appended since the last checkpoint and, when
// they continue its chain, appends a checkpoint of the new head. A chain
// that does not continue is logged as an error and not checkpointed, so
// that the newest checkpoint keeps showing what was there.
func (c *Checkpointer) Checkpoint(ctx context.Context) {
	if c.stopped {
		return
	}
	c.seen = c.opts.Appended()
	if err := c.checkpoint(ctx); err != nil && ctx.Err() == nil {
		if msg := err.Error(); msg != c.complaint {
			c.complaint = msg
			c.opts.Log.Error("audit checkpoint not written", slog.String("file", c.t.path), slog.String("error", msg))
		}
	}
}

func (c *Checkpointer) checkpoint(ctx context.Context) error {
	head, ok, err := c.t.repo.Last(ctx)
	if err != nil || !ok || (c.last != nil && head.Seq == c.last.Seq && bytes.Equal(head.Hash, c.last.HeadBytes())) {
		return err
	}
	st, err := c.t.repo.State(ctx)
	if err != nil {
		return err
	}
	v, count := st.verifierFrom(c.t.key), st.archivedRecords()
	// A checkpoint older than the archived anchor anchors records that
	// are gone: the check starts at the anchor instead.
	if c.last != nil && (st.Archived == nil || c.last.Seq >= st.Archived.Seq) {
		v, count = NewVerifierAfter(c.t.key, st.KeyedFrom, c.last.Seq, c.last.HeadBytes()), c.last.Records
	}
	if err := c.t.repo.Walk(ctx, v.Next()-1, head.Seq, v.Add); err != nil {
		return err
	}
	res := v.Finish(Head(head))
	if !res.OK {
		return fmt.Errorf("the audit chain does not continue from the last checkpoint: %s", res.Problem)
	}
	cp := Checkpoint{Seq: head.Seq, Records: count + res.Records, Head: hexOf(head.Hash), Time: time.Now().UTC()}
	cp.seal(c.t.key)
	if err := c.file.append(cp); err != nil {
		if errors.Is(err, errFileChanged) {
			c.stopped = true
		}
		return err
	}
	c.last, c.complaint = &cp, ""
	c.opts.Log.Info("audit checkpoint", slog.String("file", c.t.path), slog.Int64("seq", cp.Seq), slog.Int64("records", cp.Records),
		slog.String("head", cp.Head), slog.String("mac", cp.MAC))
	if err := c.t.repo.SetCheckpointed(ctx, cp.Seq); err != nil && ctx.Err() == nil {
		// The checkpoint is written; only the database's note of it is
		// missing, which verify uses to tell a deleted file.
		c.opts.Log.Warn("audit checkpoint written, but not noted in the database", slog.Int64("seq", cp.Seq), slog.String("error", err.Error()))
	}
	return nil
}
