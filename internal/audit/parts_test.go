package audit

import (
	"context"
	"reflect"
	"testing"
	"time"
)

// headRepo is a memRepo whose recorded head is given, as after records
// were removed from the end.
type headRepo struct {
	*memRepo
	head string
}

func (h headRepo) State(ctx context.Context) (State, error) {
	st, err := h.memRepo.State(ctx)
	st.Head = h.head
	return st, err
}

// TestFullInParts: a full check walked in parts says exactly what one walk
// says, for an intact chain and for every kind of tampering, wherever it
// falls against the parts' bounds; and only an intact chain is answered
// from the parts.
func TestFullInParts(t *testing.T) {
	ctx := context.Background()
	k, wrong := testKey(t, 1), testKey(t, 2)
	const n = 40 // three parts: 1-13, 14-26, 27-40
	edit := func(i int) func([]Record) []Record {
		return func(r []Record) []Record { r[i-1].Actor = "mallory"; return r }
	}
	drop := func(i int) func([]Record) []Record {
		return func(r []Record) []Record { return append(r[:i-1:i-1], r[i:]...) }
	}
	cases := []struct {
		name     string
		tamper   func([]Record) []Record
		head     func([]Record) string // nil: the last record's
		archive  int64                 // archive the records up to this one first
		cp       func([]Record) *Checkpoint
		answered bool // by the parts
	}{
		{name: "intact", tamper: func(r []Record) []Record { return r }, answered: true},
		{name: "intact, archived", tamper: func(r []Record) []Record { return r }, archive: 10, answered: true},
		{name: "intact, checkpoint matches", tamper: func(r []Record) []Record { return r },
			cp: func(r []Record) *Checkpoint { return &Checkpoint{Seq: 20, Records: 20, Head: hexOf(r[19].Hash)} }, answered: true},
		{name: "checkpoint does not match", tamper: func(r []Record) []Record { return r },
			cp: func(r []Record) *Checkpoint { return &Checkpoint{Seq: 20, Records: 20, Head: hexOf(r[18].Hash)} }},
		{name: "first edited", tamper: edit(1)},
		{name: "keyed edited", tamper: edit(8)},
		{name: "last of a part edited", tamper: edit(13)},
		{name: "first of a part edited", tamper: edit(14)},
		{name: "second of a part edited", tamper: edit(15)},
		{name: "last of the second part edited", tamper: edit(26)},
		{name: "first of the last part edited", tamper: edit(27)},
		{name: "last edited", tamper: edit(40)},
		{name: "last of a part deleted", tamper: drop(13)},
		{name: "first of a part deleted", tamper: drop(14)},
		{name: "first of the last part deleted", tamper: drop(27)},
		{name: "deleted and renumbered", tamper: func(r []Record) []Record {
			r = append(r[:13:13], r[14:]...)
			for i := 13; i < len(r); i++ {
				r[i].Seq--
			}
			return r
		}},
		{name: "recomputed with a wrong key from a part's start", tamper: func(r []Record) []Record { r[13].Actor = "m"; reseal(r, 13, wrong); return r }},
		{name: "recomputed plain", tamper: func(r []Record) []Record { r[19].Actor = "m"; reseal(r, 19, nil); return r }},
		{name: "switch moved", tamper: func(r []Record) []Record { r[3].Action = "x.do"; return r }},
		{name: "truncated", tamper: func(r []Record) []Record { return r[:38] },
			head: func(r []Record) string { return Head(chain(k, n, 4)[n-1]) }},
		{name: "a record before the archived anchor", archive: 10, tamper: func(r []Record) []Record {
			return append([]Record{chain(k, n, 4)[4]}, r...)
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			verify := func(parts int) (Verification, bool) {
				m := &memRepo{recs: chain(k, n, 4), keyedFrom: 4}
				if c.archive > 0 {
					end := Checkpoint{Seq: c.archive, Records: c.archive, Head: hexOf(m.recs[c.archive-1].Hash), Time: time.Now().UTC()}
					end.seal(k)
					if _, err := m.RemoveArchived(ctx, end, Entry{}); err != nil {
						t.Fatal(err)
					}
				}
				all := chain(k, n, 4)
				m.recs = c.tamper(m.recs)
				var repo Repository = m
				if c.head != nil {
					repo = headRepo{m, c.head(all)}
				}
				var cp *Checkpoint
				if c.cp != nil {
					cp = c.cp(all)
				}
				tr := NewTrail(repo, k, "")
				tr.parts, tr.minPart = parts, 2
				st, err := repo.State(ctx)
				if err != nil {
					t.Fatal(err)
				}
				_, answered, err := tr.fullInParts(ctx, st, cp)
				if err != nil {
					t.Fatal(err)
				}
				v, err := tr.full(ctx, st, cp)
				if err != nil {
					t.Fatal(err)
				}
				return v, answered
			}
			one, _ := verify(1)
			inParts, answered := verify(3)
			if !reflect.DeepEqual(inParts, one) {
				t.Errorf("in parts:\n%+v\nin one walk:\n%+v", inParts, one)
			}
			if answered != c.answered || one.OK != c.answered {
				t.Errorf("answered by the parts: %v, OK: %v; want %v", answered, one.OK, c.answered)
			}
		})
	}
}
