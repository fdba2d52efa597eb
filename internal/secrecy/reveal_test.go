package secrecy

import (
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
)

// allowed are the functions (file: function) that may call Reveal, with
// why. Anything else that reveals a value fails the test: wrap the value
// further, or argue for the new place here.
var allowed = map[string]string{
	"internal/httpapi/connections.go: resolveConnection":   "the resolve answer: the one place the API hands out a value",
	"internal/secretstore/builtin/builtin.go: Put":         "the built-in store encrypts the value it stores",
	"internal/secretstore/storetest/storetest.go: mustGet": "the store conformance suite compares what a store returns",
	"internal/secretstore/storetest/read.go: runRead":      "the store conformance suite compares what a store returns",
	"internal/cli/run.go: runRun":                          "credflow run passes the values to the child's environment",
	"internal/cli/connection.go: connectionResolveRun":     "credflow connection resolve prints the values the runner asked for",
	"internal/cli/token.go: tokenCreateRun":                "credflow token create prints the new token once",
	"client/connection.go: Resolve":                        "the client decodes the resolve answer's base64 form",
}

// wrappers are the only types whose raw value Reveal returns.
var wrappers = map[string]bool{
	"internal/secretstore/secretstore.go: Value": true,
	"client/sensitive.go: Sensitive":             true,
}

// TestRevealOnlyWhereAllowed parses every non-test Go file of the module
// and fails on a call of Reveal outside the allowed functions, and on a
// Reveal method of any type but the two wrappers (which would let a value
// out under the same name unchecked).
func TestRevealOnlyWhereAllowed(t *testing.T) {
	root := moduleRoot(t)
	used := map[string]bool{}
	var bad []string
	fset := token.NewFileSet()
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if name := d.Name(); path != root && (strings.HasPrefix(name, ".") || name == "testdata" || name == "node_modules") {
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return nil
		}
		rel := filepath.ToSlash(must(filepath.Rel(root, path)))
		f, err := parser.ParseFile(fset, path, nil, parser.SkipObjectResolution)
		if err != nil {
			return err
		}
		for _, decl := range f.Decls {
			fn, ok := decl.(*ast.FuncDecl)
			if !ok {
				continue
			}
			if fn.Name.Name == "Reveal" && fn.Recv != nil {
				if key := rel + ": " + receiverType(fn); !wrappers[key] {
					bad = append(bad, key+" declares a Reveal method: only the two wrappers may")
				}
			}
			if fn.Body == nil {
				continue
			}
			ast.Inspect(fn.Body, func(n ast.Node) bool {
				call, ok := n.(*ast.CallExpr)
				if !ok {
					return true
				}
				if sel, ok := call.Fun.(*ast.SelectorExpr); ok && sel.Sel.Name == "Reveal" && len(call.Args) == 0 {
					key := rel + ": " + fn.Name.Name
					if _, ok := allowed[key]; ok {
						used[key] = true
					} else {
						bad = append(bad, fset.Position(call.Pos()).String()+" reveals a secret in "+fn.Name.Name)
					}
				}
				return true
			})
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	sort.Strings(bad)
	for _, b := range bad {
		t.Error(strings.TrimPrefix(b, root+string(filepath.Separator)))
	}
	// An allowance nobody uses any more is removed, so the list stays the
	// truth.
	for key := range allowed {
		if !used[key] {
			t.Errorf("%s is allowed to reveal but no longer does: remove it from the list", key)
		}
	}
}

func receiverType(fn *ast.FuncDecl) string {
	typ := fn.Recv.List[0].Type
	if star, ok := typ.(*ast.StarExpr); ok {
		typ = star.X
	}
	if id, ok := typ.(*ast.Ident); ok {
		return id.Name
	}
	return "?"
}

func moduleRoot(t *testing.T) string {
	t.Helper()
	dir := must(os.Getwd())
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatal("no go.mod above the test's directory")
		}
		dir = parent
	}
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}
