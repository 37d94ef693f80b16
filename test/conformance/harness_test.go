package conformance

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"io"
	"log"
	"log/slog"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mccutchen/go-httpbin/v2/httpbin"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/duohuo/duohuo/internal/config"
	"github.com/duohuo/duohuo/internal/gateway"
)

// engines are the HTTP/1.1 engines a gateway listener can run. Every engine
// must pass the same suite: a new engine is added here and nowhere else.
var engines = []string{"std"}

// Hosts the suite's requests name. Both go to the same upstream; the gateway
// routes bin.test whole and edge.test only under the prefix /public, which
// is where the path and prefix cases probe.
const (
	binHost  = "bin.test"
	edgeHost = "edge.test"
	// caseHeader names the case on every request the suite sends, so that
	// the upstream can record what reached it through the gateway.
	caseHeader = "X-Conformance-Case"
	// adminSecret is what the upstream's /admin/ area answers: a client
	// of edge.test must never read it.
	adminSecret = "admin area: secret"
)

// upstream is go-httpbin behind a thin front that plays the rest of an
// application server: a private /admin/ area and a /publicity page beside
// the public site, paths normalised the way file servers do (so that a
// proxy which lets dot segments through exposes /admin/), and a /tunnel
// that switches to any protocol it is asked for (so that a proxy which
// tunnels any Upgrade exposes the raw connection).
type upstream struct {
	srv *httptest.Server

	mu   sync.Mutex
	seen map[string][]seenRequest // by case name; only requests that came through a proxy
}

// seenRequest is what the upstream saw of one request that came through a
// proxy.
type seenRequest struct {
	Method, RequestURI string
	Header             http.Header
	Trailer            http.Header
}

func startUpstream(t testing.TB) *upstream {
	t.Helper()
	bin := httpbin.New(
		httpbin.WithMaxBodySize(64<<20),        // the 50 MB bodies
		httpbin.WithMaxDuration(2*time.Minute), // the long drip
	)
	u := &upstream{seen: map[string][]seenRequest{}}
	u.srv = httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		u.record(r)
		clean := path.Clean("/" + r.URL.Path)
		switch {
		case strings.HasPrefix(clean, "/admin/") || clean == "/admin":
			io.WriteString(w, adminSecret)
		case clean == "/publicity":
			io.WriteString(w, "publicity page")
		case clean == "/tunnel" && r.Header.Get("Upgrade") != "":
			u.tunnel(w, r)
		case clean == "/tunnel":
			http.Error(w, "tunnel: an Upgrade header is required", http.StatusUpgradeRequired)
		case strings.HasPrefix(r.URL.Path, "/public/"):
			http.StripPrefix("/public", bin).ServeHTTP(w, r)
		default:
			bin.ServeHTTP(w, r)
		}
	}))
	u.srv.Config.ErrorLog = discardLog()
	u.srv.Start()
	t.Cleanup(u.srv.Close)
	return u
}

func (u *upstream) addr() string { return u.srv.Listener.Addr().String() }

// record keeps what arrived through a proxy (it carries a Via); the
// trailers are read once the handler has read the body.
func (u *upstream) record(r *http.Request) {
	name := r.Header.Get(caseHeader)
	if name == "" || r.Header.Get("Via") == "" {
		return
	}
	s := seenRequest{Method: r.Method, RequestURI: r.RequestURI, Header: r.Header.Clone()}
	u.mu.Lock()
	i := len(u.seen[name])
	u.seen[name] = append(u.seen[name], s)
	u.mu.Unlock()
	r.Body = &trailerBody{ReadCloser: r.Body, done: func() {
		u.mu.Lock()
		u.seen[name][i].Trailer = r.Trailer.Clone()
		u.mu.Unlock()
	}}
}

// through returns the requests of the named case that reached the
// upstream through the gateway.
func (u *upstream) through(name string) []seenRequest {
	u.mu.Lock()
	defer u.mu.Unlock()
	return append([]seenRequest(nil), u.seen[name]...)
}

type trailerBody struct {
	io.ReadCloser
	once sync.Once
	done func()
}

