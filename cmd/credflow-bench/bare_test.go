package main

import (
	"sync"
	"testing"
)

// The durable bare handler's journal must answer only after its record is
// written, group concurrent callers, and fail when it cannot write.
func TestJournal(t *testing.T) {
	j, err := openJournal(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	go j.run()
	const n = 200
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for range n {
		wg.Add(1)
		go func() { defer wg.Done(); errs <- j.append() }()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatalf("append: %v", err)
		}
	}
	// Every caller's record was written before it returned (the ring has
	// not wrapped at this size).
	if got, want := j.off, int64(n*recordSize); got != want {
		t.Fatalf("journal wrote %d bytes for %d records, want %d", got, n, want)
	}
	buf := make([]byte, recordSize)
	if _, err := j.f.ReadAt(buf, int64(n-1)*recordSize); err != nil || buf[0] != 'r' || buf[recordSize-1] != 'r' {
		t.Fatalf("last record not in the file: %q, %v", buf[:8], err)
	}

	j.f.Close()
	if err := j.append(); err == nil {
		t.Fatal("append to a closed journal succeeded; want an error")
	}
}
