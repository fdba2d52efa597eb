package audit

import (
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func testKey(t *testing.T, b byte) *Key {
	t.Helper()
	master := make([]byte, 32)
	for i := range master {
		master[i] = b
	}
	k, err := DeriveKey(master)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// chain builds n records: plain up to keyedFrom (exclusive), keyed from it
// (the switch record first).
func chain(k *Key, n, keyedFrom int64) []Record {
	var out []Record
	var prev []byte
	at := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	for seq := int64(1); seq <= n; seq++ {
		r := Record{Seq: seq, Time: at, Entry: Entry{Actor: "alice", Action: "x.do", Resource: fmt.Sprint("r:", seq), Outcome: Success}, PrevHash: prev}
		if seq == keyedFrom {
			r.Action = SwitchAction
		}
		if keyedFrom > 0 && seq >= keyedFrom {
			Seal(&r, k)
		} else {
			Seal(&r, nil)
		}
		out, prev = append(out, r), r.Hash
	}
	return out
}

func reseal(recs []Record, from int, k *Key) {
	for i := from; i < len(recs); i++ {
		if i > 0 {
			recs[i].PrevHash = recs[i-1].Hash
		}
		Seal(&recs[i], k)
	}
}

func TestVerifier(t *testing.T) {
	k, wrong := testKey(t, 1), testKey(t, 2)
	cases := []struct {
		name     string
		tamper   func([]Record) []Record
		key      *Key // nil: k
		firstBad int64
		finding  string
	}{
		{"intact", func(r []Record) []Record { return r }, nil, 0, ""},
		{"plain record edited", func(r []Record) []Record { r[1].Actor = "mallory"; return r }, nil, 2, FindingEdited},
		{"keyed record edited", func(r []Record) []Record { r[5].Actor = "mallory"; return r }, nil, 6, FindingEdited},
		{"last record edited", func(r []Record) []Record { r[9].Actor = "mallory"; return r }, nil, 10, FindingEdited},
		{"recomputed with a wrong key", func(r []Record) []Record { r[5].Actor = "mallory"; reseal(r, 5, wrong); return r }, nil, 6, FindingRecomputed},
		{"recomputed plain", func(r []Record) []Record { r[5].Actor = "mallory"; reseal(r, 5, nil); return r }, nil, 6, FindingRecomputed},
		{"recomputed plain, marked keyed", func(r []Record) []Record {
			r[5].Actor = "mallory"
			reseal(r, 5, nil)
			for i := 5; i < len(r); i++ {
				r[i].Link = LinkHMAC
			}
			return r
		}, nil, 6, FindingRecomputed},
		{"middle deleted", func(r []Record) []Record { return append(r[:6:6], r[7:]...) }, nil, 8, FindingDeleted},
		{"middle deleted and renumbered", func(r []Record) []Record {
			r = append(r[:6:6], r[7:]...)
			for i := 6; i < len(r); i++ {
				r[i].Seq--
			}
			return r
		}, nil, 7, FindingReordered},
		{"switch record moved", func(r []Record) []Record { r[3].Action = "x.do"; return r }, nil, 4, FindingEdited},
		{"verified with the wrong key", func(r []Record) []Record { return r }, wrong, 4, FindingRecomputed},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			recs := c.tamper(chain(k, 10, 4))
			key := k
			if c.key != nil {
				key = c.key
			}
			v := NewVerifier(key, 4)
			for _, r := range recs {
				if !v.Add(r) {
					break
				}
			}
			res := v.Finish(Head(recs[len(recs)-1]))
			if res.OK != (c.finding == "") || res.FirstBad != c.firstBad || res.Finding != c.finding || (c.finding != "" && res.Problem == "") {
				t.Errorf("got %+v, want first bad %d, finding %q", res, c.firstBad, c.finding)
			}
		})
	}
	t.Run("truncated", func(t *testing.T) {
		recs := chain(k, 10, 4)
		v := NewVerifier(k, 4)
		for _, r := range recs[:8] {
			v.Add(r)
		}
		if res := v.Finish(Head(recs[9])); res.OK || res.FirstBad != 9 || res.Finding != FindingTruncated ||
			res.Problem != "the log ends at record 8 but the database's recorded head is record 10: records were removed from the end (truncated)" {
			t.Errorf("got %+v", res)
		}
	})
	t.Run("after an anchor", func(t *testing.T) {
		recs := chain(k, 10, 4)
		v := NewVerifierAfter(k, 4, 6, recs[5].Hash)
		for _, r := range recs[6:] {
			v.Add(r)
		}
		if res := v.Finish(Head(recs[9])); !res.OK || res.Checked != 4 || res.Full || res.From != 6 {
			t.Errorf("got %+v", res)
		}
	})
}

func TestCheckpointFile(t *testing.T) {
	k := testKey(t, 1)
	path := filepath.Join(t.TempDir(), "cp")
	if cp, err := ReadCheckpoints(path, k); cp != nil || err != nil {
		t.Fatalf("missing file: %v %v", cp, err)
	}
	f := checkpointFile{path: path}
	for _, seq := range []int64{5, 9, 7} {
		cp := Checkpoint{Seq: seq, Records: seq, Head: "abcd", Time: time.Now().UTC()}
		cp.seal(k)
		if err := f.append(cp); err != nil {
			t.Fatal(err)
		}
	}
	if cp, err := ReadCheckpoints(path, k); err != nil || cp.Seq != 9 {
		t.Fatalf("newest: %+v %v", cp, err)
	}
	// A line cut short by a crash is ignored, and the next one starts on a
	// line of its own.
	fh, _ := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
	fh.WriteString(`{"seq":12,"rec`)
	fh.Close()
	if cp, err := ReadCheckpoints(path, k); err != nil || cp.Seq != 9 {
		t.Fatalf("torn last line: %+v %v", cp, err)
	}
	f2 := checkpointFile{path: path}
	cp := Checkpoint{Seq: 11, Records: 11, Head: "abcd", Time: time.Now().UTC()}
	cp.seal(k)
	if err := f2.append(cp); err != nil {
		t.Fatal(err)
	}
	if _, err := ReadCheckpoints(path, k); err == nil || !strings.Contains(err.Error(), "line 4 of the checkpoint file") {
		t.Fatalf("the torn line, now complete, must not verify: %v", err)
	}
	// Another key does not verify the file.
	if _, err := ReadCheckpoints(path, testKey(t, 2)); err == nil || !strings.Contains(err.Error(), "line 1 of the checkpoint file "+path+" does not verify under the audit key") {
		t.Fatalf("wrong key: %v", err)
	}
	// The writer notices a file removed under it.
	os.Remove(path)
	if err := f2.append(cp); err == nil || !strings.Contains(err.Error(), "was removed while the server ran") {
		t.Fatalf("append after removal: %v", err)
	}
}

func TestKeyRedacts(t *testing.T) {
	k := testKey(t, 7)
	j, _ := json.Marshal(struct{ K *Key }{k})
	var buf strings.Builder
	slog.New(slog.NewTextHandler(&buf, nil)).Info("x", slog.Any("key", k))
	for _, s := range []string{fmt.Sprint(k), fmt.Sprintf("%v %+v %#v %s %x", k, k, k, k, k), string(j), buf.String()} {
		if strings.Contains(s, fmt.Sprintf("%x", k.chain)[:8]) || !strings.Contains(s, "[redacted]") {
			t.Errorf("key printed as %q", s)
		}
	}
}
