package fault_test

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/duohuo/duohuo/fault"
	"github.com/duohuo/duohuo/request"
)

// script returns a Rand that yields vals in turn, then fails the test.
func script(t *testing.T, vals ...float64) func() float64 {
	var i atomic.Int64
	return func() float64 {
		n := i.Add(1) - 1
		if int(n) >= len(vals) {
			t.Errorf("Rand called %d times, scripted %d", n+1, len(vals))
			return 0
		}
		return vals[n]
	}
}

func mustSpec(t testing.TB, s string) fault.Spec {
	t.Helper()
	sp, err := fault.ParseSpec(s)
	if err != nil {
		t.Fatal(err)
	}
	return sp
}

func view(method, target string, header map[string]string) request.View {
	r := httptest.NewRequest(method, target, nil)
	for k, v := range header {
		r.Header.Set(k, v)
	}
	return request.FromHTTP(r)
}

var ignoreActive = cmpopts.IgnoreUnexported(fault.Decision{})

func TestDecideMatchesFirstRule(t *testing.T) {
	f := fault.New(fault.Options{})
	err := f.Update(fault.Table{Rules: []fault.Rule{
		{Name: "api-post", Host: "api.example.com", Methods: []string{"POST"}, Spec: mustSpec(t, "abort=503")},
		{Name: "api", Host: "api.example.com", PathPrefix: "/v2", Spec: mustSpec(t, "abort=502")},
		{Name: "checkout", PathPrefix: "/checkout", Spec: mustSpec(t, "delay=1s")},
	}})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name   string
		method string
		target string
		want   fault.Decision
	}{
		{"host and method match the first rule", "POST", "http://api.example.com/v2/x", fault.Decision{Rule: "api-post", Status: 503}},
		{"host with port and upper case still matches", "POST", "http://API.example.com:8080/", fault.Decision{Rule: "api-post", Status: 503}},
		{"other method falls to the next rule", "GET", "http://api.example.com/v2/x", fault.Decision{Rule: "api", Status: 502}},
		{"path outside every prefix is untouched", "GET", "http://api.example.com/v1/x", fault.Decision{}},
		{"path prefix on any host", "GET", "http://shop.example.com/checkout/pay", fault.Decision{Rule: "checkout", Delay: time.Second}},
		{"no rule matches", "GET", "http://shop.example.com/", fault.Decision{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := f.Decide(view(tt.method, tt.target, nil))
			defer got.Done()
			if diff := cmp.Diff(tt.want, got, ignoreActive); diff != "" {
				t.Errorf("Decide(%s %s) (-want +got):\n%s", tt.method, tt.target, diff)
			}
		})
	}
}

func TestDecideSamplesPercentagesIndependently(t *testing.T) {
	tests := []struct {
		name  string
		spec  string
		draws []float64 // delay draw first, then abort draw
		want  fault.Decision
	}{
		{"draw under the delay percent delays", "delay=1s@10%", []float64{0.0999}, fault.Decision{Rule: "r", Delay: time.Second}},
		{"draw at the delay percent does not", "delay=1s@10%", []float64{0.10}, fault.Decision{}},
		{"abort drawn, delay not", "delay=1s@10%,abort=503@50%", []float64{0.5, 0.2}, fault.Decision{Rule: "r", Status: 503}},
		{"both drawn", "delay=1s@10%,abort=reset@50%", []float64{0.05, 0.2}, fault.Decision{Rule: "r", Delay: time.Second, Reset: true}},
		{"100 percent never draws", "delay=1s,abort=503", nil, fault.Decision{Rule: "r", Delay: time.Second, Status: 503}},
		{"fractional percent", "abort=500@0.01%", []float64{0.00009}, fault.Decision{Rule: "r", Status: 500}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := fault.New(fault.Options{Rand: script(t, tt.draws...)})
			if err := f.Update(fault.Table{Rules: []fault.Rule{{Name: "r", Spec: mustSpec(t, tt.spec)}}}); err != nil {
				t.Fatal(err)
			}
			got := f.Decide(view("GET", "/", nil))
			defer got.Done()
			if diff := cmp.Diff(tt.want, got, ignoreActive); diff != "" {
				t.Errorf("Decide with %q and draws %v (-want +got):\n%s", tt.spec, tt.draws, diff)
			}
		})
	}
}

