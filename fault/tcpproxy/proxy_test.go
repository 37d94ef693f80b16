package tcpproxy_test

import (
	"bytes"
	"crypto/rand"
	"errors"
	"io"
	"net"
	"os"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/duohuo/duohuo/fault/tcpproxy"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func listen(t testing.TB, upstream string, opts ...tcpproxy.Option) *tcpproxy.Proxy {
	t.Helper()
	p, err := tcpproxy.Listen("127.0.0.1:0", upstream, opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := p.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return p
}

func dial(t testing.TB, p *tcpproxy.Proxy) *net.TCPConn {
	t.Helper()
	c, err := net.Dial("tcp", p.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c.(*net.TCPConn)
}

// roundTrip writes msg and reads the echo, returning the elapsed time.
func roundTrip(t testing.TB, c net.Conn, msg []byte) time.Duration {
	t.Helper()
	start := time.Now()
	if _, err := c.Write(msg); err != nil {
		t.Fatalf("write: %v", err)
	}
	got := make([]byte, len(msg))
	c.SetReadDeadline(time.Now().Add(10 * time.Second))
	if _, err := io.ReadFull(c, got); err != nil {
		t.Fatalf("read echo: %v", err)
	}
	if !bytes.Equal(got, msg) {
		t.Fatalf("echo = %q, want %q", got, msg)
	}
	return time.Since(start)
}

// readEnd reads c to its end and returns the error (nil for a clean EOF).
func readEnd(c net.Conn) error {
	c.SetReadDeadline(time.Now().Add(10 * time.Second))
	_, err := io.Copy(io.Discard, c)
	return err
}

func TestForwardsBytesBothWaysAndHalfClose(t *testing.T) {
	srv := startServer(t, echo)
	p := listen(t, srv.Addr())
	c := dial(t, p)

	payload := make([]byte, 1<<20)
	rand.Read(payload)
	errc := make(chan error, 1)
	go func() {
		_, err := c.Write(payload)
		if err == nil {
			err = c.CloseWrite()
		}
		errc <- err
	}()
	c.SetReadDeadline(time.Now().Add(10 * time.Second))
	got, err := io.ReadAll(c)
	if err != nil {
		t.Fatalf("read: %v", err)
	}
	if werr := <-errc; werr != nil {
		t.Fatalf("write: %v", werr)
	}
	if !bytes.Equal(got, payload) {
		t.Fatalf("echoed %d bytes, want the %d written, unchanged", len(got), len(payload))
	}
	waitOpen(t, p, 0)
	if st := p.Stats(); st.Accepted != 1 {
		t.Errorf("Stats().Accepted = %d, want 1", st.Accepted)
	}
}

// waitOpen polls until the proxy has n open connections.
func waitOpen(t *testing.T, p *tcpproxy.Proxy, n int) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for p.Stats().Open != n {
		if time.Now().After(deadline) {
			t.Fatalf("Stats().Open = %d, want %d", p.Stats().Open, n)
		}
		time.Sleep(time.Millisecond) // polling with a deadline
	}
}

func TestLatencyAppliesToOpenConnectionsAndIsRemovable(t *testing.T) {
	const delay = 150 * time.Millisecond
	srv := startServer(t, echo)
	p := listen(t, srv.Addr())
	c := dial(t, p)
	msg := []byte("ping")
	roundTrip(t, c, msg)

	if err := p.Set("lat", tcpproxy.Upstream, tcpproxy.Latency{Delay: delay}); err != nil {
		t.Fatal(err)
	}
	if d := roundTrip(t, c, msg); d < delay {
		t.Errorf("round trip with %v upstream latency took %v, want >= %v", delay, d, delay)
	}
	if err := p.Set("lat2", tcpproxy.Downstream, tcpproxy.Latency{Delay: delay}); err != nil {
		t.Fatal(err)
	}
	if d := roundTrip(t, c, msg); d < 2*delay {
		t.Errorf("round trip with %v latency each way took %v, want >= %v", delay, d, 2*delay)
	}
	p.Clear()
	if d := roundTrip(t, c, msg); d >= delay {
		t.Errorf("round trip after Clear took %v, want < %v", d, delay)
	}
}

func TestJitterStaysWithinBounds(t *testing.T) {
	const delay, jitter = 40 * time.Millisecond, 30 * time.Millisecond
	srv := startServer(t, echo)
	p := listen(t, srv.Addr())
	if err := p.Set("j", tcpproxy.Upstream, tcpproxy.Latency{Delay: delay, Jitter: jitter}); err != nil {
		t.Fatal(err)
	}
	c := dial(t, p)
	for range 10 {
		if d := roundTrip(t, c, []byte("x")); d < delay-jitter {
			t.Fatalf("round trip %v, want >= delay-jitter = %v", d, delay-jitter)
		}
	}
}

func TestBandwidthLimitsThroughput(t *testing.T) {
	const size, rate = 64 << 10, 128 << 10 // 0.5 s at the limit
	data := make([]byte, size)
	srv := startServer(t, sender(data))
	p := listen(t, srv.Addr())
	if err := p.Set("bw", tcpproxy.Downstream, tcpproxy.Bandwidth{BytesPerSecond: rate}); err != nil {
		t.Fatal(err)
	}
	c := dial(t, p)
	start := time.Now()
	c.SetReadDeadline(time.Now().Add(10 * time.Second))
	got, err := io.ReadAll(c)
	if err != nil || len(got) != size {
		t.Fatalf("read %d bytes, err %v; want %d, nil", len(got), err, size)
	}
	// The first 10ms piece goes out at once; the rest is paced.
	if d, want := time.Since(start), 450*time.Millisecond; d < want {
		t.Errorf("%d bytes at %d B/s took %v, want >= %v", size, rate, d, want)
	}
}

func TestBlackholeDropsDataUntilRemoved(t *testing.T) {
	srv := startServer(t, echo)
	p := listen(t, srv.Addr())
	c := dial(t, p)
	roundTrip(t, c, []byte("before"))

	if err := p.Set("bh", tcpproxy.Upstream, tcpproxy.Blackhole{}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Write([]byte("lost")); err != nil {
		t.Fatal(err)
	}
	c.SetReadDeadline(time.Now().Add(200 * time.Millisecond))
	buf := make([]byte, 16)
	if n, err := c.Read(buf); !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("read through blackhole = %q, %v; want nothing until the deadline", buf[:n], err)
	}
	if err := p.Remove("bh"); err != nil {
		t.Fatal(err)
	}
	// The dropped bytes never arrive; new ones do.
	roundTrip(t, c, []byte("after"))
}

func TestBlackholeHoldsEndOfStream(t *testing.T) {
	handle, got := recorder()
	srv := startServer(t, handle)
	p := listen(t, srv.Addr())
	if err := p.Set("bh", tcpproxy.Upstream, tcpproxy.Blackhole{}); err != nil {
		t.Fatal(err)
	}
	c := dial(t, p)
	c.Write([]byte("dropped"))
	c.CloseWrite()
	select {
	case r := <-got:
		t.Fatalf("server saw the end of stream through a blackhole: %q, %v", r.data, r.err)
	case <-time.After(200 * time.Millisecond):
	}
	if err := p.Remove("bh"); err != nil {
		t.Fatal(err)
	}
	select {
	case r := <-got:
		if r.err != nil || len(r.data) != 0 {
			t.Errorf("server read %q, %v; want nothing and a clean EOF", r.data, r.err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("server never saw the held end of stream")
	}
}

func TestLimitDataClosesAfterNBytes(t *testing.T) {
	tests := []struct {
		name  string
		limit int64
		write string
		want  string
	}{
		{"upstream limit cuts a longer stream at the limit", 5, "hello world", "hello"},
		{"upstream limit larger than the stream passes it whole", 100, "hello", "hello"},
		{"zero limit passes nothing", 0, "hello", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			handle, got := recorder()
			srv := startServer(t, handle)
			p := listen(t, srv.Addr())
			if err := p.Set("limit", tcpproxy.Upstream, tcpproxy.LimitData{Bytes: tt.limit}); err != nil {
				t.Fatal(err)
			}
			c := dial(t, p)
			c.Write([]byte(tt.write))
			c.CloseWrite()
			select {
			case r := <-got:
				if string(r.data) != tt.want {
					t.Errorf("server read %q, want %q", r.data, tt.want)
				}
			case <-time.After(5 * time.Second):
				t.Fatal("server connection never ended")
			}
		})
	}
}

func TestResetPeerSendsRST(t *testing.T) {
	t.Run("downstream reset is seen by the client", func(t *testing.T) {
		srv := startServer(t, echo)
		p := listen(t, srv.Addr())
		c := dial(t, p)
		roundTrip(t, c, []byte("hi"))
		if err := p.Set("rst", tcpproxy.Downstream, tcpproxy.ResetPeer{}); err != nil {
			t.Fatal(err)
		}
		if err := readEnd(c); !isReset(err) {
			t.Fatalf("client read after reset_peer: %v, want ECONNRESET", err)
		}
	})
	t.Run("upstream reset is seen by the server", func(t *testing.T) {
		handle, got := recorder()
		srv := startServer(t, handle)
		p := listen(t, srv.Addr())
		if err := p.Set("rst", tcpproxy.Upstream, tcpproxy.ResetPeer{After: 50 * time.Millisecond}); err != nil {
			t.Fatal(err)
		}
		c := dial(t, p)
		c.Write([]byte("x"))
		select {
		case r := <-got:
			if !isReset(r.err) {
				t.Errorf("server read %q, %v; want ECONNRESET", r.data, r.err)
			}
		case <-time.After(5 * time.Second):
			t.Fatal("server connection never ended")
		}
		if err := readEnd(c); err != nil && !isReset(err) {
			t.Errorf("client read: %v, want a clean close", err)
		}
	})
	t.Run("removing a pending reset cancels it", func(t *testing.T) {
		srv := startServer(t, echo)
		p := listen(t, srv.Addr())
		c := dial(t, p)
		if err := p.Set("rst", tcpproxy.Both, tcpproxy.ResetPeer{After: 100 * time.Millisecond}); err != nil {
			t.Fatal(err)
		}
		if err := p.Remove("rst"); err != nil {
			t.Fatal(err)
		}
		c.SetReadDeadline(time.Now().Add(300 * time.Millisecond))
		if _, err := c.Read(make([]byte, 1)); !errors.Is(err, os.ErrDeadlineExceeded) {
			t.Fatalf("read after removed reset: %v, want the connection still open", err)
		}
		roundTrip(t, c, []byte("alive"))
	})
}

func TestResetConnsResetsOpenConnections(t *testing.T) {
	srv := startServer(t, echo)
	p := listen(t, srv.Addr())
	c := dial(t, p)
	roundTrip(t, c, []byte("hi"))
	if n := p.ResetConns(); n != 1 {
		t.Errorf("ResetConns() = %d, want 1", n)
	}
	if err := readEnd(c); !isReset(err) {
		t.Fatalf("client read after ResetConns: %v, want ECONNRESET", err)
	}
	roundTrip(t, dial(t, p), []byte("new connections still work"))
}

func TestRefuseRefusesNewConnectionsOnly(t *testing.T) {
	srv := startServer(t, echo)
	p := listen(t, srv.Addr())
	old := dial(t, p)
	if err := p.Refuse(true); err != nil {
		t.Fatal(err)
	}
	if c, err := net.Dial("tcp", p.Addr().String()); !isConnRefused(err) {
		if c != nil {
			c.Close()
		}
		t.Fatalf("dial while refusing: %v, want ECONNREFUSED", err)
	}
	roundTrip(t, old, []byte("open connection survives"))
	if err := p.Refuse(false); err != nil {
		t.Fatal(err)
	}
	roundTrip(t, dial(t, p), []byte("accepting again on the same address"))
}

func TestServerResetReachesClient(t *testing.T) {
	srv := startServer(t, func(c net.Conn) {
		c.(*net.TCPConn).SetLinger(0)
		c.Read(make([]byte, 1))
	})
	p := listen(t, srv.Addr())
	c := dial(t, p)
	c.Write([]byte("x"))
	if err := readEnd(c); !isReset(err) {
		t.Fatalf("client read after server RST: %v, want ECONNRESET", err)
	}
}

func TestUnreachableUpstreamResetsClient(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	dead := ln.Addr().String()
	ln.Close()
	p := listen(t, dead)
	// The reset may come while connect is still returning, or on the first read.
	c, err := net.Dial("tcp", p.Addr().String())
	if err == nil {
		defer c.Close()
		err = readEnd(c)
	}
	if !isReset(err) {
		t.Fatalf("client read with upstream down: %v, want ECONNRESET", err)
	}
}

func TestSetRejectsInvalidToxics(t *testing.T) {
	tests := []struct {
		name string
		tox  string
		dir  tcpproxy.Direction
		t    tcpproxy.Toxic
	}{
		{"empty name", "", tcpproxy.Both, tcpproxy.Blackhole{}},
		{"no direction", "x", 0, tcpproxy.Blackhole{}},
		{"unknown direction bits", "x", 8, tcpproxy.Blackhole{}},
		{"nil toxic", "x", tcpproxy.Both, nil},
		{"negative latency", "x", tcpproxy.Both, tcpproxy.Latency{Delay: -1}},
		{"jitter above delay", "x", tcpproxy.Both, tcpproxy.Latency{Delay: 1, Jitter: 2}},
		{"zero bandwidth", "x", tcpproxy.Both, tcpproxy.Bandwidth{}},
		{"negative data limit", "x", tcpproxy.Both, tcpproxy.LimitData{Bytes: -1}},
		{"negative reset delay", "x", tcpproxy.Both, tcpproxy.ResetPeer{After: -1}},
	}
	srv := startServer(t, echo)
	p := listen(t, srv.Addr())
	if err := p.Set("keep", tcpproxy.Both, tcpproxy.Latency{}); err != nil {
		t.Fatal(err)
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := p.Set(tt.tox, tt.dir, tt.t); !errors.Is(err, tcpproxy.ErrInvalidToxic) {
				t.Errorf("Set(%q, %v, %#v) = %v, want ErrInvalidToxic", tt.tox, tt.dir, tt.t, err)
			}
			if got := p.Toxics(); len(got) != 1 || got[0].Name != "keep" {
				t.Errorf("Toxics() after a refused Set = %v, want only \"keep\"", got)
			}
		})
	}
}

