package gateway

import (
	"context"
	"errors"
	"go/parser"
	"go/token"
	"log/slog"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/duohuo/duohuo/breaker"
	"github.com/duohuo/duohuo/color"
	"github.com/duohuo/duohuo/discovery"
	"github.com/duohuo/duohuo/internal/config"
	"github.com/duohuo/duohuo/internal/proxy"
	"github.com/duohuo/duohuo/resilience"
)

// The exchange core, driven through fake seams: no sockets, time under
// synctest, so that deadlines, hedges and retries are exact.

// fakeRequest is a Request without an HTTP engine.
type fakeRequest struct {
	method  string
	grpc    bool
	timeout time.Duration
}

func (r fakeRequest) Method() string                               { return r.method }
func (r fakeRequest) Host() string                                 { return "api.example.com" }
func (r fakeRequest) Path() string                                 { return "/x" }
func (r fakeRequest) Header(string) string                         { return "" }
func (r fakeRequest) Cookie(string) string                         { return "" }
func (r fakeRequest) Query(string) string                          { return "" }
func (r fakeRequest) RemoteAddr() netip.Addr                       { return netip.MustParseAddr("192.0.2.1") }
func (r fakeRequest) Color(*color.Propagator) (string, bool, bool) { return "", false, false }
func (r fakeRequest) StripColor(*color.Propagator)                 {}
func (r fakeRequest) SetColor(*color.Propagator, string)           {}
func (r fakeRequest) ForwardPath(escapedPath) bool                 { return true }
func (r fakeRequest) Idempotent() bool                             { return idempotent(r.method) }
func (r fakeRequest) GRPC() bool                                   { return r.grpc }
func (r fakeRequest) Timeout() time.Duration                       { return r.timeout }

// behaviour is what a fake instance does with an attempt.
type behaviour struct {
	status  int           // answer with this status (0: fail with err)
	err     Class         // fail with this class when status is 0
	after   time.Duration // answer (or fail) after this long; silent when < 0
	client  bool          // the client's body breaks during the attempt
	grpcSt  int           // a gRPC trailers-only status (0: none)
	broken  bool          // the response body breaks off after the head
	trailer int           // a gRPC status in the trailers (as HTTP status)
}

// fakeUpstream plays the instances by address.
type fakeUpstream struct {
	mu       sync.Mutex
	by       map[string][]behaviour // per instance, one per attempt; the last repeats
	sent     []string               // instance addresses in attempt order
	body     bool                   // the request has a body, read by the first attempt
	read     bool
	clientEr error
	sent0    func()
}

func (u *fakeUpstream) Begin(b begin) { u.sent0 = b.Sent.RequestSent }

