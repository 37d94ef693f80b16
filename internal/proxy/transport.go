package proxy

import (
	"crypto/tls"
	"net"
	"net/http"
	"time"
)

// TransportOptions tune the upstream transport. The zero value gives the
// defaults written on each field.
type TransportOptions struct {
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
	// IdleConnTimeout closes idle keep-alive connections. Default 90s.
	IdleConnTimeout time.Duration
	// MaxIdleConnsPerInstance bounds the keep-alive pool of each instance.
	// Default 256 (net/http's default of 2 makes a busy proxy dial for
	// nearly every request).
	MaxIdleConnsPerInstance int
	// ReadBufferSize is the size of the read buffer of each upstream
	// connection. Default 8 KiB: a response of up to about 8 KiB, head and
	// body, then arrives in one read; with net/http's 4 KiB a 4 KiB body
	// takes two (one extra syscall per request). Larger bodies are copied
	// straight from the socket into the proxy's copy buffer either way.
	ReadBufferSize int
	// TLS, when set, is used for https upstreams.
	TLS *tls.Config
}

// NewTransport returns an upstream transport: one keep-alive pool per
// instance address, HTTP/1.1, no transparent compression (a proxy passes
// Accept-Encoding through as the client sent it).
func NewTransport(o TransportOptions) *http.Transport {
	def := func(d, v time.Duration) time.Duration {
		if d == 0 {
			return v
		}
		return d
	}
	idle := o.MaxIdleConnsPerInstance
	if idle == 0 {
		idle = 256
	}
	rbuf := o.ReadBufferSize
	if rbuf == 0 {
		rbuf = 8 << 10
	}
	d := &net.Dialer{Timeout: def(o.DialTimeout, time.Second), KeepAlive: 30 * time.Second}
	return &http.Transport{
		DialContext:           d.DialContext,
		TLSClientConfig:       o.TLS,
		TLSHandshakeTimeout:   def(o.TLSHandshakeTimeout, 3*time.Second),
		ResponseHeaderTimeout: o.ResponseHeaderTimeout,
		IdleConnTimeout:       def(o.IdleConnTimeout, 90*time.Second),
		MaxIdleConnsPerHost:   idle,
		ExpectContinueTimeout: time.Second,
		DisableCompression:    true,
		ReadBufferSize:        rbuf,
	}
}
