package gateway

import (
	"cmp"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"reflect"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/duohuo/duohuo/balancer"
	"github.com/duohuo/duohuo/color"
	"github.com/duohuo/duohuo/discovery"
	"github.com/duohuo/duohuo/fault"
	"github.com/duohuo/duohuo/gray"
	"github.com/duohuo/duohuo/internal/config"
	"github.com/duohuo/duohuo/internal/proxy"
)

// Options configure a Gateway.
type Options struct {
	// Config is the validated configuration (config.Load). Required.
	Config *config.Config
	// BaseDir resolves relative paths in Config (instances files): the
	// config file's directory. "" means the working directory.
	BaseDir string
	// Registerer receives the gateway's metrics. nil means a private
	// registry (metrics are then not exported).
	Registerer prometheus.Registerer
	// Logger receives the gateway's logs. nil means slog.Default().
	Logger *slog.Logger
	// FirstReportWait bounds how long New and Reload wait for the first
	// reports of a new service's discovery sources, so that a service
	// swapped in has its instances from its first request on. A source
	// that has not answered by then (a slow resolver) fills the service
	// when it does. 0 means 5s.
	FirstReportWait time.Duration
	// Global shares the counts of the rate_limits rules with global
	// between the sites (internal/globallimit over the replica). Nil: such
	// a rule admits only its share of the rate, as a site cut off from the
	// others does.
	Global GlobalCounters
}

// Gateway is the data plane of `duohuo serve`: an http.Handler that routes
// each request to a healthy instance of its service, plus the listeners that
// feed it. Create it with New, bind with Start, change it with Reload, stop
// it with Shutdown. Its methods are safe for concurrent use.
type Gateway struct {
	log *slog.Logger
	m   *metrics
	fwd *proxy.Forwarder
	agg *discovery.Aggregator

	table  atomic.Pointer[table] // the live routing snapshot
	global GlobalCounters        // nil: global limits admit their share
	faults *fault.Filter         // fault injection, off unless configured
	gray   *gray.Store           // gray policies per route, versioned
	color  atomic.Pointer[color.Propagator]
	gm     *grayMetrics
	entry  http.Handler // faults, then serve
	trace  *tracing     // nil: no tracing section (tracing.go); set by New, never changed

	// reloadMu serialises New's first configuration and Reloads, which
	// build the next configuration's services without holding mu: the
	// request path never takes either lock, and Ready takes mu only for
	// a moment. cfg, services and gen change only under both locks, so a
	// reload reads them under reloadMu alone.
	reloadMu    sync.Mutex
	gen         uint64          // reload generation, for unique source names
	firstReport time.Duration   // see Options.FirstReportWait
	reloadCtx   context.Context // ended by Shutdown (endReload): a reload stops waiting for first reports
	endReload   context.CancelFunc

	mu        sync.Mutex // guards the fields below, and shutdown
	cfg       *config.Config
	baseDir   string
	services  map[string]*service
	servers   []*http.Server
	addrs     []string
	serveWG   sync.WaitGroup // Serve goroutines
	retireWG  sync.WaitGroup // goroutines closing replaced services
	hedgeWG   sync.WaitGroup // goroutines closing the losers of hedged requests
	stopping  chan struct{}  // closed by Shutdown: retirements stop waiting
	shutdown  bool
	tunnelCtx context.Context // ends upgraded connections on Shutdown
	endTunnel context.CancelFunc
}

