package toxiapi_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"

	tclient "github.com/Shopify/toxiproxy/v2/client"

	"github.com/duohuo/duohuo/fault/toxiapi"
)

// These tests drive the server with Toxiproxy's own Go client (v2.5.0) and
// assert what Toxiproxy's api_test.go asserts of Toxiproxy, error strings
// included. Ports are chosen by the kernel (":0") rather than fixed.

func newClient(t testing.TB) (*tclient.Client, string) {
	t.Helper()
	url, _ := startAPI(t, toxiapi.Config{})
	return tclient.NewClient(url), url
}

func mustCreate(t testing.TB, c *tclient.Client, name, upstream string) *tclient.Proxy {
	t.Helper()
	p, err := c.CreateProxy(name, "127.0.0.1:0", upstream)
	if err != nil {
		t.Fatalf("CreateProxy(%q): %v", name, err)
	}
	return p
}

func findToxic(ts tclient.Toxics, name string) *tclient.Toxic {
	for i := range ts {
		if ts[i].Name == name {
			return &ts[i]
		}
	}
	return nil
}

func TestClientBrowsersAreRefused(t *testing.T) {
	_, url := newClient(t)
	for _, tt := range []struct {
		name   string
		header string
		value  string
		want   int
	}{
		{"a browser user agent", "User-Agent", "Mozilla/5.0 (X11; Linux x86_64)", http.StatusForbidden},
		{"an Origin header", "Origin", "http://example.test", http.StatusForbidden},
		{"a program", "User-Agent", "Go-http-client/1.1", http.StatusOK},
	} {
		t.Run(tt.name, func(t *testing.T) {
			req, _ := http.NewRequest("GET", url+"/proxies", nil)
			req.Header.Set(tt.header, tt.value)
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != tt.want {
				t.Errorf("GET /proxies with %s %q = %d, want %d", tt.header, tt.value, resp.StatusCode, tt.want)
			}
		})
	}
}

func TestClientIndexWithNoProxies(t *testing.T) {
	c, _ := newClient(t)
	ps, err := c.Proxies()
	if err != nil || len(ps) != 0 {
		t.Fatalf("Proxies() = %v, %v; want none", ps, err)
	}
}

func TestClientCreateProxyMissingFields(t *testing.T) {
	c, _ := newClient(t)
	if _, err := c.CreateProxy("", "", ""); err == nil || err.Error() != "Create: HTTP 400: missing required field: name" {
		t.Errorf("CreateProxy with no name: %v", err)
	}
	if _, err := c.CreateProxy("test", "", ""); err == nil || err.Error() != "Create: HTTP 400: missing required field: upstream" {
		t.Errorf("CreateProxy with no upstream: %v", err)
	}
}

func TestClientCreateGetListAndSave(t *testing.T) {
	c, _ := newClient(t)
	p := mustCreate(t, c, "mysql_master", "localhost:20001")
	if !strings.HasPrefix(p.Listen, "127.0.0.1:") || strings.HasSuffix(p.Listen, ":0") || !p.Enabled {
		t.Fatalf("created proxy = %+v, want enabled with the port chosen", p)
	}
	got, err := c.Proxy("mysql_master")
	if err != nil || got.Name != "mysql_master" || got.Listen != p.Listen || got.Upstream != "localhost:20001" || !got.Enabled {
		t.Fatalf("Proxy() = %+v, %v", got, err)
	}
	ps, err := c.Proxies()
	if err != nil || len(ps) != 1 || ps["mysql_master"] == nil || ps["mysql_master"].Listen != p.Listen {
		t.Fatalf("Proxies() = %v, %v", ps, err)
	}
	assertUp(t, p.Listen, true)

	// NewProxy + Save creates, as CreateProxy does.
	q := c.NewProxy()
	q.Name, q.Listen, q.Upstream, q.Enabled = "saved", "localhost:0", "localhost:20002", true
	if err := q.Save(); err != nil {
		t.Fatalf("Save: %v", err)
	}
	if got, err := c.Proxy("saved"); err != nil || !got.Enabled || got.Upstream != "localhost:20002" {
		t.Fatalf("Proxy(saved) = %+v, %v", got, err)
	}
}

