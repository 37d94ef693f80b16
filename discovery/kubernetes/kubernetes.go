package kubernetes

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/duohuo/duohuo/discovery"
)

// The source uses client-go's informer (list, then watch from the list's
// resource version, relist on expiry, bookmarks, backoff) rather than its
// own watch loop: that machinery is where Kubernetes clients go wrong, and
// client-go is the reference implementation of it. It reads the objects
// with client-go's dynamic client, as unstructured JSON converted into the
// few fields of types.go, not with the typed clients: those register
// every API group of k8s.io/api in one scheme and would add some 35 MB to
// the binary, where the dynamic client and the informer add a few.

// Errors that callers branch on.
var (
	// ErrConfig means a Config is unusable; NewSource says which field.
	ErrConfig = errors.New("kubernetes: bad config")
	// ErrBadEndpoint is wrapped by the error recorded for endpoints that
	// cannot be instances (an address that is not an IP, a port missing
	// from the slice). They are left out; the rest are served.
	ErrBadEndpoint = errors.New("kubernetes: bad endpoint")
)

// Label keys that Kubernetes defines.
const (
	// ServiceNameLabel is the label of an EndpointSlice that names its
	// Service.
	ServiceNameLabel = "kubernetes.io/service-name"
	// RegionLabel is the node label of its region.
	RegionLabel = "topology.kubernetes.io/region"
	// ZoneLabel is the node label of its zone.
	ZoneLabel = "topology.kubernetes.io/zone"
)

// The resources the source reads.
var (
	endpointSlices = schema.GroupVersionResource{Group: "discovery.k8s.io", Version: "v1", Resource: "endpointslices"}
	nodesResource  = schema.GroupVersionResource{Version: "v1", Resource: "nodes"}
)

// Config configures a [Source]. Service is required; every other zero
// field takes the default written on it.
type Config struct {
	// Service is the duohuo service the instances belong to.
	Service string
	// Name is the Kubernetes Service's name. If empty, Service.
	Name string
	// Namespace is the Service's namespace. If empty, the namespace of
	// the kubeconfig's context, or "default"; in the cluster, the pod's
	// own (from the service account).
	Namespace string
	// Port selects the port of the slices: a port name ("http") or a
	// number ("8080"). If empty, the slices must have exactly one port.
	Port string

	// Kubeconfig is the path of a kubeconfig file. If empty, the
	// in-cluster configuration (the pod's service account), or, outside a
	// cluster, $KUBECONFIG and ~/.kube/config.
	Kubeconfig string
	// Context is the kubeconfig context to use. If empty, its current
	// context.
	Context string
	// REST, when not nil, is the client configuration to use instead of
	// Kubeconfig and Context (for programs that already have one).
	REST *rest.Config

	// Locality is stamped on every instance. The endpoint's zone, when
	// it has one, overrides Locality.Zone.
	Locality discovery.Locality
	// NodeLocality takes the region (RegionLabel) and, with CloudLabel,
	// the cloud of an endpoint from its node's labels, and the zone
	// (ZoneLabel) when the endpoint has none. It needs list and watch on
	// nodes.
	NodeLocality bool
	// CloudLabel is the node label that holds the cloud, with
	// NodeLocality. If empty, the cloud is Locality.Cloud.
	CloudLabel string

	// Resync is how often the informer hands every slice again to the
	// source, which recomputes the view: a safety net, not the way
	// changes arrive. If zero, 10 minutes.
	Resync time.Duration

	// SourceName is the source's name. If empty, "kubernetes:" followed
	// by Namespace/Name.
	SourceName string
}

// Source follows the EndpointSlices of one Service. It is safe for
// concurrent use; each Watch runs its own informers.
type Source struct {
	cfg   Config
	name  string
	rest  *rest.Config
	ns    string
	port  portSel
	nodes bool
}

var _ discovery.Source = (*Source)(nil)

// portSel is Config.Port parsed.
type portSel struct {
	name   string
	number int32 // 0: by name, or the only port
}

