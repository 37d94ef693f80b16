// Package etcd is a discovery source that follows instances registered
// under a key prefix in etcd, as JSON values, with a watch.
//
// Layout: one key per instance, "<prefix><service>/<id>", whose value is the
// instance as JSON, with the fields of the instances file
// (discovery/static):
//
//	/duohuo/instances/api/10.0.0.1:8080 → {"addr": "10.0.0.1:8080", "weight": 100, "cloud": "ctyun", "labels": {"version": "v2"}}
//
// Instances usually attach the key to a lease they keep alive, so that a
// dead instance's key expires and the source drops it.
//
//	src, err := etcd.NewSource(etcd.Config{Client: cli, Prefix: "/duohuo/instances/"})
//	if err != nil {
//		return err
//	}
//	agg.Add(src)
package etcd