func (u *fakeUpstream) Send(ctx context.Context, _ *service, in *discovery.Instance) (Response, error) {
	sent := u.sent0
	addr := in.Addr.String()
	u.mu.Lock()
	bs := u.by[addr]
	n := 0
	for _, s := range u.sent {
		if s == addr {
			n++
		}
	}
	u.sent = append(u.sent, addr)
	b := bs[min(n, len(bs)-1)]
	if u.body && !(b.status == 0 && b.err == ClassConnect) {
		u.read = true // a connect failure sent nothing
	}
	if b.client {
		u.clientEr = errors.New("bad chunk")
	}
	u.mu.Unlock()
	sent()
	if b.after != 0 {
		var wait <-chan time.Time
		if b.after > 0 {
			wait = time.After(b.after)
		}
		select {
		case <-wait:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	if b.client {
		return nil, errors.New("reading body: bad chunk")
	}
	if b.status == 0 {
		return nil, &AttemptError{Class: b.err, Err: errors.New(b.err.String())}
	}
	st := b.status
	if b.grpcSt != 0 {
		st = httpStatusOfGRPC(b.grpcSt)
	}
	return &fakeResponse{addr: addr, status: st, b: b}, nil
}

func (u *fakeUpstream) Replayable() bool {
	u.mu.Lock()
	defer u.mu.Unlock()
	return !u.body || !u.read
}

func (u *fakeUpstream) ClientError() (int, error) {
	u.mu.Lock()
	defer u.mu.Unlock()
	if u.clientEr != nil {
		return 400, u.clientEr
	}
	return 0, nil
}

func (u *fakeUpstream) attempts() []string {
	u.mu.Lock()
	defer u.mu.Unlock()
	return append([]string(nil), u.sent...)
}

type fakeResponse struct {
	addr      string
	status    int
	b         behaviour
	discarded bool
}

func (r *fakeResponse) Status() int { return r.status }
func (r *fakeResponse) Discard()    { r.discarded = true }

// fakeResponder records the answer.
type fakeResponder struct {
	headers map[string]string
	status  int
	addr    string // of the instance whose answer was forwarded
	from    string // "upstream", "gateway", "static", "stale"
	reason  string
}

func (w *fakeResponder) SetHeader(n, v string) {
	if w.headers == nil {
		w.headers = map[string]string{}
	}
	w.headers[n] = v
}

func (w *fakeResponder) Forward(resp Response, _ forwarding) (int64, int, error) {
	r := resp.(*fakeResponse)
	w.status, w.from, w.addr = r.status, "upstream", r.addr
	if r.b.broken {
		return 10, 0, errUpstreamBroke
	}
	return 100, r.b.trailer, nil
}
func (w *fakeResponder) Reply(status int, reason string) {
	w.status, w.from, w.reason = status, "gateway", reason
}
func (w *fakeResponder) Static(s staticReply) { w.status, w.from = s.Status, "static" }
func (w *fakeResponder) Stale(*resilience.StaleCache) (int, bool) {
	return 0, false
}

// Instances of the test service: two in the local cloud, two in another.
const (
	localA  = "10.0.0.1:80"
	localB  = "10.0.0.2:80"
	remoteA = "10.1.0.1:80"
	remoteB = "10.1.0.2:80"
)

func exchangeConfig(t *testing.T, extra string) *config.Config {
	t.Helper()
	text := `
site: {cloud: home, region: r1, zone: z1}
listeners: [{name: public, listen: "127.0.0.1:0"}]
services:
  - name: api
    discovery:
      - static:
          instances:
            - {addr: "` + localA + `", cloud: home, region: r1, zone: z1}
            - {addr: "` + localB + `", cloud: home, region: r1, zone: z1}
            - {addr: "` + remoteA + `", cloud: away, region: r9, zone: z9}
            - {addr: "` + remoteB + `", cloud: away, region: r9, zone: z9}
    health: {active: {type: none}}
routes:
  - name: all
    service: api
` + extra
	cfg, err := config.Parse("exchange.yaml", []byte(text))
	if err != nil {
		t.Fatalf("config:\n%s\n%v", text, err)
	}
	return cfg
}

// runExchange runs one request through a fresh gateway built from the route
// settings in extra; warm requests (all answered 200 at once) go first so
// that latencies are known.
func runExchange(t *testing.T, extra string, warm int, req fakeRequest, by map[string][]behaviour, body bool) (*fakeUpstream, *fakeResponder, *Gateway) {
	t.Helper()
	g, err := New(Options{Config: exchangeConfig(t, extra), Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { g.Shutdown(context.Background()) })
	ok := map[string][]behaviour{}
	for _, a := range []string{localA, localB, remoteA, remoteB} {
		ok[a] = []behaviour{{status: 200, after: 5 * time.Millisecond}}
	}
	for range warm {
		g.run(context.Background(), fakeRequest{method: "GET"}, &fakeUpstream{by: ok}, &fakeResponder{})
	}
	up := &fakeUpstream{by: map[string][]behaviour{}, body: body}
	for a, b := range by {
		up.by[a] = b
	}
	for _, a := range []string{localA, localB, remoteA, remoteB} {
		if _, set := up.by[a]; !set {
			up.by[a] = []behaviour{{status: 200, after: time.Millisecond}}
		}
	}
	w := &fakeResponder{}
	g.run(context.Background(), req, up, w)
	return up, w, g
}

func TestExchange(t *testing.T) {
	silent := behaviour{after: -1}
	for _, c := range []struct {
		name     string
		route    string // extra route settings
		warm     int
		req      fakeRequest
		body     bool
		by       map[string][]behaviour
		status   int
		from     string
		attempts int    // attempts sent
		firstTo  string // the cloud whose answer was forwarded: "" any
	}{
		{
			name: "an answer is forwarded as it came", req: fakeRequest{method: "GET"},
			status: 200, from: "upstream", attempts: 1,
		},
		{
			name: "a connect failure is retried elsewhere, even for a POST", req: fakeRequest{method: "POST"}, body: true,
			route:  "    retry: {attempts: 2}\n",
			by:     map[string][]behaviour{localA: {{err: ClassConnect}}, localB: {{err: ClassConnect}}},
			status: 200, from: "upstream", attempts: 3, firstTo: "away",
		},
		{
			name: "a reset GET is retried, and after two failures in its cloud the next try leaves it", req: fakeRequest{method: "GET"},
			route:  "    retry: {attempts: 2}\n",
			by:     map[string][]behaviour{localA: {{err: ClassReset}}, localB: {{err: ClassReset}}},
			status: 200, from: "upstream", attempts: 3, firstTo: "away",
		},
		{
			name: "a reset POST that reached the instance is not retried: 502", req: fakeRequest{method: "POST"}, body: true,
			by:     map[string][]behaviour{localA: {{err: ClassReset}}, localB: {{err: ClassReset}}},
			status: 502, from: "gateway", attempts: 1,
		},
		{
			name: "with nothing else to try, an upstream 502 reaches the client as that 502", req: fakeRequest{method: "GET"},
			route:  "    retry: {attempts: 0}\n",
			by:     map[string][]behaviour{localA: {{status: 502}}, localB: {{status: 502}}},
			status: 502, from: "upstream", attempts: 1,
		},
		{
			name: "a 503 is retried on another instance, and the last answer is returned when all fail", req: fakeRequest{method: "GET"},
			route:  "    retry: {attempts: 3}\n",
			by:     map[string][]behaviour{localA: {{status: 503}}, localB: {{status: 503}}, remoteA: {{status: 503}}, remoteB: {{status: 503}}},
			status: 503, from: "upstream", attempts: 4,
		},
		{
			name: "a 500 is not retried by default and passes through", req: fakeRequest{method: "GET"},
			by:     map[string][]behaviour{localA: {{status: 500}}, localB: {{status: 500}}},
			status: 500, from: "upstream", attempts: 1,
		},
		{
			name: "the client's broken body is the client's: 400, no retry", req: fakeRequest{method: "PUT"}, body: true,
			by:     map[string][]behaviour{localA: {{client: true}}, localB: {{client: true}}},
			status: 400, from: "gateway", attempts: 1,
		},
		{
			name: "a silent instance gets a hedge in another cloud after the adaptive per-try timeout; the first answer wins", req: fakeRequest{method: "GET"},
			warm: 40, by: map[string][]behaviour{localA: {silent}, localB: {silent}},
			status: 200, from: "upstream", attempts: 2, firstTo: "away",
		},
		{
			name: "a silent instance and a POST: no hedge, 504 at the route timeout", req: fakeRequest{method: "POST"}, body: true,
			route: "    timeout: 2s\n",
			warm:  40, by: map[string][]behaviour{localA: {silent}, localB: {silent}},
			status: 504, from: "gateway", attempts: 1,
		},
		{
			name: "a fixed per-try timeout cancels the try and retries it", req: fakeRequest{method: "GET"},
			route:  "    retry: {per_try_timeout: 300ms}\n",
			by:     map[string][]behaviour{localA: {silent}, localB: {silent}},
			status: 200, from: "upstream", attempts: 2, firstTo: "away",
		},
		{
			name: "per_try_timeout 0s: no per-try deadline, the route timeout answers 504", req: fakeRequest{method: "GET"},
			route:  "    timeout: 3s\n    retry: {per_try_timeout: 0s}\n",
			by:     map[string][]behaviour{localA: {silent}, localB: {silent}},
			status: 504, from: "gateway", attempts: 1,
		},
		{
			name: "a slow answer that outlives the per-try deadline but comes first still wins", req: fakeRequest{method: "GET"},
			warm: 40, by: map[string][]behaviour{localA: {{status: 200, after: 400 * time.Millisecond}}, localB: {{status: 200, after: 400 * time.Millisecond}},
				remoteA: {{status: 200, after: time.Second}}, remoteB: {{status: 200, after: time.Second}}},
			status: 200, from: "upstream", attempts: 2, firstTo: "home",
		},
		{
			name: "the route timeout counts from the request's end, then answers 504", req: fakeRequest{method: "GET"},
			route:  "    timeout: 1s\n    retry: {attempts: 0}\n",
			by:     map[string][]behaviour{localA: {silent}, localB: {silent}},
			status: 504, from: "gateway", attempts: 1,
		},
		{
			name: "a gRPC deadline shorter than the route timeout is the deadline", req: fakeRequest{method: "POST", grpc: true, timeout: 200 * time.Millisecond},
			by:     map[string][]behaviour{localA: {silent}, localB: {silent}},
			status: 504, from: "gateway", attempts: 1,
		},
		{
			name: "gRPC UNAVAILABLE is retried when the route asks for it", req: fakeRequest{method: "POST", grpc: true},
			route:  "    retry: {attempts: 2, retry_on: [unavailable]}\n",
			by:     map[string][]behaviour{localA: {{status: 200, grpcSt: proxy.GRPCUnavailable}}, localB: {{status: 200, grpcSt: proxy.GRPCUnavailable}}},
			status: 200, from: "upstream", attempts: 3,
		},
		{
			name: "gRPC UNAVAILABLE is passed on when the route does not retry it", req: fakeRequest{method: "POST", grpc: true},
			by:     map[string][]behaviour{localA: {{status: 200, grpcSt: proxy.GRPCUnavailable}}, localB: {{status: 200, grpcSt: proxy.GRPCUnavailable}}},
			status: 503, from: "upstream", attempts: 1,
		},
		{
			name: "no retry budget left: no retry", req: fakeRequest{method: "GET"},
			route:  "    retry: {budget: {ratio: 0, min_per_second: 0}}\n",
			by:     map[string][]behaviour{localA: {{err: ClassConnect}}, localB: {{err: ClassConnect}}},
			status: 502, from: "gateway", attempts: 1,
		},
		{
			name: "max_duration bounds the whole exchange, the wait for the head included: 504", req: fakeRequest{method: "POST"}, body: true,
			route:  "    timeout: 0s\n    max_duration: 700ms\n",
			by:     map[string][]behaviour{localA: {silent}, localB: {silent}},
			status: 504, from: "gateway", attempts: 1,
		},
		{
			name: "every instance unreachable: the static fallback answers", req: fakeRequest{method: "GET"},
			route:  "    retry: {attempts: 3}\n    fallback: {static: {status: 200, body: degraded}}\n",
			by:     map[string][]behaviour{localA: {{err: ClassConnect}}, localB: {{err: ClassConnect}}, remoteA: {{err: ClassConnect}}, remoteB: {{err: ClassConnect}}},
			status: 200, from: "static", attempts: 4,
		},
	} {
		t.Run(c.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				up, w, g := runExchange(t, c.route, c.warm, c.req, c.by, c.body)
				got := up.attempts()
				if w.status != c.status || w.from != c.from || len(got) != c.attempts {
					t.Errorf("answer %d from %s after attempts %v (reason %q), want %d from %s after %d attempts",
						w.status, w.from, got, w.reason, c.status, c.from, c.attempts)
				}
				if c.firstTo != "" {
					cloud := "home"
					if strings.HasPrefix(w.addr, "10.1.") {
						cloud = "away"
					}
					if cloud != c.firstTo {
						t.Errorf("the answer came from %s (%s; attempts %v), want %s", cloud, w.addr, got, c.firstTo)
					}
				}
				g.Shutdown(context.Background())
				synctest.Wait()
			})
		})
	}
}

