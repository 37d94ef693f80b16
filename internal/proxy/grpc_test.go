package proxy

import (
	"bufio"
	"context"
	"encoding/binary"
	"io"
	"math"
	"net"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	testgrpc "google.golang.org/grpc/interop/grpc_testing"
	"google.golang.org/grpc/status"
)

func TestIsGRPC(t *testing.T) {
	for _, tc := range []struct {
		ct   string
		want bool
	}{
		{"application/grpc", true},
		{"application/grpc+proto", true},
		{"application/grpc+json", true},
		{"application/grpc; charset=utf-8", true},
		{"Application/GRPC", true},
		{"application/grpc-web", false},
		{"application/grpc-web+proto", false},
		{"application/grpc-web-text", false},
		{"application/grpcx", false},
		{"application/json", false},
		{"application/grp", false},
		{"", false},
	} {
		if got := IsGRPC(tc.ct); got != tc.want {
			t.Errorf("IsGRPC(%q) = %v, want %v", tc.ct, got, tc.want)
		}
	}
}

var grpcTimeoutCases = []struct {
	name string
	in   string
	want time.Duration
	ok   bool
}{
	{"seconds", "1S", time.Second, true},
	{"hours", "2H", 2 * time.Hour, true},
	{"minutes", "3M", 3 * time.Minute, true},
	{"milliseconds", "100m", 100 * time.Millisecond, true},
	{"microseconds", "250u", 250 * time.Microsecond, true},
	{"nanoseconds", "7n", 7, true},
	{"eight digits are the most", "99999999n", 99999999, true},
	{"leading zeros are digits", "00000010S", 10 * time.Second, true},
	{"zero is an expired deadline", "0m", 0, true},
	{"hours past the largest Duration are clamped", "99999999H", math.MaxInt64, true},
	{"minutes just fit", "99999999M", 99999999 * time.Minute, true},
	{"nine digits are too many", "100000000n", 0, false},
	{"a unit is required", "100", 0, false},
	{"digits are required", "S", 0, false},
	{"the unit is case sensitive", "1s", 0, false},
	{"one unit only", "1mS", 0, false},
	{"no sign", "-1S", 0, false},
	{"no plus", "+1S", 0, false},
	{"no spaces", " 1S", 0, false},
	{"no fractions", "1.5S", 0, false},
	{"empty", "", 0, false},
	{"non-ASCII digits", "١S", 0, false},
}

func TestParseGRPCTimeout(t *testing.T) {
	for _, tc := range grpcTimeoutCases {
		got, ok := ParseGRPCTimeout(tc.in)
		if got != tc.want || ok != tc.ok {
			t.Errorf("%s: ParseGRPCTimeout(%q) = %v, %v; want %v, %v", tc.name, tc.in, got, ok, tc.want, tc.ok)
		}
	}
}

func TestFormatGRPCTimeout(t *testing.T) {
	for _, tc := range []struct {
		name string
		in   time.Duration
		want string
	}{
		{"up to 8 digits of nanoseconds stay exact", 99999999, "99999999n"},
		{"past that, microseconds", 100 * time.Millisecond, "100000u"},
		{"a second is a million microseconds", time.Second, "1000000u"},
		{"rounded up, never shortened", 100000001, "100001u"},
		{"minutes of seconds", 30 * time.Minute, "1800000m"},
		{"a day", 24 * time.Hour, "86400000m"},
		{"minutes while they fit", 10 * 365 * 24 * time.Hour, "5256000M"},
		{"centuries in hours", 200 * 365 * 24 * time.Hour, "1752000H"},
		{"the largest Duration, rounded up to hours", math.MaxInt64, "2562048H"},
		{"an expired deadline", 0, "0n"},
		{"a negative one too", -time.Second, "0n"},
	} {
		if got := FormatGRPCTimeout(tc.in); got != tc.want {
			t.Errorf("%s: FormatGRPCTimeout(%v) = %q, want %q", tc.name, tc.in, got, tc.want)
		}
	}
}

// FuzzParseGRPCTimeout checks that parsing never panics, gives no negative
// duration, accepts only what the grammar allows, and that formatting what
// it parsed parses back to no less, and less than one unit more.
func FuzzParseGRPCTimeout(f *testing.F) {
	for _, tc := range grpcTimeoutCases {
		f.Add(tc.in)
	}
	f.Fuzz(func(t *testing.T, s string) {
		d, ok := ParseGRPCTimeout(s)
		if !ok {
			if d != 0 {
				t.Fatalf("ParseGRPCTimeout(%q) = %v, false; want 0 when refused", s, d)
			}
			return
		}
		if d < 0 {
			t.Fatalf("ParseGRPCTimeout(%q) = %v, want no negative duration", s, d)
		}
		if len(s) < 2 || len(s) > 9 {
			t.Fatalf("ParseGRPCTimeout(%q) accepted %d bytes, want 2 to 9", s, len(s))
		}
		for i := 0; i < len(s)-1; i++ {
			if s[i] < '0' || s[i] > '9' {
				t.Fatalf("ParseGRPCTimeout(%q) accepted a non-digit", s)
			}
		}
		checkFormatRoundTrip(t, d)
	})
}

