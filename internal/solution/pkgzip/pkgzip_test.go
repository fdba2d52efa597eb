package pkgzip

import (
	"archive/zip"
	"bytes"
	"compress/flate"
	"errors"
	"io/fs"
	"strings"
	"testing"
)

// entry is one member of a hand-built archive.
type entry struct {
	name   string
	body   []byte
	mode   fs.FileMode // 0: a regular file
	stored bool
}

// build writes entries as they are, duplicates and bad names included:
// the archives an attacker would send.
func build(t testing.TB, entries ...entry) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for _, e := range entries {
		h := &zip.FileHeader{Name: e.name, Method: zip.Deflate}
		if e.stored {
			h.Method = zip.Store
		}
		if e.mode != 0 {
			h.SetMode(e.mode)
		}
		w, err := zw.CreateHeader(h)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := w.Write(e.body); err != nil {
			t.Fatal(err)
		}
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func TestWriteIsDeterministic(t *testing.T) {
	files := map[string][]byte{"solution.json": []byte(`{"a":1}`), "variables/b.json": []byte(`{}`), "credentials/c.json": []byte(`{"x":2}`)}
	first, err := Write(files)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 20; i++ { // map order changes between runs
		again, err := Write(files)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(first, again) {
			t.Fatal("two writes of the same files differ")
		}
	}
	got, err := Read(first)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 3 || string(got["variables/b.json"]) != "{}" {
		t.Fatalf("read back %v", got)
	}
	zr, _ := zip.NewReader(bytes.NewReader(first), int64(len(first)))
	for i, f := range zr.File {
		if i > 0 && zr.File[i-1].Name > f.Name {
			t.Errorf("entries not sorted: %s before %s", zr.File[i-1].Name, f.Name)
		}
		if !f.Modified.Equal(fixedTime) {
			t.Errorf("%s modified %v, want the fixed time", f.Name, f.Modified)
		}
	}
}

func TestReadRefusesBadPackages(t *testing.T) {
	many := make([]entry, MaxEntries+1)
	for i := range many {
		many[i] = entry{name: "f" + strings.Repeat("x", i%7) + string(rune('a'+i%26)) + "/" + itoa(i) + ".json", stored: true}
	}
	cases := []struct {
		name string
		zip  []byte
		code string
	}{
		{"not a zip", []byte("hello, not a zip"), CodeInvalid},
		{"dot-dot", build(t, entry{name: "../../etc/cron.d/x", body: []byte("{}")}), CodePathTraversal},
		{"dot-dot in the middle", build(t, entry{name: "variables/../../x.json", body: []byte("{}")}), CodePathTraversal},
		{"dot-dot with backslashes", build(t, entry{name: `variables\..\..\x.json`, body: []byte("{}")}), CodePathTraversal},
		{"absolute", build(t, entry{name: "/etc/passwd", body: []byte("{}")}), CodeAbsolutePath},
		{"drive letter", build(t, entry{name: `C:\Windows\x.json`, body: []byte("{}")}), CodeAbsolutePath},
		{"symlink", build(t, entry{name: "link.json", body: []byte("/etc/shadow"), mode: fs.ModeSymlink | 0o777}), CodeSymlink},
		{"duplicate", build(t, entry{name: "solution.json", body: []byte("{}")}, entry{name: "solution.json", body: []byte("{}")}), CodeDuplicateEntry},
		{"duplicate by case", build(t, entry{name: "a.json", body: []byte("{}")}, entry{name: "A.json", body: []byte("{}")}), CodeDuplicateEntry},
		{"nested zip by name", build(t, entry{name: "inner.zip", body: []byte("x")}), CodeNestedArchive},
		{"nested zip by content", build(t, entry{name: "inner.json", body: build(t, entry{name: "a", body: []byte("b")})}), CodeNestedArchive},
		{"nested gzip by content", build(t, entry{name: "inner.json", body: []byte{0x1f, 0x8b, 8, 0, 0, 0}}), CodeNestedArchive},
		{"too many entries", build(t, many...), CodeTooManyEntries},
		{"too large, as declared", declaredSizes(t, 30<<20, 21<<20), CodeTooLarge},
		{"ratio", build(t, entry{name: "bomb.json", body: make([]byte, 1<<20)}), CodeRatio},
		{"a header that understates the size", understated(t), CodeInvalid},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			files, err := Read(c.zip)
			var pe *Error
			if !errors.As(err, &pe) {
				t.Fatalf("Read = %d files, %v; want a *Error", len(files), err)
			}
			if pe.Code != c.code {
				t.Fatalf("code %q, want %q (%v)", pe.Code, c.code, err)
			}
			if pe.Detail == "" || pe.Error() == "" {
				t.Error("the refusal says nothing")
			}
		})
	}
}

func TestReadAcceptsDirectoriesAndSmallRepetitiveFiles(t *testing.T) {
	z := build(t, entry{name: "variables/", mode: fs.ModeDir | 0o755}, entry{name: "variables/a.json", body: []byte(strings.Repeat(`{"k":"v"},`, 300))})
	files, err := Read(z)
	if err != nil {
		t.Fatal(err)
	}
	if len(files) != 1 {
		t.Fatalf("files %v", files)
	}
}

// understated is an archive whose one entry claims fewer bytes than it
// inflates to: the reader must stop at the claim, not trust it.
func understated(t testing.TB) []byte {
	t.Helper()
	var raw bytes.Buffer
	fw, _ := flate.NewWriter(&raw, flate.BestCompression)
	fw.Write(make([]byte, 64<<10))
	fw.Close()
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	w, err := zw.CreateRaw(&zip.FileHeader{Name: "a.json", Method: zip.Deflate, CompressedSize64: uint64(raw.Len()), UncompressedSize64: 10})
	if err != nil {
		t.Fatal(err)
	}
	w.Write(raw.Bytes())
	zw.Close()
	return buf.Bytes()
}

// declaredSizes is an archive whose entries claim these uncompressed
// sizes and hold almost nothing: Read refuses it before inflating anything.
func declaredSizes(t testing.TB, sizes ...uint64) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for i, n := range sizes {
		w, err := zw.CreateRaw(&zip.FileHeader{Name: itoa(i) + ".json", Method: zip.Store, CompressedSize64: 2, UncompressedSize64: n})
		if err != nil {
			t.Fatal(err)
		}
		w.Write([]byte("{}"))
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func itoa(i int) string {
	if i == 0 {
		return "0"
	}
	var b []byte
	for ; i > 0; i /= 10 {
		b = append([]byte{byte('0' + i%10)}, b...)
	}
	return string(b)
}
