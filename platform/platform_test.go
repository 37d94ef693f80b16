package platform_test

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/duohuo/duohuo/platform"
	"github.com/google/go-cmp/cmp"
)

// summary is the part of an Info a fixture pins down; Runtime describes the
// test process and is checked separately.
type summary struct {
	Distro      platform.Distro
	VersionID   string
	Domestic    bool
	Vendor      platform.Vendor
	Model       string
	Arch        string
	Kernel      string
	Processors  int
	Cgroup      platform.Cgroup
	OldWorldMsg bool
}

func summarize(in platform.Info) summary {
	old := false
	for _, w := range in.Warnings {
		if strings.Contains(w, "old-world") {
			old = true
		}
	}
	return summary{
		Distro: in.OS.Distro, VersionID: in.OS.VersionID, Domestic: in.Domestic(),
		Vendor: in.CPU.Vendor, Model: in.CPU.Model, Arch: in.Arch, Kernel: in.Kernel,
		Processors: in.CPU.Processors, Cgroup: in.Cgroup, OldWorldMsg: old,
	}
}

var noCgroup = platform.Cgroup{Version: platform.CgroupNone}

// TestDetectFixtures classifies one root filesystem per supported platform.
// Each testdata/<platform>/SOURCE file cites where its values come from.
func TestDetectFixtures(t *testing.T) {
	tests := []struct {
		fixture string
		want    summary
	}{
		{"kylin-v10-server-kunpeng920", summary{
			Distro: platform.DistroKylinServer, VersionID: "V10", Domestic: true,
			Vendor: platform.VendorHiSilicon, Model: "Kunpeng 920", Arch: "arm64",
			Kernel: "4.19.90-24.4.v2101.ky10.aarch64", Processors: 2, Cgroup: noCgroup}},
		{"kylin-v10-server-ft2000plus", summary{
			Distro: platform.DistroKylinServer, VersionID: "V10", Domestic: true,
			Vendor: platform.VendorPhytium, Model: "Phytium FTC662 (PS17064)", Arch: "arm64",
			Kernel: "4.19.90-24.4.v2101.ky10.aarch64", Processors: 2, Cgroup: noCgroup}},
		{"kylin-v10-desktop-sp1-3a5000", summary{
			Distro: platform.DistroKylinDesktop, VersionID: "v10", Domestic: true,
			Vendor: platform.VendorLoongson, Model: "Loongson-3A5000LL", Arch: "loong64",
			Kernel: "5.4.18-116-generic", Processors: 2, Cgroup: noCgroup, OldWorldMsg: true}},
		{"kylin-v10-desktop-d2000", summary{
			Distro: platform.DistroKylinDesktop, VersionID: "v10", Domestic: true,
			Vendor: platform.VendorPhytium, Model: "Phytium FTC663 (PD1904)", Arch: "arm64",
			Kernel: "4.4.131-20200710.kylin.desktop-generic", Processors: 8, Cgroup: noCgroup}},
		{"uos-server-20-hygon", summary{
			Distro: platform.DistroUOSServer, VersionID: "20", Domestic: true,
			Vendor: platform.VendorHygon, Model: "Hygon C86 7185 32-core Processor", Arch: "amd64",
			Kernel: "4.19.90-2201.4.0.0135.up1.uel20.x86_64", Processors: 4, Cgroup: noCgroup}},
		{"uos-desktop-20-zhaoxin", summary{
			Distro: platform.DistroUOSDesktop, VersionID: "20", Domestic: true,
			Vendor: platform.VendorZhaoxin, Model: "ZHAOXIN KaiXian KX-U6780A@2.7GHz", Arch: "amd64",
			Kernel: "5.10.0-amd64-desktop", Processors: 2, Cgroup: noCgroup}},
		{"openeuler-2203-kunpeng920", summary{
			Distro: platform.DistroOpenEuler, VersionID: "22.03", Domestic: true,
			Vendor: platform.VendorHiSilicon, Model: "Kunpeng 920", Arch: "arm64",
			Kernel: "5.10.0-60.18.0.50.oe2203.aarch64", Processors: 2, Cgroup: noCgroup}},
		{"anolis-86-intel", summary{
			Distro: platform.DistroAnolis, VersionID: "8.6", Domestic: true,
			Vendor: platform.VendorIntel, Model: "Intel(R) Xeon(R) Platinum 8269CY CPU @ 2.50GHz", Arch: "amd64",
			Kernel: "4.18.0-372.32.1.an8_6.x86_64", Processors: 2, Cgroup: noCgroup}},
		{"deepin-23-3a6000", summary{
			Distro: platform.DistroDeepin, VersionID: "23", Domestic: true,
			Vendor: platform.VendorLoongson, Model: "Loongson-3A6000-HV", Arch: "loong64",
			Kernel: "6.6.34-loong64-desktop-hwe", Processors: 8, Cgroup: noCgroup}},
		{"nfschina-server-3c5000", summary{
			Distro: platform.DistroNFSChina, VersionID: "4.0", Domestic: true,
			Vendor: platform.VendorLoongson, Model: "Loongson-3C5000", Arch: "loong64",
			Kernel: platform.Unknown, Processors: 16, Cgroup: noCgroup}},
		{"debian-12-intel", summary{
			Distro: platform.DistroDebian, VersionID: "12",
			Vendor: platform.VendorIntel, Model: "Intel(R) Xeon(R) Processor", Arch: "amd64",
			Kernel: "6.18.44-fc-v657", Processors: 2, Cgroup: noCgroup}},
		{"ubuntu-2204-intel", summary{
			Distro: platform.DistroUbuntu, VersionID: "22.04",
			Vendor: platform.VendorIntel, Model: "Intel(R) Xeon(R) Gold 6338 CPU @ 2.00GHz", Arch: "amd64",
			Kernel: "5.15.0-105-generic", Processors: 2, Cgroup: noCgroup}},
		{"centos-7-intel", summary{
			Distro: platform.DistroCentOS, VersionID: "7",
			Vendor: platform.VendorIntel, Model: "Intel(R) Xeon(R) CPU E5-2680 v4 @ 2.40GHz", Arch: "amd64",
			Kernel: "3.10.0-1160.el7.x86_64", Processors: 2, Cgroup: noCgroup}},
		{"rhel-9-amd", summary{
			Distro: platform.DistroRHEL, VersionID: "9.4",
			Vendor: platform.VendorAMD, Model: "AMD EPYC 7B13 64-Core Processor", Arch: "amd64",
			Kernel: "5.14.0-427.13.1.el9_4.x86_64", Processors: 2, Cgroup: noCgroup}},
		{"rocky-9-amd", summary{ // os-release only under usr/lib: the fallback path
			Distro: platform.DistroRocky, VersionID: "9.3",
			Vendor: platform.VendorAMD, Model: "AMD EPYC 7742 64-Core Processor", Arch: "amd64",
			Kernel: platform.Unknown, Processors: 2, Cgroup: noCgroup}},
		{"container-cgroup-v1", summary{
			Distro: platform.DistroCentOS, VersionID: "7", Vendor: platform.VendorUnknown,
			Arch: platform.Unknown, Kernel: platform.Unknown,
			Cgroup: platform.Cgroup{Version: platform.CgroupV1, Path: "/docker/4f3c2b1a", CPUQuota: 1.5, MemoryLimit: 512 << 20}}},
		{"container-cgroup-v2", summary{
			Distro: platform.DistroUbuntu, VersionID: "22.04", Vendor: platform.VendorUnknown,
			Arch: platform.Unknown, Kernel: platform.Unknown,
			Cgroup: platform.Cgroup{Version: platform.CgroupV2, Path: "/", CPUQuota: 2, MemoryLimit: 1 << 30}}},
		{"pod-cgroup-v2-nested", summary{
			Distro: platform.DistroOpenEuler, VersionID: "22.03", Domestic: true, Vendor: platform.VendorUnknown,
			Arch: platform.Unknown, Kernel: platform.Unknown,
			Cgroup: platform.Cgroup{Version: platform.CgroupV2, Path: "/kubepods.slice/kubepods-pod1.slice/cri-containerd-abc.scope",
				CPUQuota: 0.5, MemoryLimit: 256 << 20}}},
		{"host-cgroup-hybrid", summary{
			Distro: platform.DistroDebian, VersionID: "12", Vendor: platform.VendorUnknown,
			Arch: platform.Unknown, Kernel: platform.Unknown,
			Cgroup: platform.Cgroup{Version: platform.CgroupV1, Path: "/"}}},
	}
	seen := map[string]bool{}
	for _, tc := range tests {
		seen[tc.fixture] = true
		t.Run(tc.fixture, func(t *testing.T) {
			in, err := platform.Detect(os.DirFS(filepath.Join("testdata", tc.fixture)))
			if err != nil {
				t.Fatalf("Detect(testdata/%s) error: %v", tc.fixture, err)
			}
			if diff := cmp.Diff(tc.want, summarize(in)); diff != "" {
				t.Errorf("Detect(testdata/%s) mismatch (-want +got):\n%s", tc.fixture, diff)
			}
		})
	}
	// Every fixture directory is covered by a case above.
	entries, err := os.ReadDir("testdata")
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if e.IsDir() && !seen[e.Name()] {
			t.Errorf("testdata/%s has no test case", e.Name())
		}
	}
}