func (b *trailerBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	if err == io.EOF {
		b.once.Do(b.done)
	}
	return n, err
}

// tunnel answers 101 to any protocol and then serves one HTTP/1.1 request
// on the raw connection as if it came from inside: it stands for a
// backend that speaks whatever it is asked to.
func (u *upstream) tunnel(w http.ResponseWriter, r *http.Request) {
	conn, brw, err := http.NewResponseController(w).Hijack()
	if err != nil {
		return
	}
	defer conn.Close()
	fmt.Fprintf(brw, "HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: %s\r\n\r\n", r.Header.Get("Upgrade"))
	if brw.Flush() != nil {
		return
	}
	conn.SetDeadline(time.Now().Add(30 * time.Second))
	inner, err := http.ReadRequest(brw.Reader)
	if err != nil {
		return
	}
	inner.Body.Close()
	body := "inner request " + inner.URL.Path
	if strings.HasPrefix(inner.URL.Path, "/admin/") {
		body = adminSecret
	}
	fmt.Fprintf(brw, "HTTP/1.1 200 OK\r\nContent-Length: %d\r\nConnection: close\r\n\r\n%s", len(body), body)
	brw.Flush()
}

// gatewayOptions are what a case needs of the gateway's configuration.
type gatewayOptions struct {
	// TLS, when set, adds a second listener serving TLS with this
	// certificate and key (PEM files).
	TLSCert, TLSKey string
}

// startGateway starts the gateway in-process from a configuration file's
// text, with one plain listener running engine (and optionally one TLS
// listener), routing bin.test and edge.test/public to up. It returns the
// listeners' addresses, plain first.
func startGateway(t testing.TB, engine, up string, opts gatewayOptions) []string {
	t.Helper()
	engineLine := ""
	if engine != "std" {
		// The std engine is the default; any other is named on the listener.
		engineLine = fmt.Sprintf(", engine: %q", engine)
	}
	listeners := fmt.Sprintf(`  - {name: public, listen: "127.0.0.1:0", max_header_bytes: 8KiB%s}
`, engineLine)
	if opts.TLSCert != "" {
		listeners += fmt.Sprintf(`  - {name: public-tls, listen: "127.0.0.1:0"%s, tls: {cert_file: %q, key_file: %q}}
`, engineLine, opts.TLSCert, opts.TLSKey)
	}
	text := fmt.Sprintf(`listeners:
%s
gray:
  # Colors (and fault triggers) are believed only from this peer, which
  # the suite never connects from: every client here is untrusted.
  trusted_networks: [192.0.2.1/32]
faults:
  rules:
    - {name: drills, spec: "abort=503,header"}
services:
  - name: app
    discovery: [{static: {instances: [{addr: %q}]}}]
routes:
  - name: edge
    match: {host: %s, path_prefix: /public}
    service: app
  - name: bin
    match: {host: %s}
    service: app
  - name: loopback
    match: {host: 127.0.0.1}
    service: app
`, listeners, up, edgeHost, binHost)
	cfg, err := config.Parse("conformance.yaml", []byte(text))
	if err != nil {
		t.Fatalf("config for engine %q: %v", engine, err)
	}
	g, err := gateway.New(gateway.Options{Config: cfg, Logger: slog.New(slog.DiscardHandler), Registerer: prometheus.NewRegistry()})
	if err != nil {
		t.Fatal(err)
	}
	if err := g.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		g.Shutdown(ctx)
	})
	return g.Addrs()
}

func discardLog() *log.Logger { return log.New(io.Discard, "", 0) }

// selfSigned writes a certificate for 127.0.0.1 and its key into dir and
// returns their paths.
func selfSigned(t *testing.T, dir string) (certFile, keyFile string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: "conformance"},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(24 * time.Hour),
		IPAddresses:  []net.IP{net.IPv4(127, 0, 0, 1)},
		DNSNames:     []string{"localhost", binHost},
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kder, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	certFile, keyFile = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	if err := os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kder}), 0o600); err != nil {
		t.Fatal(err)
	}
	return certFile, keyFile
}