// New builds a gateway from opts.Config and starts its control plane
// (discovery sources, health probes). It does not listen yet: see Start.
func New(opts Options) (*Gateway, error) {
	if opts.Config == nil {
		return nil, errors.New("gateway: no config")
	}
	log := opts.Logger
	if log == nil {
		log = slog.Default()
	}
	reg := opts.Registerer
	if reg == nil {
		reg = prometheus.NewRegistry()
	}
	g := &Gateway{
		log:      log,
		m:        newMetrics(reg, int(opts.Config.Metrics.InstanceLabels)),
		fwd:      &proxy.Forwarder{Via: "duohuo"},
		agg:      discovery.NewAggregator(dropGuardConfig(opts.Config.Discovery.DropGuard)),
		services: map[string]*service{},
		baseDir:  opts.BaseDir,
		global:   opts.Global,
		stopping: make(chan struct{}),

		firstReport: cmp.Or(opts.FirstReportWait, defaultFirstReportWait),
	}
	g.tunnelCtx, g.endTunnel = context.WithCancel(context.Background())
	g.reloadCtx, g.endReload = context.WithCancel(context.Background())
	if err := reg.Register(newDiscoveryCollector(g.agg)); err != nil {
		g.agg.Close()
		g.endTunnel()
		g.endReload()
		return nil, fmt.Errorf("gateway: discovery metrics: %w", err)
	}
	// Fault triggers are believed from the peers colors are believed from.
	g.faults = fault.New(fault.Options{Observer: g.m, TrustedPeer: func(a netip.Addr) bool {
		p := g.color.Load()
		return p != nil && p.TrustsPeer(a)
	}})
	tr, err := newTracing(opts.Config.Tracing, reg, log)
	if err != nil {
		g.agg.Close()
		g.endTunnel()
		g.endReload()
		return nil, err
	}
	g.trace = tr
	g.gray = gray.NewStore(gray.StoreConfig{})
	g.gm = newGrayMetrics(reg)
	g.entry = g.faults.Handler(http.HandlerFunc(g.serve))
	if _, err := g.apply(opts.Config); err != nil {
		g.trace.shutdown(context.Background())
		g.agg.Close()
		g.endTunnel()
		g.endReload()
		return nil, err
	}
	// A gray policy changed on the admin API: rebuild the lanes.
	g.serveWG.Add(1)
	go func() {
		defer g.serveWG.Done()
		for {
			select {
			case <-g.tunnelCtx.Done():
				return
			case <-g.gray.Changed():
				g.mu.Lock()
				for _, s := range g.services {
					s.requestKick()
				}
				g.mu.Unlock()
			}
		}
	}()
	return g, nil
}

// Reload applies a new configuration: services whose configuration did not
// change keep running with their health and latency state; new ones start;
// changed or removed ones stop once their in-flight requests finish. The new
// configuration is built aside, new services' discovery included (see
// Options.FirstReportWait), and swapped in atomically: no request fails or
// waits because of a reload, and Ready answers throughout. Reloads run one
// at a time. Listener changes need a restart and are reported as an error
// after everything else was applied.
func (g *Gateway) Reload(cfg *config.Config) error {
	prev, err := g.apply(cfg)
	if err != nil {
		g.m.reloads.WithLabelValues("rejected").Inc()
		return err
	}
	g.m.reloads.WithLabelValues("applied").Inc()
	g.mu.Lock()
	started := len(g.servers) > 0
	g.mu.Unlock()
	if started && !reflect.DeepEqual(prev.Listeners, cfg.Listeners) {
		return errors.New("gateway: listeners changed: restart to apply (routes and services were reloaded)")
	}
	return nil
}

// RefuseReload counts a reload that was refused before it reached the
// gateway (a file that does not load), next to those Reload refuses, in
// duohuo_config_reloads_total{result="rejected"}.
func (g *Gateway) RefuseReload() { g.m.reloads.WithLabelValues("rejected").Inc() }

// hpackTableSize bounds the HTTP/2 header compression tables of a client
// connection (RFC 7541, section 6.5.2: the default SETTINGS_HEADER_TABLE_SIZE).
const hpackTableSize = 4096

// defaultFirstReportWait is Options.FirstReportWait's default.
const defaultFirstReportWait = 5 * time.Second

var errShutDown = errors.New("gateway: shut down")

