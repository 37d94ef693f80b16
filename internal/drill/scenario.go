package drill

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/duohuo/duohuo/fault/tcpproxy"
	"github.com/duohuo/duohuo/internal/demo"
)

// Scenario is one built-in drill: a topology, and a fault injected into it
// in the middle of the run (none for the steady scenarios). Scenarios are
// values; the package's variables are the built-in ones.
type Scenario struct {
	// Name is what --scenario takes.
	Name string
	// Row is the scenario's letter in the drill table of docs/drills.md,
	// which extends the product's load-test table (压测关键指标): a to c
	// are its rows, d to h the drill's own.
	Row string
	// Title is a one-line description.
	Title string
	// Spread runs the gateway without a site, so that traffic spreads over
	// the three clouds (demo.Options.Spread).
	Spread bool
	// Faulty picks the instances the fault acts on; nil for no fault.
	Faulty func(*demo.Topology) []*demo.Backend
	// Inject breaks the faulty instances and Restore repairs them; o gives
	// the drill's latencies. Nil when Toxic is set.
	Inject, Restore func(o Options, bs []*demo.Backend) error
	// Toxic, when set, is a fault of the network rather than of the
	// instances: the demo puts a fault proxy in front of every instance
	// (demo.Options.FaultProxies), and during the fault the proxies of the
	// Faulty instances apply Toxic; with Options.Target, the proxies named
	// in Options.FaultProxies do. The proxies count what arrives from the
	// gateway, which gives the scenario's attempt figures.
	Toxic *tcpproxy.Named
	// Defaults runs the demo gateway with the product's defaults instead
	// of the demo's tuned settings (demo.Options.ProductDefaults).
	Defaults bool
	// Flap, when positive, makes the fault come and go during the fault
	// phase: Flap down, Flap up, and so on.
	Flap time.Duration
}

// HasFault reports whether the scenario injects a fault.
func (s Scenario) HasFault() bool { return s.Faulty != nil }

// Built-in scenarios, in the order of the drill table.
var (
	// Steady is row a: steady traffic within one cloud (单云直连).
	Steady = Scenario{Name: "steady", Row: "a", Title: "steady traffic within the local cloud"}
	// Failover is row b: every instance of the local cloud is killed a
	// quarter into the run and restarted three quarters in (跨云故障转移).
	Failover = Scenario{
		Name: "failover", Row: "b", Title: "every instance of the local cloud killed, then restarted",
		Faulty: localCloud, Inject: stop, Restore: start,
	}
	// Mixed is row c: the gateway has no site, so traffic spreads over the
	// three clouds (三云混合负载均衡).
	Mixed = Scenario{Name: "mixed", Row: "c", Title: "three-cloud mixed load balancing (no preferred locality)", Spread: true}
	// Slow is row d: one local instance answers ten times slower.
	Slow = Scenario{
		Name: "slow", Row: "d", Title: "one local instance ten times slower",
		Faulty: firstLocal,
		Inject: func(o Options, bs []*demo.Backend) error {
			for _, b := range bs {
				b.SetLatency(o.slowLatency())
			}
			return nil
		},
		Restore: func(o Options, bs []*demo.Backend) error {
			for _, b := range bs {
				b.SetLatency(o.serviceTime())
			}
			return nil
		},
	}
	// Errors is row e: one local instance answers every request with 503.
	Errors = Scenario{
		Name: "errors", Row: "e", Title: "one local instance answering 503",
		Faulty: firstLocal,
		Inject: func(_ Options, bs []*demo.Backend) error {
			for _, b := range bs {
				b.SetErrorRate(1)
			}
			return nil
		},
		Restore: func(_ Options, bs []*demo.Backend) error {
			for _, b := range bs {
				b.SetErrorRate(0)
			}
			return nil
		},
	}
	// Flap is row f: the local cloud goes down and up every two seconds
	// during the fault phase.
	Flap = Scenario{
		Name: "flap", Row: "f", Title: "the local cloud flapping: 2s down, 2s up",
		Faulty: localCloud, Inject: stop, Restore: start, Flap: 2 * time.Second,
	}
	// Blackhole is row g: the local cloud goes silent. A quarter into the
	// run its fault proxies start dropping every byte in both directions —
	// connections are accepted, nothing arrives, sockets stay open, as in
	// a network partition — and three quarters in they pass data again.
	// The gateway runs with the product's defaults.
	Blackhole = Scenario{
		Name: "blackhole", Row: "g", Title: "the local cloud silent: its fault proxies drop every byte both ways",
		Faulty: localCloud, Toxic: &blackholeToxic, Defaults: true,
	}
	// Brownout is row h: the local cloud's fault proxies add 500ms each way
	// (so a second per exchange) from a quarter to three quarters into the
	// run. The gateway runs with the product's defaults.
	Brownout = Scenario{
		Name: "brownout", Row: "h", Title: "the local cloud browning out: its fault proxies add 500ms each way",
		Faulty: localCloud, Toxic: &brownoutToxic, Defaults: true,
	}
)

