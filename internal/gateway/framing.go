package gateway

import (
	"bytes"
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"
	"sync"
)

// The framing check of HTTP/1.x clients (RFC 9112). A proxy and the server
// behind it must agree on where each request ends, or a client can hide a
// second request inside the body of the first (request smuggling). net/http
// resolves the ambiguous cases its own way (it drops Content-Length when
// Transfer-Encoding is present, ignores Transfer-Encoding on HTTP/1.0 and
// unfolds obs-fold lines) and keeps the connection open; the next hop may
// resolve them another way. framingConn reads the client's bytes before the
// HTTP server does, follows every request head and body, and refuses the
// ambiguous or malformed ones: the server then answers 400 (431 for a head
// over max_header_bytes) and closes the connection. It knows nothing of
// net/http but what a read error makes it do, so that another HTTP/1.1
// engine can read through it too.

// framingError is the error a client connection's reads return once the
// client sent a request whose framing is ambiguous or malformed (RFC 9112,
// sections 2.2, 5.2, 6.1, 6.3, 7.1). status is the answer it calls for:
// 400, or 431 for a head over the listener's max_header_bytes.
type framingError struct {
	status int
	reason string
}

func (e *framingError) Error() string { return "malformed request framing: " + e.reason }

// framingState is where in a request the checker is.
type framingState uint8

const (
	inHead      framingState = iota // before or inside a request head
	inBody                          // inside a body of known length
	inChunkSize                     // before a chunk-size line
	inChunkData                     // inside a chunk's data
	inChunkEnd                      // at the CRLF after a chunk's data
	inTrailer                       // inside the trailer section
	passThrough                     // HTTP/2 or a switched protocol: nothing to check
)

// Limits of the lines the checker holds while it reads them.
const (
	maxChunkLine = 4 << 10 // a chunk-size line with its extensions
	readSize     = 8 << 10 // what one read from the client asks for
)

// h2Preface is what an HTTP/2 client with prior knowledge sends first (RFC
// 9113, section 3.4).
const h2Preface = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"

// framingConn is a client connection whose reads hand out only bytes whose
// HTTP/1.x framing was checked: whole request heads, and bodies within the
// framing their head declared. Bytes of a head are held until the head is
// complete. It is read by one goroutine at a time (the server's), and
// endChecks may be called from another.
type framingConn struct {
	net.Conn
	maxHead int // largest request head, request line and fields, in bytes

	buf    []byte // read from the client; buf[off:ok] is checked, buf[ok:] not yet
	off    int
	ok     int
	state  framingState
	remain int64 // bytes left of the body or the chunk
	first  bool  // no request head was checked yet
	err    *framingError
	poison []byte // what refuse hands out before err
	rerr   error  // the client connection's read error, after what was read

	refused interface{ Inc() } // counts the requests refused; nil: not counted

	mu   sync.Mutex // guards pass
	pass bool       // endChecks was called: hand out everything as is
}

// newFramingConn checks c's requests against maxHead; refused, if not nil,
// counts the refused ones.
func newFramingConn(c net.Conn, maxHead int, refused interface{ Inc() }) *framingConn {
	return &framingConn{Conn: c, maxHead: maxHead, first: true, refused: refused}
}

// endChecks hands out the rest of the connection unchecked: it carries
// another protocol now (the server took it over for a 101 Switching
// Protocols tunnel).
func (f *framingConn) endChecks() {
	f.mu.Lock()
	f.pass = true
	f.mu.Unlock()
}

func (f *framingConn) passing() bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.pass
}

func (f *framingConn) Read(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	for {
		if f.off < f.ok {
			n := copy(p, f.buf[f.off:f.ok])
			f.off += n
			if f.off == len(f.buf) {
				f.buf, f.off, f.ok = f.buf[:0], 0, 0
			}
			return n, nil
		}
		if f.state != passThrough && f.passing() {
			f.state, f.err = passThrough, nil
		}
		if f.err != nil {
			return f.refuse(p)
		}
		if f.state == passThrough {
			if len(f.buf) > f.ok {
				f.ok = len(f.buf)
				continue
			}
			if f.rerr != nil {
				return 0, f.rerr
			}
			return f.Conn.Read(p)
		}
		if f.rerr != nil {
			// The client stopped; what it sent is handed out as is and
			// the server finds it incomplete.
			if len(f.buf) > f.ok {
				f.ok = len(f.buf)
				continue
			}
			return 0, f.rerr
		}
		if len(f.buf) == f.ok && (f.state == inBody || f.state == inChunkData) {
			// Body bytes go straight to the reader, unbuffered.
			if int64(len(p)) > f.remain {
				p = p[:f.remain]
			}
			n, err := f.Conn.Read(p)
			f.remain -= int64(n)
			if f.remain == 0 {
				f.endData()
			}
			if n > 0 {
				return n, nil
			}
			if err != nil {
				return 0, err
			}
			continue
		}
		f.check()
		if f.off < f.ok || f.err != nil || f.state == passThrough {
			continue
		}
		if err := f.fill(); err != nil {
			return 0, err
		}
	}
}

