package platform_test

import (
	"strings"
	"testing"

	"github.com/duohuo/duohuo/platform"
	"github.com/google/go-cmp/cmp"
)

// cpuInfoCases are shared by the table test and the fuzz seed corpus.
var cpuInfoCases = []struct {
	name string
	in   string
	want platform.CPU
}{
	{"Kunpeng 920 by implementer 0x48 part 0xd01",
		"processor\t: 0\nCPU implementer\t: 0x48\nCPU architecture: 8\nCPU part\t: 0xd01\n",
		platform.CPU{Vendor: platform.VendorHiSilicon, Model: "Kunpeng 920", Arch: "arm64", Processors: 1, Implementer: "0x48", Part: "0xd01"}},
	{"unlisted HiSilicon part keeps its number",
		"processor\t: 0\nCPU implementer\t: 0x48\nCPU part\t: 0xd99\n",
		platform.CPU{Vendor: platform.VendorHiSilicon, Model: "HiSilicon part 0xd99", Arch: "arm64", Processors: 1, Implementer: "0x48", Part: "0xd99"}},
	{"Phytium FTC862 by implementer 0x70",
		"processor\t: 0\nCPU implementer\t: 0x70\nCPU part\t: 0x862\n",
		platform.CPU{Vendor: platform.VendorPhytium, Model: "Phytium FTC862 (PD2408)", Arch: "arm64", Processors: 1, Implementer: "0x70", Part: "0x862"}},
	{"Arm Ltd cores (Kunpeng 916 is a Cortex-A72) are other",
		"processor\t: 0\nCPU implementer\t: 0x41\nCPU part\t: 0xd08\n",
		platform.CPU{Vendor: platform.VendorOther, Model: "implementer 0x41 part 0xd08", Arch: "arm64", Processors: 1, Implementer: "0x41", Part: "0xd08"}},
	{"garbled implementer is other",
		"CPU implementer\t: banana\n",
		platform.CPU{Vendor: platform.VendorOther, Arch: "arm64", Implementer: "banana"}},
	{"Hygon by vendor_id",
		"processor\t: 0\nvendor_id\t: HygonGenuine\ncpu family\t: 24\nmodel name\t: Hygon C86 3250  8-core Processor\n",
		platform.CPU{Vendor: platform.VendorHygon, Model: "Hygon C86 3250  8-core Processor", Arch: "amd64", Processors: 1, VendorID: "HygonGenuine", Family: "24"}},
	{"Zhaoxin by padded Shanghai vendor_id",
		"processor\t: 0\nvendor_id\t:   Shanghai  \ncpu family\t: 7\nmodel name\t: ZHAOXIN KaiXian KX-U6780A@2.7GHz\n",
		platform.CPU{Vendor: platform.VendorZhaoxin, Model: "ZHAOXIN KaiXian KX-U6780A@2.7GHz", Arch: "amd64", Processors: 1, VendorID: "Shanghai", Family: "7"}},
	{"Zhaoxin by CentaurHauls family 7",
		"vendor_id\t: CentaurHauls\ncpu family\t: 7\nmodel name\t: KX-6000\n",
		platform.CPU{Vendor: platform.VendorZhaoxin, Model: "KX-6000", Arch: "amd64", VendorID: "CentaurHauls", Family: "7"}},
	{"VIA CentaurHauls family 6 is other",
		"vendor_id\t: CentaurHauls\ncpu family\t: 6\nmodel name\t: VIA Nano\n",
		platform.CPU{Vendor: platform.VendorOther, Model: "VIA Nano", Arch: "amd64", VendorID: "CentaurHauls", Family: "6"}},
	{"Intel", "vendor_id : GenuineIntel\nmodel name : Xeon\n",
		platform.CPU{Vendor: platform.VendorIntel, Model: "Xeon", Arch: "amd64", VendorID: "GenuineIntel"}},
	{"AMD", "vendor_id : AuthenticAMD\nmodel name : EPYC\n",
		platform.CPU{Vendor: platform.VendorAMD, Model: "EPYC", Arch: "amd64", VendorID: "AuthenticAMD"}},
	{"Loongson by Model Name with capital N",
		"processor\t\t: 0\nCPU Family\t\t: Loongson-64bit\nModel Name\t\t: Loongson-3C5000\n\nprocessor\t\t: 1\nCPU Family\t\t: Loongson-64bit\nModel Name\t\t: Loongson-3C5000\n",
		platform.CPU{Vendor: platform.VendorLoongson, Model: "Loongson-3C5000", Arch: "loong64", Processors: 2, Family: "Loongson-64bit"}},
	{"first value of a key wins",
		"processor : 0\nvendor_id : GenuineIntel\nprocessor : 1\nvendor_id : AuthenticAMD\n",
		platform.CPU{Vendor: platform.VendorIntel, Arch: "amd64", Processors: 2, VendorID: "GenuineIntel"}},
	{"unrecognised layout is other",
		"processor : 0\nisa : rv64imafdc\nmmu : sv39\n",
		platform.CPU{Vendor: platform.VendorOther, Processors: 1}},
	{"lines without a colon are ignored",
		"some header line\nvendor_id : GenuineIntel\n",
		platform.CPU{Vendor: platform.VendorIntel, Arch: "amd64", VendorID: "GenuineIntel"}},
	{"old arm64 kernels' Processor header is not a CPU",
		"Processor\t: AArch64 Processor rev 1 (aarch64)\nprocessor\t: 0\nprocessor\t: 1\nCPU implementer\t: 0x48\nCPU part\t: 0xd01\n",
		platform.CPU{Vendor: platform.VendorHiSilicon, Model: "Kunpeng 920", Arch: "arm64", Processors: 2, Implementer: "0x48", Part: "0xd01"}},
	{"empty input is unknown", "", platform.CPU{Vendor: platform.VendorUnknown}},
}

func TestParseCPUInfo(t *testing.T) {
	for _, tc := range cpuInfoCases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := platform.ParseCPUInfo([]byte(tc.in))
			if err != nil {
				t.Fatalf("ParseCPUInfo(%q) error: %v", tc.in, err)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("ParseCPUInfo(%q) mismatch (-want +got):\n%s", tc.in, diff)
			}
		})
	}
}

func TestParseCPUInfoRejectsOversizedInput(t *testing.T) {
	huge := []byte(strings.Repeat("processor : 0\n", 16<<20/14+1))
	got, err := platform.ParseCPUInfo(huge)
	if err == nil || !strings.Contains(err.Error(), "limit") {
		t.Fatalf("ParseCPUInfo(%d bytes) error = %v, want a size-limit error", len(huge), err)
	}
	if got.Vendor != platform.VendorUnknown {
		t.Errorf("ParseCPUInfo(oversized).Vendor = %q, want %q", got.Vendor, platform.VendorUnknown)
	}
}

func TestVendorDomestic(t *testing.T) {
	for v, want := range map[platform.Vendor]bool{
		platform.VendorHiSilicon: true, platform.VendorPhytium: true, platform.VendorHygon: true,
		platform.VendorZhaoxin: true, platform.VendorLoongson: true, platform.VendorIntel: false,
		platform.VendorAMD: false, platform.VendorOther: false, platform.VendorUnknown: false,
	} {
		if got := v.Domestic(); got != want {
			t.Errorf("Vendor(%q).Domestic() = %v, want %v", v, got, want)
		}
	}
}