// The toxics of the network scenarios. Their names mark them as the
// drill's, so that restoring a user's proxy removes only what the drill
// set.
var (
	blackholeToxic = tcpproxy.Named{Name: "drill-blackhole", Direction: tcpproxy.Both, Toxic: tcpproxy.Blackhole{}, Toxicity: 1}
	brownoutToxic  = tcpproxy.Named{Name: "drill-brownout", Direction: tcpproxy.Both, Toxic: tcpproxy.Latency{Delay: BrownoutDelay}, Toxicity: 1}
)

// BrownoutDelay is the latency the brownout scenario adds in each
// direction.
const BrownoutDelay = 500 * time.Millisecond

// Scenarios lists the built-in scenarios in order.
var Scenarios = []Scenario{Steady, Failover, Mixed, Slow, Errors, Flap, Blackhole, Brownout}

// ErrUnknownScenario is returned by ParseScenarios for a name it does not
// know.
var ErrUnknownScenario = errors.New("drill: unknown scenario")

// ParseScenarios returns the scenarios named in a comma-separated list of
// names or row letters ("failover,d"); "all" means every built-in
// scenario. Duplicates are kept once, in the order of Scenarios.
func ParseScenarios(list string) ([]Scenario, error) {
	want := map[string]bool{}
	for _, f := range strings.Split(list, ",") {
		f = strings.ToLower(strings.TrimSpace(f))
		if f == "" {
			continue
		}
		if f == "all" {
			for _, s := range Scenarios {
				want[s.Name] = true
			}
			continue
		}
		found := false
		for _, s := range Scenarios {
			if f == s.Name || f == s.Row {
				want[s.Name], found = true, true
			}
		}
		if !found {
			return nil, fmt.Errorf("%w %q (known: all, %s)", ErrUnknownScenario, f, names())
		}
	}
	if len(want) == 0 {
		return nil, fmt.Errorf("%w: none given (known: all, %s)", ErrUnknownScenario, names())
	}
	var out []Scenario
	for _, s := range Scenarios {
		if want[s.Name] {
			out = append(out, s)
		}
	}
	return out, nil
}

func names() string {
	var n []string
	for _, s := range Scenarios {
		n = append(n, s.Name)
	}
	return strings.Join(n, ", ")
}

// localCloud is the cloud the demo gateway runs in.
const localName = "ctyun"

func localCloud(t *demo.Topology) []*demo.Backend { return t.Cloud(localName) }

func firstLocal(t *demo.Topology) []*demo.Backend { return t.Cloud(localName)[:1] }

func stop(_ Options, bs []*demo.Backend) error {
	for _, b := range bs {
		b.Stop()
	}
	return nil
}

// start restarts stopped backends on the addresses they had; it fails only
// if another process took a port meanwhile.
func start(_ Options, bs []*demo.Backend) error {
	var errs []error
	for _, b := range bs {
		if !b.Running() {
			errs = append(errs, b.Start(""))
		}
	}
	return errors.Join(errs...)
}
