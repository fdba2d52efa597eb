package conjur

import (
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/credflow/credflow/internal/secretstore"
)

// maxIDLen bounds a variable id (Conjur's resource ids are database text;
// credflow keeps references short enough to show and index).
const maxIDLen = 1000

// ParseRef implements secretstore.Store. A reference is a variable id as
// Conjur's policies name it (app/db/password; ids may contain spaces),
// optionally followed by '#' and a version number (app/db/password#3). The
// last '#' starts the version, so an id that itself contains '#' is
// written with its version.
func (s *Store) ParseRef(raw string) (secretstore.Ref, error) { return ParseRef(raw) }

// ParseRef is Store.ParseRef, for callers without a store.
func ParseRef(raw string) (secretstore.Ref, error) {
	id, version := raw, ""
	if i := strings.LastIndexByte(raw, '#'); i >= 0 {
		id, version = raw[:i], raw[i+1:]
		if !validVersion(version) {
			return secretstore.Ref{}, &secretstore.RefError{Ref: raw, Rule: "after '#' comes the variable's version, a whole number from 1 (app/db/password#3)"}
		}
	}
	if rule := checkID(id); rule != "" {
		return secretstore.Ref{}, &secretstore.RefError{Ref: raw, Rule: rule}
	}
	return secretstore.Ref{Name: id, Version: version}, nil
}

// DisplayRef implements secretstore.RefDisplayer: the id, and '#' and the
// version when one is pinned, which ParseRef reads back.
func (s *Store) DisplayRef(ref secretstore.Ref) string { return display(ref) }

func display(ref secretstore.Ref) string {
	if ref.Version == "" {
		return ref.Name
	}
	return ref.Name + "#" + ref.Version
}

func validVersion(v string) bool {
	if v == "" || len(v) > 9 || v[0] == '0' {
		return false
	}
	_, err := strconv.Atoi(v)
	return err == nil && strings.Trim(v, "0123456789") == ""
}

// checkID returns the rule a variable id breaks, or "".
func checkID(id string) string {
	switch {
	case strings.TrimSpace(id) == "":
		return "must name a Conjur variable, such as app/db/password"
	case !utf8.ValidString(id):
		return "must be valid UTF-8"
	case len(id) > maxIDLen:
		return "must be at most 1000 bytes"
	case strings.IndexFunc(id, unicode.IsControl) >= 0:
		return "must not contain control characters (tabs, new lines)"
	case strings.TrimSpace(id) != id:
		return "must not start or end with spaces"
	case strings.HasPrefix(id, "/") || strings.HasSuffix(id, "/") || strings.Contains(id, "//"):
		return "must be a variable id such as app/db/password: no leading or trailing '/', no empty part"
	}
	return ""
}

// checkRef checks a Ref handed to Get or Stat, which may not have come
// from ParseRef.
func checkRef(ref secretstore.Ref) error {
	if rule := checkID(ref.Name); rule != "" {
		return &secretstore.RefError{Ref: display(ref), Rule: rule}
	}
	if ref.Version != "" && !validVersion(ref.Version) {
		return &secretstore.RefError{Ref: display(ref), Rule: "the version must be a whole number from 1"}
	}
	return nil
}
