package gateway

import (
	"fmt"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/duohuo/duohuo/balancer"
	"github.com/duohuo/duohuo/breaker"
	"github.com/duohuo/duohuo/color"
	"github.com/duohuo/duohuo/discovery"
	"github.com/duohuo/duohuo/discovery/consul"
	"github.com/duohuo/duohuo/discovery/kubernetes"
	"github.com/duohuo/duohuo/discovery/nacos"
	"github.com/duohuo/duohuo/fault"
	"github.com/duohuo/duohuo/health"
	"github.com/duohuo/duohuo/internal/config"
	"github.com/duohuo/duohuo/internal/proxy"
	"github.com/duohuo/duohuo/resilience"
)

// optionSection is a section type of the configuration file as the test
// writes it: where its keys go in a file, and what the gateway makes of it.
type optionSection struct {
	// at is the path of mappings from the top of the file to the
	// section, each "key:" (a list item is "- key:"); the section's keys
	// are written under the last one. Lines in pre are written at the
	// section's level before the key under test.
	at  []string
	pre []string
	// lib returns the library config (or the gateway's own compiled
	// value) made from the parsed file, by the one function that maps it.
	lib func(t *testing.T, c *config.Config) any
	// value returns the section's value in the parsed file.
	value func(c *config.Config) reflect.Value
}

// The base file every case is written into: one service with one instance
// and one route, the section keys added where optionSection.at says.
const optionsBase = `services:
  - name: s
    discovery:
      - static:
          instances:
            - addr: 127.0.0.1:1
routes:
  - name: r
    service: s
`

var site = discovery.Locality{Cloud: "c", Region: "r", Zone: "z"}

func svc0(c *config.Config) *config.Service { return &c.Services[0] }
func route0(c *config.Config) *config.Route { return &c.Routes[0] }

func compiled(t *testing.T, c *config.Config) *route {
	t.Helper()
	rt, err := compileRoute(c.Routes[0], &service{name: "s"}, newMetrics(prometheus.NewRegistry(), 0), nil)
	if err != nil {
		t.Fatal(err)
	}
	return rt
}

func consulOf(t *testing.T, c *config.Config) any {
	t.Helper()
	cc, err := consulConfig("s", "consul:s", svc0(c).Discovery[0].Consul)
	if err != nil {
		t.Fatal(err)
	}
	return cc
}

func healthOf(t *testing.T, c *config.Config) any {
	t.Helper()
	opts, err := transportOptions(svc0(c).Upstream)
	if err != nil {
		t.Fatal(err)
	}
	return healthConfig(svc0(c).Health, opts)
}

