package proxy

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"
)

// Each way a client can fail while sending its body is told apart from an
// upstream failure, and gets its own status, over a raw HTTP/1.1 socket.
func TestClientBodyFailures(t *testing.T) {
	up := newH2CServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, err := io.ReadAll(r.Body)
		if err != nil {
			return
		}
		fmt.Fprintf(w, "got %d bytes", len(b))
	}))
	for _, tc := range []struct {
		name     string
		request  string // sent as is
		halfShut bool   // then close the sending side
		maxBody  int64
		wantErr  func(error) bool // on Body.Err; nil: want no error
		want     int              // status answered
	}{
		{
			name:    "a complete body is no client failure",
			request: "PUT /x HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabc",
			want:    http.StatusOK,
		},
		{
			name:    "a chunk size that is not hex is a bad request",
			request: "PUT /x HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
			wantErr: func(err error) bool { return err != nil && !errors.Is(err, io.ErrUnexpectedEOF) },
			want:    http.StatusBadRequest,
		},
		{
			name:    "a chunk without its CRLF is a bad request",
			request: "PUT /x HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabcX\r\n0\r\n\r\n",
			wantErr: func(err error) bool { return err != nil && !errors.Is(err, io.ErrUnexpectedEOF) },
			want:    http.StatusBadRequest,
		},
		{
			name:    "a body over the limit is too large",
			request: "PUT /x HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\n0123456789",
			maxBody: 4,
			wantErr: func(err error) bool { var e *http.MaxBytesError; return errors.As(err, &e) },
			want:    http.StatusRequestEntityTooLarge,
		},
		{
			name:     "a client that stops short and closes its side is gone",
			request:  "PUT /x HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\n012",
			halfShut: true,
			wantErr:  func(err error) bool { return errors.Is(err, io.ErrUnexpectedEOF) },
			want:     StatusClientClosedRequest,
		},
		{
			name:     "a chunked body cut off is gone too",
			request:  "PUT /x HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nab",
			halfShut: true,
			wantErr:  func(err error) bool { return errors.Is(err, io.ErrUnexpectedEOF) },
			want:     StatusClientClosedRequest,
		},
		{
			name:    "a client that stops sending is too slow",
			request: "PUT /x HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\n012",
			wantErr: func(err error) bool { return errors.Is(err, ErrClientIdle) },
			want:    http.StatusRequestTimeout,
		},
	} {
		seen := make(chan attempt, 1)
		gw := newH2CServer(t, handlerWith(t, newForwarder(t), up.Listener.Addr().String(),
			gwOpts{bodyIdle: 100 * time.Millisecond, maxBody: tc.maxBody, seen: seen}))
		c, err := net.Dial("tcp", gw.Listener.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		c.SetDeadline(time.Now().Add(time.Minute)) // a safety net, not an assertion
		io.WriteString(c, tc.request)
		if tc.halfShut {
			c.(*net.TCPConn).CloseWrite()
		}
		a := <-seen
		switch {
		case tc.wantErr == nil && (a.body != nil || a.roundTrip != nil):
			t.Errorf("%s: round trip %v, Body.Err %v; want neither", tc.name, a.roundTrip, a.body)
		case tc.wantErr != nil && (a.roundTrip == nil || !tc.wantErr(a.body)):
			t.Errorf("%s: round trip %v, Body.Err %v; want a failed round trip and the client's error", tc.name, a.roundTrip, a.body)
		}
		if got := ClientBodyStatus(a.body); tc.wantErr != nil && got != tc.want {
			t.Errorf("%s: ClientBodyStatus(%v) = %d, want %d", tc.name, a.body, got, tc.want)
		}
		if !tc.halfShut {
			resp, err := http.ReadResponse(bufio.NewReader(c), nil)
			if err != nil || resp.StatusCode != tc.want {
				t.Errorf("%s: client got %v, %v; want status %d", tc.name, resp, err, tc.want)
			} else {
				resp.Body.Close()
			}
		}
		c.Close()
	}
}

