package soak

import (
	"encoding/csv"
	"fmt"
	"io"
	"strconv"
	"strings"
)

// WriteCSV writes the samples, one row each, with a header.
func (r Report) WriteCSV(w io.Writer) error {
	cw := csv.NewWriter(w)
	_ = cw.Write([]string{"seconds", "heap_inuse_bytes", "goroutines", "open_files", "db_open", "db_in_use", "resolves", "versions", "writes", "events", "errors"})
	for _, s := range r.Samples {
		_ = cw.Write([]string{strconv.FormatFloat(s.At.Seconds(), 'f', 1, 64), strconv.FormatUint(s.HeapInuse, 10), strconv.Itoa(s.Goroutines),
			strconv.Itoa(s.OpenFiles), strconv.Itoa(s.DBOpen), strconv.Itoa(s.DBInUse), strconv.FormatInt(s.Resolves, 10),
			strconv.FormatInt(s.Versions, 10), strconv.FormatInt(s.Writes, 10), strconv.FormatInt(s.Events, 10), strconv.FormatInt(s.Errors, 10)})
	}
	cw.Flush()
	return cw.Error()
}

// WriteSVG draws the curves a leak would bend (heap, goroutines, open
// files, database connections) over the run, one panel each, as an SVG
// document.
func (r Report) WriteSVG(w io.Writer) error {
	const panelW, panelH, pad = 420, 160, 40
	panels := []struct {
		title string
		value func(Sample) float64
	}{
		{"heap in use (MiB)", func(s Sample) float64 { return float64(s.HeapInuse) / (1 << 20) }},
		{"goroutines", func(s Sample) float64 { return float64(s.Goroutines) }},
		{"open files", func(s Sample) float64 { return float64(s.OpenFiles) }},
		{"database connections open", func(s Sample) float64 { return float64(s.DBOpen) }},
	}
	width, height := 2*(panelW+pad)+pad, 2*(panelH+2*pad)+pad
	var b strings.Builder
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" font-family="sans-serif" font-size="12">`+"\n", width, height)
	fmt.Fprintf(&b, `<rect width="100%%" height="100%%" fill="white"/>`+"\n")
	end := 1.0
	if n := len(r.Samples); n > 0 && r.Samples[n-1].At.Seconds() > 0 {
		end = r.Samples[n-1].At.Seconds()
	}
	for i, p := range panels {
		x0, y0 := pad+(i%2)*(panelW+pad), pad+(i/2)*(panelH+2*pad)
		top := 0.0
		for _, s := range r.Samples {
			top = max(top, p.value(s))
		}
		top = max(1, top*1.1)
		fmt.Fprintf(&b, `<text x="%d" y="%d">%s (max %.0f)</text>`+"\n", x0, y0-8, p.title, top/1.1)
		fmt.Fprintf(&b, `<rect x="%d" y="%d" width="%d" height="%d" fill="none" stroke="#999"/>`+"\n", x0, y0, panelW, panelH)
		fmt.Fprintf(&b, `<text x="%d" y="%d">0</text><text x="%d" y="%d" text-anchor="end">%.0f s</text>`+"\n",
			x0, y0+panelH+14, x0+panelW, y0+panelH+14, end)
		var pts []string
		for _, s := range r.Samples {
			x := float64(x0) + s.At.Seconds()/end*panelW
			y := float64(y0+panelH) - p.value(s)/top*panelH
			pts = append(pts, fmt.Sprintf("%.1f,%.1f", x, y))
		}
		fmt.Fprintf(&b, `<polyline fill="none" stroke="#1f5fbf" stroke-width="1.5" points="%s"/>`+"\n", strings.Join(pts, " "))
	}
	b.WriteString("</svg>\n")
	_, err := io.WriteString(w, b.String())
	return err
}
