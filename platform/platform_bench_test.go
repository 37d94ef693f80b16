package platform_test

import (
	"fmt"
	"os"
	"strings"
	"testing"

	"github.com/duohuo/duohuo/platform"
)

// BenchmarkParseCPUInfo parses the cpuinfo of a 256-CPU x86 server (about
// 1.5 KiB per CPU), the worst case Detect meets at startup.
func BenchmarkParseCPUInfo(b *testing.B) {
	var sb strings.Builder
	for i := range 256 {
		fmt.Fprintf(&sb, "processor\t: %d\nvendor_id\t: HygonGenuine\ncpu family\t: 24\nmodel\t\t: 1\n"+
			"model name\t: Hygon C86 7285 32-core Processor\nflags\t\t: %s\nbogomips\t: 4000.00\n\n",
			i, strings.Repeat("fpu vme de pse tsc msr pae mce ", 40))
	}
	data := []byte(sb.String())
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := platform.ParseCPUInfo(data); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkDetect fingerprints a fixture root from disk.
func BenchmarkDetect(b *testing.B) {
	fsys := os.DirFS("testdata/pod-cgroup-v2-nested")
	b.ReportAllocs()
	for b.Loop() {
		if _, err := platform.Detect(fsys); err != nil {
			b.Fatal(err)
		}
	}
}