// Who is to blame decides what learns from an attempt: a client that
// breaks its body opens no breaker and ejects nothing, however often.
func TestClientFaultsNeverCountAgainstInstances(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		g, err := New(Options{Config: exchangeConfig(t, ""), Logger: slog.New(slog.DiscardHandler)})
		if err != nil {
			t.Fatal(err)
		}
		defer g.Shutdown(context.Background())
		bad := map[string][]behaviour{}
		for _, a := range []string{localA, localB, remoteA, remoteB} {
			bad[a] = []behaviour{{client: true}}
		}
		for i := range 300 {
			w := &fakeResponder{}
			g.run(context.Background(), fakeRequest{method: "PUT"}, &fakeUpstream{by: bad, body: true}, w)
			if w.status != 400 {
				t.Fatalf("request %d with a broken body = %d, want 400", i, w.status)
			}
		}
		synctest.Wait()
		svc := g.services["api"]
		for _, a := range []string{localA, localB, remoteA, remoteB} {
			id := discovery.AddrID(netip.MustParseAddrPort(a))
			if st := svc.breaker.Get(id).State(); st != breaker.Closed {
				t.Errorf("breaker of %s is %v after 300 client faults, want closed", a, st)
			}
		}
		for _, st := range svc.tracker.Snapshot() {
			if !st.Status.InService() {
				t.Errorf("instance %s is %v after client faults, want in service", st.ID, st.Status)
			}
		}
		// And the client gone mid-attempt: 499, nothing counted.
		ctx, cancel := context.WithCancel(context.Background())
		silent := map[string][]behaviour{localA: {{after: -1}}, localB: {{after: -1}}}
		w := &fakeResponder{}
		done := make(chan struct{})
		go func() {
			defer close(done)
			g.run(ctx, fakeRequest{method: "POST"}, &fakeUpstream{by: silent, body: true}, w)
		}()
		time.Sleep(100 * time.Millisecond)
		cancel()
		<-done
		if w.status != 499 || w.from != "gateway" {
			t.Errorf("client gone: answer %d from %s, want 499 (nothing written)", w.status, w.from)
		}
		for _, a := range []string{localA, localB} {
			id := discovery.AddrID(netip.MustParseAddrPort(a))
			if st := svc.breaker.Get(id).State(); st != breaker.Closed {
				t.Errorf("breaker of %s is %v after the client left, want closed", a, st)
			}
		}
	})
}

