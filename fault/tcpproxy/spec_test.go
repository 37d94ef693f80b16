package tcpproxy_test

import (
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/duohuo/duohuo/fault/tcpproxy"
)

var parseToxicTests = []struct {
	name string
	in   string
	want tcpproxy.Named
}{
	{"latency defaults to downstream and Toxiproxy's name", "latency:50ms",
		tcpproxy.Named{Name: "latency_downstream", Direction: tcpproxy.Downstream, Toxic: tcpproxy.Latency{Delay: 50 * time.Millisecond}, Toxicity: 1}},
	{"latency with jitter both ways", "latency:1s:100ms@both",
		tcpproxy.Named{Name: "latency_both", Direction: tcpproxy.Both, Toxic: tcpproxy.Latency{Delay: time.Second, Jitter: 100 * time.Millisecond}, Toxicity: 1}},
	{"named bandwidth upstream", "thin=bandwidth:65536@upstream",
		tcpproxy.Named{Name: "thin", Direction: tcpproxy.Upstream, Toxic: tcpproxy.Bandwidth{BytesPerSecond: 65536}, Toxicity: 1}},
	{"blackhole", "blackhole@both",
		tcpproxy.Named{Name: "blackhole_both", Direction: tcpproxy.Both, Toxic: tcpproxy.Blackhole{}, Toxicity: 1}},
	{"limit_data", "limit_data:0@up",
		tcpproxy.Named{Name: "limit_data_upstream", Direction: tcpproxy.Upstream, Toxic: tcpproxy.LimitData{Bytes: 0}, Toxicity: 1}},
	{"reset_peer now", "reset_peer",
		tcpproxy.Named{Name: "reset_peer_downstream", Direction: tcpproxy.Downstream, Toxic: tcpproxy.ResetPeer{}, Toxicity: 1}},
	{"a third of the connections", "latency:1s@both~0.33",
		tcpproxy.Named{Name: "latency_both", Direction: tcpproxy.Both, Toxic: tcpproxy.Latency{Delay: time.Second}, Toxicity: 0.33}},
	{"timeout that never closes", "timeout",
		tcpproxy.Named{Name: "timeout_downstream", Direction: tcpproxy.Downstream, Toxic: tcpproxy.Timeout{}, Toxicity: 1}},
	{"timeout that closes", "timeout:5s@both",
		tcpproxy.Named{Name: "timeout_both", Direction: tcpproxy.Both, Toxic: tcpproxy.Timeout{After: 5 * time.Second}, Toxicity: 1}},
	{"slow_close", "slow_close:1s@upstream",
		tcpproxy.Named{Name: "slow_close_upstream", Direction: tcpproxy.Upstream, Toxic: tcpproxy.SlowClose{Delay: time.Second}, Toxicity: 1}},
	{"slicer with only an average", "slicer:64",
		tcpproxy.Named{Name: "slicer_downstream", Direction: tcpproxy.Downstream, Toxic: tcpproxy.Slicer{AverageSize: 64}, Toxicity: 1}},
	{"slicer in full", "sl=slicer:64:16:1ms",
		tcpproxy.Named{Name: "sl", Direction: tcpproxy.Downstream, Toxic: tcpproxy.Slicer{AverageSize: 64, SizeVariation: 16, Delay: time.Millisecond}, Toxicity: 1}},
	{"reset_peer later", "rst=reset_peer:2s@down",
		tcpproxy.Named{Name: "rst", Direction: tcpproxy.Downstream, Toxic: tcpproxy.ResetPeer{After: 2 * time.Second}, Toxicity: 1}},
}

func TestParseToxic(t *testing.T) {
	for _, tt := range parseToxicTests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := tcpproxy.ParseToxic(tt.in)
			if err != nil {
				t.Fatalf("ParseToxic(%q): %v", tt.in, err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("ParseToxic(%q) (-want +got):\n%s", tt.in, diff)
			}
			again, err := tcpproxy.ParseToxic(tcpproxy.FormatToxic(got))
			if err != nil || !cmp.Equal(got, again) {
				t.Errorf("ParseToxic(FormatToxic = %q) = %+v, %v; want %+v", tcpproxy.FormatToxic(got), again, err, got)
			}
		})
	}
}

