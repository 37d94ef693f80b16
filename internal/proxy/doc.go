// Package proxy is the net/http side of duohuo's data plane: it turns one
// client request into requests to upstream instances and streams the answer
// back.
//
// It knows HTTP and nothing of routing, balancing or health: the gateway
// (internal/gateway) decides which instance each attempt goes to and calls
// [Forwarder] to carry it out. Keeping the two apart is what lets a faster
// HTTP/1.1 adapter replace this one later without touching the decisions.
//
// What it does to a request on the way through:
//   - removes hop-by-hop headers (RFC 9110, section 7.6.1), keeping an
//     Upgrade handshake intact;
//   - appends the peer to X-Forwarded-For, sets X-Forwarded-Proto and
//     X-Forwarded-Host, appends itself to Via (RFC 9110, section 7.6.3);
//   - gives the request an X-Request-Id when it has none;
//   - streams request and response bodies, flushing at once when the
//     response length is unknown (server-sent events, long polls);
//   - tunnels a 101 Switching Protocols response (WebSocket) both ways.
package proxy
