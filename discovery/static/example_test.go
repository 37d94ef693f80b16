package static_test

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/duohuo/duohuo/discovery"
	"github.com/duohuo/duohuo/discovery/static"
)

func ExampleParse() {
	services, err := static.Parse("instances.yaml", []byte(`
services:
  api:
    - addr: 10.0.0.1:8080
      cloud: ctyun
      region: cn-north-1
      labels: {version: v2}
    - addr: 10.0.0.2:8080
      weight: 0
`), "")
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, in := range services["api"] {
		fmt.Println(in.Addr, in.Weight, in.Locality, in.Labels)
	}

	_, err = static.Parse("instances.yaml", []byte("services:\n  api:\n    - addr: 10.0.0.1\n"), "")
	fmt.Println(err)
	// Output:
	// 10.0.0.1:8080 100 ctyun/cn-north-1 map[version:v2]
	// 10.0.0.2:8080 0  map[]
	// instances.yaml:3:13: service "api" instance 0: discovery: invalid address: "10.0.0.1" is not IP:port
}

func ExampleNewFile() {
	dir, _ := os.MkdirTemp("", "duohuo")
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "instances.yaml")
	_ = os.WriteFile(path, []byte("services:\n  api:\n    - addr: 10.0.0.1:8080\n"), 0o644)

	agg := discovery.NewAggregator(discovery.AggregatorConfig{})
	defer agg.Close()
	changes, cancel := agg.Subscribe()
	defer cancel()
	_ = agg.Add(static.NewFile(path, static.FileConfig{}))

	for agg.View("api") == nil {
		<-changes
	}
	v := agg.View("api")
	fmt.Println(v.Instances[0].ID, v.Instances[0].Source == "file:"+path)
	// Output:
	// 10.0.0.1:8080 true
}
