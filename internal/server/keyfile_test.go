package server

import (
	"io/fs"
	"testing"
)

func TestOthersMayRead(t *testing.T) {
	for _, tc := range []struct {
		goos string
		perm fs.FileMode
		want bool
	}{
		{"linux", 0o600, false},
		{"linux", 0o640, true},
		{"linux", 0o604, true},
		{"darwin", 0o400, false},
		{"darwin", 0o644, true},
		{"windows", 0o666, false}, // what Windows reports for any writable file
		{"windows", 0o444, false},
	} {
		if got := othersMayRead(tc.goos, tc.perm); got != tc.want {
			t.Errorf("othersMayRead(%s, %04o) = %v, want %v", tc.goos, tc.perm, got, tc.want)
		}
	}
}