func TestClientDisabledProxyAndEnable(t *testing.T) {
	c, _ := newClient(t)
	p := c.NewProxy()
	p.Name, p.Listen, p.Upstream, p.Enabled = "off", "127.0.0.1:0", "localhost:20001", false
	if err := p.Save(); err != nil {
		t.Fatal(err)
	}
	got, err := c.Proxy("off")
	if err != nil || got.Enabled || got.Listen != "127.0.0.1:0" {
		t.Fatalf("Proxy(off) = %+v, %v; want disabled, listen as given", got, err)
	}
	if err := got.Enable(); err != nil {
		t.Fatalf("Enable: %v", err)
	}
	assertUp(t, got.Listen, true)
	if err := got.Disable(); err != nil {
		t.Fatalf("Disable: %v", err)
	}
	assertUp(t, got.Listen, false)
	if again, _ := c.Proxy("off"); again.Enabled {
		t.Fatalf("after Disable, Proxy(off).Enabled = true")
	}
	// Enabled again on the same port.
	if err := got.Enable(); err != nil {
		t.Fatalf("Enable again: %v", err)
	}
	assertUp(t, got.Listen, true)
}

func TestClientDeleteProxy(t *testing.T) {
	c, _ := newClient(t)
	p := mustCreate(t, c, "mysql_master", "localhost:20001")
	if err := p.Delete(); err != nil {
		t.Fatalf("Delete: %v", err)
	}
	if ps, _ := c.Proxies(); len(ps) != 0 {
		t.Fatalf("Proxies() after Delete = %v", ps)
	}
	assertUp(t, p.Listen, false)
	if err := p.Delete(); err == nil || err.Error() != "Delete: HTTP 404: proxy not found" {
		t.Fatalf("second Delete: %v", err)
	}
	if _, err := c.Proxy("mysql_master"); err == nil || err.Error() != "Proxy: HTTP 404: proxy not found" {
		t.Fatalf("Proxy() after Delete: %v", err)
	}
}

func TestClientCreateConflicts(t *testing.T) {
	c, _ := newClient(t)
	p := mustCreate(t, c, "mysql_master", "localhost:20001")
	_, err := c.CreateProxy("test", p.Listen, "localhost:20001")
	if want := "Create: HTTP 500: listen tcp " + p.Listen + ": bind: address already in use"; err == nil || err.Error() != want {
		t.Errorf("CreateProxy on a taken port: %v, want %s", err, want)
	}
	if _, err := c.CreateProxy("mysql_master", "127.0.0.1:0", "localhost:20001"); err == nil || err.Error() != "Create: HTTP 409: proxy already exists" {
		t.Errorf("CreateProxy with a taken name: %v", err)
	}
	if err := p.Delete(); err != nil {
		t.Fatal(err)
	}
	if _, err := c.CreateProxy("mysql_master", p.Listen, "localhost:20001"); err != nil {
		t.Errorf("CreateProxy after Delete: %v", err)
	}
}

