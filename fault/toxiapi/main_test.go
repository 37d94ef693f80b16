package toxiapi_test

import (
	"errors"
	"io"
	"net"
	"net/http/httptest"
	"strings"
	"sync"
	"syscall"
	"testing"

	"go.uber.org/goleak"

	"github.com/duohuo/duohuo/fault/toxiapi"
)

// httptest.Server.Close also closes http.DefaultTransport's idle
// connections, which the official client uses, so no goroutine outlives a
// test.
func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// startAPI serves a fresh Server on loopback and returns its base URL.
func startAPI(t testing.TB, cfg toxiapi.Config) (string, *toxiapi.Server) {
	t.Helper()
	s := toxiapi.New(cfg)
	hs := httptest.NewServer(s)
	t.Cleanup(func() {
		hs.Close()
		if err := s.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return hs.URL, s
}

// backend is a real loopback TCP server: each connection is passed to
// handle; Close (registered with t.Cleanup) waits for every handler.
type backend struct {
	ln    net.Listener
	wg    sync.WaitGroup
	mu    sync.Mutex
	conns map[net.Conn]struct{}
}

func startBackend(t testing.TB, handle func(net.Conn)) *backend {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	b := &backend{ln: ln, conns: make(map[net.Conn]struct{})}
	b.wg.Go(func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			b.mu.Lock()
			b.conns[c] = struct{}{}
			b.mu.Unlock()
			b.wg.Go(func() {
				defer c.Close()
				handle(c)
			})
		}
	})
	t.Cleanup(func() {
		ln.Close()
		b.mu.Lock()
		for c := range b.conns {
			c.Close()
		}
		b.mu.Unlock()
		b.wg.Wait()
	})
	return b
}

func (b *backend) Addr() string { return b.ln.Addr().String() }

func echo(c net.Conn) { io.Copy(c, c) }

// assertUp dials addr and fails t unless the outcome matches up. A reset
// counts as up: the port accepted, and the proxy reset the connection
// because its upstream refused (most tests have no upstream running).
func assertUp(t testing.TB, addr string, up bool) {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if isReset(err) {
		err = nil
	}
	switch {
	case err != nil && up:
		t.Errorf("dial %s: %v, want the proxy up", addr, err)
	case err == nil && !up:
		t.Errorf("dial %s: connected, want the port closed", addr)
	case err != nil && !errors.Is(err, syscall.ECONNREFUSED):
		t.Errorf("dial %s: %v, want connection refused", addr, err)
	}
	if c != nil {
		c.Close()
	}
}

func isReset(err error) bool { return errors.Is(err, syscall.ECONNRESET) }

func contains(s, sub string) bool { return strings.Contains(s, sub) }
