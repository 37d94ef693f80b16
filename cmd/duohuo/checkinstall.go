package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/duohuo/duohuo/internal/config"
)

func init() { subcommands = append(subcommands, newCheckInstallCmd) }

// The paths of an installation by the RPM or DEB package (docs/install.md).
const (
	installConfig = "/etc/duohuo/duohuo.yaml"
	installEnv    = "/etc/duohuo/duohuo.env"
	installState  = "/var/lib/duohuo"
	installUser   = "duohuo"
)

// installUnits are where the packages put the systemd unit (rpm, deb) and
// where an administrator may put one of their own.
var installUnits = []string{
	"/etc/systemd/system/duohuo.service",
	"/usr/lib/systemd/system/duohuo.service",
	"/lib/systemd/system/duohuo.service",
}

func newCheckInstallCmd() *cobra.Command {
	o := checkOptions{}
	cmd := &cobra.Command{
		Use:   "check-install",
		Short: "Check an installation by the RPM or DEB package: unit, user, permissions, config, ports",
		Long: `Check-install checks what the RPM and DEB packages install and what the
duohuo service needs to start, and prints one line per check:

  ok|warn|fail  CHECK  what was found

  binary       /usr/bin/duohuo exists and is executable
  unit         the systemd unit exists and runs duohuo serve; where systemd
               runs, whether the service is enabled and active
  user         the duohuo user and group exist
  permissions  /etc/duohuo and the config are readable by the duohuo group
               and not writable by others; /var/lib/duohuo is the user's
  config       the config file is valid (as duohuo validate); the variables
               it names are read from /etc/duohuo/duohuo.env as the unit does
  port         each listener and the admin address can be bound, or is held
               by the running duohuo (its admin /healthz answers)

The exit code is 1 when a check fails, 0 otherwise (warnings included).
--root checks an installation unpacked under another directory (an image
or a chroot); ports are then still checked on this machine.`,
		Example: `  duohuo check-install
  duohuo check-install -c /etc/duohuo/duohuo.yaml
  duohuo check-install --root /mnt/image`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			o.out = cmd.OutOrStdout()
			if n := checkInstall(cmd.Context(), o); n > 0 {
				return checkFailed(n)
			}
			return nil
		},
	}
	cmd.Flags().StringVarP(&o.config, "config", "c", installConfig, "config file of the service")
	cmd.Flags().StringVar(&o.root, "root", "/", "directory the installation is under")
	return cmd
}

// checkFailed is the error of a check-install with n failed checks; it
// exits with exitRuntime, as the command ran and found a problem.
type checkFailed int

func (n checkFailed) Error() string { return fmt.Sprintf("check-install: %d check(s) failed", int(n)) }
func (checkFailed) ExitCode() int   { return exitRuntime }

type checkOptions struct {
	config string // path of the config, inside root
	root   string
	out    io.Writer
}

// checker prints check results and counts them.
type installChecker struct {
	out                  io.Writer
	root                 string
	ok, warnings, failed int
}

func (c *installChecker) report(level, check, format string, args ...any) {
	switch level {
	case "ok":
		c.ok++
	case "warn":
		c.warnings++
	default:
		c.failed++
	}
	fmt.Fprintf(c.out, "%-4s  %-11s  %s\n", level, check, fmt.Sprintf(format, args...))
}

// path returns p (an absolute path of the installation) under the root.
func (c *installChecker) path(p string) string { return filepath.Join(c.root, p) }

// checkInstall runs every check and returns the number that failed.
func checkInstall(ctx context.Context, o checkOptions) int {
	c := &installChecker{out: o.out, root: o.root}
	c.binary()
	systemd := c.unit(ctx)
	uid, gid, userOK := c.user()
	if userOK {
		c.permissions(o.config, uid, gid)
	}
	if cfg := c.config(o.config); cfg != nil {
		c.ports(ctx, cfg, systemd)
	}
	fmt.Fprintf(o.out, "%d ok, %d warn, %d fail\n", c.ok, c.warnings, c.failed)
	return c.failed
}

func (c *installChecker) binary() {
	p := c.path("/usr/bin/duohuo")
	fi, err := os.Stat(p)
	switch {
	case err != nil:
		c.report("fail", "binary", "%v", err)
	case !fi.Mode().IsRegular() || fi.Mode().Perm()&0o111 == 0:
		c.report("fail", "binary", "%s is not an executable file (%v)", p, fi.Mode())
	case fi.Mode().Perm()&0o022 != 0:
		c.report("fail", "binary", "%s is writable by group or others (%v)", p, fi.Mode().Perm())
	default:
		c.report("ok", "binary", "%s", p)
	}
}