func TestClientPopulate(t *testing.T) {
	t.Run("creates and starts proxies", func(t *testing.T) {
		c, _ := newClient(t)
		ps, err := c.Populate([]tclient.Proxy{
			{Name: "one", Listen: "localhost:0", Upstream: "localhost:7171", Enabled: true},
			{Name: "two", Listen: "localhost:0", Upstream: "localhost:7474", Enabled: true},
		})
		if err != nil || len(ps) != 2 || ps[0].Name != "one" || ps[1].Name != "two" {
			t.Fatalf("Populate = %v, %v", ps, err)
		}
		for _, p := range ps {
			assertUp(t, p.Listen, true)
		}
	})
	t.Run("enabled by default", func(t *testing.T) {
		c, url := newClient(t)
		resp, err := http.Post(url+"/populate", "application/json",
			strings.NewReader(`[{"name": "test", "listen": "localhost:0", "upstream": "localhost:7171"}]`))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusCreated {
			t.Fatalf("POST /populate = %d, want 201", resp.StatusCode)
		}
		ps, _ := c.Proxies()
		if p := ps["test"]; p == nil || !p.Enabled {
			t.Fatalf("Proxies() = %v, want test enabled", ps)
		} else {
			assertUp(t, p.Listen, true)
		}
	})
	t.Run("a disabled proxy holds no port", func(t *testing.T) {
		c, _ := newClient(t)
		ps, err := c.Populate([]tclient.Proxy{
			{Name: "one", Listen: "localhost:0", Upstream: "localhost:7171", Enabled: false},
			{Name: "two", Listen: "localhost:0", Upstream: "localhost:7474", Enabled: true},
		})
		if err != nil || len(ps) != 2 || ps[0].Enabled || !ps[1].Enabled {
			t.Fatalf("Populate = %v, %v", ps, err)
		}
		assertUp(t, ps[1].Listen, true)
	})
	t.Run("an unchanged proxy is kept with its toxics", func(t *testing.T) {
		c, _ := newClient(t)
		one := mustCreate(t, c, "one", "localhost:7171")
		mustCreate(t, c, "two", "localhost:7474")
		if _, err := one.AddToxic("", "latency", "downstream", 1, nil); err != nil {
			t.Fatal(err)
		}
		ps, err := c.Populate([]tclient.Proxy{
			{Name: "one", Listen: one.Listen, Upstream: "localhost:7171", Enabled: true},
			{Name: "two", Listen: "127.0.0.1:0", Upstream: "localhost:7676", Enabled: true},
		})
		if err != nil || len(ps) != 2 || ps[0].Listen != one.Listen {
			t.Fatalf("Populate = %v, %v", ps, err)
		}
		ts, err := one.Toxics()
		if err != nil || len(ts) != 1 || ts[0].Type != "latency" {
			t.Fatalf("toxics of the kept proxy = %v, %v; want the latency toxic", ts, err)
		}
		if two, _ := c.Proxy("two"); two.Upstream != "localhost:7676" {
			t.Fatalf("changed proxy not replaced: %+v", two)
		}
		for _, p := range ps {
			assertUp(t, p.Listen, true)
		}
	})
	t.Run("a missing name fails before any proxy is made", func(t *testing.T) {
		c, _ := newClient(t)
		ps, err := c.Populate([]tclient.Proxy{
			{Name: "one", Listen: "localhost:0", Upstream: "localhost:7171", Enabled: true},
			{Name: "", Listen: "", Enabled: true},
		})
		if err == nil || err.Error() != "Populate: HTTP 400: missing required field: name at proxy 2" || len(ps) != 0 {
			t.Fatalf("Populate = %v, %v", ps, err)
		}
		if all, _ := c.Proxies(); len(all) != 0 {
			t.Fatalf("Proxies() = %v, want none", all)
		}
	})
	t.Run("a bad address stops at that proxy", func(t *testing.T) {
		c, _ := newClient(t)
		ps, err := c.Populate([]tclient.Proxy{
			{Name: "one", Listen: "localhost:0", Upstream: "localhost:7171", Enabled: true},
			{Name: "two", Listen: "local373", Upstream: "localhost:7474", Enabled: true},
			{Name: "three", Listen: "localhost:0", Upstream: "localhost:7676", Enabled: true},
		})
		if err == nil || len(ps) != 1 || ps[0].Name != "one" {
			t.Fatalf("Populate = %v, %v; want one proxy and an error", ps, err)
		}
		assertUp(t, ps[0].Listen, true)
		all, _ := c.Proxies()
		if all["two"] != nil || all["three"] != nil {
			t.Fatalf("Proxies() = %v, want only one", all)
		}
	})
	t.Run("toxics can be added to populated proxies", func(t *testing.T) {
		c, _ := newClient(t)
		ps, err := c.Populate([]tclient.Proxy{{Name: "one", Listen: "localhost:0", Upstream: "localhost:7171", Enabled: true}})
		if err != nil || len(ps) != 1 {
			t.Fatalf("Populate = %v, %v", ps, err)
		}
		if _, err := ps[0].AddToxic("", "latency", "", 1, nil); err != nil {
			t.Fatalf("AddToxic: %v", err)
		}
	})
}

func TestClientResetState(t *testing.T) {
	c, _ := newClient(t)
	p := mustCreate(t, c, "mysql_master", "localhost:20001")
	off := mustCreate(t, c, "off", "localhost:20002")
	if err := off.Disable(); err != nil {
		t.Fatal(err)
	}
	if _, err := p.AddToxic("", "latency", "downstream", 1, tclient.Attributes{"latency": 100, "jitter": 10}); err != nil {
		t.Fatal(err)
	}
	if err := c.ResetState(); err != nil {
		t.Fatalf("ResetState: %v", err)
	}
	ps, err := c.Proxies()
	if err != nil || len(ps) != 2 {
		t.Fatalf("Proxies() = %v, %v", ps, err)
	}
	for name, q := range ps {
		if !q.Enabled || len(q.ActiveToxics) != 0 {
			t.Errorf("after reset, %s = enabled %v, toxics %v; want enabled, none", name, q.Enabled, q.ActiveToxics)
		}
		assertUp(t, q.Listen, true)
	}
}

