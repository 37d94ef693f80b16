package packaging_test

import (
	"bytes"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/duohuo/duohuo/internal/config"
	"github.com/duohuo/duohuo/internal/testexec"
)

// arches are the packages' architectures: Go's (and Debian's) name, then
// rpm's.
var arches = []struct{ goarch, rpm string }{
	{"amd64", "x86_64"},
	{"arm64", "aarch64"},
	{"loong64", "loongarch64"},
}

var (
	pkgOnce sync.Once
	pkgDir  string
	pkgErr  error

	rootOnce sync.Once
	debRoot  string
	rootErr  error

	// cleanup holds the directories made once per run, removed by TestMain.
	cleanup []string
)

func TestMain(m *testing.M) {
	code := m.Run()
	for _, d := range cleanup {
		os.RemoveAll(d)
	}
	os.Exit(code)
}

// hostEnv is the environment without the GOOS, GOARCH and emulator that
// build/crosstest.sh sets: make packages builds tools that run here.
func hostEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		switch k, _, _ := strings.Cut(kv, "="); k {
		case "GOOS", "GOARCH", testexec.Env:
		default:
			env = append(env, kv)
		}
	}
	return env
}

// heavy leaves a test that runs whole tools over every package (lint,
// installs) out of -short runs: build/crosstest.sh runs the suite under
// emulation with -short, where these would check the same packages again.
func heavy(t *testing.T) {
	t.Helper()
	if testing.Short() {
		t.Skip("-short: the lint and install tests run in the native run only")
	}
}

// version is the package version: the top entry of changelog.yml.
func version(t *testing.T) (ver, rel string) {
	t.Helper()
	b, err := os.ReadFile("changelog.yml")
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`(?m)^- semver: *([0-9.]+)-([0-9]+)$`).FindSubmatch(b)
	if m == nil {
		t.Fatal("changelog.yml: the first entry has no semver VERSION-RELEASE")
	}
	return string(m[1]), string(m[2])
}

// packages returns the directory of the packages: $DUOHUO_PACKAGES, or one
// `make packages` fills once per run.
func packages(t *testing.T) string {
	t.Helper()
	if d := os.Getenv("DUOHUO_PACKAGES"); d != "" {
		return d
	}
	testexec.Tool(t, "make", "apt-get install -y make")
	pkgOnce.Do(func() {
		pkgDir, pkgErr = os.MkdirTemp("", "duohuo-packages-")
		if pkgErr != nil {
			return
		}
		cleanup = append(cleanup, pkgDir)
		cmd := exec.Command("make", "-C", "..", "packages", "DIST="+pkgDir)
		cmd.Env = hostEnv()
		if out, err := cmd.CombinedOutput(); err != nil {
			pkgErr = fmt.Errorf("make packages: %v\n%s", err, out)
		}
	})
	if pkgErr != nil {
		t.Fatal(pkgErr)
	}
	return pkgDir
}

func rpmFile(t *testing.T, dir, rpmArch string) string {
	ver, rel := version(t)
	return filepath.Join(dir, fmt.Sprintf("duohuo-%s-%s.%s.rpm", ver, rel, rpmArch))
}

func debFile(t *testing.T, dir, goarch string) string {
	ver, rel := version(t)
	return filepath.Join(dir, fmt.Sprintf("duohuo_%s-%s_%s.deb", ver, rel, goarch))
}

// run runs a program and returns its standard output; it fails the test
// with both outputs when the program fails.
func run(t *testing.T, name string, args ...string) string {
	t.Helper()
	return runCmd(t, exec.Command(name, args...))
}

// runCmd runs cmd as run does.
func runCmd(t *testing.T, cmd *exec.Cmd) string {
	t.Helper()
	name, args := cmd.Args[0], cmd.Args[1:]
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		t.Fatalf("%s %s: %v\nstdout:\n%s\nstderr:\n%s", name, strings.Join(args, " "), err, out.String(), errb.String())
	}
	return out.String()
}

// needRoot skips (or fails) a test that installs packages, which needs root.
func needRoot(t *testing.T) {
	t.Helper()
	if os.Geteuid() != 0 {
		testexec.Missing(t, "installing packages into a root needs root (chown, chroot)")
	}
}

// The files of both packages, with mode, owner and group as installed
// (the deb's postinst gives /etc/duohuo and /var/lib/duohuo to duohuo).
var installed = map[string]string{
	"/usr/bin/duohuo":                 "-rwxr-xr-x root root",
	"/etc/duohuo":                     "drwxr-x--- root duohuo",
	"/etc/duohuo/duohuo.yaml":         "-rw-r----- root duohuo",
	"/etc/duohuo/duohuo.env":          "-rw-r----- root duohuo",
	"/var/lib/duohuo":                 "drwxr-x--- duohuo duohuo",
	"/usr/share/man/man1/duohuo.1.gz": "-rw-r--r-- root root",
}

