package gateway

import (
	"fmt"
	"net/netip"
	"time"

	"github.com/duohuo/duohuo/balancer"
	"github.com/duohuo/duohuo/breaker"
	"github.com/duohuo/duohuo/color"
	"github.com/duohuo/duohuo/discovery"
	"github.com/duohuo/duohuo/discovery/consul"
	"github.com/duohuo/duohuo/discovery/kubernetes"
	"github.com/duohuo/duohuo/discovery/nacos"
	"github.com/duohuo/duohuo/health"
	"github.com/duohuo/duohuo/internal/config"
	"github.com/duohuo/duohuo/internal/proxy"
	"github.com/duohuo/duohuo/resilience"
)

// The configuration file and the libraries disagree on zero. In the file,
// every absent key has its default filled by internal/config, and an
// explicit 0 means what the key's doc tag says: usually "off" or "none". In
// a library config, 0 means "the library's default", and "off" is said
// another way, most often with a negative value. Each library config is
// made by one function below, which writes every value the file has, and
// says "off" the library's way where the file's zero means off. No other
// code in the gateway turns a file value into a library value.
//
// TestOptionsMeanWhatTheirDocsSay walks the config types by reflection and
// checks, for each key with a default or a documented zero, that the
// function here gives the library config its doc describes.

// off is what the libraries take for "disabled" in a field whose zero means
// the library's default (breaker, health, balancer and resilience: a
// negative value; proxy: a negative duration or count).
const off = -1

// offIfZero returns n, or off when n is the file's 0 ("0 disables").
func offIfZero(n int) int {
	if n == 0 {
		return off
	}
	return n
}

// fractionOrOff returns p as a fraction, or off when p is the file's 0%.
func fractionOrOff(p config.Percent) float64 {
	if p == 0 {
		return off
	}
	return p.Fraction()
}

// durationOrOff returns d, or off when d is the file's 0s ("0s: none").
func durationOrOff(d config.Duration) time.Duration {
	if d == 0 {
		return off
	}
	return time.Duration(d)
}

// balancerConfig maps a service's balancer and locality keys. site is where
// the gateway runs.
func balancerConfig(sc config.Service, site discovery.Locality) (balancer.Config, error) {
	pol, err := balancer.ParsePolicy(sc.Balancer)
	if err != nil {
		return balancer.Config{}, err
	}
	return balancer.Config{
		Policy:                 pol,
		Local:                  site,
		OverprovisioningFactor: sc.Locality.OverprovisioningFactor,
		PanicThreshold:         fractionOrOff(sc.Locality.PanicThreshold), // 0%: no panic mode
	}, nil
}

// laneBalancerConfig is the config of a gray lane's balancer, made from its
// service's: a lane with no healthy instance falls back to the baseline (or
// fails, when strict) rather than panic onto sick instances.
func laneBalancerConfig(c balancer.Config) balancer.Config {
	c.PanicThreshold = off
	return c
}

// healthConfig maps a service's health section. topts are the service's
// upstream connections (TLS, TLCP or clear text): http and grpc probes
// speak to instances as attempts do.
func healthConfig(h config.Health, topts proxy.TransportOptions) health.Config {
	var c health.Config
	a := h.Active
	p := &c.Probe
	p.TLS = topts.TLS
	p.DialTLS = topts.DialTLS
	switch a.Type {
	case "none":
		p.Disabled = true
	case "http":
		p.Path = a.Path
		for _, r := range a.ExpectedStatus {
			p.ExpectStatuses = append(p.ExpectStatuses, health.StatusRange{From: r.From, To: r.To})
		}
	case "grpc":
		p.GRPC, p.GRPCService = true, a.GRPCService
	}
	p.Interval = time.Duration(a.Interval)
	p.Timeout = time.Duration(a.Timeout)
	p.Jitter = durationOrOff(a.Jitter) // 0s: none
	p.HealthyThreshold = a.HealthyThreshold
	p.UnhealthyThreshold = a.UnhealthyThreshold

	o := h.Outlier
	out := &c.Outlier
	out.Interval = time.Duration(o.Interval)
	out.BaseEjectionTime = time.Duration(o.BaseEjectionTime)
	out.MaxEjectionTime = time.Duration(o.MaxEjectionTime)
	// A 1-instance-in-10 cap would never eject anything in the small
	// services most sites run; let one always go, as Envoy's
	// always_eject_one_host does.
	out.AlwaysEjectOne = true
	// max_ejection_percent 0% turns the 5xx and success-rate detectors
	// off; their cap then has no use, and 100 says so.
	no5xx := o.MaxEjectionPercent == 0
	out.MaxEjectionPercent = 100
	if !no5xx {
		out.MaxEjectionPercent = max(1, int(o.MaxEjectionPercent))
	}
	out.Consecutive5xx = offIfZero(o.Consecutive5xx)
	if no5xx {
		out.Consecutive5xx = off
	}
	out.ConsecutiveGatewayFailure = offIfZero(o.ConsecutiveGatewayFailures)
	// The file's 0% is the smallest cap the library has (in the library 0
	// means 100%): with AlwaysEjectOne, one instance at a time.
	out.MaxGatewayEjectionPercent = max(1, int(o.MaxGatewayEjectionPercent))
	if sr := o.SuccessRate; sr != nil && !no5xx {
		out.SuccessRateMinimumHosts = sr.MinimumHosts
		out.SuccessRateRequestVolume = sr.RequestVolume
		out.SuccessRateStdevFactor = sr.StdevFactor
	} else {
		out.SuccessRateMinimumHosts = off // absent: no success-rate detector
	}
	out.Disabled = out.Consecutive5xx < 0 && out.ConsecutiveGatewayFailure < 0 && out.SuccessRateMinimumHosts < 0
	return c
}

