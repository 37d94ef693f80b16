package main

import (
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"text/tabwriter"

	"github.com/duohuo/duohuo/platform"
	"github.com/spf13/cobra"
)

func init() { subcommands = append(subcommands, newEnvCmd) }

// envReport is what `duohuo env --json` prints: the fingerprint plus the
// conclusions duohuo draws from it.
type envReport struct {
	platform.Info
	Domestic bool            `json:"domestic"`
	Defaults platform.Policy `json:"defaults"`
}

func newEnvCmd() *cobra.Command {
	var (
		asJSON bool
		root   string
	)
	cmd := &cobra.Command{
		Use:   "env",
		Short: "Print the platform fingerprint: distribution, CPU, arch, kernel, cgroup limits, Go runtime",
		Long: `Print the platform fingerprint duohuo works from: the Linux distribution and
whether it is a Chinese domestic (信创) one, the CPU vendor and model, the
architecture, the kernel, the cgroup CPU quota and memory limit, and the Go
runtime's GOMAXPROCS and CPU count.

--root fingerprints another root filesystem (a chroot, a mounted image, a test
fixture); the Go runtime lines still describe this process. See
docs/platforms.md for the supported platforms and what each field means.

Missing files read "unknown". If a file is malformed, everything else is
still printed and the command exits 1 naming the file.`,
		Example: `  duohuo env
  duohuo env --json
  duohuo env --root /mnt/kylin-rootfs`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			st, err := os.Stat(root)
			if err != nil {
				return usagef("--root %s: %w", root, err)
			}
			if !st.IsDir() {
				return usagef("--root %s: not a directory", root)
			}
			// Another root is opened with os.Root so that an absolute
			// symlink in it (etc/os-release -> /usr/lib/os-release) cannot
			// make us read this machine's file instead of the image's.
			var fsys fs.FS = os.DirFS(root)
			if filepath.Clean(root) != "/" {
				r, err := os.OpenRoot(root)
				if err != nil {
					return usagef("--root %s: %w", root, err)
				}
				defer r.Close()
				fsys = r.FS()
			}
			info, detectErr := platform.Detect(fsys)
			rep := envReport{Info: info, Domestic: info.Domestic(), Defaults: platform.Defaults(info)}
			out := cmd.OutOrStdout()
			if asJSON {
				enc := json.NewEncoder(out)
				enc.SetIndent("", "  ")
				err = enc.Encode(rep)
			} else {
				err = writeEnvTable(out, rep)
			}
			if err != nil {
				return err
			}
			if detectErr != nil {
				return fmt.Errorf("fingerprint %s: %w", root, detectErr)
			}
			return nil
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print as JSON")
	cmd.Flags().StringVar(&root, "root", "/", "root filesystem to fingerprint")
	return cmd
}

// writeEnvTable prints rep as aligned "field  value" lines.
func writeEnvTable(w io.Writer, rep envReport) error {
	in := rep.Info
	distro := in.OS.PrettyName
	if distro == "" {
		distro = strings.TrimSpace(in.OS.Name + " " + in.OS.VersionID)
	}
	if distro == "" {
		distro = platform.Unknown
	}
	cpu := string(in.CPU.Vendor)
	if in.CPU.Model != "" {
		cpu += " — " + in.CPU.Model
	}
	if in.CPU.Processors > 0 {
		cpu += fmt.Sprintf(" (%d logical CPUs)", in.CPU.Processors)
	}
	rows := [][2]string{
		{"distribution", distro},
		{"classification", string(in.OS.Distro)},
		// Labels stay ASCII: tabwriter aligns by bytes, not display width.
		{"domestic", yesNo(rep.Domestic) + fmt.Sprintf(" (信创 distribution: %s, CPU: %s)", yesNo(in.OS.Domestic), yesNo(in.CPU.Vendor.Domestic()))},
		{"cpu", cpu},
		{"arch", in.Arch},
		{"kernel", in.Kernel},
		{"cgroup", in.Cgroup.Version},
		{"cpu quota", cpuQuota(in.Cgroup.CPUQuota)},
		{"memory limit", byteSize(in.Cgroup.MemoryLimit)},
		{"GOMAXPROCS", strconv.Itoa(in.Runtime.GOMAXPROCS)},
		{"NumCPU", strconv.Itoa(in.Runtime.NumCPU)},
		{"go", fmt.Sprintf("%s %s/%s", in.Runtime.GoVersion, in.Runtime.GOOS, in.Runtime.GOARCH)},
		{"crypto (auto)", fmt.Sprintf("%s (%s)", rep.Defaults.Crypto, rep.Defaults.Reason)},
	}
	for _, msg := range in.Warnings {
		rows = append(rows, [2]string{"WARNING", msg})
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	for _, r := range rows {
		fmt.Fprintf(tw, "%s\t%s\n", r[0], r[1])
	}
	return tw.Flush()
}

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}

func cpuQuota(q float64) string {
	if q == 0 {
		return "none"
	}
	return strconv.FormatFloat(q, 'f', -1, 64) + " CPUs"
}

// byteSize prints n in binary units ("512 MiB"), "none" for 0.
func byteSize(n int64) string {
	if n == 0 {
		return "none"
	}
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit && exp < 5; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.4g %ciB", float64(n)/float64(div), "KMGTPE"[exp])
}
