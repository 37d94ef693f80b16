package toxiapi_test

import (
	"bytes"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"testing"
	"time"

	tclient "github.com/Shopify/toxiproxy/v2/client"

	"github.com/duohuo/duohuo/fault/toxiapi"
)

// These tests send real traffic through proxies made with the official
// client to real loopback servers, and check each toxic's effect. Timing
// assertions are lower bounds only: a busy machine makes things slower,
// never faster.

func dial(t testing.TB, addr string) net.Conn {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	c.SetDeadline(time.Now().Add(20 * time.Second))
	return c
}

func roundTrip(t testing.TB, c net.Conn, msg string) time.Duration {
	t.Helper()
	start := time.Now()
	if _, err := c.Write([]byte(msg)); err != nil {
		t.Fatalf("write: %v", err)
	}
	got := make([]byte, len(msg))
	if _, err := io.ReadFull(c, got); err != nil || string(got) != msg {
		t.Fatalf("echo = %q, %v; want %q", got, err, msg)
	}
	return time.Since(start)
}

func addToxic(t testing.TB, p *tclient.Proxy, typ, stream string, attrs tclient.Attributes) {
	t.Helper()
	if _, err := p.AddToxic("", typ, stream, 1, attrs); err != nil {
		t.Fatalf("AddToxic(%s): %v", typ, err)
	}
}

func TestTrafficLatencyOverHTTP(t *testing.T) {
	web := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "pong") }))
	defer web.Close()
	c, _ := newClient(t)
	p := mustCreate(t, c, "web", web.Listener.Addr().String())
	const latency = 100 * time.Millisecond
	addToxic(t, p, "latency", "downstream", tclient.Attributes{"latency": latency.Milliseconds(), "jitter": 10})

	hc := &http.Client{Transport: &http.Transport{}}
	defer hc.CloseIdleConnections()
	start := time.Now()
	resp, err := hc.Get("http://" + p.Listen + "/ping")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if string(body) != "pong" {
		t.Fatalf("body = %q, want pong", body)
	}
	// latency ± jitter: at least latency − jitter.
	if el := time.Since(start); el < latency-10*time.Millisecond {
		t.Errorf("GET through latency %v took %v, want at least %v", latency, el, latency-10*time.Millisecond)
	}
}

func TestTrafficResetPeer(t *testing.T) {
	srv := startBackend(t, echo)
	c, _ := newClient(t)
	p := mustCreate(t, c, "p", srv.Addr())
	// After 50ms: an immediate reset races with the accept, and under an
	// emulator (build/crosstest.sh loong64) the client may then read a
	// plain end of stream.
	addToxic(t, p, "reset_peer", "downstream", tclient.Attributes{"timeout": 50})
	// The reset may come before the dial returns.
	conn, err := net.Dial("tcp", p.Listen)
	if err == nil {
		defer conn.Close()
		conn.SetDeadline(time.Now().Add(20 * time.Second))
		conn.Write([]byte("hello"))
		_, err = io.Copy(io.Discard, conn)
	}
	if !isReset(err) {
		t.Fatalf("read through reset_peer: %v, want ECONNRESET", err)
	}
}

func TestTrafficLimitData(t *testing.T) {
	payload := bytes.Repeat([]byte("x"), 10000)
	srv := startBackend(t, func(c net.Conn) { c.Write(payload) })
	c, _ := newClient(t)
	p := mustCreate(t, c, "p", srv.Addr())
	addToxic(t, p, "limit_data", "downstream", tclient.Attributes{"bytes": 1234})
	conn := dial(t, p.Listen)
	got, err := io.ReadAll(conn)
	if err != nil || len(got) != 1234 {
		t.Fatalf("read through limit_data 1234: %d bytes, %v; want 1234 then EOF", len(got), err)
	}
}

func TestTrafficTimeout(t *testing.T) {
	srv := startBackend(t, echo)
	c, _ := newClient(t)
	p := mustCreate(t, c, "p", srv.Addr())
	conn := dial(t, p.Listen)
	roundTrip(t, conn, "before")
	const timeout = 200 * time.Millisecond
	set := time.Now()
	addToxic(t, p, "timeout", "downstream", tclient.Attributes{"timeout": timeout.Milliseconds()})
	conn.Write([]byte("stalled"))
	n, err := io.Copy(io.Discard, conn)
	if n != 0 || err != nil {
		t.Fatalf("read through timeout: %d bytes, %v; want nothing, then a close", n, err)
	}
	if el := time.Since(set); el < timeout {
		t.Errorf("closed after %v, want at least %v", el, timeout)
	}
}