// FuzzFormatGRPCTimeout checks that every duration formats to a valid
// grpc-timeout that parses back to no less than it.
func FuzzFormatGRPCTimeout(f *testing.F) {
	for _, d := range []int64{0, 1, 99999999, 100000001, int64(time.Hour), math.MaxInt64, -1} {
		f.Add(d)
	}
	f.Fuzz(func(t *testing.T, n int64) { checkFormatRoundTrip(t, time.Duration(n)) })
}

func checkFormatRoundTrip(t *testing.T, d time.Duration) {
	t.Helper()
	s := FormatGRPCTimeout(d)
	back, ok := ParseGRPCTimeout(s)
	if !ok || len(s) > 9 {
		t.Fatalf("FormatGRPCTimeout(%v) = %q, which ParseGRPCTimeout refuses", d, s)
	}
	if d <= 0 {
		if back != 0 {
			t.Fatalf("FormatGRPCTimeout(%v) = %q, parsed back as %v; want 0", d, s, back)
		}
		return
	}
	var unit time.Duration
	for _, u := range grpcUnits {
		if s[len(s)-1] == u.unit {
			unit = u.d
		}
	}
	if back < d || (back-d >= unit && back != math.MaxInt64) {
		t.Fatalf("FormatGRPCTimeout(%v) = %q, parsed back as %v; want within one unit above", d, s, back)
	}
}

func TestGRPCCodeForHTTP(t *testing.T) {
	for _, tc := range []struct{ status, want int }{
		{400, GRPCInternal},
		{401, GRPCUnauthenticated},
		{403, GRPCPermissionDenied},
		{404, GRPCUnimplemented},
		{429, GRPCUnavailable},
		{502, GRPCUnavailable},
		{503, GRPCUnavailable},
		{504, GRPCUnavailable},
		{500, GRPCUnknown},
		{200, GRPCUnknown},
		{418, GRPCUnknown},
	} {
		if got := GRPCCodeForHTTP(tc.status); got != tc.want {
			t.Errorf("GRPCCodeForHTTP(%d) = %d, want %d", tc.status, got, tc.want)
		}
	}
	// The constants are gRPC's codes.
	for got, want := range map[int]codes.Code{
		GRPCCanceled: codes.Canceled, GRPCUnknown: codes.Unknown, GRPCDeadlineExceeded: codes.DeadlineExceeded,
		GRPCPermissionDenied: codes.PermissionDenied, GRPCResourceExhausted: codes.ResourceExhausted,
		GRPCUnimplemented: codes.Unimplemented, GRPCInternal: codes.Internal, GRPCUnavailable: codes.Unavailable,
		GRPCUnauthenticated: codes.Unauthenticated,
	} {
		if got != int(want) {
			t.Errorf("constant for %v = %d, want %d", want, got, int(want))
		}
	}
}

func TestEncodeGRPCMessage(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"no healthy upstream", "no healthy upstream"},
		{"100% down", "100%25 down"},
		{"line\nbreak", "line%0Abreak"},
		{"naïve", "na%C3%AFve"},
		{"~ and space stay", "~ and space stay"},
		{"\x7f", "%7F"},
		{"", ""},
	} {
		if got := encodeGRPCMessage(tc.in); got != tc.want {
			t.Errorf("encodeGRPCMessage(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

// FuzzEncodeGRPCMessage checks that the encoding holds only the bytes the
// gRPC protocol allows in grpc-message and decodes back to the message.
func FuzzEncodeGRPCMessage(f *testing.F) {
	for _, s := range []string{"no healthy upstream", "100% down", "line\nbreak", "naïve", "\x7f\x00%", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, msg string) {
		enc := encodeGRPCMessage(msg)
		var dec []byte
		for i := 0; i < len(enc); i++ {
			c := enc[i]
			if c < 0x20 || c > 0x7e {
				t.Fatalf("encodeGRPCMessage(%q) = %q, holds byte %#x", msg, enc, c)
			}
			if c != '%' {
				dec = append(dec, c)
				continue
			}
			if i+2 >= len(enc) {
				t.Fatalf("encodeGRPCMessage(%q) = %q, ends in a short escape", msg, enc)
			}
			v, err := strconv.ParseUint(enc[i+1:i+3], 16, 8)
			if err != nil || strings.ToUpper(enc[i+1:i+3]) != enc[i+1:i+3] {
				t.Fatalf("encodeGRPCMessage(%q) = %q, bad escape %q", msg, enc, enc[i:i+3])
			}
			dec = append(dec, byte(v))
			i += 2
		}
		if string(dec) != msg {
			t.Fatalf("encodeGRPCMessage(%q) = %q, decodes to %q", msg, enc, dec)
		}
	})
}

// A grpc-go client reads WriteGRPCError's answer as exactly the status and
// message written.
func TestWriteGRPCErrorReachesGRPCClient(t *testing.T) {
	for _, tc := range []struct {
		name string
		code int
		msg  string
	}{
		{"unavailable with a plain message", GRPCUnavailable, "no healthy upstream"},
		{"deadline with characters to escape", GRPCDeadlineExceeded, "100% of 2s spent\nnaïvely"},
		{"resource exhausted without a message", GRPCResourceExhausted, ""},
	} {
		gw := newH2CServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { WriteGRPCError(w, tc.code, tc.msg) }))
		client := newGRPCClient(t, gw.Listener.Addr().String())
		_, err := client.UnaryCall(context.Background(), &testgrpc.SimpleRequest{})
		if st := status.Convert(err); int(st.Code()) != tc.code || st.Message() != tc.msg {
			t.Errorf("%s: client saw %v %q, want %d %q", tc.name, st.Code(), st.Message(), tc.code, tc.msg)
		}
	}
}

