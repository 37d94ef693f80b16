// Command backend is the upstream of the gateway benchmark: a net/http server
// on one core (GOMAXPROCS=1) that answers GET /64 and GET /4096 with a fixed
// body of that many bytes and a Content-Length, and GET /healthz with "ok".
// Any other path is 404. Bodies and header values are built once at start, so
// a request allocates only what net/http itself does.
//
// Usage:
//
//	backend -addr 127.0.0.1:18080
package main

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"net/http"
	"os"
	"os/signal"
	"runtime"
	"strconv"
	"syscall"
	"time"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:18080", "listen address (loopback)")
	flag.Parse()
	runtime.GOMAXPROCS(1)
	if err := run(*addr); err != nil {
		fmt.Fprintln(os.Stderr, "backend:", err)
		os.Exit(1)
	}
}

// reply is one precomputed answer.
type reply struct {
	body   []byte
	length []string
}

var textPlain = []string{"text/plain"}

func newReply(n int) reply {
	return reply{body: bytes.Repeat([]byte("x"), n), length: []string{strconv.Itoa(n)}}
}

// handler answers the benchmark's paths from precomputed replies.
func handler() http.Handler {
	replies := map[string]reply{
		"/64":      newReply(64),
		"/4096":    newReply(4096),
		"/healthz": {body: []byte("ok"), length: []string{"2"}},
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rp, ok := replies[r.URL.Path]
		if !ok {
			http.NotFound(w, r)
			return
		}
		hd := w.Header()
		hd["Content-Type"] = textPlain
		hd["Content-Length"] = rp.length
		w.Write(rp.body)
	})
}

func run(addr string) error {
	srv := &http.Server{Addr: addr, Handler: handler(), ReadHeaderTimeout: 10 * time.Second, IdleTimeout: 120 * time.Second}
	stop := make(chan os.Signal, 1)
	signal.Notify(stop, syscall.SIGTERM, os.Interrupt)
	errc := make(chan error, 1)
	go func() { errc <- srv.ListenAndServe() }()
	select {
	case err := <-errc:
		return err
	case <-stop:
		err := srv.Close()
		if e := <-errc; !errors.Is(e, http.ErrServerClosed) {
			err = errors.Join(err, e)
		}
		return err
	}
}
