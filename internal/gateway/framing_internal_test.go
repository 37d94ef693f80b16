package gateway

import (
	"errors"
	"io"
	"net"
	"strings"
	"testing"
)

// byteConn is a client connection that sends its bytes a few at a time.
type byteConn struct {
	net.Conn
	r    *strings.Reader
	step int
}

func (c *byteConn) Read(p []byte) (int, error) {
	if len(p) > c.step {
		p = p[:c.step]
	}
	return c.r.Read(p)
}

// checked reads everything a framingConn hands out of raw, sent step bytes
// at a time, with reads of size chunk.
func checked(raw string, step, chunk, maxHead int) (string, error) {
	f := newFramingConn(&byteConn{r: strings.NewReader(raw), step: step}, maxHead, nil)
	var out []byte
	p := make([]byte, chunk)
	for {
		n, err := f.Read(p)
		if f.err != nil && f.err.status == 431 {
			return string(out), f.err // what follows is filler, endless
		}
		out = append(out, p[:n]...)
		if err != nil {
			if errors.Is(err, io.EOF) {
				err = nil
			}
			return string(out), err
		}
		if len(out) > len(raw)+1<<16 {
			return string(out), errors.New("endless")
		}
	}
}

func TestFramingConnHandsOutSoundStreamsWhole(t *testing.T) {
	for _, raw := range []string{
		"POST /a HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabc" +
			"POST /b HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nde\r\n0\r\n\r\n" +
			"GET /c HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
		"GET / HTTP/1.1\nHost: x\n\n",
		h2Preface + "\x00\x00\x00\x04\x00\x00\x00\x00\x00",
	} {
		for _, step := range []int{1, 3, 4096} {
			for _, chunk := range []int{1, 7, 4096} {
				got, err := checked(raw, step, chunk, 1024)
				if err != nil || got != raw {
					t.Errorf("step %d, reads of %d: got %q, %v; want all of %q", step, chunk, got, err, raw)
				}
			}
		}
	}
}

// FuzzFramingConn: whatever a client sends, reads end, and a stream the
// check lets through is handed out byte for byte.
func FuzzFramingConn(f *testing.F) {
	for _, s := range []string{
		"POST /a HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabc",
		"POST /a HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5;e=1\r\nhello\r\n0\r\nT: 1\r\n\r\n",
		"POST /a HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
		"POST /a HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
		"POST /a HTTP/1.1\r\nTransfer-Encoding:\r\n chunked\r\n\r\n",
		"POST /a HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
		h2Preface,
	} {
		f.Add(s, 3)
	}
	f.Fuzz(func(t *testing.T, raw string, step int) {
		step = 1 + (step&0xff)%64
		got, err := checked(raw, step, 17, 256)
		if err != nil {
			var fe *framingError
			if !errors.As(err, &fe) {
				t.Fatalf("%q: error %v is not a framing error", raw, err)
			}
			return
		}
		if got != raw {
			t.Fatalf("%q: handed out %q", raw, got)
		}
	})
}
