package color_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/duohuo/duohuo/color"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

var (
	key1 = []byte("0123456789abcdef-key-one")
	key2 = []byte("fedcba9876543210-key-two")
	t0   = time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)
)

func at(t time.Time) func() time.Time { return func() time.Time { return t } }

func mustNew(t testing.TB, cfg color.Config) *color.Propagator {
	t.Helper()
	p, err := color.New(cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return p
}

func TestNewRejects(t *testing.T) {
	tests := []struct {
		name string
		cfg  color.Config
		want string
	}{
		{"a short key", color.Config{Keys: [][]byte{[]byte("short")}}, "Keys[0]"},
		{"a header name with a space", color.Config{Header: "x gray"}, "Header"},
		{"a baggage key with a comma", color.Config{BaggageKey: "a,b"}, "BaggageKey"},
		{"the same header for color and token", color.Config{Header: "x-a", TokenHeader: "X-A"}, "both"},
		{"an invalid trusted prefix", color.Config{TrustedNets: []netip.Prefix{{}}}, "TrustedNets[0]"},
		{"signing without a key", color.Config{SignTTL: time.Minute}, "SignTTL"},
	}
	for _, tt := range tests {
		_, err := color.New(tt.cfg)
		if !errors.Is(err, color.ErrConfig) || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: New = %v, want ErrConfig naming %s", tt.name, err, tt.want)
		}
	}
}

// TestTokenFormat pins the documented format, so that tokens made by other
// tools (or other languages) keep verifying.
func TestTokenFormat(t *testing.T) {
	p := mustNew(t, color.Config{Keys: [][]byte{[]byte("example-key-0123456789")}, Now: at(time.Unix(1798000000-3600, 0))})
	tok, err := p.Sign("gray", time.Hour)
	if want := "v1.gray.1798000000.CJ8rbGTP8BMC-9UNwze67A"; err != nil || tok != want {
		t.Errorf("Sign = %q, %v; want %q", tok, err, want)
	}
}

func TestTokens(t *testing.T) {
	signer := mustNew(t, color.Config{Keys: [][]byte{key1}, Now: at(t0)})
	tok, err := signer.Sign("gray.v2", time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	rotated := mustNew(t, color.Config{Keys: [][]byte{key2, key1}, Now: at(t0)})
	other := mustNew(t, color.Config{Keys: [][]byte{key2}, Now: at(t0)})
	later := mustNew(t, color.Config{Keys: [][]byte{key1}, Now: at(t0.Add(time.Minute))})
	tampered := strings.Replace(tok, "v1.gray.v2.", "v1.blue.v2.", 1)
	tests := []struct {
		name  string
		p     *color.Propagator
		token string
		lane  string
	}{
		{"the signer verifies its own token", signer, tok, "gray.v2"},
		{"a verifier holding the old key among new ones accepts it (rotation)", rotated, tok, "gray.v2"},
		{"a verifier without the key refuses it", other, tok, ""},
		{"an expired token is refused", later, tok, ""},
		{"a token whose lane was changed is refused", signer, tampered, ""},
		{"a token whose expiry was extended is refused", signer, strings.Replace(tok, ".17", ".27", 1), ""},
		{"garbage is refused", signer, "v1.gray", ""},
		{"another version is refused", signer, "v2" + tok[2:], ""},
	}
	for _, tt := range tests {
		lane, err := tt.p.Verify(tt.token)
		if tt.lane == "" {
			if !errors.Is(err, color.ErrToken) {
				t.Errorf("%s: Verify(%q) = %q, %v; want ErrToken", tt.name, tt.token, lane, err)
			}
			continue
		}
		if err != nil || lane != tt.lane {
			t.Errorf("%s: Verify(%q) = %q, %v; want %q", tt.name, tt.token, lane, err, tt.lane)
		}
	}
}

// seen is what service B reports about the request it received.
type seen struct {
	Lane    string `json:"lane"`
	Header  string `json:"header"`
	Baggage string `json:"baggage"`
	Token   string `json:"token"`
}

// chain starts service B and service A on loopback; A calls B for every
// request with a client using p.Transport. Both use p.Middleware.
func chain(t *testing.T, p *color.Propagator) (aURL string) {
	t.Helper()
	b := httptest.NewServer(p.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		lane, _ := color.FromContext(r.Context())
		json.NewEncoder(w).Encode(seen{lane, r.Header.Get("x-gray-id"), r.Header.Get("baggage"), r.Header.Get("x-gray-token")})
	})))
	t.Cleanup(b.Close)
	base := &http.Transport{}
	t.Cleanup(base.CloseIdleConnections)
	client := &http.Client{Transport: p.Transport(base)}
	a := httptest.NewServer(p.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		req, err := http.NewRequestWithContext(r.Context(), http.MethodGet, b.URL, nil)
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		// Service code passes other baggage on; the color is the
		// transport's business.
		req.Header.Set("baggage", r.Header.Get("baggage"))
		resp, err := client.Do(req)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadGateway)
			return
		}
		defer resp.Body.Close()
		io.Copy(w, resp.Body)
	})))
	t.Cleanup(a.Close)
	return a.URL
}

