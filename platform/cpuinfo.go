package platform

import (
	"bufio"
	"bytes"
	"fmt"
	"strconv"
	"strings"
)

// Vendor is the classified CPU vendor. The values are stable: they are used
// as metric label values and in `duohuo env --json`.
type Vendor string

// CPU vendors told apart by [ParseCPUInfo]. HiSilicon, Phytium, Hygon,
// Zhaoxin and Loongson are the Chinese domestic ones.
const (
	VendorHiSilicon Vendor = "hisilicon" // Kunpeng; arm64 implementer 0x48
	VendorPhytium   Vendor = "phytium"   // 飞腾; arm64 implementer 0x70
	VendorHygon     Vendor = "hygon"     // 海光; x86 vendor_id HygonGenuine
	VendorZhaoxin   Vendor = "zhaoxin"   // 兆芯; x86 vendor_id "  Shanghai  " (or CentaurHauls, family 7)
	VendorLoongson  Vendor = "loongson"  // 龙芯; loong64 "Model Name: Loongson-…"
	VendorIntel     Vendor = "intel"
	VendorAMD       Vendor = "amd"
	VendorOther     Vendor = "other"   // cpuinfo read, vendor not one of the above
	VendorUnknown   Vendor = "unknown" // no cpuinfo could be read
)

// Domestic reports whether v is one of the Chinese domestic CPU vendors.
func (v Vendor) Domestic() bool {
	switch v {
	case VendorHiSilicon, VendorPhytium, VendorHygon, VendorZhaoxin, VendorLoongson:
		return true
	}
	return false
}

// CPU is what /proc/cpuinfo says about the processor, plus its
// classification. Raw identification fields are kept as the kernel printed
// them (trimmed) so that an unrecognised part can still be looked up.
type CPU struct {
	Vendor Vendor `json:"vendor"`
	// Model is a human-readable model: "model name" on x86, "Model Name" on
	// LoongArch, and a name derived from implementer and part on arm64
	// (which prints no model name).
	Model string `json:"model"`
	// Arch is the architecture in GOARCH spelling as inferred from the
	// cpuinfo layout (amd64, arm64, loong64), or "" when it cannot be told.
	Arch string `json:"arch,omitempty"`
	// Processors counts the "processor" entries (logical CPUs online).
	Processors  int    `json:"processors"`
	VendorID    string `json:"vendor_id,omitempty"`   // x86 vendor_id
	Family      string `json:"family,omitempty"`      // x86 "cpu family", LoongArch "CPU Family"
	Implementer string `json:"implementer,omitempty"` // arm64 "CPU implementer"
	Part        string `json:"part,omitempty"`        // arm64 "CPU part"
}

// maxCPUInfo bounds how much of /proc/cpuinfo is read: about 1.5 KiB per
// logical CPU on x86, so 16 MiB covers several thousand CPUs.
const maxCPUInfo = 16 << 20

// ParseCPUInfo parses the text of /proc/cpuinfo and classifies the CPU.
// Keys are compared case-insensitively (x86 prints "model name", LoongArch
// "Model Name"); the first value of each key wins; lines without a colon
// are ignored, as some architectures print free-form header lines. Only an
// oversized input is an error. ParseCPUInfo is safe for concurrent use.
func ParseCPUInfo(data []byte) (CPU, error) {
	if len(data) > maxCPUInfo {
		return CPU{Vendor: VendorUnknown}, fmt.Errorf("%d bytes is larger than the %d byte limit", len(data), maxCPUInfo)
	}
	first := make(map[string]string)
	var c CPU
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 0, 4096), 1<<20)
	var key []byte // reused: lower-cased key of the current line
	for sc.Scan() {
		k, v, ok := bytes.Cut(sc.Bytes(), []byte(":"))
		if !ok {
			continue
		}
		key = appendLower(key[:0], bytes.TrimSpace(k))
		// Count "processor : N" entries only: old arm64 kernels also print a
		// "Processor : AArch64 Processor rev 1" header line.
		if string(key) == "processor" {
			if _, err := strconv.Atoi(string(bytes.TrimSpace(v))); err == nil {
				c.Processors++
			}
		}
		if _, seen := first[string(key)]; !seen { // no allocation for the lookup
			first[string(key)] = string(bytes.TrimSpace(v))
		}
	}
	if err := sc.Err(); err != nil {
		return CPU{Vendor: VendorUnknown}, err
	}
	if len(first) == 0 {
		c.Vendor = VendorUnknown
		return c, nil
	}
	c.VendorID = first["vendor_id"]
	c.Implementer = first["cpu implementer"]
	c.Part = first["cpu part"]
	c.Family = first["cpu family"]
	model := first["model name"]
	switch {
	case c.VendorID != "":
		c.Arch = "amd64"
		c.Model = model
		c.Vendor = x86Vendor(c.VendorID, c.Family, model)
	case c.Implementer != "":
		c.Arch = "arm64"
		c.Vendor, c.Model = armVendor(c.Implementer, c.Part)
		if c.Model == "" {
			c.Model = model
		}
	case strings.HasPrefix(strings.ToLower(model), "loongson") || strings.HasPrefix(strings.ToLower(c.Family), "loongson"):
		c.Arch = "loong64"
		c.Vendor = VendorLoongson
		c.Model = model
	default:
		c.Vendor = VendorOther
		c.Model = model
	}
	return c, nil
}

