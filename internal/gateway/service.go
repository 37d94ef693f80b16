package gateway

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/duohuo/duohuo/balancer"
	"github.com/duohuo/duohuo/breaker"
	"github.com/duohuo/duohuo/discovery"
	"github.com/duohuo/duohuo/discovery/consul"
	"github.com/duohuo/duohuo/discovery/kubernetes"
	"github.com/duohuo/duohuo/discovery/nacos"
	"github.com/duohuo/duohuo/discovery/static"
	"github.com/duohuo/duohuo/gray"
	"github.com/duohuo/duohuo/health"
	"github.com/duohuo/duohuo/internal/config"
	"github.com/duohuo/duohuo/internal/cowmap"
	"github.com/duohuo/duohuo/internal/proxy"
)

// service is one upstream service at run time: its balancer, health tracker,
// transport and the goroutine that keeps the balancer in step with discovery
// and health. It lives from one reload to the reload that changes or removes
// its configuration.
type service struct {
	name    string
	cfg     config.Service // as configured, to tell whether a reload changed it
	scheme  string
	bal     *balancer.Balancer
	tracker *health.Tracker
	tr      *proxy.Transport
	breaker *breaker.Group // per instance; nil when disabled
	agg     *discovery.Aggregator
	sources []string // names of this service's sources in agg
	m       *metrics
	log     *slog.Logger

	inflight atomic.Int64 // requests using the service now; retire waits for 0

	// Gray lanes: per route with a gray policy, one balancer per subset,
	// rebuilt by sync whenever the view, health or a policy changes.
	balCfg     balancer.Config
	grayStore  *gray.Store              // set at creation, never changed
	routeNames atomic.Pointer[[]string] // routes served by this service
	lanes      atomic.Pointer[map[string]*lanes]
	lanesMu    sync.Mutex                                // serialises lane builds (sync and lanesFor)
	eps        atomic.Pointer[[]balancer.Endpoint]       // the endpoints of the last sync
	tiers      atomic.Pointer[map[string]discovery.Tier] // instance ID → locality tier, for retries
	kick       chan struct{}                             // asks the loop to sync (a gray policy changed)
	resync     atomic.Int64                              // when (Unix ns) a suspicion ends and the loop must sync again; 0: none

	// lastStatus is the health status of each instance at the previous
	// sync, to count and log transitions. Only sync touches it, and sync
	// runs on the loop goroutine (or before it starts).
	lastStatus map[string]health.Status

	// suspect holds, per locality tier, until when (Unix nanoseconds) the
	// tier is suspect: attempts on several of its instances outlived the
	// adaptive per-try deadline (see suspectTier). A cloud whose
	// instances go silent together has likely gone silent whole, and their
	// health has not caught up: while suspect, the tier's instances count as unhealthy, so that new
	// requests go to the next tier (or, if every tier is suspect, panic
	// mode spreads them over all), and attempts already waiting there get
	// their hedge without waiting for their own deadline.
	suspect [4]atomic.Int64

	silentMu sync.Mutex         // guards silent
	silent   [4][]silentAttempt // recent silent attempts per tier

	attempts cowmap.Map[string, *attemptSeries] // by instance ID

	changes     <-chan struct{} // the aggregator's, subscribed before the sources were added
	unsubscribe func()
	cancel      context.CancelFunc // nil until start
	done        chan struct{}      // closed when the sync loop returns
}

// newService builds a service and adds its sources to agg; start starts its
// sync loop. gen makes source names unique across reloads.
func newService(sc config.Service, site discovery.Locality, agg *discovery.Aggregator, store *gray.Store, baseDir string, gen uint64, m *metrics, log *slog.Logger) (*service, error) {
	balCfg, err := balancerConfig(sc, site)
	if err != nil {
		return nil, fmt.Errorf("service %q: %w", sc.Name, err)
	}
	bal, err := balancer.New(balCfg)
	if err != nil {
		return nil, fmt.Errorf("service %q: %w", sc.Name, err)
	}
	topts, err := transportOptions(sc.Upstream)
	if err != nil {
		return nil, fmt.Errorf("service %q: %w", sc.Name, err)
	}
	tracker, err := health.New(healthConfig(sc.Health, topts))
	if err != nil {
		return nil, fmt.Errorf("service %q: %w", sc.Name, err)
	}
	s := &service{
		balCfg:    balCfg,
		grayStore: store,
		kick:      make(chan struct{}, 1),
		name:      sc.Name,
		cfg:       sc,
		scheme:    "http",
		bal:       bal,
		tracker:   tracker,
		tr:        proxy.NewTransport(topts),
		agg:       agg,
		m:         m,
		log:       log.With("service", sc.Name),
		done:      make(chan struct{}),
	}
	if sc.Upstream.TLS != nil {
		s.scheme = "https"
	}
	if !sc.Breaker.Disabled {
		g, err := breaker.NewGroup(m.breakerHooks(breakerConfig(sc.Breaker), sc.Name, "instance"))
		if err != nil {
			tracker.Close()
			return nil, fmt.Errorf("service %q: breaker: %w", sc.Name, err)
		}
		s.breaker = g
	}
	noLanes := map[string]*lanes{}
	s.lanes.Store(&noLanes)

	// Subscribe before adding sources so that no change is missed.
	changes, unsubscribe := agg.Subscribe()
	for i, ds := range sc.Discovery {
		src, err := sourceFor(sc.Name, i, ds, baseDir, gen, s.log)
		if err == nil {
			err = agg.Add(src)
		}
		if err != nil {
			unsubscribe()
			s.removeSources()
			tracker.Close()
			return nil, fmt.Errorf("service %q: discovery[%d]: %w", sc.Name, i, err)
		}
		s.sources = append(s.sources, src.Name())
	}
	s.changes, s.unsubscribe = changes, unsubscribe
	return s, nil
}

