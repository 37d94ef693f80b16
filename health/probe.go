package health

import (
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/netip"
	"time"
)

// startProbe (re)starts the probe goroutine of in. Called with t.mu held.
func (t *Tracker) startProbe(in *inst) {
	if in.stopProbe != nil {
		in.stopProbe()
		in.stopProbe = nil
	}
	if t.cfg.Probe.Disabled {
		return
	}
	ctx, cancel := context.WithCancel(t.ctx)
	in.stopProbe = cancel
	t.wg.Add(1)
	go t.probeLoop(ctx, in, in.addr)
}

// probeLoop probes addr every interval plus jitter until ctx ends.
func (t *Tracker) probeLoop(ctx context.Context, in *inst, addr netip.AddrPort) {
	defer t.wg.Done()
	p := &t.cfg.Probe
	timer := time.NewTimer(t.jitter())
	defer timer.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-timer.C:
		}
		err := t.probe(ctx, addr)
		if ctx.Err() != nil {
			return // stopped mid-probe: the result says nothing about the instance
		}
		t.probed(in, err)
		timer.Reset(p.Interval + t.jitter())
	}
}

func (t *Tracker) jitter() time.Duration {
	if j := t.cfg.Probe.Jitter; j > 0 {
		return rand.N(j)
	}
	return 0
}

// probe checks addr once, within Probe.Timeout: a gRPC health check, a TCP
// connect or an HTTP GET, as ProbeConfig says.
func (t *Tracker) probe(ctx context.Context, addr netip.AddrPort) error {
	p := &t.cfg.Probe
	ctx, cancel := context.WithTimeout(ctx, p.Timeout)
	defer cancel()
	switch {
	case p.GRPC:
		return t.grpcProbe(ctx, addr)
	case p.Path == "":
		var d net.Dialer
		c, err := d.DialContext(ctx, "tcp", addr.String())
		if err != nil {
			return err
		}
		return c.Close()
	}
	scheme := "http://"
	if p.TLS != nil || p.DialTLS != nil {
		scheme = "https://"
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, scheme+addr.String()+p.Path, nil)
	if err != nil {
		return err
	}
	if p.Host != "" {
		req.Host = p.Host
	}
	req.Header.Set("User-Agent", "duohuo-health")
	resp, err := t.client.Do(req)
	if err != nil {
		return err
	}
	// Read a bounded part of the body so that the server sees a complete
	// exchange, then close.
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	resp.Body.Close()
	if !p.statusOK(resp.StatusCode) {
		return fmt.Errorf("status %d, want %s", resp.StatusCode, p.expected())
	}
	return nil
}

// probed applies one probe result to in.
func (t *Tracker) probed(in *inst, err error) {
	p := &t.cfg.Probe
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.closed || t.insts[in.id] != in {
		return // forgotten while probing
	}
	first := in.awaitFirst
	in.awaitFirst = false
	if err == nil {
		in.probeFail = 0
		in.probeOK++
		if !in.activeOK && (first || in.probeOK >= p.HealthyThreshold) {
			in.activeOK = true
			in.probeReason = ""
		}
		if in.probation {
			in.probSucc.Add(1)
		}
	} else {
		in.probeOK = 0
		in.probeFail++
		if in.activeOK && in.probeFail >= p.UnhealthyThreshold {
			in.activeOK = false
		}
		if !in.activeOK {
			in.probeReason = fmt.Sprintf("probe: %d consecutive failures, last: %v", in.probeFail, err)
		}
	}
	t.recomputeLocked(time.Now())
}

// probeTLS returns the TLS configuration of probes: a clone of p.TLS whose
// empty ServerName becomes the host of p.Host, so that a virtual-hosted
// instance gets the name it expects (an empty one lets net/http use the
// instance address). NextProtos is cleared: the transport offers by ALPN
// the protocol of the probe type, HTTP/1.1 or h2.
func probeTLS(p *ProbeConfig) *tls.Config {
	c := p.TLS.Clone()
	c.NextProtos = nil
	if c.ServerName == "" && p.Host != "" {
		host := p.Host
		if h, _, err := net.SplitHostPort(host); err == nil {
			host = h
		}
		c.ServerName = host
	}
	return c
}
