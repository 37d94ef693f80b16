package health_test

import (
	"context"
	"crypto/tls"
	"errors"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/duohuo/duohuo/health"
)

func TestConfigValidate(t *testing.T) {
	for _, c := range []struct {
		name  string
		cfg   health.Config
		field string // "" when valid
	}{
		{"the zero config is valid", health.Config{}, ""},
		{"an HTTP probe path", health.Config{Probe: health.ProbeConfig{Path: "/healthz", ExpectStatus: 204}}, ""},
		{"a path must start with a slash", health.Config{Probe: health.ProbeConfig{Path: "healthz"}}, "Probe.Path"},
		{"a path with a space is not a request path", health.Config{Probe: health.ProbeConfig{Path: "/health z"}}, "Probe.Path"},
		{"a path may carry a query", health.Config{Probe: health.ProbeConfig{Path: "/health?full=1"}}, ""},
		{"the expected status must be an HTTP status", health.Config{Probe: health.ProbeConfig{Path: "/", ExpectStatus: 42}}, "Probe.ExpectStatus"},
		{"a gRPC probe of the server as a whole", health.Config{Probe: health.ProbeConfig{GRPC: true}}, ""},
		{"a gRPC probe of a named service over TLS", health.Config{Probe: health.ProbeConfig{GRPC: true, GRPCService: "shop.Cart", TLS: &tls.Config{}}}, ""},
		{"an HTTP probe over TLS", health.Config{Probe: health.ProbeConfig{Path: "/healthz", TLS: &tls.Config{}}}, ""},
		{"a gRPC probe has no path", health.Config{Probe: health.ProbeConfig{GRPC: true, Path: "/healthz"}}, "Probe.Path"},
		{"a gRPC probe cannot run over DialTLS", health.Config{Probe: health.ProbeConfig{GRPC: true, DialTLS: func(context.Context, string, string) (net.Conn, error) { return nil, nil }}}, "Probe.DialTLS"},
		{"a gRPC probe expects no HTTP status", health.Config{Probe: health.ProbeConfig{GRPC: true, ExpectStatus: 200}}, "Probe.ExpectStatus"},
		{"a gRPC probe expects no HTTP statuses", health.Config{Probe: health.ProbeConfig{GRPC: true, ExpectStatuses: []health.StatusRange{{200, 299}}}}, "Probe.ExpectStatuses"},
		{"expected statuses and ranges", health.Config{Probe: health.ProbeConfig{Path: "/", ExpectStatuses: []health.StatusRange{{200, 299}, {404, 404}}}}, ""},
		{"an expected range must be of HTTP statuses", health.Config{Probe: health.ProbeConfig{Path: "/", ExpectStatuses: []health.StatusRange{{200, 600}}}}, "Probe.ExpectStatuses[0]"},
		{"an expected range must not be reversed", health.Config{Probe: health.ProbeConfig{Path: "/", ExpectStatuses: []health.StatusRange{{200, 200}, {299, 200}}}}, "Probe.ExpectStatuses[1]"},
		{"a gRPC service name without GRPC", health.Config{Probe: health.ProbeConfig{Path: "/", GRPCService: "shop.Cart"}}, "Probe.GRPCService"},
		{"a gRPC service name must be UTF-8", health.Config{Probe: health.ProbeConfig{GRPC: true, GRPCService: "shop\xff"}}, "Probe.GRPCService"},
		{"TLS on a TCP probe, which only connects", health.Config{Probe: health.ProbeConfig{TLS: &tls.Config{}}}, ""},
		{"a negative probe interval", health.Config{Probe: health.ProbeConfig{Interval: -time.Second}}, "Probe.Interval"},
		{"a negative probe timeout", health.Config{Probe: health.ProbeConfig{Timeout: -1}}, "Probe.Timeout"},
		{"a negative unhealthy threshold", health.Config{Probe: health.ProbeConfig{UnhealthyThreshold: -1}}, "Probe.UnhealthyThreshold"},
		{"a negative healthy threshold", health.Config{Probe: health.ProbeConfig{HealthyThreshold: -1}}, "Probe.HealthyThreshold"},
		{"a negative outlier interval", health.Config{Outlier: health.OutlierConfig{Interval: -1}}, "Outlier.Interval"},
		{"a negative base ejection time", health.Config{Outlier: health.OutlierConfig{BaseEjectionTime: -1}}, "Outlier.BaseEjectionTime"},
		{"a negative max ejection time", health.Config{Outlier: health.OutlierConfig{MaxEjectionTime: -1}}, "Outlier.MaxEjectionTime"},
		{"an ejection percent above 100", health.Config{Outlier: health.OutlierConfig{MaxEjectionPercent: 101}}, "Outlier.MaxEjectionPercent"},
		{"a negative request volume", health.Config{Outlier: health.OutlierConfig{SuccessRateRequestVolume: -1}}, "Outlier.SuccessRateRequestVolume"},
		{"a negative stdev factor", health.Config{Outlier: health.OutlierConfig{SuccessRateStdevFactor: -1}}, "Outlier.SuccessRateStdevFactor"},
		{"a negative probation count", health.Config{Outlier: health.OutlierConfig{ProbationSuccesses: -1}}, "Outlier.ProbationSuccesses"},
		{"negative detector thresholds disable them", health.Config{Outlier: health.OutlierConfig{Consecutive5xx: -1, ConsecutiveGatewayFailure: -1, SuccessRateMinimumHosts: -1}}, ""},
		{"a negative weight interval", health.Config{Weight: health.WeightConfig{Interval: -1}}, "Weight.Interval"},
		{"a negative decay", health.Config{Weight: health.WeightConfig{Decay: -1}}, "Weight.Decay"},
		{"a negative success exponent", health.Config{Weight: health.WeightConfig{SuccessExponent: -1}}, "Weight.SuccessExponent"},
		{"a floor above 1", health.Config{Weight: health.WeightConfig{MinFactor: 1.5}}, "Weight.MinFactor"},
		{"a probation factor above 1", health.Config{Weight: health.WeightConfig{ProbationFactor: 2}}, "Weight.ProbationFactor"},
	} {
		t.Run(c.name, func(t *testing.T) {
			err := c.cfg.Validate()
			if c.field == "" {
				if err != nil {
					t.Fatalf("Validate() = %v, want nil", err)
				}
				return
			}
			if !errors.Is(err, health.ErrConfig) || !strings.Contains(err.Error(), c.field) {
				t.Fatalf("Validate() = %v, want ErrConfig naming %s", err, c.field)
			}
			if _, err := health.New(c.cfg); !errors.Is(err, health.ErrConfig) {
				t.Fatalf("New() error = %v, want ErrConfig", err)
			}
		})
	}
}

func TestStrings(t *testing.T) {
	for _, c := range []struct{ got, want string }{
		{health.Healthy.String(), "healthy"},
		{health.Unhealthy.String(), "unhealthy"},
		{health.Ejected.String(), "ejected"},
		{health.Probation.String(), "probation"},
		{health.Status(9).String(), "status(9)"},
		{health.GatewayFailure.String(), "gateway_failure"},
		{health.Class(9).String(), "class(9)"},
		{health.ClassOfStatus(200).String(), "success"},
		{health.ClassOfStatus(404).String(), "client_error"},
		{health.ClassOfStatus(503).String(), "server_error"},
	} {
		if c.got != c.want {
			t.Errorf("got %q, want %q", c.got, c.want)
		}
	}
}