func TestEveryArchitectureHasBothPackages(t *testing.T) {
	dir := packages(t)
	for _, a := range arches {
		for _, p := range []string{rpmFile(t, dir, a.rpm), debFile(t, dir, a.goarch)} {
			fi, err := os.Stat(p)
			if err != nil {
				t.Errorf("make packages: %v", err)
				continue
			}
			t.Logf("%s: %d bytes", filepath.Base(p), fi.Size())
		}
	}
}

func TestRPM(t *testing.T) {
	testexec.Tool(t, "rpm", "apt-get install -y rpm")
	dir := packages(t)
	ver, rel := version(t)
	for _, a := range arches {
		t.Run(a.goarch, func(t *testing.T) {
			f := rpmFile(t, dir, a.rpm)
			if got, want := run(t, "rpm", "-qp", "--qf", "%{NAME} %{VERSION} %{RELEASE} %{ARCH} %{OS}\n", f), fmt.Sprintf("duohuo %s %s %s linux\n", ver, rel, a.rpm); got != want {
				t.Errorf("rpm -qp: %q, want %q", got, want)
			}
			info := run(t, "rpm", "-qpi", f)
			for _, w := range []string{"Name        : duohuo", "Summary     : Multi-active gateway", "Group       : System Environment/Daemons"} {
				if !strings.Contains(info, w) {
					t.Errorf("rpm -qpi: no %q in\n%s", w, info)
				}
			}
			files := strings.Fields(run(t, "rpm", "-qpl", f))
			wantFiles := []string{"/etc/duohuo", "/etc/duohuo/duohuo.env", "/etc/duohuo/duohuo.yaml", "/usr/bin/duohuo",
				"/usr/lib/systemd/system/duohuo.service", "/usr/share/licenses/duohuo/copyright", "/usr/share/man/man1/duohuo.1.gz", "/var/lib/duohuo"}
			if !slices.Equal(files, wantFiles) {
				t.Errorf("rpm -qpl:\n%q\nwant\n%q", files, wantFiles)
			}
			// Mode, owner, group and flags: c config, n noreplace, d doc.
			got := map[string]string{}
			for _, l := range strings.Split(strings.TrimSpace(run(t, "rpm", "-qp", "--qf", "[%{FILENAMES} %{FILEMODES:perms} %{FILEUSERNAME} %{FILEGROUPNAME} %{FILEFLAGS:fflags}\n]", f)), "\n") {
				name, rest, _ := strings.Cut(l, " ")
				got[name] = strings.TrimSpace(rest)
			}
			for p, w := range installed {
				flags := map[string]string{"/etc/duohuo/duohuo.yaml": " cn", "/etc/duohuo/duohuo.env": " cn", "/usr/share/man/man1/duohuo.1.gz": " d"}[p]
				if got[p] != w+flags {
					t.Errorf("rpm file %s: %q, want %q", p, got[p], w+flags)
				}
			}
			scripts := run(t, "rpm", "-qp", "--scripts", f)
			for _, w := range []string{"preinstall scriptlet", "useradd --system --gid duohuo", "postinstall scriptlet", "duohuo version",
				"preuninstall scriptlet", "disable --now duohuo.service", "postuninstall scriptlet", "try-restart duohuo.service"} {
				if !strings.Contains(scripts, w) {
					t.Errorf("rpm --scripts: no %q in\n%s", w, scripts)
				}
			}
			reqs := run(t, "rpm", "-qpR", f)
			for _, w := range []string{"/bin/sh", "/usr/sbin/useradd", "/usr/sbin/groupadd"} {
				if !strings.Contains(reqs, w+"\n") {
					t.Errorf("rpm -qpR: no %s in\n%s", w, reqs)
				}
			}
			if cl := run(t, "rpm", "-qp", "--changelog", f); !strings.Contains(cl, "- "+ver+"-"+rel) {
				t.Errorf("rpm --changelog: no entry for %s-%s:\n%s", ver, rel, cl)
			}
		})
	}
}

