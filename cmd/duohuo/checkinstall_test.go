package main

import (
	"bytes"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// fakeInstall lays out what the packages install under a new directory,
// from the files in packaging/, as the deb's postinst leaves them: the
// duohuo user (uid 4242) is in the files' group, which may read the
// configuration and write the state. It returns the root.
func fakeInstall(t *testing.T, cfg string) string {
	t.Helper()
	root := t.TempDir()
	write := func(p string, mode os.FileMode, data string) {
		t.Helper()
		full := filepath.Join(root, p)
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(full, []byte(data), mode); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(full, mode); err != nil { // past the umask
			t.Fatal(err)
		}
	}
	read := func(p string) string {
		t.Helper()
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	gid := os.Getgid()
	write("/usr/bin/duohuo", 0o755, "#!/bin/sh\n")
	write("/usr/lib/systemd/system/duohuo.service", 0o644, read("../../packaging/duohuo.service"))
	write("/etc/passwd", 0o644, fmt.Sprintf("root:x:0:0:root:/root:/bin/sh\nduohuo:x:4242:%d:duohuo gateway:/var/lib/duohuo:/usr/sbin/nologin\n", gid))
	write("/etc/group", 0o644, fmt.Sprintf("root:x:0:\nduohuo:x:%d:\n", gid))
	write("/etc/duohuo/duohuo.yaml", 0o640, cfg)
	write("/etc/duohuo/duohuo.env", 0o640, read("../../packaging/duohuo.env"))
	for p, mode := range map[string]os.FileMode{"/etc/duohuo": 0o750, "/var/lib/duohuo": 0o770} {
		if err := os.MkdirAll(filepath.Join(root, p), mode); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(filepath.Join(root, p), mode); err != nil {
			t.Fatal(err)
		}
	}
	return root
}

// loopbackConfig is a valid config whose listener and admin take free
// loopback ports.
const loopbackConfig = "admin:\n  listen: 127.0.0.1:0\nlisteners:\n  - name: public\n    listen: 127.0.0.1:0\n"

func TestCheckInstall(t *testing.T) {
	// An address another program holds, and one a duohuo admin holds.
	other, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { other.Close() })
	duo, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/healthz" {
			io.WriteString(w, "ok\n")
			return
		}
		http.NotFound(w, r)
	})}
	go srv.Serve(duo)
	t.Cleanup(func() { srv.Close() })

	tests := []struct {
		name     string
		cfg      string
		change   func(t *testing.T, root string)
		wantCode int      // -1: any (the default ports may be taken on a shared machine)
		want     []string // lines of the output, as regular expressions
	}{
		{
			name:     "the packaged layout passes every check",
			cfg:      loopbackConfig,
			wantCode: exitOK,
			want: []string{
				`^ok    binary       .*/usr/bin/duohuo$`,
				`^ok    unit         /usr/lib/systemd/system/duohuo\.service runs "/usr/bin/duohuo serve -c /etc/duohuo/duohuo\.yaml" as duohuo$`,
				`^ok    user         duohuo uid 4242, group duohuo gid \d+, home /var/lib/duohuo, shell /usr/sbin/nologin$`,
				`^ok    permissions  /etc/duohuo -rwxr-x--- `,
				`^ok    permissions  /etc/duohuo/duohuo\.yaml -rw-r----- `,
				`^ok    permissions  /var/lib/duohuo -rwxrwx--- `,
				`^ok    config       .*duohuo\.yaml is valid: 1 listener\(s\), 0 service\(s\), 0 route\(s\); admin on 127\.0\.0\.1:0$`,
				`^ok    port         admin 127\.0\.0\.1:0 can be bound$`,
				`^ok    port         listener public 127\.0\.0\.1:0 can be bound$`,
				`^\d+ ok, 0 warn, 0 fail$`,
			},
		},
		{
			name:     "the shipped default config is valid and on loopback",
			cfg:      readFile(t, "../../packaging/duohuo.yaml"),
			wantCode: -1,
			want:     []string{`^ok    config       .* admin on 127\.0\.0\.1:9900$`},
		},
		{
			name: "no duohuo user fails",
			cfg:  loopbackConfig,
			change: func(t *testing.T, root string) {
				writeFile(t, filepath.Join(root, "etc/passwd"), "root:x:0:0:root:/root:/bin/sh\n")
			},
			wantCode: exitRuntime,
			want:     []string{`^fail  user         user duohuo: no such entry in .*/etc/passwd`},
		},
		{
			name: "a config writable by every user fails",
			cfg:  loopbackConfig,
			change: func(t *testing.T, root string) {
				chmod(t, filepath.Join(root, "etc/duohuo/duohuo.yaml"), 0o666)
			},
			wantCode: exitRuntime,
			want:     []string{`^fail  permissions  /etc/duohuo/duohuo\.yaml -rw-rw-rw- .*: writable by every user$`},
		},
		{
			name: "a config the service cannot read fails",
			cfg:  loopbackConfig,
			change: func(t *testing.T, root string) {
				chmod(t, filepath.Join(root, "etc/duohuo/duohuo.yaml"), 0o600)
			},
			wantCode: exitRuntime,
			want:     []string{`^fail  permissions  /etc/duohuo/duohuo\.yaml -rw------- .*: the duohuo user cannot read it$`},
		},
		{
			name: "a config readable by every user is a warning",
			cfg:  loopbackConfig,
			change: func(t *testing.T, root string) {
				chmod(t, filepath.Join(root, "etc/duohuo/duohuo.yaml"), 0o644)
			},
			wantCode: exitOK,
			want:     []string{`^warn  permissions  /etc/duohuo/duohuo\.yaml -rw-r--r-- .*: readable by every user`},
		},
		{
			name: "a state directory the service cannot write fails",
			cfg:  loopbackConfig,
			change: func(t *testing.T, root string) {
				chmod(t, filepath.Join(root, "var/lib/duohuo"), 0o750)
			},
			wantCode: exitRuntime,
			want:     []string{`^fail  permissions  /var/lib/duohuo -rwxr-x--- .*: the duohuo user cannot read/write/enter it$`},
		},
		{
			name: "no unit fails",
			cfg:  loopbackConfig,
			change: func(t *testing.T, root string) {
				if err := os.Remove(filepath.Join(root, "usr/lib/systemd/system/duohuo.service")); err != nil {
					t.Fatal(err)
				}
			},
			wantCode: exitRuntime,
			want:     []string{`^fail  unit         no duohuo\.service in `},
		},
		{
			name:     "an invalid config fails with each error and its place",
			cfg:      "admin:\n  listen: 0.0.0.0:9900\nlog:\n  level: loud\n",
			wantCode: exitRuntime,
			want: []string{
				`^fail  config       .*duohuo\.yaml:2:11: admin\.listen: .*admin\.token is not set`,
				`^fail  config       .*duohuo\.yaml:4:10: log\.level: `,
			},
		},
		{
			name: "variables come from the unit's environment file",
			cfg:  "admin:\n  listen: 127.0.0.1:0\n  token: ${DUOHUO_CHECK_TEST_TOKEN}\n",
			change: func(t *testing.T, root string) {
				t.Setenv("DUOHUO_CHECK_TEST_TOKEN", "")
				os.Unsetenv("DUOHUO_CHECK_TEST_TOKEN")
				writeFile(t, filepath.Join(root, "etc/duohuo/duohuo.env"), "# a comment\nDUOHUO_CHECK_TEST_TOKEN=\"0123456789abcdef\"\n")
			},
			wantCode: exitOK,
			want:     []string{`^ok    config       .* is valid`},
		},
		{
			name:     "a port held by another program fails",
			cfg:      "admin:\n  listen: 127.0.0.1:0\nlisteners:\n  - name: public\n    listen: " + other.Addr().String() + "\n",
			wantCode: exitRuntime,
			want:     []string{`^fail  port         listener public ` + regexp.QuoteMeta(other.Addr().String()) + ` is in use by another program$`},
		},
		{
			name:     "ports held by the running duohuo are fine",
			cfg:      "admin:\n  listen: " + duo.Addr().String() + "\n",
			wantCode: exitOK,
			want:     []string{`^ok    port         admin ` + regexp.QuoteMeta(duo.Addr().String()) + ` is held by the running duohuo$`},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			root := fakeInstall(t, tt.cfg)
			if tt.change != nil {
				tt.change(t, root)
			}
			var out, errb bytes.Buffer
			code := run([]string{"check-install", "--root", root}, &out, &errb)
			if tt.wantCode >= 0 && code != tt.wantCode {
				t.Errorf("check-install: exit code %d, want %d\nstdout:\n%s\nstderr:\n%s", code, tt.wantCode, out.String(), errb.String())
			}
			lines := strings.Split(strings.TrimSpace(out.String()), "\n")
			for _, w := range tt.want {
				re := regexp.MustCompile(w)
				found := false
				for _, l := range lines {
					found = found || re.MatchString(l)
				}
				if !found {
					t.Errorf("check-install: no line matches %q in:\n%s", w, out.String())
				}
			}
			if tt.wantCode > 0 && !strings.Contains(errb.String(), "check(s) failed") {
				t.Errorf("check-install: stderr %q, want the count of failed checks", errb.String())
			}
		})
	}
}

func readFile(t *testing.T, p string) string {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func writeFile(t *testing.T, p, data string) {
	t.Helper()
	if err := os.WriteFile(p, []byte(data), 0o640); err != nil {
		t.Fatal(err)
	}
}

func chmod(t *testing.T, p string, mode os.FileMode) {
	t.Helper()
	if err := os.Chmod(p, mode); err != nil {
		t.Fatal(err)
	}
}