var optionSections = map[string]optionSection{
	"Listener": {at: []string{"listeners[0]"}, pre: []string{"name: l", "listen: 127.0.0.1:0"},
		lib: func(t *testing.T, c *config.Config) any {
			l, err := listenerOf(c.Listeners[0])
			if err != nil {
				t.Fatal(err)
			}
			return listenerLibs{caps: maxConnections(c.Listeners, 4096), policy: l}
		},
		value: func(c *config.Config) reflect.Value { return reflect.ValueOf(&c.Listeners[0]).Elem() }},
	"Service": {at: []string{"services[0]"},
		lib: func(t *testing.T, c *config.Config) any {
			b, err := balancerConfig(*svc0(c), site)
			if err != nil {
				t.Fatal(err)
			}
			return b
		},
		value: func(c *config.Config) reflect.Value { return reflect.ValueOf(svc0(c)).Elem() }},
	"Locality": {at: []string{"services[0]", "locality"},
		lib: func(t *testing.T, c *config.Config) any {
			b, err := balancerConfig(*svc0(c), site)
			if err != nil {
				t.Fatal(err)
			}
			return b
		},
		value: func(c *config.Config) reflect.Value { return reflect.ValueOf(&svc0(c).Locality).Elem() }},
	"StaticInstance": {at: []string{"services[0]", "discovery[0]", "static", "instances[0]"},
		lib: func(t *testing.T, c *config.Config) any {
			ins, err := staticInstances(*svc0(c).Discovery[0].Static)
			if err != nil {
				t.Fatal(err)
			}
			return ins[0]
		},
		value: func(c *config.Config) reflect.Value {
			return reflect.ValueOf(&svc0(c).Discovery[0].Static.Instances[0]).Elem()
		}},
	"ActiveHealth": {at: []string{"services[0]", "health", "active"}, lib: healthOf,
		value: func(c *config.Config) reflect.Value { return reflect.ValueOf(&svc0(c).Health.Active).Elem() }},
	"Outlier": {at: []string{"services[0]", "health", "outlier"}, lib: healthOf,
		value: func(c *config.Config) reflect.Value { return reflect.ValueOf(&svc0(c).Health.Outlier).Elem() }},
	"SuccessRate": {at: []string{"services[0]", "health", "outlier", "success_rate"}, lib: healthOf,
		value: func(c *config.Config) reflect.Value {
			return reflect.ValueOf(svc0(c).Health.Outlier.SuccessRate).Elem()
		}},
	"Upstream": {at: []string{"services[0]", "upstream"},
		lib: func(t *testing.T, c *config.Config) any {
			o, err := transportOptions(svc0(c).Upstream)
			if err != nil {
				t.Fatal(err)
			}
			return o
		},
		value: func(c *config.Config) reflect.Value { return reflect.ValueOf(&svc0(c).Upstream).Elem() }},
	"Breaker": {at: []string{"services[0]", "breaker"},
		lib:   func(_ *testing.T, c *config.Config) any { return breakerConfig(svc0(c).Breaker) },
		value: func(c *config.Config) reflect.Value { return reflect.ValueOf(&svc0(c).Breaker).Elem() }},
	"Route": {at: []string{"routes[0]"},
		lib:   func(t *testing.T, c *config.Config) any { return compiled(t, c) },
		value: func(c *config.Config) reflect.Value { return reflect.ValueOf(route0(c)).Elem() }},
	"Match": {at: []string{"routes[0]", "match"},
		lib:   func(t *testing.T, c *config.Config) any { return compiled(t, c) },
		value: func(c *config.Config) reflect.Value { return reflect.ValueOf(&route0(c).Match).Elem() }},
	"Retry": {at: []string{"routes[0]", "retry"},
		lib:   func(t *testing.T, c *config.Config) any { return compiled(t, c) },
		value: func(c *config.Config) reflect.Value { return reflect.ValueOf(&route0(c).Retry).Elem() }},
	"Backoff": {at: []string{"routes[0]", "retry", "backoff"},
		lib:   func(t *testing.T, c *config.Config) any { return compiled(t, c) },
		value: func(c *config.Config) reflect.Value { return reflect.ValueOf(&route0(c).Retry.Backoff).Elem() }},
	"Budget": {at: []string{"routes[0]", "retry", "budget"},
		lib:   func(_ *testing.T, c *config.Config) any { return budgetConfig(route0(c).Retry.Budget) },
		value: func(c *config.Config) reflect.Value { return reflect.ValueOf(&route0(c).Retry.Budget).Elem() }},
	"Hedge": {at: []string{"routes[0]", "hedge"},
		lib:   func(t *testing.T, c *config.Config) any { return compiled(t, c).hedge },
		value: func(c *config.Config) reflect.Value { return reflect.ValueOf(route0(c).Hedge).Elem() }},
	"RequestBuffering": {at: []string{"routes[0]", "request_buffering"},
		lib:   func(t *testing.T, c *config.Config) any { return compiled(t, c) },
		value: func(c *config.Config) reflect.Value { return reflect.ValueOf(&route0(c).RequestBuffering).Elem() }},
	"StaleFallback": {at: []string{"routes[0]", "fallback", "stale"},
		lib:   func(_ *testing.T, c *config.Config) any { return staleConfig(*route0(c).Fallback.Stale) },
		value: func(c *config.Config) reflect.Value { return reflect.ValueOf(route0(c).Fallback.Stale).Elem() }},
	"Gray": {at: []string{"gray"},
		lib: func(t *testing.T, c *config.Config) any {
			cc, err := colorConfig(c.Gray)
			if err != nil {
				t.Fatal(err)
			}
			return cc
		},
		value: func(c *config.Config) reflect.Value { return reflect.ValueOf(&c.Gray).Elem() }},
	"NacosSource": {at: []string{"services[0]", "discovery[0]", "nacos"}, pre: []string{"servers: [127.0.0.1:1]"},
		lib: func(t *testing.T, c *config.Config) any {
			nc, err := nacosConfig("s", "nacos:s", svc0(c).Discovery[0].Nacos)
			if err != nil {
				t.Fatal(err)
			}
			return nc
		},
		value: func(c *config.Config) reflect.Value { return reflect.ValueOf(svc0(c).Discovery[0].Nacos).Elem() }},
	"ConsulSource": {at: []string{"services[0]", "discovery[0]", "consul"}, lib: consulOf,
		value: func(c *config.Config) reflect.Value { return reflect.ValueOf(svc0(c).Discovery[0].Consul).Elem() }},
	"DropGuard": {at: []string{"discovery", "drop_guard"},
		lib:   func(_ *testing.T, c *config.Config) any { return dropGuardConfig(c.Discovery.DropGuard) },
		value: func(c *config.Config) reflect.Value { return reflect.ValueOf(&c.Discovery.DropGuard).Elem() }},
	"KubernetesSource": {at: []string{"services[0]", "discovery[0]", "kubernetes"},
		lib: func(_ *testing.T, c *config.Config) any {
			return kubernetesConfig("s", "kubernetes:s", svc0(c).Discovery[0].Kubernetes)
		},
		value: func(c *config.Config) reflect.Value { return reflect.ValueOf(svc0(c).Discovery[0].Kubernetes).Elem() }},
	"LocalityKeys": {at: []string{"services[0]", "discovery[0]", "consul", "locality_keys"}, lib: consulOf,
		value: func(c *config.Config) reflect.Value {
			return reflect.ValueOf(&svc0(c).Discovery[0].Consul.LocalityKeys).Elem()
		}},
	"Faults": {at: []string{"faults"},
		lib:   func(_ *testing.T, c *config.Config) any { return faultTable(c.Faults) },
		value: func(c *config.Config) reflect.Value { return reflect.ValueOf(&c.Faults).Elem() }},
	"FaultRule": {at: []string{"faults", "rules[0]"}, pre: []string{"name: f", "spec: abort=503@1%"},
		lib:   func(_ *testing.T, c *config.Config) any { return faultTable(c.Faults).Rules[0] },
		value: func(c *config.Config) reflect.Value { return reflect.ValueOf(&c.Faults.Rules[0]).Elem() }},
}

