package main

import (
	"context"
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/duohuo/duohuo/discovery/consul/consultest"
	"github.com/duohuo/duohuo/discovery/nacos/nacostest"
	"github.com/duohuo/duohuo/internal/etcdtest"
)

// duohuo serve registers itself once it serves, keeps trying while the
// registry does not answer (serving meanwhile), and deregisters on
// shutdown, before its listeners stop.
func TestServeRegistersItself(t *testing.T) {
	for _, tc := range []struct {
		name string
		// start returns the registration section for a fake registry,
		// a way to make it hang or answer, and whether the gateway is
		// registered there.
		start func(t *testing.T) (section string, hang func(bool), registered func() bool, deregistered func() bool)
	}{
		{"nacos", func(t *testing.T) (string, func(bool), func() bool, func() bool) {
			srv := nacostest.NewServer(nacostest.Config{})
			t.Cleanup(srv.Close)
			return fmt.Sprintf("{service: edge, address: \"127.0.0.1:18080\", labels: {role: gateway}, nacos: {servers: [%q], interval: 200ms}}", srv.URL()),
				srv.Hang,
				func() bool {
					hs := srv.Hosts("", "", "edge")
					return len(hs) == 1 && hs[0].IP == "127.0.0.1" && hs[0].Port == 18080 && hs[0].Metadata["cloud"] == "ctyun" && hs[0].Metadata["role"] == "gateway"
				},
				func() bool { return len(srv.Hosts("", "", "edge")) == 0 && srv.Stats().Deregistrations == 1 }
		}},
		{"consul", func(t *testing.T) (string, func(bool), func() bool, func() bool) {
			agent := consultest.NewServer(consultest.Config{})
			t.Cleanup(agent.Close)
			return fmt.Sprintf("{service: edge, address: \"127.0.0.1:18080\", consul: {agents: [%q], ttl: 1s}}", agent.URL()),
				agent.Hang,
				func() bool { return agent.CheckStatus("service:edge-127.0.0.1:18080") == "passing" },
				func() bool {
					return agent.CheckStatus("service:edge-127.0.0.1:18080") == "" && agent.AgentStats().Deregistrations == 1
				}
		}},
		{"etcd", func(t *testing.T) (string, func(bool), func() bool, func() bool) {
			c := etcdtest.New(t, etcdtest.Config{})
			cli := c.Client(t)
			key := "/duohuo/instances/edge/127.0.0.1:18080"
			count := func() int64 {
				resp, err := cli.Get(t.Context(), key)
				if err != nil {
					return -1
				}
				return resp.Count
			}
			return fmt.Sprintf("{service: edge, address: \"127.0.0.1:18080\", etcd: {endpoints: [%q], ttl: 2s}}", c.Endpoints()[0]),
				nil, // an embedded etcd does not hang
				func() bool { return count() == 1 },
				func() bool { return count() == 0 }
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			section, hang, registered, deregistered := tc.start(t)
			if hang != nil {
				hang(true) // the registry does not answer at first
			}
			path := writeConfig(t, serveConfig+"site: {cloud: ctyun, region: cn-north-1}\nregistration: "+section+"\n")
			ctx, cancel := context.WithCancel(context.Background())
			started := make(chan string, 1)
			done := make(chan error, 1)
			var log syncBuffer
			go func() {
				done <- serve(ctx, serveOptions{path: path, drain: 5 * time.Second, stderr: &log,
					started: func(_ string, gw []string) { started <- gw[0] }})
			}()
			var gw string
			select {
			case gw = <-started:
			case err := <-done:
				cancel()
				t.Fatalf("serve: %v\n%s", err, log.String())
			}
			if hang != nil {
				// Serving while the registration fails.
				waitLog(t, &log, "registration failed; the gateway serves and tries again")
				resp, err := http.Get("http://" + gw + "/")
				if err != nil {
					t.Fatalf("the gateway does not answer while the registration fails: %v", err)
				}
				resp.Body.Close()
				hang(false)
			}
			waitLog(t, &log, "msg=registered")
			deadline := time.Now().Add(30 * time.Second)
			for !registered() {
				if time.Now().After(deadline) {
					t.Fatalf("not registered as configured:\n%s", log.String())
				}
				time.Sleep(20 * time.Millisecond)
			}
			cancel()
			if err := <-done; err != nil {
				t.Fatalf("serve: %v\n%s", err, log.String())
			}
			if !deregistered() {
				t.Errorf("still registered after shutdown:\n%s", log.String())
			}
		})
	}
}
