package proxy

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"testing"
	"time"
)

// newClient returns a client that speaks HTTP/1.1 ("h1") or cleartext
// HTTP/2 with prior knowledge ("h2c") to the gateway.
func newClient(t *testing.T, proto string) *http.Client {
	t.Helper()
	var p http.Protocols
	switch proto {
	case "h1":
		p.SetHTTP1(true)
	case "h2c":
		p.SetUnencryptedHTTP2(true)
	default:
		t.Fatalf("unknown client protocol %q", proto)
	}
	tr := &http.Transport{Protocols: &p, DisableCompression: true}
	t.Cleanup(tr.CloseIdleConnections)
	return &http.Client{Transport: tr}
}

// upstreamProtocols are the transport protocols the Respond tests run over,
// with the client protocol each is paired with, so that every HTTP/1.1 and
// HTTP/2 combination on either side is covered.
var respondPairs = []struct{ client, upstream string }{
	{"h1", ProtocolHTTP1},
	{"h1", ProtocolH2C},
	{"h2c", ProtocolHTTP1},
	{"h2c", ProtocolH2C},
}

// The status and headers reach the client before the first body byte, even
// when the length is known (a long poll that answers with its headers
// first).
func TestRespondFlushesHeadersAtOnce(t *testing.T) {
	for _, pair := range respondPairs {
		release := make(chan struct{})
		up := newH2CServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Length", "5")
			w.Header().Set("X-Poll", "waiting")
			w.WriteHeader(http.StatusAccepted)
			w.(http.Flusher).Flush()
			select {
			case <-release:
				io.WriteString(w, "hello")
			case <-r.Context().Done():
			}
		}))
		gw := newH2CServer(t, handlerFor(t, newForwarderWith(t, TransportOptions{Protocol: pair.upstream}), up.Listener.Addr().String()))
		resp, err := newClient(t, pair.client).Get(gw.URL)
		if err != nil {
			t.Fatalf("%s client, %s upstream: %v", pair.client, pair.upstream, err)
		}
		if resp.StatusCode != http.StatusAccepted || resp.Header.Get("X-Poll") != "waiting" {
			t.Errorf("%s client, %s upstream: head = %d, X-Poll %q; want 202, waiting", pair.client, pair.upstream, resp.StatusCode, resp.Header.Get("X-Poll"))
		}
		close(release)
		body, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil || string(body) != "hello" {
			t.Errorf("%s client, %s upstream: body = %q, %v; want hello", pair.client, pair.upstream, body, err)
		}
	}
}

// Trailers reach the client whether the upstream declared them or not.
func TestRespondTrailers(t *testing.T) {
	up := newH2CServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Trailer", "X-Declared")
		io.WriteString(w, "body")
		w.(http.Flusher).Flush()
		w.Header().Set("X-Declared", "1")
		w.Header().Set(http.TrailerPrefix+"X-Undeclared", "2")
	}))
	for _, pair := range respondPairs {
		gw := newH2CServer(t, handlerFor(t, newForwarderWith(t, TransportOptions{Protocol: pair.upstream}), up.Listener.Addr().String()))
		resp, err := newClient(t, pair.client).Get(gw.URL)
		if err != nil {
			t.Fatal(err)
		}
		body, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil || string(body) != "body" {
			t.Errorf("%s client, %s upstream: body = %q, %v; want body", pair.client, pair.upstream, body, err)
		}
		if got := resp.Trailer.Get("X-Declared") + " " + resp.Trailer.Get("X-Undeclared"); got != "1 2" {
			t.Errorf("%s client, %s upstream: trailers = %v, want X-Declared 1 and X-Undeclared 2", pair.client, pair.upstream, resp.Trailer)
		}
	}
}

