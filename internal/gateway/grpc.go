package gateway

import (
	"net/http"

	"github.com/duohuo/duohuo/internal/proxy"
)

// httpStatusOfGRPC is the HTTP status the core classifies a gRPC status
// by: the codes that say the server is unavailable, overloaded, late or
// broken map to 503, 429, 504 and 500; the others are the caller's
// business (200, as gRPC answers them).
func httpStatusOfGRPC(code int) int {
	switch code {
	case proxy.GRPCUnavailable:
		return http.StatusServiceUnavailable
	case proxy.GRPCResourceExhausted:
		return http.StatusTooManyRequests
	case proxy.GRPCDeadlineExceeded:
		return http.StatusGatewayTimeout
	case proxy.GRPCInternal, proxy.GRPCUnknown, proxy.GRPCDataLoss:
		return http.StatusInternalServerError
	}
	return http.StatusOK
}

// grpcCodeOfHTTP is the gRPC status of an answer the gateway made with an
// HTTP status. It follows grpc's doc/http-grpc-status-mapping.md, except
// where the gateway's own answer means more than the mapping can say: its
// 504 is a deadline that passed (DEADLINE_EXCEEDED, not UNAVAILABLE), its
// 408 a client too slow, its 413 a message too large.
func grpcCodeOfHTTP(status int) int {
	switch status {
	case http.StatusBadRequest:
		return proxy.GRPCInternal
	case http.StatusUnauthorized:
		return proxy.GRPCUnauthenticated
	case http.StatusForbidden:
		return proxy.GRPCPermissionDenied
	case http.StatusNotFound:
		return proxy.GRPCUnimplemented
	case http.StatusTooManyRequests:
		return proxy.GRPCResourceExhausted
	case http.StatusRequestEntityTooLarge:
		return proxy.GRPCResourceExhausted
	case http.StatusRequestTimeout:
		return proxy.GRPCDeadlineExceeded
	case http.StatusBadGateway, http.StatusServiceUnavailable:
		return proxy.GRPCUnavailable
	case http.StatusGatewayTimeout:
		return proxy.GRPCDeadlineExceeded
	}
	return proxy.GRPCUnknown
}