// apply makes cfg the running configuration and returns the one it
// replaced (nil at the first). Everything slow (new services, their first
// discovery reports, the routing table) is done holding reloadMu only; mu
// is held to swap the result in.
func (g *Gateway) apply(cfg *config.Config) (*config.Config, error) {
	g.reloadMu.Lock()
	defer g.reloadMu.Unlock()
	g.mu.Lock()
	down := g.shutdown
	g.mu.Unlock()
	if down {
		return nil, errShutDown
	}
	g.gen++
	// The drop guard applies to the reports of the new sources too: set
	// before they start.
	dg := dropGuardConfig(cfg.Discovery.DropGuard)
	g.agg.SetDropGuard(dg.DropShare, dg.DropReports, dg.DropAfter)
	site := discovery.Locality{Cloud: cfg.Site.Cloud, Region: cfg.Site.Region, Zone: cfg.Site.Zone}
	sameSite := g.cfg != nil && g.cfg.Site == cfg.Site
	next := make(map[string]*service, len(cfg.Services))
	var created []*service
	fail := func(err error) (*config.Config, error) {
		for _, c := range created {
			c.close()
		}
		return nil, err
	}
	for _, sc := range cfg.Services {
		if old, ok := g.services[sc.Name]; ok && sameSite && reflect.DeepEqual(old.cfg, sc) {
			next[sc.Name] = old
			continue
		}
		s, err := newService(sc, site, g.agg, g.gray, g.baseDir, g.gen, g.m, g.log)
		if err != nil {
			return fail(err)
		}
		created = append(created, s)
		next[sc.Name] = s
	}
	g.awaitFirstReports(created)
	for _, s := range created {
		s.start()
	}
	oldRoutes := map[string]*route{}
	if t := g.table.Load(); t != nil {
		for _, rt := range t.routes {
			oldRoutes[rt.name] = rt
		}
	}
	t := &table{routes: make([]*route, 0, len(cfg.Routes)), limits: compileLimits(cfg.RateLimits, g.m, g.table.Load(), g.global)}
	for _, rc := range cfg.Routes {
		svc, ok := next[rc.Service]
		if !ok { // config.Load checks this; a hand-built Config may not
			return fail(fmt.Errorf("route %q: unknown service %q", rc.Name, rc.Service))
		}
		rt, err := compileRoute(rc, svc, g.m, oldRoutes[rc.Name])
		if err != nil {
			return fail(err)
		}
		rt.limits = limitsFor(t.limits, rc)
		t.routes = append(t.routes, rt)
	}
	t.index = newRouteIndex(t.routes)
	prop, err := newPropagator(cfg.Gray)
	if err != nil {
		return fail(fmt.Errorf("gray: %w", err))
	}
	if err := g.applyGray(cfg); err != nil {
		return fail(fmt.Errorf("gray: %w", err))
	}
	g.color.Store(prop)
	routesOf := map[*service][]string{}
	for _, rt := range t.routes {
		routesOf[rt.svc] = append(routesOf[rt.svc], rt.name)
	}
	for _, s := range next {
		names := routesOf[s]
		s.routeNames.Store(&names)
		s.requestKick()
	}
	// The file's fault rules replace the table only when they changed (or
	// at the first apply): rules set through the admin API for a drill
	// survive a reload that is about something else, as run-time gray
	// policies do.
	if g.cfg == nil || !reflect.DeepEqual(g.cfg.Faults, cfg.Faults) {
		if err := g.faults.Update(faultTable(cfg.Faults)); err != nil {
			return fail(fmt.Errorf("faults: %w", err))
		}
	}

	// The swap: the table for requests, the services for Ready and the
	// admin API.
	g.mu.Lock()
	if g.shutdown {
		g.mu.Unlock()
		return fail(errShutDown)
	}
	g.m.slo.configure(cfg.SLO, t) // before the table: its routes' series read it
	g.table.Store(t)
	prev, old := g.cfg, g.services
	g.services, g.cfg = next, cfg
	g.mu.Unlock()
	for name, s := range old {
		if next[name] != s {
			g.retire(s)
		}
	}
	return prev, nil
}

// awaitFirstReports waits until every source of the services has reported
// (or failed) once, or Options.FirstReportWait has passed, or Shutdown has
// begun.
func (g *Gateway) awaitFirstReports(services []*service) {
	if len(services) == 0 {
		return
	}
	mine := map[string]bool{}
	for _, s := range services {
		for _, n := range s.sources {
			mine[n] = true
		}
	}
	limit := time.NewTimer(g.firstReport)
	defer limit.Stop()
	tick := time.NewTicker(2 * time.Millisecond)
	defer tick.Stop()
	for {
		pending := 0
		for _, st := range g.agg.Status() {
			if mine[st.Name] && st.Updates == 0 && st.Refused == 0 {
				pending++
			}
		}
		if pending == 0 {
			return
		}
		select {
		case <-tick.C:
		case <-g.reloadCtx.Done():
			return
		case <-limit.C:
			g.log.Warn("discovery sources have not answered yet; their services start empty and fill when they do", "pending", pending, "waited", g.firstReport)
			return
		}
	}
}

// retire closes s once the requests that still use it have finished (or
// Shutdown gives up waiting).
func (g *Gateway) retire(s *service) {
	g.retireWG.Add(1)
	go func() {
		defer g.retireWG.Done()
		tick := time.NewTicker(10 * time.Millisecond)
		defer tick.Stop()
		for s.inflight.Load() > 0 {
			select {
			case <-tick.C:
			case <-g.stopping:
				s.close()
				return
			}
		}
		s.close()
	}()
}