// fill reads more from the client into buf. A read that ran into its
// deadline is returned at once, with what it read kept: net/http ends a
// read it no longer needs that way, and then reads on. Any other error
// ends the connection's reads once what was read is handed out.
func (f *framingConn) fill() error {
	if f.off > 0 && f.off == f.ok {
		n := copy(f.buf, f.buf[f.off:])
		f.buf, f.off, f.ok = f.buf[:n], 0, 0
	}
	if cap(f.buf)-len(f.buf) < readSize/2 {
		nb := make([]byte, len(f.buf), len(f.buf)+readSize)
		copy(nb, f.buf)
		f.buf = nb
	}
	n, err := f.Conn.Read(f.buf[len(f.buf):cap(f.buf)])
	f.buf = f.buf[:len(f.buf)+n]
	var ne net.Error
	switch {
	case err == nil:
	case errors.As(err, &ne) && ne.Timeout():
		return err
	default:
		f.rerr = err
	}
	return nil
}

// refuse is what reads return after a framing error: bytes that the
// server's own parser rejects where they stand, then the error. The server
// thus answers as it does to any malformed request, and a request still in
// progress on the connection is not cut short by a failed read (net/http
// cancels every request of a connection whose read fails):
//   - a refused head becomes a request line without a method or version
//     (net/http answers 400 and closes);
//   - a head over max_header_bytes becomes a line that does not end, so
//     that net/http reaches its own read limit (its MaxHeaderBytes, set to
//     the same figure, plus 4 KiB) and answers 431;
//   - a refused chunk-size line, chunk end or trailer field becomes one
//     that no chunked parser takes: the body's read fails, and the gateway
//     answers 400 as to any malformed body.
func (f *framingConn) refuse(p []byte) (int, error) {
	if f.err.status == 431 {
		for i := range p {
			p[i] = 'x'
		}
		return len(p), nil
	}
	if len(f.poison) > 0 {
		n := copy(p, f.poison)
		f.poison = f.poison[n:]
		return n, nil
	}
	return 0, f.err
}

// Poison for each state (see refuse).
var (
	poisonHead  = []byte("x\r\n\r\n")
	poisonChunk = []byte("x\r\n")
	poisonEnd   = []byte("xx")
	poisonField = []byte("x\r\n\r\n")
)

func (f *framingConn) fail(status int, format string, args ...any) {
	f.err = &framingError{status: status, reason: fmt.Sprintf(format, args...)}
	if f.refused != nil {
		f.refused.Inc()
	}
	switch f.state {
	case inHead:
		f.poison = poisonHead
	case inChunkSize:
		f.poison = poisonChunk
	case inChunkEnd:
		f.poison = poisonEnd
	case inTrailer:
		f.poison = poisonField
	}
}