// listenerLibs are what a listener's keys become: its connection cap
// (maxConnections, for an open-file limit of 4096) and its policy
// (listenerOf).
type listenerLibs struct {
	caps   []int
	policy *listener
}

// optionCase says what one key becomes: get reads it from the section's
// library config. When absent, get must return the key's default in the
// library's units (def, when given; else the parsed default converted by
// libUnits). When written as zero, get (or zeroGet) must return zero, the
// meaning the key's doc gives 0.
type optionCase struct {
	pre     []string // more keys of the section, written first
	get     func(lib any) any
	def     any
	zero    any
	zeroGet func(lib any) any
}

func brk(l any) breaker.Config           { return l.(breaker.Config) }
func bal(l any) balancer.Config          { return l.(balancer.Config) }
func probe(l any) health.ProbeConfig     { return l.(health.Config).Probe }
func outl(l any) health.OutlierConfig    { return l.(health.Config).Outlier }
func tro(l any) proxy.TransportOptions   { return l.(proxy.TransportOptions) }
func rte(l any) *route                   { return l.(*route) }
func bud(l any) resilience.BudgetConfig  { return l.(resilience.BudgetConfig) }
func stale(l any) resilience.StaleConfig { return l.(resilience.StaleConfig) }

var optionCases = map[string]optionCase{
	// 0 is automatic: half of the open-file limit (4096 here) less 512.
	"Listener.max_connections": {get: func(l any) any { return l.(listenerLibs).caps[0] }, def: 1792, zero: 1792},

	"Service.balancer": {get: func(l any) any { return bal(l).Policy }, def: balancer.PeakEWMA},

	"Locality.overprovisioning_factor": {get: func(l any) any { return bal(l).OverprovisioningFactor }},
	"Locality.panic_threshold":         {get: func(l any) any { return bal(l).PanicThreshold }, zero: float64(off)}, // balancer: negative disables panic mode

	"StaticInstance.weight": {get: func(l any) any { return l.(discovery.Instance).Weight }, zero: uint32(0)}, // 0 drains

	"ActiveHealth.type": {get: func(l any) any {
		p := probe(l)
		switch {
		case p.Disabled:
			return "none"
		case p.GRPC:
			return "grpc"
		case p.Path != "":
			return "http"
		}
		return "tcp"
	}, def: "tcp"},
	"ActiveHealth.expected_status": {pre: []string{"path: /healthz"},
		get: func(l any) any { return probe(l).ExpectStatuses }, def: []health.StatusRange{{From: 200, To: 200}}},
	"ActiveHealth.interval":            {get: func(l any) any { return probe(l).Interval }},
	"ActiveHealth.timeout":             {get: func(l any) any { return probe(l).Timeout }},
	"ActiveHealth.healthy_threshold":   {get: func(l any) any { return probe(l).HealthyThreshold }},
	"ActiveHealth.unhealthy_threshold": {get: func(l any) any { return probe(l).UnhealthyThreshold }},
	"ActiveHealth.jitter":              {get: func(l any) any { return probe(l).Jitter }, zero: time.Duration(off)}, // health: negative is no jitter

	"Outlier.consecutive_5xx":              {get: func(l any) any { return outl(l).Consecutive5xx }, zero: off},
	"Outlier.consecutive_gateway_failures": {get: func(l any) any { return outl(l).ConsecutiveGatewayFailure }, zero: off},
	"Outlier.max_gateway_ejection_percent": {get: func(l any) any { return outl(l).MaxGatewayEjectionPercent }, zero: 1},
	"Outlier.interval":                     {get: func(l any) any { return outl(l).Interval }},
	"Outlier.base_ejection_time":           {get: func(l any) any { return outl(l).BaseEjectionTime }},
	"Outlier.max_ejection_time":            {get: func(l any) any { return outl(l).MaxEjectionTime }},
	"Outlier.max_ejection_percent": {get: func(l any) any { return outl(l).MaxEjectionPercent },
		// 0% turns the 5xx and success-rate detectors off; gateway
		// failures still eject.
		zeroGet: func(l any) any {
			o := outl(l)
			return [3]int{o.Consecutive5xx, o.SuccessRateMinimumHosts, o.ConsecutiveGatewayFailure}
		}, zero: [3]int{off, off, 5}},

	"SuccessRate.minimum_hosts":  {get: func(l any) any { return outl(l).SuccessRateMinimumHosts }},
	"SuccessRate.request_volume": {get: func(l any) any { return outl(l).SuccessRateRequestVolume }},
	"SuccessRate.stdev_factor":   {get: func(l any) any { return outl(l).SuccessRateStdevFactor }},

	"Upstream.protocol":                    {get: func(l any) any { return tro(l).Protocol }},
	"Upstream.dial_timeout":                {get: func(l any) any { return tro(l).DialTimeout }},
	"Upstream.tls_handshake_timeout":       {get: func(l any) any { return tro(l).TLSHandshakeTimeout }},
	"Upstream.response_header_timeout":     {get: func(l any) any { return tro(l).ResponseHeaderTimeout }, zero: time.Duration(0)}, // proxy: 0 is none
	"Upstream.idle_conn_timeout":           {get: func(l any) any { return tro(l).IdleConnTimeout }, zero: time.Duration(off)},     // proxy: negative is no limit
	"Upstream.max_idle_conns_per_instance": {get: func(l any) any { return tro(l).MaxIdleConnsPerInstance }, zero: off},            // proxy: negative keeps none

	"Breaker.consecutive_failures": {get: func(l any) any { return brk(l).ConsecutiveFailures }, zero: off},
	"Breaker.failure_ratio":        {get: func(l any) any { return brk(l).FailureRatio }, zero: float64(off)},
	"Breaker.min_requests":         {get: func(l any) any { return brk(l).MinRequests }},
	"Breaker.window":               {get: func(l any) any { return brk(l).Window }},
	"Breaker.slow_call_threshold":  {get: func(l any) any { return brk(l).SlowCallThreshold }, zero: time.Duration(0)}, // breaker: 0 disables
	"Breaker.slow_call_ratio": {pre: []string{"slow_call_threshold: 1s"}, get: func(l any) any { return brk(l).SlowCallRatio },
		// The library's 0 ratio means 50%: off is said by no threshold.
		zeroGet: func(l any) any { return brk(l).SlowCallThreshold }, zero: time.Duration(0)},
	"Breaker.open_timeout":     {get: func(l any) any { return brk(l).OpenTimeout }},
	"Breaker.half_open_probes": {get: func(l any) any { return brk(l).HalfOpenProbes }},

	"Route.timeout":              {get: func(l any) any { return rte(l).timeout }, zero: time.Duration(0)},     // 0: none
	"Route.stream_idle_timeout":  {get: func(l any) any { return rte(l).idleTimeout }, zero: time.Duration(0)}, // 0: none
	"Route.max_duration":         {get: func(l any) any { return rte(l).maxDuration }, zero: time.Duration(0)}, // 0: none
	"Match.path_prefix":          {get: func(l any) any { return rte(l).pathPrefix }},
	"Route.escaped_path":         {get: func(l any) any { return rte(l).escaped }, def: escapedReject},
	"Route.upgrades":             {get: func(l any) any { return rte(l).upgrades }, def: []string{"websocket"}},
	"RequestBuffering.max_bytes": {get: func(l any) any { return rte(l).bufferMax }, zero: 0}, // 0: no buffering
	"Listener.error_detail": {get: func(l any) any {
		if l.(listenerLibs).policy.fullErrors {
			return "full"
		}
		return "code"
	}, def: "code"},
	"Retry.attempts": {get: func(l any) any { return rte(l).attempts }, zero: 0},
	"Retry.per_try_timeout": {get: func(l any) any {
		if rte(l).adaptive {
			return "auto"
		}
		return rte(l).perTry.String()
	}, def: "auto", zero: "0s"}, // 0s: none
	"Retry.retry_on":        {get: func(l any) any { return rte(l).retryOn }, def: retryConnectFailure | retryReset | retryGatewayError | retryTimeout},
	"Retry.status_wait":     {get: func(l any) any { return rte(l).statusWait }, zero: time.Duration(0)}, // 0s: no wait
	"Backoff.base":          {get: func(l any) any { return rte(l).backoffBase }},
	"Backoff.max":           {get: func(l any) any { return rte(l).backoffMax }},
	"Budget.ratio":          {get: func(l any) any { return bud(l).Ratio }, zero: float64(off)}, // resilience: negative allows none beyond the floor
	"Budget.min_per_second": {get: func(l any) any { return bud(l).MinPerSecond }, zero: off},   // resilience: negative is none
	"Hedge.percentile":      {get: func(l any) any { return l.(*hedge).q }},
	"Hedge.delay":           {get: func(l any) any { return l.(*hedge).fixed }, zero: time.Duration(0)}, // 0 uses the percentile
	"Hedge.min_samples":     {get: func(l any) any { return l.(*hedge).minSamples }},

	"StaleFallback.ttl":             {get: func(l any) any { return stale(l).TTL }},
	"StaleFallback.max_bytes":       {get: func(l any) any { return stale(l).MaxBytes }},
	"StaleFallback.max_entry_bytes": {get: func(l any) any { return stale(l).MaxEntryBytes }},

	"Gray.header":      {get: func(l any) any { return l.(color.Config).Header }},
	"Gray.baggage_key": {get: func(l any) any { return l.(color.Config).BaggageKey }},
	"Gray.sign_ttl":    {get: func(l any) any { return l.(color.Config).SignTTL }, zero: time.Duration(0)}, // color: 0 signs nothing

	"Faults.max_active":     {get: func(l any) any { return l.(fault.Table).MaxActive }, zero: 0}, // fault: 0 is no cap
	"FaultRule.path_prefix": {get: func(l any) any { return l.(fault.Rule).PathPrefix }},

	"NacosSource.namespace":   {get: func(l any) any { return l.(nacos.Config).Namespace }},
	"NacosSource.group":       {get: func(l any) any { return l.(nacos.Config).Group }},
	"NacosSource.interval":    {get: func(l any) any { return l.(nacos.Config).Interval }},
	"NacosSource.timeout":     {get: func(l any) any { return l.(nacos.Config).Timeout }},
	"NacosSource.empty_grace": {get: func(l any) any { return l.(nacos.Config).EmptyGrace }},

	"ConsulSource.servers":       {get: func(l any) any { return l.(consul.Config).Servers }, def: []string{"127.0.0.1:8500"}},
	"ConsulSource.wait":          {get: func(l any) any { return l.(consul.Config).Wait }},
	"ConsulSource.timeout":       {get: func(l any) any { return l.(consul.Config).Timeout }},
	"ConsulSource.rate_interval": {get: func(l any) any { return l.(consul.Config).RateInterval }},
	"DropGuard.share":            {get: func(l any) any { return l.(discovery.AggregatorConfig).DropShare }, zero: 0.0}, // 0%: off
	"DropGuard.reports":          {get: func(l any) any { return l.(discovery.AggregatorConfig).DropReports }},
	"DropGuard.after":            {get: func(l any) any { return l.(discovery.AggregatorConfig).DropAfter }},
	"KubernetesSource.resync":    {get: func(l any) any { return l.(kubernetes.Config).Resync }},
	"LocalityKeys.cloud":         {get: func(l any) any { return l.(consul.Config).LocalityKeys.Cloud }},
	"LocalityKeys.region":        {get: func(l any) any { return l.(consul.Config).LocalityKeys.Region }},
	"LocalityKeys.zone":          {get: func(l any) any { return l.(consul.Config).LocalityKeys.Zone }},
}