// from returns a client whose connections leave from the loopback address
// src, so that a test can be an "internal" or an "outside" peer.
func from(t *testing.T, src string) *http.Client {
	t.Helper()
	tr := &http.Transport{DialContext: (&net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(src)}}).DialContext}
	t.Cleanup(tr.CloseIdleConnections)
	return &http.Client{Transport: tr, Timeout: 10 * time.Second}
}

func get(t *testing.T, c *http.Client, url string, h map[string]string) seen {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range h {
		req.Header.Set(k, v)
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var s seen
	if err := json.NewDecoder(resp.Body).Decode(&s); err != nil {
		t.Fatalf("decode B's answer (status %d): %v", resp.StatusCode, err)
	}
	return s
}

// TestChainKeepsTrustedColorAndStripsSpoofed runs a real A → B chain on
// loopback. 127.0.0.1 is the internal network (gateways, sidecars, A
// calling B); 127.0.0.2 is an outside client.
func TestChainKeepsTrustedColorAndStripsSpoofed(t *testing.T) {
	p := mustNew(t, color.Config{
		TrustedNets: []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")},
		Keys:        [][]byte{key1},
	})
	a := chain(t, p)
	inside, outside := from(t, "127.0.0.1"), from(t, "127.0.0.2")
	tok, err := p.Sign("gray", time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	badSigner := mustNew(t, color.Config{Keys: [][]byte{key2}})
	forged, err := badSigner.Sign("gray", time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		client  *http.Client
		headers map[string]string
		want    seen
	}{
		{
			"a color from the internal network reaches B through A",
			inside, map[string]string{"x-gray-id": "gray", "baggage": "userId=alice"},
			seen{Lane: "gray", Header: "gray", Baggage: "userId=alice,gray.lane=gray"},
		},
		{
			"a color carried only in baggage is read from baggage",
			inside, map[string]string{"baggage": "gray.lane=gray"},
			seen{Lane: "gray", Header: "gray", Baggage: "gray.lane=gray"},
		},
		{
			"uncolored traffic stays uncolored",
			inside, map[string]string{"baggage": "userId=alice"},
			seen{Baggage: "userId=alice"},
		},
		{
			"an outside client's spoofed color is stripped, other baggage kept",
			outside, map[string]string{"x-gray-id": "gray", "baggage": "userId=alice,gray.lane=gray"},
			seen{Baggage: "userId=alice"},
		},
		{
			"an outside client with a valid token gets its lane",
			outside, map[string]string{"x-gray-token": tok, "x-gray-id": "blue"},
			seen{Lane: "gray", Header: "gray", Baggage: "gray.lane=gray"},
		},
		{
			"an outside client with a forged token is stripped",
			outside, map[string]string{"x-gray-token": forged, "x-gray-id": "gray"},
			seen{},
		},
		{
			"an invalid lane name is not trusted even from inside",
			inside, map[string]string{"x-gray-id": "gray lane"},
			seen{},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := get(t, tt.client, a, tt.headers); got != tt.want {
				t.Errorf("B saw %+v, want %+v", got, tt.want)
			}
		})
	}
}

func TestTransportSignsWhenAsked(t *testing.T) {
	now := at(t0)
	p := mustNew(t, color.Config{Keys: [][]byte{key1}, SignTTL: time.Minute, Now: now})
	var got *http.Request
	rt := p.Transport(roundTripFunc(func(r *http.Request) (*http.Response, error) {
		got = r
		return &http.Response{StatusCode: 200, Body: http.NoBody, Request: r}, nil
	}))
	req := httptest.NewRequestWithContext(color.WithLane(context.Background(), "gray"), "GET", "http://b/", nil)
	req.Header.Set("x-gray-id", "stale")
	resp, err := rt.RoundTrip(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if lane, err := p.Verify(got.Header.Get("x-gray-token")); err != nil || lane != "gray" {
		t.Errorf("outgoing token verifies as %q, %v; want gray", lane, err)
	}
	if got.Header.Get("x-gray-id") != "gray" {
		t.Errorf("outgoing color = %q, want gray (a stale one replaced)", got.Header.Get("x-gray-id"))
	}
	if req.Header.Get("x-gray-id") != "stale" || req.Header.Get("x-gray-token") != "" {
		t.Errorf("RoundTrip modified the caller's request: %v", req.Header)
	}
}

// roundTripFunc lets a test see the request a Transport sends, where the
// point is the request itself rather than a server's answer.
type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

func TestMiddlewareDoesNotModifyTheRequest(t *testing.T) {
	p := mustNew(t, color.Config{})
	r := httptest.NewRequest("GET", "/", nil)
	r.Header.Set("x-gray-id", "gray")
	var inner *http.Request
	p.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { inner = r })).ServeHTTP(httptest.NewRecorder(), r)
	if r.Header.Get("x-gray-id") != "gray" {
		t.Errorf("Middleware modified the incoming request's headers")
	}
	if inner.Header.Get("x-gray-id") != "" {
		t.Errorf("the handler saw an untrusted color %q", inner.Header.Get("x-gray-id"))
	}
}

