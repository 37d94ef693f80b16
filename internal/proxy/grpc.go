package proxy

import (
	"math"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// gRPC status codes the gateway reads or produces itself
// (google.golang.org/grpc/codes).
const (
	GRPCCanceled          = 1
	GRPCUnknown           = 2
	GRPCDeadlineExceeded  = 4
	GRPCPermissionDenied  = 7
	GRPCResourceExhausted = 8
	GRPCUnimplemented     = 12
	GRPCInternal          = 13
	GRPCUnavailable       = 14
	GRPCDataLoss          = 15
	GRPCUnauthenticated   = 16
)

// IsGRPC reports whether contentType is gRPC over HTTP/2: application/grpc,
// alone or followed by "+codec" (application/grpc+proto) or parameters,
// matched without regard to case (RFC 9110, section 8.3.1). gRPC-Web
// (application/grpc-web, application/grpc-web-text, with or without a
// codec) is not: it is made for HTTP/1.1 and browsers, is spoken by a
// gRPC-Web endpoint (a translating proxy or a server's gRPC-Web handler)
// rather than by a plain gRPC server, and carries its trailers in the body,
// so it is proxied as ordinary HTTP.
func IsGRPC(contentType string) bool {
	const prefix = "application/grpc"
	// contentType[12] is the 'g' of grpc: checking it first turns most
	// other types away before the case-insensitive comparison.
	if len(contentType) < len(prefix) || contentType[12]|0x20 != 'g' ||
		contentType[:len(prefix)] != prefix && !strings.EqualFold(contentType[:len(prefix)], prefix) {
		return false
	}
	if len(contentType) == len(prefix) {
		return true
	}
	switch contentType[len(prefix)] {
	case '+', ';', ' ', '\t':
		return true
	}
	return false
}

// grpcUnits are the grpc-timeout units, finest first, with their durations.
var grpcUnits = [...]struct {
	unit byte
	d    time.Duration
}{
	{'n', time.Nanosecond},
	{'u', time.Microsecond},
	{'m', time.Millisecond},
	{'S', time.Second},
	{'M', time.Minute},
	{'H', time.Hour},
}

// maxGRPCTimeoutValue is the largest TimeoutValue: at most 8 digits.
const maxGRPCTimeoutValue = 99999999

// ParseGRPCTimeout parses a grpc-timeout header value as the gRPC over
// HTTP/2 protocol defines it: 1 to 8 ASCII digits, then one unit of H
// (hours), M (minutes), S (seconds), m (milliseconds), u (microseconds) or
// n (nanoseconds). It reports false for anything else, with no surrounding
// space allowed. A value too large for a time.Duration (more than about 292
// years) gives the largest Duration.
func ParseGRPCTimeout(v string) (time.Duration, bool) {
	if len(v) < 2 || len(v) > 9 {
		return 0, false
	}
	var unit time.Duration
	for _, u := range grpcUnits {
		if v[len(v)-1] == u.unit {
			unit = u.d
			break
		}
	}
	if unit == 0 {
		return 0, false
	}
	var n int64
	for i := 0; i < len(v)-1; i++ {
		c := v[i]
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int64(c-'0') // at most 99999999: no overflow
	}
	if n > math.MaxInt64/int64(unit) {
		return math.MaxInt64, true
	}
	return time.Duration(n) * unit, true
}

// FormatGRPCTimeout returns d as a grpc-timeout header value: the finest
// unit whose value fits in 8 digits, rounded up so that the upstream never
// sees a shorter deadline than d. A d of zero or less gives "0n", an
// expired deadline.
func FormatGRPCTimeout(d time.Duration) string {
	if d <= 0 {
		return "0n"
	}
	for _, u := range grpcUnits {
		n := d / u.d
		if d%u.d != 0 {
			n++
		}
		if n <= maxGRPCTimeoutValue {
			var b [9]byte
			return string(append(strconv.AppendInt(b[:0], int64(n), 10), u.unit))
		}
	}
	panic("unreachable: every Duration fits in 8 digits of hours")
}

// GRPCCodeForHTTP returns the gRPC status code a client should see for an
// upstream HTTP status that came without a grpc-status, following gRPC's
// doc/http-grpc-status-mapping.md: 400 INTERNAL, 401 UNAUTHENTICATED, 403
// PERMISSION_DENIED, 404 UNIMPLEMENTED, 429, 502, 503 and 504 UNAVAILABLE,
// anything else UNKNOWN.
func GRPCCodeForHTTP(status int) int {
	switch status {
	case http.StatusBadRequest:
		return GRPCInternal
	case http.StatusUnauthorized:
		return GRPCUnauthenticated
	case http.StatusForbidden:
		return GRPCPermissionDenied
	case http.StatusNotFound:
		return GRPCUnimplemented
	case http.StatusTooManyRequests, http.StatusBadGateway, http.StatusServiceUnavailable, http.StatusGatewayTimeout:
		return GRPCUnavailable
	}
	return GRPCUnknown
}

// WriteGRPCError answers a gRPC call with status code and message as a
// trailers-only response: HTTP 200, content-type application/grpc,
// grpc-status and grpc-message (percent-encoded as the gRPC protocol says)
// in the headers, and no body. It writes the header but neither flushes
// nor writes a body, so that net/http's HTTP/2 server sends it, when the
// handler returns, as the single HEADERS frame with END_STREAM that gRPC
// clients read as the call's status. The handler must write nothing more.
func WriteGRPCError(w http.ResponseWriter, code int, msg string) {
	h := w.Header()
	h["Content-Type"] = grpcContentType
	h["Grpc-Status"] = []string{strconv.Itoa(code)}
	if msg != "" {
		h["Grpc-Message"] = []string{encodeGRPCMessage(msg)}
	} else {
		delete(h, "Grpc-Message")
	}
	delete(h, "Content-Length")
	w.WriteHeader(http.StatusOK)
}

var grpcContentType = []string{"application/grpc"}

// encodeGRPCMessage percent-encodes msg's UTF-8 bytes as grpc-message
// requires: printable ASCII other than '%' (0x20-0x7E) stays, every other
// byte becomes %XX with upper-case hex digits.
func encodeGRPCMessage(msg string) string {
	keep := func(c byte) bool { return c >= 0x20 && c <= 0x7e && c != '%' }
	i := 0
	for i < len(msg) && keep(msg[i]) {
		i++
	}
	if i == len(msg) {
		return msg
	}
	const hex = "0123456789ABCDEF"
	b := make([]byte, i, len(msg)+2*(len(msg)-i))
	copy(b, msg[:i])
	for ; i < len(msg); i++ {
		if c := msg[i]; keep(c) {
			b = append(b, c)
		} else {
			b = append(b, '%', hex[c>>4], hex[c&0xf])
		}
	}
	return string(b)
}
