package demo

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strconv"
	"strings"
	"text/template"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/duohuo/duohuo/internal/config"
	"github.com/duohuo/duohuo/internal/gateway"
)

// Cloud is one simulated cloud of the demo.
type Cloud struct {
	Name   string
	Region string
	Zones  []string // one instance per zone
}

// Clouds are the demo's three clouds; the gateway runs in the first one.
var Clouds = []Cloud{
	{Name: "ctyun", Region: "cn-north-1", Zones: []string{"cn-north-1a", "cn-north-1b", "cn-north-1c"}},
	{Name: "ecloud", Region: "cn-east-2", Zones: []string{"cn-east-2a", "cn-east-2b", "cn-east-2c"}},
	{Name: "huawei", Region: "cn-south-1", Zones: []string{"cn-south-1a", "cn-south-1b", "cn-south-1c"}},
}

// Options configure the demo topology. The zero value gives the defaults
// written on each field.
type Options struct {
	// Listen is the gateway's address. Default 127.0.0.1:8080.
	Listen string
	// AdminListen is the admin listener's address. Default 127.0.0.1:9900.
	AdminListen string
	// BasePort puts the backends on 127.0.0.1:BasePort, BasePort+1, …
	// Default 18001. -1 picks free ports (tests).
	BasePort int
	// Spread leaves the gateway's site empty, so that every cloud is in the
	// same locality tier and traffic spreads over all nine instances (the
	// three-cloud mixed balancing drill). Default false: the gateway runs
	// in ctyun/cn-north-1 and prefers it.
	Spread bool
	// FaultProxies puts a [FaultProxy] in front of every backend and gives
	// the gateway the proxies' addresses as the instances', so that a
	// fault set on a proxy is, for the gateway, a fault of the network to
	// that instance (the silent-cloud drills). Default false: the gateway
	// talks to the backends directly.
	FaultProxies bool
	// ProductDefaults writes a configuration with no health, outlier,
	// upstream, timeout, retry or hedging settings and no balancer, so that
	// the gateway runs with the product's defaults for all of them, as a
	// user's first configuration would. Default false: the demo's tuned
	// settings (see ConfigYAML).
	ProductDefaults bool
	// Patient stretches the demo's tuned timeouts (health probes every 3s
	// waiting 2s instead of every 1s waiting 250ms, dials 2s, tries 5s,
	// the route 15s), so that a
	// machine whose cores are all busy elsewhere does not make healthy
	// instances look sick: the test suite's drills use it, and assert
	// where traffic goes rather than how fast. Ignored with
	// ProductDefaults. Default false.
	Patient bool
	// SecureListen is the address of a second gateway listener that
	// serves TLS 1.2/1.3 and TLCP (GB/T 38636) on one port, with the
	// certificates [WriteCerts] wrote in CertDir. Default none; both must
	// be set.
	SecureListen string
	// CertDir is the directory of the secure listener's certificates.
	CertDir string
	// OTLP, when set, sends every request's trace to this OTLP receiver:
	// host:port over OTLP/gRPC in cleartext (a collector's 4317), or an
	// http:// or https:// URL over OTLP/HTTP (4318). Default none.
	OTLP string
}

func (o Options) withDefaults() Options {
	if o.Listen == "" {
		o.Listen = "127.0.0.1:8080"
	}
	if o.AdminListen == "" {
		o.AdminListen = "127.0.0.1:9900"
	}
	if o.BasePort == 0 {
		o.BasePort = 18001
	}
	return o
}

// instance is one backend as the config template sees it.
type instance struct {
	Addr, Cloud, Region, Zone string
}

