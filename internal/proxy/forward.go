package proxy

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
)

// Header names the proxy reads or writes.
const (
	HeaderRequestID = "X-Request-Id"
	headerXFF       = "X-Forwarded-For"
	headerXFProto   = "X-Forwarded-Proto"
	headerXFHost    = "X-Forwarded-Host"
	headerVia       = "Via"
)

// Forwarder carries out the HTTP side of attempts: [Forwarder.Outbound]
// builds the upstream request, the caller sends it with the transport of
// the instance's service (a [Transport], or any http.RoundTripper), and
// [Forwarder.Respond] streams the response back. It holds no transport
// itself, so that one Forwarder serves every service. It is safe for
// concurrent use; the zero value is ready to use.
type Forwarder struct {
	// Via is this hop's pseudonym in the Via header, e.g. "duohuo", sent
	// as "1.1 duohuo" or "2 duohuo" after the protocol the message was
	// received on: the client's for a request, the upstream's for a
	// response. Empty: no Via.
	Via string

	bufs  sync.Pool                 // *[]byte of bufSize, reused across responses
	idles sync.Pool                 // *idleWatch, reused across responses
	via   atomic.Pointer[viaValues] // Via entries for the current Via
}

const bufSize = 32 << 10

// Outbound returns the request for one attempt at the instance addr
// ("10.0.0.1:8080") over scheme ("http" or "https"). body is the client body
// as wrapped by [NewBody] (nil when there is none); the request gets its own
// view of it, whose Close, when the transport is done with the attempt,
// interrupts a read still waiting for the client and fails later ones, but
// leaves an unread body for the next attempt. The headers are the
// client's end-to-end headers plus the forwarding headers and requestID;
// a request without User-Agent is sent without one. The client's trailers
// follow the body, less the fields a trailer must not carry (RFC 9110,
// section 6.5.1) and the hop-by-hop and forwarding ones.
//
// Header value slices may be shared with in and with other requests: callers
// may replace a header's values (Set, Del, assignment, Add) but must not
// write into an existing value slice.
func (f *Forwarder) Outbound(ctx context.Context, in *http.Request, scheme, addr, requestID string, body *Body) *http.Request {
	out := in.WithContext(ctx) // one shallow copy: Method, Proto, ContentLength, Host, Trailer…
	out.URL = &url.URL{Scheme: scheme, Host: addr, Path: in.URL.Path, RawPath: in.URL.RawPath, RawQuery: in.URL.RawQuery}
	out.RequestURI = ""
	out.Close = false
	if body != nil {
		ab := &attemptBody{b: body}
		if len(in.Trailer) > 0 || in.ContentLength < 0 {
			// The client's trailers arrive with the end of its body
			// (declared or not): the attempt's view copies the allowed
			// ones then, before the transport sends them.
			ab.in, ab.trailer = in, declaredTrailers(in.Trailer)
			out.Trailer = ab.trailer
		}
		out.Body = ab
	} else {
		out.Body = nil
		out.ContentLength = 0
	}
	h := make(http.Header, len(in.Header)+5)
	copyEndToEnd(h, in.Header)
	if up := upgradeType(in.Header); up != "" {
		h["Connection"] = connectionUpgrade
		h["Upgrade"] = []string{up}
	}
	// The values this hop makes share one allocation; each gets a
	// full slice expression so that an append cannot spill into the next.
	vals := new([3]string)
	if ip, _, err := net.SplitHostPort(in.RemoteAddr); err == nil {
		if prior := in.Header[headerXFF]; len(prior) > 0 {
			ip = joinComma(prior) + ", " + ip
		}
		vals[0] = ip
		h[headerXFF] = vals[0:1:1]
	}
	if _, ok := h[headerXFProto]; !ok {
		if in.TLS != nil {
			h[headerXFProto] = protoHTTPS
		} else {
			h[headerXFProto] = protoHTTP
		}
	}
	if _, ok := h[headerXFHost]; !ok && in.Host != "" {
		vals[1] = in.Host
		h[headerXFHost] = vals[1:2:2]
	}
	if f.Via != "" {
		h[headerVia] = f.appendVia(in.Header[headerVia], in.ProtoMajor)
	}
	// TE is hop-by-hop, but "TE: trailers" says the client takes trailers,
	// which a gRPC server may insist on (RFC 9113, section 8.2.2).
	if te := in.Header["Te"]; len(te) > 0 && hasToken(te, "trailers") {
		h["Te"] = teTrailers
	}
	vals[2] = requestID
	h[HeaderRequestID] = vals[2:3:3]
	if _, ok := h["User-Agent"]; !ok {
		// A present but empty User-Agent keeps net/http from sending
		// its own ("Go-http-client/1.1"): a client that sent none is
		// forwarded with none.
		h["User-Agent"] = nil
	}
	out.Header = h
	return out
}

