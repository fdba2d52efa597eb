package cli

import (
	"context"
	"io"
	"os"

	"golang.org/x/term"
)

// Streams is the command's I/O: tests replace every part of it.
type Streams struct {
	In     io.Reader
	Out    io.Writer
	ErrOut io.Writer
	// InTTY and OutTTY say whether In and Out are terminals.
	InTTY  bool
	OutTTY bool
	// ReadPassword reads one line from the terminal behind In without
	// echoing it; only called when InTTY.
	ReadPassword func(ctx context.Context) ([]byte, error)
}

// SystemStreams returns the process's standard streams.
func SystemStreams() *Streams {
	in := int(os.Stdin.Fd())
	return &Streams{
		In:           os.Stdin,
		Out:          os.Stdout,
		ErrOut:       os.Stderr,
		InTTY:        term.IsTerminal(in),
		OutTTY:       term.IsTerminal(int(os.Stdout.Fd())),
		ReadPassword: func(ctx context.Context) ([]byte, error) { return readPassword(ctx, in) },
	}
}

// readPassword is term.ReadPassword that gives up when ctx ends (Ctrl-C is
// caught by main, so it no longer kills the process) and puts the terminal's
// echo back as it found it.
func readPassword(ctx context.Context, fd int) ([]byte, error) {
	state, err := term.GetState(fd)
	if err != nil {
		return nil, err
	}
	type result struct {
		b   []byte
		err error
	}
	// A blocked terminal read cannot be interrupted; when ctx ends first the
	// goroutine stays blocked until the process, which is on its way out,
	// exits. The buffered channel lets it finish without a receiver.
	ch := make(chan result, 1)
	go func() {
		b, err := term.ReadPassword(fd)
		ch <- result{b, err}
	}()
	select {
	case r := <-ch:
		return r.b, r.err
	case <-ctx.Done():
		_ = term.Restore(fd, state)
		return nil, ctx.Err()
	}
}
