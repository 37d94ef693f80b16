package fault_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/duohuo/duohuo/fault"
	"github.com/duohuo/duohuo/request"
)

func benchFilter(b *testing.B, rules int) *fault.Filter {
	f := fault.New(fault.Options{})
	var t fault.Table
	for i := range rules {
		t.Rules = append(t.Rules, fault.Rule{
			Name:       fmt.Sprintf("r%d", i),
			PathPrefix: fmt.Sprintf("/svc%d/", i),
			Spec:       mustSpec(b, "delay=10ms@1%,abort=503@1%"),
		})
	}
	if err := f.Update(t); err != nil {
		b.Fatal(err)
	}
	return f
}

// BenchmarkDecide measures the per-request decision: off (no rules), a miss
// through 10 rules, and a hit on the last of 10 rules that draws twice.
func BenchmarkDecide(b *testing.B) {
	for _, bc := range []struct {
		name  string
		rules int
		path  string
	}{
		{"off", 0, "/svc9/x"},
		{"miss-10-rules", 10, "/other"},
		{"hit-10th-rule", 10, "/svc9/x"},
	} {
		b.Run(bc.name, func(b *testing.B) {
			f := benchFilter(b, bc.rules)
			v := request.FromHTTP(httptest.NewRequest("GET", bc.path, nil))
			b.ReportAllocs()
			for b.Loop() {
				d := f.Decide(v)
				d.Done()
			}
		})
	}
}

// BenchmarkHandlerPassThrough measures the middleware on a request that no
// rule faults.
func BenchmarkHandlerPassThrough(b *testing.B) {
	f := benchFilter(b, 10)
	h := f.Handler(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	r := httptest.NewRequest("GET", "/other", nil)
	w := httptest.NewRecorder()
	b.ReportAllocs()
	for b.Loop() {
		h.ServeHTTP(w, r)
	}
}
