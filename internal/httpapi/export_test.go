package httpapi

import "reflect"

// RouteKeys lists "METHOD path" of every route, for the external tests.
func RouteKeys() []string {
	var out []string
	for _, rt := range (&API{}).routes() {
		out = append(out, rt.method+" "+rt.path)
	}
	return out
}

// UndeclaredRoutes lists routes that are neither public nor declare a
// known permission.
func UndeclaredRoutes() []string {
	var out []string
	for _, rt := range (&API{}).routes() {
		if !rt.public && rt.perm.Text() == "" {
			out = append(out, rt.method+" "+rt.path)
		}
	}
	return out
}

// RouteBody is a route and the type of its request body (nil when none).
type RouteBody struct {
	Method, Path string
	Body         any
	Paged        bool
	List         bool
}

// RouteBodies lists every route with its body type and whether it pages.
func RouteBodies() []RouteBody {
	var out []RouteBody
	for _, rt := range (&API{}).routes() {
		rb := RouteBody{Method: rt.method, Path: rt.path, Body: rt.body}
		for _, q := range rt.query {
			rb.Paged = rb.Paged || q.name == "cursor"
		}
		if rt.resp != nil {
			if t := reflect.TypeOf(rt.resp); t.Kind() == reflect.Struct {
				_, rb.List = t.FieldByName("Items")
			}
		}
		out = append(out, rb)
	}
	return out
}
