package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"os"

	"github.com/credflow/credflow/internal/solution/pkgzip"
)

// packageCmd writes a solution package of n text variables, for the bulk
// import benchmark: `credflow solution import` of it creates them all in
// one transaction.
func packageCmd(args []string) int {
	fs := flag.NewFlagSet("credflow-bench package", flag.ContinueOnError)
	n := fs.Int("n", 100000, "variables in the package")
	name := fs.String("name", "bulk", "the solution's name; the variables are cf_<name>_<i>")
	out := fs.String("out", "", "the package file to write")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if *out == "" || *n < 1 {
		fmt.Fprintln(os.Stderr, "credflow-bench package: -out and -n ≥ 1 are required")
		return 2
	}
	type entry struct {
		Kind string `json:"kind"`
		Name string `json:"name"`
		File string `json:"file"`
	}
	files := make(map[string][]byte, *n+1)
	entries := make([]entry, 0, *n)
	for i := range *n {
		schema := fmt.Sprintf("cf_%s_%07d", *name, i)
		body, err := json.Marshal(map[string]string{"schemaName": schema, "displayName": fmt.Sprintf("%s %d", *name, i),
			"description": "", "type": "text", "value": fmt.Sprintf("value %d", i)})
		if err != nil {
			fmt.Fprintln(os.Stderr, "credflow-bench package:", err)
			return 1
		}
		file := fmt.Sprintf("components/%07d-variable-%s.json", i+1, schema)
		files[file] = body
		entries = append(entries, entry{Kind: "variable", Name: schema, File: file})
	}
	manifest, err := json.Marshal(map[string]any{"formatVersion": 1, "name": *name, "version": "1.0.0.0", "publisher": "bench",
		"description": fmt.Sprintf("%d text variables", *n), "components": entries, "requires": []any{}, "withoutValues": false})
	if err != nil {
		fmt.Fprintln(os.Stderr, "credflow-bench package:", err)
		return 1
	}
	files["solution.json"] = manifest
	zip, err := pkgzip.Write(files)
	if err != nil {
		fmt.Fprintln(os.Stderr, "credflow-bench package:", err)
		return 1
	}
	if err := os.WriteFile(*out, zip, 0o644); err != nil {
		fmt.Fprintln(os.Stderr, "credflow-bench package:", err)
		return 1
	}
	fmt.Printf("%s: %d variables, %d bytes\n", *out, *n, len(zip))
	return 0
}
