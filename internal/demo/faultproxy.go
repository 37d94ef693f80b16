package demo

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"sync/atomic"

	"github.com/duohuo/duohuo/fault/tcpproxy"
)

// FaultProxy is a TCP fault proxy in front of one backend: a
// [tcpproxy.Proxy] (the engine of `duohuo chaos proxy`) behind a counting
// front. Clients connect to Addr; the front counts what arrives from them
// before any toxic acts on it — new connections, requests and request
// bytes — and passes every byte on to the proxy, whose toxics then break
// the wire between the client and the backend. A blackhole set on Proxy
// therefore still shows the requests that vanished into it.
//
// A FaultProxy is safe for concurrent use; Close stops it.
type FaultProxy struct {
	proxy *tcpproxy.Proxy
	ln    net.Listener

	conns, requests, bytes atomic.Int64

	mu     sync.Mutex // guards open and closed
	open   map[net.Conn]struct{}
	closed bool
	wg     sync.WaitGroup // accept loop and relays
}

// FaultCounts is what arrived at fault proxies from their clients, since
// they started.
type FaultCounts struct {
	// Conns counts connections accepted.
	Conns int64
	// Requests counts HTTP/1 requests: chunks of client data that begin
	// with a request line ("GET /…"). A client that writes each request in
	// one piece and waits for its answer, as net/http does, sends one chunk
	// per request.
	Requests int64
	// Bytes counts every byte received from clients.
	Bytes int64
}

// Add returns the sum of c and d.
func (c FaultCounts) Add(d FaultCounts) FaultCounts {
	return FaultCounts{Conns: c.Conns + d.Conns, Requests: c.Requests + d.Requests, Bytes: c.Bytes + d.Bytes}
}

// StartFaultProxy starts a fault proxy on a free loopback port in front of
// upstream ("host:port"). The caller must call Close.
func StartFaultProxy(upstream string) (*FaultProxy, error) {
	p, err := tcpproxy.Listen("127.0.0.1:0", upstream)
	if err != nil {
		return nil, fmt.Errorf("start fault proxy for %s: %w", upstream, err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		p.Close()
		return nil, fmt.Errorf("start fault proxy for %s: %w", upstream, err)
	}
	f := &FaultProxy{proxy: p, ln: ln, open: map[net.Conn]struct{}{}}
	f.wg.Add(1)
	go f.accept()
	return f, nil
}

// Addr returns the address clients connect to.
func (f *FaultProxy) Addr() string { return f.ln.Addr().String() }

// Proxy returns the proxy whose toxics break the wire: set them with
// Set or SetNamed, remove them with Remove or Clear.
func (f *FaultProxy) Proxy() *tcpproxy.Proxy { return f.proxy }

// Counts returns what arrived from clients so far.
func (f *FaultProxy) Counts() FaultCounts {
	return FaultCounts{Conns: f.conns.Load(), Requests: f.requests.Load(), Bytes: f.bytes.Load()}
}

// Close stops accepting, closes every connection and waits for the
// proxy's goroutines. It is safe to call more than once.
func (f *FaultProxy) Close() error {
	f.mu.Lock()
	if f.closed {
		f.mu.Unlock()
		return nil
	}
	f.closed = true
	err := f.ln.Close()
	for c := range f.open {
		c.Close()
	}
	f.mu.Unlock()
	f.wg.Wait()
	if perr := f.proxy.Close(); err == nil {
		err = perr
	}
	if errors.Is(err, net.ErrClosed) {
		err = nil
	}
	return err
}

func (f *FaultProxy) accept() {
	defer f.wg.Done()
	for {
		c, err := f.ln.Accept()
		if err != nil {
			return // closed; loopback has no temporary accept errors worth a retry
		}
		f.conns.Add(1)
		if !f.track(c) {
			c.Close()
			return
		}
		f.wg.Add(1)
		go f.relay(c)
	}
}

// track records c as open, and reports false once the proxy is closed.
func (f *FaultProxy) track(c net.Conn) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.closed {
		return false
	}
	f.open[c] = struct{}{}
	return true
}

func (f *FaultProxy) untrack(c net.Conn) {
	f.mu.Lock()
	delete(f.open, c)
	f.mu.Unlock()
}

// relay joins a client connection to the proxy. Each direction ends with a
// half close, as the proxy itself passes on an end of stream; the pair is
// closed when both are done or either fails.
func (f *FaultProxy) relay(client net.Conn) {
	defer f.wg.Done()
	defer f.untrack(client)
	defer client.Close()
	server, err := net.Dial("tcp", f.proxy.Addr().String())
	if err != nil {
		return
	}
	if !f.track(server) {
		server.Close()
		return
	}
	defer f.untrack(server)
	defer server.Close()
	var wg sync.WaitGroup
	wg.Go(func() {
		if f.copyCounting(server, client) != nil {
			client.Close()
			server.Close()
			return
		}
		closeWrite(server)
	})
	if _, err := io.Copy(client, server); err != nil {
		client.Close()
		server.Close()
	} else {
		closeWrite(client)
	}
	wg.Wait()
}

// copyCounting copies client data to dst, counting it. It returns nil at
// the client's end of stream.
func (f *FaultProxy) copyCounting(dst io.Writer, src io.Reader) error {
	buf := make([]byte, 32<<10)
	for {
		n, err := src.Read(buf)
		if n > 0 {
			f.bytes.Add(int64(n))
			if isRequestStart(buf[:n]) {
				f.requests.Add(1)
			}
			if _, werr := dst.Write(buf[:n]); werr != nil {
				return werr
			}
		}
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
	}
}

func closeWrite(c net.Conn) {
	if tc, ok := c.(*net.TCPConn); ok {
		tc.CloseWrite()
	}
}

// isRequestStart reports whether b begins with an HTTP/1 request line: a
// method token of upper-case letters, a space and a path.
func isRequestStart(b []byte) bool {
	i := bytes.IndexByte(b[:min(len(b), 16)], ' ')
	if i <= 0 || i+1 >= len(b) || (b[i+1] != '/' && b[i+1] != '*' && b[i+1] != 'h') {
		return false
	}
	for _, c := range b[:i] {
		if c < 'A' || c > 'Z' {
			return false
		}
	}
	return true
}
