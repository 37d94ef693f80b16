package kubernetes_test

import (
	"errors"
	"testing"

	"k8s.io/client-go/rest"

	"github.com/duohuo/duohuo/discovery"
	"github.com/duohuo/duohuo/discovery/kubernetes"
)

func ptr[T any](v T) *T { return &v }

// ep is an endpoint at addr with the given conditions (nil: unset).
func ep(addr string, ready, serving, terminating *bool) kubernetes.Endpoint {
	return kubernetes.Endpoint{
		Addresses:  []string{addr},
		Conditions: kubernetes.EndpointConditions{Ready: ready, Serving: serving, Terminating: terminating},
		TargetRef:  &kubernetes.ObjectReference{Kind: "Pod", Name: "pod-" + addr},
	}
}

func slice(name, typ string, ports []kubernetes.EndpointPort, eps ...kubernetes.Endpoint) *kubernetes.EndpointSlice {
	return &kubernetes.EndpointSlice{Name: name, AddressType: typ, Ports: ports, Endpoints: eps}
}

const (
	ipv4 = "IPv4"
	ipv6 = "IPv6"
	fqdn = "FQDN"
)

var httpPorts = []kubernetes.EndpointPort{{Name: ptr("http"), Port: ptr(int32(8080))}, {Name: ptr("metrics"), Port: ptr(int32(9090))}}

func source(t *testing.T, cfg kubernetes.Config) *kubernetes.Source {
	t.Helper()
	cfg.Service = "api"
	cfg.Namespace = "shop"
	cfg.REST = &rest.Config{Host: "https://127.0.0.1:1"}
	s, err := kubernetes.NewSource(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

type got struct {
	addr   string
	weight uint32
}

func summary(ins []discovery.Instance) []got {
	var out []got
	for _, in := range ins {
		out = append(out, got{in.Addr.String(), in.Weight})
	}
	return out
}

func same(a, b []got) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func TestConditions(t *testing.T) {
	yes, no := ptr(true), ptr(false)
	s := source(t, kubernetes.Config{Port: "http"})
	tests := []struct {
		name string
		eps  []kubernetes.Endpoint
		want []got
	}{
		{"ready, and ready left unset, take traffic", []kubernetes.Endpoint{ep("10.0.0.1", yes, yes, no), ep("10.0.0.2", nil, nil, nil)},
			[]got{{"10.0.0.1:8080", 100}, {"10.0.0.2:8080", 100}}},
		{"a terminating endpoint that serves drains", []kubernetes.Endpoint{ep("10.0.0.1", yes, yes, no), ep("10.0.0.2", no, yes, yes)},
			[]got{{"10.0.0.1:8080", 100}, {"10.0.0.2:8080", 0}}},
		{"with none ready, the serving ones take traffic", []kubernetes.Endpoint{ep("10.0.0.2", no, yes, yes), ep("10.0.0.3", no, no, yes)},
			[]got{{"10.0.0.2:8080", 100}}},
		{"not ready and not serving is left out", []kubernetes.Endpoint{ep("10.0.0.1", yes, yes, no), ep("10.0.0.3", no, no, no)},
			[]got{{"10.0.0.1:8080", 100}}},
		{"no endpoints, no instances", nil, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ins, err := s.Instances([]*kubernetes.EndpointSlice{slice("a", ipv4, httpPorts, tt.eps...)}, nil)
			if err != nil {
				t.Fatal(err)
			}
			if g := summary(ins); !same(g, tt.want) {
				t.Errorf("instances %v, want %v", g, tt.want)
			}
		})
	}
}

func TestPortsAddressTypesAndDuplicates(t *testing.T) {
	yes, no := ptr(true), ptr(false)
	one := []kubernetes.EndpointPort{{Port: ptr(int32(80))}}
	tests := []struct {
		name   string
		port   string
		slices []*kubernetes.EndpointSlice
		want   []got
		bad    bool
	}{
		{"by name", "metrics", []*kubernetes.EndpointSlice{slice("a", ipv4, httpPorts, ep("10.0.0.1", yes, yes, no))},
			[]got{{"10.0.0.1:9090", 100}}, false},
		{"by number", "8080", []*kubernetes.EndpointSlice{slice("a", ipv4, httpPorts, ep("10.0.0.1", yes, yes, no))},
			[]got{{"10.0.0.1:8080", 100}}, false},
		{"the only port", "", []*kubernetes.EndpointSlice{slice("a", ipv6, one, ep("fd00::1", yes, yes, no))},
			[]got{{"[fd00::1]:80", 100}}, false},
		{"several ports and none named is an error", "", []*kubernetes.EndpointSlice{slice("a", ipv4, httpPorts, ep("10.0.0.1", yes, yes, no))},
			nil, true},
		{"FQDN slices are not ours", "", []*kubernetes.EndpointSlice{slice("a", fqdn, one, ep("db.example.com", yes, yes, no))},
			nil, false},
		{"an address in two slices is one instance, the ready copy", "", []*kubernetes.EndpointSlice{
			slice("a", ipv4, one, ep("10.0.0.1", no, yes, yes)),
			slice("b", ipv4, one, ep("10.0.0.1", yes, yes, no), ep("10.0.0.2", yes, yes, no)),
		}, []got{{"10.0.0.1:80", 100}, {"10.0.0.2:80", 100}}, false},
		{"an address that is not an IP is left out and said", "", []*kubernetes.EndpointSlice{
			slice("a", ipv4, one, ep("10.0.0.999", yes, yes, no), ep("10.0.0.2", yes, yes, no)),
		}, []got{{"10.0.0.2:80", 100}}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := source(t, kubernetes.Config{Port: tt.port})
			ins, err := s.Instances(tt.slices, nil)
			if (err != nil) != tt.bad || err != nil && !errors.Is(err, kubernetes.ErrBadEndpoint) {
				t.Errorf("err = %v, want one wrapping ErrBadEndpoint: %v", err, tt.bad)
			}
			if g := summary(ins); !same(g, tt.want) {
				t.Errorf("instances %v, want %v", g, tt.want)
			}
		})
	}
}

