package connlimit_test

import (
	"errors"
	"net"
	"sync/atomic"
	"syscall"
	"testing"
	"testing/synctest"
	"time"

	"go.uber.org/goleak"

	"github.com/duohuo/duohuo/internal/connlimit"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// failing is a listener whose accepts fail with errs, in order, before
// they return a connection.
type failing struct {
	net.Listener
	errs []error
}

func (l *failing) Accept() (net.Conn, error) {
	if len(l.errs) > 0 {
		err := l.errs[0]
		l.errs = l.errs[1:]
		return nil, err
	}
	c, _ := net.Pipe()
	return c, nil
}

func (l *failing) Close() error { return nil }

func TestAcceptRetriesWhenOutOfFileDescriptors(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		emfile := &net.OpError{Op: "accept", Net: "tcp", Err: syscall.EMFILE}
		enfile := &net.OpError{Op: "accept", Net: "tcp", Err: syscall.ENFILE}
		var errs []error
		for range 10 {
			errs = append(errs, emfile)
		}
		errs = append(errs, enfile)
		var pauses []time.Duration
		ln := connlimit.New(&failing{errs: errs}, connlimit.Config{OnAcceptError: func(err error, p time.Duration) {
			if !errors.Is(err, syscall.EMFILE) && !errors.Is(err, syscall.ENFILE) {
				t.Errorf("OnAcceptError(%v), want EMFILE or ENFILE", err)
			}
			pauses = append(pauses, p)
		}})
		start := time.Now()
		c, err := ln.Accept()
		if err != nil {
			t.Fatalf("Accept = %v, want a connection after the retries", err)
		}
		c.Close()
		want := []time.Duration{5, 10, 20, 40, 80, 160, 320, 640, 1000, 1000, 1000}
		var total time.Duration
		for i := range want {
			want[i] *= time.Millisecond
			total += want[i]
		}
		if len(pauses) != len(want) {
			t.Fatalf("pauses %v, want %v", pauses, want)
		}
		for i := range want {
			if pauses[i] != want[i] {
				t.Fatalf("pauses %v, want %v", pauses, want)
			}
		}
		if d := time.Since(start); d != total {
			t.Errorf("Accept returned after %v, want the sum of the pauses %v", d, total)
		}
	})
}

func TestAcceptReturnsOtherErrors(t *testing.T) {
	boom := errors.New("boom")
	ln := connlimit.New(&failing{errs: []error{boom}}, connlimit.Config{})
	if _, err := ln.Accept(); !errors.Is(err, boom) {
		t.Errorf("Accept = %v, want %v", err, boom)
	}
}

func TestCloseEndsAPause(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		emfile := &net.OpError{Op: "accept", Net: "tcp", Err: syscall.EMFILE}
		ln := connlimit.New(&failing{errs: []error{emfile, emfile, emfile}}, connlimit.Config{})
		done := make(chan error)
		go func() {
			_, err := ln.Accept()
			done <- err
		}()
		synctest.Wait() // Accept is in its first pause
		ln.Close()
		if err := <-done; !errors.Is(err, net.ErrClosed) {
			t.Errorf("Accept after Close = %v, want net.ErrClosed", err)
		}
	})
}

func TestMaxClosesConnectionsBeyondItAndCountsThem(t *testing.T) {
	inner, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var refused atomic.Int32
	ln := connlimit.New(inner, connlimit.Config{Max: 2, OnRefuse: func() { refused.Add(1) }})
	defer ln.Close()
	var clients []net.Conn
	defer func() {
		for _, c := range clients {
			c.Close()
		}
	}()
	dial := func() net.Conn {
		c, err := net.Dial("tcp", inner.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		clients = append(clients, c)
		return c
	}
	dial()
	dial()
	a, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	b, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	if ln.Open() != 2 {
		t.Errorf("Open = %d, want 2", ln.Open())
	}
	third := dial()
	// The third is closed at accept; Accept goes on waiting.
	got := make(chan net.Conn)
	go func() {
		c, _ := ln.Accept()
		got <- c
	}()
	third.SetReadDeadline(time.Now().Add(10 * time.Second))
	if _, err := third.Read(make([]byte, 1)); err == nil {
		t.Error("the connection beyond Max was not closed")
	}
	a.Close()
	a.Close() // a second Close gives nothing back twice
	dial()    // taken: a slot is free
	select {
	case c := <-got:
		if c == nil {
			t.Fatal("Accept failed")
		}
		c.Close()
	case <-time.After(10 * time.Second):
		t.Fatal("no connection accepted after one closed")
	}
	b.Close()
	if n := refused.Load(); n != 1 {
		t.Errorf("OnRefuse called %d times, want 1", n)
	}
	if ln.Open() != 0 {
		t.Errorf("Open after every Close = %d, want 0", ln.Open())
	}
}
