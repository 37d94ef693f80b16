package gateway

import (
	"net/http"
	"net/textproto"
	"strings"
)

// keepUpgrade leaves a request's protocol switch in h only when it asks
// for exactly one protocol and the route tunnels it (routes[].upgrades;
// never h2c). Any other Upgrade is removed, with the "upgrade" option of
// Connection, so that the request is forwarded as a plain one: a server
// may ignore an Upgrade (RFC 9110, section 7.8), and the instance answers
// it as if none had been asked. Nothing is then tunnelled whatever the
// instance answers, since the forwarder tunnels only a 101 for the
// protocol the request still asks for. It reports whether an Upgrade was
// removed.
func keepUpgrade(h http.Header, allowed []string) (removed bool) {
	up, ok := h["Upgrade"]
	if !ok {
		return false
	}
	if len(up) == 1 && !strings.ContainsRune(up[0], ',') {
		token := textproto.TrimString(up[0])
		if !strings.EqualFold(token, "h2c") {
			for _, a := range allowed {
				if strings.EqualFold(token, a) {
					return false
				}
			}
		}
	}
	delete(h, "Upgrade")
	if c, ok := h["Connection"]; ok {
		var keep []string
		for _, v := range c {
			for _, f := range strings.Split(v, ",") {
				if f = textproto.TrimString(f); f != "" && !strings.EqualFold(f, "upgrade") {
					keep = append(keep, f)
				}
			}
		}
		if len(keep) == 0 {
			delete(h, "Connection")
		} else {
			h["Connection"] = []string{strings.Join(keep, ", ")}
		}
	}
	return true
}