var badToxicTests = []string{
	"", "teleport", "latency", "latency:fast", "latency:1s:2s", "latency:-1s", "latency:1s:1s:1s",
	"bandwidth", "bandwidth:0", "bandwidth:lots", "blackhole:1", "limit_data:-1", "reset_peer:-1s",
	"latency:1s@sideways", "latency:1s@", "=latency:1s", "a b=blackhole",
	"timeout:-1s", "timeout:1s:2s", "slow_close", "slow_close:-1ms", "slicer", "slicer:0", "slicer:8:9",
	"slicer:8:-1", "slicer:8:1:-1ms", "slicer:8:1:1ms:1", "slicer:big", "slicer:2000000000",
	"latency:2500h", "timeout:2500h", "slow_close:2500h", "reset_peer:2500h", "slicer:8:1:2500h",
	"latency:1s~0", "latency:1s~1.5", "latency:1s~NaN", "latency:1s@both~",
}

func TestParseToxicRejects(t *testing.T) {
	for _, in := range badToxicTests {
		if _, err := tcpproxy.ParseToxic(in); !errors.Is(err, tcpproxy.ErrInvalidToxic) || !strings.Contains(err.Error(), "tcpproxy") {
			t.Errorf("ParseToxic(%q) = %v, want ErrInvalidToxic", in, err)
		}
	}
}

func FuzzParseToxic(f *testing.F) {
	for _, tt := range parseToxicTests {
		f.Add(tt.in)
	}
	for _, in := range badToxicTests {
		f.Add(in)
	}
	f.Fuzz(func(t *testing.T, s string) {
		n, err := tcpproxy.ParseToxic(s)
		if err != nil {
			if !errors.Is(err, tcpproxy.ErrInvalidToxic) {
				t.Fatalf("ParseToxic(%q) = %v, want ErrInvalidToxic", s, err)
			}
			return
		}
		again, err := tcpproxy.ParseToxic(tcpproxy.FormatToxic(n))
		if err != nil || !cmp.Equal(n, again) {
			t.Fatalf("round trip of %q via %q = %+v, %v; want %+v", s, tcpproxy.FormatToxic(n), again, err, n)
		}
	})
}

func TestAdminHandler(t *testing.T) {
	srv := startServer(t, echo)
	p := listen(t, srv.Addr())
	admin := httptest.NewServer(p.AdminHandler())
	defer admin.Close()
	do := func(method, path, body string) (int, string) {
		t.Helper()
		req, _ := http.NewRequest(method, admin.URL+path, strings.NewReader(body))
		resp, err := admin.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	steps := []struct {
		name, method, path, body string
		wantStatus               int
		wantIn                   string
	}{
		{"status with no toxics", "GET", "/", "", 200, `"toxics": []`},
		{"set a toxic", "PUT", "/toxics/slow", "latency:200ms@both", 200, `"spec": "latency:200ms@both"`},
		{"bad toxic", "PUT", "/toxics/bad", "latency:soon", 400, `not a duration`},
		{"name in the body", "PUT", "/toxics/x", "y=blackhole", 400, `name comes from the path`},
		{"refuse", "PUT", "/refuse", "true", 200, `"refusing": true`},
		{"refuse with a bad body", "PUT", "/refuse", "maybe", 400, `want true or false`},
		{"accept again", "PUT", "/refuse", "false", 200, `"refusing": false`},
		{"remove unknown", "DELETE", "/toxics/nope", "", 404, `no such toxic`},
		{"remove", "DELETE", "/toxics/slow", "", 200, `"toxics": []`},
		{"clear", "DELETE", "/toxics", "", 200, `"toxics": []`},
		{"reset connections", "POST", "/reset-conns", "", 200, `"reset": 0`},
	}
	for _, s := range steps {
		status, body := do(s.method, s.path, s.body)
		if status != s.wantStatus || !strings.Contains(body, s.wantIn) {
			t.Errorf("%s: %s %s = %d %s; want %d containing %q", s.name, s.method, s.path, status, body, s.wantStatus, s.wantIn)
		}
	}
	roundTrip(t, dial(t, p), []byte("still proxying"))
}
