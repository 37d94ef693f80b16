package dns_test

import (
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	mdns "github.com/miekg/dns"

	"github.com/duohuo/duohuo/discovery"
	"github.com/duohuo/duohuo/discovery/dns"
)

// summary renders a view as "addr/weight" strings, sorted; nil without a
// view.
func summary(v *discovery.ServiceView) []string {
	if v == nil {
		return nil
	}
	out := []string{}
	for _, in := range v.Instances {
		out = append(out, fmt.Sprintf("%s/%d", in.Addr, in.Weight))
	}
	slices.Sort(out)
	return out
}

func wantView(t *testing.T, a *discovery.Aggregator, want ...string) {
	t.Helper()
	got := summary(a.View("api"))
	if want == nil {
		want = []string{}
	}
	if !slices.Equal(got, want) {
		t.Errorf("View(api) = %v, want %v", got, want)
	}
}

func TestSRV(t *testing.T) {
	tests := []struct {
		name    string
		records []string
		extra   []string // additional section of the SRV answer
		want    []string
	}{
		{
			name: "targets are resolved with A and AAAA queries, weight from the record",
			records: []string{
				"_api._tcp.test. 30 IN SRV 0 10 8080 a.test.",
				"_api._tcp.test. 30 IN SRV 0 20 8081 b.test.",
				"a.test. 30 IN A 10.0.0.1",
				"b.test. 30 IN AAAA 2001:db8::2",
			},
			want: []string{"10.0.0.1:8080/10", "[2001:db8::2]:8081/20"},
		},
		{
			name: "addresses in the additional section are used without more queries",
			records: []string{
				"_api._tcp.test. 30 IN SRV 0 5 8080 a.test.",
			},
			extra: []string{"a.test. 30 IN A 10.0.0.1", "a.test. 30 IN A 10.0.0.2"},
			want:  []string{"10.0.0.1:8080/5", "10.0.0.2:8080/5"},
		},
		{
			name: "all weights 0 mean equal default weights (RFC 2782)",
			records: []string{
				"_api._tcp.test. 30 IN SRV 0 0 80 a.test.",
				"_api._tcp.test. 30 IN SRV 0 0 80 b.test.",
				"a.test. 30 IN A 10.0.0.1", "b.test. 30 IN A 10.0.0.2",
			},
			want: []string{"10.0.0.1:80/100", "10.0.0.2:80/100"},
		},
		{
			name: "weight 0 beside others keeps a very small chance (weight 1)",
			records: []string{
				"_api._tcp.test. 30 IN SRV 0 0 80 a.test.",
				"_api._tcp.test. 30 IN SRV 0 60 80 b.test.",
				"a.test. 30 IN A 10.0.0.1", "b.test. 30 IN A 10.0.0.2",
			},
			want: []string{"10.0.0.1:80/1", "10.0.0.2:80/60"},
		},
		{
			name: "priority is ignored and a target of '.' is no instance",
			records: []string{
				"_api._tcp.test. 30 IN SRV 0 10 80 a.test.",
				"_api._tcp.test. 30 IN SRV 5 10 80 b.test.",
				"_api._tcp.test. 30 IN SRV 0 10 80 .",
				"a.test. 30 IN A 10.0.0.1", "b.test. 30 IN A 10.0.0.2",
			},
			want: []string{"10.0.0.1:80/10", "10.0.0.2:80/10"},
		},
		{
			name: "two records for one address give one instance with the larger weight",
			records: []string{
				"_api._tcp.test. 30 IN SRV 0 10 80 a.test.",
				"_api._tcp.test. 30 IN SRV 0 70 80 a2.test.",
				"a.test. 30 IN A 10.0.0.1", "a2.test. 30 IN A 10.0.0.1",
			},
			want: []string{"10.0.0.1:80/70"},
		},
		{
			name:    "a name without SRV records (NODATA) has no instances",
			records: []string{"_api._tcp.test. 30 IN TXT \"hello\""},
			want:    []string{},
		},
		{
			name:    "a missing name (NXDOMAIN) has no instances",
			records: nil,
			want:    []string{},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newServer(t)
			s.set(t, tt.records...)
			if tt.extra != nil {
				s.setExtra(t, "_api._tcp.test.", mdns.TypeSRV, tt.extra...)
			}
			a, _, _ := start(t, s, dns.Config{Service: "api", Name: "_api._tcp.test", Locality: discovery.Locality{Cloud: "aliyun"}})
			wantView(t, a, tt.want...)
			if st := a.Status()[0]; st.Stale || st.Name != "dns:_api._tcp.test" {
				t.Errorf("Status()[0] = %+v, want a fresh source named dns:_api._tcp.test", st)
			}
			if v := a.View("api"); len(v.Instances) > 0 && (v.Instances[0].Locality.Cloud != "aliyun" || v.Instances[0].Metadata["srv_target"] == "") {
				t.Errorf("instance %+v lacks the configured locality or its SRV target", v.Instances[0])
			}
			if tt.extra != nil && s.udpQueries.Load() != 1 {
				t.Errorf("server saw %d queries, want 1 (addresses from the additional section)", s.udpQueries.Load())
			}
		})
	}
}