func TestTrafficBandwidth(t *testing.T) {
	const size = 50000
	srv := startBackend(t, func(c net.Conn) { c.Write(bytes.Repeat([]byte("b"), size)) })
	c, _ := newClient(t)
	p := mustCreate(t, c, "p", srv.Addr())
	const rate = 100 // KB/s: 50 KB takes about 500ms
	addToxic(t, p, "bandwidth", "downstream", tclient.Attributes{"rate": rate})
	conn := dial(t, p.Listen)
	start := time.Now()
	n, err := io.Copy(io.Discard, conn)
	el := time.Since(start)
	if err != nil || n != size {
		t.Fatalf("read %d bytes, %v; want %d", n, err, size)
	}
	// Loosely: no faster than 80% of the time the rate allows.
	if min := time.Duration(float64(size) / (rate * 1000) * 0.8 * float64(time.Second)); el < min {
		t.Errorf("%d bytes at %d KB/s in %v (%.0f KB/s), want at least %v", size, rate, el, float64(n)/el.Seconds()/1000, min)
	}
}

func TestTrafficSlowCloseAndSlicer(t *testing.T) {
	payload := bytes.Repeat([]byte("0123456789"), 20)
	srv := startBackend(t, func(c net.Conn) { c.Write(payload) })
	c, _ := newClient(t)
	p := mustCreate(t, c, "p", srv.Addr())
	const delay = 150 * time.Millisecond
	addToxic(t, p, "slow_close", "downstream", tclient.Attributes{"delay": delay.Milliseconds()})
	addToxic(t, p, "slicer", "downstream", tclient.Attributes{"average_size": 16, "size_variation": 8, "delay": 1000})
	conn := dial(t, p.Listen)
	start := time.Now()
	got, err := io.ReadAll(conn)
	if err != nil || !bytes.Equal(got, payload) {
		t.Fatalf("read %q, %v; want the payload intact", got, err)
	}
	if el := time.Since(start); el < delay {
		t.Errorf("EOF after %v, want at least the slow_close delay %v", el, delay)
	}
}

func TestTrafficToxicRemovedAndDisabled(t *testing.T) {
	srv := startBackend(t, echo)
	c, _ := newClient(t)
	p := mustCreate(t, c, "p", srv.Addr())
	conn := dial(t, p.Listen)
	addToxic(t, p, "timeout", "upstream", tclient.Attributes{"timeout": 0})
	conn.Write([]byte("lost"))
	conn.SetReadDeadline(time.Now().Add(150 * time.Millisecond))
	if _, err := conn.Read(make([]byte, 8)); !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("read under timeout 0: %v, want nothing", err)
	}
	if err := p.RemoveToxic("timeout_upstream"); err != nil {
		t.Fatal(err)
	}
	conn.SetDeadline(time.Now().Add(20 * time.Second))
	roundTrip(t, conn, "alive")

	// Disabling closes the connections and the port, as in Toxiproxy.
	if err := p.Disable(); err != nil {
		t.Fatal(err)
	}
	if n, err := io.Copy(io.Discard, conn); n != 0 || (err != nil && !isReset(err)) {
		t.Fatalf("read after Disable: %d, %v; want the connection closed", n, err)
	}
	assertUp(t, p.Listen, false)
	if err := p.Enable(); err != nil {
		t.Fatal(err)
	}
	roundTrip(t, dial(t, p.Listen), "again")
}

// TestCloseClosesEveryPort checks that Server.Close leaves no port open.
func TestCloseClosesEveryPort(t *testing.T) {
	srv := startBackend(t, echo)
	s := toxiapi.New(toxiapi.Config{})
	hs := httptest.NewServer(s)
	defer hs.Close()
	c := tclient.NewClient(hs.URL)
	var addrs []string
	for _, name := range []string{"a", "b", "c"} {
		addrs = append(addrs, mustCreate(t, c, name, srv.Addr()).Listen)
	}
	open := dial(t, addrs[0])
	roundTrip(t, open, "hi")
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	for _, a := range addrs {
		assertUp(t, a, false)
	}
	if n, err := io.Copy(io.Discard, open); n != 0 || (err != nil && !isReset(err)) {
		t.Errorf("open connection after Close: %d, %v; want it closed", n, err)
	}
	if _, err := c.Proxies(); err == nil || !contains(err.Error(), "503") {
		t.Errorf("Proxies() after Close: %v, want 503", err)
	}
}