// optionsNotMapped are the keys with a default or a meaningful zero that no
// mapping function in this package turns into a library config, and why.
var optionsNotMapped = map[string]string{
	"Config.version":          "the file format's version; nothing to map",
	"Log.level":               "slog handler made by cmd/duohuo (internal/telemetry)",
	"Log.format":              "slog handler made by cmd/duohuo (internal/telemetry)",
	"Admin.listen":            "the admin server's address, given to internal/telemetry by cmd/duohuo",
	"Crypto.suites":           "read by secureListener (listen_tls.go) and by the config checks of listeners and upstream.tls",
	"Metrics.instance_labels": "the gateway's own series limit (newMetrics), not a library config",
	// registration is mapped by cmd/duohuo (register.go) onto the
	// registry/etcd, registry/nacos and registry/consul configs, whose
	// zero values are the same defaults; TestServeRegistersItself runs
	// each against its registry.
	"Registration.weight":                 "cmd/duohuo: discovery.Instance.Weight of the registered gateway",
	"EtcdRegistration.prefix":             "cmd/duohuo: registry/etcd Config.Prefix",
	"EtcdRegistration.ttl":                "cmd/duohuo: registry/etcd Config.TTL",
	"NacosRegistration.namespace":         "cmd/duohuo: registry/nacos Config.Namespace",
	"NacosRegistration.group":             "cmd/duohuo: registry/nacos Config.Group",
	"NacosRegistration.cluster":           "cmd/duohuo: registry/nacos Config.Cluster",
	"NacosRegistration.interval":          "cmd/duohuo: registry/nacos Config.Interval",
	"ConsulRegistration.agents":           "cmd/duohuo: registry/consul Config.Agents",
	"ConsulRegistration.ttl":              "cmd/duohuo: registry/consul Config.TTL",
	"ConsulRegistration.deregister_after": "cmd/duohuo: registry/consul Config.DeregisterAfter",
	// tracing is mapped by newTracing (tracing.go) onto the OpenTelemetry
	// SDK and exporters; tracing_test.go runs it against an OTLP receiver.
	"Tracing.protocol":             "newExporter: otlptracegrpc or otlptracehttp",
	"Tracing.timeout":              "newExporter: WithTimeout and the retries' MaxElapsedTime; exportQueue's per-export bound",
	"Tracing.queue_size":           "newExportQueue: the channel's capacity (TestTracingDeadReceiver counts what it drops)",
	"Tracing.batch_size":           "newExportQueue: spans per export",
	"Tracing.sample_ratio":         "newTracing: ParentBased(TraceIDRatioBased(ratio)); TestTracingKeepsErrorsAtZeroRatio runs 0",
	"Tracing.always_sample_errors": "newTracing: the sampler's RecordOnly and reqTrace.finish (TestTracingKeepsErrorsAtZeroRatio)",
	"Tracing.service_name":         "newTracing: the resource's service.name",
	"GlobalLimit.share":            "newLimitRule: globalLimit.share; 0% is 1/sites (TestGlobalLimitAcrossSites checks the share of a cut-off site)",
	"GlobalLimit.flush":            "newLimitRule: the counter's flush interval (internal/globallimit)",
	// rate_limits rules are compiled by newLimitRule (ratelimit.go) into
	// package ratelimit's limiters; ratelimit_test.go checks each kind
	// and action against the running gateway.
	"RateLimit.burst":       "newLimitRule: 0 is one second's worth of the rate (TestRateLimitBurst gives it)",
	"RateLimit.warm_up":     "newLimitRule: BucketConfig.WarmUp, whose 0 is no ramp as the doc says",
	"RateLimit.cold_factor": "newLimitRule: BucketConfig.ColdFactor",
	"RateLimit.window":      "newLimitRule: WindowConfig.Window; 0 with requests 0 is no window",
	"RateLimit.requests":    "newLimitRule: WindowConfig.Requests",
	"RateLimit.concurrency": "newLimitRule: NewConcurrency; 0 is no concurrency limit (another kind is set)",
	"RateLimit.max_keys":    "newLimitRule: NewKeyed's bound",
	"RateLimit.action":      "the exchange's admit (ratelimit.go): reject or queue",
	"RateLimit.max_wait":    "the exchange's admit (ratelimit.go): how long a queued request waits",
	// The slo section maps through config.SLO.Availability, Latency and
	// ScoreConfig (internal/config TestSLODefaults) into package slo,
	// whose zero values mean the same defaults; latency_threshold 0s
	// turns the latency SLI off (TestHealthScoresServicesAndClouds).
	"SLO.objective":            "slo.Objective.Target by config.SLO.Availability",
	"SLO.period":               "slo.Objective.Period by config.SLO.Availability and Latency",
	"SLO.latency_threshold":    "the gateway's latency SLI threshold (slo.go); 0s: no latency SLI",
	"SLO.latency_objective":    "slo.Objective.Target by config.SLO.Latency",
	"SLOScore.window":          "the window of the score's inputs (slo.go)",
	"SLOScore.max_burn":        "slo.ScoreConfig.MaxBurn by config.SLO.ScoreConfig",
	"SLOScore.max_drift":       "slo.ScoreConfig.MaxDrift by config.SLO.ScoreConfig",
	"SLOScore.min_requests":    "the requests a cloud needs for its P99 to count (slo.go)",
	"SLOScore.max_replica_lag": "slo.ScoreConfig.MaxLag by config.SLO.ScoreConfig",
	"SLOWeights.availability":  "slo.Weights by config.SLO.ScoreConfig; 0 leaves the input out",
	"SLOWeights.latency":       "slo.Weights by config.SLO.ScoreConfig; 0 leaves the input out",
	"SLOWeights.drift":         "slo.Weights by config.SLO.ScoreConfig; 0 leaves the input out",
	"SLOWeights.lease":         "slo.Weights by config.SLO.ScoreConfig; 0 leaves the input out",
	"SLOWeights.replica_lag":   "slo.Weights by config.SLO.ScoreConfig; 0 leaves the input out",
	// http.Server fields set in Gateway.Start; their doc tags say what
	// net/http does with 0, which is what they get.
	"Listener.read_header_timeout":          "http.Server.ReadHeaderTimeout, set in Gateway.Start",
	"Listener.read_timeout":                 "http.Server.ReadTimeout, set in Gateway.Start",
	"Listener.write_timeout":                "http.Server.WriteTimeout, set in Gateway.Start",
	"Listener.idle_timeout":                 "http.Server.IdleTimeout, set in Gateway.Start",
	"Listener.max_header_bytes":             "http.Server.MaxHeaderBytes and the framing check's limit, set in Gateway.Start (at least 1KiB)",
	"Listener.http2_max_concurrent_streams": "http.Server.HTTP2.MaxConcurrentStreams, set in Gateway.Start (at least 1)",
	"DNSSource.type":                        "an enum turned into dns.Type by newDNSSource",
	"DNSSource.port":                        "0 is refused for a and aaaa records and not allowed for srv (config checks)",
	"DNSSource.min_ttl":                     "dns.Config.MinTTL by newDNSSource; at least 100ms, so never the library's zero",
	"StaticReply.status":                    "written as is by the gateway's static reply",
	"StaticReply.content_type":              "written as is by the gateway's static reply",
	"GrayPolicy.mode":                       "gray.Policy, made by config.GrayPolicy.Policy and compiled at load",
	"GrayUserHash.percent":                  "gray.Policy, made by config.GrayPolicy.Policy and compiled at load",
	"GrayWeight.weight":                     "gray.Policy, made by config.GrayPolicy.Policy and compiled at load",
	"Replication.network":                   "the replica's timing preset, chosen by cmd/duohuo",
	// replica.Config's fields, copied by cmd/duohuo's openReplica, where 0
	// means the preset's value in both (TestOpenReplicaTimings).
	"Replication.anti_entropy_interval": "replica.Config.AntiEntropyInterval, set by cmd/duohuo; 0 is the preset's",
	"Replication.probe_interval":        "replica.Config.ProbeInterval, set by cmd/duohuo; 0 is the preset's",
	"Replication.probe_timeout":         "replica.Config.ProbeTimeout, set by cmd/duohuo; 0 is the preset's",
	"Replication.suspicion_mult":        "replica.Config.SuspicionMult, set by cmd/duohuo; 0 is the preset's",
	"Replication.max_clock_offset":      "replica.Config.MaxClockOffset, set by cmd/duohuo (the same 500ms default)",
}

