package color_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/netip"

	"github.com/duohuo/duohuo/color"
)

// Service A receives a colored request from the gateway (an internal
// peer) and calls service B; the lane travels with the call.
func Example() {
	p, err := color.New(color.Config{
		TrustedNets: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")},
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	b := httptest.NewServer(p.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		lane, _ := color.FromContext(r.Context())
		fmt.Fprintf(w, "B in lane %q, baggage %q", lane, r.Header.Get("baggage"))
	})))
	defer b.Close()
	base := &http.Transport{}
	defer base.CloseIdleConnections()
	client := &http.Client{Transport: p.Transport(base)}
	a := httptest.NewServer(p.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		req, _ := http.NewRequestWithContext(r.Context(), "GET", b.URL, nil)
		resp, err := client.Do(req)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadGateway)
			return
		}
		defer resp.Body.Close()
		io.Copy(w, resp.Body)
	})))
	defer a.Close()

	req, _ := http.NewRequest("GET", a.URL, nil)
	req.Header.Set("x-gray-id", "gray")
	resp, err := client.Do(req) // no lane in this context: sent as is
	if err != nil {
		fmt.Println(err)
		return
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	fmt.Println(string(body))
	// Output: B in lane "gray", baggage "gray.lane=gray"
}

// A request whose context carries a lane is colored on the way out.
func ExamplePropagator_Set() {
	p, _ := color.New(color.Config{})
	h := http.Header{}
	h.Set("Baggage", "userId=alice")
	if err := p.Set(h, "gray"); err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(h.Get("X-Gray-Id"), h.Get("Baggage"))
	p.Strip(h)
	fmt.Printf("%q %q\n", h.Get("X-Gray-Id"), h.Get("Baggage"))
	lane, ok := color.FromContext(color.WithLane(context.Background(), "gray"))
	fmt.Println(lane, ok)
	// Output:
	// gray userId=alice,gray.lane=gray
	// "" "userId=alice"
	// gray true
}
