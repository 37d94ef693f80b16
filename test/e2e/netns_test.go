package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/duohuo/duohuo/internal/testexec"
)

// The network namespace test runs three `duohuo serve` sites as an
// operator would: the built binary, each site in its own network
// namespace, on a bridge in a namespace of its own (the host's network is
// not touched), with the default wan network preset, a shared key and an
// admin token. One site is cut off with nftables (every packet in and out
// of its interface dropped), writes go on being acknowledged on both
// sides, and after the heal every site holds every acknowledged write.
//
// It needs root, ip (iproute2) and nft (nftables). Without them it skips,
// unless DUOHUO_REQUIRE_TOOLS=1 (CI sets it), which makes it fail instead.
//
// Waits are event deadlines, generous for a machine whose cores are all
// busy, not targets: the times it logs (a member declared dead, converged
// after the heal) are the figures docs/replication.md quotes, measured
// with `go test -run TestNetnsPartition -v ./test/e2e` as root.

// requireTools skips the test, or fails it under DUOHUO_REQUIRE_TOOLS=1,
// when what it needs is missing.
func requireTools(t *testing.T) {
	t.Helper()
	missing := func(why string) {
		t.Helper()
		testexec.Missing(t, why)
	}
	if os.Geteuid() != 0 {
		missing("network namespaces need root")
	}
	for _, tool := range []string{"ip", "nft"} {
		if _, err := exec.LookPath(tool); err != nil {
			missing(fmt.Sprintf("%s is not installed (%v)", tool, err))
		}
	}
	probe := fmt.Sprintf("dhprobe%d", os.Getpid())
	if out, err := exec.Command("ip", "netns", "add", probe).CombinedOutput(); err != nil {
		missing(fmt.Sprintf("the kernel refuses a network namespace: %v: %s", err, out))
	}
	exec.Command("ip", "netns", "del", probe).Run()
}