// NewSource checks cfg, loads the client configuration and returns a
// Source. It does not contact the cluster. The error wraps [ErrConfig] and
// names the field.
func NewSource(cfg Config) (*Source, error) {
	if err := discovery.CheckService(cfg.Service); err != nil {
		return nil, fmt.Errorf("%w: Service: %w", ErrConfig, err)
	}
	cfg.Name = cmp.Or(cfg.Name, cfg.Service)
	if errs := validation.IsDNS1035Label(cfg.Name); len(errs) > 0 {
		return nil, fmt.Errorf("%w: Name %q is not a Service name: %s", ErrConfig, cfg.Name, strings.Join(errs, "; "))
	}
	if cfg.Namespace != "" {
		if errs := validation.IsDNS1123Label(cfg.Namespace); len(errs) > 0 {
			return nil, fmt.Errorf("%w: Namespace %q: %s", ErrConfig, cfg.Namespace, strings.Join(errs, "; "))
		}
	}
	var port portSel
	if cfg.Port != "" {
		if n, err := strconv.ParseInt(cfg.Port, 10, 32); err == nil {
			if n < 1 || n > 65535 {
				return nil, fmt.Errorf("%w: Port %s is outside 1..65535", ErrConfig, cfg.Port)
			}
			port.number = int32(n)
		} else if errs := validation.IsValidPortName(cfg.Port); len(errs) > 0 {
			return nil, fmt.Errorf("%w: Port %q is neither a number nor a port name: %s", ErrConfig, cfg.Port, strings.Join(errs, "; "))
		} else {
			port.name = cfg.Port
		}
	}
	if cfg.CloudLabel != "" {
		if errs := validation.IsQualifiedName(cfg.CloudLabel); len(errs) > 0 {
			return nil, fmt.Errorf("%w: CloudLabel %q: %s", ErrConfig, cfg.CloudLabel, strings.Join(errs, "; "))
		}
	}
	if cfg.Resync < 0 {
		return nil, fmt.Errorf("%w: Resync %v is negative", ErrConfig, cfg.Resync)
	}
	if cfg.Resync == 0 {
		cfg.Resync = 10 * time.Minute
	}
	rc, ns, err := restConfig(cfg)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrConfig, err)
	}
	ns = cmp.Or(cfg.Namespace, ns, metav1.NamespaceDefault)
	name := cmp.Or(cfg.SourceName, "kubernetes:"+ns+"/"+cfg.Name)
	return &Source{cfg: cfg, name: name, rest: rc, ns: ns, port: port, nodes: cfg.NodeLocality}, nil
}

// restConfig returns the client configuration and the namespace it
// implies ("" if none).
func restConfig(cfg Config) (*rest.Config, string, error) {
	if cfg.REST != nil {
		return rest.CopyConfig(cfg.REST), "", nil
	}
	if cfg.Kubeconfig == "" && cfg.Context == "" {
		if rc, err := rest.InClusterConfig(); err == nil {
			ns, _ := os.ReadFile(namespaceFile)
			return withUserAgent(rc), strings.TrimSpace(string(ns)), nil
		}
	}
	rules := clientcmd.NewDefaultClientConfigLoadingRules()
	if cfg.Kubeconfig != "" {
		rules.ExplicitPath = cfg.Kubeconfig
	}
	cc := clientcmd.NewNonInteractiveDeferredLoadingClientConfig(rules, &clientcmd.ConfigOverrides{CurrentContext: cfg.Context})
	rc, err := cc.ClientConfig()
	if err != nil {
		where := "Kubeconfig"
		if cfg.Kubeconfig == "" {
			where = "no in-cluster configuration and no kubeconfig ($KUBECONFIG, ~/.kube/config)"
		}
		return nil, "", fmt.Errorf("%s: %w", where, err)
	}
	ns, _, err := cc.Namespace()
	if err != nil {
		ns = ""
	}
	return withUserAgent(rc), ns, nil
}

// namespaceFile holds the pod's namespace, next to its service account's
// token.
const namespaceFile = "/var/run/secrets/kubernetes.io/serviceaccount/namespace"

func withUserAgent(rc *rest.Config) *rest.Config {
	rc.UserAgent = "duohuo"
	return rc
}

// Name returns the source's name.
func (s *Source) Name() string { return s.name }