// start fills the balancer from what the sources reported so far and starts
// the sync loop. It is called once.
func (s *service) start() {
	ctx, cancel := context.WithCancel(context.Background())
	s.cancel = cancel
	s.sync()
	go s.loop(ctx, s.changes, s.unsubscribe)
}

// sourceFor builds the discovery source for one entry of a service's
// discovery list. Every source reports only its own service, so that a shared
// instances file cannot add instances to another service.
func sourceFor(service string, i int, ds config.DiscoverySource, baseDir string, gen uint64, log *slog.Logger) (discovery.Source, error) {
	name := fmt.Sprintf("%s/%d#%d", service, i, gen)
	switch {
	case ds.Static != nil:
		ins, err := staticInstances(*ds.Static)
		if err != nil {
			return nil, err
		}
		return static.New("static:"+name, map[string][]discovery.Instance{service: ins}), nil
	case ds.File != nil:
		return static.NewFile(inDir(baseDir, ds.File.Path), static.FileConfig{Name: "file:" + name, Service: service, Logger: log}), nil
	case ds.DNS != nil:
		return newDNSSource(service, name, ds.DNS)
	case ds.Nacos != nil:
		c := *ds.Nacos
		c.PasswordFile = inDir(baseDir, c.PasswordFile)
		nc, err := nacosConfig(service, "nacos:"+name, &c)
		if err != nil {
			return nil, fmt.Errorf("nacos: %w", err)
		}
		return nacos.NewSource(nc)
	case ds.Consul != nil:
		c := *ds.Consul
		c.TokenFile = inDir(baseDir, c.TokenFile)
		cc, err := consulConfig(service, "consul:"+name, &c)
		if err != nil {
			return nil, fmt.Errorf("consul: %w", err)
		}
		return consul.NewSource(cc)
	case ds.Kubernetes != nil:
		c := *ds.Kubernetes
		c.Kubeconfig = inDir(baseDir, c.Kubeconfig)
		src, err := kubernetes.NewSource(kubernetesConfig(service, "kubernetes:"+name, &c))
		if err != nil {
			return nil, err
		}
		return src, nil
	}
	return nil, fmt.Errorf("no source given")
}

// inDir returns path relative to baseDir when it is relative and baseDir is
// set (a Config from config.Load has absolute paths already).
func inDir(baseDir, path string) string {
	if baseDir != "" && len(path) > 0 && path[0] != '/' {
		return baseDir + "/" + path
	}
	return path
}

// loop keeps the balancer in step with discovery and health until ctx ends.
func (s *service) loop(ctx context.Context, changes <-chan struct{}, unsubscribe func()) {
	defer close(s.done)
	defer unsubscribe()
	hc := s.tracker.Changes()
	wake := time.NewTimer(time.Hour)
	defer wake.Stop()
	for {
		if at := s.resync.Load(); at != 0 {
			wake.Reset(time.Until(time.Unix(0, at)) + time.Millisecond)
		}
		select {
		case <-ctx.Done():
			return
		case _, ok := <-changes:
			if !ok {
				return
			}
		case <-hc:
		case <-s.kick:
		case <-wake.C:
		}
		s.sync()
	}
}

