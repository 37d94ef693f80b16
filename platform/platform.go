package platform

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"runtime"
	"strconv"
	"strings"
)

// Unknown is what a string field reads when the file that would fill it is
// missing.
const Unknown = "unknown"

// Info is the fingerprint of one root filesystem plus the running Go
// runtime. It is a plain value: safe to copy and to share read-only.
type Info struct {
	OS  OS  `json:"os"`
	CPU CPU `json:"cpu"`
	// Arch is the machine architecture in GOARCH spelling (amd64, arm64,
	// loong64, …): from proc/sys/kernel/arch (uname -m) when present, else
	// inferred from cpuinfo; "unknown" when neither tells. It describes the
	// fingerprinted root, which is not always the running binary's
	// (see Runtime.GOARCH).
	Arch string `json:"arch"`
	// Kernel is proc/sys/kernel/osrelease (uname -r). Inside a container it
	// is the host's kernel.
	Kernel  string  `json:"kernel"`
	Cgroup  Cgroup  `json:"cgroup"`
	Runtime Runtime `json:"runtime"`
	// Warnings are findings an operator should act on, such as an
	// old-world LoongArch system (see docs/platforms.md).
	Warnings []string `json:"warnings,omitempty"`
}

// Runtime is the running Go process's view, independent of the root that
// was fingerprinted.
type Runtime struct {
	GOOS      string `json:"goos"`
	GOARCH    string `json:"goarch"`
	GoVersion string `json:"go_version"`
	NumCPU    int    `json:"num_cpu"`
	// GOMAXPROCS is the effective value; since Go 1.25 the runtime derives
	// its default from the cgroup CPU quota as well as the CPU count.
	GOMAXPROCS int `json:"gomaxprocs"`
}

// Domestic reports whether the distribution or the CPU is a Chinese domestic
// (信创) one.
func (in Info) Domestic() bool { return in.OS.Domestic || in.CPU.Vendor.Domestic() }

// Detect fingerprints the root filesystem fsys (os.DirFS("/") for the
// running machine). It reads etc/os-release (falling back to
// usr/lib/os-release, as os-release(5) prescribes), proc/cpuinfo,
// proc/sys/kernel/osrelease, proc/sys/kernel/arch, proc/self/cgroup and the
// cgroup limit files under sys/fs/cgroup.
//
// Missing files are not errors; the fields they fill read "unknown" or 0.
// Malformed files are reported in the error, joined and each naming its
// file; the returned Info is filled as far as the readable files allow in
// every case. Detect does only reads and is safe for concurrent use.
func Detect(fsys fs.FS) (Info, error) {
	var errs []error
	in := Info{
		Arch:   Unknown,
		Kernel: Unknown,
		Runtime: Runtime{
			GOOS: runtime.GOOS, GOARCH: runtime.GOARCH, GoVersion: runtime.Version(),
			NumCPU: runtime.NumCPU(), GOMAXPROCS: runtime.GOMAXPROCS(0),
		},
	}

	in.OS = ClassifyOS(nil)
	// etc/os-release first, usr/lib/os-release as os-release(5) prescribes.
	// An unreadable etc/os-release (for example an absolute symlink that an
	// os.Root refuses to follow) also falls back; its error is reported only
	// if the fallback is unreadable too.
	var osErr error
	for _, name := range []string{"etc/os-release", "usr/lib/os-release"} {
		data, err := readFile(fsys, name, maxOSRelease)
		if err != nil {
			if osErr == nil && !errors.Is(err, fs.ErrNotExist) {
				osErr = err
			}
			continue
		}
		osErr = nil
		kv, err := ParseOSRelease(data)
		if err != nil {
			osErr = fmt.Errorf("%s: %w", name, err)
			break
		}
		in.OS = ClassifyOS(kv)
		break
	}
	if osErr != nil {
		errs = append(errs, osErr)
	}

	in.CPU = CPU{Vendor: VendorUnknown}
	if data, err := readFile(fsys, "proc/cpuinfo", maxCPUInfo); err == nil {
		cpu, err := ParseCPUInfo(data)
		if err != nil {
			errs = append(errs, fmt.Errorf("proc/cpuinfo: %w", err))
		}
		in.CPU = cpu
	} else if !errors.Is(err, fs.ErrNotExist) {
		errs = append(errs, err)
	}

	if s, err := readLine(fsys, "proc/sys/kernel/osrelease"); err != nil {
		errs = append(errs, err)
	} else if s != "" {
		in.Kernel = s
	}
	if s, err := readLine(fsys, "proc/sys/kernel/arch"); err != nil {
		errs = append(errs, err)
	} else if a := goarch(s); a != "" {
		in.Arch = a
	}
	if in.Arch == Unknown && in.CPU.Arch != "" {
		in.Arch = in.CPU.Arch
	}

	cg, err := detectCgroup(fsys)
	if err != nil {
		errs = append(errs, err)
	}
	in.Cgroup = cg
	in.Warnings = warnings(in)
	return in, errors.Join(errs...)
}

// goarch maps uname -m spellings to GOARCH ones; unknown machines keep
// their uname spelling.
func goarch(machine string) string {
	switch machine {
	case "":
		return ""
	case "x86_64":
		return "amd64"
	case "aarch64", "aarch64_be":
		return "arm64"
	case "loongarch64":
		return "loong64"
	case "i386", "i486", "i586", "i686":
		return "386"
	case "mips64":
		return "mips64"
	}
	return machine
}

// warnings lists findings about in that an operator should act on.
func warnings(in Info) []string {
	var w []string
	// New-world LoongArch (the ABI upstream Go targets) needs Linux ≥ 5.19;
	// the old-world systems (Kylin V10 SP1, UOS 20 on 3A5000) run 4.19 or
	// 5.4 kernels, where upstream Go binaries crash in rt_sigprocmask
	// (golang/go#68867).
	if in.Arch == "loong64" && in.Kernel != Unknown {
		if major, minor, ok := kernelVersion(in.Kernel); ok && (major < 5 || major == 5 && minor < 19) {
			w = append(w, fmt.Sprintf("kernel %s on loong64 is older than 5.19: this is probably an old-world LoongArch system, "+
				"where upstream Go binaries crash (golang/go#68867); see docs/platforms.md", in.Kernel))
		}
	}
	return w
}

// kernelVersion extracts major and minor from a uname -r string such as
// "5.4.18-116-generic".
func kernelVersion(s string) (major, minor int, ok bool) {
	f := strings.FieldsFunc(s, func(r rune) bool { return r == '.' || r == '-' })
	if len(f) < 2 {
		return 0, 0, false
	}
	major, err1 := strconv.Atoi(f[0])
	minor, err2 := strconv.Atoi(f[1])
	return major, minor, err1 == nil && err2 == nil
}

// readFile reads at most limit bytes of name; a longer file is an error.
// Errors name the file.
func readFile(fsys fs.FS, name string, limit int64) ([]byte, error) {
	f, err := fsys.Open(name)
	if err != nil {
		return nil, err // *fs.PathError names the file
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, limit+1))
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", name, err)
	}
	if int64(len(data)) > limit {
		return nil, fmt.Errorf("read %s: larger than the %d byte limit", name, limit)
	}
	return data, nil
}

// readLine returns the trimmed content of a one-line file, "" if missing.
func readLine(fsys fs.FS, name string) (string, error) {
	data, err := readFile(fsys, name, 4096)
	if err != nil {
		return "", ignoreNotExist(err)
	}
	return strings.TrimSpace(string(data)), nil
}

func ignoreNotExist(err error) error {
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	return err
}
