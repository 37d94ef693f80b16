package gray_test

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/netip"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/duohuo/duohuo/color"
	"github.com/duohuo/duohuo/discovery"
	"github.com/duohuo/duohuo/gray"
	"github.com/duohuo/duohuo/request"
)

// This file runs full-link gray release end to end with the library
// alone: a small gateway built from gray and color (the shape the real one
// in internal/gateway takes), two services A → B with v1 and v2 instances,
// all real HTTP servers on loopback. 127.0.0.1 is the internal network;
// an outside client connects from 127.0.0.2.

type mesh struct {
	t        *testing.T
	store    *gray.Store
	color    *color.Propagator
	gateway  *httptest.Server
	mu       sync.Mutex                      // guards down
	down     map[string]bool                 // instance name → taken out (unhealthy)
	services map[string][]discovery.Instance // service (= route) → instances
	names    map[netip.AddrPort]string       // instance address → name
	proxyTr  *http.Transport
}

func newMesh(t *testing.T) *mesh {
	p, err := color.New(color.Config{TrustedNets: []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")}})
	if err != nil {
		t.Fatal(err)
	}
	m := &mesh{t: t, store: gray.NewStore(gray.StoreConfig{}), color: p, down: map[string]bool{},
		services: map[string][]discovery.Instance{}, names: map[netip.AddrPort]string{}, proxyTr: &http.Transport{}}
	t.Cleanup(m.proxyTr.CloseIdleConnections)
	m.gateway = httptest.NewServer(http.HandlerFunc(m.serve))
	t.Cleanup(m.gateway.Close)

	// Service code: B answers with its instance name; A calls B through the
	// gateway with the color transport and answers "A-name>B-answer".
	clientTr := &http.Transport{}
	t.Cleanup(clientTr.CloseIdleConnections)
	client := &http.Client{Transport: p.Transport(clientTr), Timeout: 10 * time.Second}
	for _, v := range []string{"v1", "v2"} {
		m.addInstance("orders", "orders-"+v, v, func(w http.ResponseWriter, r *http.Request) {})
		m.addInstance("shop", "shop-"+v, v, func(w http.ResponseWriter, r *http.Request) {
			req, err := http.NewRequestWithContext(r.Context(), http.MethodGet, m.gateway.URL+"/orders", nil)
			if err != nil {
				http.Error(w, err.Error(), http.StatusInternalServerError)
				return
			}
			req.Host = "orders"
			resp, err := client.Do(req)
			if err != nil {
				http.Error(w, err.Error(), http.StatusBadGateway)
				return
			}
			defer resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				fmt.Fprintf(w, ">!%d", resp.StatusCode) // B failed; A's own status is already sent
				return
			}
			body, _ := io.ReadAll(resp.Body)
			fmt.Fprintf(w, ">%s[%s]", body, resp.Header.Get(color.ServedHeader))
		})
	}
	return m
}

// addInstance starts an instance of service; every instance answers with
// its name first, then whatever more writes.
func (m *mesh) addInstance(service, name, version string, more http.HandlerFunc) {
	srv := httptest.NewServer(m.color.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, name)
		more(w, r)
	})))
	m.t.Cleanup(srv.Close)
	ap := netip.MustParseAddrPort(strings.TrimPrefix(srv.URL, "http://"))
	m.services[service] = append(m.services[service], discovery.Instance{ID: discovery.AddrID(ap), Addr: ap, Weight: 100, Labels: map[string]string{"version": version}})
	m.names[ap] = name
}

