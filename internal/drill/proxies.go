package drill

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/duohuo/duohuo/fault/tcpproxy"
	"github.com/duohuo/duohuo/internal/demo"
)

// The silent-cloud targets (blackhole and brownout), and the resolution of
// the figures behind them.
const (
	// BucketWidth is the width of the per-bucket counts of what the fault
	// proxies saw.
	BucketWidth = 100 * time.Millisecond
	// SettleTime is how long after a blackhole starts the gateway may take
	// to stop sending to the silent cloud: success counts from then, and
	// no attempt may reach the cloud after it.
	SettleTime = 2 * time.Second
	// LeftShare is the share of attempts below which traffic has left the
	// faulty set, and LeftWithin how soon after a brownout starts it must.
	LeftShare  = 0.10
	LeftWithin = 5 * time.Second
)

// proxyCounts is what arrived from the gateway at a set of fault proxies
// since they started. Requests and bytes are -1 where the proxies do not
// count them: the admin API of `duohuo chaos proxy` counts connections only.
type proxyCounts struct {
	conns, requests, bytes int64
}

var unknownCounts = proxyCounts{-1, -1, -1}

// counter reads the counts of one set of fault proxies. It is called from
// one goroutine at a time.
type counter func(ctx context.Context) (proxyCounts, error)

// proxyFault is a network fault: a toxic that a set of fault proxies
// apply while the fault is on, and their counters.
type proxyFault struct {
	inject, restore func(context.Context) error
	faulty, all     counter // all is nil where only the faulty set is known
	pollEvery       time.Duration
}

// demoProxyFault acts on fault proxies of the demo topology: faulty ones
// get the toxic, all are counted.
func demoProxyFault(t tcpproxy.Named, faulty, all []*demo.FaultProxy) proxyFault {
	sum := func(ps []*demo.FaultProxy) counter {
		return func(context.Context) (proxyCounts, error) {
			var c demo.FaultCounts
			for _, p := range ps {
				c = c.Add(p.Counts())
			}
			return proxyCounts{c.Conns, c.Requests, c.Bytes}, nil
		}
	}
	return proxyFault{
		inject: func(context.Context) error {
			var errs []error
			for _, p := range faulty {
				errs = append(errs, p.Proxy().SetNamed(t))
			}
			return errors.Join(errs...)
		},
		restore: func(context.Context) error {
			var errs []error
			for _, p := range faulty {
				if err := p.Proxy().Remove(t.Name); err != nil && !errors.Is(err, tcpproxy.ErrNoToxic) {
					errs = append(errs, err)
				}
			}
			return errors.Join(errs...)
		},
		faulty: sum(faulty), all: sum(all), pollEvery: pollInterval,
	}
}

// adminProxies are `duohuo chaos proxy` processes reached through their
// admin API (fault/tcpproxy's AdminHandler), which a user placed in front
// of the instances of one cloud. Their methods are safe for concurrent use.
type adminProxies struct {
	c    *http.Client
	urls []string // base URLs, without a trailing slash
}

func newAdminProxies(urls []string) *adminProxies {
	a := &adminProxies{c: &http.Client{Transport: &http.Transport{}, Timeout: 2 * time.Second}}
	for _, u := range urls {
		a.urls = append(a.urls, strings.TrimRight(u, "/"))
	}
	return a
}

func (a *adminProxies) close() { a.c.CloseIdleConnections() }

// adminStatus is the part of tcpproxy.Status the drill reads.
type adminStatus struct {
	Addr     string `json:"addr"`
	Upstream string `json:"upstream"`
	Accepted int64  `json:"accepted"`
}

// ErrFaultProxy is returned when a fault proxy's admin API cannot be used.
var ErrFaultProxy = errors.New("drill: fault proxy")

