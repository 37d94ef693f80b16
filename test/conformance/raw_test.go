package conformance

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"time"
)

// Waits. None of them is a timing assertion: each bounds a wait for an
// event (an answer, a close) so that a server which never sends it fails
// the case instead of hanging the suite, and each is far longer than the
// event takes on a machine whose cores are busy.
const (
	// answerWait bounds a silence while a response is read: its head, or
	// the next bytes of its body (a 50 MB body takes as long as it needs
	// while it progresses).
	answerWait = 60 * time.Second
	// streamWait bounds the wait for the first bytes of a stream whose
	// next bytes come much later (50 s): a proxy that holds the stream
	// would deliver them only then.
	streamWait = 30 * time.Second
	// closeWait is how long a connection that must be closed may stay
	// silent and open after the last expected response; it is also how
	// long the suite waits for responses a server should not send (a
	// smuggled request's).
	closeWait = 10 * time.Second
)

// keepBody is the largest body kept whole; longer ones are compared by
// length and SHA-256 and never held in memory.
const keepBody = 4 << 20

// response is one response as read off the wire.
type response struct {
	Proto   string
	Interim []int // 1xx responses before this one, in order
	Status  int
	Header  http.Header
	Trailer http.Header
	Body    []byte // whole when at most keepBody bytes
	BodyLen int64
	BodySum [sha256.Size]byte
	BodyErr string // the body ended broken: how
}

// exchange is everything one server answered on the connection of one
// case.
type exchange struct {
	Responses []*response
	// Closed: the server closed the connection after the last response
	// read (and sent nothing more).
	Closed bool
	// After is what came after the responses read: bytes of a tunnel
	// after a 101, or anything the server sent that was not asked for.
	After []byte
	Err   error // the exchange broke off: no answer, a malformed one
}

// last returns the last response, or an empty one if there was none.
func (x *exchange) last() *response {
	if len(x.Responses) == 0 {
		return &response{Header: http.Header{}}
	}
	return x.Responses[len(x.Responses)-1]
}

// run sends c to addr on a fresh connection, with id as the case
// header's value, and reads what comes back.
func run(addr string, c *testCase, id string) *exchange {
	x := &exchange{}
	conn, err := net.DialTimeout("tcp", addr, answerWait)
	if err != nil {
		x.Err = err
		return x
	}
	defer conn.Close()
	idle := &idleReader{conn: conn, wait: answerWait}
	br := bufio.NewReader(idle)
	head := c.wire(id)

	// Writes run beside the reads: a server may answer (and close)
	// before a large body is sent whole.
	writeDone := make(chan error, 1)
	continued := make(chan struct{})
	stop := make(chan struct{}) // the reads are over
	go func() {
		writeDone <- func() error {
			if _, err := conn.Write(head); err != nil {
				return err
			}
			if c.body == nil {
				return nil
			}
			if c.expect100 {
				select {
				case <-continued:
				case <-stop:
					return errors.New("no 100 Continue")
				}
			}
			body := c.body()
			_, err := io.Copy(conn, body)
			if cl, ok := body.(io.Closer); ok {
				cl.Close() // ends a generator's goroutine
			}
			return err
		}()
	}()
	defer func() {
		close(stop)
		conn.Close()
		<-writeDone
	}()

	methods := c.methods
	if len(methods) == 0 {
		methods = []string{strings.Fields(string(head))[0]}
	}
	for i, m := range methods {
		if c.firstBytes > 0 {
			idle.wait = streamWait
		}
		r, err := readResponse(br, m, c, func() {
			if c.expect100 && i == 0 {
				close(continued)
			}
		})
		if r != nil {
			x.Responses = append(x.Responses, r)
		}
		if err != nil {
			if errors.Is(err, io.EOF) && len(x.Responses) > 0 {
				x.Closed = true
				return x
			}
			x.Err = fmt.Errorf("response %d: %w", i+1, err)
			return x
		}
		if r.Status == http.StatusSwitchingProtocols {
			if c.tunnel != "" {
				conn.Write([]byte(c.tunnel))
			}
			break
		}
		if c.firstBytes > 0 {
			return x // the case read a streaming body's start
		}
	}
	// Whatever else the server sends, until it closes or falls silent.
	if c.drain || x.last().Status == http.StatusSwitchingProtocols {
		idle.wait = closeWait
		rest, err := readAfter(br, c.tunnelEnd)
		x.After = rest
		var ne net.Error
		switch {
		case err == nil: // the tunnel's end came
		case errors.Is(err, io.EOF):
			x.Closed = true
		case errors.As(err, &ne) && ne.Timeout():
		default:
			x.Closed = true // reset
		}
	}
	return x
}

