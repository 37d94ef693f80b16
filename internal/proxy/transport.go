package proxy

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/http"
	"time"
)

// Upstream protocols for [TransportOptions.Protocol].
const (
	// ProtocolAuto sends gRPC requests (see [IsGRPC]) over HTTP/2 — h2c on
	// cleartext, h2 on TLS — and everything else over HTTP/1.1 on
	// cleartext and over whatever ALPN picks (h2 or http/1.1) on TLS,
	// except a WebSocket handshake, which net/http keeps on HTTP/1.1.
	ProtocolAuto = "auto"
	// ProtocolHTTP1 sends everything over HTTP/1.1, on TLS too.
	ProtocolHTTP1 = "http1"
	// ProtocolH2C sends everything over cleartext HTTP/2 with prior
	// knowledge (RFC 9113, section 3.3). An https upstream is refused:
	// use [ProtocolH2] for it. HTTP/2 has no Upgrade: a WebSocket
	// handshake fails (extended CONNECT, RFC 8441, is not used).
	ProtocolH2C = "h2c"
	// ProtocolH2 sends everything over HTTP/2: h2 over TLS, offered alone
	// in ALPN, and h2c with prior knowledge for an http upstream. As with
	// h2c, a WebSocket handshake fails.
	ProtocolH2 = "h2"
)

// ErrProtocol is returned, wrapped, by [CheckProtocol] for an unknown
// protocol and by [Transport.RoundTrip] when the transport's protocol cannot
// reach the request's upstream.
var ErrProtocol = errors.New("proxy: unsupported upstream protocol")

// CheckProtocol returns nil when p is a value [TransportOptions.Protocol]
// accepts, and an error wrapping [ErrProtocol] otherwise. Config loaders
// call it so that a typo fails at load rather than on every request.
func CheckProtocol(p string) error {
	switch p {
	case "", ProtocolAuto, ProtocolHTTP1, ProtocolH2C, ProtocolH2:
		return nil
	}
	return fmt.Errorf("%w %q (want auto, http1, h2c or h2)", ErrProtocol, p)
}

// TransportOptions tune the upstream transport. The zero value gives the
// defaults written on each field.
type TransportOptions struct {
	// Protocol is the upstream protocol: "" or [ProtocolAuto] (default),
	// [ProtocolHTTP1], [ProtocolH2C] or [ProtocolH2]. Any other value
	// makes every request fail with an error wrapping [ErrProtocol]
	// (see [CheckProtocol]).
	Protocol string
	// DialTimeout bounds a TCP connect to an instance. Default 1s: a
	// connect on a healthy network takes well under that, and a dead
	// instance must fail fast so the attempt can go elsewhere.
	DialTimeout time.Duration
	// TLSHandshakeTimeout bounds the TLS handshake. Default 3s.
	TLSHandshakeTimeout time.Duration
	// ResponseHeaderTimeout bounds the wait for response headers after the
	// request was written. Default 0: none here, the route's per-try
	// timeout bounds the attempt.
	ResponseHeaderTimeout time.Duration
	// IdleConnTimeout closes idle keep-alive connections. Default 90s;
	// negative: no limit, an idle connection stays until the instance
	// closes it.
	IdleConnTimeout time.Duration
	// MaxIdleConnsPerInstance bounds the HTTP/1.1 keep-alive pool of each
	// instance. Default 256 (net/http's default of 2 makes a busy proxy
	// dial for nearly every request). Negative keeps none: every HTTP/1.1
	// request opens a new connection, and [ProtocolAuto] then speaks
	// HTTP/1.1 on TLS too (rather than what ALPN picks) for all but gRPC.
	// HTTP/2 multiplexes requests on one connection per instance, kept
	// whatever this says, and opens another only when the server's stream
	// limit is reached.
	MaxIdleConnsPerInstance int
	// ReadBufferSize is the size of the read buffer of each HTTP/1.1
	// upstream connection. Default 8 KiB: a response of up to about 8
	// KiB, head and body, then arrives in one read; with net/http's 4 KiB
	// a 4 KiB body takes two (one extra syscall per request). Larger
	// bodies are copied straight from the socket into the proxy's copy
	// buffer either way.
	ReadBufferSize int
	// PingInterval is how long an HTTP/2 connection may receive nothing
	// before it is sent a PING; a connection whose PING is not answered
	// within PingTimeout is closed, failing its streams, and is never
	// handed another request. This is what notices an instance that went
	// silent (packets dropped, a partition between clouds): HTTP/2 puts
	// every request to an instance on one connection, and without a
	// health check that connection would take new requests until the
	// kernel gave up on it, minutes later. A connection that receives
	// frames is never pinged.
	//
	// Default 5m: gRPC servers limit how often a client may ping a
	// connection on which they send nothing (grpc-go, grpc-java and gRPC
	// core all default to once per 5 minutes) and close it with GOAWAY
	// ENHANCE_YOUR_CALM "too_many_pings" after the third early ping, so a
	// shorter default would cut every quiet gRPC stream (a watch) after
	// about 40s on servers left at their defaults. A silent instance is
	// left much sooner by the gateway's per-try deadlines, hedges and
	// outlier detection, which do not need pings; set a shorter interval
	// (and permit it on the servers: grpc-go keepalive.EnforcementPolicy
	// MinTime and PermitWithoutStream; grpc-java permitKeepAliveTime) to
	// also retire such a connection quickly. Negative: never ping.
	PingInterval time.Duration
	// PingTimeout is how long an HTTP/2 PING may go unanswered before the
	// connection is closed. Default 5s: a healthy cross-cloud round trip
	// is well under a second, and failover should not wait for gRPC's
	// keepalive default of 20s.
	PingTimeout time.Duration
	// TLS, when set, is used for https upstreams. It is cloned, not
	// changed.
	TLS *tls.Config
	// DialTLS, when set, makes the encrypted connections of https
	// upstreams instead of crypto/tls: the gateway sets it for TLCP. It
	// must complete its handshake within ctx, which also carries
	// TLSHandshakeTimeout beyond the dial. net/http speaks HTTP/2 over
	// *tls.Conn alone, so such connections carry HTTP/1.1: requests that
	// need HTTP/2 (gRPC, protocol h2) are refused with [ErrProtocol].
	DialTLS func(ctx context.Context, network, addr string) (net.Conn, error)
}

