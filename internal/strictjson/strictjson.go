// Package strictjson finds what encoding/json lets through silently in a
// JSON document: a key given twice (the last one wins), a key that matches a
// field only when case is ignored (which encoding/json takes for it), a string that is not valid UTF-8 or holds
// an unpaired surrogate escape (both become U+FFFD), and a NUL character in
// a string (which PostgreSQL cannot store). It checks a document against the
// Go type it is about to be decoded into; decoding itself, with its unknown
// field and type errors, stays with encoding/json.
package strictjson

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"strconv"
	"strings"
	"unicode/utf8"
)

// Error is one rule the document breaks, at Field: a dotted path such as
// "secretRef.store" or "items[2]"; "" for the document as a whole.
type Error struct {
	Field   string
	Message string
}

func (e *Error) Error() string { return e.Message }

// Check reports the first *Error in data, read as the JSON value that is
// about to be decoded into dst (a pointer, or nil for no type). It returns
// nil when data is not well-formed JSON, for the decoder to explain, and a
// non-*Error only when reading fails for another reason.
func Check(data []byte, dst any) error {
	c := &checker{data: data, dec: json.NewDecoder(bytes.NewReader(data))}
	c.dec.UseNumber()
	var t reflect.Type
	if dst != nil {
		t = reflect.TypeOf(dst)
	}
	err := c.value(t, "")
	var se *json.SyntaxError
	if errors.As(err, &se) || errors.Is(err, errSyntax) {
		return nil
	}
	return err
}

var (
	errSyntax    = errors.New("strictjson: not well-formed")
	unmarshaler  = reflect.TypeFor[json.Unmarshaler]()
	rawMessageTy = reflect.TypeFor[json.RawMessage]()
)

type checker struct {
	data []byte
	dec  *json.Decoder
}

// token reads the next token and the raw bytes it came from (with any
// separators and white space before it, which are ASCII).
func (c *checker) token() (json.Token, []byte, error) {
	start := c.dec.InputOffset()
	tok, err := c.dec.Token()
	if err != nil {
		return nil, nil, errSyntaxOr(err)
	}
	return tok, c.data[start:c.dec.InputOffset()], nil
}

// errSyntaxOr reports a token error as a syntax problem: Check leaves those
// to the decoder, whose messages carry the offset.
func errSyntaxOr(err error) error {
	var se *json.SyntaxError
	if errors.As(err, &se) {
		return se
	}
	return errSyntax
}

// value checks one JSON value that decodes into t (nil: any).
func (c *checker) value(t reflect.Type, path string) error {
	tok, raw, err := c.token()
	if err != nil {
		return err
	}
	return c.valueFrom(tok, raw, t, path)
}

func (c *checker) valueFrom(tok json.Token, raw []byte, t reflect.Type, path string) error {
	t = shape(t)
	switch v := tok.(type) {
	case json.Delim:
		switch v {
		case '{':
			return c.object(t, path)
		case '[':
			return c.array(t, path)
		}
		return errSyntax
	case string:
		return checkString(v, raw, path)
	}
	return nil
}

// shape is the type whose fields the JSON names: pointers removed, and nil
// for types that decode themselves (their own rules apply).
func shape(t reflect.Type) reflect.Type {
	for t != nil && t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if t == nil || t == rawMessageTy {
		return nil
	}
	if t.Implements(unmarshaler) || reflect.PointerTo(t).Implements(unmarshaler) {
		return nil
	}
	return t
}

func (c *checker) object(t reflect.Type, path string) error {
	var fields map[string]reflect.Type
	var elem reflect.Type
	if t != nil {
		switch t.Kind() {
		case reflect.Struct:
			fields = fieldsOf(t)
		case reflect.Map:
			elem = t.Elem()
		}
	}
	seen := map[string]bool{}
	for c.dec.More() {
		tok, raw, err := c.token()
		if err != nil {
			return err
		}
		key, ok := tok.(string)
		if !ok {
			return errSyntax
		}
		if rule := badText(key, raw); rule != "" {
			return &Error{Field: path, Message: fmt.Sprintf("A field name in %s %s.", where(path), rule)}
		}
		sub := join(path, key)
		if seen[key] {
			return &Error{Field: sub, Message: fmt.Sprintf("Field %s is given more than once.", sub)}
		}
		seen[key] = true
		ft := elem
		if fields != nil {
			var known bool
			if ft, known = fields[key]; !known {
				if name := foldMatch(key, fields); name != "" {
					return &Error{Field: sub, Message: fmt.Sprintf(
						"Unknown field %q: field names are case-sensitive; did you mean %q?", sub, name)}
				}
				// Wholly unknown: the decoder's own rule (and its
				// caller's words) apply.
			}
		}
		if err := c.value(ft, sub); err != nil {
			return err
		}
	}
	_, _, err := c.token() // '}'
	return err
}

