package demo

import (
	"context"
	"strings"
	"testing"

	"go.uber.org/goleak"

	"github.com/duohuo/duohuo/discovery"
	"github.com/duohuo/duohuo/internal/config"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestConfigSite(t *testing.T) {
	addrs := DefaultAddrs(Options{})
	for _, tc := range []struct {
		name string
		o    Options
		want config.Site
	}{
		{"the default gateway runs in ctyun/cn-north-1", Options{}, config.Site{Cloud: "ctyun", Region: "cn-north-1"}},
		{"a spread gateway has no site", Options{Spread: true}, config.Site{}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			y, err := ConfigYAML(tc.o, addrs)
			if err != nil {
				t.Fatal(err)
			}
			cfg, err := config.Parse("demo.yaml", y)
			if err != nil {
				t.Fatalf("config.Parse(ConfigYAML(%+v)): %v", tc.o, err)
			}
			if cfg.Site != tc.want {
				t.Errorf("site = %+v, want %+v", cfg.Site, tc.want)
			}
		})
	}
}

// With Spread, the nine instances are one locality tier: none is nearer.
func TestSpreadPutsEveryCloudInOneTier(t *testing.T) {
	top, err := Start(Options{Listen: "127.0.0.1:0", AdminListen: "127.0.0.1:0", BasePort: -1, Spread: true}, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer top.Shutdown(context.Background())
	st := top.Gateway.Stats("demo")
	for tier, ts := range st.Tiers {
		want := 0
		if discovery.Tier(tier) == discovery.OtherCloud {
			want = 9
		}
		if ts.Total != want {
			t.Errorf("tier %d has %d instances, want %d", tier, ts.Total, want)
		}
	}
}

// --otlp adds a tracing section that samples every request: a host:port
// over OTLP/gRPC in cleartext, a URL over OTLP/HTTP.
func TestConfigWithOTLP(t *testing.T) {
	for _, tt := range []struct{ endpoint, protocol string }{
		{"127.0.0.1:4317", "grpc"},
		{"http://127.0.0.1:4318", "http"},
	} {
		o := Options{OTLP: tt.endpoint}
		y, err := ConfigYAML(o, DefaultAddrs(o))
		if err != nil {
			t.Fatal(err)
		}
		cfg, err := config.Parse("demo.yaml", y)
		if err != nil {
			t.Fatalf("--otlp %s: %v", tt.endpoint, err)
		}
		tr := cfg.Tracing
		if tr == nil || tr.Endpoint != tt.endpoint || tr.Protocol != tt.protocol || tr.SampleRatio != 1 {
			t.Errorf("--otlp %s: tracing = %+v, want %s over %s at ratio 1", tt.endpoint, tr, tt.endpoint, tt.protocol)
		}
	}
	if y, _ := ConfigYAML(Options{}, DefaultAddrs(Options{})); strings.Contains(string(y), "tracing:") {
		t.Error("the demo traces without --otlp")
	}
}