// Watch runs an EndpointSlice informer (and a Node informer with
// NodeLocality) and reports the Service's instances after the first list
// and after every change, until ctx is done. The informers keep their
// last state while the API server cannot be reached, so the last view
// keeps serving; each failed list or watch is recorded with Updater.Fail.
func (s *Source) Watch(ctx context.Context, u discovery.Updater) error {
	dc, err := dynamic.NewForConfig(s.rest)
	if err != nil {
		return fmt.Errorf("kubernetes: %w", err)
	}
	// Reports are computed on one goroutine from a wake-up signal, so
	// that a burst of events makes one report and no handler blocks the
	// informer.
	wake := make(chan struct{}, 1)
	poke := func() {
		select {
		case wake <- struct{}{}:
		default:
		}
	}
	// client-go's reflector retries a refused connection without telling
	// its error handler, so an API server that is down would leave the
	// source looking fresh: every failed list or watch is recorded here,
	// and the first success after one reports again, which clears it.
	var failing atomic.Bool
	calls := calls{
		fail: func(err error) {
			failing.Store(true)
			u.Fail(fmt.Errorf("kubernetes: %s: %w", s.name, err))
		},
		ok: func() {
			if failing.Swap(false) {
				poke()
			}
		},
	}
	sel := labels.Set{ServiceNameLabel: s.cfg.Name}.AsSelector().String()
	esInf := informer(dc.Resource(endpointSlices).Namespace(s.ns), sel, s.cfg.Resync, calls)
	var nodes cache.SharedIndexInformer
	if s.nodes {
		nodes = informer(dc.Resource(nodesResource), "", s.cfg.Resync, calls)
	}
	handler := cache.ResourceEventHandlerFuncs{
		AddFunc:    func(any) { poke() },
		UpdateFunc: func(any, any) { poke() },
		DeleteFunc: func(any) { poke() },
	}
	if _, err := esInf.AddEventHandler(handler); err != nil {
		return fmt.Errorf("kubernetes: %w", err)
	}
	onError := func(_ context.Context, _ *cache.Reflector, err error) {
		u.Fail(fmt.Errorf("kubernetes: %s: %w", s.name, err))
	}
	if err := esInf.SetWatchErrorHandlerWithContext(onError); err != nil {
		return fmt.Errorf("kubernetes: %w", err)
	}
	synced := []cache.InformerSynced{esInf.HasSynced}
	if nodes != nil {
		if _, err := nodes.AddEventHandler(handler); err != nil {
			return fmt.Errorf("kubernetes: %w", err)
		}
		if err := nodes.SetWatchErrorHandlerWithContext(onError); err != nil {
			return fmt.Errorf("kubernetes: %w", err)
		}
		synced = append(synced, nodes.HasSynced)
	}

	ictx, stop := context.WithCancel(ctx)
	var wg sync.WaitGroup
	defer func() {
		stop()
		wg.Wait()
	}()
	wg.Go(func() { esInf.RunWithContext(ictx) })
	if nodes != nil {
		wg.Go(func() { nodes.RunWithContext(ictx) })
	}
	if !cache.WaitForCacheSync(ctx.Done(), synced...) {
		return ctx.Err()
	}
	for {
		var nodeOf func(string) map[string]string
		if nodes != nil {
			store := nodes.GetStore()
			nodeOf = func(name string) map[string]string {
				o, ok, _ := store.GetByKey(name)
				if !ok {
					return nil
				}
				u, _ := o.(*unstructured.Unstructured)
				return u.GetLabels()
			}
		}
		var list []*EndpointSlice
		var bad []string
		for _, o := range esInf.GetStore().List() {
			es, err := sliceOf(o)
			if err != nil {
				bad = append(bad, err.Error())
				continue
			}
			list = append(list, es)
		}
		// An identical report changes nothing downstream (Updater), so
		// every wake-up reports.
		ins, err := s.instances(list, nodeOf, bad)
		if uerr := u.Update(map[string][]discovery.Instance{s.cfg.Service: ins}); uerr != nil {
			u.Fail(uerr)
		}
		if err != nil {
			u.Fail(err)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-wake:
		}
	}
}

// calls observes the informers' list and watch calls.
type calls struct {
	fail func(error)
	ok   func()
}

func (c calls) done(err error) {
	if err != nil && !errors.Is(err, context.Canceled) {
		c.fail(err)
	} else if err == nil {
		c.ok()
	}
}

// informer returns an informer of the objects of r that match the label
// selector sel ("" for all), as *unstructured.Unstructured, whose list and
// watch calls c observes.
func informer(r dynamic.ResourceInterface, sel string, resync time.Duration, c calls) cache.SharedIndexInformer {
	return cache.NewSharedIndexInformer(&cache.ListWatch{
		ListWithContextFunc: func(ctx context.Context, o metav1.ListOptions) (runtime.Object, error) {
			o.LabelSelector = sel
			l, err := r.List(ctx, o)
			c.done(err)
			return l, err
		},
		WatchFuncWithContext: func(ctx context.Context, o metav1.ListOptions) (watch.Interface, error) {
			o.LabelSelector = sel
			w, err := r.Watch(ctx, o)
			c.done(err)
			return w, err
		},
	}, &unstructured.Unstructured{}, resync, cache.Indexers{})
}

// candidate is one endpoint address with the conditions that decide its
// weight.
type candidate struct {
	in                      discovery.Instance
	ready, serving, closing bool
}

