package httpapi

import (
	"encoding"
	"encoding/json"
	"maps"
	"net/http"
	"reflect"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// The OpenAPI document is generated from the route table and the Go types of
// the request and response bodies, so that it cannot drift from the code.

func (a *API) openAPI(w http.ResponseWriter, r *http.Request) error {
	writeJSON(w, http.StatusOK, a.openAPIDocument())
	return nil
}

var pathParamRule = regexp.MustCompile(`\{([a-z]+)\}`)

func (a *API) openAPIDocument() map[string]any {
	g := &schemaGen{defs: map[string]any{}}
	// schema defines the component and answers a reference to it.
	problemRef := g.schema(reflect.TypeOf(Problem{}))
	paths := map[string]any{}
	for _, rt := range a.routes() {
		op := map[string]any{"summary": rt.summary, "operationId": operationID(rt)}
		var params []any
		for _, m := range pathParamRule.FindAllStringSubmatch(rt.path, -1) {
			params = append(params, map[string]any{"name": m[1], "in": "path", "required": true, "schema": map[string]any{"type": "string"},
				"description": "An id, or the object's unique name."})
		}
		for _, q := range rt.query {
			params = append(params, map[string]any{"name": q.name, "in": "query", "description": q.description, "schema": map[string]any{"type": "string"}})
		}
		if params != nil {
			op["parameters"] = params
		}
		if rt.body != nil {
			op["requestBody"] = map[string]any{"required": true, "content": map[string]any{
				"application/json": map[string]any{"schema": g.schema(reflect.TypeOf(rt.body))}}}
		}
		if rt.upload != nil {
			props := map[string]any{}
			for _, p := range rt.upload {
				props[p.name] = map[string]any{"type": "string", "format": "binary", "description": p.description}
			}
			op["requestBody"] = map[string]any{"required": true, "content": map[string]any{
				"multipart/form-data": map[string]any{"schema": map[string]any{"type": "object", "properties": props,
					"required": []any{rt.upload[0].name}}}}}
		}
		ok := map[string]any{"description": http.StatusText(rt.status)}
		if rt.resp != nil {
			ct := rt.contentType
			if ct == "" {
				ct = "application/json"
			}
			ok["content"] = map[string]any{ct: map[string]any{"schema": g.schema(reflect.TypeOf(rt.resp))}}
		}
		if rt.download != "" {
			ok["content"] = map[string]any{rt.download: map[string]any{"schema": map[string]any{"type": "string", "format": "binary"}}}
		}
		responses := map[string]any{
			strconv.Itoa(rt.status): ok,
			"default": map[string]any{"description": "A problem (RFC 9457)", "content": map[string]any{
				"application/problem+json": map[string]any{"schema": problemRef}}},
		}
		for _, st := range rt.also {
			also := maps.Clone(ok)
			also["description"] = http.StatusText(st)
			responses[strconv.Itoa(st)] = also
		}
		op["responses"] = responses
		if rt.public {
			op["security"] = []any{}
		}
		item, _ := paths[rt.path].(map[string]any)
		if item == nil {
			item = map[string]any{}
			paths[rt.path] = item
		}
		item[strings.ToLower(rt.method)] = op
	}
	return map[string]any{
		"openapi": "3.1.0",
		"info":    map[string]any{"title": "credflow", "version": a.Version, "description": "Credential service for automation."},
		"paths":   paths,
		"components": map[string]any{
			"schemas":         g.defs,
			"securitySchemes": map[string]any{"bearer": map[string]any{"type": "http", "scheme": "bearer"}},
		},
		"security": []any{map[string]any{"bearer": []any{}}},
	}
}

func operationID(rt route) string {
	var b strings.Builder
	b.WriteString(strings.ToLower(rt.method))
	for _, seg := range strings.Split(rt.path, "/") {
		seg = strings.Trim(seg, "{}")
		for _, part := range strings.FieldsFunc(seg, func(r rune) bool { return r == '-' || r == '.' }) {
			if part == "api" || part == "v1" {
				continue
			}
			b.WriteString(strings.ToUpper(part[:1]) + part[1:])
		}
	}
	return b.String()
}

type schemaGen struct {
	defs map[string]any
}

var (
	timeType          = reflect.TypeOf(time.Time{})
	rawMessageType    = reflect.TypeOf(json.RawMessage{})
	jsonMarshalerType = reflect.TypeOf((*json.Marshaler)(nil)).Elem()
	textMarshalerType = reflect.TypeOf((*encoding.TextMarshaler)(nil)).Elem()
)

// schema returns a JSON Schema for t, describing what encoding/json makes
// of a value of t; named structs become components.
func (g *schemaGen) schema(t reflect.Type) map[string]any {
	if t.Kind() == reflect.Pointer {
		return g.schema(t.Elem())
	}
	switch {
	case t == timeType:
		return map[string]any{"type": "string", "format": "date-time"}
	case t == rawMessageType:
		return map[string]any{} // any JSON value, as given
	case t.Implements(jsonMarshalerType):
		return map[string]any{} // the type decides its own shape
	case t.Implements(textMarshalerType):
		return map[string]any{"type": "string"}
	case t.Kind() == reflect.Slice && t.Elem().Kind() == reflect.Uint8:
		return map[string]any{"type": "string", "contentEncoding": "base64"}
	case t.Kind() == reflect.String:
		return map[string]any{"type": "string"}
	case t.Kind() == reflect.Bool:
		return map[string]any{"type": "boolean"}
	case t.Kind() >= reflect.Int && t.Kind() <= reflect.Uint64:
		return map[string]any{"type": "integer"}
	case t.Kind() == reflect.Slice:
		return map[string]any{"type": "array", "items": g.schema(t.Elem())}
	case t.Kind() == reflect.Map || t.Kind() == reflect.Interface:
		return map[string]any{"type": "object"}
	case t.Kind() == reflect.Struct:
		name := componentName(t.Name())
		if _, done := g.defs[name]; !done {
			g.defs[name] = nil // mark first, for recursive types
			props := map[string]any{}
			var required []string
			g.fields(t, props, &required)
			s := map[string]any{"type": "object", "properties": props, "additionalProperties": false}
			if required != nil {
				s["required"] = required
			}
			g.defs[name] = s
		}
		return map[string]any{"$ref": "#/components/schemas/" + name}
	}
	return map[string]any{}
}

// fields adds t's JSON fields to props, inlining embedded structs the way
// encoding/json does.
func (g *schemaGen) fields(t reflect.Type, props map[string]any, required *[]string) {
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		tag := f.Tag.Get("json")
		if f.Anonymous && tag == "" && f.Type.Kind() == reflect.Struct {
			g.fields(f.Type, props, required)
			continue
		}
		jname, opts, _ := strings.Cut(tag, ",")
		if jname == "-" || !f.IsExported() {
			continue
		}
		if jname == "" {
			jname = f.Name
		}
		props[jname] = g.schema(f.Type)
		if !strings.Contains(opts, "omitempty") && f.Type.Kind() != reflect.Pointer {
			*required = append(*required, jname)
		}
	}
}

// componentName turns an unexported Go type name into a schema name:
// variableJSON -> Variable, createVariableRequest -> CreateVariableRequest.
func componentName(goName string) string {
	n := strings.TrimSuffix(goName, "JSON")
	return strings.ToUpper(n[:1]) + n[1:]
}