func TestAddressRecords(t *testing.T) {
	records := []string{
		"api.test. 30 IN A 10.0.0.1", "api.test. 30 IN A 10.0.0.2",
		"api.test. 30 IN AAAA 2001:db8::1",
		"alias.test. 30 IN CNAME api.test.",
	}
	tests := []struct {
		name string
		cfg  dns.Config
		want []string
	}{
		{"A+AAAA (the default for a host name) gives every address at the port",
			dns.Config{Name: "api.test", Port: 9000, Weight: 7},
			[]string{"10.0.0.1:9000/7", "10.0.0.2:9000/7", "[2001:db8::1]:9000/7"}},
		{"A gives the IPv4 addresses with the default weight",
			dns.Config{Name: "api.test.", Type: dns.A, Port: 80},
			[]string{"10.0.0.1:80/100", "10.0.0.2:80/100"}},
		{"AAAA gives the IPv6 addresses",
			dns.Config{Name: "api.test", Type: dns.AAAA, Port: 80},
			[]string{"[2001:db8::1]:80/100"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newServer(t)
			s.set(t, records...)
			tt.cfg.Service = "api"
			a, _, _ := start(t, s, tt.cfg)
			wantView(t, a, tt.want...)
		})
	}
}

func TestRefreshFollowsTTLWithinFloorAndCeiling(t *testing.T) {
	tests := []struct {
		name     string
		ttl      string // of every record
		negTTL   uint32 // 0: the server's 1h
		records  bool
		min, max time.Duration
		want     time.Duration
	}{
		{"a TTL between floor and ceiling is honoured", "30", 0, true, 0, 0, 30 * time.Second},
		{"a TTL under the default 5s floor is raised to it", "1", 0, true, 0, 0, 5 * time.Second},
		{"a TTL of 0 is raised to the floor", "0", 0, true, 0, 0, 5 * time.Second},
		{"a TTL over the default 5m ceiling is lowered to it", "86400", 0, true, 0, 0, 5 * time.Minute},
		{"a configured floor applies", "2", 0, true, 10 * time.Second, time.Minute, 10 * time.Second},
		{"a configured ceiling applies", "120", 0, true, time.Second, time.Minute, time.Minute},
		{"NXDOMAIN is cached for the SOA's negative TTL", "", 45, false, 0, 0, 45 * time.Second},
		{"a negative TTL under the floor is raised to it", "", 1, false, 0, 0, 5 * time.Second},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newServer(t)
			if tt.negTTL != 0 {
				s.setNegTTL(tt.negTTL)
			}
			if tt.records {
				s.set(t, "_api._tcp.test. "+tt.ttl+" IN SRV 0 1 80 a.test.", "a.test. "+tt.ttl+" IN A 10.0.0.1")
			}
			_, _, w := start(t, s, dns.Config{Service: "api", Name: "_api._tcp.test", MinTTL: tt.min, MaxTTL: tt.max})
			if w.d != tt.want {
				t.Errorf("next refresh after %v, want %v", w.d, tt.want)
			}
		})
	}
}

func TestViewFollowsRecordChanges(t *testing.T) {
	s := newServer(t)
	s.set(t, "api.test. 10 IN A 10.0.0.1")
	a, clk, w := start(t, s, dns.Config{Service: "api", Name: "api.test", Type: dns.A, Port: 80})
	wantView(t, a, "10.0.0.1:80/100")
	before := a.View("api")

	s.set(t, "api.test. 10 IN A 10.0.0.1", "api.test. 10 IN A 10.0.0.2")
	clk.fire(w)
	w = clk.next(t)
	wantView(t, a, "10.0.0.1:80/100", "10.0.0.2:80/100")
	if v := a.View("api"); v.Revision <= before.Revision {
		t.Errorf("revision %d after a change, want above %d", v.Revision, before.Revision)
	}

	s.set(t, "api.test. 10 IN A 10.0.0.3")
	clk.fire(w)
	clk.next(t)
	wantView(t, a, "10.0.0.3:80/100")
}