// zeroDoc finds a doc that says what 0 means ("0 disables", "0s: none",
// "0% turns them off").
var zeroDoc = regexp.MustCompile(`(^|[^0-9.])0(s|%)?([^0-9.%]|$)`)

// optionField is one key of a section type, by reflection over its tags.
type optionField struct {
	name       string // "Breaker.consecutive_failures"
	key        string
	typ        reflect.Type
	index      int
	def        string
	zeroNeeded bool // the doc says what 0 means, or 0 is allowed at all
}

// optionFields walks the config types from config.Config and returns every
// key that has a default, documents its zero, or allows 0.
func optionFields() []optionField {
	var out []optionField
	seen := map[reflect.Type]bool{}
	var walk func(t reflect.Type)
	walk = func(t reflect.Type) {
		for t.Kind() == reflect.Pointer || t.Kind() == reflect.Slice || t.Kind() == reflect.Map {
			t = t.Elem()
		}
		if t.Kind() != reflect.Struct || seen[t] || t.Implements(reflect.TypeFor[fmt.Stringer]()) {
			return // a value type written as one scalar (Duration, StatusRange, …)
		}
		seen[t] = true
		for i := range t.NumField() {
			sf := t.Field(i)
			key, _, _ := strings.Cut(sf.Tag.Get("yaml"), ",")
			if key == "" || key == "-" || !sf.IsExported() {
				continue
			}
			f := optionField{name: t.Name() + "." + key, key: key, typ: sf.Type, index: i, def: sf.Tag.Get("default")}
			minTag, hasMin := sf.Tag.Lookup("min")
			numeric := isNumeric(sf.Type)
			f.zeroNeeded = numeric && (zeroDoc.MatchString(sf.Tag.Get("doc")) || !hasMin || slices.Contains([]string{"0", "0s", "0%"}, minTag))
			if f.def != "" || f.zeroNeeded {
				out = append(out, f)
			}
			walk(sf.Type)
		}
	}
	walk(reflect.TypeFor[config.Config]())
	return out
}

