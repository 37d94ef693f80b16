package kubernetes_test

import (
	"context"
	"io"
	"log/slog"
	"slices"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	corev1client "k8s.io/client-go/kubernetes/typed/core/v1"
	discoveryv1client "k8s.io/client-go/kubernetes/typed/discovery/v1"
	rbacv1client "k8s.io/client-go/kubernetes/typed/rbac/v1"

	"github.com/duohuo/duohuo/discovery"
	"github.com/duohuo/duohuo/discovery/discoverytest"
	"github.com/duohuo/duohuo/discovery/kubernetes"
	"github.com/duohuo/duohuo/internal/kubetest"
)

// reader is the documented RBAC of the source (docs/discovery.md), for a
// user of its own.
var reader = kubetest.User{Name: "duohuo-gateway", Token: "duohuo-gateway-token"}

// cluster starts a kube-apiserver with namespace "shop", and grants reader
// the documented Role in it.
func cluster(t testing.TB) (*kubetest.Server, discoveryv1client.EndpointSliceInterface) {
	t.Helper()
	srv := kubetest.Start(t, reader)
	ctx := t.Context()
	core := corev1client.NewForConfigOrDie(srv.REST())
	if _, err := core.Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "shop"}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	rbac := rbacv1client.NewForConfigOrDie(srv.REST())
	role := &rbacv1.Role{
		ObjectMeta: metav1.ObjectMeta{Name: "duohuo-discovery", Namespace: "shop"},
		Rules:      []rbacv1.PolicyRule{{APIGroups: []string{"discovery.k8s.io"}, Resources: []string{"endpointslices"}, Verbs: []string{"get", "list", "watch"}}},
	}
	if _, err := rbac.Roles("shop").Create(ctx, role, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	rb := &rbacv1.RoleBinding{
		ObjectMeta: metav1.ObjectMeta{Name: "duohuo-discovery", Namespace: "shop"},
		Subjects:   []rbacv1.Subject{{Kind: rbacv1.UserKind, APIGroup: rbacv1.GroupName, Name: reader.Name}},
		RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "Role", Name: "duohuo-discovery"},
	}
	if _, err := rbac.RoleBindings("shop").Create(ctx, rb, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	return srv, discoveryv1client.NewForConfigOrDie(srv.REST()).EndpointSlices("shop")
}

var apiPorts = []discoveryv1.EndpointPort{{Name: ptr("http"), Port: ptr(int32(8080))}, {Name: ptr("metrics"), Port: ptr(int32(9090))}}

// apiEP is an endpoint at addr, ready, or serving and terminating.
func apiEP(addr string, ready bool) discoveryv1.Endpoint {
	c := discoveryv1.EndpointConditions{Ready: ptr(true), Serving: ptr(true), Terminating: ptr(false)}
	if !ready {
		c = discoveryv1.EndpointConditions{Ready: ptr(false), Serving: ptr(true), Terminating: ptr(true)}
	}
	return discoveryv1.Endpoint{Addresses: []string{addr}, Conditions: c,
		TargetRef: &corev1.ObjectReference{Kind: "Pod", Namespace: "shop", Name: "pod-" + strings.ReplaceAll(addr, ".", "-")}}
}

// apiSlice is an IPv4 slice of Service svc.
func apiSlice(name, svc string, eps ...discoveryv1.Endpoint) *discoveryv1.EndpointSlice {
	return &discoveryv1.EndpointSlice{
		ObjectMeta:  metav1.ObjectMeta{Name: name, Labels: map[string]string{kubernetes.ServiceNameLabel: svc}},
		AddressType: discoveryv1.AddressTypeIPv4,
		Ports:       apiPorts,
		Endpoints:   eps,
	}
}