func TestResolverFailureKeepsLastGoodAnswer(t *testing.T) {
	tests := []struct {
		name  string
		fail  func(s *server)
		want  error
		stale bool
	}{
		{"SERVFAIL", func(s *server) { s.setRcode("api.test.", mdns.RcodeServerFailure) }, dns.ErrServerFailure, true},
		{"REFUSED", func(s *server) { s.setRcode("api.test.", mdns.RcodeRefused) }, dns.ErrRcode, true},
		{"a timeout", func(s *server) { s.mu.Lock(); s.silent = true; s.mu.Unlock() }, nil, true},
	}
	for _, tt := range tests {
		t.Run(tt.name+" keeps the last good answer and retries at the floor", func(t *testing.T) {
			s := newServer(t)
			s.set(t, "api.test. 300 IN A 10.0.0.1")
			a, clk, w := start(t, s, dns.Config{Service: "api", Name: "api.test", Type: dns.A, Port: 80, Timeout: time.Second})
			good := a.View("api")

			tt.fail(s)
			clk.fire(w)
			w = clk.next(t)
			if got := a.View("api"); got != good {
				t.Errorf("View(api) = %v after %s, want the last good %v", summary(got), tt.name, summary(good))
			}
			st := a.Status()[0]
			if !st.Stale || tt.want != nil && !errors.Is(st.Err, tt.want) {
				t.Errorf("Status()[0] = %+v, want stale with %v", st, tt.want)
			}
			if w.d != 5*time.Second {
				t.Errorf("retry after %v, want the 5s floor", w.d)
			}

			s.set(t, "api.test. 300 IN A 10.0.0.9") // resolver healthy again
			s.mu.Lock()
			s.silent = false
			s.mu.Unlock()
			clk.fire(w)
			clk.next(t)
			wantView(t, a, "10.0.0.9:80/100")
			if st := a.Status()[0]; st.Stale {
				t.Errorf("Status()[0] = %+v after recovery, want fresh", st)
			}
		})
	}
}

func TestNXDOMAINIsAnAnswerNotAnError(t *testing.T) {
	s := newServer(t)
	s.set(t, "api.test. 30 IN A 10.0.0.1")
	a, clk, w := start(t, s, dns.Config{Service: "api", Name: "api.test", Type: dns.A, Port: 80})
	s.set(t) // the name is deleted
	clk.fire(w)
	clk.next(t)
	wantView(t, a) // empty, not the stale answer
	if st := a.Status()[0]; st.Stale || st.Updates != 2 {
		t.Errorf("Status()[0] = %+v, want 2 accepted updates and no error", st)
	}
}

func TestStaleAnswerIsWithdrawnAfterMaxStale(t *testing.T) {
	s := newServer(t)
	s.set(t, "api.test. 60 IN A 10.0.0.1")
	a, clk, w := start(t, s, dns.Config{Service: "api", Name: "api.test", Type: dns.A, Port: 80, MaxStale: 2 * time.Minute})
	s.setRcode("api.test.", mdns.RcodeServerFailure)

	clk.fire(w) // t=60s: fails, answer 60s old: served
	w = clk.next(t)
	wantView(t, a, "10.0.0.1:80/100")
	for a.View("api") != nil {
		if now := clk.Now(); now.Sub(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)) > 3*time.Minute {
			t.Fatalf("at %v the stale answer is still served, MaxStale is 2m", now)
		}
		clk.fire(w)
		w = clk.next(t)
	}
	if elapsed := clk.Now().Sub(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)); elapsed < 2*time.Minute {
		t.Errorf("answer withdrawn after %v, want after MaxStale (2m)", elapsed)
	}
}

func TestTruncatedAnswerIsAskedAgainOverTCP(t *testing.T) {
	s := newServer(t)
	s.set(t, "api.test. 30 IN A 10.0.0.1")
	s.setTruncateUDP(true)
	a, _, _ := start(t, s, dns.Config{Service: "api", Name: "api.test", Type: dns.A, Port: 80})
	wantView(t, a, "10.0.0.1:80/100")
	if u, tc := s.udpQueries.Load(), s.tcpQueries.Load(); u != 1 || tc != 1 {
		t.Errorf("server saw %d UDP and %d TCP queries, want 1 and 1", u, tc)
	}
}

func TestNextServerIsAskedWhenOneIsDead(t *testing.T) {
	dead, err := net.ListenPacket("udp", "127.0.0.1:0") // never answers
	if err != nil {
		t.Fatal(err)
	}
	defer dead.Close()
	s := newServer(t)
	s.set(t, "api.test. 30 IN A 10.0.0.1")
	a, _, _ := start(t, s, dns.Config{
		Service: "api", Name: "api.test", Type: dns.A, Port: 80,
		Servers: []string{dead.LocalAddr().String(), s.addr}, Timeout: time.Second,
	})
	wantView(t, a, "10.0.0.1:80/100")
}

