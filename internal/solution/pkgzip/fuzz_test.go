package pkgzip

import (
	"errors"
	"strings"
	"testing"
)

// FuzzRead feeds Read arbitrary bytes: it must never panic, and must either
// refuse with an *Error or return files whose names pass its own rules and
// whose sizes stay within its limits.
func FuzzRead(f *testing.F) {
	good, err := Write(map[string][]byte{"solution.json": []byte(`{"formatVersion":1}`), "variables/a.json": []byte(`{}`)})
	if err != nil {
		f.Fatal(err)
	}
	f.Add(good)
	f.Add(build(f, entry{name: "../x", body: []byte("{}")}))
	f.Add(build(f, entry{name: "a", body: []byte("{}")}, entry{name: "a", body: []byte("{}")}))
	f.Add([]byte("PK\x05\x06" + strings.Repeat("\x00", 18)))
	f.Fuzz(func(t *testing.T, data []byte) {
		files, err := Read(data)
		if err != nil {
			var pe *Error
			if !errors.As(err, &pe) {
				t.Fatalf("error of type %T: %v", err, err)
			}
			return
		}
		total := 0
		for name, body := range files {
			if checkName(name) != nil {
				t.Fatalf("accepted a bad name %q", name)
			}
			total += len(body)
		}
		if total > MaxTotal {
			t.Fatalf("accepted %d bytes", total)
		}
	})
}