func TestDEB(t *testing.T) {
	testexec.Tool(t, "dpkg-deb", "apt-get install -y dpkg")
	dir := packages(t)
	ver, rel := version(t)
	for _, a := range arches {
		t.Run(a.goarch, func(t *testing.T) {
			f := debFile(t, dir, a.goarch)
			fields := run(t, "dpkg-deb", "-f", f, "Package", "Version", "Architecture", "Depends", "Section", "Priority")
			want := fmt.Sprintf("Package: duohuo\nVersion: %s-%s\nArchitecture: %s\nDepends: passwd\nSection: net\nPriority: optional\n", ver, rel, a.goarch)
			if fields != want {
				t.Errorf("dpkg-deb -f:\n%s\nwant\n%s", fields, want)
			}
			if got := run(t, "dpkg-deb", "-I", f, "conffiles"); got != "/etc/duohuo/duohuo.env\n/etc/duohuo/duohuo.yaml\n" {
				t.Errorf("conffiles: %q", got)
			}
			info := run(t, "dpkg-deb", "-I", f)
			for _, s := range []string{"preinst", "postinst", "prerm", "postrm"} {
				if !regexp.MustCompile(`\*  ` + s + ` +#!/bin/sh`).MatchString(info) {
					t.Errorf("dpkg-deb -I: no executable %s script:\n%s", s, info)
				}
			}
			if got := run(t, "dpkg-deb", "-I", f, "postinst"); !strings.Contains(got, "duohuo version") || !strings.Contains(got, "chown root:duohuo /etc/duohuo") {
				t.Errorf("postinst checks no version or sets no owner:\n%s", got)
			}
			// dpkg-deb -c: mode, owner/group, size, date, time, path.
			got := map[string]string{}
			for _, l := range strings.Split(strings.TrimSpace(run(t, "dpkg-deb", "-c", f)), "\n") {
				fs := strings.Fields(l)
				if len(fs) < 6 {
					t.Fatalf("dpkg-deb -c: line %q", l)
				}
				got[strings.TrimSuffix(strings.TrimPrefix(fs[5], "."), "/")] = fs[0]
			}
			for p, w := range map[string]string{
				"/usr/bin/duohuo": "-rwxr-xr-x", "/etc/duohuo": "drwxr-x---", "/etc/duohuo/duohuo.yaml": "-rw-r-----",
				"/etc/duohuo/duohuo.env": "-rw-r-----", "/var/lib/duohuo": "drwxr-x---", "/lib/systemd/system/duohuo.service": "-rw-r--r--",
				"/usr/share/man/man1/duohuo.1.gz": "-rw-r--r--", "/usr/share/doc/duohuo/copyright": "-rw-r--r--",
				"/usr/share/doc/duohuo/changelog.Debian.gz": "-rw-r--r--",
			} {
				if got[p] != w {
					t.Errorf("deb file %s: mode %q, want %q", p, got[p], w)
				}
			}
		})
	}
}

// The findings of lintian and rpmlint that stay, each for a reason given
// in docs/install.md ("Lint findings"). Any other finding fails the test.
var (
	lintianKnown = []string{
		"bogus-mail-host", "bogus-mail-host-in-debian-changelog", "statically-linked-binary",
		"initial-upload-closes-no-bugs", "non-standard-dir-perm", "non-standard-file-perm",
		"package-supports-alternative-init-but-no-init.d-script", "spelling-error-in-binary",
	}
	// Debian 12's lintian does not know the loong64 port yet.
	lintianKnownLoong64 = []string{"unknown-architecture", "binary-from-other-architecture"}
	rpmlintKnown        = []string{
		"statically-linked-binary", "position-independent-executable-suggested", "only-non-binary-in-usr-lib",
		"non-standard-uid", "non-standard-gid", "non-standard-dir-perm", "non-readable", "no-url-tag",
		"no-signature", "no-manual-page-for-binary", "manpage-not-compressed", "invalid-license",
	}
)

