package cyberarkccp

import (
	"net/url"
	"regexp"
	"strings"
	"unicode"

	"github.com/credflow/credflow/internal/secretstore"
)

// QueryPrefix starts a reference that is a CCP free query.
const QueryPrefix = "query:"

// locator is a parsed reference: a free query, or a safe, folder and
// object.
type locator struct {
	query                string
	safe, folder, object string
}

// queryKey is an account property name in a free query.
var queryKey = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9_]{0,63}$`)

// ParseRef implements secretstore.Store. A reference is one of:
//
//	Object               an account in the store's default safe and folder
//	Safe/Object          an account in the default folder of Safe
//	Safe/Folder/Object   folders may contain '\' (Root\Sub)
//	query:Safe=S;Object=O   a CCP query on any account properties
//
// Object names may contain spaces, '\' and '&'; no part may contain ';' or
// control characters. CCP keeps no versions, so a reference has none.
func (s *Store) ParseRef(ref string) (secretstore.Ref, error) {
	if _, err := s.locate(ref); err != nil {
		return secretstore.Ref{}, err
	}
	return secretstore.Ref{Name: ref}, nil
}

func (s *Store) locate(ref string) (locator, error) {
	bad := func(rule string) (locator, error) {
		return locator{}, &secretstore.RefError{Ref: ref, Rule: rule}
	}
	switch {
	case strings.TrimSpace(ref) == "":
		return bad("is empty")
	case strings.ContainsFunc(ref, unicode.IsControl):
		return bad("must not contain control characters")
	case len(ref) > 1024:
		return bad("must be at most 1024 characters")
	}
	if q, ok := strings.CutPrefix(ref, QueryPrefix); ok {
		if rule := checkQuery(q); rule != "" {
			return bad(rule)
		}
		return locator{query: q}, nil
	}
	if strings.Contains(ref, ";") {
		return bad("must not contain ';' (CCP's query separator); write a query as query:Safe=...;Object=...")
	}
	parts := strings.Split(ref, "/")
	for _, p := range parts {
		if strings.TrimSpace(p) == "" {
			return bad("has an empty part: write Object, Safe/Object or Safe/Folder/Object")
		}
	}
	switch len(parts) {
	case 1:
		if s.settings.Safe == "" {
			return bad("names no safe and the store has no default safe: write Safe/Object")
		}
		return locator{safe: s.settings.Safe, folder: s.settings.folder(), object: parts[0]}, nil
	case 2:
		return locator{safe: parts[0], folder: s.settings.folder(), object: parts[1]}, nil
	case 3:
		return locator{safe: parts[0], folder: parts[1], object: parts[2]}, nil
	}
	return bad("has more than three '/'-separated parts: write Safe/Folder/Object (folders use '\\'), or a query:...")
}

// checkQuery returns what is wrong with a free query, or "".
func checkQuery(q string) string {
	if strings.TrimSpace(q) == "" {
		return "is an empty query: write query:Safe=...;Object=..."
	}
	for _, pair := range strings.Split(q, ";") {
		k, v, ok := strings.Cut(pair, "=")
		switch {
		case !ok:
			return "each part of a query must be Property=Value, separated by ';'"
		case !queryKey.MatchString(k):
			return "a query's property names are letters, digits and '_'"
		case strings.TrimSpace(v) == "":
			return "a query's property " + k + " has no value"
		}
	}
	return ""
}

// values are the GetPassword query parameters for a locator: a Query
// (then CCP ignores every other search parameter, and no default folder
// is added), or Safe, Folder and Object.
func (s *Store) values(l locator) url.Values {
	v := url.Values{"AppID": {s.settings.AppID}}
	if l.query != "" {
		v.Set("Query", l.query)
		return v
	}
	v.Set("Safe", l.safe)
	v.Set("Folder", l.folder)
	v.Set("Object", l.object)
	return v
}

// encode encodes query parameters with spaces as %20: IIS decodes both
// forms, %20 is unambiguous to every proxy and log reader on the way.
func encode(v url.Values) string {
	return strings.ReplaceAll(v.Encode(), "+", "%20")
}