func TestClientToxics(t *testing.T) {
	c, _ := newClient(t)
	p := mustCreate(t, c, "mysql_master", "localhost:20001")

	if ts, err := p.Toxics(); err != nil || len(ts) != 0 {
		t.Fatalf("Toxics() = %v, %v; want none", ts, err)
	}
	lat, err := p.AddToxic("", "latency", "downstream", 1, tclient.Attributes{"latency": 100, "jitter": 10})
	if err != nil {
		t.Fatal(err)
	}
	if lat.Name != "latency_downstream" || lat.Toxicity != 1 || lat.Attributes["latency"] != 100.0 || lat.Attributes["jitter"] != 10.0 {
		t.Fatalf("AddToxic = %+v", lat)
	}
	if _, err := p.AddToxic("", "latency", "downstream", 1, nil); err == nil || err.Error() != "AddToxic: HTTP 409: toxic already exists" {
		t.Fatalf("conflicting AddToxic: %v", err)
	}
	// The same name on the other stream conflicts too.
	if _, err := p.AddToxic("latency_downstream", "latency", "upstream", 1, nil); err == nil || err.Error() != "AddToxic: HTTP 409: toxic already exists" {
		t.Fatalf("conflicting AddToxic on the other stream: %v", err)
	}
	// The default names differ by stream.
	if _, err := p.AddToxic("", "latency", "upstream", 1, nil); err != nil {
		t.Fatalf("AddToxic upstream: %v", err)
	}
	bw, err := p.AddToxic("", "bandwidth", "upstream", 0.5, tclient.Attributes{"rate": 100})
	if err != nil || bw.Toxicity != 0.5 || bw.Attributes["rate"] != 100.0 {
		t.Fatalf("AddToxic with toxicity = %+v, %v", bw, err)
	}
	noop, err := p.AddToxic("foo", "noop", "", 1, nil)
	if err != nil || noop.Name != "foo" || noop.Type != "noop" || noop.Stream != "downstream" {
		t.Fatalf("AddToxic noop = %+v, %v", noop, err)
	}
	ts, err := p.Toxics()
	if err != nil || len(ts) != 4 {
		t.Fatalf("Toxics() = %v, %v; want 4", ts, err)
	}
	// Toxiproxy lists the upstream toxics first, each stream in order.
	var order []string
	for _, x := range ts {
		order = append(order, x.Name)
	}
	if got, want := strings.Join(order, ","), "latency_upstream,bandwidth_upstream,latency_downstream,foo"; got != want {
		t.Errorf("toxic order = %s, want %s", got, want)
	}

	// Updates keep what they do not name.
	u, err := p.UpdateToxic("latency_downstream", 0.5, tclient.Attributes{"latency": 1000})
	if err != nil || u.Toxicity != 0.5 || u.Attributes["latency"] != 1000.0 || u.Attributes["jitter"] != 10.0 {
		t.Fatalf("UpdateToxic = %+v, %v", u, err)
	}
	u, err = p.UpdateToxic("latency_downstream", -1, tclient.Attributes{"latency": 500})
	if err != nil || u.Toxicity != 0.5 || u.Attributes["latency"] != 500.0 || u.Attributes["jitter"] != 10.0 {
		t.Fatalf("UpdateToxic keeping the toxicity = %+v, %v", u, err)
	}
	if _, err := p.UpdateToxic("nope", -1, nil); err == nil || err.Error() != "UpdateToxic: HTTP 404: toxic not found" {
		t.Fatalf("UpdateToxic of a missing toxic: %v", err)
	}

	if err := p.RemoveToxic("latency_downstream"); err != nil {
		t.Fatalf("RemoveToxic: %v", err)
	}
	if ts, _ := p.Toxics(); findToxic(ts, "latency_downstream") != nil {
		t.Fatalf("toxic still listed after RemoveToxic: %v", ts)
	}
	if err := p.RemoveToxic("latency_downstream"); err == nil || err.Error() != "RemoveToxic: HTTP 404: toxic not found" {
		t.Fatalf("second RemoveToxic: %v", err)
	}

	if _, err := p.AddToxic("", "latency", "walrustream", 1, nil); err == nil || err.Error() != "AddToxic: HTTP 400: stream was invalid, can be either upstream or downstream" {
		t.Fatalf("AddToxic with a bad stream: %v", err)
	}
	if _, err := p.AddToxic("", "teleport", "", 1, nil); err == nil || err.Error() != "AddToxic: HTTP 400: invalid toxic type" {
		t.Fatalf("AddToxic with a bad type: %v", err)
	}
	// The client's ToxicOptions helpers go through the same endpoints.
	if _, err := c.AddToxic(&tclient.ToxicOptions{ProxyName: "mysql_master", ToxicName: "cut", ToxicType: "timeout", Stream: "upstream", Toxicity: 1,
		Attributes: tclient.Attributes{"timeout": 0}}); err != nil {
		t.Fatalf("Client.AddToxic: %v", err)
	}
	if _, err := c.UpdateToxic(&tclient.ToxicOptions{ProxyName: "mysql_master", ToxicName: "cut", Toxicity: -1,
		Attributes: tclient.Attributes{"timeout": 50}}); err != nil {
		t.Fatalf("Client.UpdateToxic: %v", err)
	}
	if err := c.RemoveToxic(&tclient.ToxicOptions{ProxyName: "mysql_master", ToxicName: "cut"}); err != nil {
		t.Fatalf("Client.RemoveToxic: %v", err)
	}
}

