package validation

import "testing"

func TestHasControl(t *testing.T) {
	cases := []struct {
		in   string
		want bool
	}{
		{"SQL Password", false},
		{"tab\tand\nnewline", false},
		{"ünïcödé ✓", false},
		{"nul\x00", true},
		{"bell\a", true},
		{"carriage\rreturn", true},
		{"esc\x1b[31m", true},
		{"del\x7f", true},
		{"c1\u0085", true},
		{"csi\u009b", true},
		{"after c1\u00a0", false},
	}
	for _, c := range cases {
		if got := HasControl(c.in); got != c.want {
			t.Errorf("HasControl(%q) = %v, want %v", c.in, got, c.want)
		}
	}
}
