package platform

import (
	"errors"
	"fmt"
	"io/fs"
	"path"
	"strconv"
	"strings"
)

// Cgroup versions reported in [Cgroup.Version].
const (
	CgroupV1   = "v1"      // cpu and memory controllers on the legacy hierarchy (also hybrid setups)
	CgroupV2   = "v2"      // unified hierarchy only
	CgroupNone = "unknown" // proc/self/cgroup missing or empty
)

// Cgroup is the CPU quota and memory limit of the control group the process
// (as seen through proc/self/cgroup) belongs to. Limits set on ancestor
// groups count: the smallest limit on the path from the group to the
// hierarchy's root is reported, as the kernel enforces all of them.
type Cgroup struct {
	Version string `json:"version"`
	// Path is the group path from proc/self/cgroup (the cpu controller's on
	// v1), or "" when unknown.
	Path string `json:"path,omitempty"`
	// CPUQuota is the quota in CPUs (quota / period, 1.5 = one and a half
	// CPUs); 0 means no quota.
	CPUQuota float64 `json:"cpu_quota"`
	// MemoryLimit is the memory limit in bytes; 0 means no limit.
	MemoryLimit int64 `json:"memory_limit"`
}

// cgroupRoot is where cgroup hierarchies are mounted on every distribution
// duohuo supports (systemd's layout). Mounts elsewhere are not followed.
const cgroupRoot = "sys/fs/cgroup"

// v1Unlimited: a v1 memory.limit_in_bytes at or above this is "no limit"
// (the kernel prints PAGE_COUNTER_MAX × page size, 9223372036854771712 with
// 4 KiB pages).
const v1Unlimited = int64(1) << 62

// detectCgroup reads proc/self/cgroup and the limit files under
// sys/fs/cgroup. Missing files leave the limits at 0.
func detectCgroup(fsys fs.FS) (Cgroup, error) {
	cg := Cgroup{Version: CgroupNone}
	data, err := readFile(fsys, "proc/self/cgroup", 1<<20)
	if err != nil || len(data) == 0 {
		return cg, ignoreNotExist(err)
	}
	groups, err := parseProcCgroup(data)
	if err != nil {
		return cg, fmt.Errorf("proc/self/cgroup: %w", err)
	}
	cpuPath, hasCPU := groups["cpu"]
	memPath, hasMem := groups["memory"]
	unified, hasUnified := groups[""]
	var errs []error
	switch {
	case hasCPU || hasMem:
		cg.Version = CgroupV1
		cg.Path = cpuPath
		if cg.Path == "" {
			cg.Path = memPath
		}
		if hasCPU {
			cg.CPUQuota, err = walkMin(fsys, v1Dirs(groups, "cpu"), cpuPath, readV1CPU)
			errs = append(errs, err)
		}
		if hasMem {
			cg.MemoryLimit, err = walkMin(fsys, []string{path.Join(cgroupRoot, "memory")}, memPath, readV1Memory)
			errs = append(errs, err)
		}
	case hasUnified:
		cg.Version = CgroupV2
		cg.Path = unified
		cg.CPUQuota, err = walkMin(fsys, []string{cgroupRoot}, unified, readV2CPU)
		errs = append(errs, err)
		cg.MemoryLimit, err = walkMin(fsys, []string{cgroupRoot}, unified, readV2Memory)
		errs = append(errs, err)
	}
	return cg, errors.Join(errs...)
}

// parseProcCgroup maps controller name to group path from the lines
// "hierarchy-ID:controller-list:path" (cgroups(7)). The v2 line has an empty
// controller list and is stored under "".
func parseProcCgroup(data []byte) (map[string]string, error) {
	groups := make(map[string]string)
	for n, line := range strings.Split(string(data), "\n") {
		line = strings.TrimSpace(line)
		if line == "" {
			continue
		}
		parts := strings.SplitN(line, ":", 3)
		if len(parts) != 3 {
			return nil, fmt.Errorf("line %d: %q is not hierarchy-ID:controllers:path", n+1, clip(line))
		}
		if _, err := strconv.ParseUint(parts[0], 10, 32); err != nil {
			return nil, fmt.Errorf("line %d: hierarchy ID %q is not a number", n+1, clip(parts[0]))
		}
		if parts[1] == "" {
			groups[""] = parts[2]
			continue
		}
		for _, c := range strings.Split(parts[1], ",") {
			groups[c] = parts[2]
		}
	}
	return groups, nil
}

// v1Dirs lists the mount points a v1 controller may have: a hierarchy
// co-mounting cpu and cpuacct is named after both ("cpu,cpuacct") and
// systemd adds a "cpu" symlink, which an fs.FS may or may not follow.
func v1Dirs(groups map[string]string, ctrl string) []string {
	dirs := []string{path.Join(cgroupRoot, ctrl)}
	if _, ok := groups["cpuacct"]; ok && ctrl == "cpu" {
		dirs = append(dirs, path.Join(cgroupRoot, "cpu,cpuacct"), path.Join(cgroupRoot, "cpuacct,cpu"))
	}
	return dirs
}

