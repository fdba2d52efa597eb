package httpapi

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
