package dns_test

import (
	"io"
	"log/slog"
	"net"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	mdns "github.com/miekg/dns"

	"github.com/duohuo/duohuo/discovery"
	"github.com/duohuo/duohuo/discovery/discoverytest"
	"github.com/duohuo/duohuo/discovery/dns"
)

var discard = slog.New(slog.NewTextHandler(io.Discard, nil))

// server is a real authoritative DNS server for the zone "test.", on
// loopback over UDP and TCP (same port), whose records the test changes at
// run time.
type server struct {
	addr string

	mu          sync.Mutex // guards the fields below
	answers     map[qkey][]mdns.RR
	extra       map[qkey][]mdns.RR
	rcode       map[string]int // name → forced response code
	negTTL      uint32
	truncateUDP bool
	silent      bool // drop every query (a dead resolver)

	udpQueries, tcpQueries atomic.Int64
}

type qkey struct {
	name  string
	qtype uint16
}

func newServer(t *testing.T) *server {
	t.Helper()
	s := &server{negTTL: 3600}
	s.set(t)
	var (
		pc  net.PacketConn
		ln  net.Listener
		err error
	)
	// Bind UDP first, then TCP on the same port; retry if another test
	// holds that TCP port.
	for range 20 {
		if pc, err = net.ListenPacket("udp", "127.0.0.1:0"); err != nil {
			t.Fatal(err)
		}
		if ln, err = net.Listen("tcp", pc.LocalAddr().String()); err == nil {
			break
		}
		pc.Close()
	}
	if err != nil {
		t.Fatalf("bind tcp beside udp: %v", err)
	}
	s.addr = pc.LocalAddr().String()
	started := make(chan struct{}, 2)
	udp := &mdns.Server{PacketConn: pc, Handler: s, NotifyStartedFunc: func() { started <- struct{}{} }}
	tcp := &mdns.Server{Listener: ln, Handler: s, NotifyStartedFunc: func() { started <- struct{}{} }}
	var wg sync.WaitGroup
	for _, srv := range []*mdns.Server{udp, tcp} {
		wg.Go(func() { _ = srv.ActivateAndServe() })
	}
	<-started
	<-started
	t.Cleanup(func() {
		_ = udp.Shutdown()
		_ = tcp.Shutdown()
		wg.Wait()
	})
	return s
}

// set replaces the zone's records; each is in zone-file syntax.
func (s *server) set(t *testing.T, records ...string) {
	t.Helper()
	answers := map[qkey][]mdns.RR{}
	for _, r := range records {
		rr, err := mdns.NewRR(r)
		if err != nil {
			t.Fatalf("record %q: %v", r, err)
		}
		k := qkey{strings.ToLower(rr.Header().Name), rr.Header().Rrtype}
		answers[k] = append(answers[k], rr)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.answers, s.extra, s.rcode = answers, map[qkey][]mdns.RR{}, map[string]int{}
}

// setExtra makes answers for name/qtype carry records in the additional
// section.
func (s *server) setExtra(t *testing.T, name string, qtype uint16, records ...string) {
	t.Helper()
	var rrs []mdns.RR
	for _, r := range records {
		rr, err := mdns.NewRR(r)
		if err != nil {
			t.Fatal(err)
		}
		rrs = append(rrs, rr)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.extra[qkey{name, qtype}] = rrs
}

// setNegTTL sets the SOA minimum, the negative-caching TTL (RFC 2308).
func (s *server) setNegTTL(ttl uint32) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.negTTL = ttl
}

func (s *server) setRcode(name string, rcode int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.rcode[name] = rcode
}

func (s *server) setTruncateUDP(on bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.truncateUDP = on
}

func (s *server) ServeDNS(w mdns.ResponseWriter, req *mdns.Msg) {
	udp := w.LocalAddr().Network() == "udp"
	if udp {
		s.udpQueries.Add(1)
	} else {
		s.tcpQueries.Add(1)
	}
	q := req.Question[0]
	name := strings.ToLower(q.Name)
	m := new(mdns.Msg)
	m.SetReply(req)
	m.Authoritative = true

	s.mu.Lock()
	if s.silent {
		s.mu.Unlock()
		return
	}
	if rc, ok := s.rcode[name]; ok {
		m.Rcode = rc
	} else if rrs, ok := s.answers[qkey{name, q.Qtype}]; ok {
		m.Answer = rrs
		m.Extra = s.extra[qkey{name, q.Qtype}]
	} else {
		exists := false
		for k := range s.answers {
			exists = exists || k.name == name
		}
		if !exists {
			m.Rcode = mdns.RcodeNameError
		}
		soa, _ := mdns.NewRR("test. 3600 IN SOA ns.test. admin.test. 1 60 60 60 " + strconv.FormatUint(uint64(s.negTTL), 10))
		m.Ns = []mdns.RR{soa}
	}
	if s.truncateUDP && udp {
		m.Answer, m.Extra, m.Truncated = nil, nil, true
	}
	s.mu.Unlock()
	_ = w.WriteMsg(m)
}

// clock is an injected clock: the source's After calls arrive on waits,
// and the test fires them to make the source refresh.
type clock struct {
	now   atomic.Int64 // unix nanoseconds
	waits chan wait
}

type wait struct {
	d  time.Duration
	ch chan time.Time
}

func newClock() *clock {
	c := &clock{waits: make(chan wait, 64)}
	c.now.Store(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC).UnixNano())
	return c
}

func (c *clock) Now() time.Time { return time.Unix(0, c.now.Load()) }

func (c *clock) After(d time.Duration) <-chan time.Time {
	ch := make(chan time.Time, 1)
	c.waits <- wait{d, ch}
	return ch
}

// next waits for the source's next After call: by then it has reported.
func (c *clock) next(t *testing.T) wait {
	t.Helper()
	select {
	case w := <-c.waits:
		return w
	case <-time.After(discoverytest.WaitTimeout):
		t.Fatal("the source did not finish a refresh")
		return wait{}
	}
}

// fire advances the clock by w.d and ends the wait.
func (c *clock) fire(w wait) {
	c.now.Add(int64(w.d))
	w.ch <- c.Now()
}

// start runs a Source for cfg (Servers and the clock filled in) under a new
// aggregator and returns after its first refresh.
func start(t *testing.T, s *server, cfg dns.Config) (*discovery.Aggregator, *clock, wait) {
	t.Helper()
	clk := newClock()
	if cfg.Servers == nil {
		cfg.Servers = []string{s.addr}
	}
	cfg.Now, cfg.After = clk.Now, clk.After
	src, err := dns.NewSource(cfg)
	if err != nil {
		t.Fatalf("NewSource(%+v) = %v", cfg, err)
	}
	a := discovery.NewAggregator(discovery.AggregatorConfig{Logger: discard})
	t.Cleanup(func() { a.Close() })
	if err := a.Add(src); err != nil {
		t.Fatal(err)
	}
	return a, clk, clk.next(t)
}