// TestClientEveryToxicType adds, reads back, updates and removes each toxic
// type with its attributes.
func TestClientEveryToxicType(t *testing.T) {
	c, _ := newClient(t)
	p := mustCreate(t, c, "p", "localhost:20001")
	tests := []struct {
		typ          string
		attrs        tclient.Attributes
		update       tclient.Attributes
		wantAfterUpd tclient.Attributes
	}{
		{"latency", tclient.Attributes{"latency": 50.0, "jitter": 5.0}, tclient.Attributes{"jitter": 0.0}, tclient.Attributes{"latency": 50.0, "jitter": 0.0}},
		{"bandwidth", tclient.Attributes{"rate": 64.0}, tclient.Attributes{"rate": 0.0}, tclient.Attributes{"rate": 0.0}},
		{"slow_close", tclient.Attributes{"delay": 100.0}, tclient.Attributes{"delay": 200.0}, tclient.Attributes{"delay": 200.0}},
		{"timeout", tclient.Attributes{"timeout": 1000.0}, tclient.Attributes{"timeout": 0.0}, tclient.Attributes{"timeout": 0.0}},
		{"reset_peer", tclient.Attributes{"timeout": 10.0}, tclient.Attributes{"timeout": 20.0}, tclient.Attributes{"timeout": 20.0}},
		{"slicer", tclient.Attributes{"average_size": 64.0, "size_variation": 32.0, "delay": 10.0},
			tclient.Attributes{"delay": 0.0}, tclient.Attributes{"average_size": 64.0, "size_variation": 32.0, "delay": 0.0}},
		{"limit_data", tclient.Attributes{"bytes": 1024.0}, tclient.Attributes{"bytes": 1.0}, tclient.Attributes{"bytes": 1.0}},
	}
	for _, tt := range tests {
		t.Run(tt.typ, func(t *testing.T) {
			for _, stream := range []string{"upstream", "downstream"} {
				got, err := p.AddToxic("", tt.typ, stream, 1, tt.attrs)
				if err != nil {
					t.Fatalf("AddToxic(%s, %s): %v", tt.typ, stream, err)
				}
				name := tt.typ + "_" + stream
				if got.Name != name || got.Type != tt.typ || got.Stream != stream || fmt.Sprint(got.Attributes) != fmt.Sprint(tt.attrs) {
					t.Errorf("AddToxic = %+v, want %s %s %v", got, name, stream, tt.attrs)
				}
				ts, _ := p.Toxics()
				if x := findToxic(ts, name); x == nil || fmt.Sprint(x.Attributes) != fmt.Sprint(tt.attrs) {
					t.Errorf("listed %v, want %s with %v", ts, name, tt.attrs)
				}
				upd, err := p.UpdateToxic(name, -1, tt.update)
				if err != nil || fmt.Sprint(upd.Attributes) != fmt.Sprint(tt.wantAfterUpd) {
					t.Errorf("UpdateToxic(%s) = %+v, %v; want %v", name, upd, err, tt.wantAfterUpd)
				}
				if err := p.RemoveToxic(name); err != nil {
					t.Errorf("RemoveToxic(%s): %v", name, err)
				}
			}
		})
	}
}

func TestVersion(t *testing.T) {
	for _, tt := range []struct{ cfg, want string }{{"", toxiapi.DefaultVersion}, {"duohuo 1.2.3", "duohuo 1.2.3"}} {
		url, _ := startAPI(t, toxiapi.Config{Version: tt.cfg})
		resp, err := http.Get(url + "/version")
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || string(body) != tt.want || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/plain") {
			t.Errorf("GET /version = %d %q (%s), want 200 %q", resp.StatusCode, body, resp.Header.Get("Content-Type"), tt.want)
		}
	}
}

