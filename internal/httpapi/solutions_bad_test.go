package httpapi_test

import (
	"archive/zip"
	"bytes"
	"io/fs"
	"strings"
	"testing"

	"github.com/credflow/credflow/internal/metadb/metadbtest"
	"github.com/credflow/credflow/internal/solution/pkgzip"
)

// zipEntry is one member of a hand-built, possibly malicious, archive.
type zipEntry struct {
	name   string
	body   []byte
	mode   fs.FileMode
	stored bool
}

func craftZip(t testing.TB, entries ...zipEntry) []byte {
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
		w.Write(e.body)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// TestSolutionBadPackages sends every kind of dangerous or broken package:
// each is a 400 naming its problem, and nothing is written.
func TestSolutionBadPackages(t *testing.T) {
	manifest := []byte(`{"formatVersion":1,"name":"Evil","version":"1.0.0.0","publisher":"cf","description":"","components":[],"requires":[],"withoutValues":false}`)
	good := zipEntry{name: "solution.json", body: manifest}
	many := []zipEntry{good}
	for i := 0; i < pkgzip.MaxEntries; i++ {
		many = append(many, zipEntry{name: "components/" + strings.Repeat("x", i%5) + string(rune('a'+i%26)) + "-" + itoaTest(i) + ".json", stored: true})
	}
	inner := craftZip(t, good)
	cases := []struct {
		name string
		pkg  []byte
		code string
	}{
		{"path with ..", craftZip(t, good, zipEntry{name: "components/../../../etc/cron.d/evil", body: []byte("{}")}), "package_path_traversal"},
		{"absolute path", craftZip(t, good, zipEntry{name: "/etc/passwd", body: []byte("{}")}), "package_absolute_path"},
		{"symlink", craftZip(t, good, zipEntry{name: "components/001-variable-x.json", body: []byte("/etc/shadow"), mode: fs.ModeSymlink | 0o777}), "package_symlink"},
		{"duplicate entries", craftZip(t, good, good), "package_duplicate_entry"},
		{"nested archive", craftZip(t, good, zipEntry{name: "components/inner.zip", body: inner}), "package_nested_archive"},
		{"nested archive in a json file", craftZip(t, good, zipEntry{name: "components/001-variable-x.json", body: inner}), "package_nested_archive"},
		{"more than 120,000 entries", craftZip(t, many...), "package_too_many_entries"},
		{"more than 50 MiB", claimedSizes(t, good, 26<<20, 25<<20), "package_too_large"},
		{"ratio over 100:1", craftZip(t, good, zipEntry{name: "components/bomb.json", body: bytes.Repeat([]byte(" "), 1<<20)}), "package_ratio_exceeded"},
		{"unknown format version", craftZip(t, zipEntry{name: "solution.json", body: bytes.Replace(manifest, []byte(`"formatVersion":1`), []byte(`"formatVersion":2`), 1)}), "package_unknown_format"},
		{"no manifest", craftZip(t, zipEntry{name: "readme.txt", body: []byte("hi")}), "package_invalid"},
		{"not a zip", []byte("MZ this is not a zip"), "package_invalid"},
		{"a file the manifest does not list", craftZip(t, good, zipEntry{name: "components/extra.json", body: []byte("{}")}), "package_invalid"},
	}
	eachEngine(t, func(t *testing.T, e metadbtest.Engine) {
		_, a := start(t, e)
		for _, c := range cases {
			t.Run(c.name, func(t *testing.T) {
				r := importZip(a.as(t), c.pkg, nil, "")
				wantProblem(t, r, 400, c.code, "")
			})
		}
		if items := a.must(200, "GET", "/api/v1/solutions", nil).body["items"].([]any); len(items) != 0 {
			t.Errorf("a refused package left solutions: %v", items)
		}
		if items := a.must(200, "GET", "/api/v1/audit?action=solution.import", nil).body["items"].([]any); len(items) != 0 {
			t.Errorf("a refused package was recorded as imported: %v", items)
		}
	})
}

// claimedSizes is a package whose extra entries claim these uncompressed
// sizes and hold almost nothing: refused before anything is inflated.
func claimedSizes(t testing.TB, first zipEntry, sizes ...uint64) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	w, _ := zw.Create(first.name)
	w.Write(first.body)
	for i, n := range sizes {
		w, err := zw.CreateRaw(&zip.FileHeader{Name: "components/" + itoaTest(i) + ".json", Method: zip.Store, CompressedSize64: 2, UncompressedSize64: n})
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

func itoaTest(i int) string {
	const digits = "0123456789"
	if i < 10 {
		return digits[i : i+1]
	}
	return itoaTest(i/10) + digits[i%10:i%10+1]
}