var configTemplate = template.Must(template.New("demo").Parse(`# duohuo demo: three clouds on loopback, the gateway in ctyun/cn-north-1.
# Start it all with "duohuo demo"; this file is what "duohuo demo --print-config"
# prints, and "duohuo serve -c FILE" accepts it as is.
version: 1
{{- if .Spread}}
# No site: every cloud is equally far from the gateway, so traffic spreads
# over the nine instances of the three clouds.
{{- else}}
# No zone: the gateway serves its whole region, so traffic spreads over the
# three ctyun instances and spills to ecloud and huawei only when ctyun fails.
site:
  cloud: ctyun
  region: cn-north-1
{{- end}}
log:
  level: info
admin:
  listen: {{.Admin}}
listeners:
  - name: public
    listen: {{.Listen}}
{{- if .Secure}}
  # TLS and TLCP on one port (docs/gm.md), with certificates made at start.
  - name: secure
    listen: {{.Secure.Listen}}
    tls:
      cert_file: {{.Secure.Dir}}/tls.crt
      key_file: {{.Secure.Dir}}/tls.key
      sign_cert_file: {{.Secure.Dir}}/gm-sign.crt
      sign_key_file: {{.Secure.Dir}}/gm-sign.key
      enc_cert_file: {{.Secure.Dir}}/gm-enc.crt
      enc_key_file: {{.Secure.Dir}}/gm-enc.key
{{- end}}
services:
  - name: demo
{{- if not .ProductDefaults}}
    balancer: p2c_ewma
{{- end}}
    discovery:
      - static:
          instances:
{{- range .Instances}}
            - addr: {{.Addr}}
              cloud: {{.Cloud}}
              region: {{.Region}}
              zone: {{.Zone}}
              labels: {version: v1}
{{- end}}
{{- if .ProductDefaults}}
# No health, upstream, timeout, retry or hedge settings: the product's
# defaults.
routes:
  - name: demo
    match:
      path_prefix: /
    service: demo
{{- else}}
    health:
      active:
        type: http
        path: /healthz
        interval: {{.ProbeInterval}}
        timeout: {{.ProbeTimeout}}
        unhealthy_threshold: 2
        healthy_threshold: 2
        jitter: 100ms
      outlier:
        consecutive_gateway_failures: 3
        consecutive_5xx: 5
        interval: 1s
        base_ejection_time: 5s
        # A whole cloud is a third of the instances: let it be ejected.
        max_ejection_percent: 50%
    upstream:
      dial_timeout: {{.DialTimeout}}
routes:
  - name: demo
    match:
      path_prefix: /
    service: demo
    timeout: {{.RouteTimeout}}
    retry:
      attempts: 2
      per_try_timeout: {{.TryTimeout}}
      retry_on: [connect_failure, reset, gateway_error]
    # A GET still waiting after the route's p95 goes to a second instance
    # too: a slow instance stops setting the tail ("The Tail at Scale").
    hedge:
      percentile: 95%
{{- end}}
`))

// ConfigYAML returns the demo's configuration for backends at addrs (in the
// order of Clouds and their zones).
func ConfigYAML(o Options, addrs []string) ([]byte, error) {
	o = o.withDefaults()
	var ins []instance
	i := 0
	for _, c := range Clouds {
		for _, z := range c.Zones {
			if i >= len(addrs) {
				return nil, errors.New("demo: fewer addresses than instances")
			}
			ins = append(ins, instance{Addr: addrs[i], Cloud: c.Name, Region: c.Region, Zone: z})
			i++
		}
	}
	every, probe, dial, try, route := "1s", "250ms", "250ms", "1s", "5s"
	if o.Patient {
		every, probe, dial, try, route = "3s", "2s", "2s", "5s", "15s"
	}
	type secure struct{ Listen, Dir string }
	var sec *secure
	if o.SecureListen != "" && o.CertDir != "" {
		sec = &secure{o.SecureListen, o.CertDir}
	}
	var b bytes.Buffer
	err := configTemplate.Execute(&b, struct {
		Admin, Listen                            string
		Secure                                   *secure
		Spread, ProductDefaults                  bool
		ProbeInterval, ProbeTimeout, DialTimeout string
		TryTimeout, RouteTimeout                 string
		Instances                                []instance
	}{o.AdminListen, o.Listen, sec, o.Spread, o.ProductDefaults, every, probe, dial, try, route, ins})
	if o.OTLP != "" {
		b.WriteString(tracingSection(o.OTLP))
	}
	return b.Bytes(), err
}

// tracingSection is the demo's tracing section for endpoint: every request
// sampled, so that each one shows in the trace viewer.
func tracingSection(endpoint string) string {
	// A Go quoted string is a YAML double-quoted one.
	if strings.Contains(endpoint, "://") {
		return "# Every request's trace, to an OTLP/HTTP receiver.\ntracing: {endpoint: " + strconv.Quote(endpoint) + ", protocol: http, sample_ratio: 1}\n"
	}
	return "# Every request's trace, to an OTLP/gRPC receiver in cleartext.\ntracing: {endpoint: " + strconv.Quote(endpoint) + ", insecure: true, sample_ratio: 1}\n"
}