func TestLint(t *testing.T) {
	heavy(t)
	dir := packages(t)
	doc, err := os.ReadFile("../docs/install.md")
	if err != nil {
		t.Fatal(err)
	}
	for _, tag := range slices.Concat(lintianKnown, lintianKnownLoong64, rpmlintKnown) {
		if !strings.Contains(string(doc), "`"+tag+"`") {
			t.Errorf("docs/install.md gives no reason for the lint finding %s", tag)
		}
	}
	t.Run("lintian", func(t *testing.T) {
		testexec.Tool(t, "lintian", "apt-get install -y lintian")
		for _, a := range arches {
			f := debFile(t, dir, a.goarch)
			// lintian exits 1 when it reports an error; the tags decide here.
			out, _ := exec.Command("lintian", "--tag-display-limit", "0", "-I", f).CombinedOutput()
			re := regexp.MustCompile(`(?m)^[EWIXP]: duohuo(?: [a-z]+)?: ([a-z0-9.+-]+)`)
			known := lintianKnown
			if a.goarch == "loong64" {
				known = slices.Concat(known, lintianKnownLoong64)
			}
			for _, m := range re.FindAllStringSubmatch(string(out), -1) {
				if !slices.Contains(known, m[1]) {
					t.Errorf("lintian %s: finding %s, neither fixed nor listed:\n%s", filepath.Base(f), m[1], out)
				}
			}
			if !strings.Contains(string(out), "statically-linked-binary") {
				t.Errorf("lintian %s: did it run? output:\n%s", filepath.Base(f), out)
			}
		}
	})
	t.Run("rpmlint", func(t *testing.T) {
		testexec.Tool(t, "rpmlint", "apt-get install -y rpmlint")
		for _, a := range arches {
			f := rpmFile(t, dir, a.rpm)
			out, _ := exec.Command("rpmlint", f).CombinedOutput()
			re := regexp.MustCompile(`(?m)^duohuo\.[a-z0-9_]+: [EW]: ([a-z0-9.+-]+)`)
			for _, m := range re.FindAllStringSubmatch(string(out), -1) {
				if !slices.Contains(rpmlintKnown, m[1]) {
					t.Errorf("rpmlint %s: finding %s, neither fixed nor listed:\n%s", filepath.Base(f), m[1], out)
				}
			}
			if !strings.Contains(string(out), "1 packages and 0 specfiles checked") {
				t.Errorf("rpmlint %s: did it run? output:\n%s", filepath.Base(f), out)
			}
		}
	})
}

// hostBinary is the packaged binary of this machine's architecture.
func hostBinary(t *testing.T) string {
	t.Helper()
	p := filepath.Join(packages(t), "duohuo-linux-"+runtime.GOARCH)
	if _, err := os.Stat(p); err != nil {
		t.Skipf("no package binary for %s: %v", runtime.GOARCH, err)
	}
	return p
}

func TestManPageNamesEverySubcommand(t *testing.T) {
	help := runCmd(t, testexec.Command(hostBinary(t), "--help"))
	_, cmds, ok := strings.Cut(help, "Available Commands:\n")
	if !ok {
		t.Fatalf("duohuo --help lists no commands:\n%s", help)
	}
	man, err := os.ReadFile("duohuo.1")
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for line := range strings.Lines(cmds) {
		fs := strings.Fields(line)
		if len(fs) == 0 {
			break
		}
		n++
		if !strings.Contains(string(man), ".B "+strings.ReplaceAll(fs[0], "-", `\-`)+"\n") {
			t.Errorf("duohuo.1 does not describe the subcommand %s", fs[0])
		}
	}
	if n < 10 {
		t.Errorf("duohuo --help listed %d commands, want the dozen of them:\n%s", n, help)
	}
}

// The configuration the packages ship is valid, and reachable from this
// machine only.
func TestDefaultConfigIsValidAndOnLoopback(t *testing.T) {
	cfg, err := config.Load("duohuo.yaml")
	if err != nil {
		t.Fatalf("duohuo.yaml: %v", err)
	}
	addrs := []string{cfg.Admin.Listen}
	for _, l := range cfg.Listeners {
		addrs = append(addrs, l.Listen)
	}
	for _, a := range addrs {
		ap, err := netip.ParseAddrPort(a)
		if err != nil || !ap.Addr().IsLoopback() {
			t.Errorf("duohuo.yaml listens on %q, want a loopback address", a)
		}
	}
	if cfg.Admin.Token != "" || len(cfg.Services) != 0 {
		t.Errorf("duohuo.yaml: a token or services as shipped (%d services)", len(cfg.Services))
	}
	if out := runCmd(t, testexec.Command(hostBinary(t), "validate", "duohuo.yaml")); out != "duohuo.yaml: ok\n" {
		t.Errorf("duohuo validate duohuo.yaml: %q", out)
	}
}

func TestUnitIsHardened(t *testing.T) {
	b, err := os.ReadFile("duohuo.service")
	if err != nil {
		t.Fatal(err)
	}
	got := map[string][]string{}
	for line := range strings.Lines(string(b)) {
		k, v, ok := strings.Cut(strings.TrimSpace(line), "=")
		if ok && !strings.HasPrefix(k, "#") {
			got[k] = append(got[k], v)
		}
	}
	for k, v := range map[string]string{
		"User": "duohuo", "Group": "duohuo",
		"ExecStart":                "/usr/bin/duohuo serve -c /etc/duohuo/duohuo.yaml",
		"ExecReload":               "/bin/kill -HUP $MAINPID",
		"Restart":                  "on-failure",
		"RestartPreventExitStatus": "2",
		"ProtectSystem":            "strict",
		"ReadWritePaths":           "/var/lib/duohuo",
		"NoNewPrivileges":          "yes",
		"AmbientCapabilities":      "CAP_NET_BIND_SERVICE",
		"CapabilityBoundingSet":    "CAP_NET_BIND_SERVICE",
		"LimitNOFILE":              "1048576",
		"EnvironmentFile":          "-/etc/duohuo/duohuo.env",
		"WantedBy":                 "multi-user.target",
	} {
		if !slices.Equal(got[k], []string{v}) {
			t.Errorf("duohuo.service: %s=%q, want exactly %q", k, got[k], v)
		}
	}
}

