package consul_test

import (
	"fmt"

	"github.com/duohuo/duohuo/discovery"
	"github.com/duohuo/duohuo/discovery/consul"
	"github.com/duohuo/duohuo/discovery/consul/consultest"
)

func ExampleNewSource() {
	srv := consultest.NewServer(consultest.Config{Token: "s3cret"}) // a fake Consul agent on loopback
	defer srv.Close()
	primary := consultest.Instance("10.0.0.1:8080")
	primary.Tags = []string{"prod"}
	primary.Weights = &consultest.Weights{Passing: 3, Warning: 1}
	primary.NodeMeta = map[string]string{"cloud": "ecloud", "region": "cn-east-1"}
	degraded := consultest.Instance("10.0.0.2:8080")
	degraded.Tags = []string{"prod"}
	degraded.Checks = append(degraded.Checks, consultest.Check{ID: "latency", Status: "warning"})
	srv.Set("api", primary, degraded)

	src, err := consul.NewSource(consul.Config{
		Service: "api",
		Servers: []string{srv.Addr()},
		Tags:    []string{"prod"},
		Token:   "s3cret",
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	agg := discovery.NewAggregator(discovery.AggregatorConfig{})
	defer agg.Close()
	changes, cancel := agg.Subscribe()
	defer cancel()
	_ = agg.Add(src)
	for agg.View("api") == nil {
		<-changes
	}
	for _, in := range agg.View("api").Instances {
		fmt.Println(in.Addr, in.Weight, in.Locality, in.Source)
	}
	// Output:
	// 10.0.0.1:8080 300 ecloud/cn-east-1 consul:api
	// 10.0.0.2:8080 100  consul:api
}