func TestDecideHeaderTrigger(t *testing.T) {
	tests := []struct {
		name   string
		spec   string
		header map[string]string
		draws  []float64
		want   fault.Decision
	}{
		{"no header, no fault", "delay=1s,abort=503,header", nil, nil, fault.Decision{}},
		{"delay header in milliseconds", "delay=1s,header",
			map[string]string{fault.HeaderDelay: "250"}, nil, fault.Decision{Rule: "r", Delay: 250 * time.Millisecond}},
		{"delay header clamped to the rule's duration", "delay=1s,header",
			map[string]string{fault.HeaderDelay: "60000"}, nil, fault.Decision{Rule: "r", Delay: time.Second}},
		{"invalid delay header is ignored", "delay=1s,header",
			map[string]string{fault.HeaderDelay: "soon"}, nil, fault.Decision{}},
		{"abort header picks the status", "abort=503,header",
			map[string]string{fault.HeaderAbort: "429"}, nil, fault.Decision{Rule: "r", Status: 429}},
		{"abort header asks for a reset", "abort=503,header",
			map[string]string{fault.HeaderAbort: "reset"}, nil, fault.Decision{Rule: "r", Reset: true}},
		{"invalid abort header uses the rule's abort", "abort=503,header",
			map[string]string{fault.HeaderAbort: "700"}, nil, fault.Decision{Rule: "r", Status: 503}},
		{"abort header cannot trigger a delay-only rule", "delay=1s,header",
			map[string]string{fault.HeaderAbort: "500"}, nil, fault.Decision{}},
		{"percentage header lowers the rule's", "abort=503@50%,header",
			map[string]string{fault.HeaderAbort: "503", fault.HeaderAbortPercent: "10"}, []float64{0.2}, fault.Decision{}},
		{"percentage header cannot raise the rule's", "abort=503@50%,header",
			map[string]string{fault.HeaderAbort: "503", fault.HeaderAbortPercent: "100"}, []float64{0.6}, fault.Decision{}},
		{"delay percentage header", "delay=1s,header",
			map[string]string{fault.HeaderDelay: "5", fault.HeaderDelayPercent: "30"}, []float64{0.29}, fault.Decision{Rule: "r", Delay: 5 * time.Millisecond}},
		{"headers are ignored without header trigger", "abort=503",
			map[string]string{fault.HeaderAbort: "reset"}, nil, fault.Decision{Rule: "r", Status: 503}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := fault.New(fault.Options{Rand: script(t, tt.draws...), TrustedPeer: testNet.Contains})
			if err := f.Update(fault.Table{Rules: []fault.Rule{{Name: "r", Spec: mustSpec(t, tt.spec)}}}); err != nil {
				t.Fatal(err)
			}
			got := f.Decide(view("GET", "/", tt.header))
			defer got.Done()
			if diff := cmp.Diff(tt.want, got, ignoreActive); diff != "" {
				t.Errorf("Decide(%v) with %q (-want +got):\n%s", tt.header, tt.spec, diff)
			}
		})
	}
}

// testNet holds the address of httptest.NewRequest's peer (192.0.2.1).
var testNet = netip.MustParsePrefix("192.0.2.0/24")

func TestDecideIgnoresTriggersFromUntrustedPeers(t *testing.T) {
	h := map[string]string{fault.HeaderAbort: "503", fault.HeaderDelay: "100"}
	for _, tc := range []struct {
		name    string
		trusted func(netip.Addr) bool
	}{
		{"no TrustedPeer trusts no one", nil},
		{"a peer outside the trusted networks", netip.MustParsePrefix("10.0.0.0/8").Contains},
	} {
		f := fault.New(fault.Options{TrustedPeer: tc.trusted})
		if err := f.Update(fault.Table{Rules: []fault.Rule{{Name: "r", Spec: mustSpec(t, "delay=1s,abort=500,header")}}}); err != nil {
			t.Fatal(err)
		}
		if d := f.Decide(view("GET", "/", h)); d.Faulty() {
			d.Done()
			t.Errorf("%s: Decide(%v) = %+v, want no fault", tc.name, h, d)
		}
	}
}

type recordingObserver struct {
	mu  sync.Mutex
	got []string
}

func (o *recordingObserver) Injected(rule string, k fault.Kind) {
	o.mu.Lock()
	o.got = append(o.got, rule+":"+k.String())
	o.mu.Unlock()
}

