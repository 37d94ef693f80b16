package kubernetes

import "github.com/duohuo/duohuo/discovery"

// Instances exposes the mapping of slices to instances; nodes holds the
// labels of each node.
func (s *Source) Instances(list []*EndpointSlice, nodes map[string]map[string]string) ([]discovery.Instance, error) {
	var nodeOf func(string) map[string]string
	if nodes != nil {
		nodeOf = func(n string) map[string]string { return nodes[n] }
	}
	return s.instances(list, nodeOf, nil)
}
