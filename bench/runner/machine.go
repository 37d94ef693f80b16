package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"time"
)

// machine is what the report says about where it ran.
type machine struct {
	Date      string            `json:"date"`
	CPU       string            `json:"cpu"`
	NProc     int               `json:"nproc"`
	Kernel    string            `json:"kernel"`
	OS        string            `json:"os"`
	LoadStart string            `json:"load_start"`
	LoadEnd   string            `json:"load_end"`
	Versions  map[string]string `json:"versions"`
}

func machineInfo(bin string) machine {
	m := machine{
		Date:      time.Now().UTC().Format("2006-01-02 15:04 UTC"),
		NProc:     runtime.NumCPU(),
		LoadStart: loadAvg(),
		Versions:  map[string]string{},
	}
	if out, err := exec.Command("nproc").Output(); err == nil {
		if n, err := strconv.Atoi(strings.TrimSpace(string(out))); err == nil {
			m.NProc = n
		}
	}
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, line := range strings.Split(string(b), "\n") {
			if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
				m.CPU = strings.TrimSpace(v)
				break
			}
		}
	}
	if m.CPU == "" {
		m.CPU = runtime.GOARCH
	}
	m.Kernel = firstLine(exec.Command("uname", "-sr").Output())
	if b, err := os.ReadFile("/etc/os-release"); err == nil {
		for _, line := range strings.Split(string(b), "\n") {
			if v, ok := strings.CutPrefix(line, "PRETTY_NAME="); ok {
				m.OS = strings.Trim(v, `"`)
			}
		}
	}
	m.Versions["nginx"] = words(strings.TrimPrefix(firstLine(exec.Command("nginx", "-v").CombinedOutput()), "nginx version: "), 1)
	m.Versions["haproxy"] = words(firstLine(exec.Command("haproxy", "-v").CombinedOutput()), 3)
	m.Versions["wrk"] = words(firstLine(exec.Command("wrk", "-v").CombinedOutput()), 2)
	m.Versions["go"] = words(firstLine(exec.Command("go", "version").CombinedOutput()), 3)
	m.Versions["duohuo"] = duohuoVersion(filepath.Join(bin, "duohuo"))
	return m
}

func duohuoVersion(path string) string {
	out, err := exec.Command(path, "version", "--json").Output()
	if err != nil {
		return "duohuo (version unknown: " + err.Error() + ")"
	}
	var v struct{ Version, Commit string }
	if err := json.Unmarshal(out, &v); err != nil {
		return "duohuo (version unknown: " + err.Error() + ")"
	}
	if len(v.Commit) > 12 {
		v.Commit = v.Commit[:12]
	}
	return "duohuo " + v.Version + " (" + v.Commit + ")"
}

// words returns the first n words of s ("HAProxy version 2.6.12 …" → 3).
func words(s string, n int) string {
	f := strings.Fields(s)
	if len(f) > n {
		f = f[:n]
	}
	return strings.Join(f, " ")
}

func firstLine(b []byte, err error) string {
	if len(b) == 0 && err != nil {
		return "unknown (" + err.Error() + ")"
	}
	line, _, _ := strings.Cut(strings.TrimSpace(string(b)), "\n")
	return strings.TrimSpace(line)
}

// loadAvg returns the 1, 5 and 15 minute load averages.
func loadAvg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "?"
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return "?"
	}
	return strings.Join(f[:3], " ")
}

// family returns pid and its direct children (nginx's worker).
func family(pid int) []int {
	pids := []int{pid}
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/task/" + strconv.Itoa(pid) + "/children")
	if err == nil {
		for _, f := range strings.Fields(string(b)) {
			if c, err := strconv.Atoi(f); err == nil {
				pids = append(pids, c)
			}
		}
		return pids
	}
	// Kernels without CONFIG_PROC_CHILDREN: scan for our parent id.
	ents, _ := os.ReadDir("/proc")
	for _, e := range ents {
		c, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		st, err := os.ReadFile("/proc/" + e.Name() + "/stat")
		if err != nil {
			continue
		}
		if i := bytes.LastIndexByte(st, ')'); i >= 0 {
			if f := strings.Fields(string(st[i+1:])); len(f) > 1 && f[1] == strconv.Itoa(pid) {
				pids = append(pids, c)
			}
		}
	}
	return pids
}

// cpuTicks returns user + system CPU time of pid and its children, in clock
// ticks (/proc/PID/stat fields 14 and 15).
func cpuTicks(pid int) int64 {
	var total int64
	for _, p := range family(pid) {
		b, err := os.ReadFile("/proc/" + strconv.Itoa(p) + "/stat")
		if err != nil {
			continue
		}
		// The command name (field 2) may hold spaces: count from its ')'.
		i := bytes.LastIndexByte(b, ')')
		if i < 0 {
			continue
		}
		f := strings.Fields(string(b[i+1:]))
		if len(f) < 13 {
			continue
		}
		u, _ := strconv.ParseInt(f[11], 10, 64)
		s, _ := strconv.ParseInt(f[12], 10, 64)
		total += u + s
	}
	return total
}

var ticks int64

// clockTicks returns USER_HZ (getconf CLK_TCK), 100 when unknown.
func clockTicks() int64 {
	if ticks == 0 {
		ticks = 100
		if out, err := exec.Command("getconf", "CLK_TCK").Output(); err == nil {
			if n, err := strconv.ParseInt(strings.TrimSpace(string(out)), 10, 64); err == nil && n > 0 {
				ticks = n
			}
		}
	}
	return ticks
}

// peakRSSKiB sums VmHWM (peak resident set) over pid and its children.
func peakRSSKiB(pid int) int64 {
	var total int64
	for _, p := range family(pid) {
		f, err := os.Open("/proc/" + strconv.Itoa(p) + "/status")
		if err != nil {
			continue
		}
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			if v, ok := strings.CutPrefix(sc.Text(), "VmHWM:"); ok {
				n, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
				total += n
			}
		}
		f.Close()
	}
	return total
}