// Start binds every configured listener and serves on each in a goroutine
// that Shutdown stops. It returns the first bind error, having closed what
// it had bound.
func (g *Gateway) Start() error {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.shutdown {
		return errors.New("gateway: shut down")
	}
	if len(g.servers) > 0 {
		return errors.New("gateway: already started")
	}
	var raw []net.Listener
	closeAll := func() {
		for _, l := range raw {
			l.Close()
		}
	}
	tlsCfgs := make([]*tls.Config, len(g.cfg.Listeners))
	lis := make([]*listener, len(g.cfg.Listeners))
	for i, lc := range g.cfg.Listeners {
		li, err := listenerOf(lc)
		if err != nil {
			closeAll()
			return err
		}
		lis[i] = li
		if lc.TLS != nil && !lc.TLS.GM() {
			tlsCfgs[i], err = serverTLSConfig(lc.TLS)
		}
		var ln net.Listener
		if err == nil {
			ln, err = net.Listen("tcp", lc.Listen)
		}
		if err != nil {
			closeAll()
			return fmt.Errorf("listener %q: %w", lc.Name, err)
		}
		raw = append(raw, ln)
	}
	// Each listener's connections are capped (clientListener), then
	// secured: TLS by tlsListener, which checks the framing of HTTP/1.x
	// inside; TLCP, alone or beside TLS on one port, by secureListener,
	// whose TLCP connections gmListener checks.
	caps := maxConnections(g.cfg.Listeners, openFileLimit())
	lns := make([]net.Listener, len(raw))
	for i, lc := range g.cfg.Listeners {
		cl := g.newClientListener(raw[i], lc, caps[i])
		switch {
		case lc.TLS != nil && lc.TLS.GM():
			sl, err := secureListener(cl, lc, g.cfg.Crypto.Suites)
			if err != nil {
				closeAll()
				return fmt.Errorf("listener %q: %w", lc.Name, err)
			}
			lns[i] = &gmListener{Listener: sl, maxHead: int(lc.MaxHeaderBytes), refused: cl.refused}
		case tlsCfgs[i] != nil:
			lns[i] = newTLSListener(cl, tlsCfgs[i], handshakeTimeout(lc), int(lc.MaxHeaderBytes))
		default:
			lns[i] = cl
		}
	}
	for i, lc := range g.cfg.Listeners {
		ln := lns[i]
		srv := &http.Server{
			Handler:           g,
			ReadHeaderTimeout: time.Duration(lc.ReadHeaderTimeout),
			ReadTimeout:       time.Duration(lc.ReadTimeout),
			WriteTimeout:      time.Duration(lc.WriteTimeout),
			IdleTimeout:       time.Duration(lc.IdleTimeout),
			MaxHeaderBytes:    int(lc.MaxHeaderBytes),
			ErrorLog:          slog.NewLogLogger(g.log.Handler(), slog.LevelDebug),
			ConnState:         g.connState,
			BaseContext:       lis[i].baseContext,
			ConnContext:       connContext,
		}
		if lc.TLS != nil && lc.TLS.GM() {
			srv.Handler = tlcpRequests(g)
			srv.ConnContext = func(ctx context.Context, c net.Conn) context.Context {
				return tlcpConnContext(connContext(ctx, c), c)
			}
		}
		// HTTP/2 from clients: over TLS by ALPN, and in clear text with
		// prior knowledge (h2c), as Envoy and nginx accept.
		srv.Protocols = new(http.Protocols)
		srv.Protocols.SetHTTP1(true)
		srv.Protocols.SetHTTP2(true)
		srv.Protocols.SetUnencryptedHTTP2(true)
		srv.HTTP2 = &http.HTTP2Config{
			MaxConcurrentStreams: lc.HTTP2MaxConcurrentStreams,
			// The HPACK tables a client may make the gateway keep, per
			// connection: RFC 7541's default, which is also net/http's.
			MaxDecoderHeaderTableSize: hpackTableSize,
			MaxEncoderHeaderTableSize: hpackTableSize,
		}
		g.servers = append(g.servers, srv)
		g.addrs = append(g.addrs, ln.Addr().String())
		g.serveWG.Add(1)
		go func() {
			defer g.serveWG.Done()
			err := srv.Serve(ln) // TLS and TLCP are ln's
			if err != nil && !errors.Is(err, http.ErrServerClosed) {
				g.log.Error("listener stopped", "listener", lc.Name, "err", err)
			}
		}()
		g.log.Info("listening", "listener", lc.Name, "addr", ln.Addr().String(), "max_connections", caps[i])
	}
	return nil
}

