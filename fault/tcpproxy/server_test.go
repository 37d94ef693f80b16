package tcpproxy_test

import (
	"errors"
	"io"
	"net"
	"sync"
	"testing"
)

// server is a real loopback TCP server for the tests. Each accepted
// connection is passed to handle in its own goroutine; Close (registered
// with t.Cleanup) closes the listener and every connection and waits.
type server struct {
	ln    net.Listener
	wg    sync.WaitGroup
	mu    sync.Mutex
	conns map[net.Conn]struct{}
}

func startServer(t testing.TB, handle func(net.Conn)) *server {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &server{ln: ln, conns: make(map[net.Conn]struct{})}
	s.wg.Go(func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			s.mu.Lock()
			s.conns[c] = struct{}{}
			s.mu.Unlock()
			s.wg.Go(func() {
				defer func() {
					c.Close()
					s.mu.Lock()
					delete(s.conns, c)
					s.mu.Unlock()
				}()
				handle(c)
			})
		}
	})
	t.Cleanup(s.Close)
	return s
}

func (s *server) Addr() string { return s.ln.Addr().String() }

func (s *server) Close() {
	s.ln.Close()
	s.mu.Lock()
	for c := range s.conns {
		c.Close()
	}
	s.mu.Unlock()
	s.wg.Wait()
}

// echo copies everything back, then closes its side after the client's FIN.
func echo(c net.Conn) { io.Copy(c, c) }

// received is what a recording server read from one connection.
type received struct {
	data []byte
	err  error // nil for a clean EOF
}

// recorder returns a handler that reads a connection to its end and sends
// what it read on the returned channel.
func recorder() (func(net.Conn), <-chan received) {
	ch := make(chan received, 16)
	return func(c net.Conn) {
		b, err := io.ReadAll(c)
		ch <- received{b, err}
	}, ch
}

// sender returns a handler that writes data and closes.
func sender(data []byte) func(net.Conn) {
	return func(c net.Conn) { c.Write(data) }
}

func isReset(err error) bool {
	var op *net.OpError
	return errors.As(err, &op) && isConnReset(op.Err)
}