func isNumeric(t reflect.Type) bool {
	switch t.Kind() {
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64, reflect.Float32, reflect.Float64:
		return true
	}
	return t == reflect.TypeFor[config.TryTimeout]()
}

// zeroText is how the file writes zero for a value of type t.
func zeroText(t reflect.Type) string {
	switch t {
	case reflect.TypeFor[config.Duration](), reflect.TypeFor[config.TryTimeout]():
		return "0s"
	case reflect.TypeFor[config.Percent]():
		return "0%"
	case reflect.TypeFor[config.InstanceLabels]():
		return "false"
	}
	return "0"
}

// optionsFile writes keys into the section of the base file.
func optionsFile(sec optionSection, keys []string) string {
	var top []string
	var svc, rt []string
	switch {
	case sec.at[0] == "services[0]":
		svc = nest(sec.at[1:], keys, 4)
	case sec.at[0] == "routes[0]":
		rt = nest(sec.at[1:], keys, 4)
	default:
		top = nest(sec.at, keys, 0)
	}
	base := optionsBase
	if len(sec.at) > 2 && sec.at[1] == "discovery[0]" && sec.at[2] != "static" {
		// Another kind of source takes the static one's place.
		base = strings.Replace(base, "    discovery:\n      - static:\n          instances:\n            - addr: 127.0.0.1:1\n", "", 1)
	}
	if len(svc) > 0 && strings.HasPrefix(sec.at[len(sec.at)-1], "instances") {
		// The instance's keys go under its list item.
		base = strings.Replace(base, "            - addr: 127.0.0.1:1\n", "            - addr: 127.0.0.1:1\n"+indent(keys, 14), 1)
		svc = nil
	}
	base = strings.Replace(base, "routes:\n", strings.Join(svc, "")+"routes:\n", 1)
	return base + strings.Join(rt, "") + strings.Join(top, "")
}

