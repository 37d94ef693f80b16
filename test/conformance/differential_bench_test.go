package conformance

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// BenchmarkDifferential is the suite's report mode, not run in CI: each
// iteration sends every case directly to go-httpbin, through the gateway
// (each engine) and, when nginx is installed, through nginx set up as a
// plain reverse proxy, and reports how many answers are identical to the
// direct one after normalise (the documented differences count as not
// identical). Run it once:
//
//	go test -run '^$' -bench Differential -benchtime 1x ./test/conformance
func BenchmarkDifferential(b *testing.B) {
	up := startUpstream(b)
	proxies := map[string]string{}
	var order []string
	for _, engine := range engines {
		name := "gateway-" + engine
		proxies[name] = startGateway(b, engine, up.addr(), gatewayOptions{})[0]
		order = append(order, name)
	}
	if addr, ok := startNginx(b, up.addr()); ok {
		proxies["nginx"] = addr
		order = append(order, "nginx")
	}
	all := cases()
	for b.Loop() {
		identical := map[string]int{}
		differ := map[string][]string{}
		for _, c := range all {
			// One case header for every side: httpbin echoes it.
			id := "report/" + c.name
			want := normalise(run(up.addr(), &c, id))
			for _, name := range order {
				x := run(proxies[name], &c, id)
				if name == "nginx" {
					// nginx names itself in Server; not counted.
					for _, r := range x.Responses {
						r.Header.Del("Server")
					}
				}
				got := normalise(x)
				if cmp.Equal(want, got) {
					identical[name]++
				} else {
					differ[name] = append(differ[name], c.name)
				}
			}
		}
		for _, name := range order {
			b.ReportMetric(float64(identical[name]), name+"-identical")
			b.Logf("%s: %d of %d identical to go-httpbin directly; differ: %s", name, identical[name], len(all), strings.Join(differ[name], "; "))
		}
		b.ReportMetric(float64(len(all)), "cases")
	}
}

// startNginx runs nginx, when installed, as a reverse proxy to up with the
// suite's routes (bin.test whole, edge.test under /public only) and
// returns its address. It stops nginx when b ends.
func startNginx(b testing.TB, up string) (string, bool) {
	bin, err := exec.LookPath("nginx")
	if err != nil {
		b.Logf("nginx is not installed: no nginx column")
		return "", false
	}
	dir := b.TempDir()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	proxy := fmt.Sprintf(`proxy_pass http://%s;
			proxy_http_version 1.1;
			proxy_set_header Host $host;
			proxy_set_header Upgrade $http_upgrade;
			proxy_set_header Connection $connection_upgrade;
			proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
			proxy_buffering off;
			proxy_request_buffering off;`, up)
	conf := fmt.Sprintf(`daemon off;
master_process on;
worker_processes 1;
pid %[1]s/nginx.pid;
error_log %[1]s/error.log;
events { worker_connections 1024; }
http {
	access_log off;
	client_body_temp_path %[1]s/body;
	proxy_temp_path %[1]s/proxy;
	fastcgi_temp_path %[1]s/fastcgi;
	uwsgi_temp_path %[1]s/uwsgi;
	scgi_temp_path %[1]s/scgi;
	client_max_body_size 0;
	map $http_upgrade $connection_upgrade { default upgrade; "" ""; }
	server {
		listen %[2]s default_server;
		server_name %[3]s;
		location / {
			%[4]s
		}
	}
	server {
		listen %[2]s;
		server_name %[5]s;
		location /public {
			%[4]s
		}
		location / { return 404; }
	}
}
`, dir, addr, binHost, proxy, edgeHost)
	path := filepath.Join(dir, "nginx.conf")
	if err := os.WriteFile(path, []byte(conf), 0o600); err != nil {
		b.Fatal(err)
	}
	cmd := exec.Command(bin, "-p", dir, "-c", path, "-e", filepath.Join(dir, "error.log"))
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if err := cmd.Start(); err != nil {
		b.Fatalf("nginx: %v", err)
	}
	b.Cleanup(func() {
		// SIGTERM: the master stops its workers, then exits.
		cmd.Process.Signal(syscall.SIGTERM)
		cmd.Wait()
	})
	for deadline := time.Now().Add(30 * time.Second); ; {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			c.Close()
			return addr, true
		}
		if time.Now().After(deadline) {
			log, _ := os.ReadFile(filepath.Join(dir, "error.log"))
			b.Fatalf("nginx did not listen on %s: %v\n%s", addr, err, log)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