// installRoot copies the Debian root (made once per run, or given as
// $DUOHUO_DEBIAN_ROOT) to a new directory and returns it.
func installRoot(t *testing.T) string {
	t.Helper()
	needRoot(t)
	testexec.Tool(t, "chroot", "apt-get install -y coreutils")
	src := os.Getenv("DUOHUO_DEBIAN_ROOT")
	if src == "" {
		testexec.Tool(t, "debootstrap", "apt-get install -y debootstrap")
		rootOnce.Do(func() {
			var tmp string
			if tmp, rootErr = os.MkdirTemp("", "duohuo-debian-"); rootErr != nil {
				return
			}
			cleanup = append(cleanup, tmp)
			debRoot = filepath.Join(tmp, "root")
			if out, err := exec.Command("./debian-root.sh", debRoot).CombinedOutput(); err != nil {
				rootErr = fmt.Errorf("debian-root.sh: %v\n%s", err, out)
			}
		})
		if rootErr != nil {
			t.Fatal(rootErr)
		}
		src = debRoot
	}
	if _, err := os.Stat(filepath.Join(src, ".complete")); err != nil {
		t.Fatalf("Debian root %s is unfinished (no .complete): %v", src, err)
	}
	dst := filepath.Join(t.TempDir(), "root")
	run(t, "cp", "-a", src, dst)
	return dst
}

// ids returns the uid and gid of name in root's passwd file.
func ids(t *testing.T, root, name string) (uid, gid int) {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(root, "etc/passwd"))
	if err != nil {
		t.Fatal(err)
	}
	for line := range strings.Lines(string(b)) {
		fs := strings.Split(line, ":")
		if len(fs) > 3 && fs[0] == name {
			uid, _ = strconv.Atoi(fs[2])
			gid, _ = strconv.Atoi(fs[3])
			return uid, gid
		}
	}
	t.Fatalf("no user %s in %s/etc/passwd", name, root)
	return 0, 0
}

// checkInstalled checks the installed files' modes and owners by name in
// root.
func checkInstalled(t *testing.T, root string) {
	t.Helper()
	uid, gid := ids(t, root, "duohuo")
	for p, w := range installed {
		fi, err := os.Stat(filepath.Join(root, p))
		if err != nil {
			t.Errorf("installed: %v", err)
			continue
		}
		st := fi.Sys().(*syscall.Stat_t)
		name := func(id uint32, duohuo int) string {
			if int(id) == duohuo {
				return "duohuo"
			}
			if id == 0 {
				return "root"
			}
			return strconv.Itoa(int(id))
		}
		mode := fi.Mode().Perm().String()[1:]
		kind := "-"
		if fi.IsDir() {
			kind = "d"
		}
		if got := kind + mode + " " + name(st.Uid, uid) + " " + name(st.Gid, gid); got != w {
			t.Errorf("installed %s: %q, want %q", p, got, w)
		}
	}
}