func (c *checker) array(t reflect.Type, path string) error {
	var elem reflect.Type
	if t != nil && (t.Kind() == reflect.Slice || t.Kind() == reflect.Array) && t.Elem().Kind() != reflect.Uint8 {
		elem = t.Elem()
	}
	for i := 0; c.dec.More(); i++ {
		if err := c.value(elem, path+"["+strconv.Itoa(i)+"]"); err != nil {
			return err
		}
	}
	_, _, err := c.token() // ']'
	return err
}

// foldMatch returns the field name that key matches only when case is
// ignored, or "".
func foldMatch(key string, fields map[string]reflect.Type) string {
	for name := range fields {
		if strings.EqualFold(name, key) {
			return name
		}
	}
	return ""
}

// fieldsOf lists the JSON names of a struct's fields, as encoding/json
// reads them: the tag's name or the Go name, embedded structs' fields
// promoted, "-" and unexported fields left out.
func fieldsOf(t reflect.Type) map[string]reflect.Type {
	out := map[string]reflect.Type{}
	for i := range t.NumField() {
		f := t.Field(i)
		tag := f.Tag.Get("json")
		if tag == "-" {
			continue
		}
		name, _, _ := strings.Cut(tag, ",")
		if f.Anonymous && name == "" {
			ft := f.Type
			if ft.Kind() == reflect.Pointer {
				ft = ft.Elem()
			}
			if ft.Kind() == reflect.Struct {
				for n, typ := range fieldsOf(ft) {
					if _, ok := out[n]; !ok {
						out[n] = typ
					}
				}
				continue
			}
		}
		if !f.IsExported() {
			continue
		}
		if name == "" {
			name = f.Name
		}
		out[name] = f.Type
	}
	return out
}

// checkString checks a string value.
func checkString(s string, raw []byte, path string) error {
	if rule := badText(s, raw); rule != "" {
		return &Error{Field: path, Message: fmt.Sprintf("%s %s.", capital(where(path)), rule)}
	}
	return nil
}

// badText checks a decoded string against the raw JSON it came from and
// says what is wrong with it, or "".
func badText(s string, raw []byte) string {
	if !utf8.Valid(raw) || hasLoneSurrogate(raw) {
		return "is not valid UTF-8 text"
	}
	if strings.IndexByte(s, 0) >= 0 {
		return "holds a NUL character, which is not allowed"
	}
	return ""
}

// hasLoneSurrogate reports a \u escape of a UTF-16 surrogate that is not
// half of a pair: encoding/json turns it into U+FFFD without a word.
func hasLoneSurrogate(raw []byte) bool {
	for i := 0; i < len(raw); i++ {
		if raw[i] != '\\' {
			continue
		}
		i++
		if i >= len(raw) || raw[i] != 'u' {
			continue
		}
		r, ok := hex4(raw, i+1)
		if !ok {
			continue
		}
		i += 4
		switch {
		case r >= 0xDC00 && r <= 0xDFFF:
			return true
		case r >= 0xD800 && r <= 0xDBFF:
			if i+2 >= len(raw) || raw[i+1] != '\\' || raw[i+2] != 'u' {
				return true
			}
			lo, ok := hex4(raw, i+3)
			if !ok || lo < 0xDC00 || lo > 0xDFFF {
				return true
			}
			i += 6
		}
	}
	return false
}

func hex4(b []byte, at int) (rune, bool) {
	if at+4 > len(b) {
		return 0, false
	}
	n, err := strconv.ParseUint(string(b[at:at+4]), 16, 32)
	return rune(n), err == nil
}

func join(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

func where(path string) string {
	if path == "" {
		return "the request body"
	}
	return "field " + path
}

func capital(s string) string { return strings.ToUpper(s[:1]) + s[1:] }
