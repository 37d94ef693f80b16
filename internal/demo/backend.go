package demo

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// Identity says who a demo backend is; it is what the backend answers with.
type Identity struct {
	Name    string `json:"instance"` // e.g. "ctyun-1"
	Cloud   string `json:"cloud"`
	Region  string `json:"region"`
	Zone    string `json:"zone"`
	Version string `json:"version"`
}

// Backend is a demo HTTP service instance on loopback. It answers every
// request with its identity as JSON after its configured latency, fails a
// configured share of requests with 503, and can be killed and restarted on
// the same address (for failover drills). It is safe for concurrent use.
type Backend struct {
	id Identity

	latency   atomic.Int64  // nanoseconds added to each reply
	errPermil atomic.Uint32 // replies failed with 503, per thousand
	served    atomic.Uint64 // requests answered (any status)

	mu   sync.Mutex // guards addr, srv, done
	addr string     // fixed after the first Start, so a restart keeps it
	srv  *http.Server
	done chan struct{} // closed when the current srv's Serve returns
}

// NewBackend returns a stopped backend; Start binds it.
func NewBackend(id Identity) *Backend { return &Backend{id: id} }

// Identity returns who the backend is.
func (b *Backend) Identity() Identity { return b.id }

// SetLatency sets the delay added to each reply.
func (b *Backend) SetLatency(d time.Duration) { b.latency.Store(int64(d)) }

// SetErrorRate sets the share of requests answered with 503, 0 to 1.
func (b *Backend) SetErrorRate(r float64) {
	b.errPermil.Store(uint32(min(max(r, 0), 1) * 1000))
}

// Served returns how many requests the backend has answered since it was
// made, across restarts.
func (b *Backend) Served() uint64 { return b.served.Load() }

// Addr returns the address the backend listens on ("" before Start).
func (b *Backend) Addr() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.addr
}

// Start binds the backend: on addr the first time ("127.0.0.1:0" picks a
// port), on the same address after a Stop. It serves in a goroutine that
// Stop ends.
func (b *Backend) Start(addr string) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.srv != nil {
		return errors.New("demo backend already running")
	}
	if b.addr != "" {
		addr = b.addr
	}
	ln, err := listenRetry(addr)
	if err != nil {
		return fmt.Errorf("start demo backend %s: %w", b.id.Name, err)
	}
	b.addr = ln.Addr().String()
	b.srv = &http.Server{Handler: b, ReadHeaderTimeout: 5 * time.Second}
	b.done = make(chan struct{})
	srv, done := b.srv, b.done
	go func() {
		defer close(done)
		srv.Serve(ln)
	}()
	return nil
}

// listenRetry binds addr, retrying briefly: right after a Stop the kernel may
// still hold the port for a moment.
func listenRetry(addr string) (net.Listener, error) {
	var err error
	for i := 0; i < 50; i++ {
		var ln net.Listener
		if ln, err = net.Listen("tcp", addr); err == nil {
			return ln, nil
		}
		time.Sleep(20 * time.Millisecond)
	}
	return nil, err
}

// Stop kills the backend abruptly, as a crash would: the listener and every
// open connection close at once, in-flight requests fail. It waits for the
// serving goroutine. Stopping a stopped backend does nothing.
func (b *Backend) Stop() {
	b.mu.Lock()
	srv, done := b.srv, b.done
	b.srv, b.done = nil, nil
	b.mu.Unlock()
	if srv == nil {
		return
	}
	srv.Close()
	<-done
}

// Shutdown stops the backend gracefully, letting in-flight requests finish
// until ctx ends.
func (b *Backend) Shutdown(ctx context.Context) error {
	b.mu.Lock()
	srv, done := b.srv, b.done
	b.srv, b.done = nil, nil
	b.mu.Unlock()
	if srv == nil {
		return nil
	}
	err := srv.Shutdown(ctx)
	if err != nil {
		srv.Close()
	}
	<-done
	return err
}

// Running reports whether the backend is serving.
func (b *Backend) Running() bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.srv != nil
}

// ServeHTTP answers with the backend's identity. GET /healthz answers 200
// without latency or errors, as a health endpoint of a real service would.
func (b *Backend) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	b.served.Add(1)
	if r.URL.Path == "/healthz" {
		w.Header().Set("Content-Type", "text/plain")
		w.Write([]byte("ok\n"))
		return
	}
	if d := time.Duration(b.latency.Load()); d > 0 {
		t := time.NewTimer(d)
		select {
		case <-t.C:
		case <-r.Context().Done():
			t.Stop()
			return
		}
	}
	if p := b.errPermil.Load(); p > 0 && rand.Uint32N(1000) < p {
		http.Error(w, "injected error from "+b.id.Name, http.StatusServiceUnavailable)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Served-By", b.id.Name)
	body, _ := json.Marshal(struct {
		Identity
		Path   string `json:"path"`
		Served string `json:"served"`
	}{b.id, r.URL.Path, strconv.FormatUint(b.served.Load(), 10)})
	w.Write(append(body, '\n'))
}
