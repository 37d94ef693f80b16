package gateway

import (
	"net/http"
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
// HTTP status. It follows grpc's doc/http-grpc-status-mapping.md, except
// where the gateway's own answer means more than the mapping can say: its
// 504 is a deadline that passed (DEADLINE_EXCEEDED, not UNAVAILABLE), its
// 408 a client too slow, its 413 a message too large.
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
