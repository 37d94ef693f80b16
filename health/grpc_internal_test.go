package health

import (
	"encoding/binary"
	"errors"
	"math"
	"strings"
	"testing"
	"time"

	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"
)

// frame returns m with the gRPC message prefix: flag, then the big-endian
// length.
func frame(flag byte, m []byte) []byte {
	out := []byte{flag, 0, 0, 0, 0}
	binary.BigEndian.PutUint32(out[1:], uint32(len(m)))
	return append(out, m...)
}

// marshal returns the protobuf encoding of a HealthCheckResponse, by the
// protobuf library, for the table and the fuzz seeds.
func marshal(t testing.TB, st healthpb.HealthCheckResponse_ServingStatus) []byte {
	t.Helper()
	b, err := proto.Marshal(&healthpb.HealthCheckResponse{Status: st})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// decodeCases are the table of TestDecodeHealthResponse and the seeds of
// FuzzDecodeHealthResponse.
func decodeCases(t testing.TB) []struct {
	name    string
	body    []byte
	want    int32
	wantErr error // nil: decodes to want
} {
	serving := marshal(t, healthpb.HealthCheckResponse_SERVING)
	var unknownThenStatus []byte
	unknownThenStatus = protowire.AppendTag(unknownThenStatus, 7, protowire.BytesType)
	unknownThenStatus = protowire.AppendBytes(unknownThenStatus, []byte("a field from a newer version"))
	unknownThenStatus = protowire.AppendTag(unknownThenStatus, 8, protowire.Fixed32Type)
	unknownThenStatus = protowire.AppendFixed32(unknownThenStatus, 0xdeadbeef)
	unknownThenStatus = protowire.AppendTag(unknownThenStatus, 9, protowire.Fixed64Type)
	unknownThenStatus = protowire.AppendFixed64(unknownThenStatus, 1)
	unknownThenStatus = protowire.AppendTag(unknownThenStatus, 10, protowire.VarintType)
	unknownThenStatus = protowire.AppendVarint(unknownThenStatus, 1<<63)
	unknownThenStatus = append(unknownThenStatus, serving...)
	// A length-delimited field whose bytes look like a status: skipped
	// whole, not read into.
	var hidden []byte
	hidden = protowire.AppendTag(hidden, 2, protowire.BytesType)
	hidden = protowire.AppendBytes(hidden, serving)
	group := protowire.AppendTag(nil, 5, protowire.StartGroupType)
	group = protowire.AppendTag(group, 5, protowire.EndGroupType)
	return []struct {
		name    string
		body    []byte
		want    int32
		wantErr error
	}{
		{"SERVING", frame(0, serving), 1, nil},
		{"NOT_SERVING", frame(0, marshal(t, healthpb.HealthCheckResponse_NOT_SERVING)), 2, nil},
		{"an empty message is UNKNOWN, as proto3 defaults", frame(0, nil), 0, nil},
		{"unknown fields of every wire type are skipped", frame(0, unknownThenStatus), 1, nil},
		{"bytes that look like a status inside another field are skipped", frame(0, hidden), 0, nil},
		{"the last status wins", frame(0, append(marshal(t, healthpb.HealthCheckResponse_NOT_SERVING), serving...)), 1, nil},
		{"status with the bytes wire type is an unknown field", frame(0, []byte{1<<3 | 2, 1, 1}), 0, nil},
		{"an enum wider than 32 bits is truncated, as protobuf does", frame(0, protowire.AppendVarint([]byte{1 << 3}, 1<<32|1)), 1, nil},
		{"a non-minimal varint is accepted, as protobuf does", frame(0, []byte{1 << 3, 0x81, 0x00}), 1, nil},
		{"no body", nil, 0, errGRPCFrame},
		{"a truncated prefix", []byte{0, 0, 0, 2}, 0, errGRPCFrame},
		{"the compressed flag set", frame(1, serving), 0, errGRPCFrame},
		{"an undefined flag", frame(0x80, serving), 0, errGRPCFrame},
		{"a length beyond the body", frame(0, serving)[:6], 0, errGRPCFrame},
		{"bytes after the message", append(frame(0, serving), 0), 0, errGRPCFrame},
		{"a length of 4 GiB", []byte{0, 0xff, 0xff, 0xff, 0xff, 8, 1}, 0, errGRPCFrame},
		{"a tag cut short", frame(0, []byte{0x80}), 0, errGRPCMessage},
		{"a varint cut short", frame(0, []byte{1 << 3, 0x81}), 0, errGRPCMessage},
		{"a varint longer than 64 bits", frame(0, []byte{1 << 3, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x02}), 0, errGRPCMessage},
		{"field number 0", frame(0, []byte{0 << 3, 1}), 0, errGRPCMessage},
		{"a field number above 2^29-1", frame(0, protowire.AppendVarint(nil, (1<<29)<<3)), 0, errGRPCMessage},
		{"a fixed32 cut short", frame(0, []byte{2<<3 | 5, 1, 2, 3}), 0, errGRPCMessage},
		{"a fixed64 cut short", frame(0, []byte{2<<3 | 1, 1, 2, 3, 4, 5, 6, 7}), 0, errGRPCMessage},
		{"a length-delimited field longer than the message", frame(0, []byte{2<<3 | 2, 5, 'a'}), 0, errGRPCMessage},
		{"a length-delimited field of 2^64-1 bytes", frame(0, []byte{2<<3 | 2, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01}), 0, errGRPCMessage},
		{"a group is refused", frame(0, group), 0, errGRPCMessage},
		{"wire type 6 is refused", frame(0, []byte{1<<3 | 6}), 0, errGRPCMessage},
		{"wire type 7 is refused", frame(0, []byte{1<<3 | 7}), 0, errGRPCMessage},
	}
}

func TestDecodeHealthResponse(t *testing.T) {
	for _, c := range decodeCases(t) {
		t.Run(c.name, func(t *testing.T) {
			got, err := decodeHealthResponse(c.body)
			if c.wantErr != nil {
				if !errors.Is(err, c.wantErr) {
					t.Fatalf("decodeHealthResponse(%x) = %d, %v; want an error wrapping %v", c.body, got, err, c.wantErr)
				}
				return
			}
			if err != nil || got != c.want {
				t.Fatalf("decodeHealthResponse(%x) = %d, %v; want %d", c.body, got, err, c.want)
			}
		})
	}
}

// FuzzDecodeHealthResponse checks that the decoder never panics and never
// accepts what protobuf refuses: whatever it accepts is one uncompressed
// frame of exactly its length whose message protobuf decodes to the same
// status.
func FuzzDecodeHealthResponse(f *testing.F) {
	for _, c := range decodeCases(f) {
		f.Add(c.body)
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		got, err := decodeHealthResponse(body)
		if err != nil {
			if !errors.Is(err, errGRPCFrame) && !errors.Is(err, errGRPCMessage) {
				t.Fatalf("decodeHealthResponse(%x): error %v wraps neither errGRPCFrame nor errGRPCMessage", body, err)
			}
			return
		}
		if body[0] != 0 || int(binary.BigEndian.Uint32(body[1:5])) != len(body)-5 {
			t.Fatalf("decodeHealthResponse(%x) accepted a bad frame", body)
		}
		var m healthpb.HealthCheckResponse
		if err := proto.Unmarshal(body[5:], &m); err != nil {
			t.Fatalf("decodeHealthResponse(%x) = %d, but protobuf refuses the message: %v", body, got, err)
		}
		if want := int32(m.GetStatus()); got != want {
			t.Fatalf("decodeHealthResponse(%x) = %d, protobuf decodes status %d", body, got, want)
		}
	})
}

