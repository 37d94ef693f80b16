// Package proxy is the net/http side of duohuo's data plane: it turns one
// client request into requests to upstream instances and streams the answer
// back.
//
// It knows HTTP and nothing of routing, balancing or health: the gateway
// (internal/gateway) decides which instance each attempt goes to and calls
// [Forwarder] to carry it out. Keeping the two apart is what lets a faster
// HTTP/1.1 adapter replace this one later without touching the decisions.
//
// A handler has this shape (errors abridged):
//
//	body := proxy.NewBody(proxy.WithReadDeadline(w, r.Body), clientIdle)
//	out := fwd.Outbound(ctx, r, "http", addr, proxy.RequestID(r), body)
//	resp, err := transport.RoundTrip(out)
//	if err != nil {
//		if e := body.Err(); e != nil { // the client's fault, not the upstream's
//			w.WriteHeader(proxy.ClientBodyStatus(e))
//			return
//		}
//		if proxy.IsGRPC(r.Header.Get("Content-Type")) {
//			proxy.WriteGRPCError(w, proxy.GRPCUnavailable, "upstream unreachable")
//			return
//		}
//		// retry elsewhere unless body.Touched(), else 502
//	}
//	_, err = fwd.Respond(ctx, w, r, resp, upstreamIdle)
//	if errors.Is(err, proxy.ErrUpstreamBody) {
//		panic(http.ErrAbortHandler) // the client must see a broken response
//	}
//
// What it does to a request on the way through:
//   - removes hop-by-hop headers (RFC 9110, section 7.6.1), keeping an
//     Upgrade handshake intact and "TE: trailers", which gRPC needs;
//   - appends the peer to X-Forwarded-For, sets X-Forwarded-Proto and
//     X-Forwarded-Host, appends itself to Via (RFC 9110, section 7.6.3);
//   - gives the request an X-Request-Id when it has none;
//   - streams the request body, full duplex: the answer can flow while the
//     client is still sending, as gRPC's streaming calls need;
//   - bounds how long a client may keep a body read waiting
//     ([ErrClientIdle]) and tells a client's failure (bad framing, too
//     large, too slow, gone) from an upstream's with [Body.Err] and
//     [ClientBodyStatus].
//
// What it does to a response:
//   - flushes the status and headers at once, and each piece of the body
//     as it arrives when the length is unknown (server-sent events, long
//     polls) or the response is gRPC; a gRPC trailers-only response is
//     passed on as the single HEADERS frame it must be;
//   - passes trailers on, declared or not (grpc-status, grpc-message),
//     over HTTP/2 and chunked HTTP/1.1;
//   - cuts an upstream that stops sending in the middle of a body
//     ([ErrUpstreamIdle]) and tells that, and any other upstream break
//     ([ErrUpstreamBody]), from a client that went away ([ErrClientWrite]);
//   - tunnels a 101 Switching Protocols response (WebSocket) both ways.
//
// Upstream protocols ([TransportOptions.Protocol]): by default gRPC goes
// over HTTP/2 (h2c on cleartext, h2 on TLS) and everything else over
// HTTP/1.1, or over what ALPN picks on TLS; "http1", "h2c" and "h2" fix the
// protocol. HTTP/2 connections are pinged when silent, so that an instance
// that stopped answering is noticed in seconds and its connection is not
// reused; see [TransportOptions.PingInterval] for what gRPC servers must
// permit. [IsGRPC], [ParseGRPCTimeout], [FormatGRPCTimeout],
// [GRPCCodeForHTTP] and [WriteGRPCError] are the gRPC pieces the gateway
// needs to answer gRPC calls itself.
package proxy
