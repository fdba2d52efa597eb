package cli

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"
)

// outputFormat is how results are printed: tables and field lists for
// people, the API's JSON objects for scripts.
type outputFormat string

const (
	formatTable outputFormat = "table"
	formatJSON  outputFormat = "json"
)

func parseFormat(s string) (outputFormat, error) {
	switch f := outputFormat(s); f {
	case formatTable, formatJSON:
		return f, nil
	}
	return "", usageErrorf("--output must be table or json, not %q", s)
}

// writeJSON prints v indented, as the API sent it.
func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// table prints aligned columns.
type table struct {
	tw *tabwriter.Writer
}

func newTable(w io.Writer, headers ...string) *table {
	t := &table{tw: tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)}
	t.row(headers...)
	return t
}

func (t *table) row(cells ...string) {
	for i, c := range cells {
		cells[i] = cell(c)
	}
	fmt.Fprintln(t.tw, strings.Join(cells, "\t"))
}

func (t *table) flush() error { return t.tw.Flush() }

// field is one line of a single object's description.
type field struct {
	name, value string
}

// writeFields prints "Name:  value" lines, the values aligned.
func writeFields(w io.Writer, fields []field) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	for _, f := range fields {
		fmt.Fprintf(tw, "%s:\t%s\n", f.name, cell(f.value))
	}
	return tw.Flush()
}

// cell keeps one value on one line and out of tabwriter's way.
var cellReplacer = strings.NewReplacer("\t", " ", "\n", `\n`, "\r", `\r`)

func cell(s string) string { return cellReplacer.Replace(s) }

// truncate shortens s to n runes for a terminal; scripts get it whole.
func truncate(s string, n int, tty bool) string {
	r := []rune(s)
	if !tty || len(r) <= n {
		return s
	}
	return string(r[:n-1]) + "…"
}

func formatTime(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.Format(time.RFC3339)
}

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}

func formatTimePtr(t *time.Time) string {
	if t == nil {
		return ""
	}
	return formatTime(*t)
}
