package telemetry_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/duohuo/duohuo/internal/buildinfo"
	"github.com/duohuo/duohuo/internal/telemetry"
	"github.com/duohuo/duohuo/platform"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

func kylinOnKunpeng() platform.Info {
	return platform.Info{
		OS:   platform.ClassifyOS(map[string]string{"ID": "kylin", "NAME": "Kylin Linux Advanced Server", "VERSION_ID": "V10"}),
		CPU:  platform.CPU{Vendor: platform.VendorHiSilicon},
		Arch: "arm64",
	}
}

func TestRegistryInfoMetrics(t *testing.T) {
	bi := buildinfo.Get()
	tests := []struct {
		name string
		info platform.Info
		want string
	}{
		{"classified platform", kylinOnKunpeng(), `
# HELP duohuo_platform_info Platform duohuo runs on (see duohuo env); always 1.
# TYPE duohuo_platform_info gauge
duohuo_platform_info{arch="arm64",cpu_vendor="hisilicon",os="kylin-server",os_version="V10"} 1
`},
		{"empty fields read unknown", platform.Info{}, `
# HELP duohuo_platform_info Platform duohuo runs on (see duohuo env); always 1.
# TYPE duohuo_platform_info gauge
duohuo_platform_info{arch="unknown",cpu_vendor="unknown",os="unknown",os_version="unknown"} 1
`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			reg := telemetry.NewRegistry(tc.info)
			if err := testutil.GatherAndCompare(reg, strings.NewReader(tc.want), "duohuo_platform_info"); err != nil {
				t.Error(err)
			}
			build := fmt.Sprintf(`
# HELP duohuo_build_info Build of the running duohuo binary; always 1.
# TYPE duohuo_build_info gauge
duohuo_build_info{commit=%q,go_version=%q,version=%q} 1
`, bi.Commit, bi.GoVersion, bi.Version)
			if err := testutil.GatherAndCompare(reg, strings.NewReader(build), "duohuo_build_info"); err != nil {
				t.Error(err)
			}
		})
	}
}

func TestRegistryHasGoAndProcessCollectors(t *testing.T) {
	reg := telemetry.NewRegistry(platform.Info{})
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatalf("Gather: %v", err)
	}
	have := map[string]bool{}
	for _, mf := range mfs {
		have[mf.GetName()] = true
	}
	for _, name := range []string{"go_goroutines", "go_memstats_alloc_bytes", "process_cpu_seconds_total", "process_resident_memory_bytes"} {
		if !have[name] {
			t.Errorf("NewRegistry() gathers no %s", name)
		}
	}
}