// serve is the gateway: route by Host to a service, decide the subset,
// color, pick a healthy instance of the subset or fall back, proxy.
func (m *mesh) serve(w http.ResponseWriter, r *http.Request) {
	route := r.Host
	lane, trusted := m.color.Incoming(r)
	out := r.Clone(r.Context())
	if !trusted {
		m.color.Strip(out.Header)
	}
	router := m.store.Router(route)
	var pick *discovery.Instance
	served := "baseline"
	if router == nil {
		pick = m.healthy(m.services[route])
	} else {
		d := router.Route(request.FromHTTP(r), lane)
		parts := router.Partition(m.services[route])
		pick = m.healthy(parts[d.Index])
		if pick == nil {
			fb, ok := router.Fallback(d)
			if !ok {
				http.Error(w, "no healthy instance in lane "+d.Subset, http.StatusServiceUnavailable)
				return
			}
			d, pick = fb, m.healthy(parts[fb.Index])
		}
		served = d.Subset
		if d.Reason != gray.ByFallback && d.Subset != router.Baseline() {
			lane = d.Subset // routed into a lane: color the request
		}
	}
	if pick == nil {
		http.Error(w, "no healthy instance", http.StatusServiceUnavailable)
		return
	}
	if lane != "" {
		if err := m.color.Set(out.Header, lane); err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
	}
	w.Header().Set(color.ServedHeader, served)
	target := &url.URL{Scheme: "http", Host: pick.Addr.String()}
	rp := &httputil.ReverseProxy{Rewrite: func(pr *httputil.ProxyRequest) {
		pr.Out.Header = out.Header.Clone()
		pr.SetURL(target)
	}, Transport: m.proxyTr}
	rp.ServeHTTP(w, r)
}

func (m *mesh) healthy(ins []discovery.Instance) *discovery.Instance {
	m.mu.Lock()
	defer m.mu.Unlock()
	for i := range ins {
		if !m.down[m.names[ins[i].Addr]] {
			return &ins[i]
		}
	}
	return nil
}

func (m *mesh) setDown(name string, down bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.down[name] = down
}

// call sends a request for the shop route from src with headers h and
// returns status and body.
func (m *mesh) call(src string, h map[string]string) (int, string) {
	m.t.Helper()
	tr := &http.Transport{DialContext: (&net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(src)}}).DialContext}
	defer tr.CloseIdleConnections()
	req, err := http.NewRequest(http.MethodGet, m.gateway.URL+"/", nil)
	if err != nil {
		m.t.Fatal(err)
	}
	req.Host = "shop"
	for k, v := range h {
		req.Header.Set(k, v)
	}
	resp, err := (&http.Client{Transport: tr, Timeout: 10 * time.Second}).Do(req)
	if err != nil {
		m.t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, strings.TrimSpace(string(body))
}

var (
	v2Subsets  = []gray.Subset{{Name: "v2", Labels: map[string]string{"version": "v2"}}}
	shopPolicy = gray.Policy{Subsets: v2Subsets, Rules: []gray.Rule{
		{Name: "testers", Subset: "v2", Headers: []gray.Match{{Name: "x-tester", Exact: "yes"}}},
		{Name: "five-percent", Subset: "v2", UserHash: &gray.UserHash{Header: "x-user-id", Percent: 5}},
	}}
	ordersPolicy = gray.Policy{Subsets: v2Subsets, Baseline: "", Mode: gray.Permissive}
)