// A service of one instance keeps answering after that instance answered
// five 500s (its breaker is open and it is ejected: panic uses it anyway).
func TestLoneInstanceServesAfterFailures(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		cfg, err := config.Parse("lone.yaml", []byte(`
listeners: [{name: public, listen: "127.0.0.1:0"}]
services:
  - name: api
    discovery: [{static: {instances: [{addr: "`+localA+`"}]}}]
    health: {active: {type: none}}
routes: [{name: all, service: api}]
`))
		if err != nil {
			t.Fatal(err)
		}
		g, err := New(Options{Config: cfg, Logger: slog.New(slog.DiscardHandler)})
		if err != nil {
			t.Fatal(err)
		}
		defer g.Shutdown(context.Background())
		up := &fakeUpstream{by: map[string][]behaviour{localA: {{status: 500}, {status: 500}, {status: 500}, {status: 500}, {status: 500}, {status: 200}}}}
		for i := range 5 {
			w := &fakeResponder{}
			g.run(context.Background(), fakeRequest{method: "GET"}, up, w)
			if w.status != 500 || w.from != "upstream" {
				t.Fatalf("request %d = %d from %s, want the instance's 500", i, w.status, w.from)
			}
		}
		time.Sleep(time.Second)
		synctest.Wait()
		w := &fakeResponder{}
		g.run(context.Background(), fakeRequest{method: "GET"}, up, w)
		if w.status != 200 {
			t.Errorf("after five 500s: %d from %s (%s), want 200 from the instance", w.status, w.from, w.reason)
		}
	})
}