// unit checks the systemd unit file and, where systemd runs this machine,
// the service's state. It reports whether systemd manages the service.
func (c *installChecker) unit(ctx context.Context) (systemd bool) {
	var found string
	for _, u := range installUnits {
		if _, err := os.Stat(c.path(u)); err == nil {
			found = u
			break
		}
	}
	if found == "" {
		c.report("fail", "unit", "no duohuo.service in %s", strings.Join(installUnits, ", "))
		return false
	}
	b, err := os.ReadFile(c.path(found))
	if err != nil {
		c.report("fail", "unit", "%v", err)
		return false
	}
	execStart := unitValue(string(b), "ExecStart")
	if !strings.Contains(execStart, "duohuo serve") {
		c.report("fail", "unit", "%s: ExecStart %q does not run duohuo serve", found, execStart)
		return false
	}
	if u := unitValue(string(b), "User"); u != installUser {
		c.report("warn", "unit", "%s: runs as %q, not as the %s user", found, u, installUser)
	} else {
		c.report("ok", "unit", "%s runs %q as %s", found, execStart, u)
	}
	if c.root != "/" {
		return false
	}
	if _, err := os.Stat("/run/systemd/system"); err != nil {
		c.report("warn", "unit", "systemd does not run this machine: start duohuo serve by other means")
		return false
	}
	enabled := systemctl(ctx, "is-enabled", "duohuo.service")
	active := systemctl(ctx, "is-active", "duohuo.service")
	if enabled == "enabled" && active == "active" {
		c.report("ok", "unit", "duohuo.service is enabled and active")
	} else {
		c.report("warn", "unit", "duohuo.service is %s and %s: systemctl enable --now duohuo", orUnknown(enabled), orUnknown(active))
	}
	return active == "active"
}

// unitValue returns the last value of key in a unit file's text.
func unitValue(unit, key string) string {
	var v string
	for line := range strings.Lines(unit) {
		k, val, ok := strings.Cut(strings.TrimSpace(line), "=")
		if ok && strings.TrimSpace(k) == key {
			v = strings.TrimSpace(val)
		}
	}
	return v
}

// systemctl returns the first line systemctl prints for args, or "" when
// it cannot run (its exit code tells a state such as inactive, not an
// error).
func systemctl(ctx context.Context, args ...string) string {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	out, _ := exec.CommandContext(ctx, "systemctl", args...).Output()
	first, _, _ := strings.Cut(string(out), "\n")
	return strings.TrimSpace(first)
}

func orUnknown(s string) string {
	if s == "" {
		return "unknown"
	}
	return s
}

// user looks the duohuo user and group up in the root's /etc/passwd and
// /etc/group (read directly, so that --root works and no C library is
// needed).
func (c *installChecker) user() (uid, gid int, ok bool) {
	pw, err := lookupDB(c.path("/etc/passwd"), installUser)
	if err != nil {
		c.report("fail", "user", "user %s: %v (the package's preinstall script creates it)", installUser, err)
		return 0, 0, false
	}
	gr, err := lookupDB(c.path("/etc/group"), installUser)
	if err != nil {
		c.report("fail", "user", "group %s: %v", installUser, err)
		return 0, 0, false
	}
	uid, err1 := strconv.Atoi(field(pw, 2))
	gid, err2 := strconv.Atoi(field(gr, 2))
	if err := errors.Join(err1, err2); err != nil {
		c.report("fail", "user", "malformed passwd or group entry: %v", err)
		return 0, 0, false
	}
	if uid == 0 {
		c.report("fail", "user", "user %s has uid 0: the service would run as root", installUser)
		return 0, 0, false
	}
	c.report("ok", "user", "%s uid %d, group %s gid %d, home %s, shell %s", installUser, uid, installUser, gid, field(pw, 5), field(pw, 6))
	return uid, gid, true
}

var errNoEntry = errors.New("no such entry")

