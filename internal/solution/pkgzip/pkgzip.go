// Package pkgzip writes and reads the zip archives that carry solutions
// between credflow instances. Writing is deterministic: the same files give
// byte-identical archives (sorted entries, fixed timestamps, no extra
// fields). Reading happens in memory, never on disk, and refuses any archive
// that could be an attack on whoever unpacks it: paths that climb out with
// "..", absolute paths, symbolic links, duplicate entries, archives inside
// the archive, too many entries, too much uncompressed data, or a suspicious
// compression ratio. It knows nothing of what the files mean.
package pkgzip

import (
	"archive/zip"
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"path"
	"slices"
	"strings"
	"time"
)

// Limits of an archive that Read accepts.
const (
	// MaxEntries lets a package carry 100,000 variables, the bulk a large
	// estate moves at once, and bounds what reading the archive's
	// directory costs (about 400 bytes of memory per entry).
	MaxEntries = 120_000
	MaxTotal   = 50 << 20 // uncompressed bytes, all entries together
	MaxRatio   = 100      // uncompressed bytes per compressed byte
	// ratioFloor is the entry size below which the ratio is not checked:
	// a few bytes of JSON compress to a few bytes plus deflate's overhead,
	// and the ratio of tiny entries says nothing about a bomb.
	ratioFloor = 4 << 10
)

// The codes of a refused archive, one per rule.
const (
	CodeInvalid        = "package_invalid"
	CodePathTraversal  = "package_path_traversal"
	CodeAbsolutePath   = "package_absolute_path"
	CodeSymlink        = "package_symlink"
	CodeDuplicateEntry = "package_duplicate_entry"
	CodeNestedArchive  = "package_nested_archive"
	CodeTooManyEntries = "package_too_many_entries"
	CodeTooLarge       = "package_too_large"
	CodeRatio          = "package_ratio_exceeded"
)

// Error is an archive Read refused. Entry names the entry at fault ("" for
// the archive as a whole); Code is one of the Code constants.
type Error struct {
	Code   string
	Entry  string
	Detail string
}

func (e *Error) Error() string {
	if e.Entry == "" {
		return "solution package: " + e.Detail
	}
	return fmt.Sprintf("solution package entry %q: %s", e.Entry, e.Detail)
}

// fixedTime is every entry's modification time, so that the archive's bytes
// depend on the files only.
var fixedTime = time.Date(1980, 1, 1, 0, 0, 0, 0, time.UTC)

// Write returns a zip holding files (name to content), entries sorted by
// name, deflated, with a fixed timestamp and mode.
func Write(files map[string][]byte) ([]byte, error) {
	names := make([]string, 0, len(files))
	for n := range files {
		names = append(names, n)
	}
	slices.Sort(names)
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for _, n := range names {
		h := &zip.FileHeader{Name: n, Method: zip.Deflate, Modified: fixedTime}
		h.SetMode(0o644)
		w, err := zw.CreateHeader(h)
		if err != nil {
			return nil, fmt.Errorf("write %s: %w", n, err)
		}
		if _, err := w.Write(files[n]); err != nil {
			return nil, fmt.Errorf("write %s: %w", n, err)
		}
	}
	if err := zw.Close(); err != nil {
		return nil, fmt.Errorf("finish archive: %w", err)
	}
	return buf.Bytes(), nil
}