// Transport sends upstream requests over the protocol its options chose. It
// is safe for concurrent use; the zero value is not usable, see
// [NewTransport].
type Transport struct {
	protocol string
	// h1 carries HTTP/1.1 (and, in auto mode on TLS, whatever ALPN
	// picks); nil in the h2c and h2 modes.
	h1 *http.Transport
	// h2 carries HTTP/2 only; nil in http1 mode.
	h2  *http.Transport
	err error // the unknown protocol, if any
	// customTLS: https connections come from DialTLS and carry HTTP/1.1
	// only.
	customTLS bool
}

var _ http.RoundTripper = (*Transport)(nil)

// NewTransport returns an upstream transport: one connection pool per
// instance address, no transparent compression (a proxy passes
// Accept-Encoding through as the client sent it), protocols as
// [TransportOptions.Protocol] says.
func NewTransport(o TransportOptions) *Transport {
	t := &Transport{protocol: o.Protocol, customTLS: o.DialTLS != nil}
	if t.protocol == "" {
		t.protocol = ProtocolAuto
	}
	if err := CheckProtocol(o.Protocol); err != nil {
		t.err = err
		return t
	}
	var p1, p2 http.Protocols
	switch t.protocol {
	case ProtocolHTTP1:
		p1.SetHTTP1(true)
		t.h1 = newHTTPTransport(o, p1)
	case ProtocolH2C:
		p2.SetUnencryptedHTTP2(true)
		t.h2 = newHTTPTransport(o, p2)
	case ProtocolH2:
		p2.SetHTTP2(true)
		p2.SetUnencryptedHTTP2(true)
		t.h2 = newHTTPTransport(o, p2)
	case ProtocolAuto:
		p1.SetHTTP1(true)
		// h2 is offered in ALPN on TLS (cleartext stays HTTP/1.1), unless
		// no connection is to be kept: net/http pools an h2 connection
		// with the HTTP/1.1 ones, and one that may not be pooled is
		// closed.
		p1.SetHTTP2(o.MaxIdleConnsPerInstance >= 0)
		t.h1 = newHTTPTransport(o, p1)
		p2.SetHTTP2(true)
		p2.SetUnencryptedHTTP2(true)
		t.h2 = newHTTPTransport(o, p2)
	}
	return t
}

