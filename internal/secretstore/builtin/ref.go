package builtin

import (
	"strconv"
	"strings"

	"github.com/credflow/credflow/internal/secretstore"
)

const maxNameLen = 127

// The rules, written for people; they appear in *secretstore.RefError.
const (
	nameRule    = "a secret name is 1-127 characters of letters, digits, '.', '_' and '-', starting with a letter or digit"
	versionRule = "a version is a whole number from 1 to 2147483647, without leading zeros"
	refRule     = "a reference is <name> or <name>/<version>"
)

// ParseRef parses "<name>" or "<name>/<version>". Names are case-sensitive.
func (*Store) ParseRef(ref string) (secretstore.Ref, error) {
	name, version, pinned := strings.Cut(ref, "/")
	if err := checkName(name); err != nil {
		return secretstore.Ref{}, &secretstore.RefError{Ref: ref, Rule: err.Rule}
	}
	if !pinned {
		return secretstore.Ref{Name: name}, nil
	}
	if strings.Contains(version, "/") {
		return secretstore.Ref{}, &secretstore.RefError{Ref: ref, Rule: refRule}
	}
	if _, err := parseVersion(version); err != nil {
		return secretstore.Ref{}, &secretstore.RefError{Ref: ref, Rule: err.Rule}
	}
	return secretstore.Ref{Name: name, Version: version}, nil
}

// checkRef validates a Ref built by a caller and returns its version as a
// number, 0 for the latest.
func checkRef(ref secretstore.Ref) (int, error) {
	if err := checkName(ref.Name); err != nil {
		return 0, &secretstore.RefError{Ref: ref.String(), Rule: err.Rule}
	}
	if ref.Version == "" {
		return 0, nil
	}
	v, err := parseVersion(ref.Version)
	if err != nil {
		return 0, &secretstore.RefError{Ref: ref.String(), Rule: err.Rule}
	}
	return v, nil
}

// checkName returns a RefError without Ref, for the caller to fill in.
func checkName(name string) *secretstore.RefError {
	if name == "" || len(name) > maxNameLen {
		return &secretstore.RefError{Ref: name, Rule: nameRule}
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		alnum := 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9'
		if !alnum && (i == 0 || c != '.' && c != '_' && c != '-') {
			return &secretstore.RefError{Ref: name, Rule: nameRule}
		}
	}
	return nil
}

// parseVersion accepts only the canonical decimal form, so that one version
// has one spelling, and only what fits the database's INTEGER column.
func parseVersion(s string) (int, *secretstore.RefError) {
	if s == "" || s[0] == '0' {
		return 0, &secretstore.RefError{Ref: s, Rule: versionRule}
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return 0, &secretstore.RefError{Ref: s, Rule: versionRule}
		}
	}
	v, err := strconv.ParseInt(s, 10, 32)
	if err != nil {
		return 0, &secretstore.RefError{Ref: s, Rule: versionRule}
	}
	return int(v), nil
}