// instances maps slices to instances, sorted by ID, and returns an error
// naming what was left out, if anything: bad (the slices that could not be
// read) and the endpoints that cannot be instances.
func (s *Source) instances(list []*EndpointSlice, nodeOf func(string) map[string]string, bad []string) ([]discovery.Instance, error) {
	// Slices in a stable order, so that an address in two slices (while
	// the controller moves endpoints) is decided the same way each time.
	slices.SortFunc(list, func(a, b *EndpointSlice) int { return strings.Compare(a.Name, b.Name) })
	byID := map[string]int{}
	var cands []candidate
	anyReady := false
	for _, es := range list {
		if es.AddressType != "IPv4" && es.AddressType != "IPv6" {
			continue // FQDN slices: a DNS source's job
		}
		port, ok := s.port.pick(es.Ports)
		if !ok {
			if len(es.Endpoints) > 0 {
				bad = append(bad, fmt.Sprintf("slice %s has no port %s", es.Name, s.port))
			}
			continue
		}
		for _, ep := range es.Endpoints {
			ready := ep.Conditions.Ready == nil || *ep.Conditions.Ready
			serving := ready
			if ep.Conditions.Serving != nil {
				serving = *ep.Conditions.Serving
			}
			closing := ep.Conditions.Terminating != nil && *ep.Conditions.Terminating
			if !ready && !serving {
				continue
			}
			for _, a := range ep.Addresses {
				ip, err := netip.ParseAddr(a)
				if err != nil {
					bad = append(bad, fmt.Sprintf("slice %s: address %q is not an IP", es.Name, a))
					continue
				}
				in := discovery.Instance{
					Addr:     netip.AddrPortFrom(ip.Unmap(), uint16(port)),
					Weight:   discovery.DefaultWeight,
					Locality: s.locality(ep, nodeOf),
					Metadata: metadata(s.ns, es, ep),
				}
				in.ID = discovery.AddrID(in.Addr)
				c := candidate{in: in, ready: ready && !closing, serving: serving, closing: closing}
				if i, dup := byID[in.ID]; dup {
					if c.ready && !cands[i].ready {
						cands[i] = c // the ready copy wins
					}
					continue
				}
				byID[in.ID] = len(cands)
				cands = append(cands, c)
				anyReady = anyReady || c.ready
			}
		}
	}
	out := make([]discovery.Instance, 0, len(cands))
	for _, c := range cands {
		switch {
		case c.ready:
		case !anyReady && c.serving:
			// No ready endpoint: the serving ones take traffic rather
			// than none (kube-proxy's rule for terminating endpoints).
		case c.serving && c.closing:
			c.in.Weight = 0 // draining: no new requests
		default:
			continue // not ready, not terminating: starting or failing
		}
		out = append(out, c.in)
	}
	slices.SortFunc(out, func(a, b discovery.Instance) int { return strings.Compare(a.ID, b.ID) })
	var err error
	if len(bad) > 0 {
		if len(bad) > 5 {
			bad = append(bad[:5], fmt.Sprintf("and %d more", len(bad)-5))
		}
		err = fmt.Errorf("%w: %s: left out: %s", ErrBadEndpoint, s.name, strings.Join(bad, "; "))
	}
	return out, err
}

func (p portSel) String() string {
	switch {
	case p.number != 0:
		return strconv.Itoa(int(p.number))
	case p.name != "":
		return strconv.Quote(p.name)
	}
	return "(the only port)"
}

// pick returns the port of a slice that p selects.
func (p portSel) pick(ports []EndpointPort) (int32, bool) {
	if p.number == 0 && p.name == "" {
		if len(ports) == 1 && ports[0].Port != nil {
			return *ports[0].Port, true
		}
		return 0, false
	}
	for _, sp := range ports {
		if sp.Port == nil {
			continue
		}
		if p.number != 0 && *sp.Port == p.number || p.name != "" && sp.Name != nil && *sp.Name == p.name {
			return *sp.Port, true
		}
	}
	return 0, false
}

// locality is the Config's locality with what the endpoint (and its node)
// says.
func (s *Source) locality(ep Endpoint, nodeOf func(string) map[string]string) discovery.Locality {
	l := s.cfg.Locality
	var nl map[string]string
	if nodeOf != nil && ep.NodeName != nil {
		nl = nodeOf(*ep.NodeName)
	}
	set := func(dst *string, v string) {
		if v != "" && discovery.ValidLocalityPart(v) {
			*dst = v
		}
	}
	if nl != nil {
		set(&l.Region, nl[RegionLabel])
		set(&l.Zone, nl[ZoneLabel])
		if s.cfg.CloudLabel != "" {
			set(&l.Cloud, nl[s.cfg.CloudLabel])
		}
	}
	if ep.Zone != nil {
		set(&l.Zone, *ep.Zone)
	}
	return l
}

// metadata says where the endpoint came from, for people.
func metadata(ns string, es *EndpointSlice, ep Endpoint) map[string]string {
	md := map[string]string{"k8s_namespace": ns, "k8s_slice": es.Name}
	if ep.TargetRef != nil && ep.TargetRef.Kind == "Pod" {
		md["k8s_pod"] = ep.TargetRef.Name
	}
	if ep.NodeName != nil {
		md["k8s_node"] = *ep.NodeName
	}
	if ep.Conditions.Terminating != nil && *ep.Conditions.Terminating {
		md["k8s_terminating"] = "true"
	}
	for k, v := range md {
		if !discovery.ValidMetadata(k, v) {
			delete(md, k)
		}
	}
	return md
}
