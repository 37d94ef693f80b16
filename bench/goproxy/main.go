// Command goproxy is the plain Go baseline of the gateway benchmark: what a
// Go programmer writes first. It is exactly
//
//   - httputil.NewSingleHostReverseProxy(upstream) with every ReverseProxy
//     default: no BufferPool (a new 32 KiB copy buffer per response), the
//     default Director (X-Forwarded-For appended), default error handler;
//   - its Transport is http.DefaultTransport.Clone() with MaxIdleConns and
//     MaxIdleConnsPerHost raised to 1024, so that c=200 keeps its upstream
//     connections alive (the default 2 per host would dial for nearly every
//     request, which is a misconfiguration, not the baseline);
//   - an http.Server with default settings, on one core (GOMAXPROCS=1).
//
// Usage:
//
//	goproxy -addr 127.0.0.1:18081 -upstream http://127.0.0.1:18080
package main

import (
	"errors"
	"flag"
	"fmt"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os"
	"os/signal"
	"runtime"
	"syscall"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:18081", "listen address (loopback)")
	upstream := flag.String("upstream", "http://127.0.0.1:18080", "upstream URL")
	flag.Parse()
	runtime.GOMAXPROCS(1)
	if err := run(*addr, *upstream); err != nil {
		fmt.Fprintln(os.Stderr, "goproxy:", err)
		os.Exit(1)
	}
}

// newProxy returns the baseline proxy to upstream (see the package doc).
func newProxy(upstream string) (*httputil.ReverseProxy, error) {
	u, err := url.Parse(upstream)
	if err != nil || u.Host == "" || (u.Scheme != "http" && u.Scheme != "https") {
		return nil, fmt.Errorf("upstream %q: not an http URL", upstream)
	}
	rp := httputil.NewSingleHostReverseProxy(u)
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.MaxIdleConns = 1024
	tr.MaxIdleConnsPerHost = 1024
	rp.Transport = tr
	return rp, nil
}

func run(addr, upstream string) error {
	rp, err := newProxy(upstream)
	if err != nil {
		return err
	}
	srv := &http.Server{Addr: addr, Handler: rp}
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
