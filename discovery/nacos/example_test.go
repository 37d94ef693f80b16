package nacos_test

import (
	"fmt"

	"github.com/duohuo/duohuo/discovery"
	"github.com/duohuo/duohuo/discovery/nacos"
	"github.com/duohuo/duohuo/discovery/nacos/nacostest"
)

func ExampleNewSource() {
	srv := nacostest.NewServer(nacostest.Config{}) // a fake Nacos on loopback
	defer srv.Close()
	healthy := nacostest.Instance("10.0.0.1:8080")
	healthy.Weight = 2
	healthy.Metadata = map[string]string{"version": "v2", "zone": "cn-north-1a"}
	unhealthy := nacostest.Instance("10.0.0.2:8080")
	unhealthy.Healthy = false
	srv.Set("prod", "shop", "api-service", healthy, unhealthy)

	src, err := nacos.NewSource(nacos.Config{
		Service:   "api",
		Servers:   []string{srv.Addr()},
		Namespace: "prod",
		Group:     "shop",
		Name:      "api-service",
		Locality:  discovery.Locality{Cloud: "ctyun", Region: "cn-north-1"},
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
		fmt.Println(in.Addr, in.Weight, in.Locality, in.Labels["version"], in.Source)
	}
	// Output:
	// 10.0.0.1:8080 200 ctyun/cn-north-1/cn-north-1a v2 nacos:prod/shop/api-service
}