// appendLower appends the ASCII lower case of b to dst.
func appendLower(dst, b []byte) []byte {
	for _, c := range b {
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		dst = append(dst, c)
	}
	return dst
}

// x86Vendor classifies an x86 vendor_id. Sources: Linux
// arch/x86/kernel/cpu/hygon.c ("HygonGenuine") and zhaoxin.c ("  Shanghai  ",
// printed trimmed here); glibc commit 32ac0b98 (Zhaoxin also reports
// "CentaurHauls", which VIA uses too: Zhaoxin parts are family 7 or name
// themselves in the model name).
func x86Vendor(vendorID, family, model string) Vendor {
	switch vendorID {
	case "GenuineIntel":
		return VendorIntel
	case "AuthenticAMD":
		return VendorAMD
	case "HygonGenuine":
		return VendorHygon
	case "Shanghai":
		return VendorZhaoxin
	case "CentaurHauls":
		if family == "7" || strings.Contains(strings.ToLower(model), "zhaoxin") {
			return VendorZhaoxin
		}
	}
	return VendorOther
}

// hisiParts and phytiumParts name arm64 parts. Sources: util-linux
// sys-utils/lscpu-arm.c (HiSilicon 0xd01 "Kunpeng-920"; Phytium
// 0x660–0x663); Linux arch/arm64/include/asm/cputype.h (HiSilicon HIP09
// 0xd02, HIP12 0xd06); Phytium's vendor kernel (0x303, 0x862, 0x872, and the
// SoC codes in parentheses). Marketing names such as FT-2000+/64 or D2000 are
// not given because no public source maps them to parts reliably.
var (
	hisiParts = map[uint64]string{
		0xd01: "Kunpeng 920",
		0xd02: "HiSilicon HIP09",
		0xd06: "HiSilicon HIP12",
	}
	phytiumParts = map[uint64]string{
		0x303: "Phytium FTC303 (PE220X)",
		0x660: "Phytium FTC660 (PS15016)",
		0x661: "Phytium FTC661 (PE1702)",
		0x662: "Phytium FTC662 (PS17064)",
		0x663: "Phytium FTC663 (PD1904)",
		0x862: "Phytium FTC862 (PD2408)",
		0x872: "Phytium FTC872",
	}
)

// armVendor classifies an arm64 CPU implementer/part pair.
func armVendor(implementer, part string) (Vendor, string) {
	impl, err := strconv.ParseUint(implementer, 0, 16)
	if err != nil {
		return VendorOther, ""
	}
	p, perr := strconv.ParseUint(part, 0, 16)
	var name string
	switch impl {
	case 0x48:
		name = "HiSilicon part " + part
		if n, ok := hisiParts[p]; ok && perr == nil {
			name = n
		}
		return VendorHiSilicon, name
	case 0x70:
		name = "Phytium part " + part
		if n, ok := phytiumParts[p]; ok && perr == nil {
			name = n
		}
		return VendorPhytium, name
	}
	return VendorOther, fmt.Sprintf("implementer %s part %s", implementer, part)
}