func TestFullLinkGrayRelease(t *testing.T) {
	m := newMesh(t)
	// The baseline of each service is the implicit one: v1 (no other
	// subset selects it).
	if _, err := m.store.ApplyAll(map[string]gray.Policy{"shop": shopPolicy, "orders": ordersPolicy}, gray.Meta{Who: "config-file"}); err != nil {
		t.Fatal(err)
	}
	// Each step runs after the previous one; the test gateway picks the
	// first healthy instance of a subset, so answers are deterministic.
	steps := []struct {
		name    string
		setup   func()
		src     string
		headers map[string]string
		code    int
		body    string
	}{
		{"a user in the 5% is on v2 of both services", nil, "127.0.0.2", map[string]string{"x-user-id": "user-9"}, 200, "shop-v2>orders-v2[v2]"},
		{"a user outside the 5% never enters the lane", nil, "127.0.0.2", map[string]string{"x-user-id": "alice"}, 200, "shop-v1>orders-v1[baseline]"},
		{"a tester is on v2 of both", nil, "127.0.0.2", map[string]string{"x-tester": "yes"}, 200, "shop-v2>orders-v2[v2]"},
		{"an outside client's spoofed color is stripped", nil, "127.0.0.2", map[string]string{"x-gray-id": "v2", "baggage": "gray.lane=v2"}, 200, "shop-v1>orders-v1[baseline]"},
		{"an internal caller's color is followed", nil, "127.0.0.1", map[string]string{"x-gray-id": "v2"}, 200, "shop-v2>orders-v2[v2]"},
		{"a lane missing an instance of B falls back to B's baseline", func() { m.setDown("orders-v2", true) }, "127.0.0.2", map[string]string{"x-user-id": "user-9"}, 200, "shop-v2>orders-v1[baseline]"},
		{"a strict lane fails instead", func() {
			strict := ordersPolicy
			strict.Mode = gray.Strict
			if _, err := m.store.Apply("orders", strict, 0, gray.Meta{Who: "t"}); err != nil {
				t.Fatal(err)
			}
		}, "127.0.0.2", map[string]string{"x-user-id": "user-9"}, 200, "shop-v2>!503"},
		{"rolling back B's change and healing B restores the lane", func() {
			if _, err := m.store.Rollback("orders", 0, gray.Meta{Who: "t"}); err != nil {
				t.Fatal(err)
			}
			m.setDown("orders-v2", false)
		}, "127.0.0.2", map[string]string{"x-user-id": "user-9"}, 200, "shop-v2>orders-v2[v2]"},
		{"rolling back A's policy takes the user out of the lane at the next request", func() {
			if _, err := m.store.Rollback("shop", 0, gray.Meta{Who: "t"}); err != nil {
				t.Fatal(err)
			}
		}, "127.0.0.2", map[string]string{"x-user-id": "user-9"}, 200, "shop-v1>orders-v1[baseline]"},
	}
	for _, st := range steps {
		if st.setup != nil {
			st.setup()
		}
		code, body := m.call(st.src, st.headers)
		if code != st.code || body != st.body {
			t.Errorf("%s: got %d %q, want %d %q", st.name, code, body, st.code, st.body)
		}
	}
}

// TestFullLinkChangesUnderLoad sends requests through the gateway while
// the shop policy is applied and rolled back over and over: every request
// is answered, and each one is entirely in the lane or entirely out of it
// (never v2 of A with v1 of B), because a request keeps the decision it
// started with and the color carries it to B.
func TestFullLinkChangesUnderLoad(t *testing.T) {
	m := newMesh(t)
	if _, err := m.store.ApplyAll(map[string]gray.Policy{"shop": shopPolicy, "orders": ordersPolicy}, gray.Meta{Who: "config-file"}); err != nil {
		t.Fatal(err)
	}
	const workers, perWorker = 4, 100
	var wg sync.WaitGroup
	results := make(chan string, workers*perWorker)
	stop := make(chan struct{})
	for range workers {
		wg.Go(func() {
			for range perWorker {
				code, body := m.call("127.0.0.2", map[string]string{"x-user-id": "user-9"})
				results <- fmt.Sprintf("%d %s", code, body)
			}
		})
	}
	changes := make(chan error, 1)
	go func() {
		defer close(changes)
		for i := 0; i < 2000; i++ { // bounded; usually stopped long before
			select {
			case <-stop:
				return
			default:
			}
			var err error
			if i%2 == 0 {
				_, err = m.store.Rollback("shop", 0, gray.Meta{Who: "t"})
			} else {
				_, err = m.store.Apply("shop", shopPolicy, 0, gray.Meta{Who: "t"})
			}
			if err != nil {
				changes <- err
				return
			}
		}
	}()
	wg.Wait()
	close(stop)
	if err := <-changes; err != nil {
		t.Fatal(err)
	}
	close(results)
	counts := map[string]int{}
	for r := range results {
		counts[r]++
	}
	in, out := counts["200 shop-v2>orders-v2[v2]"], counts["200 shop-v1>orders-v1[baseline]"]
	if in+out != workers*perWorker {
		t.Errorf("answers under changes = %v; want only complete lanes, all 200", counts)
	}
	t.Logf("%d requests in the lane, %d out, during policy changes", in, out)
}