// check moves f.ok over the bytes in buf whose framing is sound, as far as
// it can without more bytes.
func (f *framingConn) check() {
	for f.err == nil && f.ok < len(f.buf) {
		b := f.buf[f.ok:]
		switch f.state {
		case inHead:
			if f.first {
				if len(b) < len(h2Preface) && h2Preface[:len(b)] == string(b) {
					return // perhaps the HTTP/2 preface: wait for more
				}
				if bytes.HasPrefix(b, []byte(h2Preface)) {
					f.state, f.ok = passThrough, len(f.buf)
					return
				}
			}
			n := f.head(b)
			if n == 0 {
				return
			}
			f.first = false
			f.ok += n
		case inBody, inChunkData:
			n := min(int64(len(b)), f.remain)
			f.ok += int(n)
			f.remain -= n
			if f.remain == 0 {
				f.endData()
			}
		case inChunkSize:
			line, n := nextLine(b, maxChunkLine)
			if n == 0 {
				if len(b) > maxChunkLine {
					f.fail(400, "chunk-size line longer than %d bytes", maxChunkLine)
				}
				return
			}
			size, ok := parseChunkSize(line)
			switch {
			case !bytes.HasSuffix(line, []byte("\r\n")):
				f.fail(400, "chunk-size line not ended by CRLF")
			case !ok:
				f.fail(400, "malformed chunk size %q", strings.TrimRight(string(line), "\r\n"))
			case size == 0:
				f.state, f.remain = inTrailer, 0
			default:
				f.state, f.remain = inChunkData, size
			}
			f.ok += n
		case inChunkEnd:
			if len(b) < 2 {
				if b[0] != '\r' {
					f.fail(400, "chunk data not followed by CRLF")
				}
				return
			}
			if b[0] != '\r' || b[1] != '\n' {
				f.fail(400, "chunk data not followed by CRLF")
				return
			}
			f.ok += 2
			f.state = inChunkSize
		case inTrailer:
			// The trailer section, counted against the head limit.
			line, n := nextLine(b, f.maxHead)
			if n == 0 {
				if int64(len(b)) > int64(f.maxHead)-f.remain {
					f.fail(400, "trailer section larger than %d bytes", f.maxHead)
				}
				return
			}
			if err := checkFieldLine(line); err != "" {
				f.fail(400, "trailer field: %s", err)
				return
			}
			f.ok += n
			f.remain += int64(n)
			if isEmptyLine(line) {
				f.state, f.remain = inHead, 0
			}
		default:
			f.ok = len(f.buf)
		}
	}
}

// endData follows the end of a body or of a chunk's data.
func (f *framingConn) endData() {
	if f.state == inChunkData {
		f.state = inChunkEnd
	} else {
		f.state = inHead
	}
}

// nextLine returns the line at the start of b, with its LF, and its length;
// 0 when b holds no LF within limit bytes.
func nextLine(b []byte, limit int) ([]byte, int) {
	if len(b) > limit+2 {
		b = b[:limit+2]
	}
	i := bytes.IndexByte(b, '\n')
	if i < 0 {
		return nil, 0
	}
	return b[:i+1], i + 1
}

func isEmptyLine(line []byte) bool {
	return len(line) == 1 || len(line) == 2 && line[0] == '\r'
}

// parseChunkSize reads chunk-size [chunk-ext] CRLF (RFC 9112, section 7.1):
// 1 to 16 hex digits, then optional extensions after ';'.
func parseChunkSize(line []byte) (int64, bool) {
	s := strings.TrimRight(string(line), "\r\n")
	if i := strings.IndexByte(s, ';'); i >= 0 {
		if strings.ContainsAny(s[i:], "\r\x00") {
			return 0, false
		}
		s = s[:i]
	}
	s = strings.TrimRight(s, " \t") // BWS before the extension
	if s == "" || len(s) > 16 {
		return 0, false
	}
	n, err := strconv.ParseUint(s, 16, 64)
	if err != nil || n > 1<<62 {
		return 0, false
	}
	return int64(n), true
}

// checkFieldLine checks one field line of a head or trailer section (RFC
// 9112, sections 2.2 and 5): "" when it is sound, else what is wrong.
func checkFieldLine(line []byte) string {
	if isEmptyLine(line) {
		return ""
	}
	body := line[:len(line)-1]
	body = bytes.TrimSuffix(body, []byte("\r"))
	if bytes.IndexByte(body, '\r') >= 0 {
		return "bare CR"
	}
	if body[0] == ' ' || body[0] == '\t' {
		// obs-fold: a server must reject it or unfold it (section 5.2);
		// unfolding is how net/http reads a folded Transfer-Encoding
		// that another hop may not.
		return "obs-fold line"
	}
	name, _, ok := bytes.Cut(body, []byte(":"))
	if !ok {
		return "field line without a colon"
	}
	if len(name) == 0 {
		return "empty field name"
	}
	if c := name[len(name)-1]; c == ' ' || c == '\t' {
		return "white space before the colon" // section 5.1: must be rejected
	}
	return ""
}