// Constant header values, shared by every request (see Outbound on sharing).
var (
	connectionUpgrade = []string{"Upgrade"}
	protoHTTP         = []string{"http"}
	protoHTTPS        = []string{"https"}
	teTrailers        = []string{"trailers"}
)

func joinComma(vv []string) string {
	if len(vv) == 1 {
		return vv[0]
	}
	return strings.Join(vv, ", ")
}

// viaValues are this hop's Via entries, built once per pseudonym.
type viaValues struct {
	pseudonym string
	h1, h2    []string // "1.1 duohuo", "2 duohuo"
}

// appendVia returns the Via values with this hop added, as "1.1 duohuo"
// (RFC 9110, section 7.6.3: the protocol received, then our pseudonym).
// Without a prior Via it returns a shared slice and does not allocate.
func (f *Forwarder) appendVia(prior []string, protoMajor int) []string {
	v := f.via.Load()
	if v == nil || v.pseudonym != f.Via {
		v = &viaValues{pseudonym: f.Via, h1: []string{"1.1 " + f.Via}, h2: []string{"2 " + f.Via}}
		f.via.Store(v)
	}
	entry := v.h1
	if protoMajor == 2 {
		entry = v.h2
	}
	if len(prior) == 0 {
		return entry
	}
	return []string{joinComma(prior) + ", " + entry[0]}
}

// RequestID returns the client's X-Request-Id, or a new random one.
func RequestID(in *http.Request) string {
	if v := in.Header[HeaderRequestID]; len(v) > 0 && v[0] != "" && len(v[0]) <= 128 {
		return v[0]
	}
	var b [16]byte
	return string(strconv.AppendUint(b[:0], rand.Uint64(), 16))
}

// tunnel serves a protocol switch (WebSocket): it sends the 101 to the client
// and copies bytes both ways until one side closes or ctx ends.
func (f *Forwarder) tunnel(ctx context.Context, w http.ResponseWriter, in *http.Request, resp *http.Response) error {
	if up, want := upgradeType(resp.Header), upgradeType(in.Header); up == "" || !strings.EqualFold(up, want) {
		return fmt.Errorf("upstream switched to %q, client asked for %q", up, want)
	}
	back, ok := resp.Body.(io.ReadWriteCloser)
	if !ok {
		return errors.New("upstream 101 response body is not writable")
	}
	conn, brw, err := http.NewResponseController(w).Hijack()
	if err != nil {
		return fmt.Errorf("hijack client connection: %w", err)
	}
	defer conn.Close()
	defer back.Close()
	h := make(http.Header, len(resp.Header))
	copyEndToEnd(h, resp.Header)
	h["Connection"] = []string{"Upgrade"}
	h["Upgrade"] = resp.Header["Upgrade"]
	if f.Via != "" {
		h[headerVia] = f.appendVia(resp.Header[headerVia], resp.ProtoMajor)
	}
	head := &http.Response{StatusCode: resp.StatusCode, ProtoMajor: 1, ProtoMinor: 1, Header: h}
	if err := head.Write(brw); err != nil {
		return err
	}
	if err := brw.Flush(); err != nil {
		return err
	}
	// Whichever side ends first, or the gateway shutting down, ends both.
	stop := context.AfterFunc(ctx, func() { conn.Close(); back.Close() })
	defer stop()
	done := make(chan struct{})
	go func() {
		defer close(done)
		io.Copy(conn, back)
		conn.Close()
	}()
	io.Copy(back, brw.Reader) // brw.Reader holds what the client sent after its request
	back.Close()
	<-done
	return nil
}