// transportOptions maps a service's upstream section, reading its TLS
// files.
func transportOptions(u config.Upstream) (proxy.TransportOptions, error) {
	if u.TLS != nil && u.TLS.TLCP {
		dial, err := upstreamTLCP(u.TLS)
		if err != nil {
			return proxy.TransportOptions{}, fmt.Errorf("upstream.tls: %w", err)
		}
		u.TLS = nil
		o, err := transportOptions(u)
		o.DialTLS = dial
		return o, err
	}
	tlsCfg, err := u.TLS.ClientConfig()
	if err != nil {
		return proxy.TransportOptions{}, fmt.Errorf("upstream.tls: %w", err)
	}
	return proxy.TransportOptions{
		Protocol:                u.Protocol,
		DialTimeout:             time.Duration(u.DialTimeout),
		TLSHandshakeTimeout:     time.Duration(u.TLSHandshakeTimeout),
		ResponseHeaderTimeout:   time.Duration(u.ResponseHeaderTimeout), // 0 is none in both
		IdleConnTimeout:         durationOrOff(u.IdleConnTimeout),       // 0s: kept until the instance closes them
		MaxIdleConnsPerInstance: offIfZero(u.MaxIdleConnsPerInstance),   // 0: none kept
		TLS:                     tlsCfg,
	}, nil
}

// breakerConfig maps a breaker section (of a service or a route). Callers
// add the name and the state-change hook.
func breakerConfig(c config.Breaker) breaker.Config {
	bc := breaker.Config{
		ConsecutiveFailures: offIfZero(c.ConsecutiveFailures),
		FailureRatio:        fractionOrOff(c.FailureRatio),
		MinRequests:         c.MinRequests,
		Window:              time.Duration(c.Window),
		SlowCallThreshold:   time.Duration(c.SlowCallThreshold), // 0 disables in both
		SlowCallRatio:       c.SlowCallRatio.Fraction(),
		OpenTimeout:         time.Duration(c.OpenTimeout),
		HalfOpenProbes:      c.HalfOpenProbes,
	}
	if c.SlowCallRatio == 0 {
		// The library has no "off" ratio (its 0 means 50%); without a
		// threshold no call is slow.
		bc.SlowCallThreshold = 0
	}
	return bc
}

// budgetWindow is how far back a route's retry budget counts, as the
// budget's doc in the file says.
const budgetWindow = 10 * time.Second

// budgetConfig maps a route's retry budget.
func budgetConfig(b config.Budget) resilience.BudgetConfig {
	ratio := b.Ratio
	if ratio == 0 {
		ratio = off // no retries beyond min_per_second
	}
	return resilience.BudgetConfig{
		Ratio:        ratio,
		MinPerSecond: offIfZero(b.MinPerSecond),
		Window:       budgetWindow,
	}
}

// staleConfig maps a route's serve-stale fallback. Every value has a
// minimum above zero in the file.
func staleConfig(s config.StaleFallback) resilience.StaleConfig {
	return resilience.StaleConfig{
		TTL:           time.Duration(s.TTL),
		MaxBytes:      int64(s.MaxBytes),
		MaxEntryBytes: int64(s.MaxEntryBytes),
	}
}

// colorConfig maps the gray section: how the traffic color travels.
func colorConfig(g config.Gray) (color.Config, error) {
	cc := color.Config{
		Header:     g.Header,
		BaggageKey: g.BaggageKey,
		SignTTL:    time.Duration(g.SignTTL), // 0s: no tokens, in both
	}
	for _, n := range g.TrustedNetworks {
		p, err := config.ParsePrefix(n)
		if err != nil {
			return color.Config{}, err
		}
		cc.TrustedNets = append(cc.TrustedNets, p)
	}
	for _, k := range g.Keys {
		cc.Keys = append(cc.Keys, []byte(k))
	}
	return cc, nil
}

