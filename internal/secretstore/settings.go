package secretstore

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"reflect"
	"strings"

	"github.com/credflow/credflow/internal/strictjson"
	"github.com/credflow/credflow/internal/validation"
)

// InlineSecret is what a kind tells someone who seems to have put a
// credential in its settings: field names holding one of Words (compared
// without case) are refused with Message, which names the file and
// environment-variable settings to use instead.
type InlineSecret struct {
	Words   []string
	Message string
}

// DecodeSettings decodes a kind's settings into dst (a pointer to its
// settings struct) strictly: one JSON object, every field known, named
// exactly and once, of the right type. Errors are *validation.Error naming
// fields as settings.<field> (settings.auth.<field> inside auth); they never
// repeat the input, which might hold a secret pasted in the wrong place.
// The kind validates the result itself.
func DecodeSettings(raw json.RawMessage, dst any, inline InlineSecret) error {
	// encoding/json alone would take "VaultName" for vaultName and let a
	// repeated field win silently.
	var se *strictjson.Error
	if err := strictjson.Check(raw, dst); errors.As(err, &se) {
		field := "settings"
		if se.Field != "" {
			field += "." + se.Field
		}
		return validation.Field(field, strings.TrimSuffix(strings.ToLower(se.Message[:1])+se.Message[1:], "."))
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(dst); err != nil {
		return settingsError(raw, err, inline)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return validation.Field("settings", "must be one JSON object, with nothing after it")
	}
	return nil
}

func settingsError(raw json.RawMessage, err error, inline InlineSecret) error {
	var typeErr *json.UnmarshalTypeError
	if errors.As(err, &typeErr) {
		field := "settings"
		if typeErr.Field != "" {
			field += "." + typeErr.Field
		}
		return validation.Field(field, "must be a JSON "+jsonType(typeErr.Type.Kind()))
	}
	// encoding/json reports an unknown field only as text.
	if name, ok := strings.CutPrefix(err.Error(), "json: unknown field "); ok {
		name = strings.Trim(name, `"`)
		msg := "unknown field"
		low := strings.ToLower(name)
		for _, w := range inline.Words {
			if strings.Contains(low, strings.ToLower(w)) {
				msg = "unknown field: " + inline.Message
				break
			}
		}
		return validation.Field(unknownFieldPath(raw, name), msg)
	}
	return validation.Field("settings", "must be a JSON object")
}

// unknownFieldPath names an unknown field where it stands: at the top, or
// inside the auth object that several kinds have.
func unknownFieldPath(raw json.RawMessage, name string) string {
	var top map[string]json.RawMessage
	if json.Unmarshal(raw, &top) == nil {
		if _, ok := top[name]; !ok {
			var auth map[string]json.RawMessage
			if json.Unmarshal(top["auth"], &auth) == nil {
				if _, ok := auth[name]; ok {
					return "settings.auth." + name
				}
			}
		}
	}
	return "settings." + name
}

func jsonType(k reflect.Kind) string {
	switch k {
	case reflect.String:
		return "string"
	case reflect.Bool:
		return "boolean"
	case reflect.Struct, reflect.Map:
		return "object"
	case reflect.Slice, reflect.Array:
		return "array"
	case reflect.Int, reflect.Int64, reflect.Int32:
		return "whole number"
	}
	return k.String()
}
