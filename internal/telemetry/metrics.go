package telemetry

import (
	"github.com/duohuo/duohuo/internal/buildinfo"
	"github.com/duohuo/duohuo/platform"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
)

// NewRegistry returns a Prometheus registry holding the Go runtime and
// process collectors and two info gauges, always 1:
//
//	duohuo_build_info{version,commit,go_version}
//	duohuo_platform_info{os,os_version,cpu_vendor,arch}
//
// os is the classified distribution ([platform.Distro], e.g. kylin-server),
// os_version its VERSION_ID, cpu_vendor the [platform.Vendor] and arch the
// machine architecture in GOARCH spelling; empty values read "unknown".
// Features register their own collectors on the returned registry, which is
// safe for concurrent use.
func NewRegistry(info platform.Info) *prometheus.Registry {
	reg := prometheus.NewRegistry()
	reg.MustRegister(
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
	)

	bi := buildinfo.Get()
	build := prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "duohuo_build_info",
		Help: "Build of the running duohuo binary; always 1.",
	}, []string{"version", "commit", "go_version"})
	build.WithLabelValues(bi.Version, bi.Commit, bi.GoVersion).Set(1)

	plat := prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "duohuo_platform_info",
		Help: "Platform duohuo runs on (see duohuo env); always 1.",
	}, []string{"os", "os_version", "cpu_vendor", "arch"})
	plat.WithLabelValues(orUnknown(string(info.OS.Distro)), orUnknown(info.OS.VersionID),
		orUnknown(string(info.CPU.Vendor)), orUnknown(info.Arch)).Set(1)

	reg.MustRegister(build, plat)
	return reg
}

func orUnknown(s string) string {
	if s == "" {
		return platform.Unknown
	}
	return s
}
