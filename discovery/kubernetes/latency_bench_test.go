package kubernetes_test

import (
	"fmt"
	"slices"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/duohuo/duohuo/discovery"
	"github.com/duohuo/duohuo/discovery/kubernetes"
)

// BenchmarkChangeToView measures how long a change to a Service's
// EndpointSlice, written to a real kube-apiserver, takes to reach the
// aggregator's view: the API server's watch, client-go's informer, the
// source and the aggregator: p50-ms and p99-ms, from the update's call
// to the view (ns/op also counts reading the slice before each update).
// docs/benchmarks.md has the figures.
func BenchmarkChangeToView(b *testing.B) {
	srv, es := cluster(b)
	ctx := b.Context()
	if _, err := es.Create(ctx, apiSlice("api-a", "api", apiEP("10.0.0.1", true)), metav1.CreateOptions{}); err != nil {
		b.Fatal(err)
	}
	src, err := kubernetes.NewSource(kubernetes.Config{Service: "api", Namespace: "shop", Port: "http", REST: srv.REST()})
	if err != nil {
		b.Fatal(err)
	}
	agg := discovery.NewAggregator(discovery.AggregatorConfig{})
	defer agg.Close()
	if err := agg.Add(src); err != nil {
		b.Fatal(err)
	}
	changes, cancel := agg.Subscribe()
	defer cancel()
	waitFor := func(addr string) {
		deadline := time.After(30 * time.Second)
		for {
			if v := agg.View("api"); v != nil && len(v.Instances) == 1 && v.Instances[0].Addr.String() == addr {
				return
			}
			select {
			case <-changes:
			case <-deadline:
				b.Fatalf("view never showed %s", addr)
			}
		}
	}
	waitFor("10.0.0.1:8080")
	var lat []time.Duration
	b.ResetTimer()
	for i := range b.N {
		ip := fmt.Sprintf("10.1.%d.%d", i/250, i%250+1)
		a, err := es.Get(ctx, "api-a", metav1.GetOptions{})
		if err != nil {
			b.Fatal(err)
		}
		a.Endpoints = a.Endpoints[:0]
		a.Endpoints = append(a.Endpoints, apiEP(ip, true))
		t0 := time.Now()
		if _, err := es.Update(ctx, a, metav1.UpdateOptions{}); err != nil {
			b.Fatal(err)
		}
		waitFor(ip + ":8080")
		lat = append(lat, time.Since(t0))
	}
	b.StopTimer()
	slices.Sort(lat)
	b.ReportMetric(float64(lat[len(lat)/2].Microseconds())/1000, "p50-ms")
	b.ReportMetric(float64(lat[(len(lat)*99)/100].Microseconds())/1000, "p99-ms")
}