// walkMin reads a limit with read in the group directory and each ancestor
// up to the mount root, under each candidate mount, and returns the smallest
// positive one (0 = no limit anywhere). In a container the group path from
// proc/self/cgroup is often not visible below the mount, whose root then is
// the container's own group; the walk reaches it all the same.
func walkMin[T int64 | float64](fsys fs.FS, mounts []string, group string, read func(fs.FS, string) (T, bool, error)) (T, error) {
	var (
		best T
		errs []error
	)
	for _, mount := range mounts {
		dir := path.Clean("/" + group)
		for {
			v, ok, err := read(fsys, path.Join(mount, dir))
			if err != nil {
				errs = append(errs, err)
			} else if ok && v > 0 && (best == 0 || v < best) {
				best = v
			}
			if dir == "/" {
				break
			}
			dir = path.Dir(dir)
		}
	}
	return best, errors.Join(errs...)
}

// readV2CPU reads cpu.max: "$MAX $PERIOD", MAX being "max" for no quota
// (Documentation/admin-guide/cgroup-v2.rst).
func readV2CPU(fsys fs.FS, dir string) (float64, bool, error) {
	name := path.Join(dir, "cpu.max")
	data, err := readFile(fsys, name, 4096)
	if err != nil {
		return 0, false, ignoreNotExist(err)
	}
	f := strings.Fields(string(data))
	if len(f) == 0 || len(f) > 2 {
		return 0, false, fmt.Errorf("%s: %q is not \"$MAX $PERIOD\"", name, clip(string(data)))
	}
	if f[0] == "max" {
		return 0, true, nil
	}
	quota, err := strconv.ParseInt(f[0], 10, 64)
	if err != nil || quota <= 0 {
		return 0, false, fmt.Errorf("%s: quota %q is not a positive number", name, clip(f[0]))
	}
	period := int64(100000) // the kernel's default when only MAX is written
	if len(f) == 2 {
		period, err = strconv.ParseInt(f[1], 10, 64)
		if err != nil || period <= 0 {
			return 0, false, fmt.Errorf("%s: period %q is not a positive number", name, clip(f[1]))
		}
	}
	return float64(quota) / float64(period), true, nil
}

// readV2Memory reads memory.max: bytes, or "max".
func readV2Memory(fsys fs.FS, dir string) (int64, bool, error) {
	name := path.Join(dir, "memory.max")
	data, err := readFile(fsys, name, 4096)
	if err != nil {
		return 0, false, ignoreNotExist(err)
	}
	s := strings.TrimSpace(string(data))
	if s == "max" {
		return 0, true, nil
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n < 0 {
		return 0, false, fmt.Errorf("%s: %q is not a byte count or \"max\"", name, clip(s))
	}
	return n, true, nil
}

// readV1CPU reads cpu.cfs_quota_us (-1 = no quota) and cpu.cfs_period_us.
func readV1CPU(fsys fs.FS, dir string) (float64, bool, error) {
	qName, pName := path.Join(dir, "cpu.cfs_quota_us"), path.Join(dir, "cpu.cfs_period_us")
	q, err := readFile(fsys, qName, 4096)
	if err != nil {
		return 0, false, ignoreNotExist(err)
	}
	quota, err := strconv.ParseInt(strings.TrimSpace(string(q)), 10, 64)
	if err != nil {
		return 0, false, fmt.Errorf("%s: %q is not a number", qName, clip(strings.TrimSpace(string(q))))
	}
	if quota <= 0 {
		return 0, true, nil
	}
	p, err := readFile(fsys, pName, 4096)
	if err != nil {
		return 0, false, fmt.Errorf("%s is set but %w", qName, err)
	}
	period, err := strconv.ParseInt(strings.TrimSpace(string(p)), 10, 64)
	if err != nil || period <= 0 {
		return 0, false, fmt.Errorf("%s: %q is not a positive number", pName, clip(strings.TrimSpace(string(p))))
	}
	return float64(quota) / float64(period), true, nil
}

// readV1Memory reads memory.limit_in_bytes.
func readV1Memory(fsys fs.FS, dir string) (int64, bool, error) {
	name := path.Join(dir, "memory.limit_in_bytes")
	data, err := readFile(fsys, name, 4096)
	if err != nil {
		return 0, false, ignoreNotExist(err)
	}
	s := strings.TrimSpace(string(data))
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n < 0 {
		return 0, false, fmt.Errorf("%s: %q is not a byte count", name, clip(s))
	}
	if n >= v1Unlimited {
		return 0, true, nil
	}
	return n, true, nil
}