// DefaultAddrs returns the backend addresses for o.BasePort.
func DefaultAddrs(o Options) []string {
	o = o.withDefaults()
	var addrs []string
	n := 0
	for _, c := range Clouds {
		for range c.Zones {
			addrs = append(addrs, net.JoinHostPort("127.0.0.1", strconv.Itoa(o.BasePort+n)))
			n++
		}
	}
	return addrs
}

// Topology is a running demo: backends and the gateway.
type Topology struct {
	Backends []*Backend // in the order of Clouds and their zones
	// Proxies[i] stands in front of Backends[i] with Options.FaultProxies;
	// nil otherwise.
	Proxies []*FaultProxy
	Gateway *gateway.Gateway
	Config  *config.Config
	YAML    []byte
}

// Start starts the backends and the gateway. reg receives the gateway's
// metrics (nil: none exported).
func Start(o Options, reg prometheus.Registerer, log *slog.Logger) (*Topology, error) {
	o = o.withDefaults()
	t := &Topology{}
	fail := func(err error) (*Topology, error) {
		t.stopBackends()
		return nil, err
	}
	addrs := DefaultAddrs(o)
	for ci, c := range Clouds {
		for zi, z := range c.Zones {
			b := NewBackend(Identity{
				Name: fmt.Sprintf("%s-%d", c.Name, zi+1), Cloud: c.Name, Region: c.Region, Zone: z, Version: "v1",
			})
			addr := addrs[ci*len(c.Zones)+zi]
			if o.BasePort < 0 {
				addr = "127.0.0.1:0"
			}
			if err := b.Start(addr); err != nil {
				return fail(err)
			}
			t.Backends = append(t.Backends, b)
		}
	}
	addrs = addrs[:0]
	for _, b := range t.Backends {
		if !o.FaultProxies {
			addrs = append(addrs, b.Addr())
			continue
		}
		p, err := StartFaultProxy(b.Addr())
		if err != nil {
			return fail(err)
		}
		t.Proxies = append(t.Proxies, p)
		addrs = append(addrs, p.Addr())
	}
	yml, err := ConfigYAML(o, addrs)
	if err != nil {
		return fail(err)
	}
	cfg, err := config.Parse("demo.yaml", yml)
	if err != nil {
		return fail(fmt.Errorf("demo config: %w", err))
	}
	g, err := gateway.New(gateway.Options{Config: cfg, Registerer: reg, Logger: log})
	if err != nil {
		return fail(err)
	}
	if err := g.Start(); err != nil {
		g.Shutdown(context.Background())
		return fail(err)
	}
	t.Gateway, t.Config, t.YAML = g, cfg, yml
	return t, nil
}

// Cloud returns the backends of the named cloud.
func (t *Topology) Cloud(name string) []*Backend {
	var out []*Backend
	for _, b := range t.Backends {
		if b.Identity().Cloud == name {
			out = append(out, b)
		}
	}
	return out
}

// ProxiesOf returns the fault proxies in front of bs, in their order; nil
// without Options.FaultProxies.
func (t *Topology) ProxiesOf(bs []*Backend) []*FaultProxy {
	if t.Proxies == nil {
		return nil
	}
	var out []*FaultProxy
	for _, b := range bs {
		for i, tb := range t.Backends {
			if tb == b {
				out = append(out, t.Proxies[i])
			}
		}
	}
	return out
}

// URL returns the gateway's base URL.
func (t *Topology) URL() string { return "http://" + t.Gateway.Addrs()[0] }

// Shutdown stops the gateway (draining until ctx ends), the fault proxies
// and the backends.
func (t *Topology) Shutdown(ctx context.Context) error {
	err := t.Gateway.Shutdown(ctx)
	t.stopBackends()
	return err
}

func (t *Topology) stopBackends() {
	for _, p := range t.Proxies {
		p.Close()
	}
	for _, b := range t.Backends {
		b.Stop()
	}
}