func TestToxicsListAndReplace(t *testing.T) {
	srv := startServer(t, echo)
	p := listen(t, srv.Addr())
	p.Set("a", tcpproxy.Upstream, tcpproxy.Latency{Delay: time.Millisecond})
	p.Set("b", tcpproxy.Downstream, tcpproxy.Blackhole{})
	p.Set("a", tcpproxy.Both, tcpproxy.Bandwidth{BytesPerSecond: 10})
	got := p.Toxics()
	if len(got) != 2 || got[0].Name != "b" || got[1].Name != "a" || got[1].Direction != tcpproxy.Both ||
		got[1].Toxic != (tcpproxy.Bandwidth{BytesPerSecond: 10}) {
		t.Errorf("Toxics() = %+v, want b then the replaced a", got)
	}
	if err := p.Remove("nope"); !errors.Is(err, tcpproxy.ErrNoToxic) {
		t.Errorf("Remove(unknown) = %v, want ErrNoToxic", err)
	}
}

func TestCloseClosesConnectionsAndIsIdempotent(t *testing.T) {
	srv := startServer(t, echo)
	p, err := tcpproxy.Listen("127.0.0.1:0", srv.Addr())
	if err != nil {
		t.Fatal(err)
	}
	c := dial(t, p)
	roundTrip(t, c, []byte("hi"))
	p.Set("bh", tcpproxy.Both, tcpproxy.Blackhole{})
	if err := p.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if err := readEnd(c); err != nil {
		t.Errorf("client read after Close: %v, want EOF", err)
	}
	if err := p.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	if err := p.Set("x", tcpproxy.Both, tcpproxy.Blackhole{}); !errors.Is(err, tcpproxy.ErrClosed) {
		t.Errorf("Set after Close = %v, want ErrClosed", err)
	}
	if err := p.Refuse(false); !errors.Is(err, tcpproxy.ErrClosed) {
		t.Errorf("Refuse after Close = %v, want ErrClosed", err)
	}
}