// freePorts gives the installed configuration free loopback ports (the
// defaults may be taken on a shared machine); writing the file in place
// keeps its mode and owner.
func freePorts(t *testing.T, root string) (admin, listener string) {
	t.Helper()
	pick := func() string {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer ln.Close()
		return ln.Addr().String()
	}
	admin, listener = pick(), pick()
	p := filepath.Join(root, "etc/duohuo/duohuo.yaml")
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	s := strings.Replace(string(b), "listen: 127.0.0.1:9900", "listen: "+admin, 1)
	s = strings.Replace(s, "listen: 127.0.0.1:8080", "listen: "+listener, 1)
	if s == string(b) {
		t.Fatal("the shipped config no longer listens on 127.0.0.1:9900 and 127.0.0.1:8080")
	}
	f, err := os.OpenFile(p, os.O_WRONLY|os.O_TRUNC, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteString(s); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	return admin, listener
}

// checkInstall runs duohuo check-install inside root and wants no failure.
func checkInstall(t *testing.T, root string) {
	t.Helper()
	out := run(t, "chroot", root, "/usr/bin/duohuo", "check-install")
	for _, w := range []string{"ok    user ", "ok    config ", "ok    unit ", "0 fail"} {
		if !strings.Contains(out, w) {
			t.Errorf("check-install in the root: no %q in\n%s", w, out)
		}
	}
}

// An install with rpm --root into an empty root: --nodeps because its rpm
// database is empty (nothing there provides /bin/sh or useradd), and
// --noscripts because rpm runs scriptlets chrooted into the root, which has
// no shell. The files and their flags are what is checked here.
func TestRPMInstallIntoEmptyRoot(t *testing.T) {
	heavy(t)
	needRoot(t)
	testexec.Tool(t, "rpm", "apt-get install -y rpm")
	if runtime.GOARCH != "amd64" {
		t.Skipf("installs the amd64 package; this is %s", runtime.GOARCH)
	}
	f := rpmFile(t, packages(t), "x86_64")
	root := t.TempDir()
	run(t, "rpm", "--root", root, "--initdb")
	run(t, "rpm", "--root", root, "-i", "--nodeps", "--noscripts", "--ignorearch", f)
	if got := run(t, "rpm", "--root", root, "-q", "--qf", "%{NAME}-%{VERSION}\n", "duohuo"); !strings.HasPrefix(got, "duohuo-") {
		t.Errorf("rpm -q in the root: %q", got)
	}
	if out := run(t, filepath.Join(root, "usr/bin/duohuo"), "version"); !strings.HasPrefix(out, "duohuo ") {
		t.Errorf("installed duohuo version: %q", out)
	}
	for _, p := range []string{"etc/duohuo/duohuo.yaml", "etc/duohuo/duohuo.env", "usr/lib/systemd/system/duohuo.service", "var/lib/duohuo"} {
		if _, err := os.Stat(filepath.Join(root, p)); err != nil {
			t.Errorf("rpm --root: %v", err)
		}
	}
	// noreplace: a changed configuration survives a reinstall (the
	// package's copy did not change, so rpm writes no .rpmnew either).
	cfg := filepath.Join(root, "etc/duohuo/duohuo.yaml")
	appendFile(t, cfg, "# changed by the administrator\n")
	run(t, "rpm", "--root", root, "-i", "--replacepkgs", "--nodeps", "--noscripts", f)
	if b, _ := os.ReadFile(cfg); !strings.Contains(string(b), "# changed by the administrator") {
		t.Error("rpm reinstall replaced the changed /etc/duohuo/duohuo.yaml")
	}
	run(t, "rpm", "--root", root, "-e", "--nodeps", "--noscripts", "duohuo")
	if _, err := os.Stat(filepath.Join(root, "usr/bin/duohuo")); err == nil {
		t.Error("rpm -e left /usr/bin/duohuo")
	}
	if _, err := os.Stat(cfg + ".rpmsave"); err != nil {
		t.Errorf("rpm -e: the changed config is not kept as .rpmsave: %v", err)
	}
}

// The rpm with its scripts, into the Debian root: --nodeps because that
// root's rpm database knows none of its (dpkg) packages; the scriptlets run
// chrooted there, with its shell and useradd.
func TestRPMInstallWithScripts(t *testing.T) {
	heavy(t)
	testexec.Tool(t, "rpm", "apt-get install -y rpm")
	if runtime.GOARCH != "amd64" {
		t.Skipf("installs the amd64 package; this is %s", runtime.GOARCH)
	}
	f := rpmFile(t, packages(t), "x86_64")
	root := installRoot(t)
	run(t, "rpm", "--root", root, "--initdb")
	out := run(t, "rpm", "--root", root, "-i", "--nodeps", f)
	if !strings.Contains(out, "duohuo ") {
		t.Errorf("rpm -i: the postinstall script printed no version: %q", out)
	}
	checkInstalled(t, root)
	freePorts(t, root)
	checkInstall(t, root)
	run(t, "rpm", "--root", root, "-e", "--nodeps", "duohuo")
	if _, err := os.Stat(filepath.Join(root, "usr/bin/duohuo")); err == nil {
		t.Error("rpm -e left /usr/bin/duohuo")
	}
	ids(t, root, "duohuo") // the user stays
}

// The deb with dpkg -i into a minimal Debian root; the installed binary runs
// there as the duohuo user, answers /readyz, reloads on SIGHUP and stops on
// SIGTERM; a reinstall keeps a changed configuration; purge removes it.
func TestDEBInstallAndServe(t *testing.T) {
	heavy(t)
	curl := testexec.Tool(t, "curl", "apt-get install -y curl")
	if runtime.GOARCH != "amd64" {
		t.Skipf("installs the amd64 package; this is %s", runtime.GOARCH)
	}
	f := debFile(t, packages(t), "amd64")
	root := installRoot(t)
	run(t, "cp", f, filepath.Join(root, "tmp/duohuo.deb"))
	out := run(t, "chroot", root, "dpkg", "-i", "/tmp/duohuo.deb")
	if !strings.Contains(out, "duohuo: edit /etc/duohuo/duohuo.yaml") {
		t.Errorf("dpkg -i: postinst said nothing of the next step:\n%s", out)
	}
	checkInstalled(t, root)
	admin, _ := freePorts(t, root)
	checkInstall(t, root)

	uid, gid := ids(t, root, "duohuo")
	var log syncBuffer
	cmd := exec.Command("chroot", fmt.Sprintf("--userspec=%d:%d", uid, gid), root,
		"/usr/bin/duohuo", "serve", "-c", "/etc/duohuo/duohuo.yaml")
	cmd.Stdout, cmd.Stderr = &log, &log
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	t.Cleanup(func() {
		cmd.Process.Kill()
		<-done
	})
	deadline := time.Now().Add(60 * time.Second)
	var body []byte
	for {
		body, _ = exec.Command(curl, "-s", "--max-time", "5", "http://"+admin+"/readyz").Output()
		if string(body) == "ready\n" || string(body) == "ready" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("curl /readyz: %q after 60s; log:\n%s", body, log.String())
		}
		select {
		case err := <-done:
			t.Fatalf("duohuo serve exited: %v; log:\n%s", err, log.String())
		case <-time.After(200 * time.Millisecond):
		}
	}
	// ExecReload is kill -HUP: the file is loaded again.
	if err := cmd.Process.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	waitFor(t, &log, done, `msg="config reloaded" why=SIGHUP`)
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("duohuo serve after SIGTERM: %v; log:\n%s", err, log.String())
		}
		done <- nil // for the cleanup
	case <-time.After(60 * time.Second):
		t.Fatalf("duohuo serve did not stop within 60s of SIGTERM; log:\n%s", log.String())
	}

	// A changed conffile survives a reinstall; purge removes it and the
	// state, and keeps the user.
	cfg := filepath.Join(root, "etc/duohuo/duohuo.yaml")
	appendFile(t, cfg, "# changed by the administrator\n")
	run(t, "chroot", root, "dpkg", "-i", "/tmp/duohuo.deb")
	if b, _ := os.ReadFile(cfg); !strings.Contains(string(b), "# changed by the administrator") {
		t.Error("dpkg reinstall replaced the changed /etc/duohuo/duohuo.yaml")
	}
	run(t, "chroot", root, "dpkg", "-r", "duohuo")
	if _, err := os.Stat(filepath.Join(root, "usr/bin/duohuo")); err == nil {
		t.Error("dpkg -r left /usr/bin/duohuo")
	}
	if _, err := os.Stat(cfg); err != nil {
		t.Errorf("dpkg -r removed the configuration: %v", err)
	}
	run(t, "chroot", root, "dpkg", "-P", "duohuo")
	for _, p := range []string{"etc/duohuo/duohuo.yaml", "var/lib/duohuo"} {
		if _, err := os.Stat(filepath.Join(root, p)); err == nil {
			t.Errorf("dpkg -P left /%s", p)
		}
	}
	ids(t, root, "duohuo")
}