// FuzzEncodeHealthRequest checks that every valid service name encodes to
// one frame that protobuf decodes to the same name.
func FuzzEncodeHealthRequest(f *testing.F) {
	for _, s := range []string{"", "grpc.health.v1.Health", "api", strings.Repeat("x", 200), "服务"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, service string) {
		if (Config{Probe: ProbeConfig{GRPC: true, GRPCService: service}}).Validate() != nil {
			return // refused by Validate: never sent
		}
		b := encodeHealthRequest(service)
		if len(b) < 5 || b[0] != 0 || int(binary.BigEndian.Uint32(b[1:5])) != len(b)-5 {
			t.Fatalf("encodeHealthRequest(%q) = %x: not one uncompressed frame", service, b)
		}
		var m healthpb.HealthCheckRequest
		if err := proto.Unmarshal(b[5:], &m); err != nil || m.GetService() != service {
			t.Fatalf("encodeHealthRequest(%q): protobuf decodes %q, %v", service, m.GetService(), err)
		}
	})
}

func TestGRPCStatusErr(t *testing.T) {
	for _, c := range []struct {
		name, code, msg string
		want            string // "" for nil
	}{
		{"0 is OK", "0", "", ""},
		{"a known code is named", "5", "unknown%20service", "grpc health: grpc-status NOT_FOUND (5): unknown service"},
		{"a message stays as is when it does not unescape", "14", "100%", "grpc health: grpc-status UNAVAILABLE (14): 100%"},
		{"a code without a message", "12", "", "grpc health: grpc-status UNIMPLEMENTED (12)"},
		{"an unknown code is given by number", "99", "", "grpc health: grpc-status code 99"},
		{"a missing status is an error", "", "", "grpc health: no grpc-status in the response"},
		{"a status that is not a number", "OK", "", `grpc health: grpc-status "OK" is not a number`},
	} {
		t.Run(c.name, func(t *testing.T) {
			err := grpcStatusErr(c.code, c.msg)
			switch {
			case c.want == "" && err != nil:
				t.Fatalf("grpcStatusErr(%q, %q) = %v, want nil", c.code, c.msg, err)
			case c.want != "" && (err == nil || err.Error() != c.want):
				t.Fatalf("grpcStatusErr(%q, %q) = %v, want %q", c.code, c.msg, err, c.want)
			}
		})
	}
}

func TestGRPCTimeout(t *testing.T) {
	for _, c := range []struct {
		d    time.Duration
		want string
	}{
		{time.Second, "1000m"},
		{250 * time.Millisecond, "250m"},
		{time.Microsecond, "1m"}, // never 0, which would mean already expired
		{100_000 * time.Second, "100000S"},
		{math.MaxInt64, "99999999S"},
	} {
		if got := grpcTimeout(c.d); got != c.want {
			t.Errorf("grpcTimeout(%v) = %q, want %q", c.d, got, c.want)
		}
	}
}

func TestIsGRPCContentType(t *testing.T) {
	for ct, want := range map[string]bool{
		"application/grpc":               true,
		"application/grpc+proto":         true,
		"Application/GRPC":               true,
		"application/grpc; charset=utf8": true,
		"application/grpc-web":           false,
		"application/json":               false,
		"":                               false,
	} {
		if got := isGRPCContentType(ct); got != want {
			t.Errorf("isGRPCContentType(%q) = %v, want %v", ct, got, want)
		}
	}
}
