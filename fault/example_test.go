package fault_test

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/netip"

	"github.com/duohuo/duohuo/fault"
)

func Example() {
	// Drill tools on this machine may ask for faults; nobody else can.
	f := fault.New(fault.Options{TrustedPeer: netip.Addr.IsLoopback})
	spec, err := fault.ParseSpec("abort=503,header")
	if err != nil {
		fmt.Println(err)
		return
	}
	// Only requests to /checkout that ask for it are aborted.
	f.Update(fault.Table{Rules: []fault.Rule{{Name: "checkout-drill", PathPrefix: "/checkout", Spec: spec}}})

	app := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "paid") })
	srv := httptest.NewServer(f.Handler(app))
	defer srv.Close()

	for _, ask := range []string{"", "429"} {
		req, _ := http.NewRequest("GET", srv.URL+"/checkout", nil)
		if ask != "" {
			req.Header.Set(fault.HeaderAbort, ask)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			fmt.Println(err)
			return
		}
		resp.Body.Close()
		fmt.Printf("%d %q\n", resp.StatusCode, resp.Header.Get(fault.HeaderInjected))
	}
	fmt.Printf("%+v\n", f.Stats())
	// Output:
	// 200 ""
	// 429 "abort"
	// {Delays:0 Aborts:1 Resets:0 Overflow:0 Active:0}
}

func ExampleParseSpec() {
	spec, err := fault.ParseSpec("delay=200ms@10%, abort=reset@1%")
	fmt.Println(spec, err)
	_, err = fault.ParseSpec("delay=200ms@10%,abort=99")
	fmt.Println(err)
	// Output:
	// delay=200ms@10%,abort=reset@1% <nil>
	// fault spec "delay=200ms@10%,abort=99": at byte 16: abort: status 99 not in [200, 600)
}