func TestMaxActiveCapsConcurrentFaults(t *testing.T) {
	obs := &recordingObserver{}
	f := fault.New(fault.Options{Observer: obs})
	if err := f.Update(fault.Table{MaxActive: 2, Rules: []fault.Rule{{Name: "r", Spec: mustSpec(t, "delay=1s,abort=503")}}}); err != nil {
		t.Fatal(err)
	}
	d1 := f.Decide(view("GET", "/", nil))
	d2 := f.Decide(view("GET", "/", nil))
	d3 := f.Decide(view("GET", "/", nil))
	if !d1.Faulty() || !d2.Faulty() || d3.Faulty() {
		t.Fatalf("faulty = %v, %v, %v; want true, true, false (cap 2)", d1.Faulty(), d2.Faulty(), d3.Faulty())
	}
	d3.Done() // no-op for the zero Decision
	d1.Done()
	d4 := f.Decide(view("GET", "/", nil))
	if !d4.Faulty() {
		t.Error("Decide after one Done is not faulty, want a freed slot")
	}
	d2.Done()
	d4.Done()
	want := fault.Stats{Delays: 3, Aborts: 3, Overflow: 1, Active: 0}
	if got := f.Stats(); got != want {
		t.Errorf("Stats() = %+v, want %+v", got, want)
	}
	wantObs := []string{"r:delay", "r:abort", "r:delay", "r:abort", "r:overflow", "r:delay", "r:abort"}
	if diff := cmp.Diff(wantObs, obs.got); diff != "" {
		t.Errorf("observer calls (-want +got):\n%s", diff)
	}
}

func TestFilterIsOffUntilConfigured(t *testing.T) {
	f := fault.New(fault.Options{Rand: script(t)})
	if d := f.Decide(view("GET", "/", map[string]string{fault.HeaderAbort: "503"})); d.Faulty() {
		t.Errorf("Decide on a new filter = %+v, want no fault", d)
	}
}

func TestUpdateRefusesInvalidTableAndKeepsTheOld(t *testing.T) {
	f := fault.New(fault.Options{})
	good := fault.Table{Rules: []fault.Rule{{Name: "a", Spec: mustSpec(t, "abort=503")}}}
	if err := f.Update(good); err != nil {
		t.Fatal(err)
	}
	bad := fault.Table{Rules: []fault.Rule{{Name: "b", Spec: fault.Spec{Abort: &fault.Abort{Status: 42}}}}}
	if err := f.Update(bad); !errors.Is(err, fault.ErrInvalidSpec) {
		t.Fatalf("Update(bad) = %v, want ErrInvalidSpec", err)
	}
	if diff := cmp.Diff(good, f.Table()); diff != "" {
		t.Errorf("Table() after a refused Update (-want +got):\n%s", diff)
	}
}

func TestSetRuleAndDeleteRule(t *testing.T) {
	f := fault.New(fault.Options{})
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(f.SetRule(fault.Rule{Name: "a", Spec: mustSpec(t, "abort=503")}))
	must(f.SetRule(fault.Rule{Name: "b", Spec: mustSpec(t, "abort=502")}))
	must(f.SetRule(fault.Rule{Name: "a", PathPrefix: "/x", Spec: mustSpec(t, "abort=500")}))
	got := f.Table().Rules
	if len(got) != 2 || got[0].Name != "a" || got[0].PathPrefix != "/x" || got[1].Name != "b" {
		t.Fatalf("rules after replacing a = %+v, want a (replaced in place), b", got)
	}
	if err := f.SetRule(fault.Rule{Name: "", Spec: mustSpec(t, "abort=500")}); !errors.Is(err, fault.ErrInvalidSpec) {
		t.Errorf("SetRule(unnamed) = %v, want ErrInvalidSpec", err)
	}
	must(f.DeleteRule("a"))
	if err := f.DeleteRule("a"); !errors.Is(err, fault.ErrNoRule) {
		t.Errorf("DeleteRule(a) twice = %v, want ErrNoRule", err)
	}
	if got := f.Table().Rules; len(got) != 1 || got[0].Name != "b" {
		t.Errorf("rules after delete = %+v, want only b", got)
	}
}

func TestTableReturnsACopy(t *testing.T) {
	f := fault.New(fault.Options{})
	f.SetRule(fault.Rule{Name: "a", Methods: []string{"GET"}, Spec: mustSpec(t, "abort=503")})
	tb := f.Table()
	tb.Rules[0].Methods[0] = "POST"
	tb.Rules[0].Spec.Abort.Status = 500
	d := f.Decide(view("GET", "/", nil))
	defer d.Done()
	if d.Status != 503 {
		t.Errorf("Decide after mutating a returned Table = %+v, want the filter unchanged (503)", d)
	}
}

var _ http.Handler = fault.New(fault.Options{}).AdminHandler()
