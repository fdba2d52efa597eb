package audit

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"time"
)

// Checkpoint anchors the chain outside the database: the head (sequence
// number and link) and the number of records up to it, at a time, sealed
// with an HMAC under the checkpoint key. Checkpoints are appended, one JSON
// object a line, to a file the database does not hold.
type Checkpoint struct {
	Seq     int64     `json:"seq"`
	Records int64     `json:"records"`
	Head    string    `json:"head"` // hex
	Time    time.Time `json:"time"`
	MAC     string    `json:"mac"` // hex
}

func (cp *Checkpoint) mac(k *Key) []byte {
	h := hmac.New(sha256.New, k.checkpoint)
	for _, s := range []string{"credflow-audit-checkpoint-v1", strconv.FormatInt(cp.Seq, 10), strconv.FormatInt(cp.Records, 10),
		cp.Head, cp.Time.UTC().Format(time.RFC3339Nano)} {
		var n [8]byte
		binary.BigEndian.PutUint64(n[:], uint64(len(s)))
		h.Write(n[:])
		h.Write([]byte(s))
	}
	return h.Sum(nil)
}

// seal sets cp.MAC.
func (cp *Checkpoint) seal(k *Key) { cp.MAC = hex.EncodeToString(cp.mac(k)) }

// verify reports whether cp.MAC is cp's HMAC under k.
func (cp *Checkpoint) verify(k *Key) bool {
	got, err := hex.DecodeString(cp.MAC)
	return err == nil && hmac.Equal(got, cp.mac(k))
}

// HeadBytes is the checkpoint's head link.
func (cp *Checkpoint) HeadBytes() []byte {
	b, _ := hex.DecodeString(cp.Head)
	return b
}

// CheckpointFileError says that a checkpoint file does not verify: a line
// that is not a checkpoint, or whose HMAC fails under the audit key.
type CheckpointFileError struct {
	Path string
	Line int
	Why  string
}

func (e *CheckpointFileError) Error() string {
	return fmt.Sprintf("line %d of the checkpoint file %s %s", e.Line, e.Path, e.Why)
}

// ReadCheckpoints returns the newest checkpoint in the file at path (the one
// with the highest sequence number), after checking every line's HMAC
// under k. It returns nil, nil for a missing or empty file. A final line
// without its newline (a write cut short by a crash) is ignored; once a
// later checkpoint follows it, it is reported like an edit, since the two
// cannot be told apart.
func ReadCheckpoints(path string, k *Key) (*Checkpoint, error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("audit: read checkpoints: %w", err)
	}
	var newest *Checkpoint
	for n := 1; len(b) > 0; n++ {
		line, rest, complete := bytes.Cut(b, []byte("\n"))
		b = rest
		if !complete {
			break
		}
		if len(bytes.TrimSpace(line)) == 0 {
			continue
		}
		var cp Checkpoint
		dec := json.NewDecoder(bytes.NewReader(line))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&cp); err != nil {
			return nil, &CheckpointFileError{Path: path, Line: n, Why: "is not a checkpoint: the file was edited, or a write was cut short by a crash"}
		}
		if !cp.verify(k) {
			return nil, &CheckpointFileError{Path: path, Line: n, Why: "does not verify under the audit key: the file was edited"}
		}
		if newest == nil || cp.Seq >= newest.Seq {
			c := cp
			newest = &c
		}
	}
	return newest, nil
}

// errFileChanged: the checkpoint file was removed or shrank under the
// writer. Writing on would hide it.
var errFileChanged = errors.New("audit: the checkpoint file changed under the server")

// checkpointFile appends checkpoints to a file opened with O_APPEND, each
// synced before it counts as written.
type checkpointFile struct {
	path string
	// size is the file's size after this process's last write; a smaller
	// (or missing) file means someone else removed lines.
	size int64
}

// appendCheckpoint writes cp as one line and syncs it.
func (f *checkpointFile) append(cp Checkpoint) error {
	if f.size > 0 {
		st, err := os.Stat(f.path)
		switch {
		case errors.Is(err, fs.ErrNotExist):
			return fmt.Errorf("%w: %s was removed while the server ran; no more checkpoints are written until it is restarted", errFileChanged, f.path)
		case err != nil:
			return fmt.Errorf("audit: checkpoint file: %w", err)
		case st.Size() < f.size:
			return fmt.Errorf("%w: %s shrank from %d to %d bytes while the server ran; no more checkpoints are written until it is restarted", errFileChanged, f.path, f.size, st.Size())
		}
	}
	fh, err := os.OpenFile(f.path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		return fmt.Errorf("audit: open checkpoint file: %w", err)
	}
	defer fh.Close()
	st, err := fh.Stat()
	if err != nil {
		return fmt.Errorf("audit: checkpoint file: %w", err)
	}
	line, err := json.Marshal(cp)
	if err != nil {
		return fmt.Errorf("audit: encode checkpoint: %w", err)
	}
	line = append(line, '\n')
	if st.Size() > 0 && f.size == 0 {
		// A line cut short by a crash would swallow this one.
		last := make([]byte, 1)
		if r, err := os.Open(f.path); err == nil {
			if _, err := r.ReadAt(last, st.Size()-1); err == nil && last[0] != '\n' {
				line = append([]byte{'\n'}, line...)
			}
			r.Close()
		}
	}
	if _, err := fh.Write(line); err != nil {
		return fmt.Errorf("audit: write checkpoint: %w", err)
	}
	if err := fh.Sync(); err != nil {
		return fmt.Errorf("audit: sync checkpoint file: %w", err)
	}
	if st.Size() == 0 {
		// A new file: its directory entry must be durable too.
		if d, err := os.Open(filepath.Dir(f.path)); err == nil {
			_ = d.Sync()
			d.Close()
		}
	}
	st, err = fh.Stat()
	if err != nil {
		return fmt.Errorf("audit: checkpoint file: %w", err)
	}
	f.size = st.Size()
	return nil
}

func hexOf(b []byte) string { return hex.EncodeToString(b) }

func hmacEqual(a, b []byte) bool { return hmac.Equal(a, b) }
