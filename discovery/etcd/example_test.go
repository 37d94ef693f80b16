package etcd_test

import (
	"context"
	"fmt"
	"os"

	"github.com/duohuo/duohuo/discovery"
	"github.com/duohuo/duohuo/discovery/etcd"
	"github.com/duohuo/duohuo/internal/etcdtest"
)

func ExampleNewSource() {
	dir, _ := os.MkdirTemp("", "etcd")
	defer os.RemoveAll(dir)
	cluster, err := etcdtest.Start(etcdtest.Config{Dir: dir}) // a real embedded etcd on loopback
	if err != nil {
		fmt.Println(err)
		return
	}
	defer cluster.Close()
	cli, err := cluster.NewClient()
	if err != nil {
		fmt.Println(err)
		return
	}
	defer cli.Close()

	// An instance registers itself (usually with a lease it keeps alive).
	_, _ = cli.Put(context.Background(), "/duohuo/instances/api/pod-1",
		`{"addr": "10.0.0.1:8080", "cloud": "huawei", "region": "cn-south-1", "labels": {"version": "v2"}}`)

	src, err := etcd.NewSource(etcd.Config{Client: cli, Prefix: "/duohuo/instances/"})
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
	in := agg.View("api").Instances[0]
	fmt.Println(in.ID, in.Addr, in.Locality, in.Labels["version"], in.Source)
	// Output:
	// pod-1 10.0.0.1:8080 huawei/cn-south-1 v2 etcd:/duohuo/instances/
}
