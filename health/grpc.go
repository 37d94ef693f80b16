package health

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// The gRPC health-checking protocol (grpc/grpc, doc/health-checking.md):
// a unary call of grpc.health.v1.Health/Check whose request carries the
// service name (field 1, string) and whose response carries a status
// (field 1, enum; SERVING = 1).
//
// It is written here by hand over net/http's HTTP/2 client rather than with
// grpc-go, for three reasons. health is a pure package (standard library
// only; deps_test.go), and grpc-go with protobuf would be its largest
// dependency by far. The exchange is one message of one field each way,
// which a few dozen lines encode and decode. And a grpc.ClientConn per
// instance keeps its own connection with its own reconnect and backoff,
// which would fight the probe's schedule (Interval, Timeout, thresholds)
// and hide a listener that stopped accepting; here every probe is one new
// connection and one call, bounded by Probe.Timeout, like the HTTP probe.
const (
	grpcHealthPath = "/grpc.health.v1.Health/Check"
	grpcServing    = 1 // grpc.health.v1.HealthCheckResponse.ServingStatus.SERVING
	// grpcMaxBody bounds what a probe reads of a response: a
	// HealthCheckResponse is 2 bytes, framed 7.
	grpcMaxBody = 16 << 10
)

// Errors of the gRPC probe's decoder, wrapped by those it returns, so that
// tests can tell a bad frame from a bad message.
var (
	// errGRPCFrame reports a response body that is not exactly one
	// uncompressed, length-prefixed gRPC message.
	errGRPCFrame = errors.New("grpc health: malformed response frame")
	// errGRPCMessage reports a response message that is not valid
	// protobuf.
	errGRPCMessage = errors.New("grpc health: malformed response message")
)

// newGRPCProbeTransport returns the transport of a Tracker whose probes are
// gRPC health checks: HTTP/2 only, over TLS with ALPN h2 when p.TLS is set,
// else cleartext HTTP/2 with prior knowledge (h2c), which is how gRPC
// servers speak without TLS. Keep-alives are off for the same reason as the
// HTTP probe's: each probe dials a new connection, as a new client would.
func newGRPCProbeTransport(p *ProbeConfig) *http.Transport {
	var protos http.Protocols
	tr := &http.Transport{
		DisableKeepAlives:  true,
		DisableCompression: true,
		Proxy:              nil,
	}
	if p.TLS != nil {
		protos.SetHTTP2(true)
		tr.TLSClientConfig = probeTLS(p)
	} else {
		protos.SetUnencryptedHTTP2(true)
	}
	tr.Protocols = &protos
	return tr
}

// grpcProbe calls grpc.health.v1.Health/Check on addr once and returns nil
// only if the call ends with grpc-status 0 and the status SERVING. ctx
// bounds the whole exchange (Probe.Timeout).
func (t *Tracker) grpcProbe(ctx context.Context, addr netip.AddrPort) error {
	p := &t.cfg.Probe
	scheme := "http://"
	if p.TLS != nil {
		scheme = "https://"
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, scheme+addr.String()+grpcHealthPath,
		bytes.NewReader(encodeHealthRequest(p.GRPCService)))
	if err != nil {
		return err
	}
	if p.Host != "" {
		req.Host = p.Host // :authority
	}
	h := req.Header
	h["Content-Type"] = []string{"application/grpc"}
	h["Te"] = []string{"trailers"} // required by gRPC over HTTP/2
	h["User-Agent"] = []string{"duohuo-health"}
	// Tell the server the deadline, so that it can give up when we do.
	if dl, ok := ctx.Deadline(); ok {
		h["Grpc-Timeout"] = []string{grpcTimeout(time.Until(dl))}
	}
	resp, err := t.client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("grpc health: http status %d, want 200", resp.StatusCode)
	}
	if ct := resp.Header.Get("Content-Type"); !isGRPCContentType(ct) {
		return fmt.Errorf("grpc health: content-type %q, want application/grpc", ct)
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, grpcMaxBody+1))
	if err != nil {
		return err
	}
	if len(body) > grpcMaxBody {
		return fmt.Errorf("%w: body larger than %d bytes", errGRPCFrame, grpcMaxBody)
	}
	// Trailers are complete once the body is read to its end. A call that
	// fails at once is answered trailers-only: grpc-status in the headers.
	code, msg := resp.Trailer.Get("Grpc-Status"), resp.Trailer.Get("Grpc-Message")
	if code == "" {
		code, msg = resp.Header.Get("Grpc-Status"), resp.Header.Get("Grpc-Message")
	}
	if err := grpcStatusErr(code, msg); err != nil {
		return err
	}
	st, err := decodeHealthResponse(body)
	if err != nil {
		return err
	}
	switch {
	case st == grpcServing:
	case p.GRPCService == "":
		return fmt.Errorf("grpc health: the server is %s", servingStatusName(st))
	default:
		return fmt.Errorf("grpc health: service %q is %s", p.GRPCService, servingStatusName(st))
	}
	return nil
}