// staticInstances maps a static discovery source's instances.
func staticInstances(s config.StaticSource) ([]discovery.Instance, error) {
	ins := make([]discovery.Instance, 0, len(s.Instances))
	for _, si := range s.Instances {
		ap, err := netip.ParseAddrPort(si.Addr)
		if err != nil {
			return nil, fmt.Errorf("static instance %q: %w", si.Addr, err)
		}
		ins = append(ins, discovery.Instance{
			ID:       discovery.AddrID(ap),
			Addr:     ap,
			Weight:   uint32(si.Weight), // 0 drains, in both
			Locality: discovery.Locality{Cloud: si.Cloud, Region: si.Region, Zone: si.Zone},
			Labels:   si.Labels,
			Source:   "static",
		})
	}
	return ins, nil
}

// nacosConfig maps a nacos discovery source of service, reading its
// password and TLS files. Every duration has a minimum above zero in the
// file, and the names' defaults are filled there, so every value is passed
// as is.
func nacosConfig(service, sourceName string, c *config.NacosSource) (nacos.Config, error) {
	pw, err := c.Password()
	if err != nil {
		return nacos.Config{}, err
	}
	tlsCfg, err := c.TLS.ClientConfig()
	if err != nil {
		return nacos.Config{}, fmt.Errorf("tls: %w", err)
	}
	return nacos.Config{
		Service:      service,
		Name:         c.Name, // empty: the service's name, in both
		Namespace:    c.Namespace,
		Group:        c.Group,
		Clusters:     c.Clusters,
		Servers:      c.Servers,
		TLS:          tlsCfg,
		Username:     c.Username,
		Password:     pw,
		Interval:     time.Duration(c.Interval),
		Timeout:      time.Duration(c.Timeout),
		EmptyGrace:   time.Duration(c.EmptyGrace),
		Locality:     discovery.Locality{Cloud: c.Cloud, Region: c.Region, Zone: c.Zone},
		LocalityKeys: nacos.LocalityKeys(c.LocalityKeys),
		SourceName:   sourceName,
	}, nil
}

// dropGuardConfig maps discovery.drop_guard onto the aggregator's guard:
// share 0% is the guard off, as the library's DropShare 0 is.
func dropGuardConfig(d config.DropGuard) discovery.AggregatorConfig {
	return discovery.AggregatorConfig{
		DropShare:   d.Share.Fraction(),
		DropReports: d.Reports,
		DropAfter:   time.Duration(d.After),
	}
}

// kubernetesConfig maps a kubernetes discovery source of service. As for
// nacos, every value is passed as is.
func kubernetesConfig(service, sourceName string, c *config.KubernetesSource) kubernetes.Config {
	return kubernetes.Config{
		Service:      service,
		Name:         c.Name, // empty: the service's name, in both
		Namespace:    c.Namespace,
		Port:         c.Port,
		Kubeconfig:   c.Kubeconfig,
		Context:      c.Context,
		NodeLocality: c.NodeLocality,
		CloudLabel:   c.CloudLabel,
		Resync:       time.Duration(c.Resync),
		Locality:     discovery.Locality{Cloud: c.Cloud, Region: c.Region, Zone: c.Zone},
		SourceName:   sourceName,
	}
}

// consulConfig maps a consul discovery source of service, reading its
// token and TLS files. As for nacos, every value is passed as is.
func consulConfig(service, sourceName string, c *config.ConsulSource) (consul.Config, error) {
	token, err := c.Token()
	if err != nil {
		return consul.Config{}, err
	}
	tlsCfg, err := c.TLS.ClientConfig()
	if err != nil {
		return consul.Config{}, fmt.Errorf("tls: %w", err)
	}
	return consul.Config{
		Service:      service,
		Name:         c.Name, // empty: the service's name, in both
		Datacenter:   c.Datacenter,
		Tags:         c.Tags,
		OnlyPassing:  c.OnlyPassing,
		Stale:        c.Stale,
		Servers:      c.Servers,
		TLS:          tlsCfg,
		Token:        token,
		Wait:         time.Duration(c.Wait),
		Timeout:      time.Duration(c.Timeout),
		RateInterval: time.Duration(c.RateInterval),
		Locality:     discovery.Locality{Cloud: c.Cloud, Region: c.Region, Zone: c.Zone},
		LocalityKeys: consul.LocalityKeys(c.LocalityKeys),
		SourceName:   sourceName,
	}, nil
}
