package helm_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"strings"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/restmapper"

	"github.com/duohuo/duohuo/internal/kubetest"
)

// serviceMonitorCRD declares the Prometheus Operator's ServiceMonitor kind
// with no schema of its own: the API server then checks the object's
// group, version, kind and metadata, not its spec. The chart's
// ServiceMonitor spec is checked field by field in
// TestDaemonSetWithServiceMonitorAndExistingSecret.
const serviceMonitorCRD = `
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata: {name: servicemonitors.monitoring.coreos.com}
spec:
  group: monitoring.coreos.com
  scope: Namespaced
  names: {plural: servicemonitors, singular: servicemonitor, kind: ServiceMonitor, listKind: ServiceMonitorList}
  versions:
    - name: v1
      served: true
      storage: true
      schema:
        openAPIV3Schema: {type: object, x-kubernetes-preserve-unknown-fields: true}
`

// TestRenderedManifestsAreAcceptedByKubeAPIServer sends every object the
// chart renders, in both of its shapes, to a real kube-apiserver as a
// server-side dry run with strict field validation: the server runs its
// defaulting, validation and admission on them, and refuses any field it
// does not know, but stores nothing.
func TestRenderedManifestsAreAcceptedByKubeAPIServer(t *testing.T) {
	srv := kubetest.Start(t)
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	dyn, err := dynamic.NewForConfig(srv.REST())
	if err != nil {
		t.Fatal(err)
	}
	disc, err := discovery.NewDiscoveryClientForConfig(srv.REST())
	if err != nil {
		t.Fatal(err)
	}

	// The namespace the chart is rendered for, for real: a dry run into a
	// namespace that does not exist is refused.
	ns := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "v1", "kind": "Namespace", "metadata": map[string]any{"name": "edge"},
	}}
	if _, err := dyn.Resource(schema.GroupVersionResource{Version: "v1", Resource: "namespaces"}).Create(ctx, ns, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	installCRD(ctx, t, dyn)

	groups, err := restmapper.GetAPIGroupResources(disc)
	if err != nil {
		t.Fatal(err)
	}
	mapper := restmapper.NewDiscoveryRESTMapper(groups)

	for _, tc := range []struct {
		name string
		args []string
		want int // objects rendered
	}{
		{"defaults", nil, 5},
		{"daemonset with service monitor", []string{"--set", "kind=DaemonSet", "--set", "hostPorts=true",
			"--set", "serviceMonitor.enabled=true", "--set", "admin.existingSecret=edge-admin"}, 4},
	} {
		t.Run(tc.name, func(t *testing.T) {
			objs := renderObjects(t, tc.args...)
			if len(objs) != tc.want {
				t.Fatalf("%d objects rendered, want %d", len(objs), tc.want)
			}
			for _, obj := range objs {
				gvk := obj.GroupVersionKind()
				m, err := mapper.RESTMapping(gvk.GroupKind(), gvk.Version)
				if err != nil {
					t.Errorf("%s %s: the API server does not serve this kind: %v", gvk, obj.GetName(), err)
					continue
				}
				opts := metav1.CreateOptions{DryRun: []string{metav1.DryRunAll}, FieldValidation: "Strict"}
				if _, err := dyn.Resource(m.Resource).Namespace(obj.GetNamespace()).Create(ctx, obj, opts); err != nil {
					t.Errorf("%s %s/%s refused by kube-apiserver: %v", gvk.Kind, obj.GetNamespace(), obj.GetName(), err)
				}
				if gvk.Kind != "Deployment" && gvk.Kind != "DaemonSet" {
					continue
				}
				// The control: the same object with a misspelt field is
				// refused, so the check above checks something.
				bad := obj.DeepCopy()
				if err := unstructured.SetNestedField(bad.Object, int64(3), "spec", "replicaz"); err != nil {
					t.Fatal(err)
				}
				if _, err := dyn.Resource(m.Resource).Namespace(bad.GetNamespace()).Create(ctx, bad, opts); err == nil || !strings.Contains(err.Error(), "replicaz") {
					t.Errorf("%s with spec.replicaz: %v, want it refused naming the field", gvk.Kind, err)
				}
			}
		})
	}
}

// installCRD creates the ServiceMonitor kind and waits until it is served.
func installCRD(ctx context.Context, t *testing.T, dyn dynamic.Interface) {
	t.Helper()
	var crd map[string]any
	if err := yaml.Unmarshal([]byte(serviceMonitorCRD), &crd); err != nil {
		t.Fatal(err)
	}
	crds := dyn.Resource(schema.GroupVersionResource{Group: "apiextensions.k8s.io", Version: "v1", Resource: "customresourcedefinitions"})
	if _, err := crds.Create(ctx, toUnstructured(t, crd), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	for {
		got, err := crds.Get(ctx, "servicemonitors.monitoring.coreos.com", metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		conds, _, _ := unstructured.NestedSlice(got.Object, "status", "conditions")
		for _, c := range conds {
			if m, _ := c.(map[string]any); m["type"] == "Established" && m["status"] == "True" {
				return
			}
		}
		select {
		case <-ctx.Done():
			t.Fatalf("the ServiceMonitor kind was not established: %v", ctx.Err())
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// renderObjects runs helm template with args and returns the objects in
// the namespace edge, as unstructured objects.
func renderObjects(t *testing.T, args ...string) []*unstructured.Unstructured {
	t.Helper()
	out, errs, err := runHelm(t, append([]string{"template", "gw", "duohuo", "--namespace", "edge"}, args...)...)
	if err != nil {
		t.Fatalf("helm template %q: %v\n%s", args, err, errs)
	}
	var objs []*unstructured.Unstructured
	dec := yaml.NewDecoder(strings.NewReader(out))
	for {
		var m map[string]any
		err := dec.Decode(&m)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatalf("helm template: %v\n%s", err, out)
		}
		if m == nil {
			continue
		}
		obj := toUnstructured(t, m)
		if obj.GetNamespace() == "" {
			obj.SetNamespace("edge")
		}
		objs = append(objs, obj)
	}
	return objs
}

// toUnstructured converts a decoded YAML document through JSON, so that its
// numbers are int64 and float64 as the Kubernetes client expects.
func toUnstructured(t *testing.T, m map[string]any) *unstructured.Unstructured {
	t.Helper()
	b, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	obj := &unstructured.Unstructured{}
	if err := obj.UnmarshalJSON(b); err != nil {
		t.Fatalf("%v\n%s", err, b)
	}
	return obj
}
