// Package kubernetes is a discovery source that follows the EndpointSlices
// (discovery.k8s.io/v1) of a Kubernetes Service through a client-go
// informer.
//
// A [Source] follows one Service in one namespace, in the cluster the
// gateway runs in (its service account) or the one a kubeconfig file
// names, as the instances of one duohuo service:
//
//	src, err := kubernetes.NewSource(kubernetes.Config{
//		Service:   "api",
//		Namespace: "shop",
//		Port:      "http", // a port name of the Service, or a number
//	})
//	if err != nil {
//		return err
//	}
//	agg.Add(src)
//
// Endpoint conditions follow what kube-proxy does with them: a ready
// endpoint takes traffic; a terminating endpoint that still serves is
// drained (weight 0: no new requests, the ones in flight finish) unless no
// endpoint of the Service is ready, when the serving ones take traffic
// again rather than none; an endpoint neither ready nor serving is left
// out. The zone is the endpoint's own; the region and cloud are the
// Config's, or the node's labels (topology.kubernetes.io/region and a
// label the Config names) when NodeLocality is set.
//
// The gateway needs get, list and watch on endpointslices (and on nodes
// with NodeLocality) in the namespace: docs/discovery.md has the RBAC.
package kubernetes
