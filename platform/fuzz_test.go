package platform_test

import (
	"sort"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/duohuo/duohuo/platform"
	"github.com/google/go-cmp/cmp"
)

// quoteOSRelease writes v as an os-release double-quoted value.
func quoteOSRelease(v string) string {
	r := strings.NewReplacer(`\`, `\\`, `"`, `\"`, `$`, `\$`, "`", "\\`")
	return `"` + r.Replace(v) + `"`
}

// FuzzParseOSRelease checks that parsing never panics, that what it accepts
// has valid keys, and that writing the result back with double quotes and
// parsing again gives the same map (a round-trip law).
func FuzzParseOSRelease(f *testing.F) {
	for _, tc := range osReleaseCases {
		f.Add([]byte(tc.in))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		kv, err := platform.ParseOSRelease(data)
		if err != nil {
			return
		}
		keys := make([]string, 0, len(kv))
		for k, v := range kv {
			if strings.ContainsAny(v, "\n\r") {
				return // a value cannot span lines; such input was multi-line quoting we do not re-encode
			}
			keys = append(keys, k)
		}
		sort.Strings(keys)
		var b strings.Builder
		for _, k := range keys {
			b.WriteString(k + "=" + quoteOSRelease(kv[k]) + "\n")
		}
		again, err := platform.ParseOSRelease([]byte(b.String()))
		if err != nil {
			t.Fatalf("re-parse of %q: %v", b.String(), err)
		}
		// Surrounding whitespace of a value is not kept by the parser.
		for k, v := range kv {
			kv[k] = strings.TrimSpace(v)
			again[k] = strings.TrimSpace(again[k])
		}
		if diff := cmp.Diff(kv, again); diff != "" {
			t.Fatalf("round trip mismatch (-first +second):\n%s", diff)
		}
		_ = platform.ClassifyOS(kv) // must not panic
	})
}

// FuzzParseCPUInfo checks that parsing never panics and that the vendor
// agrees with the architecture it implies.
func FuzzParseCPUInfo(f *testing.F) {
	for _, tc := range cpuInfoCases {
		f.Add([]byte(tc.in))
	}
	wantArch := map[platform.Vendor]string{
		platform.VendorHiSilicon: "arm64", platform.VendorPhytium: "arm64",
		platform.VendorHygon: "amd64", platform.VendorZhaoxin: "amd64",
		platform.VendorIntel: "amd64", platform.VendorAMD: "amd64",
		platform.VendorLoongson: "loong64",
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := platform.ParseCPUInfo(data)
		if err != nil {
			return
		}
		if c.Vendor == "" {
			t.Fatalf("ParseCPUInfo(%q).Vendor is empty", data)
		}
		if a, ok := wantArch[c.Vendor]; ok && c.Arch != a {
			t.Fatalf("ParseCPUInfo(%q) = vendor %q arch %q, want arch %q", data, c.Vendor, c.Arch, a)
		}
		if c.Processors > strings.Count(string(data), ":") {
			t.Fatalf("ParseCPUInfo(%q).Processors = %d, more than colons in the input", data, c.Processors)
		}
	})
}

// FuzzDetectCgroup feeds arbitrary proc/self/cgroup and limit files to
// Detect: it must not panic, and limits are never negative.
func FuzzDetectCgroup(f *testing.F) {
	f.Add([]byte("0::/a/b\n"), []byte("150000 100000\n"), []byte("1073741824\n"))
	f.Add([]byte("4:memory:/x\n2:cpu,cpuacct:/x\n"), []byte("max\n"), []byte("-1\n"))
	f.Add([]byte("0::/../../..\n"), []byte("max 100000\n"), []byte("max\n"))
	f.Fuzz(func(t *testing.T, self, cpu, mem []byte) {
		fsys := fstest.MapFS{
			"proc/self/cgroup":                           {Data: self},
			"sys/fs/cgroup/cpu.max":                      {Data: cpu},
			"sys/fs/cgroup/a/cpu.max":                    {Data: cpu},
			"sys/fs/cgroup/memory.max":                   {Data: mem},
			"sys/fs/cgroup/cpu/cpu.cfs_quota_us":         {Data: cpu},
			"sys/fs/cgroup/cpu/cpu.cfs_period_us":        {Data: mem},
			"sys/fs/cgroup/memory/memory.limit_in_bytes": {Data: mem},
		}
		in, _ := platform.Detect(fsys)
		if in.Cgroup.CPUQuota < 0 || in.Cgroup.MemoryLimit < 0 {
			t.Fatalf("Detect() cgroup = %+v, want non-negative limits", in.Cgroup)
		}
	})
}
