package soak

import (
	"bytes"
	"os"
	"strings"
	"testing"
	"time"
)

// TestSoak loads a server for CREDFLOW_SOAK_DURATION (default 2m) and fails
// when a curve a leak would bend did not stay flat, or a request failed.
func TestSoak(t *testing.T) {
	d := 2 * time.Minute
	if v := os.Getenv("CREDFLOW_SOAK_DURATION"); v != "" {
		var err error
		if d, err = time.ParseDuration(v); err != nil {
			t.Fatalf("CREDFLOW_SOAK_DURATION: %v", err)
		}
	}
	rep, err := Run(t.Context(), Options{Duration: d, Every: max(time.Second, d/40), DataDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	first, last := rep.Samples[0], rep.Samples[len(rep.Samples)-1]
	t.Logf("%v: %d resolves (%.0f%% from the cache), %d writes, %d events, %d errors; heap %d → %d MiB, goroutines %d → %d, open files %d → %d",
		d, last.Resolves, 100*(1-float64(last.Versions)/float64(max(1, last.Resolves))), last.Writes, last.Events, last.Errors, first.HeapInuse>>20, last.HeapInuse>>20,
		first.Goroutines, last.Goroutines, first.OpenFiles, last.OpenFiles)
	if last.Resolves == 0 || last.Versions == 0 || last.Writes == 0 || last.Events == 0 {
		t.Fatalf("the load did not run: %+v", last)
	}
	for _, f := range rep.Findings {
		t.Error(f)
	}
	var svg, csv bytes.Buffer
	if err := rep.WriteSVG(&svg); err != nil || !strings.Contains(svg.String(), "<polyline") {
		t.Errorf("svg: %v", err)
	}
	if err := rep.WriteCSV(&csv); err != nil || strings.Count(csv.String(), "\n") != len(rep.Samples)+1 {
		t.Errorf("csv: %v", err)
	}
}

// TestFlatnessFindsGrowth: the judge of the curves names what grew and
// lets noise pass.
func TestFlatnessFindsGrowth(t *testing.T) {
	for _, tc := range []struct {
		name string
		f    func(i int) Sample
		want string
	}{
		{"flat", func(i int) Sample { return Sample{HeapInuse: 30 << 20, Goroutines: 40 + i%3, OpenFiles: 20, DBOpen: 2} }, ""},
		{"goroutines leak", func(i int) Sample { return Sample{HeapInuse: 30 << 20, Goroutines: 40 + 5*i, OpenFiles: 20, DBOpen: 2} }, "goroutines grew"},
		{"files leak", func(i int) Sample { return Sample{HeapInuse: 30 << 20, Goroutines: 40, OpenFiles: 20 + i, DBOpen: 2} }, "open files grew"},
		{"heap grows", func(i int) Sample {
			return Sample{HeapInuse: uint64(30+3*i) << 20, Goroutines: 40, OpenFiles: 20, DBOpen: 2}
		}, "heap in use"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var s []Sample
			for i := range 40 {
				s = append(s, tc.f(i))
			}
			got := strings.Join(flatness(s), "; ")
			if (tc.want == "") != (got == "") || !strings.Contains(got, tc.want) {
				t.Errorf("findings %q, want %q", got, tc.want)
			}
		})
	}
}