// An upstream that goes silent in the middle of the body is cut after the
// idle limit, and the client sees a broken response, never a clean short
// one.
func TestRespondIdleCutsSilentUpstream(t *testing.T) {
	for _, pair := range respondPairs {
		for _, known := range []bool{true, false} {
			name := fmt.Sprintf("%s client, %s upstream, length known %v", pair.client, pair.upstream, known)
			up := newH2CServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if known {
					w.Header().Set("Content-Length", "1000")
				}
				io.WriteString(w, "partial")
				w.(http.Flusher).Flush()
				<-r.Context().Done() // silent until the gateway gives up
			}))
			seen := make(chan attempt, 1)
			gw := newH2CServer(t, handlerWith(t, newForwarderWith(t, TransportOptions{Protocol: pair.upstream}), up.Listener.Addr().String(),
				gwOpts{idle: 50 * time.Millisecond, seen: seen}))
			resp, err := newClient(t, pair.client).Get(gw.URL)
			if err != nil {
				t.Fatalf("%s: %v", name, err)
			}
			body, err := io.ReadAll(resp.Body)
			resp.Body.Close()
			if err == nil {
				t.Errorf("%s: client read %q cleanly, want a broken response", name, body)
			}
			if a := <-seen; !errors.Is(a.respond, ErrUpstreamIdle) || !errors.Is(a.respond, ErrUpstreamBody) {
				t.Errorf("%s: Respond = %v, want ErrUpstreamIdle and ErrUpstreamBody", name, a.respond)
			}
		}
	}
}

// Time spent waiting for a slow client to take the body does not count
// against the upstream.
func TestRespondIdleIgnoresSlowClient(t *testing.T) {
	const size = 32 << 20 // more than loopback's socket buffers hold
	up := newH2CServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", strconv.Itoa(size))
		w.Write(make([]byte, size))
	}))
	for _, pair := range []struct{ client, upstream string }{{"h1", ProtocolHTTP1}, {"h2c", ProtocolH2C}} {
		seen := make(chan attempt, 1)
		gw := newH2CServer(t, handlerWith(t, newForwarderWith(t, TransportOptions{Protocol: pair.upstream}), up.Listener.Addr().String(),
			gwOpts{idle: 500 * time.Millisecond, seen: seen})) // well above a busy machine's pauses
		resp, err := newClient(t, pair.client).Get(gw.URL)
		if err != nil {
			t.Fatal(err)
		}
		// Stall for several idle limits while the gateway's writes block.
		// Only a shorter stall could make this test pass wrongly.
		time.Sleep(3 * time.Second)
		n, err := io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if err != nil || n != size {
			t.Errorf("%s client, %s upstream: read %d bytes, %v; want %d", pair.client, pair.upstream, n, err, size)
		}
		if a := <-seen; a.respond != nil {
			t.Errorf("%s client, %s upstream: Respond = %v, want nil", pair.client, pair.upstream, a.respond)
		}
	}
}

// patternReader yields n bytes of a fixed, non-repeating-looking pattern.
type patternReader struct{ off, n int64 }

func (p *patternReader) Read(b []byte) (int, error) {
	if p.off >= p.n {
		return 0, io.EOF
	}
	if rem := p.n - p.off; int64(len(b)) > rem {
		b = b[:rem]
	}
	for i := range b {
		x := uint64(p.off + int64(i))
		b[i] = byte(x ^ x>>8 ^ x>>16)
	}
	p.off += int64(len(b))
	return len(b), nil
}

