package main

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
)

// startBare runs this program as a bare JSON server in a child process and
// returns its address. With a directory, the child makes every request
// durable first (see journal).
func startBare(size int, durableDir string) (string, func(), error) {
	self, err := os.Executable()
	if err != nil {
		return "", nil, err
	}
	args := []string{"bare-server", strconv.Itoa(size)}
	if durableDir != "" {
		args = append(args, durableDir)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cmd := exec.CommandContext(ctx, self, args...)
	out, err := cmd.StdoutPipe()
	if err != nil {
		cancel()
		return "", nil, err
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		cancel()
		return "", nil, err
	}
	stop := func() { cancel(); _ = cmd.Wait() }
	line := make([]byte, 64)
	n, err := out.Read(line)
	if err != nil {
		stop()
		return "", nil, fmt.Errorf("read its address: %w", err)
	}
	return strings.TrimSpace(string(line[:n])), stop, nil
}

// bareServer serves a JSON body of the given size on a loopback port and
// prints the address; it stops when its parent goes away or on a signal.
// Given a directory as its second argument, it answers each request only
// after a record of it is on disk (journal).
func bareServer(args []string) int {
	if len(args) < 1 || len(args) > 2 {
		return 2
	}
	size, err := strconv.Atoi(args[0])
	if err != nil || size < 2 {
		return 2
	}
	var j *journal
	if len(args) == 2 {
		if j, err = openJournal(args[1]); err != nil {
			fmt.Fprintf(os.Stderr, "bare-server: %v\n", err)
			return 1
		}
		go j.run()
	}
	body := bytes.Repeat([]byte("x"), size)
	body[0], body[size-1] = '"', '"'
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 1
	}
	fmt.Println(ln.Addr().String())
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if j != nil {
			if err := j.append(); err != nil {
				http.Error(w, "journal: "+err.Error(), http.StatusInternalServerError)
				return
			}
		}
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Content-Length", strconv.Itoa(len(body)))
		_, _ = w.Write(body)
	})}
	go func() {
		sig := make(chan os.Signal, 1)
		signal.Notify(sig, syscall.SIGTERM, syscall.SIGINT)
		<-sig
		srv.Close()
	}()
	_ = srv.Serve(ln)
	return 0
}

// journal is the least a server can do to make each answer durable: append
// a fixed-size record per request to one preallocated file, and wait for
// one fdatasync per group of requests (group commit), with nothing else
// (no database, no index, no checksum). Its throughput is the ceiling for
// any server that answers only after a durable write, on the same disk.
type journal struct {
	f    *os.File
	reqs chan chan error
	off  int64
}

const (
	journalSize = 16 << 20 // preallocated and written once, then reused in a ring
	recordSize  = 256      // about the size of one audit record
)

func openJournal(dir string) (*journal, error) {
	f, err := os.CreateTemp(dir, "bare-journal-*")
	if err != nil {
		return nil, err
	}
	// Unlinked at once: the open descriptor is all that is used, and
	// nothing is left behind however the process ends.
	_ = os.Remove(f.Name())
	zero := make([]byte, 1<<20)
	for off := int64(0); off < journalSize; off += int64(len(zero)) {
		if _, err := f.WriteAt(zero, off); err != nil {
			f.Close()
			return nil, fmt.Errorf("preallocate journal: %w", err)
		}
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return nil, fmt.Errorf("preallocate journal: %w", err)
	}
	return &journal{f: f, reqs: make(chan chan error, 1024)}, nil
}

// append returns once a record of the request is on disk.
func (j *journal) append() error {
	done := make(chan error, 1)
	j.reqs <- done
	return <-done
}

// run writes and syncs everything queued, one group at a time.
func (j *journal) run() {
	record := bytes.Repeat([]byte("r"), recordSize)
	var (
		batch []chan error
		buf   []byte
	)
	for first := range j.reqs {
		batch = append(batch[:0], first)
	fill:
		for {
			select {
			case r := <-j.reqs:
				batch = append(batch, r)
			default:
				break fill
			}
		}
		buf = buf[:0]
		for range batch {
			buf = append(buf, record...)
		}
		if j.off+int64(len(buf)) > journalSize {
			j.off = 0
		}
		_, err := j.f.WriteAt(buf, j.off)
		j.off += int64(len(buf))
		if err == nil {
			err = syscall.Fdatasync(int(j.f.Fd()))
		}
		for _, d := range batch {
			d <- err
		}
	}
}
