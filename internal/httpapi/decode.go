package httpapi

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strconv"
	"strings"

	"github.com/credflow/credflow/internal/strictjson"
)

// defaultMaxBody bounds every request body when the API is given no bound.
const defaultMaxBody = 1 << 20

// decodeJSON reads the request's JSON body into dst strictly: the content
// type must be JSON, the body within the API's bound (Handler), every
// field known by its exact name, given once and of the right type, every
// string valid UTF-8 without NUL, and nothing after the one JSON value.
func decodeJSON(r *http.Request, dst any) error {
	mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || (mt != "application/json" && !strings.HasSuffix(mt, "+json")) {
		return &requestError{status: http.StatusUnsupportedMediaType, code: "unsupported_media_type",
			detail: "The request body must be JSON: send Content-Type: application/json."}
	}
	body, err := io.ReadAll(r.Body)
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return mbe
		}
		return badRequest("", "The request body could not be read.")
	}
	var se *strictjson.Error
	if err := strictjson.Check(body, dst); errors.As(err, &se) {
		return badRequest(se.Field, se.Message)
	} else if err != nil {
		return err
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(dst); err != nil {
		return jsonError(err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return badRequest("", "The request body must hold a single JSON value.")
	}
	return nil
}

// jsonError turns a decoding failure into a request error naming the field.
func jsonError(err error) error {
	var (
		syn *json.SyntaxError
		ute *json.UnmarshalTypeError
		mbe *http.MaxBytesError
	)
	switch {
	case errors.As(err, &mbe):
		return mbe
	case errors.Is(err, io.EOF):
		return badRequest("", "The request body is empty; it must be a JSON object.")
	case errors.Is(err, io.ErrUnexpectedEOF):
		return badRequest("", "The request body ends in the middle of a JSON value.")
	case errors.As(err, &syn):
		return badRequest("", fmt.Sprintf("The request body is not valid JSON (at byte %d).", syn.Offset))
	case errors.As(err, &ute):
		if ute.Field == "" {
			return badRequest("", fmt.Sprintf("The request body must be a JSON object, not %s.", ute.Value))
		}
		return badRequest(ute.Field, fmt.Sprintf("Field %s must be %s, not %s.", ute.Field, jsonKind(ute.Type.Kind().String()), ute.Value))
	}
	// encoding/json reports unknown fields only as text.
	if f, ok := strings.CutPrefix(err.Error(), "json: unknown field "); ok {
		f, _ = strconv.Unquote(f)
		return badRequest(f, fmt.Sprintf("Unknown field %q.", f))
	}
	return badRequest("", "The request body could not be read as JSON.")
}

func jsonKind(goKind string) string {
	switch goKind {
	case "string":
		return "a string"
	case "bool":
		return "a boolean"
	case "int", "int64", "float64":
		return "a number"
	case "slice":
		return "an array"
	default:
		return "an object"
	}
}

// queryLimit reads ?limit= (default 50, 1..200).
func queryLimit(r *http.Request) (int, error) {
	s := r.URL.Query().Get("limit")
	if s == "" {
		return 50, nil
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 1 || n > 200 {
		return 0, badRequest("limit", "Query parameter limit must be a whole number from 1 to 200.")
	}
	return n, nil
}

// queryBool reads a boolean query parameter: absent or "false" is false,
// "true" is true, anything else is refused naming the parameter (a typo must
// not quietly mean false).
func queryBool(r *http.Request, name string) (bool, error) {
	switch r.URL.Query().Get(name) {
	case "", "false":
		return false, nil
	case "true":
		return true, nil
	}
	return false, badRequest(name, fmt.Sprintf("Query parameter %s must be true or false.", name))
}

// writeJSON writes v with the given status.
func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}