// nest returns the lines of keys under the mappings at (each "key", or
// "key[0]" for a list's first item), starting at column col.
func nest(at, keys []string, col int) []string {
	var out []string
	for _, k := range at {
		if name, ok := strings.CutSuffix(k, "[0]"); ok {
			out = append(out, strings.Repeat(" ", col)+name+":\n", strings.Repeat(" ", col+2)+"- ")
			col += 4
			continue
		}
		if n := len(out); n > 0 && strings.HasSuffix(out[n-1], "- ") {
			out[n-1] += k + ":\n" // the list item's first key
		} else {
			out = append(out, strings.Repeat(" ", col)+k+":\n")
		}
		col += 2
	}
	lines := indent(keys, col)
	if len(out) == 0 {
		return []string{lines}
	}
	if strings.HasSuffix(out[len(out)-1], "- ") {
		// The first key goes on the list item's line.
		out[len(out)-1] += strings.TrimLeft(lines, " ")
		return out
	}
	if len(keys) == 0 {
		// An empty section: on, with its defaults.
		out[len(out)-1] = strings.TrimSuffix(out[len(out)-1], "\n") + " {}\n"
		return out
	}
	return append(out, lines)
}

func indent(keys []string, col int) string {
	var b strings.Builder
	for _, k := range keys {
		b.WriteString(strings.Repeat(" ", col) + k + "\n")
	}
	return b.String()
}

