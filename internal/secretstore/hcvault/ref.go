package hcvault

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"unicode"

	"github.com/credflow/credflow/internal/secretstore"
)

// DefaultField is the field of a KV secret a reference reads when it names
// none.
const DefaultField = "password"

// refRule is the reference syntax, written for people; it appears in
// *secretstore.RefError.
const refRule = "a reference is path[#field][@version]: the secret's path in the KV mount (app/db), the field of its data (default password) and a version number (default the latest), e.g. app/db#password@2"

// ParseRef implements secretstore.Store. A reference is
// path[#field][@version]: the secret's path inside the store's KV version 2
// mount, the field of the secret's data holding the value (default
// password) and a version number (default: the latest at each read).
//
// The Ref's Name is the path, followed by "#field" when the field is not
// password; its Version is the number. DisplayRef writes a Ref back in
// this syntax.
func (s *Store) ParseRef(ref string) (secretstore.Ref, error) {
	path, field, version, err := s.split(ref)
	if err != nil {
		return secretstore.Ref{}, err
	}
	return makeRef(path, field, version), nil
}

func makeRef(path, field, version string) secretstore.Ref {
	name := path
	if field != DefaultField {
		name += "#" + field
	}
	return secretstore.Ref{Name: name, Version: version}
}

// split parses a reference into its path, field and version.
func (s *Store) split(ref string) (path, field, version string, err error) {
	bad := func(rule string) (string, string, string, error) {
		return "", "", "", &secretstore.RefError{Ref: ref, Rule: rule}
	}
	if strings.IndexFunc(ref, unicode.IsControl) >= 0 {
		return bad("a reference has no control characters (tabs, line breaks)")
	}
	// The version follows the last '@' of the field, or of the path when
	// no field is named: a path may hold '@' when its field is named.
	path, field, hasField := strings.Cut(ref, "#")
	tail := &path
	if hasField {
		tail = &field
	}
	if i := strings.LastIndex(*tail, "@"); i >= 0 {
		version, *tail = (*tail)[i+1:], (*tail)[:i]
		if !validVersion(version) {
			return bad("the version after '@' is a positive whole number (a path holding '@' must name its field: path#password)")
		}
	}
	if !hasField {
		field = DefaultField
	}
	switch {
	case strings.TrimSpace(path) == "":
		return bad(refRule)
	case s != nil && strings.HasPrefix(path, s.settings.mount()+"/data/"):
		return bad(fmt.Sprintf("write the path inside the mount without %q: %q", s.settings.mount()+"/data/", strings.TrimPrefix(path, s.settings.mount()+"/data/")))
	case strings.HasPrefix(path, "/") || strings.HasSuffix(path, "/") || strings.Contains(path, "//"):
		return bad("a path has no leading or trailing '/' and no empty segment ('//')")
	case path != strings.TrimSpace(path):
		return bad("a path does not begin or end with a space")
	case hasSegment(path, ".", ".."):
		return bad("a path has no '.' or '..' segment")
	case len(path) > 1024:
		return bad("a path is at most 1024 characters")
	case field == "" || field != strings.TrimSpace(field):
		return bad("the field after '#' is the non-empty name of a key of the secret's data, without surrounding spaces")
	case strings.Contains(field, "#"):
		return bad("a reference has one '#', before the field")
	}
	return path, field, version, nil
}

func hasSegment(path string, segs ...string) bool {
	for _, p := range strings.Split(path, "/") {
		if slices.Contains(segs, p) {
			return true
		}
	}
	return false
}

func validVersion(v string) bool {
	n, err := strconv.ParseUint(v, 10, 31)
	return err == nil && n > 0 && strconv.FormatUint(n, 10) == v
}

// parts checks a Ref a caller built and returns its path, field and
// version.
func parts(ref secretstore.Ref) (path, field string, version int, err error) {
	raw := ref.Name
	if ref.Version != "" {
		raw += "@" + ref.Version
	}
	var v string
	path, field, v, err = (*Store)(nil).split(raw)
	if err != nil {
		return "", "", 0, err
	}
	if v != "" {
		version, _ = strconv.Atoi(v)
	}
	return path, field, version, nil
}

// DisplayRef implements secretstore.RefDisplayer: path#field[@version],
// which ParseRef reads back as ref.
func (s *Store) DisplayRef(ref secretstore.Ref) string {
	out := ref.Name
	if !strings.Contains(out, "#") {
		out += "#" + DefaultField
	}
	if ref.Version != "" {
		out += "@" + ref.Version
	}
	return out
}
