package conformance

import (
	"bytes"
	"compress/gzip"
	"compress/zlib"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/textproto"
	"regexp"
	"slices"
	"strings"
)

// What a proxy legitimately changes, and so what the comparison leaves
// out. Everything else of a response must be the same directly and through
// the gateway.
var (
	// Response headers: the date is the second it was sent; Via names
	// the hops (RFC 9110, section 7.6.3); the rest are per connection
	// (hop-by-hop, RFC 9110, section 7.6.1) or framing, which each hop
	// chooses for its own connection (RFC 9112, section 6).
	// X-Request-Id is made by the gateway when the client sent none
	// (docs/architecture.md, package proxy).
	ignoredResponseHeaders = []string{"Date", "Via", "Connection", "Keep-Alive", "Proxy-Connection", "Transfer-Encoding", "Content-Length", "X-Request-Id"}

	// Request headers as httpbin echoes them: the hop a proxy adds
	// (X-Forwarded-*, X-Real-IP, Via, RFC 9110 section 7.6.3) and the
	// hop-by-hop fields it removes (section 7.6.1) or adds for its own
	// connection.
	ignoredEchoHeaders = []string{"Via", "X-Forwarded-For", "X-Forwarded-Proto", "X-Forwarded-Host", "X-Real-Ip", "X-Request-Id",
		"Connection", "Keep-Alive", "Proxy-Connection", "Te", "Trailer", "Transfer-Encoding", "Upgrade"}
)

// comparable is a response with what a proxy may change taken out.
type comparable struct {
	Proto   string
	Interim []int
	Status  int
	Header  http.Header
	Trailer http.Header
	Body    string
	BodyLen int64
	BodySum string
	Broken  bool
}

// view is what the comparison looks at of an exchange.
type view struct {
	Responses []comparable
	After     string
	Err       bool
}

func normalise(x *exchange) view {
	v := view{After: string(x.After), Err: x.Err != nil}
	for _, r := range x.Responses {
		h := r.Header.Clone()
		if h == nil {
			h = http.Header{}
		}
		for _, name := range r.Header.Values("Connection") {
			for _, f := range strings.Split(name, ",") {
				h.Del(strings.TrimSpace(f))
			}
		}
		for _, k := range ignoredResponseHeaders {
			h.Del(k)
		}
		c := comparable{
			Proto: r.Proto, Interim: r.Interim, Status: r.Status, Header: h,
			Trailer: r.Trailer, Broken: r.BodyErr != "",
		}
		if len(c.Trailer) == 0 {
			c.Trailer = nil
		}
		normaliseTimings(c.Header)
		normaliseTimings(c.Trailer)
		// go-httpbin sets the cookies of /cookies/set from a Go map, so
		// their order changes from one answer to the next, direct or not:
		// compare them as a set. (The gateway forwards a header's values
		// in the order it receives them.)
		if sc := c.Header["Set-Cookie"]; len(sc) > 1 {
			slices.Sort(sc)
		}
		if r.Body != nil {
			c.Body = normaliseBody(r.Header.Get("Content-Type"), decode(r.Header.Get("Content-Encoding"), r.Body))
		} else {
			c.BodyLen, c.BodySum = r.BodyLen, fmt.Sprintf("%x", r.BodySum)
		}
		v.Responses = append(v.Responses, c)
	}
	return v
}

var (
	sseTimestamp = regexp.MustCompile(`"timestamp":\d+`)
	timingDur    = regexp.MustCompile(`dur=[0-9.]+`)
)

// normaliseTimings takes the measured durations out of Server-Timing.
func normaliseTimings(h http.Header) {
	for i, v := range h["Server-Timing"] {
		h["Server-Timing"][i] = timingDur.ReplaceAllString(v, "dur=0")
	}
}

// decode undoes a gzip or deflate content coding, so that an echo inside
// is compared after normalising; a body that does not decode is compared
// as it is.
func decode(coding string, body []byte) []byte {
	var r io.Reader
	switch coding {
	case "gzip":
		zr, err := gzip.NewReader(bytes.NewReader(body))
		if err != nil {
			return body
		}
		r = zr
	case "deflate":
		zr, err := zlib.NewReader(bytes.NewReader(body))
		if err != nil {
			return body
		}
		r = zr
	default:
		return body
	}
	out, err := io.ReadAll(r)
	if err != nil {
		return body
	}
	return out
}

// normaliseBody takes out of httpbin's echoes what a proxy may change:
// the request headers it adds or removes, and the time of SSE events.
func normaliseBody(contentType string, body []byte) string {
	switch {
	case bytes.HasPrefix(body, []byte("{")):
		if out, ok := normaliseEcho(body); ok {
			return out
		}
		// A stream of JSON lines (/stream/n).
		lines := bytes.Split(body, []byte("\n"))
		var b strings.Builder
		for _, l := range lines {
			if out, ok := normaliseEcho(l); ok {
				b.WriteString(out)
			} else {
				b.Write(l)
			}
			b.WriteByte('\n')
		}
		return b.String()
	case strings.HasPrefix(contentType, "text/event-stream"):
		return sseTimestamp.ReplaceAllString(string(body), `"timestamp":0`)
	}
	return string(body)
}

func normaliseEcho(body []byte) (string, bool) {
	var m map[string]any
	if json.Unmarshal(body, &m) != nil {
		return "", false
	}
	if hs, ok := m["headers"].(map[string]any); ok {
		del := slices.Clone(ignoredEchoHeaders)
		if conn, ok := hs["Connection"].([]any); ok {
			for _, c := range conn {
				s, _ := c.(string)
				for _, f := range strings.Split(s, ",") {
					del = append(del, textproto.CanonicalMIMEHeaderKey(strings.TrimSpace(f)))
				}
			}
		}
		for _, k := range del {
			delete(hs, k)
		}
	}
	out, _ := json.Marshal(m) // sorted keys
	return string(out), true
}
