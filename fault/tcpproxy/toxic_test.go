package tcpproxy_test

import (
	"bytes"
	"errors"
	"io"
	"os"
	"testing"
	"time"

	"github.com/duohuo/duohuo/fault/tcpproxy"
)

func TestTimeoutDropsDataThenCloses(t *testing.T) {
	srv := startServer(t, echo)
	p := listen(t, srv.Addr())
	c := dial(t, p)
	roundTrip(t, c, []byte("hi"))
	const after = 100 * time.Millisecond
	set := time.Now()
	if err := p.Set("to", tcpproxy.Downstream, tcpproxy.Timeout{After: after}); err != nil {
		t.Fatal(err)
	}
	c.Write([]byte("lost"))
	// The echo is dropped and the connection closes cleanly (FIN), no
	// sooner than After.
	c.SetReadDeadline(time.Now().Add(10 * time.Second))
	n, err := io.Copy(io.Discard, c)
	if err != nil || n != 0 {
		t.Fatalf("client read under timeout: %d bytes, %v; want 0 bytes then a clean close", n, err)
	}
	if el := time.Since(set); el < after {
		t.Errorf("connection closed after %v, want >= %v", el, after)
	}
}

func TestTimeoutZeroDropsDataUntilRemoved(t *testing.T) {
	srv := startServer(t, echo)
	p := listen(t, srv.Addr())
	c := dial(t, p)
	if err := p.Set("to", tcpproxy.Upstream, tcpproxy.Timeout{}); err != nil {
		t.Fatal(err)
	}
	c.Write([]byte("lost"))
	c.SetReadDeadline(time.Now().Add(200 * time.Millisecond))
	if _, err := c.Read(make([]byte, 8)); !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("read under timeout 0: %v, want nothing and the connection open", err)
	}
	if err := p.Remove("to"); err != nil {
		t.Fatal(err)
	}
	roundTrip(t, c, []byte("alive"))
}

func TestSlowCloseDelaysTheEndOfStream(t *testing.T) {
	srv := startServer(t, sender([]byte("bye")))
	p := listen(t, srv.Addr())
	const delay = 150 * time.Millisecond
	if err := p.Set("sc", tcpproxy.Downstream, tcpproxy.SlowClose{Delay: delay}); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	c := dial(t, p)
	c.SetReadDeadline(time.Now().Add(10 * time.Second))
	got, err := io.ReadAll(c)
	if err != nil || string(got) != "bye" {
		t.Fatalf("client read %q, %v; want \"bye\" then EOF", got, err)
	}
	if el := time.Since(start); el < delay {
		t.Errorf("EOF after %v, want >= %v", el, delay)
	}
}

func TestSlicerCutsDataIntoDelayedPieces(t *testing.T) {
	handle, got := recorder()
	srv := startServer(t, handle)
	p := listen(t, srv.Addr())
	const delay = 20 * time.Millisecond
	if err := p.Set("sl", tcpproxy.Upstream, tcpproxy.Slicer{AverageSize: 10, SizeVariation: 5, Delay: delay}); err != nil {
		t.Fatal(err)
	}
	msg := bytes.Repeat([]byte("0123456789"), 10) // 100 bytes: at least 7 pieces
	c := dial(t, p)
	start := time.Now()
	c.Write(msg)
	c.CloseWrite()
	select {
	case r := <-got:
		if !bytes.Equal(r.data, msg) || r.err != nil {
			t.Fatalf("server read %q, %v; want the message intact", r.data, r.err)
		}
		// At least 6 gaps between at least 7 pieces.
		if el := time.Since(start); el < 6*delay {
			t.Errorf("message took %v, want >= %v", el, 6*delay)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("server connection never ended")
	}
}

func TestNewToxicsRejectInvalidValues(t *testing.T) {
	srv := startServer(t, echo)
	p := listen(t, srv.Addr())
	for _, tx := range []tcpproxy.Toxic{
		tcpproxy.Timeout{After: -1},
		tcpproxy.SlowClose{Delay: -1},
		tcpproxy.Slicer{},
		tcpproxy.Slicer{AverageSize: 4, SizeVariation: 5},
		tcpproxy.Slicer{AverageSize: 4, Delay: -1},
	} {
		if err := p.Set("bad", tcpproxy.Both, tx); !errors.Is(err, tcpproxy.ErrInvalidToxic) {
			t.Errorf("Set(%#v) = %v, want ErrInvalidToxic", tx, err)
		}
	}
}