func newHTTPTransport(o TransportOptions, p http.Protocols) *http.Transport {
	def := func(d, v time.Duration) time.Duration {
		if d == 0 {
			return v
		}
		return d
	}
	idle := o.MaxIdleConnsPerInstance
	switch {
	case idle == 0:
		idle = 256
	case idle < 0 && (p.HTTP2() || p.UnencryptedHTTP2()):
		// HTTP/2 connections share net/http's idle pool: keep them.
		idle = 256
	case idle < 0:
		idle = -1 // net/http: a negative bound keeps no idle connection
	}
	idleTimeout := def(o.IdleConnTimeout, 90*time.Second)
	if idleTimeout < 0 {
		// net/http: zero is no limit (and a negative one would close
		// HTTP/2 connections at once).
		idleTimeout = 0
	}
	rbuf := o.ReadBufferSize
	if rbuf == 0 {
		rbuf = 8 << 10
	}
	ping := def(o.PingInterval, 5*time.Minute)
	if ping < 0 {
		ping = 0 // net/http: zero sends no health-check pings
	}
	d := &net.Dialer{Timeout: def(o.DialTimeout, time.Second), KeepAlive: 30 * time.Second}
	var dialTLS func(context.Context, string, string) (net.Conn, error)
	if o.DialTLS != nil {
		// net/http applies TLSHandshakeTimeout to crypto/tls only: bound
		// the dial and the handshake together here.
		limit := def(o.DialTimeout, time.Second) + def(o.TLSHandshakeTimeout, 3*time.Second)
		dialTLS = func(ctx context.Context, network, addr string) (net.Conn, error) {
			ctx, cancel := context.WithTimeout(ctx, limit)
			defer cancel()
			return o.DialTLS(ctx, network, addr)
		}
	}
	return &http.Transport{
		DialTLSContext:        dialTLS,
		Protocols:             &p,
		DialContext:           d.DialContext,
		TLSClientConfig:       o.TLS.Clone(), // net/http sets NextProtos on it for ALPN
		TLSHandshakeTimeout:   def(o.TLSHandshakeTimeout, 3*time.Second),
		ResponseHeaderTimeout: o.ResponseHeaderTimeout,
		IdleConnTimeout:       idleTimeout,
		MaxIdleConnsPerHost:   idle,
		ExpectContinueTimeout: time.Second,
		DisableCompression:    true,
		ReadBufferSize:        rbuf,
		HTTP2: &http.HTTP2Config{
			SendPingTimeout: ping,
			PingTimeout:     def(o.PingTimeout, 5*time.Second),
		},
	}
}

// RoundTrip sends r over the protocol chosen for it (see
// [TransportOptions.Protocol]) and returns the response as soon as its
// headers arrive. Over HTTP/2 the request body keeps being sent while the
// response is read (full duplex, as gRPC's streaming calls need). It closes
// r.Body, as http.RoundTripper requires.
func (t *Transport) RoundTrip(r *http.Request) (*http.Response, error) {
	if t.customTLS && r.URL.Scheme == "https" {
		if t.protocol == ProtocolH2 || t.protocol == ProtocolH2C {
			return nil, t.refuse(r, fmt.Errorf("%w: %s over TLCP: TLCP connections carry HTTP/1.1 only", ErrProtocol, t.protocol))
		}
		if ct := r.Header["Content-Type"]; len(ct) > 0 && IsGRPC(ct[0]) {
			return nil, t.refuse(r, fmt.Errorf("%w: gRPC needs HTTP/2, which TLCP connections do not carry", ErrProtocol))
		}
		if t.h1 != nil {
			return t.h1.RoundTrip(r)
		}
	}
	switch t.protocol {
	case ProtocolHTTP1:
		return t.h1.RoundTrip(r)
	case ProtocolH2:
		return t.h2.RoundTrip(r)
	case ProtocolH2C:
		if r.URL.Scheme == "https" {
			return nil, t.refuse(r, fmt.Errorf("%w: h2c is cleartext HTTP/2, an https upstream needs h2", ErrProtocol))
		}
		return t.h2.RoundTrip(r)
	case ProtocolAuto:
		if ct := r.Header["Content-Type"]; len(ct) > 0 && IsGRPC(ct[0]) {
			return t.h2.RoundTrip(r)
		}
		return t.h1.RoundTrip(r)
	}
	return nil, t.refuse(r, t.err)
}

func (t *Transport) refuse(r *http.Request, err error) error {
	if r.Body != nil {
		r.Body.Close()
	}
	return err
}

// CloseIdleConnections closes the connections that carry no request now;
// those in use are closed when their requests end.
func (t *Transport) CloseIdleConnections() {
	if t.h1 != nil {
		t.h1.CloseIdleConnections()
	}
	if t.h2 != nil {
		t.h2.CloseIdleConnections()
	}
}