func TestSetAndStrip(t *testing.T) {
	p := mustNew(t, color.Config{Header: "x-lane", BaggageKey: "lane"})
	h := http.Header{}
	h.Add("Baggage", "a=1")
	h.Add("Baggage", "b=2")
	if err := p.Set(h, "gray"); err != nil {
		t.Fatal(err)
	}
	if h.Get("X-Lane") != "gray" || h.Get("Baggage") != "a=1,b=2,lane=gray" {
		t.Errorf("after Set: %v", h)
	}
	if err := p.Set(h, "bad lane"); err == nil {
		t.Errorf("Set accepted an invalid lane")
	}
	p.Strip(h)
	if h.Get("X-Lane") != "" || h.Get("Baggage") != "a=1,b=2" {
		t.Errorf("after Strip: %v", h)
	}
	h.Set("Baggage", "a=1,lane") // malformed, and mentions the key
	p.Strip(h)
	if _, ok := h["Baggage"]; ok {
		t.Errorf("Strip kept a malformed baggage header it could not filter")
	}
}

func TestCarriesReadsEveryBaggageField(t *testing.T) {
	p := mustNew(t, color.Config{})
	h := http.Header{"Baggage": {"userId=alice", "gray.lane=v2"}}
	if !p.Carries(h) {
		t.Errorf("Carries(%v) = false, want true: the second baggage field carries the lane", h)
	}
	if p.Carries(http.Header{"Baggage": {"userId=alice", "other=1"}}) {
		t.Errorf("Carries found a color in baggage without the lane member")
	}
}

// TestMiddlewareStripsASecondBaggageField sends an outside client's lane
// in a second baggage field, over HTTP/1.1 and HTTP/2: the handler (and
// whatever it calls, which would believe this hop) must see no lane.
func TestMiddlewareStripsASecondBaggageField(t *testing.T) {
	p := mustNew(t, color.Config{})
	h := p.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		lane, _ := color.FromContext(r.Context())
		fmt.Fprintf(w, "proto=%d lane=%q baggage=%q", r.ProtoMajor, lane, r.Header.Values("Baggage"))
	}))
	h1 := httptest.NewServer(h)
	defer h1.Close()
	h2 := httptest.NewUnstartedServer(h)
	h2.EnableHTTP2 = true
	h2.StartTLS()
	defer h2.Close()
	for _, s := range []struct {
		srv   *httptest.Server
		proto int
	}{{h1, 1}, {h2, 2}} {
		req, err := http.NewRequest(http.MethodGet, s.srv.URL, nil)
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Add("Baggage", "userId=alice")
		req.Header.Add("Baggage", "gray.lane=v2")
		c := s.srv.Client()
		resp, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		c.CloseIdleConnections()
		want := fmt.Sprintf(`proto=%d lane="" baggage=["userId=alice"]`, s.proto)
		if string(body) != want {
			t.Errorf("HTTP/%d: the handler saw %s, want %s", s.proto, body, want)
		}
	}
}
