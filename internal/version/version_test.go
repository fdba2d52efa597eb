package version

import (
	"runtime/debug"
	"strings"
	"testing"
)

func TestFormat(t *testing.T) {
	vcs := func(kv ...string) []debug.BuildSetting {
		var out []debug.BuildSetting
		for i := 0; i < len(kv); i += 2 {
			out = append(out, debug.BuildSetting{Key: kv[i], Value: kv[i+1]})
		}
		return out
	}
	cases := []struct {
		name    string
		release string
		info    *debug.BuildInfo
		ok      bool
		want    string
	}{
		{"release wins", "v1.2.3", &debug.BuildInfo{Main: debug.Module{Version: "(devel)"}}, true, "v1.2.3"},
		{"no build info", "", nil, false, "unknown (no build information)"},
		{"no vcs", "", &debug.BuildInfo{Main: debug.Module{Version: "(devel)"}}, true,
			"(devel) (no VCS revision: build with -buildvcs=true)"},
		{"clean tree", "", &debug.BuildInfo{Main: debug.Module{Version: "v0.0.0-20261127100000-2a9bfe2c1d3e"},
			Settings: vcs("vcs.revision", "2a9bfe2c1d3e4f5a6b7c8d9e0f1a2b3c4d5e6f7a", "vcs.time", "2026-11-27T10:00:00Z", "vcs.modified", "false")}, true,
			"v0.0.0-20261127100000-2a9bfe2c1d3e rev 2a9bfe2c1d3e 2026-11-27T10:00:00Z"},
		{"modified tree", "", &debug.BuildInfo{Main: debug.Module{Version: "(devel)"},
			Settings: vcs("vcs.revision", "2a9bfe2c1d3e4f5a", "vcs.modified", "true")}, true,
			"(devel) rev 2a9bfe2c1d3e modified"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := format(c.release, c.info, c.ok); got != c.want {
				t.Errorf("format() = %q, want %q", got, c.want)
			}
			if got := short(c.release, c.info, c.ok); strings.ContainsAny(got, " ()") || got == "" {
				t.Errorf("short() = %q, want one token", got)
			}
		})
	}
}