// Read checks the archive data and returns its regular files by name.
// Directory entries are skipped. Every refusal is an *Error.
func Read(data []byte) (map[string][]byte, error) {
	zr, err := zip.NewReader(bytes.NewReader(data), int64(len(data)))
	if err != nil && !errors.Is(err, zip.ErrInsecurePath) {
		return nil, &Error{Code: CodeInvalid, Detail: "is not a zip archive"}
	}
	if len(zr.File) > MaxEntries {
		return nil, &Error{Code: CodeTooManyEntries, Detail: fmt.Sprintf("has %d entries; at most %d are allowed", len(zr.File), MaxEntries)}
	}
	// Names and kinds first, so that a bad archive is refused before any
	// of it is decompressed.
	seen := make(map[string]bool, len(zr.File))
	var declared uint64
	for _, f := range zr.File {
		if err := checkName(f.Name); err != nil {
			return nil, err
		}
		mode := f.Mode()
		switch {
		case mode&fs.ModeSymlink != 0:
			return nil, &Error{Code: CodeSymlink, Entry: f.Name, Detail: "is a symbolic link; a package holds regular files only"}
		case mode.IsDir():
			continue
		case !mode.IsRegular():
			return nil, &Error{Code: CodeInvalid, Entry: f.Name, Detail: "is not a regular file"}
		}
		key := strings.ToLower(path.Clean(strings.ReplaceAll(f.Name, `\`, "/")))
		if seen[key] {
			return nil, &Error{Code: CodeDuplicateEntry, Entry: f.Name, Detail: "appears more than once"}
		}
		seen[key] = true
		if isArchiveName(f.Name) {
			return nil, &Error{Code: CodeNestedArchive, Entry: f.Name, Detail: "is an archive inside the package"}
		}
		declared += f.UncompressedSize64
		if declared > MaxTotal {
			return nil, tooLarge()
		}
	}
	files := make(map[string][]byte, len(zr.File))
	var total int64
	for _, f := range zr.File {
		if f.Mode().IsDir() {
			continue
		}
		body, err := readEntry(f, MaxTotal-total)
		if err != nil {
			return nil, err
		}
		total += int64(len(body))
		if isArchiveContent(body) {
			return nil, &Error{Code: CodeNestedArchive, Entry: f.Name, Detail: "holds an archive inside the package"}
		}
		files[f.Name] = body
	}
	return files, nil
}

// readEntry decompresses f, trusting none of its header's sizes: it stops
// past budget bytes, and checks the ratio of what it really got.
func readEntry(f *zip.File, budget int64) ([]byte, error) {
	rc, err := f.Open()
	if err != nil {
		return nil, &Error{Code: CodeInvalid, Entry: f.Name, Detail: "cannot be read: unsupported compression or a damaged header"}
	}
	defer rc.Close()
	body, err := io.ReadAll(io.LimitReader(rc, budget+1))
	switch {
	case int64(len(body)) > budget:
		return nil, tooLarge()
	case err != nil:
		return nil, &Error{Code: CodeInvalid, Entry: f.Name, Detail: "is damaged: its data does not decompress or fails its checksum"}
	}
	if n := uint64(len(body)); n >= ratioFloor && n > MaxRatio*max(f.CompressedSize64, 1) {
		return nil, &Error{Code: CodeRatio, Entry: f.Name,
			Detail: fmt.Sprintf("decompresses to more than %d times its compressed size", MaxRatio)}
	}
	return body, nil
}

func tooLarge() error {
	return &Error{Code: CodeTooLarge, Detail: fmt.Sprintf("holds more than %d MiB uncompressed", MaxTotal>>20)}
}

// checkName refuses names that would land outside the directory a naive
// unpacker extracts into.
func checkName(name string) error {
	n := strings.ReplaceAll(name, `\`, "/")
	switch {
	case name == "" || strings.IndexByte(name, 0) >= 0:
		return &Error{Code: CodeInvalid, Entry: name, Detail: "has an empty name or one with a NUL character"}
	case strings.HasPrefix(n, "/") || len(n) >= 2 && n[1] == ':':
		return &Error{Code: CodeAbsolutePath, Entry: name, Detail: "has an absolute path"}
	}
	for _, seg := range strings.Split(n, "/") {
		if seg == ".." {
			return &Error{Code: CodePathTraversal, Entry: name, Detail: `has a path with "..", which climbs out of the package`}
		}
	}
	return nil
}

var archiveExts = []string{".zip", ".jar", ".war", ".gz", ".tgz", ".tar", ".bz2", ".xz", ".7z", ".rar", ".zst"}

func isArchiveName(name string) bool {
	lower := strings.ToLower(name)
	return slices.ContainsFunc(archiveExts, func(ext string) bool { return strings.HasSuffix(lower, ext) })
}

// archiveMagic are the first bytes of the archive and compressed formats.
var archiveMagic = [][]byte{
	[]byte("PK\x03\x04"), []byte("PK\x05\x06"), {0x1f, 0x8b}, []byte("BZh"), {0xfd, '7', 'z', 'X', 'Z', 0},
	{'7', 'z', 0xbc, 0xaf, 0x27, 0x1c}, []byte("Rar!"), {0x28, 0xb5, 0x2f, 0xfd},
}

func isArchiveContent(b []byte) bool {
	return slices.ContainsFunc(archiveMagic, func(m []byte) bool { return bytes.HasPrefix(b, m) })
}
