package audit

import (
	"bytes"
	"context"
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// memRepo is an in-memory chain that can archive.
type memRepo struct {
	recs      []Record
	keyedFrom int64
	archived  *Checkpoint
}

func (m *memRepo) List(context.Context, Filter) ([]Record, error) { return m.recs, nil }
func (m *memRepo) Get(_ context.Context, seq int64) (Record, error) {
	for _, r := range m.recs {
		if r.Seq == seq {
			return r, nil
		}
	}
	return Record{}, ErrNotFound
}
func (m *memRepo) Last(context.Context) (Record, bool, error) {
	if len(m.recs) == 0 {
		return Record{}, false, nil
	}
	return m.recs[len(m.recs)-1], true, nil
}
func (m *memRepo) Walk(_ context.Context, after, upTo int64, fn func(Record) bool) error {
	for _, r := range m.recs {
		if r.Seq > after && (upTo == 0 || r.Seq <= upTo) && !fn(r) {
			return nil
		}
	}
	return nil
}
func (m *memRepo) Count(context.Context) (int64, error) { return int64(len(m.recs)), nil }
func (m *memRepo) State(context.Context) (State, error) {
	last := m.recs[len(m.recs)-1]
	return State{Head: Head(last), KeyedFrom: m.keyedFrom, Archived: m.archived}, nil
}
func (m *memRepo) SetCheckpointed(context.Context, int64) error { return nil }
func (m *memRepo) ArchiveBound(_ context.Context, before time.Time) (int64, error) {
	var s int64
	for _, r := range m.recs[:len(m.recs)-1] {
		if !r.Time.Before(before) {
			break
		}
		s = r.Seq
	}
	return s, nil
}
func (m *memRepo) RemoveArchived(_ context.Context, end Checkpoint, _ Entry) (int64, error) {
	if m.archived != nil && m.archived.Seq >= end.Seq {
		return 0, ErrArchiveStale
	}
	var keep []Record
	for _, r := range m.recs {
		if r.Seq > end.Seq {
			keep = append(keep, r)
		}
	}
	n := int64(len(m.recs) - len(keep))
	m.recs, m.archived = keep, &end
	return n, nil
}

// timed builds a chain whose record i is i minutes after base.
func timed(k *Key, n, keyedFrom int64, base time.Time) []Record {
	recs := chain(k, n, keyedFrom)
	for i := range recs {
		recs[i].Time = base.Add(time.Duration(i) * time.Minute)
		if i > 0 {
			recs[i].PrevHash = recs[i-1].Hash
		}
		if recs[i].Seq >= keyedFrom {
			Seal(&recs[i], k)
		} else {
			Seal(&recs[i], nil)
		}
	}
	return recs
}

func TestArchive(t *testing.T) {
	k, wrong := testKey(t, 1), testKey(t, 2)
	base := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	repo := &memRepo{recs: timed(k, 20, 4, base), keyedFrom: 4}
	trail := NewTrail(repo, k, filepath.Join(t.TempDir(), "cp"))
	ctx := context.Background()

	var first bytes.Buffer
	end, err := trail.Archive(ctx, base.Add(10*time.Minute), &first)
	if err != nil || end.Seq != 10 || end.Records != 10 {
		t.Fatalf("Archive = %+v, %v; want records 1 to 10", end, err)
	}
	if v, err := VerifyArchive(bytes.NewReader(first.Bytes()), k); err != nil || !v.OK || v.Records != 10 || v.End.Seq != 10 {
		t.Fatalf("VerifyArchive = %+v, %v", v, err)
	}
	if n, err := trail.CommitArchive(ctx, "admin", end); err != nil || n != 10 {
		t.Fatalf("CommitArchive = %d, %v", n, err)
	}
	if _, err := trail.CommitArchive(ctx, "admin", end); !errors.Is(err, ErrArchiveStale) {
		t.Errorf("CommitArchive again = %v, want ErrArchiveStale", err)
	}
	forged := end
	forged.Seq = 15
	if _, err := trail.CommitArchive(ctx, "admin", forged); !errors.Is(err, ErrArchiveInvalid) {
		t.Errorf("CommitArchive of a forged anchor = %v, want ErrArchiveInvalid", err)
	}
	if v, err := trail.Verify(ctx, VerifyOptions{Full: true}); err != nil || !v.OK || v.Records != 20 {
		t.Fatalf("Verify after the archive = %+v, %v; want ok with 20 records", v, err)
	}
	if _, err := trail.Archive(ctx, base, &bytes.Buffer{}); !errors.Is(err, ErrNothingToArchive) {
		t.Errorf("Archive of nothing = %v", err)
	}
	var second bytes.Buffer
	end2, err := trail.Archive(ctx, base.Add(time.Hour), &second)
	if err != nil || end2.Seq != 19 || end2.Records != 19 {
		t.Fatalf("second Archive = %+v, %v; want records 11 to 19, the newest staying", end2, err)
	}
	v, err := VerifyArchive(bytes.NewReader(second.Bytes()), k)
	if err != nil || !v.OK || v.From == nil || v.From.Seq != 10 || v.Records != 19 {
		t.Fatalf("VerifyArchive of the second = %+v, %v", v, err)
	}
	if v, _ := VerifyArchive(bytes.NewReader(second.Bytes()), wrong); v.OK || v.Finding != FindingArchiveAnchorBad {
		t.Errorf("VerifyArchive of the second under another key = %+v, want archive_anchor_tampered", v)
	}
	if _, err := VerifyArchive(bytes.NewReader(first.Bytes()), nil); !errors.Is(err, ErrKeyUnavailable) {
		t.Errorf("VerifyArchive without a key = %v", err)
	}

	lines := strings.SplitAfter(first.String(), "\n")
	lines = lines[:len(lines)-1]
	for _, tc := range []struct {
		name    string
		edit    func([]string) []string
		key     *Key
		finding string
	}{
		{"intact", func(l []string) []string { return l }, nil, ""},
		{"wrong key", func(l []string) []string { return l }, wrong, FindingRecomputed},
		{"plain record edited", func(l []string) []string { l[2] = strings.Replace(l[2], "alice", "mallory", 1); return l }, nil, FindingEdited},
		{"keyed record edited", func(l []string) []string { l[7] = strings.Replace(l[7], "alice", "mallory", 1); return l }, nil, FindingEdited},
		{"record removed", func(l []string) []string { return append(l[:5], l[6:]...) }, nil, FindingDeleted},
		{"first record removed", func(l []string) []string { return append(l[:1], l[2:]...) }, nil, FindingDeleted},
		{"last record removed", func(l []string) []string { return append(l[:10], l[11:]...) }, nil, FindingTruncated},
		{"trailer removed", func(l []string) []string { return l[:len(l)-1] }, nil, FindingTruncated},
		{"count edited", func(l []string) []string {
			l[len(l)-1] = strings.Replace(l[len(l)-1], `"records":10`, `"records":9`, 1)
			return l
		}, nil, FindingArchiveAnchorBad},
		{"switch moved", func(l []string) []string { l[0] = strings.Replace(l[0], `"keyedFrom":4`, `"keyedFrom":0`, 1); return l }, nil, FindingEdited},
		{"line after the end", func(l []string) []string { return append(l, l[1]) }, nil, FindingNotArchive},
		{"not an archive", func([]string) []string { return []string{"hello\n"} }, nil, FindingNotArchive},
	} {
		t.Run(tc.name, func(t *testing.T) {
			key := tc.key
			if key == nil {
				key = k
			}
			v, err := VerifyArchive(strings.NewReader(strings.Join(tc.edit(append([]string(nil), lines...)), "")), key)
			if err != nil {
				t.Fatal(err)
			}
			if v.OK != (tc.finding == "") || v.Finding != tc.finding {
				t.Errorf("VerifyArchive = ok %v, finding %q (%s); want %q", v.OK, v.Finding, v.Problem, tc.finding)
			}
		})
	}
}
