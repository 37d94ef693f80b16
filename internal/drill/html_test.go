package drill

import (
	"bytes"
	"context"
	"image/png"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/duohuo/duohuo/internal/testexec"
	"golang.org/x/net/html"
)

func sampleReport() *Report {
	var ws []Window
	for i := range 20 {
		w := Window{At: time.Duration(i) * time.Second, Requests: 100, SuccessRate: 1, P50: 5 * time.Millisecond, P99: 12 * time.Millisecond,
			ByCloud: map[string]int{"ctyun": 60, "ecloud": 20, "huawei": 20}}
		if i >= 8 && i < 10 {
			w.SuccessRate, w.P99 = 0.93, 900*time.Millisecond
			w.ByCloud = map[string]int{"ecloud": 50, "huawei": 43}
		}
		ws = append(ws, w)
	}
	return &Report{
		Started: time.Date(2026, 12, 4, 20, 0, 0, 0, time.UTC), Rate: 100, Duration: 20 * time.Second,
		Host: Host{OS: "linux", Arch: "amd64", CPUs: 2, GoVersion: "go1.26"},
		Scenarios: []ScenarioReport{{
			Name: "blackhole", Title: "a cloud <goes> silent", Faulty: []string{"ctyun-1"},
			Phases:  []Phase{{Name: "before", To: 8 * time.Second}, {Name: "fault", From: 8 * time.Second, To: 14 * time.Second}},
			Fault:   &FaultReport{At: 8 * time.Second, Until: 14 * time.Second, TimeToRecover: 2 * time.Second, TimeToNoAttempts: 300 * time.Millisecond},
			Checks:  []Check{{What: "success", Target: "≥ 99%", Got: "99.6%", Pass: true}, {What: "recovery", Target: "≤ 1s", Got: "2s", Pass: false}},
			Windows: ws,
		}, {Name: "empty", Title: "nothing measured"}},
	}
}

// The HTML report is one self-contained page: it parses, loads nothing
// from elsewhere, runs no script, escapes what the report holds, and draws
// each scenario's timeline with the fault and the recovery.
func TestWriteHTML(t *testing.T) {
	var b bytes.Buffer
	if err := sampleReport().WriteHTML(&b); err != nil {
		t.Fatal(err)
	}
	doc, err := html.Parse(bytes.NewReader(b.Bytes()))
	if err != nil {
		t.Fatal(err)
	}
	count := map[string]int{}
	var polylinePoints []int
	var walk func(*html.Node)
	walk = func(n *html.Node) {
		if n.Type == html.ElementNode {
			count[n.Data]++
			for _, a := range n.Attr {
				switch a.Key {
				case "src", "href":
					if !strings.HasPrefix(a.Val, "#") {
						t.Errorf("<%s %s=%q>: the report refers to something outside itself", n.Data, a.Key, a.Val)
					}
				}
				if n.Data == "polyline" && a.Key == "points" {
					polylinePoints = append(polylinePoints, len(strings.Fields(a.Val)))
				}
			}
		}
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			walk(c)
		}
	}
	walk(doc)
	if count["script"] != 0 || count["link"] != 0 || count["img"] != 0 || count["iframe"] != 0 {
		t.Errorf("elements %v: want no script, link, img or iframe", count)
	}
	if count["svg"] != 1 {
		t.Errorf("%d charts, want 1 (the scenario without windows has none)", count["svg"])
	}
	if len(polylinePoints) != 3 || polylinePoints[0] != 20 || polylinePoints[2] != 20 {
		t.Errorf("polylines %v, want success, p50 and p99 with a point per window (20)", polylinePoints)
	}
	if count["polygon"] != 3 {
		t.Errorf("%d share areas, want one per cloud (3)", count["polygon"])
	}
	out := b.String()
	for _, want := range []string{"a cloud &lt;goes&gt; silent", "recovered after 2s", `<span class="fail">FAIL</span>`, "no requests measured", "huawei"} {
		if !strings.Contains(out, want) {
			t.Errorf("the report lacks %q", want)
		}
	}
	if strings.Contains(out, "ZgotmplZ") {
		t.Error("html/template refused a value (ZgotmplZ): a colour or URL it thinks unsafe")
	}
}

func TestNiceDuration(t *testing.T) {
	for d, want := range map[time.Duration]time.Duration{
		0: 0, 300 * time.Microsecond: time.Millisecond, 12 * time.Millisecond: 20 * time.Millisecond,
		900 * time.Millisecond: time.Second, 1500 * time.Millisecond: 2 * time.Second, 3 * time.Second: 5 * time.Second,
	} {
		if got := niceDuration(d); got != want {
			t.Errorf("niceDuration(%v) = %v, want %v", d, got, want)
		}
	}
}

// The HTML report renders in a real browser (Debian's chromium, headless)
// to a page of the expected size. DUOHUO_DRILL_SCREENSHOT=FILE keeps the
// picture (docs/images/drill-report.png is made so).
func TestHTMLRendersInChromium(t *testing.T) {
	if os.Getenv(testexec.Env) != "" {
		t.Skip("under emulation (build/crosstest.sh): chromium is the build machine's; the native run renders the page")
	}
	bin := testexec.Tool(t, "chromium", "apt-get install -y chromium")
	dir := t.TempDir()
	page := filepath.Join(dir, "report.html")
	f, err := os.Create(page)
	if err != nil {
		t.Fatal(err)
	}
	if err := sampleReport().WriteHTML(f); err != nil {
		t.Fatal(err)
	}
	f.Close()
	shot := os.Getenv("DUOHUO_DRILL_SCREENSHOT")
	if shot == "" {
		shot = filepath.Join(dir, "report.png")
	}
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
		"--disable-component-update", "--disable-sync", "--no-first-run", "--hide-scrollbars",
		"--user-data-dir="+filepath.Join(dir, "profile"), "--window-size=1000,1100", "--screenshot="+shot, "file://"+page)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("chromium: %v\n%s", err, out)
	}
	b, err := os.ReadFile(shot)
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := png.DecodeConfig(bytes.NewReader(b))
	if err != nil {
		t.Fatalf("the screenshot is not a PNG: %v", err)
	}
	if cfg.Width != 1000 || cfg.Height != 1100 || len(b) < 20_000 {
		t.Errorf("screenshot %dx%d, %d bytes: want 1000x1100 with a drawn page (a blank one is a few KB)", cfg.Width, cfg.Height, len(b))
	}
}