func TestListenRejectsBadAddresses(t *testing.T) {
	if _, err := tcpproxy.Listen("127.0.0.1:0", "no-port"); err == nil {
		t.Error("Listen with upstream \"no-port\" succeeded, want an error")
	}
	if _, err := tcpproxy.Listen("256.0.0.1:0", "127.0.0.1:1"); err == nil {
		t.Error("Listen on 256.0.0.1 succeeded, want an error")
	}
}

func TestParseDirection(t *testing.T) {
	for _, d := range []tcpproxy.Direction{tcpproxy.Upstream, tcpproxy.Downstream, tcpproxy.Both} {
		got, err := tcpproxy.ParseDirection(d.String())
		if err != nil || got != d {
			t.Errorf("ParseDirection(%q) = %v, %v; want %v", d.String(), got, err, d)
		}
	}
	if _, err := tcpproxy.ParseDirection("sideways"); !errors.Is(err, tcpproxy.ErrInvalidToxic) {
		t.Errorf("ParseDirection(sideways) = %v, want ErrInvalidToxic", err)
	}
}

func TestToxicityPoisonsSomeConnectionsForTheirWholeLife(t *testing.T) {
	const conns, delay = 40, 200 * time.Millisecond
	srv := startServer(t, echo)
	p := listen(t, srv.Addr())
	if err := p.SetNamed(tcpproxy.Named{Name: "some", Direction: tcpproxy.Upstream, Toxic: tcpproxy.Latency{Delay: delay}, Toxicity: 0.5}); err != nil {
		t.Fatal(err)
	}
	type result struct {
		first, second bool // slow or not, per round trip
		err           error
	}
	results := make(chan result, conns)
	cs := make([]*net.TCPConn, conns)
	for i := range cs {
		cs[i] = dial(t, p)
	}
	for _, c := range cs {
		go func() {
			a, err1 := roundTripErr(c)
			b, err2 := roundTripErr(c)
			results <- result{a >= delay, b >= delay, errors.Join(err1, err2)}
		}()
	}
	slow := 0
	for range conns {
		r := <-results
		if r.err != nil {
			t.Fatalf("round trip: %v", r.err)
		}
		if r.first != r.second {
			t.Errorf("a connection was slow on one round trip and not the other: %+v", r)
		}
		if r.first {
			slow++
		}
	}
	// Binomial(40, 0.5): outside [5, 35] with probability < 1e-6.
	if slow < 5 || slow > 35 {
		t.Errorf("%d of %d connections poisoned at toxicity 0.5, want about half", slow, conns)
	}
	if got := p.Toxics(); len(got) != 1 || got[0].Toxicity != 0.5 {
		t.Errorf("Toxics() = %+v, want toxicity 0.5", got)
	}
	if err := p.SetNamed(tcpproxy.Named{Name: "x", Direction: tcpproxy.Both, Toxic: tcpproxy.Blackhole{}, Toxicity: 1.5}); !errors.Is(err, tcpproxy.ErrInvalidToxic) {
		t.Errorf("SetNamed with toxicity 1.5 = %v, want ErrInvalidToxic", err)
	}
}

// roundTripErr is roundTrip for goroutines other than the test's: it
// returns an error instead of calling t.Fatal.
func roundTripErr(c net.Conn) (time.Duration, error) {
	start := time.Now()
	msg := []byte("toxicity")
	c.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := c.Write(msg); err != nil {
		return 0, err
	}
	if _, err := io.ReadFull(c, make([]byte, len(msg))); err != nil {
		return 0, err
	}
	return time.Since(start), nil
}