func appendFile(t *testing.T, p, s string) {
	t.Helper()
	f, err := os.OpenFile(p, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteString(s); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
}

// waitFor waits until the log says want, the process exits, or 60s pass.
func waitFor(t *testing.T, log *syncBuffer, done chan error, want string) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for !strings.Contains(log.String(), want) {
		if time.Now().After(deadline) {
			t.Fatalf("the log never said %q in 60s:\n%s", want, log.String())
		}
		select {
		case err := <-done:
			t.Fatalf("duohuo serve exited: %v; log:\n%s", err, log.String())
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// syncBuffer is a bytes.Buffer for one writer and one reader goroutine.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// nextVersion builds amd64 packages of version 0.99.0 whose shipped
// duohuo.yaml differs from this one's, with the nfpm that make packages
// used, from a copy of this directory; it returns the rpm and the deb.
func nextVersion(t *testing.T) (rpm, deb string) {
	t.Helper()
	dir := packages(t)
	nfpm := filepath.Join(dir, ".tools", "nfpm")
	if _, err := os.Stat(nfpm); err != nil {
		t.Fatalf("no nfpm beside the packages (make packages builds it there): %v", err)
	}
	binary, err := filepath.Abs(filepath.Join(dir, "duohuo-linux-amd64"))
	if err != nil {
		t.Fatal(err)
	}
	man, _ := filepath.Abs(filepath.Join(dir, "duohuo.1.gz"))
	work := t.TempDir()
	run(t, "cp", "-a", ".", filepath.Join(work, "packaging"))
	appendFile(t, filepath.Join(work, "packaging", "duohuo.yaml"), "# shipped by 0.99.0\n")
	out := filepath.Join(work, "out")
	if err := os.Mkdir(out, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{"rpm", "deb"} {
		cmd := exec.Command(nfpm, "package", "--config", "packaging/nfpm.yaml", "--packager", f, "--target", out+"/")
		cmd.Dir = work
		cmd.Env = append(hostEnv(), "ARCH=amd64", "VERSION=0.99.0", "BINARY="+binary, "MANPAGE="+man, "MAINTAINER=duohuo tests <duohuo@localhost>")
		runCmd(t, cmd)
	}
	return filepath.Join(out, "duohuo-0.99.0-1.x86_64.rpm"), filepath.Join(out, "duohuo_0.99.0-1_amd64.deb")
}

// An upgrade whose package ships a new duohuo.yaml never overwrites one
// the administrator changed: rpm puts the new one beside it as .rpmnew,
// dpkg (told to keep the old one, as in unattended upgrades) as .dpkg-dist.
func TestUpgradeKeepsAChangedConfiguration(t *testing.T) {
	heavy(t)
	testexec.Tool(t, "rpm", "apt-get install -y rpm")
	if runtime.GOARCH != "amd64" {
		t.Skipf("installs the amd64 package; this is %s", runtime.GOARCH)
	}
	ver, rel := version(t)
	dir := packages(t)
	nextRPM, nextDEB := nextVersion(t)
	const mine = "# changed by the administrator\n"

	t.Run("rpm", func(t *testing.T) {
		root := installRoot(t)
		run(t, "rpm", "--root", root, "--initdb")
		run(t, "rpm", "--root", root, "-i", "--nodeps", rpmFile(t, dir, "x86_64"))
		cfg := filepath.Join(root, "etc/duohuo/duohuo.yaml")
		appendFile(t, cfg, mine)
		out := run(t, "rpm", "--root", root, "-U", "--nodeps", nextRPM)
		if got := run(t, "rpm", "--root", root, "-q", "--qf", "%{VERSION}\n", "duohuo"); got != "0.99.0\n" {
			t.Errorf("after rpm -U: version %q", got)
		}
		if b, _ := os.ReadFile(cfg); !strings.Contains(string(b), mine) {
			t.Errorf("rpm -U from %s-%s overwrote the changed duohuo.yaml (%s)", ver, rel, out)
		}
		if b, err := os.ReadFile(cfg + ".rpmnew"); err != nil || !strings.Contains(string(b), "# shipped by 0.99.0") {
			t.Errorf("rpm -U: the new duohuo.yaml is not beside the changed one as .rpmnew: %v", err)
		}
		checkInstalled(t, root)
	})
	t.Run("deb", func(t *testing.T) {
		root := installRoot(t)
		run(t, "cp", debFile(t, dir, "amd64"), filepath.Join(root, "tmp/old.deb"))
		run(t, "cp", nextDEB, filepath.Join(root, "tmp/new.deb"))
		run(t, "chroot", root, "dpkg", "-i", "/tmp/old.deb")
		cfg := filepath.Join(root, "etc/duohuo/duohuo.yaml")
		appendFile(t, cfg, mine)
		out := run(t, "chroot", root, "dpkg", "--force-confold", "-i", "/tmp/new.deb")
		if !strings.Contains(out, "duohuo ") || strings.Contains(out, "duohuo: edit /etc/duohuo/duohuo.yaml") {
			t.Errorf("dpkg upgrade: postinst should check the binary and not greet a first install:\n%s", out)
		}
		if b, _ := os.ReadFile(cfg); !strings.Contains(string(b), mine) {
			t.Errorf("dpkg -i of 0.99.0 overwrote the changed duohuo.yaml:\n%s", out)
		}
		if b, err := os.ReadFile(cfg + ".dpkg-dist"); err != nil || !strings.Contains(string(b), "# shipped by 0.99.0") {
			t.Errorf("dpkg -i: the new duohuo.yaml is not beside the changed one as .dpkg-dist: %v", err)
		}
		checkInstalled(t, root)
	})
}