func TestDetectReportsTheRunningProcess(t *testing.T) {
	in, err := platform.Detect(fstest.MapFS{})
	if err != nil {
		t.Fatalf("Detect(empty) error: %v", err)
	}
	want := platform.Runtime{GOOS: runtime.GOOS, GOARCH: runtime.GOARCH, GoVersion: runtime.Version(),
		NumCPU: runtime.NumCPU(), GOMAXPROCS: runtime.GOMAXPROCS(0)}
	if diff := cmp.Diff(want, in.Runtime); diff != "" {
		t.Errorf("Detect(empty).Runtime mismatch (-want +got):\n%s", diff)
	}
}

func TestDetectOnAnEmptyRootReadsUnknown(t *testing.T) {
	in, err := platform.Detect(fstest.MapFS{})
	if err != nil {
		t.Fatalf("Detect(empty) error: %v", err)
	}
	want := summary{Distro: platform.DistroUnknown, Vendor: platform.VendorUnknown,
		Arch: platform.Unknown, Kernel: platform.Unknown, Cgroup: noCgroup}
	if diff := cmp.Diff(want, summarize(in)); diff != "" {
		t.Errorf("Detect(empty) mismatch (-want +got):\n%s", diff)
	}
}

func TestDetectMalformedFilesNameTheFileAndKeepTheRest(t *testing.T) {
	tests := []struct {
		name     string
		files    fstest.MapFS
		wantErr  string // the file the error must name
		wantArch string // what is still detected
	}{
		{"os-release line without =", fstest.MapFS{
			"etc/os-release":       {Data: []byte("ID=debian\nthis is not an assignment\n")},
			"proc/sys/kernel/arch": {Data: []byte("x86_64\n")},
		}, "etc/os-release", "amd64"},
		{"os-release unterminated quote", fstest.MapFS{
			"etc/os-release":       {Data: []byte("NAME=\"Kylin\n")},
			"proc/sys/kernel/arch": {Data: []byte("aarch64\n")},
		}, "etc/os-release: line 1", "arm64"},
		{"cgroup line without controllers field", fstest.MapFS{
			"proc/self/cgroup":     {Data: []byte("garbage\n")},
			"proc/sys/kernel/arch": {Data: []byte("loongarch64\n")},
		}, "proc/self/cgroup", "loong64"},
		{"cpu.max with text quota", fstest.MapFS{
			"proc/self/cgroup":      {Data: []byte("0::/\n")},
			"sys/fs/cgroup/cpu.max": {Data: []byte("lots 100000\n")},
			"proc/sys/kernel/arch":  {Data: []byte("x86_64\n")},
		}, "sys/fs/cgroup/cpu.max", "amd64"},
		{"memory.max negative", fstest.MapFS{
			"proc/self/cgroup":         {Data: []byte("0::/\n")},
			"sys/fs/cgroup/memory.max": {Data: []byte("-5\n")},
			"proc/sys/kernel/arch":     {Data: []byte("x86_64\n")},
		}, "sys/fs/cgroup/memory.max", "amd64"},
		{"v1 quota set but period missing", fstest.MapFS{
			"proc/self/cgroup":                   {Data: []byte("3:cpu:/\n")},
			"sys/fs/cgroup/cpu/cpu.cfs_quota_us": {Data: []byte("50000\n")},
			"proc/sys/kernel/arch":               {Data: []byte("x86_64\n")},
		}, "cpu.cfs_period_us", "amd64"},
		{"oversized os-release", fstest.MapFS{
			"etc/os-release":       {Data: []byte(strings.Repeat("A=b\n", 20000))},
			"proc/sys/kernel/arch": {Data: []byte("x86_64\n")},
		}, "etc/os-release", "amd64"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			in, err := platform.Detect(tc.files)
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("Detect() error = %v, want one naming %q", err, tc.wantErr)
			}
			if in.Arch != tc.wantArch {
				t.Errorf("Detect().Arch = %q, want %q (the rest must still be detected)", in.Arch, tc.wantArch)
			}
		})
	}
}

