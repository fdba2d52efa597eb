package cli

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"
	"unicode/utf8"

	"github.com/credflow/credflow/client"
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

// writeJSON prints v indented, as the API sent it. encoding/json escapes
// C0 controls in strings; DEL and the C1 controls, which it leaves raw and
// some terminals obey, are escaped too (\u007f ...), so JSON printed on a
// terminal cannot drive it either.
func writeJSON(w io.Writer, v any) error {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(v); err != nil {
		return err
	}
	out := buf.Bytes()
	if bytes.ContainsFunc(out, func(r rune) bool { return r >= 0x7f && r <= 0x9f }) {
		var esc bytes.Buffer
		for _, r := range string(out) {
			if r >= 0x7f && r <= 0x9f {
				fmt.Fprintf(&esc, `\u%04x`, r)
				continue
			}
			esc.WriteRune(r)
		}
		out = esc.Bytes()
	}
	_, err := w.Write(out)
	return err
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

// tableOf is how a list of T prints for people: a table with a row per
// item, or when there is none a line saying so.
type tableOf[T any] struct {
	none    string
	headers []string
	row     func(T) []string
}

// writePage prints one page of a listing: the API's JSON (items [] rather
// than null), or the table and, on standard error, how to get the next page.
func writePage[T any](s *Streams, format outputFormat, page *client.Page[T], t tableOf[T]) error {
	if page.Items == nil {
		page.Items = []T{}
	}
	if format == formatJSON {
		return writeJSON(s.Out, page)
	}
	if len(page.Items) == 0 {
		fmt.Fprintln(s.Out, t.none)
		return nil
	}
	tb := newTable(s.Out, t.headers...)
	for _, it := range page.Items {
		tb.row(t.row(it)...)
	}
	if err := tb.flush(); err != nil {
		return err
	}
	nextPageHint(s, page.NextCursor)
	return nil
}

// writeList prints a list the API sends whole as a page without a next one:
// the same JSON, the same table.
func writeList[T any](s *Streams, format outputFormat, items []T, t tableOf[T]) error {
	return writePage(s, format, &client.Page[T]{Items: items}, t)
}

func nextPageHint(s *Streams, cursor string) {
	if cursor != "" {
		fmt.Fprintf(s.ErrOut, "More results: run again with --cursor %s\n", cursor)
	}
}

// printDone tells people what a command that gets nothing back did, in one
// line; scripts (-o json) get no output.
func printDone(s *Streams, format outputFormat, msg string, args ...any) {
	if format == formatTable {
		sayf(s.Out, msg+"\n", args...)
	}
}

// printDetail prints one object: the API's JSON, or for people the
// "Name:  value" lines fields makes of it.
func printDetail[T any](s *Streams, format outputFormat, v *T, fields func(*T) []field) error {
	if format == formatJSON {
		return writeJSON(s.Out, v)
	}
	return writeFields(s.Out, fields(v))
}

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

// cell keeps one value on one line, out of tabwriter's way and unable to
// drive the terminal.
func cell(s string) string { return printable(strings.ReplaceAll(s, "\t", " ")) }

// printable makes a string from the server safe to print on a terminal: a
// name or description cannot move the cursor, recolour the screen, set the
// window title or split a line. Control characters (C0 including newline and
// tab, DEL, C1) are written as Go escapes, bytes that are not UTF-8 as \xNN;
// everything else is left as it is.
func printable(s string) string {
	clean := true
	for _, r := range s {
		if isControl(r) || r == utf8.RuneError {
			clean = false
			break
		}
	}
	if clean {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); {
		r, n := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && n == 1:
			fmt.Fprintf(&b, `\x%02x`, s[i])
		case r == '\n':
			b.WriteString(`\n`)
		case r == '\r':
			b.WriteString(`\r`)
		case r == '\t':
			b.WriteString(`\t`)
		case r < 0x80 && isControl(r):
			fmt.Fprintf(&b, `\x%02x`, r)
		case isControl(r):
			fmt.Fprintf(&b, `\u%04x`, r)
		default:
			b.WriteString(s[i : i+n])
		}
		i += n
	}
	return b.String()
}

// isControl reports C0 controls, DEL and C1 controls.
func isControl(r rune) bool { return r < 0x20 || (r >= 0x7f && r <= 0x9f) }

// sayf prints a message for people whose arguments may come from the server:
// every string argument goes through printable.
func sayf(w io.Writer, format string, args ...any) {
	for i, a := range args {
		switch v := a.(type) {
		case string:
			args[i] = printable(v)
		case fmt.Stringer:
			args[i] = printable(v.String())
		}
	}
	fmt.Fprintf(w, format, args...)
}

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