// head checks the request head at the start of b and sets the state for
// its body. It returns the head's length, or 0 when b does not hold the
// whole head yet (or the head is refused: f.err is set).
func (f *framingConn) head(b []byte) int {
	// Empty lines before a request line are skipped (section 2.2).
	n := 0
	for n < len(b) && (b[n] == '\n' || b[n] == '\r' && n+1 < len(b) && b[n+1] == '\n') {
		if b[n] == '\r' {
			n++
		}
		n++
	}
	var (
		proto10  bool
		lengths  []string
		codings  []string
		teFields int
		size     int
	)
	reqLine := true
	for {
		line, ln := nextLine(b[n:], f.maxHead-size)
		if ln == 0 {
			if len(b)-n > f.maxHead-size {
				f.fail(431, "request head larger than %d bytes", f.maxHead)
			}
			return 0
		}
		n += ln
		if isEmptyLine(line) {
			break
		}
		size += ln
		if size > f.maxHead {
			f.fail(431, "request head larger than %d bytes", f.maxHead)
			return 0
		}
		if reqLine {
			reqLine = false
			s := bytes.TrimRight(line, "\r\n")
			if bytes.IndexByte(s, '\r') >= 0 {
				f.fail(400, "bare CR in the request line")
				return 0
			}
			proto10 = bytes.HasSuffix(s, []byte(" HTTP/1.0"))
			continue
		}
		if err := checkFieldLine(line); err != "" {
			f.fail(400, "%s", err)
			return 0
		}
		// Only the two framing fields are looked into (and copied).
		name, value, _ := bytes.Cut(bytes.TrimRight(line, "\r\n"), []byte(":"))
		switch {
		case asciiEqualFold(name, "Content-Length"):
			lengths = append(lengths, string(bytes.Trim(value, " \t")))
		case asciiEqualFold(name, "Transfer-Encoding"):
			teFields++
			for _, c := range strings.Split(string(value), ",") {
				if c = strings.Trim(c, " \t"); c != "" {
					codings = append(codings, strings.ToLower(c))
				}
			}
		}
	}
	if reqLine {
		return n // only empty lines so far: not a head yet
	}
	switch {
	case teFields > 0 && len(lengths) > 0:
		f.fail(400, "both Content-Length and Transfer-Encoding") // section 6.1: may be smuggling
	case teFields > 0 && proto10:
		f.fail(400, "Transfer-Encoding in an HTTP/1.0 request") // section 6.1
	case teFields > 0:
		chunked := 0
		for _, c := range codings {
			if c == "chunked" {
				chunked++
			}
		}
		if len(codings) == 0 || codings[len(codings)-1] != "chunked" || chunked > 1 {
			// Section 6.3: the length cannot be told; chunked at most
			// once (section 7).
			f.fail(400, "Transfer-Encoding %q does not end in one chunked", strings.Join(codings, ", "))
			return 0
		}
		f.state = inChunkSize
	case len(lengths) > 0:
		cl, ok := contentLength(lengths)
		if !ok {
			f.fail(400, "invalid Content-Length %q", strings.Join(lengths, ", "))
			return 0
		}
		if cl > 0 {
			f.state, f.remain = inBody, cl
		}
	}
	if f.err != nil {
		return 0
	}
	return n
}

// contentLength reads the Content-Length fields of a head: one value,
// repeated or listed as often as the sender likes (section 6.3, item 5).
func contentLength(fields []string) (int64, bool) {
	var v string
	for _, f := range fields {
		for _, s := range strings.Split(f, ",") {
			s = strings.Trim(s, " \t")
			if v != "" && s != v {
				return 0, false
			}
			v = s
		}
	}
	if v == "" || len(v) > 18 {
		return 0, false
	}
	for i := 0; i < len(v); i++ {
		if v[i] < '0' || v[i] > '9' {
			return 0, false
		}
	}
	n, err := strconv.ParseInt(v, 10, 64)
	return n, err == nil
}

// asciiEqualFold reports whether b is s, ignoring ASCII case.
func asciiEqualFold(b []byte, s string) bool {
	if len(b) != len(s) {
		return false
	}
	for i := range len(b) {
		c, d := b[i], s[i]
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		if 'A' <= d && d <= 'Z' {
			d += 'a' - 'A'
		}
		if c != d {
			return false
		}
	}
	return true
}

// CloseWrite half-closes the connection, as net/http does before closing
// one on which it answered an error, so that the answer is not lost to a
// reset.
func (f *framingConn) CloseWrite() error {
	if cw, ok := f.Conn.(interface{ CloseWrite() error }); ok {
		return cw.CloseWrite()
	}
	return nil
}
