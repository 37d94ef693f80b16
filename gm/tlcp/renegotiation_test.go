package tlcp

import (
	"errors"
	"io"
	"net"
	"testing"
	"time"
)

// TestRenegotiationIsRefused: a client answers a server's HelloRequest with
// a no_renegotiation warning and goes on reading; a server takes a second
// ClientHello as the end of the connection.
func TestRenegotiationIsRefused(t *testing.T) {
	scfg, ccfg := fuzzConfigs()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	done := make(chan error, 1)
	go func() {
		raw, err := ln.Accept()
		if err != nil {
			done <- err
			return
		}
		s := Server(raw, scfg)
		defer s.Close()
		s.SetDeadline(time.Now().Add(time.Minute))
		if err := s.Handshake(); err != nil {
			done <- err
			return
		}
		// Ask for renegotiation, then send data.
		err = s.writeHandshake(&helloRequestMsg{}, nil)
		if err == nil {
			err = s.flush()
		}
		if err != nil {
			done <- err
			return
		}
		if _, err := s.Write([]byte("after")); err != nil {
			done <- err
			return
		}
		// The client's next message is a ClientHello in the session.
		_, err = s.Read(make([]byte, 1))
		done <- err
	}()
	raw, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	c := Client(raw, ccfg)
	defer c.Close()
	c.SetDeadline(time.Now().Add(time.Minute))
	buf := make([]byte, 5)
	if _, err := io.ReadFull(c, buf); err != nil || string(buf) != "after" {
		t.Fatalf("client read %q, %v after a HelloRequest; want \"after\"", buf, err)
	}
	// A client that tries to renegotiate anyway.
	if err := c.writeHandshake(&clientHelloMsg{vers: VersionTLCP, random: make([]byte, 32), cipherSuites: []uint16{ECC_SM4_GCM_SM3}, compression: []uint8{0}}, nil); err == nil {
		c.flush()
	}
	var ae *AlertError
	if err := <-done; !errors.As(err, &ae) || ae.Alert != uint8(alertNoRenegotiation) || ae.Remote {
		t.Errorf("server after a second ClientHello: %v, want a local no_renegotiation alert", err)
	}
}