// A client that resets its HTTP/2 stream mid-body is gone, as is one that
// drops its connection.
func TestClientBodyStatusHTTP2Reset(t *testing.T) {
	got := make(chan error, 1)
	firstRead := make(chan struct{})
	gw := newH2CServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b := NewBody(r.Body, 0)
		buf := make([]byte, 3)
		io.ReadFull(b, buf)
		close(firstRead)
		io.Copy(io.Discard, b)
		got <- b.Err()
	}))
	pr, pw := io.Pipe()
	defer pw.Close()
	ctx, cancel := context.WithCancel(context.Background())
	req, _ := http.NewRequestWithContext(ctx, "POST", gw.URL, pr)
	go io.WriteString(pw, "abc")
	done := make(chan struct{})
	go func() {
		defer close(done)
		if resp, err := newClient(t, "h2c").Do(req); err == nil {
			resp.Body.Close()
		}
	}()
	<-firstRead
	cancel() // the client resets its stream
	err := <-got
	<-done
	if status := ClientBodyStatus(err); status != StatusClientClosedRequest {
		t.Errorf("ClientBodyStatus(%v) = %d, want %d", err, status, StatusClientClosedRequest)
	}
}

func TestClientBodyStatus(t *testing.T) {
	for _, tc := range []struct {
		name string
		err  error
		want int
	}{
		{"no error, no client fault", nil, 0},
		{"a body over the limit", fmt.Errorf("read: %w", &http.MaxBytesError{Limit: 4}), 413},
		{"the idle limit", fmt.Errorf("%w: nothing received for 1s", ErrClientIdle), 408},
		{"the server's read deadline", &net.OpError{Op: "read", Err: os.ErrDeadlineExceeded}, 408},
		{"a body cut short", io.ErrUnexpectedEOF, 499},
		{"a reset connection", &net.OpError{Op: "read", Err: os.NewSyscallError("read", syscall.ECONNRESET)}, 499},
		{"a closed connection", net.ErrClosed, 499},
		{"a cancelled request", context.Canceled, 499},
		{"malformed framing", errors.New("invalid byte in chunk length"), 400},
	} {
		if got := ClientBodyStatus(tc.err); got != tc.want {
			t.Errorf("%s: ClientBodyStatus(%v) = %d, want %d", tc.name, tc.err, got, tc.want)
		}
	}
}

// An attempt's Close interrupts its read that waits for the client, and
// leaves the body whole for another attempt when it read nothing.
func TestAttemptCloseInterruptsItsRead(t *testing.T) {
	pr, pw := io.Pipe()
	defer pw.Close()
	b := NewBody(pr, 0)
	first := &attemptBody{b: b}
	if err := first.Close(); err != nil {
		t.Fatal(err)
	}
	if b.Touched() {
		t.Fatal("closing an attempt that read nothing touched the body")
	}
	second := &attemptBody{b: b}
	go io.WriteString(pw, "x")
	buf := make([]byte, 8)
	if n, err := second.Read(buf); n != 1 || err != nil {
		t.Fatalf("second attempt's read = %d, %v; want the byte the first one left", n, err)
	}
	readDone := make(chan error, 1)
	go func() {
		_, err := second.Read(buf) // waits: the client sends nothing more
		readDone <- err
	}()
	for !waiting(b) {
		time.Sleep(time.Millisecond)
	}
	second.Close()
	if err := <-readDone; !errors.Is(err, errAttemptOver) {
		t.Errorf("read interrupted by the attempt's Close = %v, want errAttemptOver", err)
	}
	if err := b.Err(); err != nil {
		t.Errorf("Body.Err after an attempt's Close = %v, want nil: it is no client failure", err)
	}
}

// waiting reports whether a read of b is waiting for the client.
func waiting(b *Body) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.reading
}

func TestBodyErrIsTheFirstFailure(t *testing.T) {
	first, second := errors.New("first"), errors.New("second")
	b := NewBody(io.NopCloser(io.MultiReader(strings.NewReader("ab"), &failReader{[]error{first, second}})), 0)
	io.ReadAll(b)
	io.ReadAll(b)
	if err := b.Err(); err != first {
		t.Errorf("Err = %v, want %v", err, first)
	}
	var none *Body
	if none.Err() != nil {
		t.Error("nil Body has an error")
	}
	ok := NewBody(io.NopCloser(strings.NewReader("ab")), time.Minute)
	if _, err := io.ReadAll(ok); err != nil || ok.Err() != nil {
		t.Errorf("reading a good body: %v, Err %v; want neither", err, ok.Err())
	}
}

// failReader fails each read with the next of its errors, then the last.
type failReader struct{ errs []error }

func (f *failReader) Read([]byte) (int, error) {
	err := f.errs[0]
	if len(f.errs) > 1 {
		f.errs = f.errs[1:]
	}
	return 0, err
}