// WriteGRPCError's answer leaves net/http's HTTP/2 server as one HEADERS
// frame with END_STREAM: a trailers-only response.
func TestWriteGRPCErrorIsOneHeadersFrame(t *testing.T) {
	gw := newH2CServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		WriteGRPCError(w, GRPCUnavailable, "down")
	}))
	if got := streamFrames(t, gw.Listener.Addr().String(), "/grpc.testing.TestService/UnaryCall"); len(got) != 1 || got[0] != "HEADERS+END_STREAM" {
		t.Errorf("frames on the stream = %v, want [HEADERS+END_STREAM]", got)
	}
}

func newGRPCClient(t *testing.T, addr string) testgrpc.TestServiceClient {
	t.Helper()
	cc, err := grpc.NewClient("passthrough:///"+addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cc.Close() })
	return testgrpc.NewTestServiceClient(cc)
}

// streamFrames sends one gRPC request without a message over a raw h2c
// connection to addr and returns the frames the server sent on its stream,
// up to the one that ends it, as "TYPE" or "TYPE+END_STREAM".
func streamFrames(t *testing.T, addr, path string) []string {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(time.Minute)) // a safety net, not an assertion
	// HPACK literal header fields without indexing, new name, no Huffman
	// (RFC 7541, section 6.2.2); all are shorter than 127 bytes.
	var block []byte
	for _, f := range [][2]string{
		{":method", "POST"}, {":scheme", "http"}, {":path", path}, {":authority", "x"},
		{"content-type", "application/grpc"}, {"te", "trailers"},
	} {
		block = append(block, 0, byte(len(f[0])))
		block = append(block, f[0]...)
		block = append(block, byte(len(f[1])))
		block = append(block, f[1]...)
	}
	frame := func(typ, flags byte, stream uint32, payload []byte) []byte {
		h := []byte{byte(len(payload) >> 16), byte(len(payload) >> 8), byte(len(payload)), typ, flags, 0, 0, 0, 0}
		binary.BigEndian.PutUint32(h[5:], stream)
		return append(h, payload...)
	}
	const (
		typeData, typeHeaders, typeSettings = 0, 1, 4
		flagEndStream, flagEndHeaders       = 1, 4
	)
	out := []byte("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n")
	out = append(out, frame(typeSettings, 0, 0, nil)...)
	out = append(out, frame(typeHeaders, flagEndStream|flagEndHeaders, 1, block)...)
	if _, err := c.Write(out); err != nil {
		t.Fatal(err)
	}
	names := map[byte]string{typeData: "DATA", typeHeaders: "HEADERS", 3: "RST_STREAM", 9: "CONTINUATION"}
	br := bufio.NewReader(c)
	var got []string
	for {
		var h [9]byte
		if _, err := io.ReadFull(br, h[:]); err != nil {
			t.Fatalf("reading frames: %v (so far %v)", err, got)
		}
		n := int(h[0])<<16 | int(h[1])<<8 | int(h[2])
		if _, err := io.CopyN(io.Discard, br, int64(n)); err != nil {
			t.Fatal(err)
		}
		if binary.BigEndian.Uint32(h[5:])&0x7fffffff != 1 {
			continue
		}
		name := names[h[3]]
		if name == "" {
			name = "type " + string('0'+rune(h[3]))
		}
		if h[4]&flagEndStream != 0 && (h[3] == typeData || h[3] == typeHeaders) {
			return append(got, name+"+END_STREAM")
		}
		got = append(got, name)
		if h[3] == 3 {
			return got
		}
	}
}