// do sends one admin request and decodes its JSON answer into out (if not
// nil). A 404 answer to a DELETE is not an error: the toxic is gone.
func (a *adminProxies) do(ctx context.Context, method, u, body string, out any) error {
	var r io.Reader
	if body != "" {
		r = strings.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, u, r)
	if err != nil {
		return fmt.Errorf("%w: %s %s: %w", ErrFaultProxy, method, u, err)
	}
	resp, err := a.c.Do(req)
	if err != nil {
		return fmt.Errorf("%w: %s %s: %w", ErrFaultProxy, method, u, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if method == http.MethodDelete && resp.StatusCode == http.StatusNotFound {
		return nil
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("%w: %s %s: %s: %s", ErrFaultProxy, method, u, resp.Status, strings.TrimSpace(string(b)))
	}
	if out != nil {
		if err := json.Unmarshal(b, out); err != nil {
			return fmt.Errorf("%w: %s %s: %w", ErrFaultProxy, method, u, err)
		}
	}
	return nil
}

// statuses returns every proxy's status, in order.
func (a *adminProxies) statuses(ctx context.Context) ([]adminStatus, error) {
	out := make([]adminStatus, len(a.urls))
	for i, u := range a.urls {
		if err := a.do(ctx, http.MethodGet, u+"/", "", &out[i]); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// fault returns the proxyFault that sets t on every proxy and counts their
// connections.
func (a *adminProxies) fault(t tcpproxy.Named) proxyFault {
	spec := tcpproxy.FormatToxic(tcpproxy.Named{Direction: t.Direction, Toxic: t.Toxic, Toxicity: t.Toxicity})
	path := "/toxics/" + url.PathEscape(t.Name)
	return proxyFault{
		inject: func(ctx context.Context) error {
			var errs []error
			for _, u := range a.urls {
				errs = append(errs, a.do(ctx, http.MethodPut, u+path, spec, nil))
			}
			return errors.Join(errs...)
		},
		restore: func(ctx context.Context) error {
			var errs []error
			for _, u := range a.urls {
				errs = append(errs, a.do(ctx, http.MethodDelete, u+path, "", nil))
			}
			return errors.Join(errs...)
		},
		faulty: func(ctx context.Context) (proxyCounts, error) {
			st, err := a.statuses(ctx)
			if err != nil {
				return proxyCounts{}, err
			}
			c := proxyCounts{requests: -1, bytes: -1}
			for _, s := range st {
				c.conns += s.Accepted
			}
			return c, nil
		},
		pollEvery: adminPollInterval,
	}
}

// adminPollInterval is how often the admin APIs of a user's fault proxies
// are read: a few requests a second each.
const adminPollInterval = 50 * time.Millisecond

// proxySnap is the fault proxies' counts at one moment of the run.
type proxySnap struct {
	at          time.Duration // from the start of the run
	faulty, all proxyCounts
}

// pollProxies reads the counters every f.pollEvery until ctx ends. A read
// that fails is skipped; the report then has a coarser resolution there.
func pollProxies(ctx context.Context, f proxyFault, start time.Time) []proxySnap {
	var out []proxySnap
	tick := time.NewTicker(f.pollEvery)
	defer tick.Stop()
	for {
		if s, err := readProxies(ctx, f); err == nil {
			s.at = time.Since(start)
			out = append(out, s)
		}
		select {
		case <-ctx.Done():
			return out
		case <-tick.C:
		}
	}
}

func readProxies(ctx context.Context, f proxyFault) (proxySnap, error) {
	s := proxySnap{all: unknownCounts}
	var err error
	if s.faulty, err = f.faulty(ctx); err != nil {
		return s, err
	}
	if f.all != nil {
		if s.all, err = f.all(ctx); err != nil {
			return s, err
		}
	}
	return s, nil
}

// countsAt returns the counts of the last snapshot at or before t: zero
// counts (unknown where the set is not counted) before the first.
func countsAt(snaps []proxySnap, t time.Duration) (faulty, all proxyCounts) {
	if len(snaps) == 0 {
		return unknownCounts, unknownCounts
	}
	faulty, all = zeroLike(snaps[0].faulty), zeroLike(snaps[0].all)
	for _, s := range snaps {
		if s.at > t {
			break
		}
		faulty, all = s.faulty, s.all
	}
	return faulty, all
}

func zeroLike(c proxyCounts) proxyCounts {
	var z proxyCounts
	if c.conns < 0 {
		z.conns = -1
	}
	if c.requests < 0 {
		z.requests, z.bytes = -1, -1
	}
	return z
}

func sub(a, b proxyCounts) proxyCounts {
	d := proxyCounts{a.conns - b.conns, a.requests - b.requests, a.bytes - b.bytes}
	if a.requests < 0 || b.requests < 0 {
		d.requests, d.bytes = -1, -1
	}
	if a.conns < 0 || b.conns < 0 {
		d.conns = -1
	}
	return d
}

// attempts is what counts as an attempt: a request where requests are
// counted, a new connection otherwise.
func (c proxyCounts) attempts() int64 {
	if c.requests >= 0 {
		return c.requests
	}
	return c.conns
}

// analyzeProxies measures what the fault proxies saw during a fault from
// down to up, and cuts the run into buckets.
func analyzeProxies(snaps []proxySnap, samples []Sample, d time.Duration, iv interval) *ProxyReport {
	if len(snaps) == 0 {
		return nil
	}
	r := &ProxyReport{Counted: "requests", LastAttempt: 0, LastConn: 0, TrafficLeft: -1}
	if snaps[0].faulty.requests < 0 {
		r.Counted = "connections"
	}
	// The last poll within the fault that saw a new attempt (or
	// connection): the attempt arrived at most that long after the fault.
	var prev proxySnap
	seen := false
	for _, s := range snaps {
		if s.at < iv.down {
			prev, seen = s, true
			continue
		}
		if s.at >= iv.up {
			break
		}
		if seen {
			if d := sub(s.faulty, prev.faulty); d.attempts() > 0 {
				r.LastAttempt = s.at - iv.down
			}
			if s.faulty.conns > prev.faulty.conns {
				r.LastConn = s.at - iv.down
			}
		}
		prev, seen = s, true
	}
	late0, _ := countsAt(snaps, iv.down+SettleTime)
	late1, _ := countsAt(snaps, iv.up)
	r.LateAttempts = sub(late1, late0).attempts()
	r.LateConns = sub(late1, late0).conns
	r.ShareBefore = shareBetween(snaps, 0, iv.down)
	r.ShareFault = shareBetween(snaps, iv.down, iv.up)
	r.ShareLate = shareBetween(snaps, iv.down+SettleTime, iv.up)
	r.TrafficLeft = trafficLeft(snaps, iv)

	for at := time.Duration(0); at < d; at += BucketWidth {
		f0, a0 := countsAt(snaps, at)
		f1, a1 := countsAt(snaps, at+BucketWidth)
		df, da := sub(f1, f0), sub(a1, a0)
		b := Bucket{At: at, FaultyConns: df.conns, FaultyRequests: df.requests, FaultyBytes: df.bytes, AllRequests: da.requests}
		for _, x := range between(samples, at, at+BucketWidth) {
			b.Sent++
			if x.OK() {
				b.OK++
			}
			b.Max = max(b.Max, x.Latency)
		}
		r.Buckets = append(r.Buckets, b)
	}
	return r
}

// shareBetween returns the faulty set's share of the requests that
// arrived at all proxies from from to to; -1 where it is not known (only
// the faulty set counted, or nothing arrived).
func shareBetween(snaps []proxySnap, from, to time.Duration) float64 {
	f0, a0 := countsAt(snaps, from)
	f1, a1 := countsAt(snaps, to)
	df, da := sub(f1, f0), sub(a1, a0)
	if df.requests < 0 || da.requests <= 0 {
		return -1
	}
	return float64(df.requests) / float64(da.requests)
}

// trafficLeft returns how long after iv.down the faulty set's share of
// requests fell below LeftShare for good: the start of the first
// one-second window, sliding by BucketWidth, from which every window ending
// by iv.up has a share below LeftShare. A window in which no request
// arrived anywhere does not count as below: the traffic has not gone to
// another cloud, it has stopped. It returns -1 if the last window is not
// below, or where the share is not known.
func trafficLeft(snaps []proxySnap, iv interval) time.Duration {
	if snaps[0].faulty.requests < 0 || snaps[0].all.requests < 0 {
		return -1
	}
	left := time.Duration(-1)
	for from := iv.down; from+time.Second <= iv.up; from += BucketWidth {
		if s := shareBetween(snaps, from, from+time.Second); s < 0 || s >= LeftShare {
			left = -1
			continue
		}
		if left < 0 {
			left = from - iv.down
		}
	}
	return left
}