// run runs a command and fails the test if it fails.
func run(t *testing.T, name string, args ...string) string {
	t.Helper()
	out, err := exec.Command(name, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
	return string(out)
}

type nsSite struct {
	name, ns, addr, admin, dir, logPath string
	cmd                                 *exec.Cmd
}

const (
	nsAdminToken = "e2e-admin-token-not-a-secret"
	nsSecretKey  = "0123456789abcdef0123456789abcdef"
)

// kv runs `duohuo kv ARGS` in the site's namespace, against its admin API.
func (s *nsSite) kv(bin string, args ...string) (string, error) {
	full := append([]string{"netns", "exec", s.ns, bin, "kv", "--admin", s.admin, "--token", nsAdminToken}, args...)
	out, err := exec.Command("ip", full...).CombinedOutput()
	return string(out), err
}

func (s *nsSite) status(bin string) (members []string, err error) {
	out, err := s.kv(bin, "status", "--json")
	if err != nil {
		return nil, fmt.Errorf("%v: %s", err, out)
	}
	var st struct {
		Members []string `json:"members"`
	}
	if err := json.Unmarshal([]byte(out), &st); err != nil {
		return nil, fmt.Errorf("kv status --json: %v: %s", err, out)
	}
	return st.Members, nil
}

// counter returns the value of counter object name on the site, -1 if it
// does not exist yet.
func (s *nsSite) counter(bin, name string) (int64, error) {
	out, err := s.kv(bin, "get", name)
	if err != nil {
		if strings.Contains(out, "not found") {
			return -1, nil
		}
		return 0, fmt.Errorf("%v: %s", err, out)
	}
	f := strings.Fields(out) // "hits pncounter 5"
	if len(f) != 3 {
		return 0, fmt.Errorf("kv get %s = %q", name, out)
	}
	return strconv.ParseInt(f[2], 10, 64)
}

func nsWaitFor(t *testing.T, what string, timeout time.Duration, cond func() bool) time.Duration {
	t.Helper()
	start := time.Now()
	for !cond() {
		if time.Since(start) > timeout {
			t.Fatalf("timed out after %v waiting for %s", timeout, what)
		}
		time.Sleep(200 * time.Millisecond) // polling interval of a deadline-bounded wait
	}
	return time.Since(start)
}

func TestNetnsPartition(t *testing.T) {
	requireTools(t)
	dir := t.TempDir()
	bin := filepath.Join(dir, "duohuo")
	build := exec.Command("go", "build", "-o", bin, "github.com/duohuo/duohuo/cmd/duohuo")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}

	// Names unique to this process: interfaces and namespaces are global.
	tag := fmt.Sprintf("dh%d", os.Getpid()%100000)
	bridge := tag + "br"
	run(t, "ip", "netns", "add", bridge)
	t.Cleanup(func() { exec.Command("ip", "netns", "del", bridge).Run() })
	run(t, "ip", "netns", "exec", bridge, "ip", "link", "add", "br0", "type", "bridge")
	run(t, "ip", "netns", "exec", bridge, "ip", "link", "set", "br0", "up")
	var sites []*nsSite
	for i, n := range []string{"a", "b", "c"} {
		s := &nsSite{
			name: "site-" + n, ns: tag + n,
			addr:  fmt.Sprintf("10.99.0.%d", i+1),
			admin: "127.0.0.1:9900", dir: filepath.Join(dir, n),
			logPath: filepath.Join(dir, n+".log"),
		}
		run(t, "ip", "netns", "add", s.ns)
		t.Cleanup(func() { exec.Command("ip", "netns", "del", s.ns).Run() })
		run(t, "ip", "netns", "exec", bridge, "ip", "link", "add", "v"+n, "type", "veth", "peer", "name", "eth0", "netns", s.ns)
		run(t, "ip", "netns", "exec", bridge, "ip", "link", "set", "v"+n, "master", "br0", "up")
		run(t, "ip", "netns", "exec", s.ns, "ip", "addr", "add", s.addr+"/24", "dev", "eth0")
		run(t, "ip", "netns", "exec", s.ns, "ip", "link", "set", "eth0", "up")
		run(t, "ip", "netns", "exec", s.ns, "ip", "link", "set", "lo", "up")
		sites = append(sites, s)
	}
	for _, s := range sites {
		var join []string
		for _, o := range sites {
			if o != s {
				join = append(join, o.addr+":7946")
			}
		}
		cfg := fmt.Sprintf(`site: {cloud: e2e, region: %s}
admin:
  listen: %s
  token: %s
listeners:
  - name: public
    listen: 127.0.0.1:8080
services:
  - name: api
    discovery:
      - static:
          instances:
            - addr: 127.0.0.1:9
routes:
  - name: all
    service: api
replication:
  name: %s
  dir: %s
  bind: %s:7946
  join: [%s]
  secret_key: %s
`, s.name, s.admin, nsAdminToken, s.name, s.dir, s.addr, strings.Join(join, ", "), nsSecretKey)
		path := filepath.Join(dir, s.name+".yaml")
		if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
			t.Fatal(err)
		}
		logf, err := os.Create(s.logPath)
		if err != nil {
			t.Fatal(err)
		}
		s.cmd = exec.Command("ip", "netns", "exec", s.ns, bin, "serve", "--config", path)
		s.cmd.Stdout, s.cmd.Stderr = logf, logf
		if err := s.cmd.Start(); err != nil {
			t.Fatal(err)
		}
		logf.Close()
		t.Cleanup(func() { stopSite(t, s) })
	}

	members := func(s *nsSite, want int) func() bool {
		return func() bool {
			m, err := s.status(bin)
			return err == nil && len(m) == want
		}
	}
	for _, s := range sites {
		nsWaitFor(t, s.name+" to see 3 members", 60*time.Second, members(s, 3))
	}

	// acked counts the acknowledged increments of every site.
	var mu sync.Mutex
	acked := 0
	write := func(phase string, perSite int) {
		t.Helper()
		var wg sync.WaitGroup
		for _, s := range sites {
			wg.Go(func() {
				for i := range perSite {
					if out, err := s.kv(bin, "incr", "hits"); err != nil {
						t.Errorf("%s: write %d on %s not acknowledged: %v: %s", phase, i, s.name, err, out)
						continue
					}
					mu.Lock()
					acked++
					mu.Unlock()
				}
			})
		}
		wg.Wait()
		if t.Failed() {
			t.FailNow()
		}
	}
	converged := func() bool {
		for _, s := range sites {
			if v, err := s.counter(bin, "hits"); err != nil || v != int64(acked) {
				return false
			}
		}
		return true
	}
	write("before the cut", 5)
	nsWaitFor(t, "the first writes everywhere", 60*time.Second, converged)

	// Cut site-c off: nothing in or out of its interface.
	c := sites[2]
	cut := exec.Command("ip", "netns", "exec", c.ns, "nft", "-f", "-")
	cut.Stdin = strings.NewReader(`table inet duohuo_cut {
	chain in { type filter hook input priority 0; policy accept; iifname "eth0" drop; }
	chain out { type filter hook output priority 0; policy accept; oifname "eth0" drop; }
}
`)
	if out, err := cut.CombinedOutput(); err != nil {
		t.Fatalf("nft: %v\n%s", err, out)
	}
	cutAt := time.Now()
	write("during the cut", 10)
	if v, err := c.counter(bin, "hits"); err != nil || v != 5*3+10 {
		t.Errorf("hits on the cut-off site = %d (%v), want its own writes only, %d", v, err, 5*3+10)
	}
	nsWaitFor(t, "site-a to declare site-c dead", 3*time.Minute, members(sites[0], 2))
	t.Logf("site-a declared site-c dead %v after the cut (wan preset)", time.Since(cutAt).Round(100*time.Millisecond))
	write("while site-c is dead", 5)

	run(t, "ip", "netns", "exec", c.ns, "nft", "delete", "table", "inet", "duohuo_cut")
	took := nsWaitFor(t, "every acknowledged write on every site after the heal", 3*time.Minute, converged)
	t.Logf("converged %v after the heal (wan preset): %d acknowledged writes on every site", took.Round(100*time.Millisecond), acked)
	for _, s := range sites {
		nsWaitFor(t, s.name+" to see 3 members again", 2*time.Minute, members(s, 3))
	}
}

// stopSite stops a site's serve with SIGTERM, then SIGKILL if it has not
// exited within 30s, and shows its log if the test failed.
func stopSite(t *testing.T, s *nsSite) {
	if s.cmd.Process == nil {
		return
	}
	s.cmd.Process.Signal(syscall.SIGTERM)
	done := make(chan error, 1)
	go func() { done <- s.cmd.Wait() }()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	select {
	case <-done:
	case <-ctx.Done():
		s.cmd.Process.Kill()
		<-done
	}
	if t.Failed() {
		b, _ := os.ReadFile(s.logPath)
		t.Logf("%s log:\n%s", s.name, b)
	}
}