// TestErrorBodies checks status codes and Toxiproxy's error body for bad
// requests the client cannot send.
func TestErrorBodies(t *testing.T) {
	url, _ := startAPI(t, toxiapi.Config{MaxBodyBytes: 4096})
	c := tclient.NewClient(url)
	mustCreate(t, c, "p", "localhost:20001")
	tests := []struct {
		name, method, path, body string
		status                   int
		message                  string // prefix
	}{
		{"bad JSON for a proxy", "POST", "/proxies", `{"name":`, 400, "bad request body: "},
		{"a proxy that is not an object", "POST", "/proxies", `[1]`, 400, "bad request body: json: cannot unmarshal"},
		{"bad JSON for populate", "POST", "/populate", `{}`, 400, "bad request body: json: cannot unmarshal"},
		{"bad JSON for a toxic", "POST", "/proxies/p/toxics", `{"type":"latency","attributes":{"latency":"slow"}}`, 400, "bad request body: json: cannot unmarshal"},
		{"a negative latency", "POST", "/proxies/p/toxics", `{"type":"latency","attributes":{"latency":-5}}`, 400, "bad request body: latency -5: negative"},
		{"a slicer with no size", "POST", "/proxies/p/toxics", `{"type":"slicer"}`, 400, "bad request body: average_size 0"},
		{"an empty stream", "POST", "/proxies/p/toxics", `{"type":"latency","stream":""}`, 400, "stream was invalid"},
		{"toxics of a missing proxy", "GET", "/proxies/nope/toxics", "", 404, "proxy not found"},
		{"a missing toxic", "GET", "/proxies/p/toxics/nope", "", 404, "toxic not found"},
		{"a bad proxy update", "POST", "/proxies/p", `{"enabled":"yes"}`, 400, "bad request body: "},
		{"a body past the limit", "POST", "/proxies", `{"name":"` + strings.Repeat("x", 5000) + `"}`, 413, "bad request body: larger than 4096 bytes"},
		{"a listen address off loopback", "POST", "/proxies", `{"name":"r","listen":"0.0.0.0:0","upstream":"localhost:1"}`, 403, "listen 0.0.0.0:0: not a loopback address"},
		{"an update off loopback", "POST", "/proxies/p", `{"listen":"[::]:0"}`, 403, "listen [::]:0: not a loopback address"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req, _ := http.NewRequest(tt.method, url+tt.path, strings.NewReader(tt.body))
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			var e toxiapi.Error
			raw, _ := io.ReadAll(resp.Body)
			if err := json.Unmarshal(raw, &e); err != nil {
				t.Fatalf("%s %s: body %q is not Toxiproxy's error: %v", tt.method, tt.path, raw, err)
			}
			if resp.StatusCode != tt.status || e.Status != tt.status || !strings.HasPrefix(e.Message, tt.message) {
				t.Errorf("%s %s = %d %+v, want %d with %q…", tt.method, tt.path, resp.StatusCode, e, tt.status, tt.message)
			}
		})
	}
	// The failed update left the proxy as it was... but stopped, as
	// Toxiproxy's does when the new address fails.
	if p, err := c.Proxy("p"); err != nil || p.Listen != "[::]:0" || p.Enabled {
		t.Errorf("after the refused update, Proxy(p) = %+v, %v; want the new address, disabled", p, err)
	}
}

func TestRemoteListenAllowedWhenConfigured(t *testing.T) {
	url, _ := startAPI(t, toxiapi.Config{AllowRemote: true})
	resp, err := http.Post(url+"/proxies", "application/json", bytes.NewReader([]byte(`{"name":"r","listen":"0.0.0.0:0","upstream":"localhost:1"}`)))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("POST /proxies on 0.0.0.0 with AllowRemote = %d, want 201", resp.StatusCode)
	}
}

func TestEmptyHostBindsLoopback(t *testing.T) {
	c, _ := newClient(t)
	for _, listen := range []string{"", ":0"} {
		name := "p" + listen
		p, err := c.CreateProxy(name, listen, "localhost:1")
		if err != nil {
			t.Fatalf("CreateProxy(listen %q): %v", listen, err)
		}
		host, _, _ := net.SplitHostPort(p.Listen)
		if host != "127.0.0.1" {
			t.Errorf("listen %q bound %s, want 127.0.0.1", listen, p.Listen)
		}
	}
}