// libUnits converts v, a value of the config file, to the units and type of
// like, a library value: durations stay durations, percentages become
// fractions or whole percents, numbers take like's type.
func libUnits(v reflect.Value, like any) (any, bool) {
	lt := reflect.TypeOf(like)
	switch x := v.Interface().(type) {
	case config.Duration:
		return time.Duration(x), lt == reflect.TypeFor[time.Duration]()
	case config.Percent:
		switch lt.Kind() {
		case reflect.Float64:
			return x.Fraction(), true
		case reflect.Int:
			return int(x), true
		}
		return nil, false
	case config.Size:
		return reflect.ValueOf(int64(x)).Convert(lt).Interface(), lt.Kind() == reflect.Int64 || lt.Kind() == reflect.Int
	}
	switch v.Kind() {
	case reflect.Int, reflect.Int64, reflect.Float64, reflect.String, reflect.Bool:
		if v.Type().ConvertibleTo(lt) && lt.Kind() != reflect.String || v.Kind() == reflect.String && lt.Kind() == reflect.String {
			return v.Convert(lt).Interface(), true
		}
	}
	return nil, false
}

// TestOptionsMeanWhatTheirDocsSay checks every key of the configuration
// that has a default, or whose zero is allowed, by reflection over the
// config types' tags: absent, the mapping gives the library its default;
// written as 0, the meaning the key's doc gives 0. A new key without a
// case here (or a reason in optionsNotMapped) fails the test.
func TestOptionsMeanWhatTheirDocsSay(t *testing.T) {
	covered := map[string]bool{}
	for _, f := range optionFields() {
		covered[f.name] = true
		if why, ok := optionsNotMapped[f.name]; ok {
			if why == "" {
				t.Errorf("%s: the allow-list needs a reason", f.name)
			}
			continue
		}
		tc, ok := optionCases[f.name]
		if !ok {
			t.Errorf("%s (default %q, zero allowed %v) has no mapping case: add one to optionCases, or a reason to optionsNotMapped", f.name, f.def, f.zeroNeeded)
			continue
		}
		typeName, _, _ := strings.Cut(f.name, ".")
		sec, ok := optionSections[typeName]
		if !ok {
			t.Errorf("%s: no optionSection for type %s", f.name, typeName)
			continue
		}
		pre := append(slices.Clone(sec.pre), tc.pre...)
		t.Run(f.name, func(t *testing.T) {
			absent := parseOptions(t, optionsFile(sec, pre))
			lib := sec.lib(t, absent)
			got := tc.get(lib)
			want := tc.def
			if want == nil {
				fv := sec.value(absent).Field(f.index)
				var ok bool
				if want, ok = libUnits(fv, got); !ok {
					t.Fatalf("cannot convert %s's default %v (%s) to the library's %T: give def", f.name, fv.Interface(), fv.Type(), got)
				}
			}
			if !reflect.DeepEqual(got, want) {
				t.Errorf("%s absent (default %q): the library gets %#v, want %#v", f.name, f.def, got, want)
			}
			if !f.zeroNeeded {
				return
			}
			if tc.zero == nil {
				t.Fatalf("%s allows 0 (or its doc says what 0 means): give the case the library value 0 maps to", f.name)
			}
			zero := parseOptions(t, optionsFile(sec, append(pre, f.key+": "+zeroText(f.typ))))
			get := tc.get
			if tc.zeroGet != nil {
				get = tc.zeroGet
			}
			if got := get(sec.lib(t, zero)); !reflect.DeepEqual(got, tc.zero) {
				t.Errorf("%s: %s: the library gets %#v, want %#v (what the doc says 0 means)", f.name, zeroText(f.typ), got, tc.zero)
			}
		})
	}
	for name := range optionCases {
		if !covered[name] {
			t.Errorf("optionCases has %s, which is no key with a default or an allowed zero", name)
		}
	}
	for name := range optionsNotMapped {
		if !covered[name] {
			t.Errorf("optionsNotMapped has %s, which is no key with a default or an allowed zero", name)
		}
	}
}

func parseOptions(t *testing.T, text string) *config.Config {
	t.Helper()
	c, err := config.Parse("options.yaml", []byte(text))
	if err != nil {
		t.Fatalf("config:\n%s\n%v", text, err)
	}
	return c
}
