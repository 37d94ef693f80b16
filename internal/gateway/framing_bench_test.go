package gateway

import (
	"strings"
	"testing"
)

// BenchmarkFramingConn reads a keep-alive connection of small requests,
// half with bodies, through the framing check.
func BenchmarkFramingConn(b *testing.B) {
	one := "GET /a HTTP/1.1\r\nHost: x\r\nUser-Agent: bench\r\nAccept: */*\r\n\r\n" +
		"POST /b HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello" +
		"POST /c HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n"
	raw := strings.Repeat(one, 100)
	p := make([]byte, 4096)
	b.ReportAllocs()
	b.SetBytes(int64(len(raw)))
	for b.Loop() {
		f := newFramingConn(&byteConn{r: strings.NewReader(raw), step: 4096}, 64<<10, nil)
		for {
			if _, err := f.Read(p); err != nil {
				break
			}
		}
	}
}
