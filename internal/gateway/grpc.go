package gateway

import (
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// gRPC's status codes the gateway reads or makes (grpc/codes).
const (
	grpcOK                = 0
	grpcCanceled          = 1
	grpcUnknown           = 2
	grpcInvalidArgument   = 3
	grpcDeadlineExceeded  = 4
	grpcResourceExhausted = 8
	grpcUnimplemented     = 12
	grpcInternal          = 13
	grpcUnavailable       = 14
	grpcDataLoss          = 15
	grpcUnauthenticated   = 16
)

// isGRPC reports whether a request's Content-Type makes it a gRPC call
// over HTTP/2 ("application/grpc", "application/grpc+proto", …; not
// gRPC-Web, which is HTTP/1-compatible and has its own framing).
func isGRPC(ct string) bool {
	rest, ok := strings.CutPrefix(ct, "application/grpc")
	return ok && (rest == "" || rest[0] == '+' || rest[0] == ';')
}

// httpStatusOfGRPC is the HTTP status the core classifies a gRPC status
// by: the codes that say the server is unavailable, overloaded, late or
// broken map to 503, 429, 504 and 500; the others are the caller's
// business (200, as gRPC answers them).
func httpStatusOfGRPC(code int) int {
	switch code {
	case grpcUnavailable:
		return http.StatusServiceUnavailable
	case grpcResourceExhausted:
		return http.StatusTooManyRequests
	case grpcDeadlineExceeded:
		return http.StatusGatewayTimeout
	case grpcInternal, grpcUnknown, grpcDataLoss:
		return http.StatusInternalServerError
	}
	return http.StatusOK
}

// grpcCodeOfHTTP is the gRPC status of an answer the gateway made with an
// HTTP status, following grpc's doc/http-grpc-status-mapping.md for the
// statuses it lists and the meaning of the gateway's own answers for the
// rest (503 nothing to send to, 504 timeout, 429 shed).
func grpcCodeOfHTTP(status int) int {
	switch status {
	case http.StatusBadRequest:
		return grpcInternal
	case http.StatusUnauthorized:
		return grpcUnauthenticated
	case http.StatusForbidden:
		return 7 // PERMISSION_DENIED
	case http.StatusNotFound:
		return grpcUnimplemented
	case http.StatusTooManyRequests:
		return grpcResourceExhausted
	case http.StatusRequestEntityTooLarge:
		return grpcResourceExhausted
	case http.StatusRequestTimeout:
		return grpcDeadlineExceeded
	case http.StatusBadGateway, http.StatusServiceUnavailable:
		return grpcUnavailable
	case http.StatusGatewayTimeout:
		return grpcDeadlineExceeded
	}
	return grpcUnknown
}

// parseGRPCTimeout parses a grpc-timeout header: 1 to 8 digits and a unit
// (H, M, S, m, u, n), per gRPC's PROTOCOL-HTTP2.md.
func parseGRPCTimeout(v string) (time.Duration, bool) {
	if len(v) < 2 || len(v) > 9 {
		return 0, false
	}
	n, err := strconv.ParseUint(v[:len(v)-1], 10, 64)
	if err != nil {
		return 0, false
	}
	var unit time.Duration
	switch v[len(v)-1] {
	case 'H':
		unit = time.Hour
	case 'M':
		unit = time.Minute
	case 'S':
		unit = time.Second
	case 'm':
		unit = time.Millisecond
	case 'u':
		unit = time.Microsecond
	case 'n':
		unit = time.Nanosecond
	default:
		return 0, false
	}
	if n > uint64(1<<63-1)/uint64(unit) {
		return 1<<63 - 1, true
	}
	return time.Duration(n) * unit, true
}

// writeGRPCError answers a gRPC call with a status and no message, in the
// trailers-only form (one HEADERS frame): HTTP 200, grpc-status and a
// percent-encoded grpc-message.
func writeGRPCError(w http.ResponseWriter, code int, msg string) {
	h := w.Header()
	h.Del("Content-Length")
	h.Set("Content-Type", "application/grpc")
	h.Set("Grpc-Status", strconv.Itoa(code))
	h.Set("Grpc-Message", url.PathEscape(msg))
	w.WriteHeader(http.StatusOK)
}
