package gateway

import (
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/duohuo/duohuo/internal/config"
)

func TestReasonCodes(t *testing.T) {
	for reason, want := range map[string]string{
		"no route":                             "no_route",
		"no healthy instance: orders":          "no_healthy_instance",
		"no healthy instance: lane v2 of shop": "no_healthy_instance",
		"escaped path":                         "escaped_path",
		"internal error: balancer: boom":       "internal_error",
	} {
		if got := reasonCode(reason); got != want {
			t.Errorf("reasonCode(%q) = %q, want %q", reason, got, want)
		}
	}
}

func TestPrepareHeadersFromATrustedIPv6Proxy(t *testing.T) {
	l, err := listenerOf(config.Listener{Name: "l", TrustedProxies: []string{"2001:db8::/32"}})
	if err != nil {
		t.Fatal(err)
	}
	r := httptest.NewRequest("GET", "http://shop.example/", nil)
	r.RemoteAddr = "[2001:db8::7]:4711"
	r.Header["Forwarded"] = []string{"for=192.0.2.60"}
	r.Header["Baggage"] = []string{"a=1", "b=2"}
	l.prepareHeaders(r)
	if got, want := r.Header.Get("Forwarded"), `for=192.0.2.60, for="[2001:db8::7]";proto=http;host="shop.example"`; got != want {
		t.Errorf("Forwarded = %q, want %q", got, want)
	}
	if got := r.Header.Get("X-Real-Ip"); got != "2001:db8::7" {
		t.Errorf("X-Real-Ip = %q, want the peer", got)
	}
	if got := r.Header["Baggage"]; len(got) != 1 || got[0] != "a=1,b=2" {
		t.Errorf("Baggage = %q, want one field a=1,b=2", got)
	}
}

func TestKeepUpgrade(t *testing.T) {
	for _, tc := range []struct {
		name, upgrade, connection string
		allowed                   []string
		kept                      bool
		wantConnection            string
	}{
		{"websocket listed", "websocket", "Upgrade", []string{"websocket"}, true, "Upgrade"},
		{"case does not matter", "WebSocket", "upgrade", []string{"websocket"}, true, "upgrade"},
		{"unlisted", "foo", "keep-alive, Upgrade", []string{"websocket"}, false, "keep-alive"},
		{"h2c even when listed", "h2c", "Upgrade, HTTP2-Settings", []string{"h2c"}, false, "HTTP2-Settings"},
		{"several protocols", "foo, websocket", "Upgrade", []string{"websocket", "foo"}, false, ""},
		{"nothing listed", "websocket", "Upgrade", nil, false, ""},
	} {
		h := http.Header{"Upgrade": {tc.upgrade}, "Connection": {tc.connection}}
		removed := keepUpgrade(h, tc.allowed)
		if removed == tc.kept {
			t.Errorf("%s: removed %v, want %v", tc.name, removed, !tc.kept)
		}
		if _, ok := h["Upgrade"]; ok != tc.kept {
			t.Errorf("%s: Upgrade %q left: %v, want %v", tc.name, h["Upgrade"], ok, tc.kept)
		}
		if got := h.Get("Connection"); got != tc.wantConnection {
			t.Errorf("%s: Connection %q, want %q", tc.name, got, tc.wantConnection)
		}
	}
}