func TestNewSource(t *testing.T) {
	resolv := filepath.Join(t.TempDir(), "resolv.conf")
	if err := os.WriteFile(resolv, []byte("search example.com\nnameserver 10.1.2.3\nnameserver ::1\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Run("servers default to the nameservers of resolv.conf", func(t *testing.T) {
		src, err := dns.NewSource(dns.Config{Service: "api", Name: "_api._tcp.test", ResolvConf: resolv})
		if err != nil {
			t.Fatal(err)
		}
		if got, want := src.Servers(), []string{"10.1.2.3:53", "[::1]:53"}; !slices.Equal(got, want) {
			t.Errorf("Servers() = %v, want %v", got, want)
		}
	})
	t.Run("the name says the records and the port", func(t *testing.T) {
		src, err := dns.NewSource(dns.Config{Service: "api", Name: "api.test.", Port: 8080, Servers: []string{"127.0.0.1:53"}})
		if err != nil {
			t.Fatal(err)
		}
		if got := src.Name(); got != "dns:api.test:8080" {
			t.Errorf("Name() = %q, want dns:api.test:8080", got)
		}
	})
	bad := []struct {
		name string
		cfg  dns.Config
	}{
		{"a missing service is refused", dns.Config{Name: "api.test", Port: 80}},
		{"a missing name is refused", dns.Config{Service: "api", Port: 80}},
		{"a malformed name is refused", dns.Config{Service: "api", Name: "a..b", Port: 80}},
		{"address records without a port are refused", dns.Config{Service: "api", Name: "api.test"}},
		{"an unknown type is refused", dns.Config{Service: "api", Name: "api.test", Type: 42, Port: 80}},
		{"a weight above the range is refused", dns.Config{Service: "api", Name: "api.test", Port: 80, Weight: 1 << 20}},
		{"a floor above the ceiling is refused", dns.Config{Service: "api", Name: "api.test", Port: 80, MinTTL: time.Hour, MaxTTL: time.Minute}},
		{"a bad server address is refused", dns.Config{Service: "api", Name: "api.test", Port: 80, Servers: []string{"10.0.0.1"}}},
		{"a missing resolv.conf is refused", dns.Config{Service: "api", Name: "api.test", Port: 80, ResolvConf: "/nonexistent/resolv.conf"}},
		{"a bad label is refused", dns.Config{Service: "api", Name: "api.test", Port: 80, Labels: map[string]string{"": "x"}}},
	}
	for _, tt := range bad {
		t.Run(tt.name, func(t *testing.T) {
			if tt.cfg.Servers == nil && tt.cfg.ResolvConf == "" {
				tt.cfg.Servers = []string{"127.0.0.1:53"}
			}
			if _, err := dns.NewSource(tt.cfg); !errors.Is(err, dns.ErrConfig) {
				t.Errorf("NewSource(%+v) = %v, want ErrConfig", tt.cfg, err)
			}
		})
	}
}

func TestNextServerIsAskedAfterSERVFAIL(t *testing.T) {
	broken, good := newServer(t), newServer(t)
	broken.set(t, "api.test. 30 IN A 10.0.0.66")
	broken.setRcode("api.test.", mdns.RcodeServerFailure)
	good.set(t, "api.test. 30 IN A 10.0.0.1")
	a, _, _ := start(t, good, dns.Config{
		Service: "api", Name: "api.test", Type: dns.A, Port: 80,
		Servers: []string{broken.addr, good.addr},
	})
	wantView(t, a, "10.0.0.1:80/100")
	if st := a.Status()[0]; st.Stale {
		t.Errorf("Status()[0] = %+v, want fresh: the second server answered", st)
	}
}

func TestSRVTargetFailureKeepsLastGoodAnswer(t *testing.T) {
	s := newServer(t)
	s.set(t, "_api._tcp.test. 30 IN SRV 0 1 80 a.test.", "a.test. 30 IN A 10.0.0.1")
	a, clk, w := start(t, s, dns.Config{Service: "api", Name: "_api._tcp.test"})
	good := a.View("api")

	// The SRV record still answers, but its target's resolution fails: the
	// answer is incomplete, so it is an error, not "no instances".
	s.setRcode("a.test.", mdns.RcodeServerFailure)
	clk.fire(w)
	clk.next(t)
	if got := a.View("api"); got != good {
		t.Errorf("View(api) = %v, want the last good %v", summary(got), summary(good))
	}
	if st := a.Status()[0]; !st.Stale || !errors.Is(st.Err, dns.ErrServerFailure) {
		t.Errorf("Status()[0] = %+v, want stale with ErrServerFailure", st)
	}
}