// lookupDB returns the fields of name's line in a passwd-style file.
func lookupDB(path, name string) ([]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fs := strings.Split(sc.Text(), ":")
		if len(fs) >= 3 && fs[0] == name {
			return fs, nil
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	return nil, fmt.Errorf("%w in %s", errNoEntry, path)
}

func field(fs []string, i int) string {
	if i < len(fs) {
		return fs[i]
	}
	return ""
}

// permissions checks that the service can read its configuration and
// write its state, and that nobody else can change them.
func (c *installChecker) permissions(cfgPath string, uid, gid int) {
	type want struct {
		path     string
		dir      bool
		optional bool
		write    bool // the service must be able to write it
	}
	for _, w := range []want{
		{path: filepath.Dir(cfgPath), dir: true},
		{path: cfgPath},
		{path: installEnv, optional: true},
		{path: installState, dir: true, write: true},
	} {
		p := c.path(w.path)
		fi, err := os.Stat(p)
		if errors.Is(err, fs.ErrNotExist) && w.optional {
			continue
		}
		if err != nil {
			c.report("fail", "permissions", "%v", err)
			continue
		}
		st, ok := fi.Sys().(*syscall.Stat_t)
		if !ok {
			c.report("warn", "permissions", "%s: owner unknown on this system", p)
			continue
		}
		mode := fi.Mode().Perm()
		// What the service's user may do, as the kernel decides it.
		var may fs.FileMode
		switch {
		case int(st.Uid) == uid:
			may = mode >> 6 & 7
		case int(st.Gid) == gid:
			may = mode >> 3 & 7
		default:
			may = mode & 7
		}
		need := fs.FileMode(4)
		if w.dir {
			need |= 1
		}
		if w.write {
			need |= 2
		}
		desc := fmt.Sprintf("%s %v uid %d gid %d", w.path, mode, st.Uid, st.Gid)
		switch {
		case fi.IsDir() != w.dir:
			c.report("fail", "permissions", "%s: a directory expected: %v", w.path, fi.Mode())
		case mode&0o002 != 0:
			c.report("fail", "permissions", "%s: writable by every user", desc)
		case may&need != need:
			c.report("fail", "permissions", "%s: the %s user cannot %s it", desc, installUser, verbs(need))
		case !w.write && may&2 != 0:
			c.report("warn", "permissions", "%s: the %s user can change it; root should own it", desc, installUser)
		case !w.dir && mode&0o004 != 0:
			c.report("warn", "permissions", "%s: readable by every user (it may hold tokens): chmod o-r", desc)
		default:
			c.report("ok", "permissions", "%s", desc)
		}
	}
}

func verbs(m fs.FileMode) string {
	var v []string
	if m&4 != 0 {
		v = append(v, "read")
	}
	if m&2 != 0 {
		v = append(v, "write")
	}
	if m&1 != 0 {
		v = append(v, "enter")
	}
	return strings.Join(v, "/")
}

// config loads the configuration as the service would: with the variables
// of the unit's environment file set, when they are not already.
func (c *installChecker) config(cfgPath string) *config.Config {
	p := c.path(cfgPath)
	if err := setEnvFile(c.path(installEnv)); err != nil {
		c.report("fail", "config", "%v", err)
		return nil
	}
	cfg, err := config.Load(p)
	if err != nil {
		var errs config.Errors
		if errors.As(err, &errs) {
			for _, e := range errs {
				c.report("fail", "config", "%v", e)
			}
			return nil
		}
		c.report("fail", "config", "%v", err)
		return nil
	}
	c.report("ok", "config", "%s is valid: %d listener(s), %d service(s), %d route(s); admin on %s",
		p, len(cfg.Listeners), len(cfg.Services), len(cfg.Routes), cfg.Admin.Listen)
	for _, w := range cfg.Warnings {
		c.report("warn", "config", "%v", w)
	}
	return cfg
}

// setEnvFile sets the KEY=value lines of a systemd EnvironmentFile that
// are not set yet. A missing file is no error: the unit marks it optional.
func setEnvFile(path string) error {
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	for i, line := range strings.Split(string(b), "\n") {
		line = strings.TrimSpace(line)
		if line == "" || line[0] == '#' || line[0] == ';' {
			continue
		}
		k, v, ok := strings.Cut(line, "=")
		if !ok || strings.TrimSpace(k) == "" {
			return fmt.Errorf("%s:%d: want KEY=value", path, i+1)
		}
		k = strings.TrimSpace(k)
		v = strings.Trim(strings.TrimSpace(v), `"'`)
		if _, set := os.LookupEnv(k); !set {
			os.Setenv(k, v)
		}
	}
	return nil
}

// ports checks that every address the config listens on can be bound, or
// is held by the duohuo already running.
func (c *installChecker) ports(ctx context.Context, cfg *config.Config, systemd bool) {
	running := adminAnswers(ctx, cfg.Admin.Listen)
	addrs := []struct{ name, addr string }{{"admin", cfg.Admin.Listen}}
	for _, l := range cfg.Listeners {
		addrs = append(addrs, struct{ name, addr string }{"listener " + l.Name, l.Listen})
	}
	for _, a := range addrs {
		ln, err := net.Listen("tcp", a.addr)
		if err == nil {
			ln.Close()
			if systemd {
				c.report("warn", "port", "%s %s is free although duohuo.service is active", a.name, a.addr)
				continue
			}
			c.report("ok", "port", "%s %s can be bound", a.name, a.addr)
			continue
		}
		switch {
		case errors.Is(err, syscall.EADDRINUSE) && running:
			c.report("ok", "port", "%s %s is held by the running duohuo", a.name, a.addr)
		case errors.Is(err, syscall.EADDRINUSE):
			c.report("fail", "port", "%s %s is in use by another program", a.name, a.addr)
		case errors.Is(err, syscall.EACCES):
			// Ports below 1024: the unit grants CAP_NET_BIND_SERVICE.
			c.report("warn", "port", "%s %s cannot be bound by this user (%v); the unit grants CAP_NET_BIND_SERVICE", a.name, a.addr, err)
		default:
			c.report("fail", "port", "%s %s: %v", a.name, a.addr, err)
		}
	}
}

// adminAnswers reports whether a duohuo admin listener answers /healthz
// at addr.
func adminAnswers(ctx context.Context, addr string) bool {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return false
	}
	if ip := net.ParseIP(host); host == "" || ip != nil && ip.IsUnspecified() {
		host = "127.0.0.1"
	}
	ctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+net.JoinHostPort(host, port)+"/healthz", nil)
	if err != nil {
		return false
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return false
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 64))
	return resp.StatusCode == http.StatusOK && strings.HasPrefix(strings.TrimSpace(string(b)), "ok")
}