func TestDetectFallsBackWhenEtcOSReleaseIsUnreadable(t *testing.T) {
	fsys := errFS{fstest.MapFS{"usr/lib/os-release": {Data: []byte("ID=openEuler\nVERSION_ID=\"22.03\"\n")}}, "etc/os-release"}
	in, err := platform.Detect(fsys)
	if err != nil {
		t.Fatalf("Detect(etc unreadable, usr/lib readable) error = %v, want nil", err)
	}
	if in.OS.Distro != platform.DistroOpenEuler {
		t.Errorf("Detect(etc unreadable, usr/lib readable).OS.Distro = %q, want %q", in.OS.Distro, platform.DistroOpenEuler)
	}
}

func TestDetectRootRefusesSymlinksOutOfTheRoot(t *testing.T) {
	// An image whose etc/os-release is an absolute symlink must not be
	// fingerprinted with the host's file: through os.Root the link is
	// refused and usr/lib/os-release inside the image is read instead.
	dir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, "etc"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Join(dir, "usr", "lib"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "usr", "lib", "os-release"), []byte("ID=anolis\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("/usr/lib/os-release", filepath.Join(dir, "etc", "os-release")); err != nil {
		t.Fatal(err)
	}
	root, err := os.OpenRoot(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer root.Close()
	in, err := platform.Detect(root.FS())
	if err != nil {
		t.Fatalf("Detect(image) error: %v", err)
	}
	if in.OS.Distro != platform.DistroAnolis {
		t.Errorf("Detect(image).OS.Distro = %q, want %q (the image's own file)", in.OS.Distro, platform.DistroAnolis)
	}
}

func TestDetectPassesThroughUnreadableFiles(t *testing.T) {
	fsys := errFS{fstest.MapFS{"proc/cpuinfo": {Data: []byte("vendor_id : GenuineIntel\n")}}, "etc/os-release"}
	in, err := platform.Detect(fsys)
	if !errors.Is(err, fs.ErrPermission) {
		t.Fatalf("Detect(os-release unreadable) error = %v, want fs.ErrPermission", err)
	}
	if in.CPU.Vendor != platform.VendorIntel {
		t.Errorf("Detect(os-release unreadable).CPU.Vendor = %q, want %q", in.CPU.Vendor, platform.VendorIntel)
	}
}

// errFS fails to open one name with a permission error.
type errFS struct {
	fs.FS
	deny string
}

func (e errFS) Open(name string) (fs.File, error) {
	if name == e.deny {
		return nil, &fs.PathError{Op: "open", Path: name, Err: fs.ErrPermission}
	}
	return e.FS.Open(name)
}

func TestDetectLiveRoot(t *testing.T) {
	// The machine running the tests is real input too: it must fingerprint
	// without error, and its two sources of the architecture (the kernel's
	// uname and the cpuinfo layout) must agree. The fingerprint is not
	// compared with runtime.GOARCH: under qemu-user the test binary is arm64
	// or loong64 while the machine (and so the fingerprint) is the host's.
	in, err := platform.Detect(os.DirFS("/"))
	if err != nil {
		t.Fatalf("Detect(/) error: %v", err)
	}
	if runtime.GOOS != "linux" {
		return
	}
	if in.Arch == platform.Unknown || in.Arch == "" {
		t.Errorf("Detect(/).Arch = %q on Linux, want a known architecture", in.Arch)
	}
	if in.CPU.Arch != "" && in.CPU.Arch != in.Arch {
		t.Errorf("Detect(/): kernel says arch %q, cpuinfo says %q", in.Arch, in.CPU.Arch)
	}
	if in.OS.Distro == platform.DistroUnknown {
		t.Errorf("Detect(/).OS.Distro = %q on Linux, want a classification", in.OS.Distro)
	}
}