// sync rebuilds the balancer's endpoints from the current view and health.
func (s *service) sync() {
	view := s.agg.View(s.name)
	if view == nil {
		view = &discovery.ServiceView{Service: s.name}
	}
	s.tracker.Update(*view)
	states := s.tracker.Snapshot()
	byID := make(map[string]health.State, len(states))
	status := make(map[string]health.Status, len(states))
	for _, st := range states {
		byID[st.ID] = st
		status[st.ID] = st.Status
		prev, known := s.lastStatus[st.ID]
		if known && prev == st.Status {
			continue
		}
		out := st.Status == health.Ejected || st.Status == health.Unhealthy
		if out {
			s.m.ejections.WithLabelValues(s.name).Inc()
		}
		if known || out {
			s.log.Info("instance health changed", "instance", st.ID, "from", prev.String(), "to", st.Status.String(), "reason", st.Reason)
		}
	}
	s.lastStatus = status
	tiers := make(map[string]discovery.Tier, len(view.Instances))
	for _, in := range view.Instances {
		tiers[in.ID] = in.Locality.TierFrom(s.balCfg.Local)
	}
	s.tiers.Store(&tiers)
	now := time.Now().UnixNano()
	var suspect [4]bool
	var wake int64 // when the earliest suspicion ends
	for t := range s.suspect {
		if until := s.suspect[t].Load(); until > now {
			suspect[t] = true
			if wake == 0 || until < wake {
				wake = until
			}
		}
	}
	s.resync.Store(wake)
	eps := make([]balancer.Endpoint, 0, len(view.Instances))
	for _, in := range view.Instances {
		ep := balancer.Endpoint{Instance: in, Healthy: true}
		if st, ok := byID[in.ID]; ok {
			ep.Healthy = st.Status.InService()
			ep.Weight = st.Weight
		}
		if t := tiers[in.ID]; int(t) < len(suspect) && suspect[t] {
			ep.Healthy = false
		}
		eps = append(eps, ep)
	}
	if s.breaker != nil {
		s.breaker.Retain(func(id string) bool { _, ok := byID[id]; return ok })
	}
	if err := s.bal.Update(eps); err != nil {
		s.log.Warn("balancer update refused; the previous instances keep serving", "err", err)
		return
	}
	s.syncLanes(eps)
	st := s.bal.State()
	for t, ts := range st.Tiers {
		s.m.healthy.WithLabelValues(s.name, tierName(t)).Set(float64(ts.Healthy))
		s.m.instances.WithLabelValues(s.name, tierName(t)).Set(float64(ts.Total))
	}
}

// suspectFor is how long a tier stays suspect; each further silent attempt
// renews it. Outlier detection takes over within it: the attempts that were
// waiting there time out and eject their instances.
const suspectFor = time.Second

// A tier turns suspect when suspectAttempts attempts on at least two of its
// instances went silent within suspectWindow: one slow request is the tail
// of a healthy service, several on different instances at once are a
// cloud going silent.
const (
	suspectAttempts = 3
	suspectWindow   = time.Second
)

// silentAttempt is an attempt that outlived the adaptive per-try deadline.
type silentAttempt struct {
	id string
	at time.Time
}

// suspectTier records that an attempt on instance id of tier t went silent,
// and marks the tier suspect once the evidence is enough (see
// suspectAttempts); the first mark rebuilds the balancer.
func (s *service) suspectTier(t discovery.Tier, id string) {
	if int(t) >= len(s.suspect) {
		return
	}
	now := time.Now()
	if s.isSuspect(t) {
		s.suspect[t].Store(now.Add(suspectFor).UnixNano())
		return
	}
	s.silentMu.Lock()
	recent := s.silent[t][:0]
	for _, a := range s.silent[t] {
		if now.Sub(a.at) < suspectWindow {
			recent = append(recent, a)
		}
	}
	recent = append(recent, silentAttempt{id, now})
	if len(recent) > 2*suspectAttempts {
		recent = recent[len(recent)-2*suspectAttempts:]
	}
	s.silent[t] = recent
	others := false
	for _, a := range recent {
		others = others || a.id != id
	}
	enough := len(recent) >= suspectAttempts && others
	if enough {
		s.silent[t] = nil
	}
	s.silentMu.Unlock()
	if !enough {
		return
	}
	if old := s.suspect[t].Swap(now.Add(suspectFor).UnixNano()); old < now.UnixNano() {
		s.log.Warn("attempts on several instances went silent past their per-try deadline; their locality is suspect", "tier", tierName(int(t)), "for", suspectFor)
		s.requestKick()
	}
}

// isSuspect reports whether tier t is suspect now.
func (s *service) isSuspect(t discovery.Tier) bool {
	return int(t) < len(s.suspect) && s.suspect[t].Load() > time.Now().UnixNano()
}

// tierOf returns the locality tier of instance id as of the last sync.
func (s *service) tierOf(id string) (discovery.Tier, bool) {
	m := s.tiers.Load()
	if m == nil {
		return 0, false
	}
	t, ok := (*m)[id]
	return t, ok
}

// attemptSeries returns the attempt counters of an instance.
func (s *service) attemptSeries(in *discovery.Instance) *attemptSeries {
	if a, ok := s.attempts.Load(in.ID); ok {
		return a
	}
	return s.attempts.LoadOrMake(in.ID, func() *attemptSeries {
		return s.m.attemptSeriesFor(s.name, in.ID, in.Locality.Cloud)
	})
}

// removeSources takes the service's sources out of the aggregator. The
// list itself is left as it is: it is written once, when the service is
// built, so that the admin API may read it while the service closes.
func (s *service) removeSources() {
	for _, n := range s.sources {
		s.agg.Remove(n)
	}
}

// close stops the service: its sync loop, sources, probes and idle
// connections. Requests still using it must have finished (see retire).
func (s *service) close() {
	if s.cancel != nil {
		s.cancel()
		<-s.done
	} else if s.unsubscribe != nil {
		s.unsubscribe() // never started
	}
	s.removeSources()
	s.tracker.Close()
	s.tr.CloseIdleConnections()
}