func aggregate(t *testing.T, cfg kubernetes.Config) *discovery.Aggregator {
	t.Helper()
	src, err := kubernetes.NewSource(cfg)
	if err != nil {
		t.Fatal(err)
	}
	agg := discovery.NewAggregator(discovery.AggregatorConfig{Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	t.Cleanup(func() { agg.Close() })
	if err := agg.Add(src); err != nil {
		t.Fatal(err)
	}
	return agg
}

func weights(v *discovery.ServiceView) map[string]uint32 {
	out := map[string]uint32{}
	if v != nil {
		for _, in := range v.Instances {
			out[in.Addr.String()] = in.Weight
		}
	}
	return out
}

func viewIs(want map[string]uint32) func(*discovery.ServiceView) bool {
	return func(v *discovery.ServiceView) bool {
		if v == nil {
			return false
		}
		got := weights(v)
		if len(got) != len(want) {
			return false
		}
		for k, w := range want {
			if gw, ok := got[k]; !ok || gw != w {
				return false
			}
		}
		return true
	}
}

// The source follows a Service's slices through create, a pod that
// starts terminating, a second slice, and deletes, as the user the
// documented Role is bound to, from a kubeconfig file.
func TestFollowsEndpointSlicesOfARealAPIServer(t *testing.T) {
	srv, es := cluster(t)
	ctx := t.Context()
	if _, err := es.Create(ctx, apiSlice("api-a", "api", apiEP("10.0.0.1", true), apiEP("10.0.0.2", true)), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	// A slice of another Service is not ours.
	if _, err := es.Create(ctx, apiSlice("web-a", "web", apiEP("10.0.9.9", true)), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}

	agg := aggregate(t, kubernetes.Config{Service: "api", Port: "http", Kubeconfig: srv.KubeconfigFor(t, reader.Token, "shop")})
	discoverytest.WaitView(t, agg, "api", viewIs(map[string]uint32{"10.0.0.1:8080": 100, "10.0.0.2:8080": 100}))

	// 10.0.0.2 begins to terminate: it drains.
	a, err := es.Get(ctx, "api-a", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	a.Endpoints[1] = apiEP("10.0.0.2", false)
	if _, err := es.Update(ctx, a, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	discoverytest.WaitView(t, agg, "api", viewIs(map[string]uint32{"10.0.0.1:8080": 100, "10.0.0.2:8080": 0}))

	// A second slice adds an endpoint; deleting the first leaves it.
	if _, err := es.Create(ctx, apiSlice("api-b", "api", apiEP("10.0.0.3", true)), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	discoverytest.WaitView(t, agg, "api", viewIs(map[string]uint32{"10.0.0.1:8080": 100, "10.0.0.2:8080": 0, "10.0.0.3:8080": 100}))
	if err := es.Delete(ctx, "api-a", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	discoverytest.WaitView(t, agg, "api", viewIs(map[string]uint32{"10.0.0.3:8080": 100}))
	if err := es.Delete(ctx, "api-b", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	discoverytest.WaitView(t, agg, "api", viewIs(map[string]uint32{}))
}

// A user without the Role is refused by the API server: the source says
// so in its status and reports nothing.
func TestForbiddenIsReported(t *testing.T) {
	srv := kubetest.Start(t, reader)
	agg := aggregate(t, kubernetes.Config{Service: "api", Namespace: "shop", Kubeconfig: srv.KubeconfigFor(t, reader.Token, "shop")})
	deadline := time.Now().Add(time.Minute)
	for {
		st := agg.Status()
		if len(st) == 1 && st[0].LastError != "" {
			if !strings.Contains(st[0].LastError, "forbidden") {
				t.Errorf("last error %q, want the API server's forbidden", st[0].LastError)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no error recorded within a minute: %+v", st)
		}
		time.Sleep(50 * time.Millisecond)
	}
	if v := agg.View("api"); v != nil && len(v.Instances) > 0 {
		t.Errorf("view %v, want nothing reported", weights(v))
	}
}

// When the API server goes away the last view keeps serving, the failure
// is recorded, and the view follows again once the server is back.
func TestAPIServerOutageKeepsTheLastView(t *testing.T) {
	srv, es := cluster(t)
	ctx := t.Context()
	if _, err := es.Create(ctx, apiSlice("api-a", "api", apiEP("10.0.0.1", true)), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	agg := aggregate(t, kubernetes.Config{Service: "api", Namespace: "shop", Port: "http", REST: srv.REST()})
	discoverytest.WaitView(t, agg, "api", viewIs(map[string]uint32{"10.0.0.1:8080": 100}))

	srv.Stop(t)
	deadline := time.Now().Add(2 * time.Minute)
	for {
		st := agg.Status()
		if len(st) == 1 && st[0].LastError != "" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no error recorded within 2 minutes of the API server stopping: %+v", st)
		}
		time.Sleep(100 * time.Millisecond)
	}
	if w := weights(agg.View("api")); !maps1(w, map[string]uint32{"10.0.0.1:8080": 100}) {
		t.Errorf("view during the outage %v, want the last one", w)
	}

	srv.Restart(t)
	a, err := es.Get(ctx, "api-a", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	a.Endpoints = append(a.Endpoints, apiEP("10.0.0.2", true))
	if _, err := es.Update(context.WithoutCancel(ctx), a, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	discoverytest.WaitView(t, agg, "api", viewIs(map[string]uint32{"10.0.0.1:8080": 100, "10.0.0.2:8080": 100}))
}

func maps1(a, b map[string]uint32) bool {
	ka, kb := keys(a), keys(b)
	if !slices.Equal(ka, kb) {
		return false
	}
	for k := range a {
		if a[k] != b[k] {
			return false
		}
	}
	return true
}

func keys(m map[string]uint32) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}
