// Package version says which build of credflow is running: the version a
// release build sets, else the module version and the VCS revision that Go
// records in the binary's build information. It reads no files and makes no
// network calls.
package version

import (
	"runtime/debug"
	"strings"
)

// Release is a release build's version, set with
// -ldflags "-X github.com/credflow/credflow/internal/version.Release=v1.2.3".
// Empty in every other build.
var Release string

// String is the version credflow reports everywhere (CLI, server log, API
// document): "v1.2.3", or the module version followed by the revision, its
// time and "modified" when the working tree had uncommitted changes, e.g.
// "(devel) rev 2a9bfe2c1d3e 2026-11-27T10:00:00Z modified". A build without
// VCS information (go run, or -buildvcs=false) says so.
func String() string {
	info, ok := debug.ReadBuildInfo()
	return format(Release, info, ok)
}

// Short is the version as one token, for a User-Agent: the release, else the
// revision's first 12 hex digits, else "dev".
func Short() string {
	info, ok := debug.ReadBuildInfo()
	return short(Release, info, ok)
}

func short(release string, info *debug.BuildInfo, ok bool) string {
	if release != "" {
		return release
	}
	if ok {
		for _, s := range info.Settings {
			if s.Key == "vcs.revision" && len(s.Value) >= 12 {
				return s.Value[:12]
			}
		}
	}
	return "dev"
}

func format(release string, info *debug.BuildInfo, ok bool) string {
	if release != "" {
		return release
	}
	if !ok {
		return "unknown (no build information)"
	}
	v := info.Main.Version
	if v == "" {
		v = "(devel)"
	}
	settings := map[string]string{}
	for _, s := range info.Settings {
		settings[s.Key] = s.Value
	}
	rev := settings["vcs.revision"]
	if rev == "" {
		return v + " (no VCS revision: build with -buildvcs=true)"
	}
	if len(rev) > 12 {
		rev = rev[:12]
	}
	parts := []string{v, "rev", rev}
	if t := settings["vcs.time"]; t != "" {
		parts = append(parts, t)
	}
	if settings["vcs.modified"] == "true" {
		parts = append(parts, "modified")
	}
	return strings.Join(parts, " ")
}
