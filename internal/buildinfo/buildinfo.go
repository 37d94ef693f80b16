// Package buildinfo holds the version stamped into the duohuo binary at link time.
//
// The release build sets the variables with -ldflags, for example:
//
//	go build -ldflags "-X github.com/duohuo/duohuo/internal/buildinfo.Version=v0.1.0 \
//	  -X github.com/duohuo/duohuo/internal/buildinfo.Commit=$(git rev-parse HEAD) \
//	  -X github.com/duohuo/duohuo/internal/buildinfo.Date=$(date -u +%Y-%m-%dT%H:%M:%SZ)"
//
// A binary built without them (go run, go install) falls back to what the Go
// toolchain recorded in the binary (module version, vcs.revision, vcs.time).
package buildinfo

import (
	"runtime"
	"runtime/debug"
)

// Set at link time with -ldflags -X; see the package comment.
var (
	Version = ""
	Commit  = ""
	Date    = ""
)

// Info describes one build of duohuo.
type Info struct {
	Version   string `json:"version"`
	Commit    string `json:"commit"`
	Date      string `json:"date"`
	GoVersion string `json:"go_version"`
	OS        string `json:"os"`
	Arch      string `json:"arch"`
}

// Get returns the build information of the running binary. Fields that were
// neither stamped nor recorded by the toolchain read "unknown" (Version reads
// "devel").
func Get() Info {
	in := Info{Version: Version, Commit: Commit, Date: Date,
		GoVersion: runtime.Version(), OS: runtime.GOOS, Arch: runtime.GOARCH}
	if bi, ok := debug.ReadBuildInfo(); ok {
		if in.Version == "" && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
			in.Version = bi.Main.Version
		}
		for _, s := range bi.Settings {
			switch s.Key {
			case "vcs.revision":
				if in.Commit == "" {
					in.Commit = s.Value
				}
			case "vcs.time":
				if in.Date == "" {
					in.Date = s.Value
				}
			}
		}
	}
	if in.Version == "" {
		in.Version = "devel"
	}
	if in.Commit == "" {
		in.Commit = "unknown"
	}
	if in.Date == "" {
		in.Date = "unknown"
	}
	return in
}