// The exchange core works on the seams only: its files import no HTTP
// library, so a second engine can drive it.
func TestExchangeIsEngineNeutral(t *testing.T) {
	for _, f := range []string{"exchange.go", "outcome.go"} {
		file, err := parser.ParseFile(token.NewFileSet(), f, nil, parser.ImportsOnly)
		if err != nil {
			t.Fatal(err)
		}
		for _, im := range file.Imports {
			p := strings.Trim(im.Path.Value, `"`)
			if strings.HasPrefix(p, "net/http") || strings.Contains(p, "internal/proxy") || strings.Contains(p, "fasthttp") {
				t.Errorf("%s imports %s: the exchange core must not depend on an HTTP engine", f, p)
			}
			if strings.HasPrefix(p, "go.opentelemetry.io") {
				t.Errorf("%s imports %s: the exchange core reaches tracing through its tracer interface only", f, p)
			}
		}
	}
}

// One slow request is the tail of a healthy service and moves no traffic;
// silent attempts on several instances of a tier within a second make it
// suspect, and its instances stop taking new requests until it expires.
func TestSuspectTierNeedsSeveralInstances(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		g, err := New(Options{Config: exchangeConfig(t, ""), Logger: slog.New(slog.DiscardHandler)})
		if err != nil {
			t.Fatal(err)
		}
		defer g.Shutdown(context.Background())
		svc := g.services["api"]
		a := discovery.AddrID(netip.MustParseAddrPort(localA))
		b := discovery.AddrID(netip.MustParseAddrPort(localB))
		tier, _ := svc.tierOf(a)
		for range 5 {
			svc.suspectTier(tier, a)
		}
		if svc.isSuspect(tier) {
			t.Fatalf("five silent attempts on one instance made its tier suspect")
		}
		time.Sleep(2 * suspectWindow) // those are forgotten
		svc.suspectTier(tier, a)
		svc.suspectTier(tier, b)
		if svc.isSuspect(tier) {
			t.Fatalf("two silent attempts made the tier suspect, want %d", suspectAttempts)
		}
		svc.suspectTier(tier, a)
		if !svc.isSuspect(tier) {
			t.Fatalf("%d silent attempts on two instances did not make the tier suspect", suspectAttempts)
		}
		synctest.Wait() // the balancer rebuild
		up := &fakeUpstream{by: map[string][]behaviour{}}
		for _, addr := range []string{localA, localB, remoteA, remoteB} {
			up.by[addr] = []behaviour{{status: 200, after: time.Millisecond}}
		}
		for range 20 {
			g.run(context.Background(), fakeRequest{method: "GET"}, up, &fakeResponder{})
		}
		for _, addr := range up.attempts() {
			if strings.HasPrefix(addr, "10.0.") {
				t.Fatalf("a new request went to %s in the suspect tier", addr)
			}
		}
		time.Sleep(2 * suspectFor)
		synctest.Wait()
		up.sent = nil
		for range 20 {
			g.run(context.Background(), fakeRequest{method: "GET"}, up, &fakeResponder{})
		}
		home := 0
		for _, addr := range up.attempts() {
			if strings.HasPrefix(addr, "10.0.") {
				home++
			}
		}
		if home == 0 {
			t.Errorf("after the suspicion expired no request went home (%v)", up.attempts())
		}
	})
}