// isGRPCContentType reports whether ct is application/grpc or one of its
// +suffix forms (application/grpc+proto).
func isGRPCContentType(ct string) bool {
	rest, ok := strings.CutPrefix(strings.ToLower(ct), "application/grpc")
	return ok && (rest == "" || rest[0] == '+' || rest[0] == ';')
}

// grpcTimeout formats d as a grpc-timeout header value: at most 8 digits
// and a unit (gRPC over HTTP/2, "Timeout").
func grpcTimeout(d time.Duration) string {
	ms := max(d.Milliseconds(), 1)
	if ms > 99_999_999 {
		return strconv.FormatInt(min(int64(d/time.Second), 99_999_999), 10) + "S"
	}
	return strconv.FormatInt(ms, 10) + "m"
}

// grpcCodes names the gRPC status codes (google.rpc.Code).
var grpcCodes = [...]string{
	"OK", "CANCELLED", "UNKNOWN", "INVALID_ARGUMENT", "DEADLINE_EXCEEDED",
	"NOT_FOUND", "ALREADY_EXISTS", "PERMISSION_DENIED", "RESOURCE_EXHAUSTED",
	"FAILED_PRECONDITION", "ABORTED", "OUT_OF_RANGE", "UNIMPLEMENTED",
	"INTERNAL", "UNAVAILABLE", "DATA_LOSS", "UNAUTHENTICATED",
}

// grpcStatusErr returns nil for grpc-status 0 and an error naming the code
// and the (percent-encoded) grpc-message otherwise, including when the
// status is missing.
func grpcStatusErr(code, msg string) error {
	if code == "" {
		return errors.New("grpc health: no grpc-status in the response")
	}
	n, err := strconv.ParseUint(code, 10, 32)
	if err != nil {
		return fmt.Errorf("grpc health: grpc-status %q is not a number", code)
	}
	if n == 0 {
		return nil
	}
	name := "code " + code
	if n < uint64(len(grpcCodes)) {
		name = grpcCodes[n] + " (" + code + ")"
	}
	if m, err := url.PathUnescape(msg); err == nil {
		msg = m
	}
	if msg == "" {
		return fmt.Errorf("grpc health: grpc-status %s", name)
	}
	return fmt.Errorf("grpc health: grpc-status %s: %s", name, msg)
}

// servingStatusName names a HealthCheckResponse.ServingStatus.
func servingStatusName(s int32) string {
	switch s {
	case 0:
		return "UNKNOWN"
	case 1:
		return "SERVING"
	case 2:
		return "NOT_SERVING"
	case 3:
		return "SERVICE_UNKNOWN"
	}
	return "status " + strconv.Itoa(int(s))
}