func TestLocality(t *testing.T) {
	yes, no := ptr(true), ptr(false)
	e1 := ep("10.0.0.1", yes, yes, no)
	e1.NodeName, e1.Zone = ptr("n1"), ptr("cn-north-1b")
	e2 := ep("10.0.0.2", yes, yes, no)
	e2.NodeName = ptr("n2")
	nodes := map[string]map[string]string{
		"n1": {kubernetes.RegionLabel: "cn-north-1", kubernetes.ZoneLabel: "cn-north-1a", "example.com/cloud": "ctyun"},
		"n2": {kubernetes.RegionLabel: "cn-north-1", kubernetes.ZoneLabel: "cn-north-1c"},
	}
	s := source(t, kubernetes.Config{NodeLocality: true, CloudLabel: "example.com/cloud", Locality: discovery.Locality{Cloud: "huawei"}})
	ins, err := s.Instances([]*kubernetes.EndpointSlice{slice("a", ipv4, []kubernetes.EndpointPort{{Port: ptr(int32(80))}}, e1, e2)}, nodes)
	if err != nil {
		t.Fatal(err)
	}
	want := []discovery.Locality{{Cloud: "ctyun", Region: "cn-north-1", Zone: "cn-north-1b"}, {Cloud: "huawei", Region: "cn-north-1", Zone: "cn-north-1c"}}
	for i, in := range ins {
		if in.Locality != want[i] {
			t.Errorf("%s: locality %+v, want %+v (the endpoint's zone wins over the node's)", in.Addr, in.Locality, want[i])
		}
	}
	if md := ins[0].Metadata; md["k8s_pod"] != "pod-10.0.0.1" || md["k8s_node"] != "n1" || md["k8s_namespace"] != "shop" {
		t.Errorf("metadata %v", md)
	}
}

func TestNewSourceRefusesBadConfig(t *testing.T) {
	for _, cfg := range []kubernetes.Config{
		{},
		{Service: "api", Name: "Not_A_Service"},
		{Service: "api", Namespace: "Shop"},
		{Service: "api", Port: "70000"},
		{Service: "api", Port: "not a port"},
		{Service: "api", CloudLabel: "a b"},
		{Service: "api", Resync: -1},
		{Service: "api", Kubeconfig: "/nonexistent/kubeconfig"},
	} {
		if cfg.Kubeconfig == "" {
			cfg.REST = &rest.Config{Host: "https://127.0.0.1:1"}
		}
		if _, err := kubernetes.NewSource(cfg); !errors.Is(err, kubernetes.ErrConfig) {
			t.Errorf("NewSource(%+v) = %v, want ErrConfig", cfg, err)
		}
	}
}
