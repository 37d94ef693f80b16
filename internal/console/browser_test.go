package console_test

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/duohuo/duohuo/internal/console"
	"github.com/duohuo/duohuo/internal/demo"
	"github.com/duohuo/duohuo/internal/telemetry"
	"github.com/duohuo/duohuo/internal/testexec"
	"github.com/duohuo/duohuo/platform"
)

// ShotsEnv names a directory for the browser test's screenshots
// (docs/images to refresh the documentation's); unset, they go to a
// temporary directory.
const ShotsEnv = "DUOHUO_CONSOLE_SCREENSHOTS"

// TestConsoleInBrowser runs the console in Debian's chromium, driven by
// playwright-core (e2e/console.mjs), against the demo's three clouds: log
// in, see the topology, break ctyun and watch its instances turn unhealthy
// and the traffic move, apply and roll back a gray policy, add and remove a
// fault, see a cross-site change refused, switch to Chinese.
func TestConsoleInBrowser(t *testing.T) {
	if testing.Short() {
		t.Skip("browser test: not with -short")
	}
	if os.Getenv(testexec.Env) != "" {
		t.Skip("browser test: runs natively, not under emulation (chromium and node are the host's)")
	}
	testexec.Tool(t, "chromium", "apt-get install -y chromium fonts-wqy-microhei")
	nodeBin := testexec.Tool(t, "node", "apt-get install -y nodejs npm")
	if _, err := os.Stat("e2e/node_modules/playwright-core"); err != nil {
		testexec.Missing(t, "playwright-core is not installed (cd internal/console/e2e && npm ci)")
	}
	shots := os.Getenv(ShotsEnv)
	if shots == "" {
		shots = t.TempDir()
	} else if abs, err := filepath.Abs(shots); err == nil {
		shots = abs
	}

	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	reg := telemetry.NewRegistry(platform.Info{})
	top, err := demo.Start(demo.Options{Listen: "127.0.0.1:0", AdminListen: "127.0.0.1:0", BasePort: -1}, reg, log)
	if err != nil {
		t.Fatal(err)
	}
	defer top.Shutdown(context.Background())
	const token = "browser-test-token"
	admin, err := telemetry.NewAdmin(telemetry.AdminOptions{Addr: "127.0.0.1:0", Token: token, Registry: reg, OwnAuth: console.OwnsAuth})
	if err != nil {
		t.Fatal(err)
	}
	g := top.Gateway
	for _, p := range []string{"/v1/services", "/v1/services/", "/v1/health"} {
		admin.Handle(p, g.AdminHandler())
	}
	admin.Handle("/v1/faults", g.FaultsHandler())
	admin.Handle("/v1/faults/", g.FaultsHandler())
	admin.Handle("/v1/gray/", g.GrayHandler())
	con, err := console.New(console.Options{Admin: admin.Handler(), Token: token, Services: g.Services, Gatherer: reg,
		Site: console.SiteName("ctyun", "cn-north-1", ""), Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	con.Mount(admin)
	if err := admin.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	defer func() {
		con.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		admin.Shutdown(ctx)
	}()

	// Traffic: 40 requests a second until the test ends.
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		c := &http.Client{Timeout: 5 * time.Second}
		defer c.CloseIdleConnections()
		tick := time.NewTicker(25 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-stop:
				return
			case <-tick.C:
				if resp, err := c.Get(top.URL() + "/hello"); err == nil {
					io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
				}
			}
		}
	}()
	defer func() { close(stop); wg.Wait() }()

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, nodeBin, "console.mjs")
	cmd.Dir = "e2e"
	cmd.Env = append(os.Environ(), "CONSOLE_URL=http://"+admin.Addr(), "CONSOLE_TOKEN="+token, "SHOTS="+shots)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	stdin, _ := cmd.StdinPipe()
	stdout, _ := cmd.StdoutPipe()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	passed := false
	sc := bufio.NewScanner(stdout)
	for sc.Scan() {
		line := sc.Text()
		switch {
		case line == "PASS":
			passed = true
		case strings.HasPrefix(line, "LOG "):
			t.Log(strings.TrimPrefix(line, "LOG "))
		case line == "STEP break-ctyun":
			for _, b := range top.Cloud("ctyun") {
				b.Stop()
			}
			fmt.Fprintln(stdin, "ok")
		case strings.HasPrefix(line, "STEP "):
			fmt.Fprintln(stdin, "unknown step")
		default:
			t.Log("browser: " + line)
		}
	}
	stdin.Close()
	if err := cmd.Wait(); err != nil || !passed {
		t.Fatalf("browser script: %v\n%s", err, stderr.String())
	}
	t.Logf("screenshots in %s", shots)
}