func (g *Gateway) connState(c net.Conn, st http.ConnState) {
	endFramingChecks(c, st)
	switch st {
	case http.StateNew:
		g.m.active.Inc()
	case http.StateClosed, http.StateHijacked:
		g.m.active.Dec()
	}
}

// Addrs returns the bound addresses of the listeners, in config order.
func (g *Gateway) Addrs() []string {
	g.mu.Lock()
	defer g.mu.Unlock()
	return append([]string(nil), g.addrs...)
}

// Ready reports whether the gateway can serve: started, and every routed
// service has at least one instance it may pick.
func (g *Gateway) Ready() error {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.shutdown {
		return errors.New("shutting down")
	}
	if len(g.servers) == 0 {
		return errors.New("not started")
	}
	for name, s := range g.services {
		st := s.bal.State()
		n := 0
		for _, ts := range st.Tiers {
			n += ts.Total
		}
		if n == 0 {
			return fmt.Errorf("service %q has no instances", name)
		}
	}
	return nil
}

// Shutdown stops accepting connections, lets in-flight requests finish until
// ctx ends, then stops every service, source and probe and waits for all of
// the gateway's goroutines.
func (g *Gateway) Shutdown(ctx context.Context) error {
	g.mu.Lock()
	if g.shutdown {
		g.mu.Unlock()
		return nil
	}
	g.shutdown = true
	servers := g.servers
	g.mu.Unlock()
	g.endReload()

	var err error
	for _, srv := range servers {
		if e := srv.Shutdown(ctx); e != nil {
			err = errors.Join(err, e)
			srv.Close()
		}
	}
	g.endTunnel()
	g.serveWG.Wait()
	g.hedgeWG.Wait()
	close(g.stopping)
	// A reload in progress stops waiting and closes what it built; later
	// ones are refused.
	g.reloadMu.Lock()
	defer g.reloadMu.Unlock()
	g.retireWG.Wait()
	g.mu.Lock()
	services := g.services
	g.services = nil
	g.mu.Unlock()
	for _, s := range services {
		s.close()
	}
	g.agg.Close()
	// The spans of the last requests, within what is left of ctx.
	if e := g.trace.shutdown(ctx); e != nil {
		err = errors.Join(err, fmt.Errorf("tracing: %w", e))
	}
	return err
}

// Stats returns the balancer state of the named service (locality tiers,
// healthy counts, traffic shares), and the zero State if there is no such
// service.
func (g *Gateway) Stats(service string) balancer.State {
	g.mu.Lock()
	s := g.services[service]
	g.mu.Unlock()
	if s == nil {
		return balancer.State{}
	}
	return s.bal.State()
}

// faultTable turns the file's fault rules into the filter's table. The specs
// were checked when the config was loaded.
func faultTable(c config.Faults) fault.Table {
	t := fault.Table{MaxActive: c.MaxActive}
	for _, r := range c.Rules {
		spec, err := fault.ParseSpec(r.Spec)
		if err != nil {
			continue // config.Load refuses such a file; Update reports the empty spec
		}
		t.Rules = append(t.Rules, fault.Rule{Name: r.Name, Host: r.Host, PathPrefix: r.PathPrefix, Methods: r.Methods, Spec: spec})
	}
	return t
}

// FaultsHandler serves the fault filter's admin API (mounted on /v1/faults):
// see package fault.
func (g *Gateway) FaultsHandler() http.Handler { return g.faults.AdminHandler() }

// PerTryTimeout returns the per-try timeout in force on the named route now:
// the configured one, or the adaptive one derived from the route's recent
// latencies (retry.per_try_timeout: auto); 0 when the route has none or
// does not exist.
func (g *Gateway) PerTryTimeout(route string) time.Duration {
	t := g.table.Load()
	if t == nil {
		return 0
	}
	for _, rt := range t.routes {
		if rt.name == route {
			if rt.perTry > 0 {
				return rt.perTry
			}
			return rt.adaptivePerTry()
		}
	}
	return 0
}
