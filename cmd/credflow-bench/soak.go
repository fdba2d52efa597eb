package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"time"

	"github.com/credflow/credflow/internal/soak"
)

// soakCmd runs a server of its own under a mixed load and writes the
// samples as CSV and as an SVG plot:
//
//	credflow-bench soak -d 30m -csv docs/soak.csv -svg docs/soak.svg
func soakCmd(args []string) int {
	fs := flag.NewFlagSet("credflow-bench soak", flag.ContinueOnError)
	dur := fs.Duration("d", 30*time.Minute, "how long to load the server")
	every := fs.Duration("every", 0, "sampling interval (default d/60, at least 1s)")
	clients := fs.Int("c", 4, "concurrent resolving runners")
	csvPath := fs.String("csv", "", "write the samples to this CSV file")
	svgPath := fs.String("svg", "", "write the plot to this SVG file")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	dir, err := os.MkdirTemp("", "credflow-soak-")
	if err != nil {
		fmt.Fprintf(os.Stderr, "credflow-bench soak: %v\n", err)
		return 1
	}
	defer os.RemoveAll(dir)
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	rep, err := soak.Run(ctx, soak.Options{Duration: *dur, Every: *every, Clients: *clients, DataDir: dir})
	if err != nil {
		fmt.Fprintf(os.Stderr, "credflow-bench soak: %v\n", err)
		return 1
	}
	for path, write := range map[string]func(*os.File) error{
		*csvPath: func(f *os.File) error { return rep.WriteCSV(f) },
		*svgPath: func(f *os.File) error { return rep.WriteSVG(f) },
	} {
		if path == "" {
			continue
		}
		f, err := os.Create(path)
		if err == nil {
			err = write(f)
			if cerr := f.Close(); err == nil {
				err = cerr
			}
		}
		if err != nil {
			fmt.Fprintf(os.Stderr, "credflow-bench soak: %v\n", err)
			return 1
		}
	}
	first, last := rep.Samples[0], rep.Samples[len(rep.Samples)-1]
	fmt.Printf("%v: %d resolves (%.0f%% from the cache), %d writes, %d events, %d errors\n", *dur, last.Resolves, 100*(1-float64(last.Versions)/float64(max(1, last.Resolves))), last.Writes, last.Events, last.Errors)
	fmt.Printf("heap in use %d -> %d MiB, goroutines %d -> %d, open files %d -> %d, database connections %d -> %d\n",
		first.HeapInuse>>20, last.HeapInuse>>20, first.Goroutines, last.Goroutines, first.OpenFiles, last.OpenFiles, first.DBOpen, last.DBOpen)
	if len(rep.Findings) > 0 {
		for _, f := range rep.Findings {
			fmt.Println("NOT FLAT:", f)
		}
		return 1
	}
	fmt.Println("flat: no curve grew")
	return 0
}