// A large body streams through, produced piece by piece, and arrives whole
// over either client protocol, with and without a known length.
func TestRespondLargeBodyStreams(t *testing.T) {
	const size = 64 << 20
	want := sha256.New()
	io.Copy(want, &patternReader{n: size})
	up := newH2CServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Query().Get("known") == "1" {
			w.Header().Set("Content-Length", strconv.Itoa(size))
		}
		src := &patternReader{n: size}
		buf := make([]byte, 256<<10)
		for {
			n, err := src.Read(buf)
			if n > 0 {
				if _, werr := w.Write(buf[:n]); werr != nil {
					return
				}
				w.(http.Flusher).Flush()
			}
			if err != nil {
				return
			}
		}
	}))
	for _, pair := range []struct{ client, upstream string }{{"h1", ProtocolHTTP1}, {"h2c", ProtocolH2C}} {
		gw := newH2CServer(t, handlerFor(t, newForwarderWith(t, TransportOptions{Protocol: pair.upstream}), up.Listener.Addr().String()))
		for _, known := range []string{"0", "1"} {
			resp, err := newClient(t, pair.client).Get(gw.URL + "/?known=" + known)
			if err != nil {
				t.Fatal(err)
			}
			got := sha256.New()
			n, err := io.Copy(got, resp.Body)
			resp.Body.Close()
			if err != nil || n != size || !bytes.Equal(got.Sum(nil), want.Sum(nil)) {
				t.Errorf("%s client, %s upstream, length known %s: read %d bytes, %v, digest match %v; want %d bytes, the same digest",
					pair.client, pair.upstream, known, n, err, bytes.Equal(got.Sum(nil), want.Sum(nil)), size)
			}
		}
	}
}

// A client that streams its body and reads the answer as it goes works over
// HTTP/1.1 too: the upstream's replies arrive while the request body is
// still being sent.
func TestRespondFullDuplex(t *testing.T) {
	up := newH2CServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		br := bufio.NewReader(r.Body)
		for {
			line, err := br.ReadString('\n')
			if line != "" {
				io.WriteString(w, line)
				w.(http.Flusher).Flush()
			}
			if err != nil {
				return
			}
		}
	}))
	gw := newH2CServer(t, handlerFor(t, newForwarderWith(t, TransportOptions{Protocol: ProtocolH2C}), up.Listener.Addr().String()))
	for _, client := range []string{"h1", "h2c"} {
		pr, pw := io.Pipe()
		req, _ := http.NewRequest("POST", gw.URL, pr)
		go io.WriteString(pw, "one\n") // Do returns with the first reply
		resp, err := newClient(t, client).Do(req)
		if err != nil {
			t.Fatal(err)
		}
		br := bufio.NewReader(resp.Body)
		if line, err := br.ReadString('\n'); err != nil || line != "one\n" {
			t.Fatalf("%s client: first reply = %q, %v; want one", client, line, err)
		}
		io.WriteString(pw, "two\n")
		if line, err := br.ReadString('\n'); err != nil || line != "two\n" {
			t.Fatalf("%s client: second reply = %q, %v; want two while the body is still open", client, line, err)
		}
		pw.Close()
		if rest, err := io.ReadAll(br); err != nil || len(rest) != 0 {
			t.Errorf("%s client: after the body ended: %q, %v; want a clean end", client, rest, err)
		}
		resp.Body.Close()
	}
}

// A client that goes away mid-body is the client's failure, not the
// upstream's.
func TestRespondClientWriteError(t *testing.T) {
	up := newH2CServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(w, &patternReader{n: 1 << 30})
	}))
	for _, pair := range respondPairs {
		seen := make(chan attempt, 1)
		gw := newH2CServer(t, handlerWith(t, newForwarderWith(t, TransportOptions{Protocol: pair.upstream}), up.Listener.Addr().String(), gwOpts{seen: seen}))
		resp, err := newClient(t, pair.client).Get(gw.URL)
		if err != nil {
			t.Fatal(err)
		}
		io.CopyN(io.Discard, resp.Body, 1<<20)
		resp.Body.Close() // an unread HTTP/1.1 body closes the connection; HTTP/2 resets the stream
		if a := <-seen; !errors.Is(a.respond, ErrClientWrite) || errors.Is(a.respond, ErrUpstreamBody) {
			t.Errorf("%s client, %s upstream: Respond = %v, want ErrClientWrite and not ErrUpstreamBody", pair.client, pair.upstream, a.respond)
		}
	}
}
