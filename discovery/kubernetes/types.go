package kubernetes

import (
	"fmt"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
)

// The fields of discovery.k8s.io/v1 EndpointSlice that the source reads,
// with the API's JSON names (k8s.io/api/discovery/v1 has the whole type;
// see the comment in kubernetes.go for why it is not linked). Unset
// optional fields are nil, as in the API.

// EndpointSlice is a discovery.k8s.io/v1 EndpointSlice.
type EndpointSlice struct {
	Name        string         `json:"-"`
	AddressType string         `json:"addressType"` // IPv4, IPv6 or FQDN
	Endpoints   []Endpoint     `json:"endpoints"`
	Ports       []EndpointPort `json:"ports"`
}

// Endpoint is one endpoint of a slice.
type Endpoint struct {
	Addresses  []string           `json:"addresses"`
	Conditions EndpointConditions `json:"conditions"`
	NodeName   *string            `json:"nodeName,omitempty"`
	Zone       *string            `json:"zone,omitempty"`
	TargetRef  *ObjectReference   `json:"targetRef,omitempty"`
}

// EndpointConditions are an endpoint's conditions; nil is unknown.
type EndpointConditions struct {
	Ready       *bool `json:"ready,omitempty"`
	Serving     *bool `json:"serving,omitempty"`
	Terminating *bool `json:"terminating,omitempty"`
}

// ObjectReference names the object behind an endpoint (its pod).
type ObjectReference struct {
	Kind string `json:"kind,omitempty"`
	Name string `json:"name,omitempty"`
}

// EndpointPort is one port of a slice.
type EndpointPort struct {
	Name *string `json:"name,omitempty"`
	Port *int32  `json:"port,omitempty"`
}

// sliceOf converts an object of the informer's store.
func sliceOf(o any) (*EndpointSlice, error) {
	u, ok := o.(*unstructured.Unstructured)
	if !ok {
		return nil, fmt.Errorf("an object of type %T in the store", o)
	}
	var es EndpointSlice
	if err := runtime.DefaultUnstructuredConverter.FromUnstructured(u.Object, &es); err != nil {
		return nil, fmt.Errorf("slice %s: %w", u.GetName(), err)
	}
	es.Name = u.GetName()
	return &es, nil
}