// idleReader reads from conn with a deadline of wait after each read
// began: a long body may take as long as it needs while it progresses.
type idleReader struct {
	conn net.Conn
	wait time.Duration
}

func (r *idleReader) Read(p []byte) (int, error) {
	r.conn.SetReadDeadline(time.Now().Add(r.wait))
	return r.conn.Read(p)
}

// readAfter reads what follows the responses, until end if set, the
// server closes, or the read deadline.
func readAfter(br *bufio.Reader, end string) ([]byte, error) {
	var rest []byte
	buf := make([]byte, 4096)
	for len(rest) < 1<<20 {
		n, err := br.Read(buf)
		rest = append(rest, buf[:n]...)
		if end != "" && bytes.Contains(rest, []byte(end)) {
			return rest, nil
		}
		if err != nil {
			return rest, err
		}
	}
	return rest, nil
}

// readResponse reads the next final response (after any 1xx), its body
// and trailers. onInterim runs after each 1xx.
func readResponse(br *bufio.Reader, method string, c *testCase, onInterim func()) (*response, error) {
	var interim []int
	for {
		resp, err := http.ReadResponse(br, &http.Request{Method: method})
		if err != nil {
			if len(interim) > 0 {
				return &response{Interim: interim, Header: http.Header{}}, err
			}
			return nil, err
		}
		if resp.StatusCode >= 100 && resp.StatusCode < 200 && resp.StatusCode != http.StatusSwitchingProtocols {
			interim = append(interim, resp.StatusCode)
			onInterim()
			continue
		}
		r := &response{Proto: resp.Proto, Interim: interim, Status: resp.StatusCode, Header: resp.Header}
		if resp.StatusCode == http.StatusSwitchingProtocols {
			return r, nil
		}
		h := sha256.New()
		var kept bytes.Buffer
		var body io.Reader = resp.Body
		if c.firstBytes > 0 {
			body = io.LimitReader(body, int64(c.firstBytes))
		}
		n, err := io.Copy(io.MultiWriter(h, &limitWriter{&kept, keepBody}), body)
		r.BodyLen = n
		copy(r.BodySum[:], h.Sum(nil))
		if n <= keepBody {
			r.Body = kept.Bytes()
		}
		if err != nil {
			r.BodyErr = err.Error()
			return r, nil
		}
		if c.firstBytes > 0 {
			return r, nil
		}
		resp.Body.Close()
		r.Trailer = resp.Trailer
		return r, nil
	}
}

type limitWriter struct {
	w *bytes.Buffer
	n int
}

func (l *limitWriter) Write(p []byte) (int, error) {
	if room := l.n + 1 - l.w.Len(); room > 0 {
		l.w.Write(p[:min(len(p), room)])
	}
	return len(p), nil
}

// patternBody streams n deterministic bytes without holding them.
func patternBody(n int64) func() io.Reader {
	return func() io.Reader { return io.LimitReader(patternReader{}, n) }
}

type patternReader struct{}

func (patternReader) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = 'a' + byte(i%26)
	}
	return len(p), nil
}

// chunkedBody streams n bytes in chunks of size, then the last chunk and
// trailer section tail.
func chunkedBody(n, size int64, tail string) func() io.Reader {
	return func() io.Reader {
		pr, pw := io.Pipe()
		go func() {
			buf := make([]byte, size)
			patternReader{}.Read(buf)
			for left := n; left > 0; left -= size {
				k := min(left, size)
				if _, err := fmt.Fprintf(pw, "%x\r\n%s\r\n", k, buf[:k]); err != nil {
					return
				}
			}
			pw.CloseWithError(func() error { _, err := io.WriteString(pw, "0\r\n"+tail+"\r\n"); return err }())
		}()
		return pr
	}
}