// encodeHealthRequest returns a gRPC-framed HealthCheckRequest: the 5-byte
// prefix (flag 0: uncompressed; big-endian length) and the message, whose
// only field is service (1, length-delimited), omitted when empty as
// proto3 does.
func encodeHealthRequest(service string) []byte {
	var msg []byte
	if service != "" {
		msg = append(msg, 1<<3|wireBytes)
		msg = binary.AppendUvarint(msg, uint64(len(service)))
		msg = append(msg, service...)
	}
	out := make([]byte, 5, 5+len(msg))
	binary.BigEndian.PutUint32(out[1:], uint32(len(msg)))
	return append(out, msg...)
}

// Protobuf wire types (protobuf.dev/programming-guides/encoding).
const (
	wireVarint  = 0
	wireFixed64 = 1
	wireBytes   = 2
	wireFixed32 = 5 // 3 and 4 are the deprecated groups
)

// maxFieldNumber is the largest valid protobuf field number (2^29 − 1).
const maxFieldNumber = 1<<29 - 1

// decodeHealthResponse decodes a gRPC-framed HealthCheckResponse and
// returns its status. body must be exactly one message: a prefix whose
// flag is 0 (a compressed message is refused, since the probe offers no
// grpc-accept-encoding) and whose length is what follows. The message is
// decoded as protobuf does: fields other than status are skipped, status
// with another wire type is an unknown field, the last status wins, and a
// missing one is UNKNOWN (0). Groups are refused: proto3 has none. It never
// panics.
func decodeHealthResponse(body []byte) (int32, error) {
	if len(body) < 5 {
		return 0, fmt.Errorf("%w: %d bytes, shorter than the 5-byte prefix", errGRPCFrame, len(body))
	}
	switch body[0] {
	case 0:
	case 1:
		return 0, fmt.Errorf("%w: compressed message not asked for", errGRPCFrame)
	default:
		return 0, fmt.Errorf("%w: flags %#x", errGRPCFrame, body[0])
	}
	n := binary.BigEndian.Uint32(body[1:5])
	if rest := uint64(len(body) - 5); uint64(n) != rest {
		return 0, fmt.Errorf("%w: prefix says %d bytes, %d follow", errGRPCFrame, n, rest)
	}
	return decodeServingStatus(body[5:])
}

// decodeServingStatus decodes the protobuf HealthCheckResponse m.
// binary.Uvarint refuses what protobuf refuses: a varint cut short (k = 0)
// or longer than 64 bits (k < 0).
func decodeServingStatus(m []byte) (int32, error) {
	var status int32
	for len(m) > 0 {
		tag, k := binary.Uvarint(m)
		if k <= 0 {
			return 0, fmt.Errorf("%w: bad tag", errGRPCMessage)
		}
		m = m[k:]
		num, typ := tag>>3, tag&7
		if num == 0 || num > maxFieldNumber {
			return 0, fmt.Errorf("%w: field number %d", errGRPCMessage, num)
		}
		switch typ {
		case wireVarint:
			v, k := binary.Uvarint(m)
			if k <= 0 {
				return 0, fmt.Errorf("%w: bad varint in field %d", errGRPCMessage, num)
			}
			m = m[k:]
			if num == 1 {
				status = int32(v) // an enum is an int32; protobuf truncates wider values
			}
		case wireFixed64:
			if len(m) < 8 {
				return 0, fmt.Errorf("%w: truncated field %d", errGRPCMessage, num)
			}
			m = m[8:]
		case wireFixed32:
			if len(m) < 4 {
				return 0, fmt.Errorf("%w: truncated field %d", errGRPCMessage, num)
			}
			m = m[4:]
		case wireBytes:
			l, k := binary.Uvarint(m)
			if k <= 0 || l > uint64(len(m)-k) {
				return 0, fmt.Errorf("%w: bad length in field %d", errGRPCMessage, num)
			}
			m = m[k+int(l):]
		default: // groups (3, 4) and the undefined wire types 6 and 7
			return 0, fmt.Errorf("%w: wire type %d in field %d", errGRPCMessage, typ, num)
		}
	}
	return status, nil
}
